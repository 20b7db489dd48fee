/**
 * Sequences amplifier zones on one relay board (DESIGN §4 outputs).
 *
 * - Channels are reference-counted across zones: a channel shared by two playing zones stays on until both end.
 * - engage() switches channels on at once; the caller waits the returned warm-up before audio starts.
 *   release() switches them off after the zone's cool-down, unless an engage() takes them again first.
 * - Fail-safe: everything off at start and at stop.
 * - The controller keeps the desired state per channel. When the board fails (port gone, no reply, read-back
 *   mismatch) it reports `relay.fault` once, keeps recording what is wanted (audio goes on), reconnects with
 *   backoff, writes the desired state to the board, verifies it where the board can be read, and reports
 *   `relay.recovered`.
 * - Every board operation goes through one queue, so switches reach the board in the order they were asked for.
 */
import type { Clock } from '../../shared/clock.js';
import { toLoaError, type LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { RelayDriver } from '../../shared/outputs.js';
import type { OutputZone } from '../../shared/schemas/hardware-profile.js';
import { OperationQueue } from './util.js';
import { verifyReadBack } from './verify.js';

export type RelayEventType = 'relay.fault' | 'relay.recovered';

export interface OutputControllerOptions {
  profileOutputs: readonly OutputZone[];
  driver: RelayDriver;
  clock: Clock;
  log: Logger;
  onEvent: (type: RelayEventType, data: Record<string, unknown>) => void;
  /** Reconnect backoff: starts at min, doubles per failed attempt, capped at max. Default 500..30000 ms. */
  retryMs?: { min: number; max: number };
  /**
   * How often to check the board while connected: read it back where the driver can, otherwise write the state
   * again (a board that lost power comes back in step). 0 turns it off. Default 15000 ms.
   */
  checkMs?: number;
}

export interface OutputState {
  /** What each channel should be. */
  desired: boolean[];
  /** What was last written to the board successfully. */
  applied: boolean[];
  /** How many engaged zones hold each channel. */
  refs: number[];
  /** Channels waiting out a cool-down before switching off. */
  coolingDown: number[];
  connected: boolean;
  faulted: boolean;
  error?: { code: string; message: string };
}

/** What OutputController.exclusive hands out: the board, and the controller's view of it. */
export interface BoardAccess {
  driver: RelayDriver;
  connected: boolean;
  lastError: LoaError | null;
  /** A play holds the channel (or it is cooling down). */
  inUse(channel: number): boolean;
  applied(): boolean[];
  setApplied(channel: number, on: boolean): void;
}

export class OutputController {
  private readonly o: OutputControllerOptions;
  private readonly queue = new OperationQueue();
  private readonly cooldowns = new Map<number, AbortController>();
  private readonly tasks = new Set<Promise<unknown>>();
  private desired: boolean[] = [];
  private applied: boolean[] = [];
  private refs: number[] = [];
  private life: AbortController | undefined;
  private unlinkSignal: (() => void) | undefined;
  private connected = false;
  private faulted = false;
  private faultAt = 0;
  private lastError: LoaError | undefined;
  private recovering: Promise<void> | undefined;

  constructor(options: OutputControllerOptions) {
    this.o = options;
  }

  private get driver(): RelayDriver {
    return this.o.driver;
  }

  private get channels(): number {
    return this.o.driver.channels;
  }

  /**
   * Opens the board and switches everything off (then on again for zones engaged meanwhile). Never rejects
   * because of the board: a missing port is reported as `relay.fault` and retried in the background.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.life) return;
    const life = new AbortController();
    this.life = life;
    if (signal) {
      const onAbort = (): void => life.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.unlinkSignal = (): void => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) life.abort();
    }
    this.resetArrays();
    this.warnUnknownChannels();
    this.driver.onFault = (err: Error): void => this.fault(toLoaError(err, 'LOA_ERR_SERIAL_IO'));
    try {
      await this.queue.run(async () => {
        await this.driver.start(life.signal);
        await this.driver.setAll(false);
        this.applied.fill(false);
        await this.writeState([...this.desired], true);
        await this.verify();
        this.connected = true;
      });
      this.o.log.info({ driver: this.driver.kind, channels: this.channels }, 'relay board ready, all channels off');
    } catch (e) {
      if (!life.signal.aborted) this.fault(toLoaError(e, 'LOA_ERR_SERIAL_IO'));
    }
    void this.track(this.checkLoop(life.signal));
  }

  /** The longest warm-up among the zones (all zones when the list is empty). */
  warmupMs(zones: readonly string[], emergency: boolean): number {
    return Math.max(0, ...this.pick(zones).map((z) => warmupOf(z, emergency)));
  }

  /**
   * Takes the zones' channels (all zones when the list is empty) and switches on those that were off. Resolves
   * once they are switched, or at once when the board is faulted (the state is applied on recovery). Never rejects.
   * The caller waits warmupMs() before audio starts.
   */
  async engage(zones: readonly string[]): Promise<void> {
    const switchedOn: number[] = [];
    for (const zone of this.pick(zones)) {
      for (const ch of this.channelsOf(zone)) {
        this.refs[ch] = (this.refs[ch] ?? 0) + 1;
        this.cancelCooldown(ch);
        if (!this.desired[ch]) {
          this.desired[ch] = true;
          switchedOn.push(ch);
        }
      }
    }
    await this.apply(switchedOn);
  }

  /**
   * Gives back the zones' channels. Channels no zone holds any more switch off after the cool-down (the longest
   * among the released zones that use them). Resolves when they are off or the cool-down was cancelled by an
   * engage() or stop(). Never rejects.
   */
  async release(zones: readonly string[]): Promise<void> {
    const cooldown = new Map<number, number>();
    for (const zone of this.pick(zones)) {
      for (const ch of this.channelsOf(zone)) {
        if ((this.refs[ch] ?? 0) === 0) continue;
        this.refs[ch] = (this.refs[ch] ?? 0) - 1;
        cooldown.set(ch, Math.max(cooldown.get(ch) ?? 0, zone.cooldownMs));
      }
    }
    const waits: Promise<void>[] = [];
    for (const [ch, ms] of cooldown) {
      if (this.refs[ch] === 0 && this.desired[ch]) waits.push(this.track(this.switchOffLater(ch, ms)));
    }
    await Promise.all(waits);
  }

  /** Everything off (fail-safe), board closed, timers cancelled. */
  async stop(): Promise<void> {
    const life = this.life;
    if (!life) return;
    life.abort();
    this.unlinkSignal?.();
    this.unlinkSignal = undefined;
    for (const ac of this.cooldowns.values()) ac.abort();
    this.cooldowns.clear();
    this.driver.onFault = undefined;
    await this.queue.run(async () => {
      try {
        if (!this.connected) await this.driver.start();
        await this.driver.setAll(false);
        this.applied.fill(false);
      } catch (e) {
        this.o.log.warn({ err: e }, 'could not switch the relays off while stopping');
      }
      this.connected = false;
      await this.driver.stop();
    });
    this.desired.fill(false);
    this.refs.fill(0);
    await Promise.allSettled([...this.tasks]);
    this.life = undefined;
  }

  state(): OutputState {
    return {
      desired: [...this.desired],
      applied: [...this.applied],
      refs: [...this.refs],
      coolingDown: [...this.cooldowns.keys()].sort((a, b) => a - b),
      connected: this.connected,
      faulted: this.faulted,
      ...(this.faulted && this.lastError ? { error: { code: this.lastError.code, message: this.lastError.message } } : {}),
    };
  }

  /**
   * Runs `fn` alone on the board, in the operation queue (no switch of a play interleaves with it): for checks
   * that switch channels themselves (relay-check.ts). `fn` must record what it writes with setApplied.
   */
  exclusive<T>(fn: (board: BoardAccess) => Promise<T>): Promise<T> {
    return this.queue.run(() => fn({
      driver: this.driver, connected: this.connected, lastError: this.lastError ?? null,
      inUse: (ch) => this.desired[ch] === true || (this.refs[ch] ?? 0) > 0,
      applied: () => [...this.applied],
      setApplied: (ch, on) => {
        this.applied[ch] = on;
      },
    }));
  }

  // ---- zones and channels

  private pick(names: readonly string[]): OutputZone[] {
    if (names.length === 0) return [...this.o.profileOutputs];
    const out: OutputZone[] = [];
    for (const name of new Set(names)) {
      const zone = this.o.profileOutputs.find((z) => z.name === name);
      if (zone) out.push(zone);
      else this.o.log.warn({ zone: name }, 'unknown output zone ignored');
    }
    return out;
  }

  private channelsOf(zone: OutputZone): number[] {
    return zone.channels.filter((ch) => ch >= 0 && ch < this.channels);
  }

  private resetArrays(): void {
    const n = this.channels;
    if (this.desired.length !== n) {
      this.desired = new Array<boolean>(n).fill(false);
      this.refs = new Array<number>(n).fill(0);
    }
    this.applied = new Array<boolean>(n).fill(false);
  }

  private warnUnknownChannels(): void {
    if (this.driver.kind === 'none') return;
    for (const zone of this.o.profileOutputs) {
      const extra = zone.channels.filter((ch) => ch >= this.channels);
      if (extra.length) this.o.log.warn({ zone: zone.name, channels: extra, boardChannels: this.channels }, 'zone names channels the relay board does not have');
    }
  }

  // ---- switching

  private cancelCooldown(ch: number): void {
    const ac = this.cooldowns.get(ch);
    if (!ac) return;
    this.cooldowns.delete(ch);
    ac.abort();
  }

  private async switchOffLater(ch: number, ms: number): Promise<void> {
    this.cancelCooldown(ch);
    const ac = new AbortController();
    this.cooldowns.set(ch, ac);
    try {
      await this.o.clock.sleep(ms, ac.signal);
    } catch {
      return; // cancelled by engage() or stop()
    }
    if (this.cooldowns.get(ch) !== ac) return;
    this.cooldowns.delete(ch);
    if ((this.refs[ch] ?? 0) > 0) return;
    this.desired[ch] = false;
    await this.apply([ch]);
  }

  /** Writes the channels' desired state (as it is when the queue gets there). Faults are reported, not thrown. */
  private async apply(channels: readonly number[]): Promise<void> {
    if (channels.length === 0) return;
    await this.queue.run(async () => {
      if (!this.connected) return; // recorded in `desired`; start or recovery writes it
      try {
        for (const ch of channels) {
          const on = this.desired[ch] === true;
          await this.driver.set(ch, on);
          this.applied[ch] = on;
        }
      } catch (e) {
        this.fault(toLoaError(e, 'LOA_ERR_SERIAL_IO'));
      }
    });
  }

  /** Writes a whole state: one setAll when every channel is the same, else channel by channel. */
  private async writeState(want: readonly boolean[], knownAllOff = false): Promise<void> {
    const first = want[0] ?? false;
    if (!knownAllOff && want.every((v) => v === first)) {
      if (want.length > 0) await this.driver.setAll(first);
    } else {
      for (let ch = 0; ch < want.length; ch++) {
        if (knownAllOff && !want[ch]) continue;
        await this.driver.set(ch, want[ch] === true);
      }
    }
    want.forEach((v, ch) => (this.applied[ch] = v));
  }

  private async verify(): Promise<void> {
    if (!this.driver.supportsReadBack) return;
    verifyReadBack(this.applied, await this.driver.readState(), this.driver.kind);
  }

  // ---- faults and recovery

  private fault(err: LoaError): void {
    const life = this.life;
    if (!life || life.signal.aborted) return;
    this.connected = false;
    this.lastError = err;
    if (!this.faulted) {
      this.faulted = true;
      this.faultAt = this.o.clock.monotonic();
      this.o.log.error({ err, code: err.code, driver: this.driver.kind }, 'relay board fault');
      this.o.onEvent('relay.fault', { code: err.code, message: err.message, driver: this.driver.kind, ...(err.details ?? {}) });
    }
    this.recovering ??= this.track(
      this.recover(life.signal).finally(() => {
        this.recovering = undefined;
      }),
    );
  }

  private async recover(signal: AbortSignal): Promise<void> {
    const retry = this.o.retryMs ?? { min: 500, max: 30000 };
    let delay = Math.max(0, retry.min);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.clock.sleep(delay, signal);
      } catch {
        return;
      }
      try {
        await this.queue.run(async () => {
          if (signal.aborted) return;
          await this.driver.stop();
          await this.driver.start(signal);
          await this.writeState([...this.desired]);
          await this.verify();
          this.connected = true;
        });
      } catch (e) {
        if (signal.aborted) return;
        this.lastError = toLoaError(e, 'LOA_ERR_SERIAL_IO');
        delay = Math.min(Math.max(delay * 2, 1), retry.max);
        this.o.log.warn({ err: this.lastError, attempt, retryInMs: delay }, 'relay board still unavailable');
        continue;
      }
      if (signal.aborted) return;
      if (!this.connected) continue; // it failed again while we resynced
      this.faulted = false;
      this.o.log.info({ attempt, driver: this.driver.kind }, 'relay board recovered, state restored');
      this.o.onEvent('relay.recovered', {
        driver: this.driver.kind,
        attempts: attempt,
        downMs: this.o.clock.monotonic() - this.faultAt,
        desired: [...this.desired],
      });
      return;
    }
  }

  /** Catches a board that reset or lost a relay while idle. */
  private async checkLoop(signal: AbortSignal): Promise<void> {
    const every = this.o.checkMs ?? 15000;
    if (every <= 0 || this.channels === 0) return;
    for (;;) {
      try {
        await this.o.clock.sleep(every, signal);
      } catch {
        return;
      }
      await this.queue.run(async () => {
        if (!this.connected || signal.aborted) return;
        try {
          if (this.driver.supportsReadBack) await this.verify();
          else await this.writeState([...this.applied]);
        } catch (e) {
          this.fault(toLoaError(e, 'LOA_ERR_SERIAL_IO'));
        }
      });
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    const remove = (): void => {
      this.tasks.delete(p);
    };
    void p.then(remove, remove);
    return p;
  }
}

function warmupOf(zone: OutputZone, emergency: boolean): number {
  return emergency && zone.emergencyWarmupMs !== undefined ? zone.emergencyWarmupMs : zone.warmupMs;
}
