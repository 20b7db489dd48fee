import { randomInt } from 'node:crypto';
import { LoaError } from '../../shared/errors.js';
import type { EmergencyContent, EmergencyOrder } from '../../shared/schemas/emergency.js';
import { authorize, can } from '../auth/policy.js';
import type { AuditInput } from '../data/audit.js';
import type { CapOrigin, EmergencyOrderRecord, EmergencyProgress, SignedOrderText } from '../data/emergency.js';
import { newId } from '../data/ids.js';
import type { MediaRecord } from '../data/media.js';
import type { User } from '../data/users.js';
import type { AppContext } from '../http/context.js';
import { DEVICE_FORMAT } from '../media/transcode.js';
import { EMERGENCY_KEY_HINT, inKeyScope, iso, newNonce, type EmergencySigner } from './signer.js';
import { confirmCodeHash, outOfScope, pathNames, sameName, targetSetOf, touchesApproval, type TargetSet } from './targets.js';

/** A preview's confirmation code is valid this long. */
export const CONFIRM_TTL_MS = 5 * 60_000;

/** Who acts: the signed-in user (or the user a CAP feed acts as) and the client address, for RBAC and the audit log. */
export interface Actor {
  user: User;
  ip: string | null;
}

export type ContentInput = { kind: 'media'; mediaId: string } | { kind: 'tts'; text: string; voice?: string } | LiveContentInput;
/** A live stream of this controller: only POST /api/v1/live (controller/live) makes these, the emergency API body cannot. */
export interface LiveContentInput { kind: 'live'; streamUrl: string; codec: 'opus' | 'mp3' }

/** A new order, as the API body gives it (already schema-checked), with the lifetime in ms. */
export interface SendInput {
  title: string;
  zones: readonly string[];
  devices?: readonly string[];
  content: ContentInput;
  repeat: number;
  volume?: number;
  startAt?: string;
  ttlMs: number;
}

export interface SendOptions {
  /** Typed by the operator (the zone's name or the preview code), or vouched for by a CAP alert. */
  confirmation: { by: 'typed'; text: string } | { by: 'cap' };
  /** Hold the order for a second person's approval even when it touches no approval zone. */
  hold?: boolean;
  /** The CAP alert the order is made from (stored with it). */
  cap?: CapOrigin;
  /** More details for the audit entry of the new order. */
  auditDetails?: Record<string, unknown>;
  /**
   * Called inside the transaction that would store the order: an order returned here is answered instead and
   * nothing new is stored (CAP idempotency, safe against two posts of the same alert at once).
   */
  existing?: () => EmergencyOrderRecord | null;
}

export interface SendResult {
  order: EmergencyOrderRecord;
  approvalRequired: boolean;
  /** Devices the broker took the signed order for (0 while it waits for approval). */
  published: number;
  progress?: EmergencyProgress;
  /** True when `existing` answered an order stored before. */
  duplicate?: true;
}

export interface StepResult {
  order: EmergencyOrderRecord;
  published: number;
  progress: EmergencyProgress;
}

export interface PreviewResult {
  targetedDevices: number;
  online: number;
  outsideKeyScope: number;
  zones: { id: string; name: string; level: string; pathNames: string[] }[];
  devices: { id: string; name: string; zoneId: string }[];
  confirmCode: string;
  confirmExpiresAt: string;
  confirmByName: string | null;
  approvalRequired: boolean;
}

/** What an order is made of, before it is signed (a stored order, or the body of a new one). */
type OrderParts = Pick<EmergencyOrderRecord, 'id' | 'title' | 'zones' | 'devices' | 'content' | 'repeat' | 'volume' | 'startAt'>;

export type EmergencyServiceContext = Pick<AppContext, 'config' | 'data' | 'clock' | 'log' | 'emergency' | 'tts'>;

/**
 * The send path of emergency orders (issue 6), shared by the API routes and CAP ingestion: targets and the
 * sender's scope, confirmation, the two-person rule, TTS rendering, one signature, storage and fan-out; approval
 * and cancel. Every step and every refusal is audited with the actor and address. Holds no state of its own.
 */
export class EmergencyService {
  constructor(private readonly ctx: EmergencyServiceContext) {}

  private audit(actor: Actor, e: Omit<AuditInput, 'actor' | 'ip'>): void {
    this.ctx.data.audit.add({ ...e, actor: actor.user.id, ip: actor.ip }, this.ctx.clock.now());
  }

  private refuse(actor: Actor, action: string, orderId: string | null, zoneId: string, details: Record<string, unknown>): void {
    this.audit(actor, { action: `emergency.${action}_refused`, targetType: 'emergency', targetId: orderId, zoneId, details });
  }

  /** 403, audited, unless the user may send to every target. */
  guardTargets(actor: Actor, t: TargetSet, action: string, orderId: string | null = null): void {
    const out = outOfScope(actor.user, 'emergency.send', t);
    if (out.zones.length + out.devices.length === 0) return;
    this.refuse(actor, action, orderId, t.owner.id, { code: 'LOA_ERR_FORBIDDEN', zones: out.zones, devices: out.devices.slice(0, 100) });
    throw new LoaError('LOA_ERR_FORBIDDEN', `${actor.user.username} may not send emergency orders to ${[...out.zones, ...out.devices].slice(0, 10).join(', ')}`, {
      details: { permission: 'emergency.send', zones: out.zones, devices: out.devices.slice(0, 100) },
    });
  }

  /** A stored order's targets, for approve and cancel: the user holds emergency.send over its zone, or over each target. */
  private guardStored(actor: Actor, o: EmergencyOrderRecord, action: string): TargetSet {
    const t = targetSetOf(this.ctx.data, o.zones, o.devices, true);
    const owner = this.ctx.data.zones.get(o.zoneId);
    if (!owner || !can(actor.user, 'emergency.send', owner.path)) this.guardTargets(actor, t, action, o.id);
    return t;
  }

  signerOrThrow(): EmergencySigner {
    const s = this.ctx.emergency.signer();
    if (!s) throw new LoaError('LOA_ERR_EMERGENCY_KEY_MISSING', `the controller has no emergency key: ${EMERGENCY_KEY_HINT}`);
    return s;
  }

  /** The live devices the order reaches now (LOA_ERR_EMERGENCY_NO_TARGETS), all inside the key's zone scope (LOA_ERR_EMERGENCY_SCOPE). */
  private resolveDevices(t: TargetSet, signer: EmergencySigner): string[] {
    const devices = this.ctx.data.emergency.resolveTargets(t.zones.map((z) => z.path), t.deviceIds);
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
  }

  /** Signs a start or cancel order with a fresh seq and nonce; call inside the transaction that stores it. */
  private sign(signer: EmergencySigner, o: OrderParts, action: 'start' | 'cancel', now: number, expiresAt: number): SignedOrderText {
    const seq = this.ctx.data.emergency.nextSeq(now);
    const order: EmergencyOrder = {
      _type: 'emergency', schemaVersion: 1, orderId: o.id, action, seq, nonce: newNonce(), issuedAt: iso(now), expiresAt: iso(expiresAt),
      target: { zones: [...o.zones], devices: [...o.devices] }, title: o.title, repeat: o.repeat, outputs: [],
      ...(o.volume !== null ? { volume: o.volume } : {}),
      ...(action === 'start' ? { content: o.content, ...(o.startAt !== null ? { startAt: iso(o.startAt) } : {}) } : {}),
    };
    return { seq, issuedAt: now, expiresAt, body: signer.sign(order) };
  }

  private async publish(o: EmergencyOrderRecord, signed: SignedOrderText, deviceIds: readonly string[]): Promise<number> {
    const r = await this.ctx.emergency.publish(deviceIds, signed.body);
    if (r.failed.length > 0) this.ctx.log.error({ code: 'LOA_ERR_INTERNAL', orderId: o.id, seq: signed.seq, failed: r.failed.length }, 'the broker refused the emergency order for some devices');
    this.ctx.log.warn({ orderId: o.id, seq: signed.seq, published: r.published, status: o.status }, 'emergency order published');
    return r.published;
  }

  /** The audio of a new order: a library file the user may read, or the text spoken now (stored as a media record in the transaction). */
  private async render(actor: Actor, b: SendInput, t: TargetSet): Promise<{ content: EmergencyContent; mediaId: string | null; newMedia: Omit<MediaRecord, 'id' | 'createdAt'> | null }> {
    if (b.content.kind === 'live') return { content: { kind: 'live', streamUrl: b.content.streamUrl, codec: b.content.codec }, mediaId: null, newMedia: null };
    if (b.content.kind === 'media') {
      const m = this.ctx.data.media.require(b.content.mediaId);
      authorize(actor.user, 'media.read', this.ctx.data.zones.require(m.zoneId).path);
      if (m.kind !== 'audio') throw new LoaError('LOA_ERR_MEDIA_KIND_MISMATCH', `media ${m.id} is ${m.kind === 'image' ? 'an image' : 'a video'}; an emergency order plays audio`, { details: { mediaId: m.id, kind: m.kind } });
      return { content: { kind: 'media', sha256: m.sha256, size: m.size, durationMs: m.durationMs, mime: m.mime }, mediaId: m.id, newMedia: null };
    }
    const r = await this.ctx.tts.speak(b.content.text, b.content.voice ? { voice: b.content.voice } : {});
    return {
      content: { kind: 'tts', text: b.content.text, sha256: r.sha256, size: r.size, durationMs: r.durationMs },
      mediaId: null,
      newMedia: {
        sha256: r.sha256, size: r.size, durationMs: r.durationMs, mime: DEVICE_FORMAT.mime, title: b.title, originalName: null, sourceSha256: null, loudnessLufs: null, kind: 'audio', width: null, height: null,
        zoneId: t.owner.id, createdBy: actor.user.id,
      },
    };
  }

  /** Where an order would go, with a 6-digit confirmation code for this user and these targets. */
  preview(actor: Actor, targets: { zones: readonly string[]; devices?: readonly string[] }): PreviewResult {
    const { data, clock } = this.ctx;
    const repo = data.emergency;
    const user = actor.user;
    const t = targetSetOf(data, targets.zones, targets.devices ?? []);
    this.guardTargets(actor, t, 'preview');
    const signer = this.signerOrThrow();
    const devices = repo.resolveTargets(t.zones.map((z) => z.path), t.deviceIds);
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const now = clock.now();
    data.tx(() => {
      repo.putConfirmation(user.id, t.hash, confirmCodeHash(user.id, t.hash, code), now + CONFIRM_TTL_MS, now);
      this.audit(actor, { action: 'emergency.preview', targetType: 'emergency', zoneId: t.owner.id, details: { zones: t.zoneIds, devices: t.deviceIds.length, targeted: devices.length } });
    });
    return {
      targetedDevices: devices.length,
      online: devices.filter((d) => d.online).length,
      outsideKeyScope: devices.filter((d) => !inKeyScope(signer.zones, d.path)).length,
      zones: t.zones.map((z) => ({ id: z.id, name: z.name, level: z.level, pathNames: pathNames(data, z) })),
      devices: t.devices.map((d) => ({ id: d.device.id, name: d.device.name, zoneId: d.device.zoneId })),
      confirmCode: code,
      confirmExpiresAt: iso(now + CONFIRM_TTL_MS),
      confirmByName: t.zones.length === 1 ? t.zones[0]!.name : null,
      approvalRequired: touchesApproval(data, this.ctx.config.emergency.approvalZones, t),
    };
  }

  /**
   * A new order: signed and published at once, or held for a second person's approval (two-person rule, or
   * `hold`). Refusals that cost nothing (scope, key, confirmation, start time, targets) come before the slow
   * speech synthesis.
   */
  async send(actor: Actor, b: SendInput, opts: SendOptions): Promise<SendResult> {
    const { data, clock } = this.ctx;
    const repo = data.emergency;
    const user = actor.user;
    const t = targetSetOf(data, b.zones, b.devices ?? []);
    this.guardTargets(actor, t, 'send');
    const signer = this.signerOrThrow();
    const now = clock.now();
    let confirmedBy: 'zone_name' | 'code' | 'cap' | null = 'cap';
    if (opts.confirmation.by === 'typed') {
      const typed = opts.confirmation.text;
      const code = typed.trim();
      confirmedBy = t.zones.length === 1 && sameName(typed, t.zones[0]!.name) ? 'zone_name'
        : /^\d{6}$/.test(code) && repo.hasConfirmation(user.id, t.hash, confirmCodeHash(user.id, t.hash, code), now) ? 'code' : null;
    }
    if (!confirmedBy) {
      this.refuse(actor, 'send', null, t.owner.id, { code: 'LOA_ERR_EMERGENCY_CONFIRM', zones: t.zoneIds, devices: t.deviceIds.length });
      throw new LoaError('LOA_ERR_EMERGENCY_CONFIRM', t.zones.length === 1
        ? `type the zone's name ("${t.zones[0]!.name}") or the code from POST /api/v1/emergency/preview to confirm`
        : 'type the code from POST /api/v1/emergency/preview (for these targets, within 5 minutes) to confirm');
    }
    const ttlMs = b.ttlMs;
    const startAt = b.startAt === undefined ? null : Date.parse(b.startAt);
    if (startAt !== null && (startAt >= now + ttlMs || startAt < now - 60_000)) {
      throw new LoaError('LOA_ERR_SCHEMA', `startAt must lie between now and the order's expiry (${iso(now + ttlMs)})`, { details: { startAt: b.startAt } });
    }
    const pending = opts.hold === true || touchesApproval(data, this.ctx.config.emergency.approvalZones, t);
    const deviceIds = pending ? [] : this.resolveDevices(t, signer);
    const audio = await this.render(actor, b, t);
    const at = clock.now();
    // An order made from a CAP alert never outlives the alert (the synthesis above took some of its TTL).
    const expiresAt = Math.min(at + ttlMs, opts.cap?.expiresAt ?? Number.POSITIVE_INFINITY);
    if (expiresAt <= at) throw new LoaError('LOA_ERR_EMERGENCY_EXPIRED', `the alert expired (${iso(expiresAt)}) while its text was being spoken`);
    const stored = data.tx(() => {
      const existing = opts.existing?.();
      if (existing) return { order: existing, signed: undefined, duplicate: true as const };
      const mediaId = audio.newMedia ? data.media.create({ ...audio.newMedia, id: newId('med') }, at).id : audio.mediaId;
      const parts: OrderParts = { id: newId('emg'), title: b.title, zones: t.zoneIds, devices: t.deviceIds, content: audio.content, repeat: b.repeat, volume: b.volume ?? null, startAt };
      const s = pending ? undefined : this.sign(signer, parts, 'start', at, expiresAt);
      const o = repo.create({ ...parts, zoneId: t.owner.id, mediaId, ttlMs, expiresAt, createdBy: user.id, cap: opts.cap ?? null }, at, s ? { signed: s, deviceIds } : undefined);
      if (confirmedBy === 'code') repo.dropConfirmation(user.id, t.hash);
      this.audit(actor, {
        action: pending ? 'emergency.create' : 'emergency.send', targetType: 'emergency', targetId: o.id, zoneId: o.zoneId,
        details: {
          title: o.title, status: o.status, zones: o.zones, devices: o.devices.length, content: { kind: o.content.kind, sha256: audio.content.kind === 'live' ? null : audio.content.sha256, mediaId },
          repeat: o.repeat, volume: o.volume, startAt: b.startAt ?? null, ttlMinutes: ttlMs / 60_000, confirmedBy, seq: s?.seq ?? null, targeted: deviceIds.length,
          ...opts.auditDetails,
        },
      });
      return { order: o, signed: s, duplicate: false as const };
    });
    if (stored.duplicate) return { order: stored.order, approvalRequired: stored.order.status === 'pending_approval', published: 0, duplicate: true };
    const { order, signed } = stored;
    if (!signed) return { order, approvalRequired: true, published: 0 };
    const published = await this.publish(order, signed, deviceIds);
    return { order, approvalRequired: false, published, progress: repo.progress(order.id) };
  }

  /**
   * Approves an order held by the two-person rule: another user than its author, with emergency.send over its
   * targets. It is signed and sent now, for its TTL (an order made from a CAP alert never past the alert's expiry).
   */
  async approve(actor: Actor, id: string): Promise<StepResult> {
    const { data, clock } = this.ctx;
    const repo = data.emergency;
    const now = clock.now();
    repo.expireDue(now);
    const o = repo.require(id);
    const t = this.guardStored(actor, o, 'approve');
    if (o.status !== 'pending_approval') throw new LoaError('LOA_ERR_EMERGENCY_STATE', `the order is ${o.status}; only an order pending approval can be approved`, { details: { status: o.status } });
    if (o.createdBy === actor.user.id) {
      this.refuse(actor, 'approve', o.id, o.zoneId, { code: 'LOA_ERR_EMERGENCY_SAME_APPROVER' });
      throw new LoaError('LOA_ERR_EMERGENCY_SAME_APPROVER', 'you wrote this order; another user with the right to send emergency orders here must approve it');
    }
    const signer = this.signerOrThrow();
    const deviceIds = this.resolveDevices(t, signer);
    const expiresAt = Math.min(now + o.ttlMs, o.cap?.expiresAt ?? Number.POSITIVE_INFINITY);
    const { order, signed } = data.tx(() => {
      const s = this.sign(signer, o, 'start', now, expiresAt);
      const approved = repo.approve(id, actor.user.id, s, deviceIds, now);
      this.audit(actor, {
        action: 'emergency.approve', targetType: 'emergency', targetId: id, zoneId: o.zoneId,
        details: { createdBy: o.createdBy, seq: s.seq, targeted: deviceIds.length, ...(o.cap ? { cap: { identifier: o.cap.identifier, sender: o.cap.sender } } : {}) },
      });
      return { order: approved, signed: s };
    });
    const published = await this.publish(order, signed, deviceIds);
    return { order, published, progress: repo.progress(id) };
  }

  /**
   * Cancels an order: a signed cancel (new seq and nonce, same order id and targets) to the devices the order
   * went to; an order waiting for approval is simply dropped.
   */
  async cancel(actor: Actor, id: string, auditDetails: Record<string, unknown> = {}): Promise<StepResult> {
    const { data, clock } = this.ctx;
    const repo = data.emergency;
    const now = clock.now();
    repo.expireDue(now);
    const o = repo.require(id);
    this.guardStored(actor, o, 'cancel');
    if (o.status !== 'active' && o.status !== 'pending_approval') throw new LoaError('LOA_ERR_EMERGENCY_STATE', `the order is ${o.status} already`, { details: { status: o.status } });
    if (o.status === 'pending_approval') {
      const order = data.tx(() => {
        const c = repo.cancel(id, actor.user.id, now);
        this.audit(actor, { action: 'emergency.cancel', targetType: 'emergency', targetId: id, zoneId: o.zoneId, details: { from: 'pending_approval', ...auditDetails } });
        return c;
      });
      return { order, published: 0, progress: repo.progress(id) };
    }
    const signer = this.signerOrThrow();
    const deviceIds = repo.targetIds(id);
    const { order, signed } = data.tx(() => {
      const s = this.sign(signer, o, 'cancel', now, o.expiresAt);
      const c = repo.cancel(id, actor.user.id, now, s);
      this.audit(actor, { action: 'emergency.cancel', targetType: 'emergency', targetId: id, zoneId: o.zoneId, details: { from: 'active', seq: s.seq, targeted: deviceIds.length, ...auditDetails } });
      return { order: c, signed: s };
    });
    const published = await this.publish(order, signed, deviceIds);
    return { order, published, progress: repo.progress(id) };
  }
}
