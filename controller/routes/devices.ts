import { createHash, randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { keyIdOf } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { EnrollRequest } from '../../shared/schemas/telemetry.js';
import { newId } from '../data/ids.js';
import type { AppContext } from '../http/context.js';
import { IdParam, Limit, Params, SafeName } from '../http/schemas.js';
import { audit, authz, visible } from './helpers.js';

const hash = (t: string): string => createHash('sha256').update(t).digest('hex');

/** Devices: records, enrollment tokens, revocation, and the device-facing manifest endpoint. */
export function registerDevices(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/v1/devices', {
    config: { perm: 'device.read' },
    schema: {
      tags: ['devices'], summary: 'Devices you can see, with live status (keyset pagination by id)',
      querystring: Type.Object({ zoneId: Type.Optional(IdParam), online: Type.Optional(Type.Boolean()), q: Type.Optional(Type.String({ maxLength: 100 })), limit: Limit, after: Type.Optional(IdParam) }, { additionalProperties: false }),
    },
  }, async (req) => {
    const q = req.query as { zoneId?: string; online?: boolean; q?: string; limit: number; after?: string };
    const zonePath = q.zoneId ? authz(ctx, req, 'device.read', q.zoneId) : undefined;
    const devices = ctx.data.devices.list({ within: visible(req, 'device.read'), ...(zonePath ? { zonePath } : {}), ...(q.online === undefined ? {} : { online: q.online }), ...(q.q ? { q: q.q } : {}), limit: q.limit, ...(q.after ? { after: q.after } : {}) });
    return { devices: devices.map(({ publicKey: _pk, ...d }) => d), next: devices.length === q.limit ? devices[devices.length - 1]!.id : null };
  });

  app.get('/api/v1/devices/:id', { config: { perm: 'device.read' }, schema: { tags: ['devices'], params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.read', d.zoneId);
    const state = ctx.data.devices.list({ id, limit: 1 })[0];
    const m = ctx.data.manifests.get(id);
    return { device: { ...(state ?? d), publicKey: undefined }, manifest: m ? { version: m.version, compiledAt: m.compiledAt, expiresAt: m.expiresAt } : null };
  });

  app.post('/api/v1/devices', {
    config: { perm: 'device.write' },
    schema: {
      tags: ['devices'], summary: 'Register a device in a cluster; enroll it with a token next',
      body: Type.Object({
        id: Type.Optional(IdParam), zoneId: IdParam, name: SafeName(200), kind: Type.Union([Type.Literal('speaker'), Type.Literal('board')], { default: 'speaker' }),
        lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })), lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
      }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const b = req.body as { id?: string; zoneId: string; name: string; kind: 'speaker' | 'board'; lat?: number; lon?: number };
    authz(ctx, req, 'device.write', b.zoneId);
    const zone = ctx.data.zones.require(b.zoneId);
    if (zone.level !== 'cluster' && zone.level !== 'commune') throw new LoaError('LOA_ERR_ZONE_HIERARCHY', 'a device belongs to a cluster (or directly to a commune)');
    const device = ctx.data.tx(() => {
      const d = ctx.data.devices.create({ id: b.id ?? newId('dev'), zoneId: b.zoneId, name: b.name, kind: b.kind, lat: b.lat ?? null, lon: b.lon ?? null }, ctx.clock.now());
      audit(ctx, req, { action: 'device.create', targetType: 'device', targetId: d.id, zoneId: d.zoneId, details: { ...b } });
      return d;
    });
    ctx.compiler.markDirty([device.id]);
    return reply.code(201).send({ device });
  });

  app.patch('/api/v1/devices/:id', {
    config: { perm: 'device.write' },
    schema: { tags: ['devices'], params: Params, body: Type.Object({ name: Type.Optional(SafeName(200)), zoneId: Type.Optional(IdParam), lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })), lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })) }, { additionalProperties: false }) },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const b = req.body as { name?: string; zoneId?: string; lat?: number; lon?: number };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.write', d.zoneId);
    if (b.zoneId) authz(ctx, req, 'device.write', b.zoneId);
    const device = ctx.data.tx(() => {
      const out = ctx.data.devices.update(id, b, ctx.clock.now());
      audit(ctx, req, { action: 'device.update', targetType: 'device', targetId: id, zoneId: out.zoneId, details: { ...b } });
      return out;
    });
    if (b.zoneId && b.zoneId !== d.zoneId) ctx.compiler.markDirty([id]);
    return { device };
  });

  app.post('/api/v1/devices/:id/enrollment-token', {
    config: { perm: 'device.write' },
    schema: { tags: ['devices'], summary: 'A one-time enrollment token for `loa agent enroll` (replaces any unused one)', params: Params },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.write', d.zoneId);
    const token = randomBytes(24).toString('base64url');
    const now = ctx.clock.now();
    const expiresAt = now + ctx.config.auth.enrollTokenTtlHours * 3_600_000;
    ctx.data.tx(() => {
      ctx.data.devices.addEnrollmentToken(hash(token), id, req.user!.id, now, expiresAt);
      audit(ctx, req, { action: 'device.enrollment_token', targetType: 'device', targetId: id, zoneId: d.zoneId });
    });
    return reply.code(201).send({ deviceId: id, token, expiresAt: new Date(expiresAt).toISOString(), controllerUrl: ctx.urls.http() });
  });

  app.post('/api/v1/devices/:id/revoke', { config: { perm: 'device.write' }, schema: { tags: ['devices'], summary: 'Revoke a device: its key is refused at once, everywhere', params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.write', d.zoneId);
    ctx.data.tx(() => {
      ctx.data.devices.revoke(id, ctx.clock.now());
      audit(ctx, req, { action: 'device.revoke', targetType: 'device', targetId: id, zoneId: d.zoneId });
    });
    ctx.disconnectDevice(id);
    return { ok: true };
  });

  app.post('/api/v1/enroll', {
    config: { auth: 'public', rateLimit: { max: 30, timeWindow: 60_000 } },
    schema: { tags: ['devices'], summary: 'Device enrollment: binds the device public key with a one-time token', body: EnrollRequest },
  }, async (req) => {
    const b = req.body as EnrollRequest;
    const now = ctx.clock.now();
    const deviceId = ctx.data.tx(() => {
      const id = ctx.data.devices.consumeEnrollmentToken(hash(b.token), now);
      if (!id) throw new LoaError('LOA_ERR_ENROLL_TOKEN');
      ctx.data.devices.bindKey(id, { publicKey: b.publicKey, keyid: keyIdOf(b.publicKey), hardwareProfile: b.hardwareProfile ?? null, agentVersion: b.agentVersion ?? null }, now);
      ctx.data.audit.add({ actor: `device:${id}`, ip: req.ip, action: 'device.enroll', targetType: 'device', targetId: id, details: { keyid: keyIdOf(b.publicKey), hardwareProfile: b.hardwareProfile } }, now);
      return id;
    });
    const d = ctx.data.devices.require(deviceId);
    ctx.compiler.markDirty([deviceId]);
    return { deviceId, zoneId: d.zoneId, root: ctx.root, controllerUrl: ctx.urls.http(), mqttUrl: ctx.urls.mqtt() };
  });

  app.get('/api/v1/devices/:id/manifest', {
    config: { auth: 'device' },
    schema: { tags: ['device protocol'], summary: 'The signed manifest of the calling device (ETag; 304 when unchanged)', params: Type.Object({ id: IdParam }) },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (req.deviceId !== id) throw new LoaError('LOA_ERR_FORBIDDEN', 'a device may only fetch its own manifest');
    const m = ctx.data.manifests.get(id);
    if (!m) throw new LoaError('LOA_ERR_NOT_FOUND', `no manifest compiled for ${id} yet`);
    void reply.header('etag', m.etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === m.etag) return reply.code(304).send();
    return reply.type('application/json').send(m.body);
  });
}
