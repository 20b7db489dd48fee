import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { newId } from '../data/ids.js';
import { sanitizeTitle } from '../media/names.js';
import { SHA256_HEX } from '../media/library.js';
import type { WantedKind } from '../media/classify.js';
import { can } from '../auth/policy.js';
import type { AppContext } from '../http/context.js';
import { Limit, Params, SAFE_TEXT_PATTERN } from '../http/schemas.js';

const SAFE = new RegExp(SAFE_TEXT_PATTERN, 'u');
import { audit, authz, visible } from './helpers.js';

function drain(stream: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }, timeoutMs: number): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, timeoutMs);
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
    stream.resume();
  });
}

/** The media library: streamed upload with transcoding and loudness normalisation, listing, and Range download. */
export function registerMedia(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v1/media', {
    config: { perm: 'media.write' },
    schema: {
      tags: ['media'], consumes: ['multipart/form-data'],
      summary: 'Upload audio, a picture or a video (multipart: fields zoneId, title and optional kind = auto|audio|image|video first, then file). Audio is transcoded to Ogg Opus with EBU R128 loudness normalisation; PNG/JPEG/WebP pictures are re-encoded without metadata (≤ 3840 px); videos become VP9 WebM without sound (≤ 1920 px, 30 fps). Content-addressed by sha256.',
    },
  }, async (req, reply) => {
    if (!req.isMultipart()) throw new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data with fields zoneId, title and a file');
    const part = await req.file();
    if (!part) throw new LoaError('LOA_ERR_SCHEMA', 'the upload has no file part');
    const field = (name: string): string | undefined => {
      const f = part.fields[name];
      const one = Array.isArray(f) ? f[0] : f;
      return one && one.type === 'field' && typeof one.value === 'string' ? one.value : undefined;
    };
    const zoneId = field('zoneId');
    const titleRaw = field('title');
    const kindRaw = field('kind') ?? 'auto';
    try {
      if (!(['auto', 'audio', 'image', 'video'] as const).includes(kindRaw as WantedKind)) throw new LoaError('LOA_ERR_SCHEMA', 'the field kind must be auto, audio, image or video');
      if (!zoneId || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(zoneId)) throw new LoaError('LOA_ERR_SCHEMA', 'the fields zoneId and title must come before the file part');
      authz(ctx, req, 'media.write', zoneId);
      const title = sanitizeTitle(titleRaw ?? part.filename);
      if (!SAFE.test(title)) throw new LoaError('LOA_ERR_NAME_INVALID', 'the title holds characters that are not allowed: control characters, \\ < > ; \' " ` .. -- /* */');
      const r = await ctx.media.ingestUpload(part.file, { originalName: part.filename, kind: kindRaw as WantedKind });
      const audio = r.kind === 'audio' ? r : null;
      const media = ctx.data.tx(() => {
        const m = ctx.data.media.create({
          id: newId('med'), sha256: r.sha256, size: r.size, durationMs: r.durationMs, mime: r.mime, title, originalName: r.originalName ?? null,
          sourceSha256: r.sourceSha256, loudnessLufs: audio?.loudnessLufs ?? null, kind: r.kind, width: r.kind === 'audio' ? null : r.width, height: r.kind === 'audio' ? null : r.height,
          zoneId, createdBy: req.user!.id,
        }, ctx.clock.now());
        audit(ctx, req, { action: 'media.create', targetType: 'media', targetId: m.id, zoneId, details: {
          sha256: r.sha256, title, kind: r.kind, durationMs: r.durationMs, ...(audio ? { loudnessLufs: audio.loudnessLufs } : { width: m.width, height: m.height }),
        } });
        return m;
      });
      return await reply.code(201).send({ media, ...(audio ? { inputLoudnessLufs: audio.inputLoudnessLufs } : {}), deduplicated: r.deduplicated });
    } catch (e) {
      // Read the rest of the upload (bounded by the multipart limit) before answering, so the client sees the
      // coded error instead of a connection reset mid-upload.
      await drain(req.raw, 30_000);
      throw e;
    }
  });

  app.get('/api/v1/media', { config: { perm: 'media.read' }, schema: { tags: ['media'], querystring: Type.Object({ limit: Limit }, { additionalProperties: false }) } }, async (req) => {
    return { media: ctx.data.media.list(visible(req, 'media.read'), (req.query as { limit: number }).limit) };
  });

  app.get('/api/v1/media/:id', { config: { perm: 'media.read' }, schema: { tags: ['media'], params: Params } }, async (req) => {
    const m = ctx.data.media.require((req.params as { id: string }).id);
    authz(ctx, req, 'media.read', m.zoneId);
    return { media: m, usedBy: ctx.data.media.usedBy(m.id) };
  });

  app.delete('/api/v1/media/:id', { config: { perm: 'media.write' }, schema: { tags: ['media'], params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    const m = ctx.data.media.require(id);
    authz(ctx, req, 'media.write', m.zoneId);
    const r = ctx.data.tx(() => {
      const out = ctx.data.media.delete(id, ctx.clock.now());
      audit(ctx, req, { action: 'media.delete', targetType: 'media', targetId: id, zoneId: m.zoneId, details: { sha256: m.sha256 } });
      return out;
    });
    if (r.orphan) await ctx.media.remove(r.sha256);
    return { ok: true };
  });

  // Content-addressed download for devices (only media in their own manifest) and users (media they can read).
  app.route({
    method: ['GET', 'HEAD'], url: '/media/:sha256',
    config: { auth: 'user-or-device', perm: 'media.read' },
    schema: { tags: ['device protocol'], summary: 'Media bytes by sha256, with Range requests (resumable downloads)', params: Type.Object({ sha256: Type.String({ pattern: SHA256_HEX.source }) }) },
    handler: async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      const rec = ctx.data.media.bySha(sha256);
      if (!rec) throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `no media ${sha256.slice(0, 12)}…`);
      if (req.deviceId) {
        // Its manifest's media, and the audio of an active emergency order that targets it (issue 6).
        if (!ctx.data.manifests.get(req.deviceId)?.body.includes(sha256) && !ctx.data.emergency.deviceMayFetch(req.deviceId, sha256, ctx.clock.now())) {
          throw new LoaError('LOA_ERR_FORBIDDEN', 'this media is neither in the device manifest nor in an active emergency order for the device');
        }
      } else if (!can(req.user!, 'media.read', ctx.data.zones.require(rec.zoneId).path)) {
        throw new LoaError('LOA_ERR_FORBIDDEN', 'you cannot read this media');
      }
      const r = await ctx.media.openRange(sha256, req.raw, rec.mime);
      void reply.code(r.status).headers(r.headers);
      return reply.send(r.stream ?? r.body ?? '');
    },
  });
}
