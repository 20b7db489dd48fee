import type { Browser } from 'playwright-core';
import { AbortError, type Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

export interface Screenshot {
  mime: 'image/webp' | 'image/png';
  body: Buffer;
  /** Device time when it was taken, ms. */
  takenAt: number;
}

/** Takes a low-resolution picture of what the board shows. */
export interface ScreenCapturer {
  capture(): Promise<Omit<Screenshot, 'takenAt'>>;
  close(): Promise<void>;
}

export interface CdpCapturerOptions {
  /** The kiosk Chromium's DevTools endpoint (`--remote-debugging-port`), e.g. http://127.0.0.1:9222. */
  cdpUrl: string;
  /** The board page's URL: the tab whose URL starts with it is captured. */
  pageUrl: string;
  maxWidth: number;
  quality: number;
}

/**
 * Screenshots of the kiosk Chromium through the DevTools protocol (playwright-core `connectOverCDP`): the
 * board page's tab is captured as WebP, scaled down to `maxWidth` by Chromium itself, so a 1920×1080 LCD
 * costs a few tens of kB. The connection is kept and made again after the browser restarts.
 */
export class CdpCapturer implements ScreenCapturer {
  private browser: Browser | null = null;

  constructor(private readonly o: CdpCapturerOptions) {}

  async capture(): Promise<Omit<Screenshot, 'takenAt'>> {
    if (!this.browser?.isConnected()) {
      const { chromium } = await import('playwright-core');
      this.browser = await chromium.connectOverCDP(this.o.cdpUrl, { timeout: 10_000 });
    }
    const origin = new URL(this.o.pageUrl).origin;
    const page = this.browser.contexts().flatMap((c) => c.pages()).find((p) => p.url().startsWith(origin));
    if (!page) throw new LoaError('LOA_ERR_DISPLAY_NO_PAGE', `no Chromium tab shows ${this.o.pageUrl}`);
    const session = await page.context().newCDPSession(page);
    try {
      const { w, h } = await page.evaluate(() => { const g = globalThis as unknown as { innerWidth: number; innerHeight: number }; return { w: g.innerWidth, h: g.innerHeight }; });
      const scale = Math.min(1, this.o.maxWidth / Math.max(1, w));
      const r = await session.send('Page.captureScreenshot', { format: 'webp', quality: this.o.quality, clip: { x: 0, y: 0, width: w, height: h, scale } });
      return { mime: 'image/webp', body: Buffer.from(r.data, 'base64') };
    } finally {
      await session.detach().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    // Only the connection is closed: the kiosk browser is not ours to stop.
    const b = this.browser;
    this.browser = null;
    await b?.close().catch(() => undefined);
  }
}

export interface UploaderOptions {
  baseUrl: string;
  deviceId: string;
  /** A fresh device token per request. */
  token: () => string;
  fetch?: typeof fetch;
}

/**
 * Sends a screenshot to the controller: `PUT /api/v1/devices/{id}/screenshot` with the device token. HTTP
 * rather than MQTT: an image is binary and tens of kB, only the latest one matters, and the broker's frame
 * guard and telemetry schema are for small JSON messages.
 */
export function httpUploader(o: UploaderOptions): (shot: Screenshot) => Promise<void> {
  const f = o.fetch ?? fetch;
  return async (shot) => {
    const url = new URL(`api/v1/devices/${encodeURIComponent(o.deviceId)}/screenshot`, o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`);
    let res: Response;
    try {
      res = await f(url, {
        method: 'PUT', body: new Uint8Array(shot.body), signal: AbortSignal.timeout(30_000),
        headers: { authorization: `Bearer ${o.token()}`, 'content-type': shot.mime, 'x-loa-taken-at': String(shot.takenAt) },
      });
    } catch (e) {
      throw new LoaError('LOA_ERR_SCREENSHOT_FAILED', `the screenshot could not be sent: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) throw new LoaError('LOA_ERR_SCREENSHOT_FAILED', `the controller refused the screenshot (${res.status}): ${text.slice(0, 200)}`);
  };
}

export interface ScreenshotLoopOptions {
  capturer: ScreenCapturer;
  /** Where each screenshot goes (the controller); null keeps only the latest in memory. */
  upload: () => ((shot: Screenshot) => Promise<void>) | null;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  onFault: (err: LoaError) => void;
}

/** Proof-of-display pictures: every intervalMs, one capture and one upload; failures are reported, never fatal. */
export class ScreenshotLoop {
  private ctl = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  latest: Screenshot | null = null;
  sent = 0;

  constructor(private readonly o: ScreenshotLoopOptions) {}

  start(): void {
    this.ctl = new AbortController();
    this.loopDone = this.loop(this.ctl.signal);
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    await this.loopDone;
    await this.o.capturer.close();
  }

  /** One capture and upload now. Returns true when the controller took it. */
  async once(): Promise<boolean> {
    try {
      const shot = { ...(await this.o.capturer.capture()), takenAt: this.o.clock.now() };
      this.latest = shot;
      const up = this.o.upload();
      if (!up) return false;
      await up(shot);
      this.sent++;
      return true;
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_SCREENSHOT_FAILED');
      this.o.log.warn({ code: err.code }, `screenshot: ${err.message}`);
      this.o.onFault(err);
      return false;
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    // The first picture soon after start (once the kiosk has the page), then one every interval.
    let wait = Math.min(this.o.intervalMs, 5000);
    while (!signal.aborted) {
      try {
        await this.o.clock.sleep(wait, signal);
        wait = this.o.intervalMs;
      } catch (e) {
        if (!(e instanceof AbortError)) throw e;
        return;
      }
      await this.once();
    }
  }
}
