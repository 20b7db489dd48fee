import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AbortError, SystemClock, type Clock } from '../../shared/clock.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { CommandAck } from '../../shared/schemas/command.js';
import { EmergencyAck } from '../../shared/schemas/emergency.js';
import type { DeviceEvent } from '../../shared/schemas/events.js';
import { UpdateStateData } from '../../shared/schemas/release.js';
import { topics } from '../../shared/topics.js';
import { checker } from '../../shared/validate.js';
import type { Bus, Unsubscribe } from '../broker/bus.js';
import type { AckFold } from '../data/emergency.js';
import type { StateMerge, TelemetryRepo } from '../data/telemetry.js';
import { decodeUp, type IngestItem, type Problem } from './decode.js';
import { EventAcks } from './event-acks.js';
import { playFoldOf } from './plays.js';

export interface TelemetryIngestOptions {
  bus: Bus;
  repo: TelemetryRepo;
  clock?: Clock;
  log?: Logger;
  /** Metrics go here when given (never the global default registry). */
  registry?: Registry;
  /** Flush at most this long after the first queued message. Default 50 ms. */
  flushIntervalMs?: number;
  /** Flush at once when this many items are queued; also the most written in one transaction. Default 2000. */
  batchSize?: number;
  /** Items beyond this are dropped (and counted) until the database catches up. Default 100,000. */
  maxQueue?: number;
  /** Default 256 KiB. */
  maxPayloadBytes?: number;
  /** Default 1000. */
  maxEventsPerMessage?: number;
  /** Called after commit for each newly stored event (never for resends), e.g. to react to `manifest.accepted`. */
  onEvent?: (event: DeviceEvent, receivedAt: number) => void;
  /** Called after commit for each stored device status (online/offline), e.g. for the live event stream (issue 9). */
  onStatus?: (deviceId: string, online: boolean, at: number) => void;
  /** Where `emergency.ack` events are folded, in the same transaction (issue 6). */
  acks?: { foldAck(deviceId: string, ack: EmergencyAck, receivedAt: number): AckFold };
  /** Where `command.ack` events are folded, in the same transaction (issue 7, device commands). */
  commandAcks?: { foldAck(deviceId: string, ack: CommandAck, receivedAt: number): string };
  /** Where `update.state` events and the statuses' agentVersion are folded, in the same transaction (issue 11). */
  updates?: { foldUpdate(deviceId: string, s: UpdateStateData, receivedAt: number): string; setAgentVersion(deviceId: string, version: string): void };
}

export interface FlushStats {
  items: number;
  stored: number;
  duplicates: number;
  unknownDevice: number;
  failed: number;
  ms: number;
}

/** Running totals since start (items: one status, telemetry sample or event each). */
export interface IngestCounters {
  messages: number;
  stored: number;
  duplicates: number;
  malformed: number;
  mismatched: number;
  unknownDevice: number;
  dropped: number;
  failed: number;
  /** Emergency acks folded into their order's progress. */
  acksStored: number;
  /** Emergency acks not folded: malformed data, an unknown order, or a device the order did not target. */
  acksIgnored: number;
}

type Result = 'stored' | 'duplicate' | 'out_of_order' | 'malformed' | 'mismatched' | 'unknown_device' | 'dropped' | 'failed';
const ackCheck = checker(EmergencyAck, 'LOA_ERR_MQTT_PAYLOAD');
const commandAckCheck = checker(CommandAck, 'LOA_ERR_MQTT_PAYLOAD');
const updateCheck = checker(UpdateStateData, 'LOA_ERR_MQTT_PAYLOAD');
const KIND_LABEL = { status: 'status', telemetry: 'telemetry', event: 'events' } as const;
interface Fresh {
  event: DeviceEvent;
  receivedAt: number;
}
interface FreshStatus {
  deviceId: string;
  online: boolean;
  at: number;
}

/** Counts per kind|result within one flush, added to the metric only once the flush has committed. */
function bump(tally: Map<string, number>, kind: IngestItem['kind'], result: Result): void {
  const k = `${KIND_LABEL[kind]}|${result}`;
  tally.set(k, (tally.get(k) ?? 0) + 1);
}

/** At most `max` log lines per window; the rest are counted and summarised in the next line. */
class LogThrottle {
  private windowStart = 0;
  private count = 0;
  suppressed = 0;
  constructor(private readonly windowMs = 10_000, private readonly max = 20) {}
  allow(now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    if (this.count++ < this.max) return true;
    this.suppressed++;
    return false;
  }
}

/**
 * Telemetry ingest (DESIGN §3/§5): subscribes to every device's `up/` topics through the Bus, validates each
 * message, and writes in batches, one transaction per flush, into telemetry, device_events (once per
 * (device, seq)), plays (folded from play events), emergency acks (issue 6) and device_state. Bad input is
 * counted and logged with LOA_ERR_MQTT_PAYLOAD and never stops it; messages from unknown devices are dropped
 * and counted.
 */
export class TelemetryIngest {
  readonly counters: IngestCounters = { messages: 0, stored: 0, duplicates: 0, malformed: 0, mismatched: 0, unknownDevice: 0, dropped: 0, failed: 0, acksStored: 0, acksIgnored: 0 };
  private queue: IngestItem[] = [];
  private unsubscribe: Unsubscribe | null = null;
  private abort = new AbortController();
  private timerPending = false;
  private immediate: NodeJS.Immediate | null = null;
  private flushing = false;
  private readonly listeners = new Set<(s: FlushStats) => void>();
  private readonly throttle = new LogThrottle();
  private eventAcks: EventAcks | null = null;
  private metrics: { items: Counter<'kind' | 'result'>; acks: Counter<'result'>; commandAcks: Counter<'result'>; flush: Histogram; queue: Gauge } | null = null;

  constructor(private readonly options: TelemetryIngestOptions) {}

  private get log(): Logger {
    return (this.options.log ??= createLogger('ingest'));
  }

  private get clock(): Clock {
    return (this.options.clock ??= new SystemClock());
  }

  /** Items waiting for the next flush. */
  get pending(): number {
    return this.queue.length;
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.abort = new AbortController();
    const r = this.options.registry;
    if (r && !this.metrics) {
      this.metrics = {
        items: new Counter({ name: 'loa_ingest_items_total', help: 'Device statuses, telemetry samples and events seen by ingest, by kind and result', labelNames: ['kind', 'result'], registers: [r] }),
        acks: new Counter({ name: 'loa_ingest_emergency_acks_total', help: 'Emergency acks by result: stored, malformed, unknown_order, not_targeted', labelNames: ['result'], registers: [r] }),
        commandAcks: new Counter({ name: 'loa_ingest_command_acks_total', help: 'Device command acks by result: stored, malformed, unknown_command, wrong_device, stale', labelNames: ['result'], registers: [r] }),
        flush: new Histogram({ name: 'loa_ingest_flush_seconds', help: 'Time to write one batch', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [r] }),
        queue: new Gauge({ name: 'loa_ingest_queue_items', help: 'Items waiting for the next flush', registers: [r] }),
      };
    }
    this.eventAcks ??= new EventAcks({ bus: this.options.bus, log: this.log, now: () => this.clock.now() });
    this.unsubscribe = await this.options.bus.subscribe(topics.allUp, (topic, payload) => this.receive(topic, payload));
  }

  /** Unsubscribes, then writes everything still queued. */
  async stop(): Promise<void> {
    const unsub = this.unsubscribe;
    this.unsubscribe = null;
    if (unsub) await unsub();
    this.abort.abort();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    for (let i = 0; i < 1000 && this.queue.length > 0; i++) this.flush();
  }

  /** Calls `fn` after every flush; returns a function that removes it. */
  onFlush(fn: (s: FlushStats) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Handles one MQTT message (the Bus calls this). Never throws. */
  receive(topic: string, payload: Buffer): void {
    this.counters.messages++;
    const receivedAt = this.clock.now();
    const d = decodeUp(topic, payload, receivedAt, { maxPayloadBytes: this.options.maxPayloadBytes ?? 256 * 1024, maxEventsPerMessage: this.options.maxEventsPerMessage ?? 1000 });
    for (const p of d.problems) this.problem(p, receivedAt);
    const max = this.options.maxQueue ?? 100_000;
    for (const item of d.items) {
      if (this.queue.length >= max) {
        this.counters.dropped++;
        this.count(item.kind, 'dropped');
        if (this.throttle.allow(receivedAt)) this.log.error({ code: 'LOA_ERR_INTERNAL', deviceId: item.deviceId, queued: this.queue.length }, 'ingest queue full; message dropped');
        continue;
      }
      this.queue.push(item);
    }
    if (this.queue.length > 0) this.schedule();
  }

  private problem(p: Problem, now: number): void {
    if (p.reason === 'mismatched') this.counters.mismatched++;
    else this.counters.malformed++;
    this.metrics?.items.inc({ kind: p.kind === 'unknown' ? 'other' : p.kind, result: p.reason === 'mismatched' ? 'mismatched' : 'malformed' });
    if (this.throttle.allow(now)) {
      const suppressed = this.throttle.suppressed;
      this.throttle.suppressed = 0;
      this.log.warn({ code: p.error.code, deviceId: p.deviceId, kind: p.kind, reason: p.reason, ...(suppressed ? { suppressed } : {}) }, p.error.message);
    }
  }

  private count(kind: IngestItem['kind'], result: Result): void {
    this.metrics?.items.inc({ kind: KIND_LABEL[kind], result });
  }

  private schedule(): void {
    if (this.queue.length >= (this.options.batchSize ?? 2000)) {
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
      return;
    }
    if (this.timerPending) return;
    this.timerPending = true;
    this.clock.sleep(this.options.flushIntervalMs ?? 50, this.abort.signal).then(() => {
      this.timerPending = false;
      this.flush();
    }, (e: unknown) => {
      this.timerPending = false;
      if (!(e instanceof AbortError)) this.log.error({ code: 'LOA_ERR_INTERNAL', err: String(e) }, 'ingest timer failed');
    });
  }

  /** Writes up to one batch now, in one transaction. Synchronous; returns what it did. */
  flush(): FlushStats {
    const stats: FlushStats = { items: 0, stored: 0, duplicates: 0, unknownDevice: 0, failed: 0, ms: 0 };
    if (this.flushing || this.queue.length === 0) return stats;
    this.flushing = true;
    const t0 = performance.now();
    const batch = this.queue.splice(0, this.options.batchSize ?? 2000);
    stats.items = batch.length;
    const fresh: Fresh[] = [];
    const statuses: FreshStatus[] = [];
    const tally = new Map<string, number>();
    try {
      this.options.repo.transaction(() => this.apply(batch, stats, fresh, tally, statuses));
    } catch (e) {
      this.log.error({ code: 'LOA_ERR_INTERNAL', items: batch.length, err: (e as Error).message }, 'ingest batch failed; retrying item by item');
      this.resetStats(stats, fresh, tally);
      statuses.length = 0;
      this.isolate(batch, stats, fresh, tally, statuses);
    } finally {
      this.flushing = false;
    }
    stats.ms = performance.now() - t0;
    this.eventAcks?.publish(); // after the commit: the devices may now forget these events
    for (const [k, n] of tally) {
      const [kind, result] = k.split('|') as [string, string];
      if (kind === 'update') {
        this.log.debug({ result, n }, 'update.state reports folded');
      } else if (kind === 'cmdack') {
        this.metrics?.commandAcks.inc({ result }, n);
      } else if (kind === 'ack') {
        this.metrics?.acks.inc({ result }, n);
        if (result === 'stored') this.counters.acksStored += n;
        else this.counters.acksIgnored += n;
      } else {
        this.metrics?.items.inc({ kind, result }, n);
      }
    }
    this.metrics?.flush.observe(stats.ms / 1000);
    this.metrics?.queue.set(this.queue.length);
    this.counters.stored += stats.stored;
    this.counters.duplicates += stats.duplicates;
    this.counters.unknownDevice += stats.unknownDevice;
    this.counters.failed += stats.failed;
    if (this.queue.length > 0) this.schedule();
    if (this.options.onEvent) {
      for (const { event, receivedAt } of fresh) {
        try {
          this.options.onEvent(event, receivedAt);
        } catch (e) {
          this.log.error({ code: 'LOA_ERR_INTERNAL', deviceId: event.deviceId, seq: event.seq, err: (e as Error).message }, 'onEvent hook failed');
        }
      }
    }
    if (this.options.onStatus) {
      for (const st of statuses) {
        try {
          this.options.onStatus(st.deviceId, st.online, st.at);
        } catch (e) {
          this.log.error({ code: 'LOA_ERR_INTERNAL', deviceId: st.deviceId, err: (e as Error).message }, 'onStatus hook failed');
        }
      }
    }
    for (const fn of this.listeners) fn(stats);
    return stats;
  }

  private resetStats(stats: FlushStats, fresh: Fresh[], tally: Map<string, number>): void {
    this.eventAcks?.clear();
    stats.stored = stats.duplicates = stats.unknownDevice = stats.failed = 0;
    fresh.length = 0;
    tally.clear();
  }

  /**
   * After a failed batch: each item in its own savepoint, so that one poisoned item is dropped and the rest are
   * stored. When even that fails (the database itself), the batch goes back to the queue for the next flush.
   */
  private isolate(batch: IngestItem[], stats: FlushStats, fresh: Fresh[], tally: Map<string, number>, statuses: FreshStatus[]): void {
    const repo = this.options.repo;
    try {
      repo.transaction(() => {
        for (const item of batch) {
          const before = { ...stats };
          const n = fresh.length;
          const ns = statuses.length;
          const tallyBefore = new Map(tally);
          try {
            repo.transaction(() => this.apply([item], stats, fresh, tally, statuses));
          } catch (e) {
            Object.assign(stats, before);
            fresh.length = n;
            statuses.length = ns;
            tally.clear();
            for (const [k, v] of tallyBefore) tally.set(k, v);
            stats.failed++;
            if (item.kind === 'event') this.eventAcks?.drop(item.deviceId, item.event.seq);
            bump(tally, item.kind, 'failed');
            this.log.error({ code: 'LOA_ERR_INTERNAL', deviceId: item.deviceId, kind: item.kind, err: (e as Error).message }, 'ingest item could not be stored; dropped');
          }
        }
      });
    } catch (e) {
      this.resetStats(stats, fresh, tally);
      statuses.length = 0;
      const room = Math.max(0, (this.options.maxQueue ?? 100_000) - this.queue.length);
      const back = batch.slice(0, room);
      this.queue.unshift(...back);
      stats.failed = batch.length - back.length;
      this.log.error({ code: 'LOA_ERR_INTERNAL', requeued: back.length, dropped: stats.failed, err: (e as Error).message }, 'the telemetry database refused the batch; it will be retried');
    }
  }

  private apply(batch: readonly IngestItem[], stats: FlushStats, fresh: Fresh[], tally: Map<string, number>, statuses: FreshStatus[]): void {
    const repo = this.options.repo;
    const known = new Map<string, boolean>();
    const merges = new Map<string, StateMerge>();
    for (const item of batch) {
      const id = item.deviceId;
      let ok = known.get(id);
      if (ok === undefined) known.set(id, (ok = repo.knownDevice(id)));
      if (!ok) {
        stats.unknownDevice++;
        bump(tally, item.kind, 'unknown_device');
        continue;
      }
      let m = merges.get(id);
      if (!m) merges.set(id, (m = { lastSeen: item.receivedAt, appliedVersion: 0, telemetry: null }));
      else m.lastSeen = Math.max(m.lastSeen, item.receivedAt);
      switch (item.kind) {
        case 'status': {
          const s = item.status;
          repo.applyStatus(id, s.online, s.at, s.manifestVersion ?? null, item.receivedAt);
          statuses.push({ deviceId: id, online: s.online, at: s.at });
          if (s.agentVersion && this.options.updates) this.options.updates.setAgentVersion(id, s.agentVersion);
          m.appliedVersion = Math.max(m.appliedVersion, s.manifestVersion ?? 0);
          stats.stored++;
          bump(tally, 'status', 'stored');
          break;
        }
        case 'telemetry': {
          const t = item.telemetry;
          repo.insertTelemetry(id, t.at, item.receivedAt, item.json);
          m.appliedVersion = Math.max(m.appliedVersion, t.manifestVersion);
          if (!m.telemetry || t.at >= m.telemetry.at) m.telemetry = { json: item.json, at: t.at, stale: t.stale };
          stats.stored++;
          bump(tally, 'telemetry', 'stored');
          break;
        }
        case 'event': {
          const e = item.event;
          if (e.after !== undefined && !repo.hasEvent(id, e.after)) {
            bump(tally, 'event', 'out_of_order'); // its predecessor first: not stored, not acknowledged, sent again
            break;
          }
          const isNew = repo.insertEvent(id, e.seq, e.type, e.at, item.receivedAt, item.dataJson);
          this.eventAcks?.add(id, e.seq);
          if (!isNew) {
            stats.duplicates++;
            bump(tally, 'event', 'duplicate');
            break;
          }
          stats.stored++;
          bump(tally, 'event', 'stored');
          fresh.push({ event: e, receivedAt: item.receivedAt });
          if (e.type === 'manifest.accepted' && typeof e.data.version === 'number' && Number.isSafeInteger(e.data.version)) {
            m.appliedVersion = Math.max(m.appliedVersion, e.data.version);
          }
          const fold = playFoldOf(e, item.receivedAt);
          if (fold) repo.foldPlay(fold);
          if (e.type === 'emergency.ack' && this.options.acks) {
            const r = ackCheck.is(e.data) ? this.options.acks.foldAck(id, e.data, item.receivedAt) : 'malformed';
            tally.set(`ack|${r}`, (tally.get(`ack|${r}`) ?? 0) + 1); // their own metric (below), not an item kind
          }
          if (e.type === 'command.ack' && this.options.commandAcks) {
            const r = commandAckCheck.is(e.data) ? this.options.commandAcks.foldAck(id, e.data, item.receivedAt) : 'malformed';
            tally.set(`cmdack|${r}`, (tally.get(`cmdack|${r}`) ?? 0) + 1);
          }
          if (e.type === 'update.state' && this.options.updates) {
            const r = updateCheck.is(e.data) ? this.options.updates.foldUpdate(id, e.data, item.receivedAt) : 'malformed';
            tally.set(`update|${r}`, (tally.get(`update|${r}`) ?? 0) + 1);
          }
          break;
        }
      }
    }
    for (const [id, m] of merges) repo.mergeState(id, m);
  }
}
