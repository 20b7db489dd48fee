import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { LoaError } from '../../shared/errors.js';
import { DeviceEvent } from '../../shared/schemas/events.js';
import { DeviceStatus, DeviceTelemetry } from '../../shared/schemas/telemetry.js';
import { parseUpTopic, type UpKind } from '../../shared/topics.js';
import { checker, parseJsonText } from '../../shared/validate.js';

/** One validated fact from a device, queued for the next flush. */
export type IngestItem =
  | { kind: 'status'; deviceId: string; receivedAt: number; status: DeviceStatus }
  | { kind: 'telemetry'; deviceId: string; receivedAt: number; telemetry: DeviceTelemetry; json: string }
  | { kind: 'event'; deviceId: string; receivedAt: number; event: DeviceEvent; dataJson: string };

export type ProblemReason = 'topic' | 'malformed' | 'mismatched';

export interface Problem {
  reason: ProblemReason;
  kind: UpKind | 'unknown';
  deviceId: string | null;
  error: LoaError;
}

export interface Decoded {
  items: IngestItem[];
  problems: Problem[];
}

export interface DecodeLimits {
  maxPayloadBytes: number;
  /** `…/up/events` carries one event or an array of at most this many. */
  maxEventsPerMessage: number;
}

/**
 * The shared schemas, checked two ways. The hot path validates the value JSON.parse just made, in place: it is
 * nobody else's, so the defensive copy and deep freeze of `checker().parse` (a third of the decode time at
 * 20,000 messages/s) buy nothing. Only a value that fails goes through `checker().parse`, which words the
 * coded error with every problem listed, exactly as everywhere else.
 */
const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: true, coerceTypes: false });
interface Check<T> {
  fast: ValidateFunction<T>;
  slow: { parse(v: unknown, what?: string): unknown };
}
function check<T>(schema: TSchema): Check<T> {
  let fast: ValidateFunction<T> | undefined;
  const lazy = ((v: unknown) => (fast ??= ajv.compile<T>(schema))(v)) as ValidateFunction<T>;
  return { fast: lazy, slow: checker(schema, 'LOA_ERR_MQTT_PAYLOAD') };
}
const statusCheck = check<DeviceStatus>(DeviceStatus);
const telemetryCheck = check<DeviceTelemetry>(DeviceTelemetry);
const eventCheck = check<DeviceEvent>(DeviceEvent);

/** The value as T when it passes; otherwise throws the shared checker's LOA_ERR_MQTT_PAYLOAD error. */
function validated<T>(c: Check<T>, value: unknown, what: string): T {
  if (c.fast(value)) return value;
  c.slow.parse(value, what);
  throw new LoaError('LOA_ERR_MQTT_PAYLOAD', `${what} is invalid`); // not reached: both checks use one schema
}

const asPayloadError = (e: unknown, what: string): LoaError =>
  e instanceof LoaError && e.code === 'LOA_ERR_MQTT_PAYLOAD' ? e : new LoaError('LOA_ERR_MQTT_PAYLOAD', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });

/**
 * Turns one MQTT message on `loa/v1/dev/{id}/up/{kind}` into validated items (DESIGN §3). Never throws: every
 * problem is returned, coded LOA_ERR_MQTT_PAYLOAD. Events inside an array are checked one by one, so one bad
 * event does not cost the good ones; an event whose deviceId differs from the topic's is refused.
 * An empty payload on `status` (a cleared retained message) yields nothing.
 */
export function decodeUp(topic: string, payload: Buffer, receivedAt: number, limits: DecodeLimits): Decoded {
  const out: Decoded = { items: [], problems: [] };
  const t = parseUpTopic(topic);
  if (!t) {
    out.problems.push({ reason: 'topic', kind: 'unknown', deviceId: null, error: new LoaError('LOA_ERR_MQTT_PAYLOAD', `not a device up topic: ${topic.slice(0, 200)}`) });
    return out;
  }
  const { deviceId, kind } = t;
  if (payload.length === 0 && kind === 'status') return out;
  const bad = (reason: ProblemReason, error: LoaError): void => {
    out.problems.push({ reason, kind, deviceId, error });
  };
  let value: unknown;
  try {
    value = parseJsonText(payload, limits.maxPayloadBytes, `${kind} from ${deviceId}`, 'LOA_ERR_MQTT_PAYLOAD');
  } catch (e) {
    bad('malformed', asPayloadError(e, `${kind} from ${deviceId} is not valid JSON`));
    return out;
  }
  switch (kind) {
    case 'status':
      try {
        out.items.push({ kind, deviceId, receivedAt, status: validated(statusCheck, value, `status from ${deviceId}`) });
      } catch (e) {
        bad('malformed', asPayloadError(e, 'status'));
      }
      break;
    case 'telemetry':
      try {
        const telemetry = validated(telemetryCheck, value, `telemetry from ${deviceId}`);
        out.items.push({ kind, deviceId, receivedAt, telemetry, json: JSON.stringify(telemetry) });
      } catch (e) {
        bad('malformed', asPayloadError(e, 'telemetry'));
      }
      break;
    case 'events': {
      const list = Array.isArray(value) ? value : [value];
      if (list.length > limits.maxEventsPerMessage) {
        bad('malformed', new LoaError('LOA_ERR_MQTT_PAYLOAD', `${list.length} events in one message from ${deviceId}; the limit is ${limits.maxEventsPerMessage}`));
        break;
      }
      for (const raw of list) {
        let event: DeviceEvent;
        try {
          event = validated(eventCheck, raw, `event from ${deviceId}`);
          Object.freeze(event.data); // the event goes to onEvent hooks as is
          Object.freeze(event);
        } catch (e) {
          bad('malformed', asPayloadError(e, 'event'));
          continue;
        }
        if (event.deviceId !== deviceId) {
          bad('mismatched', new LoaError('LOA_ERR_MQTT_PAYLOAD', `an event for device ${event.deviceId} arrived on the topic of ${deviceId}`, { details: { topicDevice: deviceId, eventDevice: event.deviceId, seq: event.seq } }));
          continue;
        }
        out.items.push({ kind: 'event', deviceId, receivedAt, event, dataJson: JSON.stringify(event.data) });
      }
      break;
    }
  }
  return out;
}
