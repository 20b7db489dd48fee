import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { EmergencyOrderRecord } from '../data/emergency.js';
import { newId } from '../data/ids.js';
import type { Actor, EmergencyService, SendResult } from '../emergency/service.js';
import { CODEC_FORMAT, type LiveCodec } from './encoder.js';
import { LiveSession, type WebRtc } from './session.js';

export interface LiveStartInput {
  title: string;
  zones: readonly string[];
  devices?: readonly string[];
  codec: LiveCodec;
  ttlMs: number;
  volume?: number;
  confirm: string;
}

export interface LiveEntry {
  session: LiveSession;
  orderId: string;
  zoneId: string;
  /** Who started it: an end without a request (hang-up, no microphone in time) cancels the order as them. */
  actor: Actor;
  keyHash: Buffer;
  createdAt: number;
}

export interface LiveManagerOptions {
  service: Pick<EmergencyService, 'send' | 'cancel'>;
  orderOf: (id: string) => EmergencyOrderRecord | null;
  /** The controller's public base URL (what devices use). */
  baseUrl: () => string;
  log: Logger;
  now?: () => number;
  webrtc?: () => WebRtc;
  ffmpeg?: string;
  /** A session that has no microphone this long after it was made ends (and its order is cancelled). Default 120 s. */
  offerTimeoutMs?: number;
  /** How often the orders of running sessions are checked for cancel or expiry. Default 1000 ms. */
  watchMs?: number;
}

const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The live sessions of this controller (issue 6): each one is an emergency order with content
 * `{kind: 'live', streamUrl}` sent through the emergency send path, and a LiveSession that feeds the stream.
 * A session ends when its order is cancelled or expires, when the operator ends it or hangs up, or when no
 * microphone connects in time; ending it by itself (hang-up, timeout) cancels its order as the operator.
 */
export class LiveManager {
  private readonly o: LiveManagerOptions;
  private readonly sessions = new Map<string, LiveEntry>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: LiveManagerOptions) {
    this.o = options;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  get(id: string): LiveEntry | null {
    return this.sessions.get(id) ?? null;
  }

  /** The session, or 404. */
  require(id: string): LiveEntry {
    const e = this.sessions.get(id);
    if (!e) throw new LoaError('LOA_ERR_NOT_FOUND', `no live session ${id} (it may have ended)`);
    return e;
  }

  /** True when `key` is the session's stream key (constant time). */
  keyMatches(e: LiveEntry, key: string): boolean {
    return timingSafeEqual(e.keyHash, sha(key));
  }

  /** Makes the session and sends its order (scope, confirmation, signing, fan-out, audit: the emergency send path). */
  async start(actor: Actor, b: LiveStartInput): Promise<{ sessionId: string; send: SendResult }> {
    const id = newId('liv');
    const key = randomBytes(24).toString('base64url');
    // The key travels as the URL's password: devices send it as HTTP Basic auth, and every URL logged goes through
    // redactUrl, which drops credentials. It is only ever in the signed order, sent to the targeted devices' topics.
    const base = new URL(`${this.o.baseUrl()}/live/${id}.${CODEC_FORMAT[b.codec].ext}`);
    base.username = 'live';
    base.password = key;
    const streamUrl = base.href;
    const session = new LiveSession({
      id, codec: b.codec, log: this.o.log, ...(this.o.webrtc ? { webrtc: this.o.webrtc } : {}), ...(this.o.ffmpeg ? { ffmpeg: this.o.ffmpeg } : {}),
      ...(this.o.now ? { now: this.o.now } : {}),
    });
    const send = await this.o.service.send(actor, {
      title: b.title, zones: b.zones, ...(b.devices ? { devices: b.devices } : {}), content: { kind: 'live', streamUrl, codec: b.codec }, repeat: 1,
      ...(b.volume !== undefined ? { volume: b.volume } : {}), ttlMs: b.ttlMs,
    }, { confirmation: { by: 'typed', text: b.confirm }, auditDetails: { live: { session: id, codec: b.codec } } });
    const entry: LiveEntry = { session, orderId: send.order.id, zoneId: send.order.zoneId, actor, keyHash: sha(key), createdAt: this.now() };
    this.sessions.set(id, entry);
    session.o.onEnd = (reason) => this.ended(id, reason);
    this.ensureWatch();
    this.o.log.info({ session: id, orderId: send.order.id, codec: b.codec, status: send.order.status }, 'live session created');
    return { sessionId: id, send };
  }

  /** Ends a session at the operator's request and cancels its order as `actor`; resolves when ffmpeg is gone. */
  async end(id: string, actor: Actor): Promise<{ order: EmergencyOrderRecord | null }> {
    const e = this.require(id);
    e.actor = actor;
    await e.session.end('ended by the operator');
    return { order: this.o.orderOf(e.orderId) };
  }

  /** Ends every session (controller shutdown), without cancelling orders: they expire, or are cancelled by hand. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((e) => e.session.end('the controller is stopping')));
  }

  /** Checks the orders of running sessions (cancelled or expired ends the session) and the microphone timeout. */
  check(): void {
    const now = this.now();
    for (const [id, e] of this.sessions) {
      const order = this.o.orderOf(e.orderId);
      if (!order || order.status === 'cancelled' || order.status === 'expired' || order.expiresAt <= now) {
        void e.session.end(order ? `the order is ${order.status === 'active' ? 'expired' : order.status}` : 'the order is gone');
      } else if (e.session.state === 'waiting' && now - e.createdAt > (this.o.offerTimeoutMs ?? 120_000)) {
        void e.session.end('no microphone connected in time');
      }
      if (e.session.state === 'ended') this.sessions.delete(id);
    }
  }

  private ensureWatch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.o.watchMs ?? 1000);
    this.timer.unref();
  }

  /** After a session ended for any reason: forget it, and cancel its order if it is still in force. */
  private ended(id: string, reason: string): void {
    const e = this.sessions.get(id);
    this.sessions.delete(id);
    if (!e) return;
    const order = this.o.orderOf(e.orderId);
    if (!order || (order.status !== 'active' && order.status !== 'pending_approval')) return;
    this.o.service.cancel(e.actor, e.orderId, { live: { session: id, reason } }).then(
      () => this.o.log.info({ session: id, orderId: e.orderId }, 'live order cancelled with its session'),
      (err: unknown) => this.o.log.error({ code: (err as { code?: string }).code ?? 'LOA_ERR_INTERNAL', session: id, orderId: e.orderId, message: (err as Error).message }, 'the live order could not be cancelled; it ends at its expiry'),
    );
  }
}
