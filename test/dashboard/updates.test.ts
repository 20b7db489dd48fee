import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { DeploymentView } from '../../controller/releases/rollout.js';
import { ADMIN } from '../support/controller.js';
import { eventually } from '../support/wait.js';
import { makeRelease, releaseForm, startRig, type Rig } from '../controller/releases/rig.js';
import { hasChromium, launch, ready, screenshot, signIn } from './browser.js';

/** The "Cập nhật phần mềm" page in headless Chromium, against a real controller and protocol-level receivers. */
describe('software updates page in a browser', { skip: hasChromium() ? false : 'no Chromium' }, () => {
  let rig: Rig, browser: Browser, page: Page;
  const ids: string[] = [];

  before(async () => {
    rig = await startRig(3);
    const sha: string[] = [];
    for (const v of ['1.1.0', '1.2.0', '1.3.0']) {
      const r = makeRelease(rig.releaseKey, v, { size: 2048 });
      sha.push((await rig.t.admin.request<{ release: { sha256: string } }>('POST', '/api/v1/releases', releaseForm(r.signed, r.bytes))).release.sha256);
    }
    const deploy = async (i: number, waves: number[]): Promise<DeploymentView> => {
      const d = (await rig.t.admin.post<{ deployment: DeploymentView }>('/api/v1/deployments', { releaseSha256: sha[i], target: { zoneIds: ['X1'] }, waves })).deployment;
      ids.push(d.id);
      return d;
    };
    // 1.1.0 reaches every device; 1.2.0 rolls back on its canary and halts; 1.3.0 is left running.
    const d1 = await deploy(0, [100]);
    for (const r of rig.receivers) await r.report({ deploymentId: d1.id, version: '1.1.0', state: 'healthy', from: '1.0.0' });
    await eventually(async () => (await rig.t.admin.get<{ deployment: DeploymentView }>(`/api/v1/deployments/${d1.id}`)).deployment.state === 'completed', 5000, '1.1.0 completed');
    const d2 = await deploy(1, [1, 100]);
    const canary = rig.receivers.find((r) => r.id === d2.devices!.find((x) => x.wave === 1)!.deviceId)!;
    await canary.report({ deploymentId: d2.id, version: '1.2.0', state: 'rolled-back', from: '1.1.0', reason: 'LOA_ERR_UPDATE_HEALTH', message: 'health check failed: the scheduler did not start' });
    await eventually(async () => (await rig.t.admin.get<{ deployment: DeploymentView }>(`/api/v1/deployments/${d2.id}`)).deployment.state === 'halted', 5000, '1.2.0 halted');
    await deploy(2, [1, 100]);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await rig?.close();
  });

  it('shows each deployment\'s per-device versions and the failure reason, Vietnamese first, and pauses a running one', async () => {
    const base = rig.t.controller.httpUrl.replace(/\/$/, '');
    await signIn(page, base, ADMIN.username, ADMIN.password);
    assert.ok(await page.locator('nav a[href="/updates"]').count() === 1, 'the admin has the nav link');
    await page.goto(`${base}/updates`);
    await ready(page);
    assert.equal((await page.textContent('h1'))?.trim(), 'Cập nhật phần mềm');
    const [d1, d2, d3] = ids.map((id) => page.locator(`#dep-${id}`));
    assert.deepEqual(await d1!.locator('td.version').allTextContents(), ['1.1.0', '1.1.0', '1.1.0']);
    assert.equal(await d2!.getAttribute('data-state'), 'halted');
    assert.match(await d2!.locator('.halt').textContent() ?? '', /LOA_ERR_DEPLOYMENT_HALTED/);
    assert.deepEqual(await d2!.locator('tr[data-state="rolled-back"] td.reason').allTextContents(), ['LOA_ERR_UPDATE_HEALTH']);
    assert.match(await d2!.locator('tr[data-state="rolled-back"] td.state').textContent() ?? '', /Đã quay lại bản cũ/);
    await screenshot(page, 'page_updates');
    await d3!.locator('button.pause').click();
    await page.waitForSelector(`#dep-${ids[2]!}[data-state=paused]`);
    assert.equal((await rig.t.admin.get<{ deployment: DeploymentView }>(`/api/v1/deployments/${ids[2]!}`)).deployment.state, 'paused');
  });
});
