/**
 * systemd notification and watchdog for `loa agent run` under `Type=notify` + `WatchdogSec=` (agent/provision/
 * systemd.ts). When NOTIFY_SOCKET is set, the agent sends READY=1 once it is started, then WATCHDOG=1 every
 * WATCHDOG_USEC/2, but only while its heartbeat (the scheduler loop's tick count) has moved within the last
 * WATCHDOG_USEC. A wedged scheduler or a blocked event loop therefore stops the pings, and systemd restarts the agent, whose fail-safe switches the
 * relays off first.
 *
 * Node has no unix datagram sockets, so the message is sent by libsystemd's sd_notify through koffi, or, when
 * libsystemd.so.0 is absent, by spawning `systemd-notify` (a child process: the unit then needs NotifyAccess=all).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type koffiType from 'koffi';
import { AbortError, SystemClock, type Clock } from '../shared/clock.js';
import { LoaError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

const requireCjs = createRequire(import.meta.url);

/** Sends one sd_notify(3) state string ("READY=1", "WATCHDOG=1", "STATUS=…"). Rejects with LOA_ERR_WATCHDOG_NOTIFY. */
export interface Notifier {
  /** 'libsystemd', 'systemd-notify', or a test double's name. */
  readonly kind: string;
  notify(state: string): Promise<void>;
}

/** sd_notify from libsystemd.so.0 through koffi, or null when the library cannot be loaded. */
export function libsystemdNotifier(library = 'libsystemd.so.0'): Notifier | null {
  let fn: (unset: number, state: string) => number;
  try {
    const koffi = requireCjs('koffi') as typeof koffiType;
    fn = koffi.load(library).func('int sd_notify(int unset_environment, const char *state)') as (unset: number, state: string) => number;
  } catch {
    return null;
  }
  return {
    kind: 'libsystemd',
    notify(state: string): Promise<void> {
      const r = fn(0, state);
      // > 0 sent; 0 NOTIFY_SOCKET unset; < 0 -errno.
      if (r < 0) return Promise.reject(new LoaError('LOA_ERR_WATCHDOG_NOTIFY', `sd_notify(${state.split('\n')[0]}) failed: errno ${-r}`));
      return Promise.resolve();
    },
  };
}

/** `systemd-notify` as a child process (needs NotifyAccess=all, since the sender is not the main process). */
export function systemdNotifyCli(bin = 'systemd-notify', env: NodeJS.ProcessEnv = process.env): Notifier {
  return {
    kind: 'systemd-notify',
    notify(state: string): Promise<void> {
      const args = state === 'READY=1' ? ['--ready'] : state.split('\n').filter(Boolean);
      return new Promise((resolve, reject) => {
        const child = spawn(bin, [`--pid=${process.pid}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
        let stderr = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (c: string) => (stderr += c));
        child.once('error', (e) => reject(new LoaError('LOA_ERR_WATCHDOG_NOTIFY', `${bin} cannot be run: ${e.message}`, { cause: e })));
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new LoaError('LOA_ERR_WATCHDOG_NOTIFY', `${bin} ${args.join(' ')} exited with ${String(code)}: ${stderr.trim()}`))));
      });
    },
  };
}

/** libsystemd when present, otherwise systemd-notify. */
export function defaultNotifier(): Notifier {
  return libsystemdNotifier() ?? systemdNotifyCli();
}

export interface WatchdogOptions {
  /** Increases while the agent is healthy (the scheduler's tick count). */
  heartbeat: () => number;
  log: Logger;
  /** Default process.env (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID). */
  env?: NodeJS.ProcessEnv;
  /** Default defaultNotifier(), made only when NOTIFY_SOCKET is set. */
  notifier?: Notifier;
  clock?: Clock;
}

/**
 * Talks to systemd for the agent. Without NOTIFY_SOCKET (not under systemd) it does nothing. A failed
 * notification is logged and never stops the agent: playing matters more than the watchdog.
 */
export class Watchdog {
  private readonly o: WatchdogOptions;
  private readonly stopCtl = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  private notifier: Notifier | null = null;
  /** Pings sent and skipped (for tests and status). */
  readonly stats = { pings: 0, skipped: 0, errors: 0 };

  constructor(options: WatchdogOptions) {
    this.o = options;
  }

  private get env(): NodeJS.ProcessEnv {
    return this.o.env ?? process.env;
  }

  /** Whether the process runs under systemd's notify protocol. */
  get active(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  /** Ping interval in ms (half of WATCHDOG_USEC), or null when the watchdog is off or meant for another pid. */
  get intervalMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return null;
    const pid = this.env.WATCHDOG_PID;
    if (pid && Number(pid) !== process.pid) return null;
    return Math.max(1, Math.floor(usec / 2000));
  }

  /** Sends READY=1 and starts the pings. Call after the agent has started. */
  async start(): Promise<void> {
    if (!this.active) return;
    this.notifier = this.o.notifier ?? defaultNotifier();
    await this.send('READY=1\nSTATUS=playing the schedule');
    const every = this.intervalMs;
    if (every === null) return;
    this.o.log.info({ everyMs: every, notifier: this.notifier.kind }, 'systemd watchdog on');
    this.loop = this.run(every);
  }

  /**
   * Pings while the heartbeat moved within the last watchdog period (2 × the ping interval), so a short
   * WatchdogSec never races the scheduler's own sleep. After a stall, the pings stop within one period and
   * systemd restarts the agent one period later.
   */
  private async run(every: number): Promise<void> {
    const clock = this.o.clock ?? new SystemClock();
    let last = this.o.heartbeat();
    let movedAt = clock.monotonic();
    for (;;) {
      try {
        await clock.sleep(every, this.stopCtl.signal);
      } catch (e) {
        if (e instanceof AbortError) return;
        throw e;
      }
      const beat = this.o.heartbeat();
      if (beat !== last) {
        last = beat;
        movedAt = clock.monotonic();
      }
      if (clock.monotonic() - movedAt >= 2 * every) {
        // The scheduler loop has not looked at the clock for a whole watchdog period: let systemd's timer run out.
        this.stats.skipped++;
        this.o.log.warn({ heartbeat: beat, stalledMs: Math.round(clock.monotonic() - movedAt) }, 'scheduler loop is not ticking: withholding the watchdog ping');
        continue;
      }
      await this.send('WATCHDOG=1');
      this.stats.pings++;
    }
  }

  private async send(state: string): Promise<void> {
    try {
      await this.notifier?.notify(state);
    } catch (e) {
      this.stats.errors++;
      this.o.log.error({ err: e }, 'systemd notification failed');
    }
  }

  /** Tells systemd the agent is stopping and ends the pings. */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    await this.loop;
    if (this.active && this.notifier) await this.send('STOPPING=1');
  }
}
