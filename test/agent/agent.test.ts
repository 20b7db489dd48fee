import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { parseProfile } from '../../agent/config/profile.js';
import { initIdentity } from '../../agent/identity.js';
import { sha256Hex, signEnvelope } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import { VirtualClock } from '../../shared/virtual-clock.js';
import { toneWav } from '../../shared/wav.js';
import { initKeys } from '../../scripts/cli/keys.js';
import { baseManifest } from '../support/trust.js';
import { RecordingSink } from '../support/doubles.js';

const vn = (s: string): number => Date.parse(`${s}:00+07:00`);

test('an agent whose relay port is missing reports a coded error naming the port and still plays its schedule', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-agent-'));
  try {
    const keys = initKeys(join(dir, 'keys'), 1, 1, 20);
    const wav = toneWav({ seconds: 0.2 });
    const sha = sha256Hex(wav);
    mkdirSync(join(dir, 'bundle', 'media'), { recursive: true });
    writeFileSync(join(dir, 'bundle', 'media', sha), wav);
    const m = baseManifest({
      media: [{ sha256: sha, size: wav.length, durationMs: 10_000 }],
      programs: [{ id: 'p', title: 'p', items: [{ kind: 'media', sha256: sha }] }],
      schedule: [{ id: 'e', programId: 'p', dtstart: '2026-11-23T06:00', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 60_000 }],
    });
    writeFileSync(join(dir, 'bundle', 'manifest.json'), JSON.stringify(signEnvelope(m, [readFileSync(keys.schedule, 'utf8')])));
    initIdentity(join(dir, 'dev'), 'dev-001');
    const clock = new VirtualClock({ start: vn('2026-11-23T05:59') });
    const sink = new RecordingSink(clock);
    const profile = parseProfile(JSON.stringify({ id: 'x', name: 'x', audio: { driver: 'none', device: 'default' }, relay: { type: 'lcus', port: '/dev/ttyLOA-missing', channels: 1 }, outputs: [{ name: 'amp', channels: [0], warmupMs: 1000, cooldownMs: 1000 }] }));
    const agent = new Agent({ dataDir: join(dir, 'dev'), profile, clock, sink, log: createLogger('test', { level: 'silent' }) });
    await agent.start();
    await agent.importRootThenBundle(join(keys.dir, 'root.json'), join(dir, 'bundle'));
    // One simulated second at a time: the relay's reconnect attempts are real (native) I/O that takes no simulated time.
    for (let t = clock.now(); t <= vn('2026-11-23T06:01'); t += 1000) {
      await clock.advanceTo(t);
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(sink.plays.length, 1, 'audio still plays');
    assert.equal(sink.plays[0]!.status, 'completed');
    const fault = agent.events().find((e) => e.type === 'relay.fault');
    assert.ok(fault, 'the relay problem is flagged in the events');
    assert.equal(fault.data.code, 'LOA_ERR_SERIAL_PORT_MISSING');
    assert.match(String(fault.data.message), /\/dev\/ttyLOA-missing/);
    await agent.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent whose profile names a nonexistent ALSA device reports LOA_ERR_AUDIO_DEVICE_NOT_FOUND and keeps running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-agent-'));
  try {
    initIdentity(join(dir, 'dev'), 'dev-001');
    const profile = parseProfile(JSON.stringify({ id: 'x', name: 'x', audio: { driver: 'alsa', device: 'hw:9,0' }, relay: { type: 'none' }, outputs: [{ name: 'amp', channels: [], warmupMs: 0, cooldownMs: 0 }] }));
    const agent = new Agent({ dataDir: join(dir, 'dev'), profile, clock: new VirtualClock({ start: vn('2026-11-23T05:59') }), log: createLogger('test', { level: 'silent' }) });
    await agent.start();
    const fault = agent.events().find((e) => e.type === 'audio.fault');
    assert.equal(fault?.data.code, 'LOA_ERR_AUDIO_DEVICE_NOT_FOUND');
    assert.match(String(fault?.data.message), /hw:9,0/);
    assert.equal(agent.status().deviceId, 'dev-001');
    await agent.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
