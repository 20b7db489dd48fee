import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { ScreenshotsRepo } from '../data/screenshots.js';
import type { AppContext } from '../http/context.js';
import { IdParam, Params } from '../http/schemas.js';
import { authz } from './helpers.js';

/** Screenshots larger than this are refused (a low-resolution WebP of a board is a few tens of kB). */
export const SCREENSHOT_MAX_BYTES = 512 * 1024;
const TYPES = ['image/webp', 'image/png'] as const;

/** The type the bytes really are (never the client's word alone). */
export function screenshotMime(b: Buffer): 'image/webp' | 'image/png' | null {
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  return null;
}

/**
 * Proof-of-display screenshots (issue 8, contract D). A board uploads its latest low-resolution screenshot over
 * HTTP with its device token (PUT); operators read it with device.read in the device's zone (GET). Only the
 * latest per device is kept. The image parsers are registered for these routes only.
 */
export function registerScreenshots(app: FastifyInstance, ctx: AppContext): void {
  const repo = new ScreenshotsRepo(ctx.data.db);
  void app.register(async (scope) => {
    scope.addContentTypeParser([...TYPES], { parseAs: 'buffer', bodyLimit: SCREENSHOT_MAX_BYTES }, (_req, body, done) => {
      done(null, body);
    });
    scope.put('/api/v1/devices/:id/screenshot', {
      config: { auth: 'device' },
      bodyLimit: SCREENSHOT_MAX_BYTES,
      schema: {
        tags: ['device protocol'], summary: 'A board sends its latest screenshot (image/webp or image/png, at most 512 KiB)', params: Type.Object({ id: IdParam }),
        headers: Type.Object({ 'x-loa-taken-at': Type.Optional(Type.String({ pattern: '^\\d{1,15}$', description: 'Device time it was taken, ms since the epoch' })) }),
      },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (req.deviceId !== id) throw new LoaError('LOA_ERR_FORBIDDEN', 'a device may only send its own screenshot');
      if (!Buffer.isBuffer(req.body)) throw new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', `send the screenshot as ${TYPES.join(' or ')}`);
      const mime = screenshotMime(req.body);
      const declared = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (!mime || mime !== declared) throw new LoaError('LOA_ERR_SCREENSHOT_INVALID', `the body is not ${declared || 'an image'}: send a WebP or PNG file`);
      const now = ctx.clock.now();
      const takenHeader = req.headers['x-loa-taken-at'];
      const takenAt = typeof takenHeader === 'string' ? Number(takenHeader) : now;
      repo.put({ deviceId: id, mime, body: req.body, size: req.body.length, takenAt, receivedAt: now });
      return reply.code(204).send();
    });
  });

  app.get('/api/v1/devices/:id/screenshot', {
    config: { perm: 'device.read' },
    schema: { tags: ['devices'], summary: 'The latest screenshot of a board (image/webp or image/png); 404 when it has sent none', params: Params },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.read', d.zoneId);
    const s = repo.get(id);
    if (!s) throw new LoaError('LOA_ERR_NOT_FOUND', `device ${id} has sent no screenshot`, { details: { deviceId: id } });
    return reply.type(s.mime).header('cache-control', 'private, no-cache').header('x-loa-taken-at', new Date(s.takenAt).toISOString())
      .header('last-modified', new Date(s.receivedAt).toUTCString()).header('x-content-type-options', 'nosniff').send(s.body);
  });
}
