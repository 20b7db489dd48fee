import { AbortError, type Clock } from '../../shared/clock.js';
import type { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AudioSink } from '../../shared/player.js';
import { PRIORITY_RANK, type Manifest } from '../../shared/schemas/manifest.js';
import type { Outbox } from '../store/outbox.js';
import type { PlayRow, PlaysRepo } from './plays.js';
import { ProgramRunner, type MediaLookup, type SlideDisplay } from './runner.js';
import { Timeline, compareOccurrences, type Occurrence } from '../../shared/timeline.js';

/** What the scheduler needs of the amplifier outputs (agent/outputs OutputController implements it). */
export interface SchedulerOutputs {
  warmupMs(zones: readonly string[], emergency: boolean): number;
  engage(zones: readonly string[]): Promise<void>;
  release(zones: readonly string[]): void;
}

export interface SchedulerOptions {
  clock: Clock;
  plays: PlaysRepo;
  outbox: Outbox;
  sink: AudioSink;
  outputs: SchedulerOutputs;
  media: MediaLookup;
  log: Logger;
  /** How far ahead occurrences are expanded (default 6 h). */
  horizonMs?: number;
  /** Longest sleep between two looks at the clock (default 1 s; simulations use more). */
  maxSleepMs?: number;
  /** How often a play's position is saved for crash recovery (default 5 s). */
  checkpointMs?: number;
  /** An expired manifest keeps playing this long (default 30 days), flagged stale (DESIGN §2). */
  staleGraceMs?: number;
  /** A wall-clock jump larger than this is a clock step (default 2 s). */
  clockStepMs?: number;
  /** Amplifiers switch on this much earlier than the warm-up strictly needs (default 250 ms). */
  prewarmMarginMs?: number;
  /** A board's display (issue 8): slide items are shown there; without one they are passed over. */
  display?: SlideDisplay | null;
  /** Told when an occurrence starts, ends (with its status) or is skipped (with the reason): emergency acks. */
  onPlay?: (occ: Occurrence, phase: 'start' | 'end' | 'skip', detail?: string) => void;
  /** Told when a play task fails (a full disk: SQLITE_FULL on its proof-of-play); it is retried at the next look. */
  onTaskError?: (e: unknown) => void;
  /** The volume a play is sent to the sink with (default: the occurrence's own; the agent applies the device volume). */
  volumeOf?: (occ: Occurrence) => number;
}

interface Current {
  occ: Occurrence;
  abort: AbortController;
  reason: 'preempted' | 'stopped' | 'cancelled' | null;
  runner: ProgramRunner;
  task: Promise<void>;
}

const DAY = 86_400_000;

/**
 * The agent's scheduler (DESIGN §4). Each tick reads the wall clock, works out what should be playing, and
 * sleeps until the next thing to do. Decisions rest on the durable play state, never on in-memory timers,
 * so a restart, a preemption or an NTP step leads to the same answer: nothing plays twice, nothing of
 * priority is lost. Order: emergency > live > priority > normal; equal rank never preempts, the waiting item
 * starts late (within its maxDelayMs) or is skipped; ties break by start time, then entry id.
 */
export class Scheduler {
  private readonly o: Required<SchedulerOptions>;
  private timeline: Timeline | null = null;
  private expiresAt = Infinity;
  private window: Occurrence[] = [];
  private windowFrom = 0;
  private windowTo = -1;
  private states = new Map<string, PlayRow>();
  private current: Current | null = null;
  private readonly engaged = new Map<string, { zones: readonly string[]; atMono: number }>();
  private readonly jumpedOver = new Map<string, Occurrence>();
  /** One-off occurrences outside the manifest (emergency orders), kept across manifest changes until final. */
  private readonly adhoc = new Map<string, Occurrence>();
  private readonly blocked = new Set<string>();
  private wakeCtl = new AbortController();
  private lastWall: number | null = null;
  private lastMono = 0;
  private lastCheckpointMono = 0;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** How many times the loop has looked at the clock (for tests and metrics: an idle agent should rarely wake). */
  ticks = 0;
  private settledResolve: (() => void) | null = null;
  private readonly settledP = new Promise<void>((r) => (this.settledResolve = r));

  constructor(options: SchedulerOptions) {
    this.o = { horizonMs: 6 * 3_600_000, maxSleepMs: 1000, checkpointMs: 5000, staleGraceMs: 30 * DAY, clockStepMs: 2000, prewarmMarginMs: 250, onPlay: () => undefined, onTaskError: () => undefined, volumeOf: (occ) => occ.volume, display: null, ...options };
  }

  /** Installs the manifest in force (or null). The current play, if any, finishes. */
  setManifest(manifest: Manifest | null): void {
    this.timeline = manifest ? new Timeline(manifest) : null;
    this.expiresAt = manifest ? Date.parse(manifest.expiresAt) : Infinity;
    this.windowTo = -1;
    this.wake();
  }

  get manifestVersion(): number {
    return this.timeline?.version ?? 0;
  }

  /** True when the manifest in force has expired (it keeps playing through the grace period). */
  isStale(now = this.o.clock.now()): boolean {
    return now > this.expiresAt;
  }

  nowPlaying(): { occurrence: string; entryId: string; priority: string; positionMs: number } | null {
    const c = this.current;
    return c ? { occurrence: c.occ.key, entryId: c.occ.entryId, priority: c.occ.priority, positionMs: Math.round(c.runner.position()) } : null;
  }

  /** The next `n` occurrences that have not played yet. */
  upcoming(n = 10): Occurrence[] {
    const now = this.o.clock.now();
    return this.timeline ? this.timeline.between(now, now + 7 * DAY).filter((x) => !this.isFinal(x.key)).slice(0, n) : [];
  }

  /**
   * Resolves once the first look at the clock is done and the play it started, if any, has begun (amplifiers
   * warmed up, audio starting) or ended. The agent starts non-essential work (sync) only then (issue 10).
   */
  settled(): Promise<void> {
    return this.settledP;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.refreshWindow(this.o.clock.now());
    this.recoverInterrupted();
    this.loopDone = this.loop().catch((e: unknown) => {
      this.o.log.fatal({ err: e }, 'scheduler loop failed');
      throw e;
    });
  }

  /** Stops the loop; the current play ends with status `stopped` and resumes after the next start. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.settledResolve?.();
    const c = this.current;
    if (c) {
      c.reason = 'stopped';
      c.abort.abort();
      await c.task;
    }
    this.wake();
    await this.loopDone;
    for (const [key, e] of this.engaged) {
      this.o.outputs.release(e.zones);
      this.engaged.delete(key);
    }
  }

  wake(): void {
    this.wakeCtl.abort();
  }

  private isFinal(key: string): boolean {
    const s = this.states.get(key)?.state;
    return s === 'done' || s === 'skipped';
  }

  private refreshState(key: string): void {
    const row = this.o.plays.get(key);
    if (row) this.states.set(key, row);
  }

  private refreshWindow(now: number): void {
    const tl = this.timeline;
    const reach = (tl?.maxReachMs ?? 0) + 60_000;
    this.windowFrom = tl ? now - reach : now;
    this.windowTo = now + this.o.horizonMs;
    const inWindow = tl ? tl.between(this.windowFrom, this.windowTo) : [];
    // Priority items skipped over by a forward clock step stay in view until they have played.
    const jumped = [...this.jumpedOver.values()].filter((o) => o.start < this.windowFrom);
    this.states = tl ? new Map(this.o.plays.range(this.windowFrom, this.windowTo).map((r) => [r.occurrence, r])) : new Map<string, PlayRow>();
    for (const o of jumped) this.refreshState(o.key);
    // One-off occurrences join whatever their start; they leave once final (played, skipped or cancelled).
    const adhoc: Occurrence[] = [];
    for (const o of this.adhoc.values()) {
      this.refreshState(o.key);
      if (this.isFinal(o.key)) this.adhoc.delete(o.key);
      else if (o.start <= this.windowTo) adhoc.push(o);
    }
    this.window = adhoc.length ? [...jumped, ...inWindow, ...adhoc].sort(compareOccurrences) : [...jumped, ...inWindow];
  }

  /**
   * Plays a one-off occurrence outside the manifest (an emergency order): it takes part in preemption like any
   * other, by its rank, and it plays with no manifest at all. Its proof-of-play is recorded like a scheduled
   * play's. Adding the same key again is a no-op.
   */
  addAdhoc(occ: Occurrence): void {
    if (this.adhoc.has(occ.key)) return;
    this.adhoc.set(occ.key, occ);
    this.refreshWindow(this.o.clock.now());
    this.wake();
  }

  /**
   * Ends a one-off occurrence: a play in progress stops (status `cancelled`, amplifiers released, the interrupted
   * schedule resumes); one not started yet is skipped (`cancelled`). Returns false when it is unknown or final.
   */
  async cancelAdhoc(key: string): Promise<boolean> {
    const occ = this.adhoc.get(key);
    if (!occ || this.isFinal(key)) return false;
    const cur = this.current;
    if (cur?.occ.key === key) {
      cur.reason = 'cancelled';
      cur.abort.abort();
      await cur.task;
    } else {
      this.skip(occ, 'cancelled', this.o.clock.now(), this.states.get(key)?.attempts);
    }
    this.adhoc.delete(key);
    this.refreshWindow(this.o.clock.now());
    this.wake();
    return true;
  }

  /** Plays cut short by a crash or power loss: close the attempt (`interrupted`) and decide how to go on. */
  private recoverInterrupted(): void {
    const now = this.o.clock.now();
    const byKey = new Map(this.window.map((x) => [x.key, x]));
    for (const row of this.o.plays.playing()) {
      const occ = byKey.get(row.occurrence);
      const ref = { key: row.occurrence, entryId: row.entry_id, start: row.scheduled_at };
      const next = !occ || occ.onPreempt === 'skip'
        ? { state: 'skipped' as const, offsetMs: row.offset_ms }
        : { state: 'paused' as const, offsetMs: occ.onPreempt === 'restart' ? 0 : row.offset_ms };
      this.o.plays.end(ref, row.attempts, 'interrupted', next, 0, now, { reason: 'agent_restart', positionMs: row.offset_ms });
      this.o.log.warn({ occurrence: row.occurrence, resumeAt: next.offsetMs, state: next.state }, 'play was interrupted by a restart');
      this.refreshState(row.occurrence);
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const next = await this.tick();
      if (this.ticks === 1 && !this.current) this.settledResolve?.();
      if (!this.running) break;
      const now = this.o.clock.now();
      const wait = Math.min(Math.max(0, next - now), this.o.maxSleepMs);
      if (this.wakeCtl.signal.aborted) this.wakeCtl = new AbortController();
      try {
        await this.o.clock.sleep(wait, this.wakeCtl.signal);
      } catch (e) {
        if (!(e instanceof AbortError)) throw e;
        this.wakeCtl = new AbortController();
      }
    }
  }

  private detectClockStep(wall: number, mono: number): void {
    if (this.lastWall !== null) {
      const expected = this.lastWall + (mono - this.lastMono);
      const drift = wall - expected;
      if (Math.abs(drift) > this.o.clockStepMs) {
        this.o.log.warn({ driftMs: drift }, 'wall clock stepped');
        this.o.outbox.add('clock.step', `clock:${mono}:${wall}`, wall, { driftMs: drift, from: expected, to: wall });
        if (drift > 0 && this.timeline) {
          // Time that never really passed: priority items inside it must not be lost.
          for (const occ of this.timeline.between(expected, wall + 1)) {
            if (this.isFinal(occ.key) || this.o.plays.get(occ.key)) continue;
            if (occ.rank >= PRIORITY_RANK.priority) this.jumpedOver.set(occ.key, occ);
            else if (wall > occ.start + occ.maxDelayMs) this.skip(occ, 'clock_step', wall);
          }
        }
        this.windowTo = -1;
      }
    }
    this.lastWall = wall;
    this.lastMono = mono;
  }

  /** One look at the clock. Returns when to look again (wall ms). */
  private async tick(): Promise<number> {
    this.ticks++;
    const clock = this.o.clock;
    let now = clock.now();
    this.detectClockStep(now, clock.monotonic());
    if (now >= this.windowTo - this.o.horizonMs / 2 || now < this.windowFrom) this.refreshWindow(now);
    this.reportStale(now);
    const expiredBeyondGrace = now > this.expiresAt + this.o.staleGraceMs;

    const candidates: Occurrence[] = [];
    for (const occ of this.window) {
      if (occ.start > now || this.isFinal(occ.key) || this.current?.occ.key === occ.key) continue;
      const st = this.states.get(occ.key);
      const started = st?.state === 'paused';
      const deadline = this.deadline(occ);
      if (expiredBeyondGrace && occ.rank < PRIORITY_RANK.emergency) {
        this.skip(occ, 'manifest_expired', now, st?.attempts);
      } else if (now > deadline) {
        this.skip(occ, this.blocked.has(occ.key) ? 'overlap' : started ? 'expired_after_interruption' : 'missed', now, st?.attempts);
      } else {
        candidates.push(occ);
      }
    }
    candidates.sort((a, b) => b.rank - a.rank || a.start - b.start || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0));
    const best = candidates[0];
    const cur = this.current;
    if (best && (!cur || best.rank > cur.occ.rank)) {
      if (cur) {
        cur.reason = 'preempted';
        cur.abort.abort();
        await cur.task;
      }
      this.startPlay(best);
      now = clock.now();
    }
    for (const c of candidates) if (c !== best || cur) this.blocked.add(c.key);

    await this.prewarm(now);
    this.checkpoint(clock.now());
    return this.nextWake(clock.now(), candidates);
  }

  /** Saves the current play's position every checkpointMs, so a crash resumes near where it stopped. */
  private checkpoint(now: number): void {
    const cur = this.current;
    if (!cur || this.o.clock.monotonic() - this.lastCheckpointMono < this.o.checkpointMs) return;
    this.o.plays.checkpoint(cur.occ.key, cur.runner.position(), now);
    this.lastCheckpointMono = this.o.clock.monotonic();
  }

  private reportStale(now: number): void {
    if (this.timeline && now > this.expiresAt) {
      const v = this.timeline.version;
      if (!this.o.outbox.get(`stale:${v}`)) {
        this.o.log.warn({ version: v }, 'manifest expired: playing it as stale during the grace period');
        this.o.outbox.add('manifest.stale', `stale:${v}`, now, { version: v, expiresAt: new Date(this.expiresAt).toISOString(), graceMs: this.o.staleGraceMs });
      }
    }
  }

  private skip(occ: Occurrence, reason: string, now: number, attempts = 0): void {
    this.o.plays.skip(occ, reason, now, attempts);
    this.refreshState(occ.key);
    this.blocked.delete(occ.key);
    this.jumpedOver.delete(occ.key);
    this.releaseFor(occ.key);
    this.o.log.info({ occurrence: occ.key, reason }, 'occurrence skipped');
    this.notifyPlay(occ, 'skip', reason);
  }

  private releaseFor(key: string): void {
    const e = this.engaged.get(key);
    if (e) {
      this.engaged.delete(key);
      this.o.outputs.release(e.zones);
    }
  }

  private async engage(occ: Occurrence): Promise<void> {
    if (this.engaged.has(occ.key)) return;
    await this.o.outputs.engage(occ.outputs);
    this.engaged.set(occ.key, { zones: occ.outputs, atMono: this.o.clock.monotonic() });
  }

  /** Switches amplifiers on ahead of upcoming occurrences, by their warm-up (plus a margin). */
  private async prewarm(now: number): Promise<void> {
    for (const occ of this.window) {
      if (occ.start <= now || this.engaged.has(occ.key) || this.isFinal(occ.key)) continue;
      const w = this.o.outputs.warmupMs(occ.outputs, occ.priority === 'emergency');
      if (occ.start - w - this.o.prewarmMarginMs > now) break;
      await this.engage(occ);
    }
  }

  /**
   * The last moment a due occurrence may still (re)start. One that never started may be late by
   * maxDelayMs; one that was preempted may resume until its own end plus maxDelayMs; one a clock
   * step jumped over waits for its turn however long that takes.
   */
  private deadline(occ: Occurrence): number {
    if (this.jumpedOver.has(occ.key)) return Infinity;
    return this.states.get(occ.key)?.state === 'paused' ? occ.start + occ.durationMs + occ.maxDelayMs : occ.start + occ.maxDelayMs;
  }

  private nextWake(now: number, candidates: Occurrence[]): number {
    let next = now + this.o.maxSleepMs;
    for (const occ of this.window) {
      if (this.isFinal(occ.key) || this.current?.occ.key === occ.key) continue;
      if (occ.start > now) {
        const w = this.o.outputs.warmupMs(occ.outputs, occ.priority === 'emergency');
        const pre = occ.start - w - this.o.prewarmMarginMs;
        next = Math.min(next, !this.engaged.has(occ.key) && pre > now ? pre : occ.start);
        if (occ.start > next) break;
      }
    }
    // A waiting occurrence needs a look only when its deadline passes (to record the skip);
    // otherwise the end of the current play wakes the loop.
    for (const c of candidates) {
      const d = this.deadline(c);
      if (Number.isFinite(d)) next = Math.min(next, Math.max(now + 1, d + 1));
    }
    if (this.current) next = Math.min(next, now + Math.max(1, this.lastCheckpointMono + this.o.checkpointMs - this.o.clock.monotonic()));
    return next;
  }

  private startPlay(occ: Occurrence): void {
    const abort = new AbortController();
    const runner = new ProgramRunner({
      sink: this.o.sink, media: this.o.media, clock: this.o.clock, log: this.o.log, volumeOf: this.o.volumeOf, display: this.o.display,
      onItemFault: (o, index, err) => this.itemFault(o, index, err),
    });
    const cur: Current = { occ, abort, reason: null, runner, task: Promise.resolve() };
    this.current = cur;
    this.blocked.delete(occ.key);
    let failed = false;
    cur.task = this.play(cur).catch((e: unknown) => {
      failed = true;
      this.o.log.error({ err: e, occurrence: occ.key }, 'play task failed');
      this.o.onTaskError(e);
    }).finally(() => {
      this.settledResolve?.();
      if (this.current === cur) this.current = null;
      // After a failure the loop looks again at its next wake (≤ maxSleepMs), not at once: no busy retry loop.
      if (!failed) this.wake();
    });
  }

  private itemFault(occ: Occurrence, index: number, err: LoaError): void {
    const now = this.o.clock.now();
    const slide = occ.items[index]?.slide;
    this.o.outbox.add(slide ? 'display.fault' : 'audio.fault', `fault:${occ.key}:${index}:${now}`, now, { occurrence: occ.key, index, code: err.code, message: err.message, ...(slide ? { kind: slide.kind } : {}) });
  }

  private async play(cur: Current): Promise<void> {
    const { occ, abort } = cur;
    const clock = this.o.clock;
    const st = this.o.plays.get(occ.key);
    const attempt = (st?.attempts ?? 0) + 1;
    const offset = st?.state === 'paused' ? st.offset_ms : 0;
    try {
      await this.engage(occ);
      const warm = this.o.outputs.warmupMs(occ.outputs, occ.priority === 'emergency');
      const left = warm - (clock.monotonic() - this.engaged.get(occ.key)!.atMono);
      if (left > 0) await clock.sleep(left, abort.signal);
    } catch (e) {
      if (!(e instanceof AbortError)) throw e;
      this.releaseFor(occ.key);
      return;
    }
    this.o.plays.begin(occ, attempt, offset, clock.now(), this.isStale() ? { stale: true } : {});
    this.settledResolve?.();
    this.refreshState(occ.key);
    this.jumpedOver.delete(occ.key);
    this.lastCheckpointMono = clock.monotonic();
    this.o.log.info({ occurrence: occ.key, attempt, offsetMs: offset, priority: occ.priority }, 'play started');
    this.notifyPlay(occ, 'start');
    const res = await cur.runner.run(occ, offset, abort.signal);
    const now = clock.now();
    const extra = res.failures.length ? { failures: res.failures } : {};
    if (res.status !== 'aborted') {
      this.o.plays.end(occ, attempt, res.status, { state: 'done', offsetMs: res.positionMs }, res.playedMs, now, extra);
    } else {
      const status = cur.reason === 'stopped' ? 'stopped' : cur.reason === 'cancelled' ? 'cancelled' : 'preempted';
      const next = status === 'cancelled' || (occ.onPreempt === 'skip' && status === 'preempted')
        ? { state: 'skipped' as const, offsetMs: res.positionMs }
        : { state: 'paused' as const, offsetMs: occ.onPreempt === 'restart' ? 0 : res.positionMs };
      this.o.plays.end(occ, attempt, status, next, res.playedMs, now, { ...extra, positionMs: Math.round(res.positionMs) });
    }
    this.refreshState(occ.key);
    // A preempted item that will resume keeps its amplifiers: no second warm-up when it comes back.
    if (this.states.get(occ.key)?.state !== 'paused' || cur.reason === 'stopped') this.releaseFor(occ.key);
    this.o.log.info({ occurrence: occ.key, status: res.status, playedMs: res.playedMs }, 'play ended');
    this.notifyPlay(occ, 'end', res.status !== 'aborted' ? res.status : cur.reason ?? 'preempted');
  }

  private notifyPlay(occ: Occurrence, phase: 'start' | 'end' | 'skip', detail?: string): void {
    try {
      this.o.onPlay(occ, phase, detail);
    } catch (e) {
      this.o.log.error({ err: e, occurrence: occ.key }, 'onPlay hook failed');
    }
  }
}
