import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Readable } from 'node:stream';
import { CommandHandler } from '../../../agent/commands/handler.js';
import { CommandStore } from '../../../agent/commands/store.js';
import { testToneMedia } from '../../../agent/commands/tone.js';
import { playVolume } from '../../../agent/commands/volume.js';
import { occurrenceOf } from '../../../agent/emergency/handler.js';
import { OutputController } from '../../../agent/outputs/controller.js';
import { MemoryRelayDriver } from '../../../agent/outputs/memory/driver.js';
import { checkRelays } from '../../../agent/outputs/relay-check.js';
import { canonicalize, generateKeyPair, sha256Hex, signEnvelope } from '../../../shared/crypto.js';
import { createLogger } from '../../../shared/log.js';
import type { DeviceCommand } from '../../../shared/schemas/command.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import type { OutputZone } from '../../../shared/schemas/hardware-profile.js';
import { schedulerHarness, type Harness } from '../../support/agent-harness.js';
import type { RecordingSink } from '../../support/doubles.js';
import { baseManifest, makeTrust } from '../../support/trust.js';

const vn = (s: string): number => Date.parse(`${s}+07:00`);
const A = 'a'.repeat(64);
const E = 'e'.repeat(64);
const trust = makeTrust();
const log = createLogger('test', { level: 'silent' });
let seq = 1_795_000_000;

const manifest = (): Manifest => baseManifest({
  media: [{ sha256: A, size: 100, durationMs: 60_000 }],
  programs: [{ id: 'pa', title: 'A', items: [{ kind: 'media', sha256: A }] }],
  schedule: [{ id: 'e0', programId: 'pa', dtstart: '2026-11-23T06:00', priority: 'priority', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000 }],
});

function signed(at: number, body: Pick<DeviceCommand, 'type' | 'params'>, key = trust.schedule.privateKeyPem): string {
  const c = {
    _type: 'command', schemaVersion: 1, commandId: `cmd-${++seq}`, deviceId: 'dev-001', seq, nonce: randomBytes(16).toString('base64url'),
    issuedAt: new Date(at).toISOString(), expiresAt: new Date(at + 300_000).toISOString(), ...body,
  } as DeviceCommand;
  return canonicalize(signEnvelope(c, [key]));
}

interface Rig { h: Harness; cmd: CommandHandler; store: CommandStore; restarts: string[]; put: string[]; driver: MemoryRelayDriver; outputs: OutputController }
const ZONES: OutputZone[] = [{ name: 'chinh', channels: [0], warmupMs: 0, cooldownMs: 0 }, { name: 'phu', channels: [1, 2], warmupMs: 0, cooldownMs: 0 }];

async function rig(dir: string, start: number): Promise<Rig> {
  let cmd: CommandHandler | null = null;
  let store: CommandStore | null = null;
  const h = schedulerHarness({
    start, manifest: manifest(), dir,
    scheduler: { onPlay: (o, p, d) => cmd?.onPlay(o, p, d), volumeOf: (o) => playVolume(o, store?.volume() ?? 100) },
  });
  store = new CommandStore(h.db);
  const driver = new MemoryRelayDriver({ channels: 3, clock: h.clock });
  const outputs = new OutputController({ profileOutputs: ZONES, driver, clock: h.clock, log, onEvent: () => undefined, checkMs: 0 });
  await outputs.start();
  const restarts: string[] = [];
  const put: string[] = [];
  cmd = new CommandHandler({
    deviceId: 'dev-001', store, outbox: h.outbox, scheduler: h.scheduler, root: () => trust.root, clock: h.clock, log,
    media: {
      has: () => false,
      put: async (e: { sha256: string }, src: Readable) => {
        const chunks: Buffer[] = [];
        for await (const c of src) chunks.push(c as Buffer);
        assert.equal(sha256Hex(Buffer.concat(chunks)), e.sha256, 'the tone bytes match their sha256');
        put.push(e.sha256);
      },
    },
    checkRelays: () => checkRelays(outputs, ZONES, { clock: h.clock, settleMs: 0 }),
    restart: (id) => restarts.push(id),
  });
  cmd.restore();
  h.scheduler.start();
  return { h, cmd, store, restarts, put, driver, outputs };
}

const acks = (h: Harness): { state: string; code?: string; result?: Record<string, unknown>; commandId: string }[] =>
  h.outbox.list().filter((e) => e.type === 'command.ack').map((e) => e.data as { state: string; code?: string; commandId: string; result?: Record<string, unknown> });
const plays = (h: Harness): RecordingSink['plays'] => (h.sink as RecordingSink).plays;

test('a test tone interrupts a directive program at once, plays 1 kHz for its duration at the device volume, acks received then done, and the program resumes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-'));
  const r = await rig(dir, vn('2026-11-23T05:59:00'));
  try {
    await r.h.clock.advanceTo(vn('2026-11-23T06:00:20'));
    assert.equal(await r.cmd.receive(signed(r.h.clock.now(), { type: 'volume', params: { volume: 50 } })), 'accepted');
    assert.equal(r.store.volume(), 50);
    const tone = testToneMedia(3);
    assert.equal(await r.cmd.receive(signed(r.h.clock.now(), { type: 'test_tone', params: { durationS: 3 } })), 'accepted');
    assert.deepEqual(r.put, [tone.sha256]);
    assert.deepEqual(r.cmd.activeMedia(), [tone.sha256], 'kept from the media garbage collector while queued');
    await r.h.clock.advanceTo(vn('2026-11-23T06:01:30'));
    const p = plays(r.h);
    // The program started before the volume command (80); the tone and the resumed program play at 50 %.
    assert.deepEqual(p.map((x) => [x.ref === tone.sha256 ? 'tone' : 'program', x.volume]), [['program', 80], ['tone', 50], ['program', 40]]);
    const t = p[1]!;
    assert.equal(t.endedAt! - t.startedAt, 3000);
    const a = acks(r.h);
    assert.deepEqual(a.map((x) => x.state), ['received', 'done', 'received', 'done']);
    assert.deepEqual(a[3]!.result, { hz: 1000, durationMs: 3000, sha256: tone.sha256 });
    assert.deepEqual(r.cmd.activeMedia(), []);
  } finally {
    await r.outputs.stop();
    await r.h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a test tone never interrupts an emergency: it waits, and is skipped and reported failed when the emergency holds the loudspeakers past a minute', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-'));
  const r = await rig(dir, vn('2026-11-23T05:50:00'));
  try {
    const now = r.h.clock.now();
    const em = occurrenceOf({
      _type: 'emergency', schemaVersion: 1, orderId: 'em-1', action: 'start', seq: 1, nonce: 'x'.repeat(22), issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(), target: { zones: [], devices: ['dev-001'] }, title: 'Lũ', repeat: 1, outputs: [],
      content: { kind: 'media', sha256: E, size: 10, durationMs: 120_000 },
    }, now);
    r.h.scheduler.addAdhoc(em);
    await r.h.clock.advanceBy(5000);
    assert.equal(await r.cmd.receive(signed(r.h.clock.now(), { type: 'test_tone', params: { durationS: 2 } })), 'accepted');
    await r.h.clock.advanceBy(180_000);
    const p = plays(r.h);
    assert.equal(p[0]!.ref, E);
    assert.equal(p[0]!.status, 'completed', 'the emergency played to its end');
    assert.equal(p[0]!.volume, 100, 'at its own volume');
    assert.ok(!p.some((x) => x.ref === testToneMedia(2).sha256), 'the tone never played');
    const last = acks(r.h).at(-1)!;
    assert.equal(last.state, 'failed');
    assert.equal(last.code, 'LOA_ERR_COMMAND_SKIPPED');
  } finally {
    await r.outputs.stop();
    await r.h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the device volume is kept across a restart, and scales regular plays but never emergencies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-'));
  let r = await rig(dir, vn('2026-11-23T05:00:00'));
  await r.cmd.receive(signed(r.h.clock.now(), { type: 'volume', params: { volume: 25 } }));
  await r.outputs.stop();
  await r.h.close();
  r = await rig(dir, vn('2026-11-23T05:01:00'));
  try {
    assert.equal(r.store.volume(), 25);
    const occ = { rank: 2, volume: 80 } as Parameters<typeof playVolume>[0];
    assert.equal(playVolume(occ, r.store.volume()), 20);
    assert.equal(playVolume({ ...occ, rank: 4, volume: 95 }, r.store.volume()), 95);
  } finally {
    await r.outputs.stop();
    await r.h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a refused command is acknowledged as rejected with its code and never executed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-'));
  const r = await rig(dir, vn('2026-11-23T05:00:00'));
  try {
    const now = r.h.clock.now();
    assert.equal(await r.cmd.receive(signed(now, { type: 'volume', params: { volume: 5 } }, generateKeyPair().privateKeyPem)), 'rejected');
    assert.equal(await r.cmd.receive(signed(now - 600_000, { type: 'reboot', params: {} })), 'rejected');
    const ok = signed(now, { type: 'volume', params: { volume: 60 } });
    assert.equal(await r.cmd.receive(ok), 'accepted');
    assert.equal(await r.cmd.receive(ok), 'rejected');
    assert.deepEqual(acks(r.h).map((a) => `${a.state}${a.code ? `:${a.code}` : ''}`), [
      'rejected:LOA_ERR_COMMAND_SIGNATURE', 'rejected:LOA_ERR_COMMAND_EXPIRED', 'received', 'done', 'rejected:LOA_ERR_COMMAND_REPLAY',
    ]);
    assert.equal(r.store.volume(), 60, 'only the valid command changed the volume');
    assert.deepEqual(r.restarts, [], 'the refused reboot did nothing');
  } finally {
    await r.outputs.stop();
    await r.h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a relay check switches each free channel on then off with read-back, and reports a stuck relay per channel and per output', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-'));
  const r = await rig(dir, vn('2026-11-23T05:00:00'));
  try {
    r.driver.stick(2, false);
    await r.cmd.receive(signed(r.h.clock.now(), { type: 'relay_check', params: {} }));
    const last = acks(r.h).at(-1)!;
    assert.equal(last.state, 'failed');
    assert.equal(last.code, 'LOA_ERR_RELAY_READBACK');
    const res = last.result as { channels: { channel: number; status: string }[]; outputs: unknown[]; ok: boolean };
    assert.deepEqual(res.channels.map((c) => [c.channel, c.status]), [[0, 'ok'], [1, 'ok'], [2, 'failed']]);
    assert.deepEqual(res.outputs, [{ name: 'chinh', status: 'ok' }, { name: 'phu', status: 'failed' }]);
    assert.equal(res.ok, false);
    assert.deepEqual(r.driver.board, [false, false, false], 'everything off afterwards');
    r.driver.stick(2, undefined);
    await r.cmd.receive(signed(r.h.clock.now(), { type: 'relay_check', params: {} }));
    assert.equal(acks(r.h).at(-1)!.state, 'done');
  } finally {
    await r.outputs.stop();
    await r.h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reboot acks received, asks to restart the service, and is acknowledged done once the agent runs again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-cmd-'));
  let r = await rig(dir, vn('2026-11-23T05:00:00'));
  await r.cmd.receive(signed(r.h.clock.now(), { type: 'reboot', params: {} }));
  const id = acks(r.h)[0]!.commandId;
  assert.deepEqual(r.restarts, [id]);
  assert.deepEqual(acks(r.h).map((a) => a.state), ['received']);
  await r.outputs.stop();
  await r.h.close();
  r = await rig(dir, vn('2026-11-23T05:00:20'));
  try {
    const a = acks(r.h);
    assert.deepEqual(a.map((x) => x.state), ['received', 'done']);
    assert.equal(a[1]!.result?.restarted, true);
    assert.deepEqual(r.restarts, [], 'not restarted again');
  } finally {
    await r.outputs.stop();
    await r.h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
