import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { EMERGENCY_MAX_BYTES, type EmergencyAck, type EmergencyOrder, type SignedEmergencyOrder } from '../../shared/schemas/emergency.js';
import { claimedIds } from '../../shared/signed-message.js';
import type { MediaEntry } from '../../shared/schemas/manifest.js';
import { PRIORITY_RANK } from '../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import type { Occurrence, TimelineItem } from '../../shared/timeline.js';
import type { Outbox } from '../store/outbox.js';
import type { EmergencyStore } from './store.js';
import { verifyEmergencyOrder } from './verify.js';

export interface EmergencyScheduler {
  addAdhoc(occ: Occurrence): void;
  cancelAdhoc(key: string): Promise<boolean>;
}

export interface EmergencyHandlerOptions {
  deviceId: string;
  store: EmergencyStore;
  outbox: Outbox;
  scheduler: EmergencyScheduler;
  /** The trust root in force (null before provisioning: every order is refused). */
  root: () => RootMetadata | null;
  /** This device's zone chain, from its signed manifest. */
  zones: () => readonly string[];
  media: { has(sha256: string, size?: number): boolean };
  /** Downloads a file into the media store (from sync); absent when offline-only. */
  fetchMedia?: (entry: MediaEntry, signal: AbortSignal) => Promise<void>;
  clock: Clock;
  log: Logger;
}

const PREFIX = 'emergency:';

/**
 * Emergency orders on the device (DESIGN §2): verify, remember against replay, acknowledge through the
 * durable outbox (received, started, finished, failed, rejected, cancelled), fetch the audio if needed, and
 * hand the order to the scheduler as a one-off occurrence at emergency rank, which preempts whatever plays
 * (the interrupted program resumes afterwards). Orders survive an agent restart until they expire.
 */
export class EmergencyHandler {
  private readonly ctl = new AbortController();
  /** orderId → the occurrence key and seq of its start order. */
  private readonly active = new Map<string, { key: string; seq: number }>();

  constructor(private readonly o: EmergencyHandlerOptions) {}

  /** Re-queues orders accepted before a restart (not expired, not cancelled). */
  restore(): void {
    const now = this.o.clock.now();
    this.o.store.prune(now);
    for (const { env, receivedAt } of this.o.store.activeStarts(now)) void this.schedule(env.signed, receivedAt);
  }

  stop(): void {
    this.ctl.abort();
  }

  /** Sha256s that active orders need (kept by the media garbage collector). */
  activeMedia(): string[] {
    const now = this.o.clock.now();
    return this.o.store.activeStarts(now).flatMap(({ env }) => (env.signed.content && env.signed.content.kind !== 'live' ? [env.signed.content.sha256] : []));
  }

  /** An order from MQTT (or any other channel). Never throws: refusals are logged and acknowledged. */
  async receive(input: unknown): Promise<'accepted' | 'rejected'> {
    const now = this.o.clock.now();
    const root = this.o.root();
    let env: SignedEmergencyOrder;
    try {
      if (!root) throw new LoaError('LOA_ERR_EMERGENCY_SIGNATURE', 'this device has no trust root yet');
      env = verifyEmergencyOrder(input, { root, deviceId: this.o.deviceId, zones: this.o.zones(), now, seen: (n, s) => this.o.store.seen(n, s) });
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_EMERGENCY_INVALID');
      const claimed = claimedOrder(input);
      this.o.log.warn({ code: err.code, orderId: claimed?.orderId, seq: claimed?.seq }, `emergency order refused: ${err.message}`);
      if (claimed) this.ack(claimed, 'rejected', { code: err.code, reason: err.message.slice(0, 500), dedupe: `${claimed.seq}:${err.code}` });
      return 'rejected';
    }
    const o = env.signed;
    this.o.store.record(env, now);
    this.ack(o, 'received');
    this.o.log.warn({ orderId: o.orderId, seq: o.seq, action: o.action, title: o.title }, 'emergency order accepted');
    if (o.action === 'cancel') await this.cancel(o);
    else await this.schedule(o, now);
    return 'accepted';
  }

  /** Scheduler hook: turns plays of emergency occurrences into acks. */
  onPlay(occ: Occurrence, phase: 'start' | 'end' | 'skip', detail?: string): void {
    if (!occ.entryId.startsWith(PREFIX)) return;
    const orderId = occ.entryId.slice(PREFIX.length);
    const ref = { orderId, seq: this.active.get(orderId)?.seq ?? 1 };
    if (phase === 'start') this.ack(ref, 'started');
    else if (phase === 'end' && detail === 'completed') this.ack(ref, 'finished');
    else if (phase === 'end' && detail === 'failed') this.ack(ref, 'failed', { code: 'LOA_ERR_PLAYER_FAILED', reason: 'the audio could not be played' });
    else if (phase === 'skip' && detail !== 'cancelled') this.ack(ref, 'failed', { code: 'LOA_ERR_EMERGENCY_EXPIRED', reason: `skipped: ${detail ?? 'unknown'}` });
  }

  /** `receivedAt` fixes the occurrence (and so its proof-of-play) across restarts: a finished order never plays twice. */
  private async schedule(o: EmergencyOrder, receivedAt: number): Promise<void> {
    const c = o.content;
    if (!c) return;
    try {
      if (c.kind !== 'live' && !this.o.media.has(c.sha256, c.size)) {
        if (!this.o.fetchMedia) throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `the order's audio ${c.sha256.slice(0, 12)}… is not on this device and it has no controller to fetch it from`);
        const signal = AbortSignal.any([this.ctl.signal, AbortSignal.timeout(Math.max(1000, Date.parse(o.expiresAt) - this.o.clock.now()))]);
        await this.o.fetchMedia({ sha256: c.sha256, size: c.size, durationMs: c.durationMs, url: `/media/${c.sha256}`, ...(c.kind === 'media' && c.mime ? { mime: c.mime } : {}) }, signal);
      }
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_SYNC_DOWNLOAD');
      this.o.log.error({ code: err.code, orderId: o.orderId }, `emergency audio not available: ${err.message}`);
      this.ack(o, 'failed', { code: err.code, reason: err.message.slice(0, 500) });
      return;
    }
    if (this.o.store.isCancelled(o.orderId)) return;
    const occ = occurrenceOf(o, receivedAt);
    this.active.set(o.orderId, { key: occ.key, seq: o.seq });
    this.o.scheduler.addAdhoc(occ);
  }

  private async cancel(o: EmergencyOrder): Promise<void> {
    const key = this.active.get(o.orderId)?.key;
    const stopped = key ? await this.o.scheduler.cancelAdhoc(key) : false;
    this.ack(o, 'cancelled', stopped ? {} : { reason: 'nothing was playing or queued for this order' });
  }

  private ack(o: Pick<EmergencyOrder, 'orderId' | 'seq'>, state: EmergencyAck['state'], extra: { code?: string; reason?: string; dedupe?: string } = {}): void {
    const now = this.o.clock.now();
    const data: EmergencyAck = {
      orderId: o.orderId, seq: o.seq, state, at: new Date(now).toISOString(),
      ...(extra.code ? { code: extra.code } : {}), ...(extra.reason ? { reason: extra.reason } : {}),
    };
    this.o.outbox.add('emergency.ack', `emergency:${o.orderId}:${o.seq}:${state}${extra.dedupe ? `:${extra.dedupe}` : ''}`, now, data);
  }
}

/** The order as a one-off occurrence: its audio `repeat` times, at emergency rank, at once (or at startAt), until it expires. */
export function occurrenceOf(o: EmergencyOrder, receivedAt: number): Occurrence {
  const c = o.content!;
  const start = o.startAt ? Date.parse(o.startAt) : receivedAt;
  const now = receivedAt;
  const expires = Date.parse(o.expiresAt);
  const items: TimelineItem[] = c.kind === 'live'
    ? [{ kind: 'stream', ref: c.streamUrl, durationMs: Math.max(1000, expires - Math.max(start, now)) }]
    : Array.from({ length: o.repeat }, () => ({ kind: 'media' as const, ref: c.sha256, durationMs: c.durationMs }));
  const durationMs = items.reduce((a, i) => a + i.durationMs, 0);
  return {
    key: `${PREFIX}${o.orderId}@${new Date(start).toISOString()}`, entryId: `${PREFIX}${o.orderId}`, programId: `${PREFIX}${o.orderId}`,
    start, durationMs, priority: 'emergency', rank: PRIORITY_RANK.emergency, volume: o.volume ?? 100, outputs: o.outputs,
    // A live stream runs until the order expires, so it has no slack after it: it may start (late) any time before then.
    onPreempt: 'restart', maxDelayMs: c.kind === 'live' ? Math.max(0, durationMs - 1000) : Math.max(0, expires - start - durationMs), items,
    // Boards show the order full screen while it plays: the spoken text of a TTS order, else its title alone.
    alert: { title: o.title, ...(c.kind === 'tts' ? { text: c.text } : {}) },
  };
}

/** orderId and seq as the input claims them, for the refusal ack (only when they look like ids). */
function claimedOrder(input: unknown): { orderId: string; seq: number } | null {
  const c = claimedIds(input, 'orderId', EMERGENCY_MAX_BYTES);
  return c ? { orderId: c.id, seq: c.seq } : null;
}
