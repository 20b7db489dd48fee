import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, LoaError, messageVi, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { SAFE_TEXT_PATTERN } from './schemas.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  LOA_ERR_JSON_PARSE: 400, LOA_ERR_SCHEMA: 400, LOA_ERR_NAME_INVALID: 400, LOA_ERR_CSV_INVALID: 400, LOA_ERR_CONFIG_INVALID: 400,
  LOA_ERR_UNAUTHENTICATED: 401, LOA_ERR_LOGIN_FAILED: 401, LOA_ERR_CRYPTO: 401,
  // a revoked device's credentials are refused like any other bad credential (401, issue 5)
  LOA_ERR_DEVICE_REVOKED: 401,
  LOA_ERR_FORBIDDEN: 403, LOA_ERR_NOT_APPROVER: 403, LOA_ERR_ENROLL_TOKEN: 403,
  LOA_ERR_NOT_FOUND: 404, LOA_ERR_MEDIA_NOT_FOUND: 404,
  LOA_ERR_CONFLICT: 409, LOA_ERR_WORKFLOW_STATE: 409, LOA_ERR_MEDIA_IN_USE: 409, LOA_ERR_ZONE_NOT_EMPTY: 409,
  LOA_ERR_INPUT_TOO_LARGE: 413,
  LOA_ERR_UNSUPPORTED_MEDIA_TYPE: 415, LOA_ERR_MEDIA_NOT_AUDIO: 415,
  LOA_ERR_RANGE_NOT_SATISFIABLE: 416,
  LOA_ERR_ZONE_HIERARCHY: 422, LOA_ERR_RRULE_INVALID: 422, LOA_ERR_RRULE_UNBOUNDED: 422, LOA_ERR_RRULE_TOO_FREQUENT: 422,
  LOA_ERR_SCHEDULE_NIGHT_UNCONFIRMED: 422, LOA_ERR_PROGRAM_NOT_APPROVED: 422, LOA_ERR_MEDIA_SILENT: 422, LOA_ERR_SCHEDULE_NEVER_PLAYS: 422, LOA_ERR_MEDIA_TRANSCODE: 422, LOA_ERR_DEVICE_NOT_ENROLLED: 422,
  LOA_ERR_RATE_LIMITED: 429, LOA_ERR_LOGIN_THROTTLED: 429,
  LOA_ERR_TOOL_MISSING: 503, LOA_ERR_KEYS_MISSING: 503,
  // issue 5: key ceremony and trust distribution (a reload whose new root or key does not check out)
  LOA_ERR_ROOT_INVALID: 422, LOA_ERR_ROOT_THRESHOLD: 422, LOA_ERR_ROOT_EXPIRED: 422, LOA_ERR_ROOT_ROLLBACK: 409, LOA_ERR_TRUST_CHAIN: 422, LOA_ERR_KEY_FILE: 422,
  // issue 5: pairing and device lifecycle
  LOA_ERR_PAIRING_CODE: 422, LOA_ERR_PAIRING_CLOCK: 400, LOA_ERR_PAIRING_EXPIRED: 410, LOA_ERR_PAIRING_LOCKED: 423, LOA_ERR_PAIRING_USED: 409,
  LOA_ERR_PAIRING_KEY_REVOKED: 403, LOA_ERR_PAIRING_KEY_IN_USE: 409, LOA_ERR_PAIRING_BUSY: 503, LOA_ERR_DEVICE_DECOMMISSIONED: 409,
  // issue 6: emergency orders and text to speech
  LOA_ERR_EMERGENCY_KEY_MISSING: 503, LOA_ERR_EMERGENCY_CONFIRM: 422, LOA_ERR_EMERGENCY_NO_TARGETS: 422, LOA_ERR_EMERGENCY_STATE: 409,
  LOA_ERR_EMERGENCY_SAME_APPROVER: 403, LOA_ERR_EMERGENCY_SCOPE: 422, LOA_ERR_EMERGENCY_EXPIRED: 409, LOA_ERR_EMERGENCY_INVALID: 422,
  LOA_ERR_TTS_TEXT: 422, LOA_ERR_TTS_FAILED: 502,
  // issue 6: live microphone broadcasts
  LOA_ERR_LIVE_STATE: 409, LOA_ERR_LIVE_WEBRTC: 422, LOA_ERR_LIVE_ENCODER: 502,
  // issue 6: CAP alerts (a malformed or unsafe alert; a feed that cannot be read)
  LOA_ERR_CAP_INVALID: 422, LOA_ERR_CAP_FEED: 502,
  // issue 9: API tokens and the live event stream
  LOA_ERR_API_TOKEN: 401, LOA_ERR_STREAM_LIMIT: 429,
  // issue 7: signed device commands
  LOA_ERR_COMMAND_BUSY: 409, LOA_ERR_COMMAND_DEVICE: 409, LOA_ERR_COMMAND_INVALID: 422,
  // issue 8: public boards (a screenshot upload that is not an image; display faults are device-side only)
  LOA_ERR_DISPLAY_MEDIA: 422, LOA_ERR_DISPLAY_NO_PAGE: 503, LOA_ERR_DISPLAY_COMMAND: 502, LOA_ERR_SCREENSHOT_FAILED: 502, LOA_ERR_SCREENSHOT_INVALID: 415,
  // issue 7: the dashboard
  LOA_ERR_CSRF: 403,
  // issue 8: image and video media for boards
  LOA_ERR_MEDIA_NOT_IMAGE: 415, LOA_ERR_MEDIA_NOT_VIDEO: 415, LOA_ERR_MEDIA_CORRUPT: 422, LOA_ERR_MEDIA_KIND_MISMATCH: 422,
  // issue 10: storage faults (device-side; reported in events)
  LOA_ERR_STORE_SNAPSHOT: 500, LOA_ERR_MEDIA_STORED_CORRUPT: 422, LOA_ERR_DISK_FULL: 507,
  // issue 11: agent releases and staged rollouts
  LOA_ERR_RELEASE_INVALID: 422, LOA_ERR_RELEASE_SIGNATURE: 422, LOA_ERR_RELEASE_UNKNOWN_KEY: 422, LOA_ERR_RELEASE_HASH: 422, LOA_ERR_RELEASE_DOWNGRADE: 422,
  LOA_ERR_RELEASE_ARCH: 422, LOA_ERR_RELEASE_EXISTS: 409, LOA_ERR_RELEASE_NOT_FOUND: 404, LOA_ERR_RELEASE_IN_USE: 409,
  LOA_ERR_DEPLOYMENT_NOT_FOUND: 404, LOA_ERR_DEPLOYMENT_TARGET: 422, LOA_ERR_DEPLOYMENT_CONFLICT: 409, LOA_ERR_DEPLOYMENT_STATE: 409, LOA_ERR_DEPLOYMENT_HALTED: 409,
  // issue 10: process chaos (device-side; reported in command acks)
  LOA_ERR_COMMAND_INTERRUPTED: 500,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): { error: { code: ErrorCode; message: string; vi: string; details?: unknown } } {
  return { error: { code, message, vi: messageVi(code), ...(details === undefined ? {} : { details }) } };
}

/** Maps Fastify's own errors (body parsing, validation, limits) to our codes. */
function fromFastify(e: FastifyError): LoaError {
  if (e.validation) {
    const unsafe = e.validation.find((v) => v.keyword === 'pattern' && (v.params as { pattern?: string }).pattern === SAFE_TEXT_PATTERN);
    if (unsafe) {
      return new LoaError('LOA_ERR_NAME_INVALID', `${unsafe.instancePath || 'a text field'} holds characters that are not allowed: control characters, \\ < > ; ' " \` .. -- /*`, { details: { path: unsafe.instancePath } });
    }
    const issues = e.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }));
    return new LoaError('LOA_ERR_SCHEMA', `${e.validationContext ?? 'input'} is invalid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, { details: { issues } });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY': case 'FST_ERR_CTP_EMPTY_JSON_BODY': return new LoaError('LOA_ERR_JSON_PARSE', `the body is not valid JSON: ${e.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE': case 'FST_REQ_FILE_TOO_LARGE': case 'FST_FILES_LIMIT': case 'FST_PARTS_LIMIT': return new LoaError('LOA_ERR_INPUT_TOO_LARGE', e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': case 'FST_INVALID_MULTIPART_CONTENT_TYPE': return new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', e.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': return new LoaError('LOA_ERR_SCHEMA', e.message);
    default:
      if (e.statusCode === 429) return new LoaError('LOA_ERR_RATE_LIMITED', ERRORS.LOA_ERR_RATE_LIMITED.en);
      if (e instanceof SyntaxError || e.statusCode === 400) return new LoaError('LOA_ERR_JSON_PARSE', e.message);
      if (e.statusCode === 413) return new LoaError('LOA_ERR_INPUT_TOO_LARGE', e.message);
      if (e.statusCode === 415) return new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', e.message);
      return new LoaError('LOA_ERR_INTERNAL', ERRORS.LOA_ERR_INTERNAL.en, { cause: e });
  }
}

/** At the HTTP boundary every error becomes `{error: {code, message, vi}}` with a fitting status (DESIGN §6). */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((e: FastifyError | LoaError, req, reply) => {
    const err = e instanceof LoaError ? e : fromFastify(e);
    const status = statusOf(err.code);
    if (status >= 500) log.error({ err: e, url: req.url, method: req.method }, 'request failed');
    else log.debug({ code: err.code, url: req.url }, 'request refused');
    void reply.code(status).send(errorBody(err.code, status >= 500 && err.code === 'LOA_ERR_INTERNAL' ? ERRORS.LOA_ERR_INTERNAL.en : err.message, err.details));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('LOA_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
