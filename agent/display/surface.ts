import { AbortError, type Clock } from '../../shared/clock.js';
import { LoaError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { PlayResult } from '../../shared/player.js';
import { slideMedia, type SlideItem, type SlideKind } from '../../shared/schemas/slides.js';
import type { Occurrence, TimelineItem } from '../../shared/timeline.js';
import type { SlideDisplay } from '../scheduler/runner.js';
import type { Outbox } from '../store/outbox.js';
import { inDayparts } from './daypart.js';

/** What the board page is asked to show. `id` grows; the page swaps to a view only once it is ready. */
export interface DisplayView {
  id: number;
  kind: SlideKind | 'idle';
  slide?: SlideItem;
  /** Local URL of the slide's image or video. */
  mediaUrl?: string;
  occurrence?: string;
  index?: number;
}

export interface DisplayAlert {
  key: string;
  title: string;
  text?: string;
}

export interface BoardInfo {
  name: string;
  width: number;
  height: number;
  kind: 'led' | 'lcd';
  minFontPx: number;
}

/** The whole state the page renders (pushed over SSE on every change). */
export interface DisplayState {
  rev: number;
  board: BoardInfo;
  view: DisplayView;
  alert: DisplayAlert | null;
}

/** What the page reports back: a view or an alert is on screen, or could not be shown. */
export interface DisplayReport {
  viewId?: number;
  alertKey?: string;
  status: 'shown' | 'error';
  code?: string;
  message?: string;
  fit?: { fontPx: number; pages: number; overflow: boolean };
}

export interface DisplaySurfaceOptions {
  clock: Clock;
  outbox: Outbox;
  log: Logger;
  media: { has(sha256: string): boolean };
  board: BoardInfo;
  /** How long a slide waits for the page to confirm it before a LOA_ERR_DISPLAY_NO_PAGE fault (default 5 s). */
  ackTimeoutMs?: number;
}

const PAGE_CODES: readonly string[] = ['LOA_ERR_DISPLAY_MEDIA'];

/**
 * The display role's state (DESIGN §4 `display`): the scheduler's runner asks it to show each slide for its
 * duration, emergency plays put a full-screen alert over everything, and the page (agent/display/page.ts)
 * renders it. Proof-of-display: a `display.show` event through the durable outbox for every slide and alert
 * the page confirms on screen; a slide the page cannot show (missing or corrupt media) fails at once with a
 * coded error, so the runner goes on to the next slide while the page keeps what it showed before.
 */
export class DisplaySurface implements SlideDisplay {
  private rev = 0;
  private nextId = 1;
  private view: DisplayView = { id: 0, kind: 'idle' };
  private alert: DisplayAlert | null = null;
  private readonly listeners = new Set<(s: DisplayState) => void>();
  private readonly waiting = new Map<string, (r: DisplayReport) => void>();
  private readonly ackTimeoutMs: number;

  constructor(private readonly o: DisplaySurfaceOptions) {
    this.ackTimeoutMs = o.ackTimeoutMs ?? 5000;
  }

  state(): DisplayState {
    return { rev: this.rev, board: this.o.board, view: this.view, alert: this.alert };
  }

  /** Called on every change; returns the unsubscribe function. */
  subscribe(fn: (s: DisplayState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A report from the page (already schema-checked). */
  report(r: DisplayReport): void {
    const key = r.alertKey !== undefined ? `alert:${r.alertKey}` : r.viewId !== undefined ? `view:${r.viewId}` : null;
    if (!key) return;
    const w = this.waiting.get(key);
    if (w) {
      this.waiting.delete(key);
      w(r);
    }
  }

  async show(req: { occ: Occurrence; index: number; item: TimelineItem; offsetMs: number }, signal: AbortSignal): Promise<PlayResult> {
    const { occ, index, item } = req;
    const slide = item.slide;
    if (!slide) return { status: 'completed', playedMs: 0 };
    const clock = this.o.clock;
    if (!inDayparts(slide.dayparts, clock.now())) {
      this.o.log.debug({ occurrence: occ.key, index }, 'slide outside its dayparts: passed over');
      return { status: 'completed', playedMs: 0 };
    }
    const sha = slideMedia(slide);
    if (sha && !this.o.media.has(sha)) return failed('LOA_ERR_DISPLAY_MEDIA', `the ${slide.kind} ${sha.slice(0, 12)}… of slide ${index} is not on this device`);
    const previous = this.view;
    const view: DisplayView = { id: this.nextId++, kind: slide.kind, slide, occurrence: occ.key, index, ...(sha ? { mediaUrl: `/media/${sha}` } : {}) };
    const startMono = clock.monotonic();
    const elapsed = (): number => Math.max(0, clock.monotonic() - startMono);
    const ack = this.awaitReport(`view:${view.id}`);
    this.set({ view });
    let report: DisplayReport | null;
    try {
      report = await this.withTimeout(ack.promise, signal);
    } catch (e) {
      if (!(e instanceof AbortError)) throw e;
      ack.cancel();
      return { status: 'aborted', playedMs: elapsed() };
    }
    ack.cancel();
    const now = clock.now();
    if (report?.status === 'error') {
      // The page keeps what it showed before; so does a page that reconnects.
      if (this.view.id === view.id) this.set({ view: previous });
      const code = (report.code && PAGE_CODES.includes(report.code) ? report.code : 'LOA_ERR_DISPLAY_MEDIA') as ErrorCode;
      return failed(code, `slide ${index} (${slide.kind}) could not be shown: ${(report.message ?? 'the page refused it').slice(0, 300)}`);
    }
    if (report) {
      this.o.outbox.add('display.show', `show:${occ.key}:${index}:${now}`, now, {
        occurrence: occ.key, entryId: occ.entryId, programId: occ.programId, index, kind: slide.kind, ...(sha ? { sha256: sha } : {}),
        durationMs: item.durationMs, offsetMs: Math.round(req.offsetMs), ...(report.fit ? { fit: report.fit } : {}),
      });
    } else {
      this.o.log.warn({ occurrence: occ.key, index }, 'the board page did not confirm the slide');
      this.o.outbox.add('display.fault', `nopage:${occ.key}:${index}:${now}`, now, { occurrence: occ.key, index, kind: slide.kind, code: 'LOA_ERR_DISPLAY_NO_PAGE', message: `no page confirmed slide ${index} within ${this.ackTimeoutMs} ms` });
    }
    const length = Math.max(0, item.durationMs - req.offsetMs);
    try {
      await clock.sleep(Math.max(0, length - elapsed()), signal);
    } catch (e) {
      if (!(e instanceof AbortError)) throw e;
      return { status: 'aborted', playedMs: Math.min(length, elapsed()) };
    }
    return { status: 'completed', playedMs: length };
  }

  /** Back to the idle screen (clock and board name): nothing scheduled is on. */
  idle(): void {
    if (this.view.kind !== 'idle') this.set({ view: { id: this.nextId++, kind: 'idle' } });
  }

  /**
   * Scheduler hook: an emergency play puts its alert over the screen until that play ends (finished,
   * cancelled, preempted); any other play that ends leaves the idle screen behind it.
   */
  onPlay(occ: Occurrence, phase: 'start' | 'end' | 'skip'): void {
    if (occ.alert) {
      if (phase === 'start') this.showAlert({ key: occ.key, title: occ.alert.title, ...(occ.alert.text ? { text: occ.alert.text } : {}) });
      else if (this.alert?.key === occ.key) this.set({ alert: null });
      return;
    }
    if (phase !== 'start' && this.view.occurrence === occ.key) this.idle();
  }

  private showAlert(alert: DisplayAlert): void {
    this.set({ alert });
    const ack = this.awaitReport(`alert:${alert.key}`);
    void this.withTimeout(ack.promise).catch(() => null).then((r) => {
      ack.cancel();
      const now = this.o.clock.now();
      if (r?.status === 'shown') this.o.outbox.add('display.show', `alert:${alert.key}`, now, { occurrence: alert.key, kind: 'alert', title: alert.title });
      else this.o.outbox.add('display.fault', `alert-fault:${alert.key}`, now, { occurrence: alert.key, kind: 'alert', code: 'LOA_ERR_DISPLAY_NO_PAGE', message: 'the board page did not confirm the emergency alert' });
    });
  }

  /** The page's report, or null after ackTimeoutMs; rejects with AbortError when `signal` aborts first. */
  private async withTimeout(p: Promise<DisplayReport>, signal?: AbortSignal): Promise<DisplayReport | null> {
    const stop = new AbortController();
    const timer = this.o.clock.sleep(this.ackTimeoutMs, signal ? AbortSignal.any([signal, stop.signal]) : stop.signal).then(() => null);
    void timer.catch(() => undefined);
    try {
      return await Promise.race([p, timer]);
    } finally {
      stop.abort();
    }
  }

  private awaitReport(key: string): { promise: Promise<DisplayReport>; cancel(): void } {
    let resolve!: (r: DisplayReport) => void;
    const promise = new Promise<DisplayReport>((r) => { resolve = r; });
    this.waiting.set(key, resolve);
    return { promise, cancel: () => { if (this.waiting.get(key) === resolve) this.waiting.delete(key); } };
  }

  private set(patch: { view?: DisplayView; alert?: DisplayAlert | null }): void {
    if (patch.view) this.view = patch.view;
    if (patch.alert !== undefined) this.alert = patch.alert;
    this.rev++;
    const s = this.state();
    for (const fn of this.listeners) {
      try {
        fn(s);
      } catch (e) {
        this.o.log.error({ err: e }, 'display listener failed');
      }
    }
  }
}

function failed(code: ErrorCode, message: string): PlayResult {
  return { status: 'failed', playedMs: 0, error: new LoaError(code, message) };
}
