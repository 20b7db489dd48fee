import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadIdentity } from '../../../agent/identity.js';
import { ManifestManager } from '../../../agent/manifest/manager.js';
import { MediaStore } from '../../../agent/media/store.js';
import { openDb } from '../../../agent/store/db.js';
import { Outbox } from '../../../agent/store/outbox.js';
import { loadControllerConfig } from '../../../agent/sync/config.js';
import { enroll, registerAgent } from '../../../scripts/cli/agent.js';
import { isLoaError, messageVi } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import type { EnrollRequest } from '../../../shared/schemas/telemetry.js';
import { FakeController } from '../../support/fake-controller.js';
import { makeTrust } from '../../support/trust.js';

const TOKEN = 'one-time-token-0123456789';

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(isLoaError(e), `a coded error, got ${String(e)}`);
    return { code: e.code, message: e.message };
  }
  return { code: 'none', message: '' };
}

function rootVersionIn(dataDir: string): number | undefined {
  const db = openDb({ path: join(dataDir, 'agent.db') });
  try {
    const log = createLogger('test', { level: 'silent' });
    return new ManifestManager({ db, outbox: new Outbox({ db, deviceId: () => 'x' }), media: new MediaStore({ dataDir, db, log, now: Date.now }), log, deviceId: 'x', now: Date.now }).root()?.version;
  } finally {
    db.close();
  }
}

test('enrolling makes the device key, sends its public key with the token, and writes the root, device.json and controller.json', async () => {
  const controller = await new FakeController().start();
  const dir = mkdtempSync(join(tmpdir(), 'loa-enroll-'));
  const trust = makeTrust();
  let seen: EnrollRequest | null = null;
  controller.enroll = (body) => {
    seen = body as EnrollRequest;
    return { status: 200, body: { deviceId: 'thon-3-an-phu', zoneId: 'cum-3', root: trust.signedRoot, controllerUrl: controller.url, mqttUrl: 'mqtt://127.0.0.1:1883' } };
  };
  try {
    const out = await enroll({ dataDir: dir, controller: controller.url, token: TOKEN, profile: 'rpi4-lcus2-usb-audio' });
    const id = loadIdentity(dir);
    assert.deepEqual(out, { enrolled: true, deviceId: 'thon-3-an-phu', keyid: id.keyid, rootVersion: 1, controllerUrl: controller.url, mqttUrl: 'mqtt://127.0.0.1:1883', zoneId: 'cum-3' });
    assert.deepEqual(seen, { token: TOKEN, publicKey: id.publicKey, hardwareProfile: 'rpi4-lcus2-usb-audio' });
    assert.equal(statSync(join(dir, 'device.key')).mode & 0o777, 0o600);
    assert.deepEqual(loadControllerConfig(dir), { controllerUrl: controller.url, mqttUrl: 'mqtt://127.0.0.1:1883', zoneId: 'cum-3' });
    assert.equal(rootVersionIn(dir), 1);

    // Running it again (same device, same root) is harmless and keeps the key.
    const key = readFileSync(join(dir, 'device.key'), 'utf8');
    await enroll({ dataDir: dir, controller: controller.url, token: TOKEN });
    assert.equal(readFileSync(join(dir, 'device.key'), 'utf8'), key);
  } finally {
    await controller.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a refused enrollment token gives the controller\'s code with its Vietnamese message, and nothing but the key is written', async () => {
  const controller = await new FakeController().start();
  const dir = mkdtempSync(join(tmpdir(), 'loa-enroll-'));
  controller.enroll = () => ({ status: 401, body: { error: { code: 'LOA_ERR_ENROLL_TOKEN', message: 'token used' } } });
  try {
    const { code, message } = await codeOf(enroll({ dataDir: dir, controller: controller.url, token: TOKEN }));
    assert.equal(code, 'LOA_ERR_ENROLL_TOKEN');
    assert.match(message, /401.*token used/);
    assert.match(messageVi('LOA_ERR_ENROLL_TOKEN'), /Mã đăng ký/);
    assert.ok(existsSync(join(dir, 'device.key')));
    assert.ok(!existsSync(join(dir, 'device.json')) && !existsSync(join(dir, 'controller.json')));

    controller.enroll = () => ({ status: 409, body: { error: { code: 'LOA_ERR_SOMETHING_NEW', message: 'x' } } });
    assert.equal((await codeOf(enroll({ dataDir: dir, controller: controller.url, token: TOKEN }))).code, 'LOA_ERR_ENROLL_FAILED', 'an unknown server code falls back to ours');
    assert.equal((await codeOf(enroll({ dataDir: dir, controller: controller.url, token: 'short' }))).code, 'LOA_ERR_ENROLL_TOKEN', 'a malformed token is refused before sending');
  } finally {
    await controller.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreachable controller or an answer that is not an EnrollResponse gives LOA_ERR_ENROLL_FAILED', async () => {
  const controller = await new FakeController().start();
  const dir = mkdtempSync(join(tmpdir(), 'loa-enroll-'));
  try {
    const closed = await new FakeController().start();
    await closed.close();
    const dead = await codeOf(enroll({ dataDir: dir, controller: closed.url, token: TOKEN }));
    assert.equal(dead.code, 'LOA_ERR_ENROLL_FAILED');
    assert.match(dead.message, /cannot be reached.*ECONNREFUSED/);

    controller.enroll = () => ({ status: 200, body: { deviceId: 'd', zoneId: 'z' } });
    const bad = await codeOf(enroll({ dataDir: dir, controller: controller.url, token: TOKEN }));
    assert.equal(bad.code, 'LOA_ERR_ENROLL_FAILED');
    assert.match(bad.message, /not a valid enroll response/);

    controller.enroll = () => ({ status: 500, body: 'oops' });
    assert.equal((await codeOf(enroll({ dataDir: dir, controller: controller.url, token: TOKEN }))).code, 'LOA_ERR_ENROLL_FAILED');
    assert.equal((await codeOf(enroll({ dataDir: dir, controller: 'ftp://x', token: TOKEN }))).code, 'LOA_ERR_ENROLL_FAILED');
    assert.ok(!existsSync(join(dir, 'controller.json')));
  } finally {
    await controller.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loa agent enroll has help text naming its options and error codes', () => {
  const program = new Command('loa');
  registerAgent(program);
  const cmd = program.commands.find((c) => c.name() === 'agent')!.commands.find((c) => c.name() === 'enroll')!;
  let help = '';
  cmd.configureOutput({ writeOut: (s) => (help += s) });
  cmd.outputHelp();
  for (const s of ['--data-dir', '--controller', '--token', '--profile', 'LOA_ERR_ENROLL_FAILED', 'LOA_ERR_ENROLL_TOKEN']) assert.ok(help.includes(s), s);
});
