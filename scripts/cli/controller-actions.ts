import { promptPassword } from '../lib/prompt.js';
import { openDb } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import { hashPassword, passwordProblem } from '../../controller/auth/password.js';
import { loadConfig } from '../../controller/config.js';
export { loadConfig };
import { Controller } from '../../controller/controller.js';
import { DataLayer } from '../../controller/data/index.js';
import { newId } from '../../controller/data/ids.js';
import { CONTROLLER_MIGRATIONS } from '../../controller/db/migrations.js';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { installGcSignal } from '../../shared/gc-signal.js';

/** Runs the controller until SIGTERM/SIGINT. */
export async function runController(configPath: string | undefined): Promise<void> {
  const config = loadConfig(configPath);
  const controller = new Controller({ config });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await controller.stop().catch((e: unknown) => controller.log.error({ err: e }, 'stop failed'));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  installGcSignal(); // the soak test's measurement hook; off unless LOA_GC_SIGNAL=1
  await controller.start();
  // SIGHUP: pick up a root and schedule key rotated offline (loa keys rotate-…); refused unless it chains.
  process.on('SIGHUP', () => {
    controller.reloadTrust({ actor: 'signal:SIGHUP', ip: null }).catch(() => undefined); // logged and audited by reloadTrust
  });
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, http: controller.httpUrl, mqtt: controller.mqttUrl, httpPort: controller.httpPort, mqttPort: controller.mqttPort }) + '\n');
}

export interface AdminInput {
  username: string;
  password: string;
  displayName?: string;
  provinceId: string;
  provinceName?: string;
  provinceCode?: string;
}

/** Makes the first admin (and the province zone it administers, when missing). */
export async function createAdmin(dataDir: string, a: AdminInput): Promise<{ userId: string; zoneId: string }> {
  const problem = passwordProblem(a.password);
  if (problem) throw new LoaError('LOA_ERR_SCHEMA', problem);
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  const db = openDb({ path: resolve(dataDir, 'controller.db'), migrations: CONTROLLER_MIGRATIONS });
  try {
    const data = new DataLayer(db);
    const hash = await hashPassword(a.password);
    const now = Date.now();
    return data.tx(() => {
      if (!data.zones.get(a.provinceId)) {
        data.zones.create({ id: a.provinceId, parentId: null, level: 'province', code: a.provinceCode ?? a.provinceId, name: a.provinceName ?? a.provinceId }, now);
      }
      const userId = newId('usr');
      data.users.create({ id: userId, username: a.username, displayName: a.displayName ?? a.username, passwordHash: hash }, now);
      data.users.setRoles(userId, [{ role: 'admin', zoneId: a.provinceId, canApprove: true }]);
      data.audit.add({ actor: 'cli', action: 'user.create', targetType: 'user', targetId: userId, zoneId: a.provinceId, details: { username: a.username, role: 'admin' } }, now);
      return { userId, zoneId: a.provinceId };
    });
  } finally {
    db.close();
  }
}

export async function readPassword(): Promise<string> {
  if (process.env.LOA_ADMIN_PASSWORD) return process.env.LOA_ADMIN_PASSWORD;
  return promptPassword();
}

