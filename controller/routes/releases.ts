import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoaError, isLoaError } from '../../shared/errors.js';
import { verifyRelease } from '../../shared/release.js';
import type { SignedRoot } from '../../shared/schemas/root.js';
import { RELEASE_MAX_BYTES } from '../../shared/schemas/release.js';
import { parseJsonText } from '../../shared/validate.js';
import type { ReleaseRecord } from '../data/releases.js';
import type { AppContext } from '../http/context.js';
import { Limit } from '../http/schemas.js';
import { audit, visible } from './helpers.js';

/** The largest artifact accepted (the agent with its node_modules is tens of MB). */
export const RELEASE_MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024;
const ShaParams = Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false });

const view = (r: ReleaseRecord): Record<string, unknown> => ({
  sha256: r.sha256, version: r.version, arch: r.arch, size: r.size, createdAt: new Date(r.createdAt).toISOString(), uploadedAt: r.uploadedAt, uploadedBy: r.uploadedBy,
});

/** Reads what is left of a refused upload (bounded by the multipart limit), so the client sees the coded error. */
function drain(req: FastifyRequest, timeoutMs: number): Promise<void> {
  const s = req.raw;
  if (s.readableEnded || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, timeoutMs);
    s.once('end', done);
    s.once('close', done);
    s.once('error', done);
    s.resume();
  });
}

/** Upload errors of the metadata are all "malformed release metadata", whatever part of the parse refused it. */
function asInvalid(e: unknown): unknown {
  return isLoaError(e) && (e.code === 'LOA_ERR_JSON_PARSE' || e.code === 'LOA_ERR_INPUT_TOO_LARGE' || e.code === 'LOA_ERR_SCHEMA')
    ? new LoaError('LOA_ERR_RELEASE_INVALID', e.message, { cause: e }) : e;
}

/**
 * Agent releases (issue 11): upload (signed metadata checked against the controller's root, artifact checked
 * against the metadata, stored content-addressed, all or nothing), list, show, delete, and the artifact download
 * devices use (unauthenticated and content-addressed like /media, with Range so downloads resume).
 */
export function registerReleases(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v1/releases', {
    config: { perm: 'release.manage' },
    schema: {
      tags: ['releases'], consumes: ['multipart/form-data'],
      summary: 'Upload an agent release: multipart field `release` (the signed metadata, <artifact>.release.json) first, then the file field `artifact` (the .tar.gz). 201 when stored, 200 when the same bytes are already stored, 409 when the version and arch are stored with other bytes.',
    },
  }, async (req, reply) => {
    visible(req, 'release.manage');
    if (!req.isMultipart()) throw new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data with the field release, then the file artifact');
    const part = await req.file({ limits: { fileSize: RELEASE_MAX_ARTIFACT_BYTES, fieldSize: RELEASE_MAX_BYTES, files: 1, fields: 4 } });
    if (!part) throw new LoaError('LOA_ERR_RELEASE_INVALID', 'the upload has no artifact file part');
    try {
      const f = part.fields.release;
      const one = Array.isArray(f) ? f[0] : f;
      // A field sent as application/json arrives parsed; as text, it is parsed here (size-capped either way).
      const value: unknown = one && one.type === 'field' ? one.value : undefined;
      if (value === undefined || value === '') throw new LoaError('LOA_ERR_RELEASE_INVALID', 'the field release (the signed metadata) must come before the artifact file');
      let env;
      try {
        env = verifyRelease(parseJsonText(typeof value === 'string' ? value : JSON.stringify(value), RELEASE_MAX_BYTES, 'release metadata'), (ctx.root as SignedRoot).signed);
      } catch (e) {
        throw asInvalid(e);
      }
      const meta = env.signed;
      const other = ctx.data.releases.byVersion(meta.version, meta.arch);
      if (other && other.sha256 !== meta.sha256) {
        throw new LoaError('LOA_ERR_RELEASE_EXISTS', `release ${meta.version} for ${meta.arch} is already stored with other bytes (${other.sha256.slice(0, 12)}…); a new build needs a new version`, { details: { sha256: other.sha256 } });
      }
      // The bytes are checked even when the same release is stored: a tampered copy is refused, never "accepted".
      const staged = await ctx.releases.stage(part.file, meta);
      const existing = ctx.data.releases.get(meta.sha256);
      if (existing) {
        await ctx.releases.discard(staged);
        return await reply.code(200).send({ release: view(existing) });
      }
      await ctx.releases.commit(staged);
      const now = ctx.clock.now();
      const rec: ReleaseRecord = { sha256: meta.sha256, version: meta.version, arch: meta.arch, size: meta.size, createdAt: Date.parse(meta.createdAt), uploadedAt: now, uploadedBy: req.user!.id };
      try {
        ctx.data.tx(() => {
          ctx.data.releases.insert(rec, JSON.stringify(env));
          audit(ctx, req, { action: 'release.upload', targetType: 'release', targetId: meta.sha256, details: { version: meta.version, arch: meta.arch, size: meta.size, keyids: env.signatures.map((s) => s.keyid) } });
        });
      } catch (e) {
        // Another upload of the same bytes may have won the race: its row stands, and so does the file.
        const won = ctx.data.releases.get(meta.sha256);
        if (won) return await reply.code(200).send({ release: view(won) });
        await ctx.releases.remove(meta.sha256);
        throw e;
      }
      return await reply.code(201).send({ release: view(rec) });
    } catch (e) {
      part.file.resume();
      await drain(req, 30_000);
      throw e;
    }
  });

  app.get('/api/v1/releases', {
    config: { perm: 'release.manage' },
    schema: { tags: ['releases'], summary: 'Stored agent releases, newest upload first', querystring: Type.Object({ limit: Limit }, { additionalProperties: false }) },
  }, async (req) => {
    visible(req, 'release.manage');
    return { releases: ctx.data.releases.list((req.query as { limit: number }).limit).map(view) };
  });

  app.get('/api/v1/releases/:sha256', {
    config: { perm: 'release.manage' },
    schema: { tags: ['releases'], summary: 'One release, with its signed metadata as uploaded', params: ShaParams },
  }, async (req) => {
    visible(req, 'release.manage');
    const r = ctx.data.releases.require((req.params as { sha256: string }).sha256);
    return { release: { ...view(r), url: `releases/${r.sha256}`, signed: r.envelope } };
  });

  app.delete('/api/v1/releases/:sha256', {
    config: { perm: 'release.manage' },
    schema: { tags: ['releases'], summary: 'Delete a release no deployment uses (row, then file)', params: ShaParams },
  }, async (req) => {
    visible(req, 'release.manage');
    const { sha256 } = req.params as { sha256: string };
    const r = ctx.data.releases.require(sha256);
    ctx.data.tx(() => {
      ctx.data.releases.delete(sha256);
      audit(ctx, req, { action: 'release.delete', targetType: 'release', targetId: sha256, details: { version: r.version, arch: r.arch } });
    });
    await ctx.releases.remove(sha256);
    return { ok: true };
  });

  // The artifact for devices: public and content-addressed (its release-role signature, not access control, is
  // what makes it safe), like /media; Range requests so an interrupted download resumes.
  app.route({
    method: ['GET', 'HEAD'], url: '/releases/:sha256',
    config: { auth: 'public' },
    schema: { tags: ['device protocol'], summary: 'Release artifact bytes by sha256, with Range requests (resumable downloads)', params: ShaParams },
    handler: async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      if (!ctx.data.releases.get(sha256)) throw new LoaError('LOA_ERR_RELEASE_NOT_FOUND', `no release ${sha256.slice(0, 12)}…`);
      const r = await ctx.releases.openRange(sha256, req.raw);
      void reply.code(r.status).headers(r.headers);
      return reply.send(r.stream ?? r.body ?? '');
    },
  });
}
