import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ControllerConfig } from '../../controller/config.js';
import { Controller } from '../../controller/controller.js';
import type { Clock } from '../../shared/clock.js';
import { createLogger } from '../../shared/log.js';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { createAdmin } from '../../scripts/cli/controller-actions.js';
import { initKeys } from '../../scripts/cli/keys.js';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

export interface TestController {
  dir: string;
  controller: Controller;
  admin: ApiClient;
  /** A fresh client (not signed in). */
  client(): ApiClient;
  close(): Promise<void>;
}

/** A real controller on random ports (HTTP + embedded MQTT), with keys, a province T01 and its admin. */
export async function startTestController(overrides: Record<string, unknown> = {}, opts: { clock?: Clock; /** Changes the keys folder before the controller reads it. */ keys?: (keysDir: string) => void } = {}): Promise<TestController> {
  const dir = mkdtempSync(join(tmpdir(), 'loa-ctl-'));
  initKeys(join(dir, 'keys'), 1, 1, 1);
  opts.keys?.(join(dir, 'keys'));
  await createAdmin(join(dir, 'data'), { ...ADMIN, provinceId: 'T01', provinceName: 'Tỉnh Thử Nghiệm' });
  const config: ControllerConfig = loadConfig(undefined, {}, {
    dataDir: join(dir, 'data'), keysDir: join(dir, 'keys'), logLevel: 'silent',
    http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 }, manifests: { debounceMs: 20 }, ...overrides,
  });
  const controller = new Controller({ config, log: createLogger('test-controller', { level: process.env.LOA_TEST_LOG ?? 'silent' }), ...(opts.clock ? { clock: opts.clock } : {}) });
  await controller.start();
  const admin = new ApiClient(controller.httpUrl);
  await admin.login(ADMIN.username, ADMIN.password);
  return {
    dir, controller, admin,
    client: () => new ApiClient(controller.httpUrl),
    close: async () => {
      await controller.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
