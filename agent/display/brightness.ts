import { execFile } from 'node:child_process';
import { AbortError, type Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { DisplayConfig } from '../../shared/schemas/hardware-profile.js';
import { levelAt } from './daypart.js';

/** Runs one command (argv, no shell). Injected, so tests record commands instead of running them. */
export type CommandRunner = (argv: readonly string[], signal: AbortSignal) => Promise<void>;

/** The production runner: execFile with a timeout; a non-zero exit is LOA_ERR_DISPLAY_COMMAND. */
export function execRunner(timeoutMs = 10_000): CommandRunner {
  return (argv, signal) => new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    execFile(cmd!, args, { timeout: timeoutMs, signal, windowsHide: true }, (err, _out, stderr) => {
      if (err) reject(new LoaError('LOA_ERR_DISPLAY_COMMAND', `${cmd} failed: ${String(stderr).trim().slice(0, 200) || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

export interface BrightnessScheduleOptions {
  config: NonNullable<DisplayConfig['brightness']>;
  runner: CommandRunner;
  clock: Clock;
  log: Logger;
  /** A command that failed (it is retried at the next look). */
  onFault: (err: LoaError, level: number) => void;
  /** How often the schedule is looked at (default 30 s). */
  checkMs?: number;
}

/**
 * The backlight schedule of a board (profile `display.brightness`): from each time of day on, a level; the
 * profile's command is run with "{level}" replaced whenever the level in force changes (and once at start).
 */
export class BrightnessSchedule {
  private applied: number | null = null;
  private ctl = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();

  constructor(private readonly o: BrightnessScheduleOptions) {}

  get level(): number | null {
    return this.applied;
  }

  start(): void {
    this.ctl = new AbortController();
    this.loopDone = this.loop(this.ctl.signal);
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    await this.loopDone;
  }

  /** Applies the level in force now if it differs from the last one applied. */
  async apply(signal: AbortSignal = this.ctl.signal): Promise<void> {
    const level = levelAt(this.o.config.schedule, this.o.clock.now());
    if (level === null || level === this.applied) return;
    const argv = this.o.config.command.map((a) => a.replaceAll('{level}', String(level)));
    try {
      await this.o.runner(argv, signal);
      this.applied = level;
      this.o.log.info({ level }, 'board brightness set');
    } catch (e) {
      if (signal.aborted) return;
      const err = toLoaError(e, 'LOA_ERR_DISPLAY_COMMAND');
      this.o.log.warn({ code: err.code, level }, err.message);
      this.o.onFault(err, level);
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.apply(signal);
      try {
        await this.o.clock.sleep(this.o.checkMs ?? 30_000, signal);
      } catch (e) {
        if (!(e instanceof AbortError)) throw e;
      }
    }
  }
}
