export { freePort } from './ports.js';
import type { Page } from 'playwright-core';

export const CHROMIUM = process.env.LOA_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of the acceptance runs (gitignored). */
export const SHOT_DIR = 'test-output/boards';

export interface ScreenSample {
  /** Kind of the one layer on screen (not a hidden `.next` one), or null. */
  kind: string | null;
  visibleLayers: number;
  alert: boolean;
  text: string;
}

/** What the board page shows right now, read from the DOM. */
export function sample(page: Page): Promise<ScreenSample> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null; textContent: string | null }>; getElementById(id: string): { classList: { contains(c: string): boolean }; textContent: string | null } | null } }).document;
    const layers = Array.from(doc.querySelectorAll('#stage .layer:not(.next)'));
    const alert = doc.getElementById('alert');
    const alertOn = !!alert && !alert.classList.contains('hidden');
    return {
      kind: layers[0]?.getAttribute('data-kind') ?? null, visibleLayers: layers.length, alert: alertOn,
      text: alertOn ? alert.textContent ?? '' : layers[0]?.textContent ?? '',
    };
  });
}

export interface FitReport {
  boxes: { fit: string; scrollWidth: number; clientWidth: number; scrollHeight: number; clientHeight: number; fontPx: number }[];
  pages: number;
}

/** Every auto-fitted box on screen: its scroll and client sizes and its computed font size. */
export function fitReport(page: Page): Promise<FitReport> {
  return page.evaluate(() => {
    type El = { getAttribute(n: string): string | null; scrollWidth: number; clientWidth: number; scrollHeight: number; clientHeight: number };
    const g = globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<El> }; getComputedStyle(e: El): { fontSize: string }; loaDisplay: { fit: { pages: number } | null } };
    const boxes = Array.from(g.document.querySelectorAll('#stage .layer:not(.next) [data-fit]')).map((b) => ({
      fit: b.getAttribute('data-fit') ?? '', scrollWidth: b.scrollWidth, clientWidth: b.clientWidth, scrollHeight: b.scrollHeight, clientHeight: b.clientHeight,
      fontPx: parseFloat(g.getComputedStyle(b).fontSize),
    }));
    return { boxes, pages: g.loaDisplay.fit?.pages ?? 0 };
  });
}
