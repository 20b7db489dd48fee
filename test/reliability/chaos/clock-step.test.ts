/**
 * Clock steps in a real `loa agent run` process (issue 10 chaos): the agent's wall clock is stepped back and
 * forward through LOA_CLOCK_OFFSET_FILE (shared/file-offset-clock.ts) while its monotonic clock keeps running,
 * as NTP or a dead RTC battery does on a receiver. Invariants: a backward step never plays an occurrence twice;
 * a forward step does not play a burst of missed regular items (they are reported skipped with reason
 * `clock_step`), keeps a priority item it jumped over, and reports `clock.step` each time.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { sha256Hex, signEnvelope } from '../../../shared/crypto.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import { toneWav } from '../../../shared/wav.js';
import { initKeys } from '../../../scripts/cli/keys.js';
import { LOA, loaOk } from '../../support/loa-cli.js';
import { killOnExit } from '../../support/socat.js';
import { eventually } from '../../support/wait.js';
import { recordFigures } from '../support/mode.js';

const HOUR = 3_600_000;
const localStamp = (ms: number): string => new Date(ms + 7 * HOUR).toISOString().slice(0, 19);
const dir = mkdtempSync(join(tmpdir(), 'loa-clock-step-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Ev { type: string; at: number; data: Record<string, unknown> }
function events(dataDir: string): Ev[] {
  const db = new Database(join(dataDir, 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { type: string; at: number; data: string }>('SELECT type, at, data FROM outbox ORDER BY seq').all()
      .map((r) => ({ type: r.type, at: r.at, data: JSON.parse(r.data) as Record<string, unknown> }));
  } finally {
    db.close();
  }
}

test('a real agent whose wall clock steps back never replays, and one that steps forward skips what it jumped over but keeps a priority item', { timeout: 120_000 }, async () => {
  const keys = initKeys(join(dir, 'keys'), 1, 1, 1);
  const bundle = join(dir, 'bundle');
  mkdirSync(join(bundle, 'media'), { recursive: true });
  const tone = toneWav({ seconds: 1 });
  const media = [{ sha256: sha256Hex(tone), size: tone.length, durationMs: 1000 }];
  writeFileSync(join(bundle, 'media', media[0]!.sha256), tone);
  const t0 = Math.ceil((Date.now() + 6000) / 1000) * 1000;
  const entry = (id: string, at: number, priority: 'normal' | 'priority', maxDelayMs: number): Manifest['schedule'][number] =>
    ({ id, programId: 'tin', dtstart: localStamp(at), priority, volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs });
  const m: Manifest = {
    _type: 'manifest', schemaVersion: 1, deviceId: 'thon-dong-ho', version: 1, issuedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 7 * 24 * HOUR).toISOString(), timezone: 'Asia/Ho_Chi_Minh', media,
    programs: [{ id: 'tin', title: 'Bản tin', items: [{ kind: 'media', sha256: media[0]!.sha256 }] }],
    schedule: [
      entry('sang', t0, 'normal', 60_000),
      entry('trua', t0 + HOUR, 'normal', 5 * 60_000), // jumped over by the forward step: skipped, never played late
      entry('canh-bao', t0 + 1.5 * HOUR, 'priority', 4 * HOUR), // a priority item jumped over: still played
    ],
  };
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(signEnvelope(m, [readFileSync(keys.schedule, 'utf8')])));
  const data = join(dir, 'device');
  loaOk(['agent', 'init', '--data-dir', data, '--device-id', 'thon-dong-ho', '--root', join(keys.dir, 'root.json')]);
  loaOk(['agent', 'import', '--data-dir', data, bundle]);
  const profile = join(dir, 'profile.json');
  writeFileSync(profile, JSON.stringify({ id: 'clock', name: 'clock steps', audio: { driver: 'file', device: join(data, 'sink') }, relay: { type: 'none' }, outputs: [{ name: 'loa', channels: [], warmupMs: 0, cooldownMs: 0 }] }));
  const offsetFile = join(dir, 'offset');
  writeFileSync(offsetFile, '0');

  const agent: ChildProcess = spawn(process.execPath, [LOA, 'agent', 'run', '--data-dir', data, '--profile', profile], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOA_LOG_LEVEL: 'silent', LOA_CLOCK_OFFSET_FILE: offsetFile },
  });
  killOnExit(agent);
  try {
    const ends = (entryId: string): Ev[] => events(data).filter((e) => e.type === 'play.end' && e.data.entryId === entryId);
    const starts = (entryId: string): Ev[] => events(data).filter((e) => e.type === 'play.start' && e.data.entryId === entryId);
    const steps = (): Ev[] => events(data).filter((e) => e.type === 'clock.step');
    await eventually(() => ends('sang').length === 1, 30_000, 'the morning bulletin plays');

    // 1. Step back to 2 s before the morning bulletin, then let its start time pass again.
    const back = -(Date.now() - t0 + 2000);
    writeFileSync(offsetFile, String(back));
    await eventually(() => steps().some((e) => Number(e.data.driftMs) < -2000), 10_000, 'the backward step is reported');
    const wallAgain = Date.now() + back;
    await eventually(() => Date.now() + back > t0 + 4000, 20_000, 'the morning start time passes again on the stepped clock');
    assert.equal(starts('sang').length, 1, `the morning bulletin is not played again after the clock went back (stepped to ${new Date(wallAgain).toISOString()})`);

    // 2. Step forward two hours: past the noon bulletin (normal, 5 min delay) and the priority alert.
    writeFileSync(offsetFile, String(back + 2 * HOUR + 10_000));
    await eventually(() => steps().some((e) => Number(e.data.driftMs) > HOUR), 10_000, 'the forward step is reported');
    await eventually(() => ends('canh-bao').length === 1, 20_000, 'the priority alert jumped over still plays');
    const skipped = events(data).filter((e) => e.type === 'play.skip' && e.data.entryId === 'trua');
    assert.equal(skipped.length, 1, 'the noon bulletin is reported skipped once');
    assert.equal(skipped[0]!.data.reason, 'clock_step');
    assert.equal(starts('trua').length, 0, 'the noon bulletin is not played late');
    assert.equal(starts('canh-bao').length, 1, 'the alert plays once');

    const sink = readFileSync(join(data, 'sink', 'plays.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
    assert.equal(sink.length, 2, 'the sink played exactly the morning bulletin and the alert');
    recordFigures({
      suite: 'chaos', what: 'clock steps in a real agent (back 2 s before a played item, then forward 2 h)',
      figures: { backStepMs: back, replays: starts('sang').length - 1, forwardStepMs: 2 * HOUR + 10_000, skippedAsClockStep: skipped.length, priorityKept: starts('canh-bao').length, clockStepEvents: steps().length },
      reproduce: 'npm test -- test/reliability/chaos/clock-step',
    });
  } finally {
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
  }
});
