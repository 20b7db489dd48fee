import type { Logger } from '../../shared/log.js';
import type { DeviceEvent } from '../../shared/schemas/events.js';

/** The event names of the live stream (contract A). */
export const STREAM_EVENTS = ['device.status', 'device.event', 'emergency.progress'] as const;
export type StreamEventName = (typeof STREAM_EVENTS)[number];

export interface ProgressCounts { targeted: number; received: number; playing: number; finished: number; failed: number; offline: number }

/** One event on the hub: its name, the zone path it belongs to (for scoping) and its data (contract A). */
export type HubEvent =
  | { event: 'device.status'; zonePath: string; data: { deviceId: string; zoneId: string; online: boolean; at: string } }
  | { event: 'device.event'; zonePath: string; data: { deviceId: string; zoneId: string; type: string; seq: number; at: string; data: Record<string, unknown> } }
  | { event: 'emergency.progress'; zonePath: string; data: { orderId: string; counts: ProgressCounts } };

export interface EventHubOptions {
  /** The zone of a device (id and materialised path), or null for an unknown device. */
  zoneOf: (deviceId: string) => { zoneId: string; path: string } | null;
  /** The zone path and the counts of an emergency order, or null for an unknown order. */
  progressOf: (orderId: string) => { zonePath: string; counts: ProgressCounts } | null;
  log: Logger;
  /** Progress of one order is published at most this often (acks of a fan-out come in thousands). Default 500 ms. */
  progressEveryMs?: number;
}

export interface HubSubscriber {
  /** Called for every event; must not throw and must not block. */
  send(e: HubEvent): void;
  /** Ends the subscriber's connection (controller shutdown). */
  close(): void;
}

/**
 * The in-process hub behind the live event stream (contract A): telemetry ingest reports device statuses and
 * stored events after each commit, and acks of emergency orders become throttled progress counts. It does
 * nothing (not even a zone lookup) while nobody listens.
 */
export class EventHub {
  private readonly subs = new Set<HubSubscriber>();
  private readonly pendingProgress = new Set<string>();
  private progressTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: EventHubOptions) {}

  get listeners(): number {
    return this.subs.size;
  }

  subscribe(s: HubSubscriber): () => void {
    this.subs.add(s);
    return () => { this.subs.delete(s); };
  }

  /** A device came online or went offline (its retained status message). */
  deviceStatus(deviceId: string, online: boolean, atMs: number): void {
    if (this.subs.size === 0) return;
    const z = this.o.zoneOf(deviceId);
    if (!z) return;
    this.emit({ event: 'device.status', zonePath: z.path, data: { deviceId, zoneId: z.zoneId, online, at: new Date(atMs).toISOString() } });
  }

  /** A newly stored device event (proof-of-play, acks, errors …); an emergency ack also updates the order's progress. */
  deviceEvent(e: DeviceEvent): void {
    if (this.subs.size === 0) return;
    const z = this.o.zoneOf(e.deviceId);
    if (!z) return;
    this.emit({ event: 'device.event', zonePath: z.path, data: { deviceId: e.deviceId, zoneId: z.zoneId, type: e.type, seq: e.seq, at: new Date(e.at).toISOString(), data: e.data } });
    if (e.type === 'emergency.ack' && typeof e.data.orderId === 'string') this.progressChanged(e.data.orderId);
  }

  /** An order's counts changed: published once the throttle window closes. */
  progressChanged(orderId: string): void {
    if (this.subs.size === 0) return;
    this.pendingProgress.add(orderId);
    this.progressTimer ??= setTimeout(() => this.flushProgress(), this.o.progressEveryMs ?? 500);
  }

  private flushProgress(): void {
    this.progressTimer = null;
    const ids = [...this.pendingProgress];
    this.pendingProgress.clear();
    for (const orderId of ids) {
      try {
        const p = this.o.progressOf(orderId);
        if (p) this.emit({ event: 'emergency.progress', zonePath: p.zonePath, data: { orderId, counts: p.counts } });
      } catch (err) {
        this.o.log.error({ code: 'LOA_ERR_INTERNAL', orderId, err: (err as Error).message }, 'emergency progress for the event stream failed');
      }
    }
  }

  private emit(e: HubEvent): void {
    for (const s of this.subs) s.send(e);
  }

  /** Ends every subscriber (before the HTTP server closes, so that open streams do not hold it up). */
  stop(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = null;
    this.pendingProgress.clear();
    for (const s of [...this.subs]) s.close();
    this.subs.clear();
  }
}
