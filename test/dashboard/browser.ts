import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.LOA_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
export const hasChromium = (): boolean => existsSync(CHROMIUM);

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Signs in through the login page (the dashboard's own form). */
export async function signIn(page: Page, base: string, username: string, password: string, shot?: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.waitForSelector('#login');
  if (shot) await screenshot(page, shot);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login button[type=submit]');
  await page.waitForURL(`${base}/`);
  await ready(page);
}

/** Waits until the page module has rendered its content. */
export async function ready(page: Page): Promise<void> {
  await page.waitForSelector('#app[data-state=ready]', { timeout: 15_000 });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
