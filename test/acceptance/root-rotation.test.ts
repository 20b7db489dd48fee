import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { SignedRoot } from '../../shared/schemas/root.js';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { loaOk, runLoa, SIM_PROFILE, startLoa, stopAll } from '../support/loa-cli.js';
import { baseManifest } from '../support/trust.js';
import { eventually } from '../support/wait.js';

const PROFILE = SIM_PROFILE;
const PASS = 'mật khẩu của tỉnh 2026';

const run = runLoa;
function loa(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  return JSON.parse(loaOk(args, env).trim().split('\n').pop()!) as Record<string, unknown>;
}
const start = startLoa;

/** What the operator copies from the offline ceremony folder to the controller: never the root keys. */
function copyToController(ceremony: string, ctlKeys: string): void {
  mkdirSync(ctlKeys, { recursive: true, mode: 0o700 });
  cpSync(join(ceremony, 'root.json'), join(ctlKeys, 'root.json'));
  cpSync(join(ceremony, 'roots'), join(ctlKeys, 'roots'), { recursive: true });
  cpSync(join(ceremony, 'schedule.key'), join(ctlKeys, 'schedule.key'));
}

function deviceRootVersion(agentDir: string): number {
  const db = new Database(join(agentDir, 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT max(version) AS v FROM trust_root').get() as { v: number }).v;
  } finally {
    db.close();
  }
}

test('root rotation with real processes: rotate-online --revoke-old and rotate-root offline, reload (API, then SIGHUP), the device follows; the old online key is refused', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-rotate-'));
  const children: ChildProcess[] = [];
  const env = { LOA_KEY_PASSPHRASE: PASS };
  try {
    // The ceremony (offline machine): 2-of-3 root keys, encrypted.
    const ceremony = join(dir, 'ceremony');
    loa(['keys', 'init', '--out', ceremony, '--count', '3', '--threshold', '2', '--encrypt'], env);
    const ctlKeys = join(dir, 'controller-keys');
    copyToController(ceremony, ctlKeys);

    const config = join(dir, 'controller.json');
    writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'controller'), keysDir: ctlKeys, http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 }, manifests: { debounceMs: 50 } }));
    loa(['controller', 'admin', 'create', '--config', config, '--username', 'admin', '--province', 'T01', '--province-name', 'Tỉnh Thử'], { LOA_ADMIN_PASSWORD: 'rotation-admin-password' });
    const ctl = await start(['controller', 'run', '--config', config]);
    children.push(ctl.child);
    const api = new ApiClient(String(ctl.ready.http));
    await api.login('admin', 'rotation-admin-password');
    await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: 'X01', name: 'Xã Tân Lập' });
    await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
    await api.post('/api/v1/devices', { id: 'loa-rot-1', zoneId: 'X01-C1', name: 'Loa thôn Đông' });
    const { token } = await api.post<{ token: string }>('/api/v1/devices/loa-rot-1/enrollment-token');
    const agentDir = join(dir, 'agent');
    mkdirSync(agentDir);
    loa(['agent', 'enroll', '--data-dir', agentDir, '--controller', String(ctl.ready.http), '--token', token]);
    const agent = await start(['agent', 'run', '--data-dir', agentDir, '--profile', PROFILE]);
    children.push(agent.child);

    type Dev = { device: { appliedVersion: number; manifestVersion: number; online: boolean } };
    const device = async (): Promise<Dev['device']> => (await api.get<Dev>('/api/v1/devices/loa-rot-1')).device;
    const inSync = async (after: number): Promise<boolean> => { const d = await device(); return d.online && d.appliedVersion > after && d.appliedVersion === d.manifestVersion; };
    await eventually(() => inSync(0), 20_000, 'the device applies its first manifest');
    assert.equal(deviceRootVersion(agentDir), 1);
    const v1Applied = (await device()).appliedVersion;

    // 1. Rotate the schedule key offline, revoking the old one; copy to the controller; reload through the API.
    const rot = loa(['keys', 'rotate-online', '--keys', ceremony, '--role', 'schedule', '--revoke-old'], env);
    assert.equal(rot.version, 2);
    copyToController(ceremony, ctlKeys);
    const reload = await api.post<{ reloaded: boolean; version: number }>('/api/v1/trust/reload');
    assert.deepEqual([reload.reloaded, reload.version], [true, 2]);
    await eventually(() => inSync(v1Applied), 20_000, 'the device applies the manifest re-signed with the new schedule key');
    assert.equal(deviceRootVersion(agentDir), 2, 'the device installed root v2 from the controller');
    const v2Applied = (await device()).appliedVersion;

    // A manifest signed by the old (revoked) schedule key, brought on a USB stick: refused with its code.
    const unsigned = join(dir, 'm.json');
    writeFileSync(unsigned, JSON.stringify(baseManifest({ deviceId: 'loa-rot-1', version: v2Applied + 1000, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString() })));
    const bundle = join(dir, 'usb');
    mkdirSync(join(bundle, 'media'), { recursive: true });
    loa(['manifest', 'sign', '--in', unsigned, '--key', join(ceremony, 'retired', 'v1-schedule.key'), '--out', join(bundle, 'manifest.json')]);
    const imp = run(['agent', 'import', '--data-dir', agentDir, bundle]);
    assert.equal(imp.status, 1, imp.stdout);
    assert.match(imp.stderr, /LOA_ERR_MANIFEST_REVOKED_KEY/);
    assert.equal((await device()).appliedVersion, v2Applied, 'the manifest in force stays');

    // 2. Rotate the root keys (new 2-of-2, signed by the old and new thresholds); reload with SIGHUP.
    loa(['keys', 'rotate-root', '--keys', ceremony, '--count', '2', '--threshold', '2', '--new-out', join(dir, 'new-root-keys'), '--encrypt'], env);
    copyToController(ceremony, ctlKeys);
    ctl.child.kill('SIGHUP');
    await eventually(async () => (await api.get<SignedRoot>('/api/v1/trust/root')).signed.version === 3, 10_000, 'the controller serves root v3 after SIGHUP');
    await eventually(() => inSync(v2Applied), 20_000, 'the device applies the manifest compiled after the SIGHUP reload');
    assert.equal(deviceRootVersion(agentDir), 3, 'the device walked to root v3 (new root keys)');
    const audit = await api.get<{ entries: { action: string; actor: string; details: { version?: number } }[] }>('/api/v1/audit?limit=20');
    assert.deepEqual(audit.entries.filter((e) => e.action === 'trust.reload').map((e) => [e.actor.startsWith('signal:') ? e.actor : 'user', e.details.version]), [['signal:SIGHUP', 3], ['user', 2]]);

    // The controller's chain is what a device anywhere on it can walk; the exported bundle is the same chain.
    const exported = join(dir, 'trust.json');
    loa(['keys', 'export-trust', '--keys', ceremony, '--out', exported]);
    const chain = JSON.parse(readFileSync(exported, 'utf8')) as unknown[];
    for (const [i, env1] of chain.entries()) assert.deepEqual(await api.get(`/api/v1/trust/root/${i + 1}`), env1);
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});
