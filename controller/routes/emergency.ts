import { randomInt } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import type { EmergencyContent, EmergencyOrder } from '../../shared/schemas/emergency.js';
import { can } from '../auth/policy.js';
import type { EmergencyOrderRecord, EmergencyStatus, SignedOrderText } from '../data/emergency.js';
import { newId } from '../data/ids.js';
import type { MediaRecord } from '../data/media.js';
import { EMERGENCY_KEY_HINT, inKeyScope, iso, newNonce, type EmergencySigner } from '../emergency/signer.js';
import { confirmCodeHash, outOfScope, pathNames, sameName, targetSetOf, touchesApproval, type TargetSet } from '../emergency/targets.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, Limit, Params, SafeName } from '../http/schemas.js';
import { DEVICE_FORMAT } from '../media/transcode.js';
import { audit, authz, visible } from './helpers.js';

/** A preview's confirmation code is valid this long. */
export const CONFIRM_TTL_MS = 5 * 60_000;
/** Text that is spoken and shown on boards: any characters but control characters (new lines and tabs are fine). */
const SPOKEN_TEXT = '^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$';

const Targets = {
  zones: Type.Array(IdParam, { maxItems: 1000, description: 'Target zones: every live device in their subtrees' }),
  devices: Type.Optional(Type.Array(IdParam, { maxItems: 1000, description: 'Explicit target devices' })),
};
const PreviewBody = Type.Object(Targets, { additionalProperties: false });
const SendBody = Type.Object(
  {
    title: SafeName(200, 'Shown in reports and on boards'),
    ...Targets,
    content: Type.Union([
      Type.Object({ kind: Type.Literal('media'), mediaId: IdParam }, { additionalProperties: false, description: 'A file of the media library' }),
      Type.Object({
        kind: Type.Literal('tts'),
        text: Type.String({ minLength: 1, maxLength: 5000, pattern: SPOKEN_TEXT, description: 'Vietnamese text, spoken by the controller TTS' }),
        voice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+_.:-]{1,64}$' })),
      }, { additionalProperties: false, description: 'Text to speech' }),
    ]),
    repeat: Type.Integer({ minimum: 1, maximum: 20, default: 1 }),
    volume: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    startAt: Type.Optional(Type.String({ format: 'date-time', description: 'Start at this time (before the order expires); default at once' })),
    ttlMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'The order expires this long after it is signed (at most 24 h)' }),
    confirm: Type.String({ minLength: 1, maxLength: 300, description: 'The target zone\'s name (when there is exactly one zone), or the code from POST /api/v1/emergency/preview' }),
  },
  { additionalProperties: false },
);
interface SendBody {
  title: string; zones: string[]; devices?: string[]; content: { kind: 'media'; mediaId: string } | { kind: 'tts'; text: string; voice?: string };
  repeat: number; volume?: number; startAt?: string; ttlMinutes: number; confirm: string;
}
const STATUSES: EmergencyStatus[] = ['pending_approval', 'active', 'cancelled', 'expired'];

/** What an order is made of, before it is signed (a stored order, or the body of a new one). */
type OrderParts = Pick<EmergencyOrderRecord, 'id' | 'title' | 'zones' | 'devices' | 'content' | 'repeat' | 'volume' | 'startAt'>;

/**
 * Emergency orders (issue 6, DESIGN §2): preview with a confirmation code, send (or hold for a second
 * person's approval), approve, cancel, and live progress from the devices' acks. Each order is signed once
 * with the emergency key and the same bytes go to every targeted device's own MQTT topic. Every step and
 * every refusal is in the audit log.
 */
export function registerEmergency(app: FastifyInstance, ctx: AppContext): void {
  const repo = ctx.data.emergency;

  const refuse = (req: FastifyRequest, action: string, orderId: string | null, zoneId: string, details: Record<string, unknown>): void => {
    audit(ctx, req, { action: `emergency.${action}_refused`, targetType: 'emergency', targetId: orderId, zoneId, details });
  };

  /** 403, audited, unless the user may send to every target. */
  const guardTargets = (req: FastifyRequest, t: TargetSet, action: string, orderId: string | null = null): void => {
    const out = outOfScope(userOf(req), 'emergency.send', t);
    if (out.zones.length + out.devices.length === 0) return;
    refuse(req, action, orderId, t.owner.id, { code: 'LOA_ERR_FORBIDDEN', zones: out.zones, devices: out.devices.slice(0, 100) });
    throw new LoaError('LOA_ERR_FORBIDDEN', `${userOf(req).username} may not send emergency orders to ${[...out.zones, ...out.devices].slice(0, 10).join(', ')}`, {
      details: { permission: 'emergency.send', zones: out.zones, devices: out.devices.slice(0, 100) },
    });
  };

  /** A stored order's targets, for approve and cancel: the user holds emergency.send over its zone, or over each target. */
  const guardStored = (req: FastifyRequest, o: EmergencyOrderRecord, action: string): TargetSet => {
    const t = targetSetOf(ctx.data, o.zones, o.devices, true);
    const owner = ctx.data.zones.get(o.zoneId);
    if (!owner || !can(userOf(req), 'emergency.send', owner.path)) guardTargets(req, t, action, o.id);
    return t;
  };

  const signerOrThrow = (): EmergencySigner => {
    const s = ctx.emergency.signer();
    if (!s) throw new LoaError('LOA_ERR_EMERGENCY_KEY_MISSING', `the controller has no emergency key: ${EMERGENCY_KEY_HINT}`);
    return s;
  };

  /** The live devices the order reaches now (LOA_ERR_EMERGENCY_NO_TARGETS), all inside the key's zone scope (LOA_ERR_EMERGENCY_SCOPE). */
  const resolveDevices = (t: TargetSet, signer: EmergencySigner): string[] => {
    const devices = repo.resolveTargets(t.zones.map((z) => z.path), t.deviceIds);
    if (devices.length === 0) {
      throw new LoaError('LOA_ERR_EMERGENCY_NO_TARGETS', 'no receiver (registered, not revoked or decommissioned) is in the target zones or among the target devices', { details: { zones: t.zoneIds, devices: t.deviceIds.length } });
    }
    const outside = devices.filter((d) => !inKeyScope(signer.zones, d.path));
    if (outside.length > 0) {
      throw new LoaError('LOA_ERR_EMERGENCY_SCOPE', `${outside.length} target device(s) lie outside the zones of the emergency key (${(signer.zones ?? []).slice(0, 10).join(', ')}) and would refuse the order`, {
        details: { count: outside.length, devices: outside.slice(0, 20).map((d) => d.id) },
      });
    }
    return devices.map((d) => d.id);
  };

  /** Signs a start or cancel order with a fresh seq and nonce; call inside the transaction that stores it. */
  const sign = (signer: EmergencySigner, o: OrderParts, action: 'start' | 'cancel', now: number, expiresAt: number): SignedOrderText => {
    const seq = repo.nextSeq(now);
    const order: EmergencyOrder = {
      _type: 'emergency', schemaVersion: 1, orderId: o.id, action, seq, nonce: newNonce(), issuedAt: iso(now), expiresAt: iso(expiresAt),
      target: { zones: [...o.zones], devices: [...o.devices] }, title: o.title, repeat: o.repeat, outputs: [],
      ...(o.volume !== null ? { volume: o.volume } : {}),
      ...(action === 'start' ? { content: o.content, ...(o.startAt !== null ? { startAt: iso(o.startAt) } : {}) } : {}),
    };
    return { seq, issuedAt: now, expiresAt, body: signer.sign(order) };
  };

  const publish = async (o: EmergencyOrderRecord, signed: SignedOrderText, deviceIds: readonly string[]): Promise<number> => {
    const r = await ctx.emergency.publish(deviceIds, signed.body);
    if (r.failed.length > 0) ctx.log.error({ code: 'LOA_ERR_INTERNAL', orderId: o.id, seq: signed.seq, failed: r.failed.length }, 'the broker refused the emergency order for some devices');
    ctx.log.warn({ orderId: o.id, seq: signed.seq, published: r.published, status: o.status }, 'emergency order published');
    return r.published;
  };

  /** The audio of a new order: a library file the user may read, or the text spoken now (stored as a media record in the transaction). */
  const render = async (req: FastifyRequest, b: SendBody, t: TargetSet): Promise<{ content: EmergencyContent; mediaId: string | null; newMedia: Omit<MediaRecord, 'id' | 'createdAt'> | null }> => {
    if (b.content.kind === 'media') {
      const m = ctx.data.media.require(b.content.mediaId);
      authz(ctx, req, 'media.read', m.zoneId);
      return { content: { kind: 'media', sha256: m.sha256, size: m.size, durationMs: m.durationMs, mime: m.mime }, mediaId: m.id, newMedia: null };
    }
    const r = await ctx.tts.speak(b.content.text, b.content.voice ? { voice: b.content.voice } : {});
    return {
      content: { kind: 'tts', text: b.content.text, sha256: r.sha256, size: r.size, durationMs: r.durationMs },
      mediaId: null,
      newMedia: {
        sha256: r.sha256, size: r.size, durationMs: r.durationMs, mime: DEVICE_FORMAT.mime, title: b.title, originalName: null, sourceSha256: null, loudnessLufs: null,
        zoneId: t.owner.id, createdBy: userOf(req).id,
      },
    };
  };

  app.post('/api/v1/emergency/preview', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], body: PreviewBody,
      summary: 'Where an emergency order would go: the devices it reaches, the zones with their full names, and a 6-digit confirmation code (5 minutes, for this user and these targets)',
    },
  }, async (req) => {
    const b = req.body as { zones: string[]; devices?: string[] };
    const user = userOf(req);
    const t = targetSetOf(ctx.data, b.zones, b.devices ?? []);
    guardTargets(req, t, 'preview');
    const signer = signerOrThrow();
    const devices = repo.resolveTargets(t.zones.map((z) => z.path), t.deviceIds);
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const now = ctx.clock.now();
    ctx.data.tx(() => {
      repo.putConfirmation(user.id, t.hash, confirmCodeHash(user.id, t.hash, code), now + CONFIRM_TTL_MS, now);
      audit(ctx, req, { action: 'emergency.preview', targetType: 'emergency', zoneId: t.owner.id, details: { zones: t.zoneIds, devices: t.deviceIds.length, targeted: devices.length } });
    });
    return {
      targetedDevices: devices.length,
      online: devices.filter((d) => d.online).length,
      outsideKeyScope: devices.filter((d) => !inKeyScope(signer.zones, d.path)).length,
      zones: t.zones.map((z) => ({ id: z.id, name: z.name, level: z.level, pathNames: pathNames(ctx.data, z) })),
      devices: t.devices.map((d) => ({ id: d.device.id, name: d.device.name, zoneId: d.device.zoneId })),
      confirmCode: code,
      confirmExpiresAt: iso(now + CONFIRM_TTL_MS),
      confirmByName: t.zones.length === 1 ? t.zones[0]!.name : null,
      approvalRequired: touchesApproval(ctx.data, ctx.config.emergency.approvalZones, t),
    };
  });

  app.post('/api/v1/emergency', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], body: SendBody,
      summary: 'Send an emergency order: signed once, published to every targeted device (201); held for a second person\'s approval when it touches an approval zone (202)',
    },
  }, async (req, reply) => {
    const b = req.body as SendBody;
    const user = userOf(req);
    const t = targetSetOf(ctx.data, b.zones, b.devices ?? []);
    guardTargets(req, t, 'send');
    const signer = signerOrThrow();
    const now = ctx.clock.now();
    const code = b.confirm.trim();
    const confirmedBy = t.zones.length === 1 && sameName(b.confirm, t.zones[0]!.name) ? 'zone_name'
      : /^\d{6}$/.test(code) && repo.hasConfirmation(user.id, t.hash, confirmCodeHash(user.id, t.hash, code), now) ? 'code' : null;
    if (!confirmedBy) {
      refuse(req, 'send', null, t.owner.id, { code: 'LOA_ERR_EMERGENCY_CONFIRM', zones: t.zoneIds, devices: t.deviceIds.length });
      throw new LoaError('LOA_ERR_EMERGENCY_CONFIRM', t.zones.length === 1
        ? `type the zone's name ("${t.zones[0]!.name}") or the code from POST /api/v1/emergency/preview to confirm`
        : 'type the code from POST /api/v1/emergency/preview (for these targets, within 5 minutes) to confirm');
    }
    const ttlMs = b.ttlMinutes * 60_000;
    const startAt = b.startAt === undefined ? null : Date.parse(b.startAt);
    if (startAt !== null && (startAt >= now + ttlMs || startAt < now - 60_000)) {
      throw new LoaError('LOA_ERR_SCHEMA', `startAt must lie between now and the order's expiry (${iso(now + ttlMs)})`, { details: { startAt: b.startAt } });
    }
    const pending = touchesApproval(ctx.data, ctx.config.emergency.approvalZones, t);
    // Refusals that cost nothing come before the (slow) speech synthesis.
    const deviceIds = pending ? [] : resolveDevices(t, signer);
    const audio = await render(req, b, t);
    const at = ctx.clock.now();
    const { order, signed } = ctx.data.tx(() => {
      const mediaId = audio.newMedia ? ctx.data.media.create({ ...audio.newMedia, id: newId('med') }, at).id : audio.mediaId;
      const parts: OrderParts = { id: newId('emg'), title: b.title, zones: t.zoneIds, devices: t.deviceIds, content: audio.content, repeat: b.repeat, volume: b.volume ?? null, startAt };
      const s = pending ? undefined : sign(signer, parts, 'start', at, at + ttlMs);
      const o = repo.create({ ...parts, zoneId: t.owner.id, mediaId, ttlMs, expiresAt: at + ttlMs, createdBy: user.id }, at, s ? { signed: s, deviceIds } : undefined);
      if (confirmedBy === 'code') repo.dropConfirmation(user.id, t.hash);
      audit(ctx, req, {
        action: pending ? 'emergency.create' : 'emergency.send', targetType: 'emergency', targetId: o.id, zoneId: o.zoneId,
        details: {
          title: o.title, status: o.status, zones: o.zones, devices: o.devices.length, content: { kind: o.content.kind, sha256: audio.content.kind === 'live' ? null : audio.content.sha256, mediaId },
          repeat: o.repeat, volume: o.volume, startAt: b.startAt ?? null, ttlMinutes: b.ttlMinutes, confirmedBy, seq: s?.seq ?? null, targeted: deviceIds.length,
        },
      });
      return { order: o, signed: s };
    });
    if (!signed) return reply.code(202).send({ order, approvalRequired: true, published: 0 });
    const published = await publish(order, signed, deviceIds);
    return reply.code(201).send({ order, approvalRequired: false, published, progress: repo.progress(order.id) });
  });

  app.post('/api/v1/emergency/:id/approve', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], params: Params, body: Type.Optional(Type.Object({}, { additionalProperties: false })),
      summary: 'Approve an order held by the two-person rule: another user than its author, with emergency.send over its targets; it is signed and sent now',
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const user = userOf(req);
    const now = ctx.clock.now();
    repo.expireDue(now);
    const o = repo.require(id);
    const t = guardStored(req, o, 'approve');
    if (o.status !== 'pending_approval') throw new LoaError('LOA_ERR_EMERGENCY_STATE', `the order is ${o.status}; only an order pending approval can be approved`, { details: { status: o.status } });
    if (o.createdBy === user.id) {
      refuse(req, 'approve', o.id, o.zoneId, { code: 'LOA_ERR_EMERGENCY_SAME_APPROVER' });
      throw new LoaError('LOA_ERR_EMERGENCY_SAME_APPROVER', 'you wrote this order; another user with the right to send emergency orders here must approve it');
    }
    const signer = signerOrThrow();
    const deviceIds = resolveDevices(t, signer);
    const { order, signed } = ctx.data.tx(() => {
      const s = sign(signer, o, 'start', now, now + o.ttlMs);
      const approved = repo.approve(id, user.id, s, deviceIds, now);
      audit(ctx, req, { action: 'emergency.approve', targetType: 'emergency', targetId: id, zoneId: o.zoneId, details: { createdBy: o.createdBy, seq: s.seq, targeted: deviceIds.length } });
      return { order: approved, signed: s };
    });
    const published = await publish(order, signed, deviceIds);
    return { order, published, progress: repo.progress(id) };
  });

  app.post('/api/v1/emergency/:id/cancel', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], params: Params, body: Type.Optional(Type.Object({}, { additionalProperties: false })),
      summary: 'Cancel an order: a signed cancel (new seq and nonce, same order id and targets) goes to the devices the order went to; a pending order is simply dropped',
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const user = userOf(req);
    const now = ctx.clock.now();
    repo.expireDue(now);
    const o = repo.require(id);
    guardStored(req, o, 'cancel');
    if (o.status !== 'active' && o.status !== 'pending_approval') throw new LoaError('LOA_ERR_EMERGENCY_STATE', `the order is ${o.status} already`, { details: { status: o.status } });
    if (o.status === 'pending_approval') {
      const order = ctx.data.tx(() => {
        const c = repo.cancel(id, user.id, now);
        audit(ctx, req, { action: 'emergency.cancel', targetType: 'emergency', targetId: id, zoneId: o.zoneId, details: { from: 'pending_approval' } });
        return c;
      });
      return { order, published: 0, progress: repo.progress(id) };
    }
    const signer = signerOrThrow();
    const deviceIds = repo.targetIds(id);
    const { order, signed } = ctx.data.tx(() => {
      const s = sign(signer, o, 'cancel', now, o.expiresAt);
      const c = repo.cancel(id, user.id, now, s);
      audit(ctx, req, { action: 'emergency.cancel', targetType: 'emergency', targetId: id, zoneId: o.zoneId, details: { from: 'active', seq: s.seq, targeted: deviceIds.length } });
      return { order: c, signed: s };
    });
    const published = await publish(order, signed, deviceIds);
    return { order, published, progress: repo.progress(id) };
  });

  app.get('/api/v1/emergency', {
    config: { perm: 'emergency.read' },
    schema: {
      tags: ['emergency'], summary: 'Emergency orders whose zone you can see, newest first',
      querystring: Type.Object({ status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))), limit: Limit }, { additionalProperties: false }),
    },
  }, async (req) => {
    const q = req.query as { status?: EmergencyStatus; limit: number };
    repo.expireDue(ctx.clock.now());
    return { orders: repo.list(visible(req, 'emergency.read'), q.limit, q.status) };
  });

  app.get('/api/v1/emergency/:id', {
    config: { perm: 'emergency.read' },
    schema: {
      tags: ['emergency'], params: Params,
      summary: 'An order with live progress (targeted, received, started, finished, failed, rejected, cancelled, offline, pending); ?devices=1 adds a row per device',
      querystring: Type.Object({
        devices: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')])),
        limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'Device rows per page' }),
        after: Type.Optional(IdParam),
      }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as { devices?: string; limit: number; after?: string };
    repo.expireDue(ctx.clock.now());
    const order = repo.require(id);
    authz(ctx, req, 'emergency.read', order.zoneId);
    const progress = repo.progress(id);
    if (q.devices !== '1' && q.devices !== 'true') return { order, progress };
    const devices = repo.deviceRows(id, q.limit, q.after);
    return { order, progress, devices, next: devices.length === q.limit ? devices[devices.length - 1]!.deviceId : null };
  });
}
