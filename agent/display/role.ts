import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { DisplayConfig } from '../../shared/schemas/hardware-profile.js';
import type { Occurrence } from '../../shared/timeline.js';
import type { Outbox } from '../store/outbox.js';
import { BrightnessSchedule, execRunner, type CommandRunner } from './brightness.js';
import { CdpCapturer, ScreenshotLoop, type ScreenCapturer, type Screenshot } from './screenshot.js';
import { startDisplayServer, type DisplayServer } from './server.js';
import { DisplaySurface } from './surface.js';

/** What tests (and unusual installs) may replace in the display role. */
export interface DisplayRoleDeps {
  /** Port of the local page (overrides the profile; 0 = any free port). */
  port: number;
  capturer: ScreenCapturer;
  runner: CommandRunner;
  ackTimeoutMs: number;
}

export interface DisplayRoleOptions extends Partial<DisplayRoleDeps> {
  config: DisplayConfig;
  clock: Clock;
  outbox: Outbox;
  log: Logger;
  media: { has(sha256: string): boolean; pathOf(sha256: string): string };
}

/**
 * The display role of an agent whose hardware profile has `display` (DESIGN §4): the surface the scheduler
 * shows slides on, the local page for the kiosk Chromium, the brightness schedule, and proof-of-display
 * screenshots sent to the controller.
 */
export class DisplayRole {
  readonly surface: DisplaySurface;
  private server: DisplayServer | null = null;
  private brightness: BrightnessSchedule | null = null;
  private shots: ScreenshotLoop | null = null;
  private uploader: ((shot: Screenshot) => Promise<void>) | null = null;
  private readonly faultAt = new Map<string, number>();

  constructor(private readonly o: DisplayRoleOptions) {
    const c = o.config;
    this.surface = new DisplaySurface({
      clock: o.clock, outbox: o.outbox, log: o.log, media: o.media, ...(o.ackTimeoutMs !== undefined ? { ackTimeoutMs: o.ackTimeoutMs } : {}),
      board: { name: c.name ?? '', width: c.width, height: c.height, kind: c.kind ?? 'lcd', minFontPx: c.minFontPx ?? 10 },
    });
  }

  /** The local page's URL (after start). */
  get url(): string {
    return this.server?.url ?? '';
  }

  get screenshots(): ScreenshotLoop | null {
    return this.shots;
  }

  get brightnessLevel(): number | null {
    return this.brightness?.level ?? null;
  }

  /** Where screenshots go: set once the agent knows its controller (sync). */
  setUploader(up: ((shot: Screenshot) => Promise<void>) | null): void {
    this.uploader = up;
  }

  /** Scheduler hook (composed with the emergency handler's in agent.ts). */
  onPlay(occ: Occurrence, phase: 'start' | 'end' | 'skip'): void {
    this.surface.onPlay(occ, phase);
  }

  async start(): Promise<void> {
    const { config: c, log } = this.o;
    try {
      this.server = await startDisplayServer({ surface: this.surface, media: this.o.media, log, port: this.o.port ?? c.port ?? 8090 });
      log.info({ url: this.server.url, width: c.width, height: c.height }, 'board page ready for the kiosk browser');
    } catch (e) {
      // Playback never depends on the screen: the schedule goes on, and each slide reports LOA_ERR_DISPLAY_NO_PAGE.
      const err = new LoaError('LOA_ERR_DISPLAY_NO_PAGE', `the board page cannot listen on port ${this.o.port ?? c.port ?? 8090}: ${(e as Error).message}`, { cause: e });
      log.error({ code: err.code }, err.message);
      this.fault('page', err, {});
      return;
    }
    if (c.brightness) {
      this.brightness = new BrightnessSchedule({
        config: c.brightness, runner: this.o.runner ?? execRunner(), clock: this.o.clock, log,
        onFault: (err, level) => this.fault('brightness', err, { level }),
      });
      this.brightness.start();
    }
    if (c.screenshot) {
      this.shots = new ScreenshotLoop({
        capturer: this.o.capturer ?? new CdpCapturer({ cdpUrl: c.cdpUrl ?? 'http://127.0.0.1:9222', pageUrl: this.server.url, maxWidth: c.screenshot.maxWidth ?? 480, quality: c.screenshot.quality ?? 60 }),
        upload: () => this.uploader, clock: this.o.clock, log, intervalMs: c.screenshot.intervalS * 1000,
        onFault: (err) => this.fault('screenshot', err, {}),
      });
      this.shots.start();
    }
  }

  async stop(): Promise<void> {
    await this.shots?.stop();
    await this.brightness?.stop();
    await this.server?.close();
    this.server = null;
  }

  /** A display fault event, at most one per source and code per hour (a dead kiosk must not flood the outbox). */
  private fault(source: string, err: LoaError, extra: Record<string, unknown>): void {
    const now = this.o.clock.now();
    const hour = Math.floor(now / 3_600_000);
    const k = `${source}:${err.code}`;
    if (this.faultAt.get(k) === hour) return;
    this.faultAt.set(k, hour);
    this.o.outbox.add('display.fault', `${source}:${err.code}:${hour}`, now, { source, code: err.code, message: err.message.slice(0, 500), ...extra });
  }
}
