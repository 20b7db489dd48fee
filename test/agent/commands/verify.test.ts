import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CommandStore } from '../../../agent/commands/store.js';
import { verifyDeviceCommand } from '../../../agent/commands/verify.js';
import { openDb } from '../../../agent/store/db.js';
import { canonicalize, generateKeyPair, signEnvelope } from '../../../shared/crypto.js';
import { LoaError } from '../../../shared/errors.js';
import type { DeviceCommand } from '../../../shared/schemas/command.js';
import { makeTrust } from '../../support/trust.js';

const trust = makeTrust();
const NOW = Date.parse('2026-11-23T03:00:00Z');
let seq = 1_795_000_000;

function command(over: Partial<DeviceCommand> = {}): DeviceCommand {
  return {
    _type: 'command', schemaVersion: 1, commandId: `cmd-${seq}`, deviceId: 'dev-001', seq: ++seq, nonce: randomBytes(16).toString('base64url'),
    issuedAt: new Date(NOW).toISOString(), expiresAt: new Date(NOW + 300_000).toISOString(), type: 'volume', params: { volume: 40 }, ...over,
  } as DeviceCommand;
}
const sign = (c: DeviceCommand, key = trust.schedule.privateKeyPem): string => canonicalize(signEnvelope(c, [key]));
const ctx = (over: Partial<Parameters<typeof verifyDeviceCommand>[1]> = {}): Parameters<typeof verifyDeviceCommand>[1] => ({ root: trust.root, deviceId: 'dev-001', now: NOW, seen: () => false, ...over });
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof LoaError) return e.code;
    throw e;
  }
  return 'accepted';
};

test('accepts a command signed by a schedule key of the root, for this device, in its lifetime', () => {
  const env = verifyDeviceCommand(sign(command()), ctx());
  assert.equal(env.signed.type, 'volume');
  assert.deepEqual(env.signed.params, { volume: 40 });
});

test('rejects a tampered command: its parameters changed after signing', () => {
  const env = JSON.parse(sign(command())) as { signed: DeviceCommand };
  (env.signed as { params: { volume: number } }).params.volume = 100;
  assert.equal(code(() => verifyDeviceCommand(JSON.stringify(env), ctx())), 'LOA_ERR_COMMAND_SIGNATURE');
});

test('rejects a command for another device, and any command on a device the root revokes', () => {
  assert.equal(code(() => verifyDeviceCommand(sign(command({ deviceId: 'dev-002' })), ctx())), 'LOA_ERR_COMMAND_WRONG_DEVICE');
  const revoked = makeTrust({ revokedDevices: ['dev-001'] });
  assert.equal(code(() => verifyDeviceCommand(sign(command(), revoked.schedule.privateKeyPem), ctx({ root: revoked.root }))), 'LOA_ERR_COMMAND_WRONG_DEVICE');
});

test('rejects an expired command, one issued in the future, and one that lives longer than 15 minutes', () => {
  assert.equal(code(() => verifyDeviceCommand(sign(command()), ctx({ now: NOW + 300_000 }))), 'LOA_ERR_COMMAND_EXPIRED');
  assert.equal(code(() => verifyDeviceCommand(sign(command()), ctx({ now: NOW - 6 * 60_000 }))), 'LOA_ERR_COMMAND_EXPIRED');
  assert.equal(code(() => verifyDeviceCommand(sign(command({ expiresAt: new Date(NOW + 16 * 60_000).toISOString() })), ctx())), 'LOA_ERR_COMMAND_EXPIRED');
});

test('rejects a command signed by an unknown key, by the emergency key, or by a revoked schedule key', () => {
  assert.equal(code(() => verifyDeviceCommand(sign(command(), generateKeyPair().privateKeyPem), ctx())), 'LOA_ERR_COMMAND_SIGNATURE');
  assert.equal(code(() => verifyDeviceCommand(sign(command(), trust.emergency.privateKeyPem), ctx())), 'LOA_ERR_COMMAND_SIGNATURE');
  const revoked = makeTrust({ revokedKeys: [] });
  const root = { ...revoked.root, revokedKeys: [revoked.schedule.keyid] };
  assert.equal(code(() => verifyDeviceCommand(sign(command(), revoked.schedule.privateKeyPem), ctx({ root }))), 'LOA_ERR_COMMAND_SIGNATURE');
});

test('rejects a malformed command: unknown type, parameters out of range, extra fields', () => {
  for (const c of [command({ type: 'shutdown' } as never), command({ params: { volume: 101 } }), { ...command(), extra: 1 } as never]) {
    assert.equal(code(() => verifyDeviceCommand(sign(c), ctx())), 'LOA_ERR_COMMAND_INVALID');
  }
  assert.equal(code(() => verifyDeviceCommand('{not json', ctx())), 'LOA_ERR_JSON_PARSE');
});

test('rejects a replay after an agent restart: the same command, and an older seq with a fresh nonce, from the SQLite store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-replay-'));
  try {
    const c = command();
    const body = sign(c);
    let db = openDb({ path: join(dir, 'agent.db') });
    let store = new CommandStore(db);
    const env = verifyDeviceCommand(body, ctx({ seen: (n, s) => store.seen(n, s) }));
    store.record(env.signed, NOW);
    db.close();
    // The agent restarts.
    db = openDb({ path: join(dir, 'agent.db') });
    store = new CommandStore(db);
    const seen = (n: string, s: number): boolean => store.seen(n, s);
    assert.equal(code(() => verifyDeviceCommand(body, ctx({ seen }))), 'LOA_ERR_COMMAND_REPLAY');
    assert.equal(code(() => verifyDeviceCommand(sign(command({ seq: c.seq - 1 })), ctx({ seen }))), 'LOA_ERR_COMMAND_REPLAY');
    // Pruning expired commands keeps the last seq: the old command stays refused (by its expiry and its seq).
    store.prune(NOW + 600_000);
    assert.equal(code(() => verifyDeviceCommand(body, ctx({ seen, now: NOW + 1000 }))), 'LOA_ERR_COMMAND_REPLAY');
    assert.equal(code(() => verifyDeviceCommand(sign(command()), ctx({ seen }))), 'accepted', 'a newer seq is accepted');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
