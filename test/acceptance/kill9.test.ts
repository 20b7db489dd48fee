import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sha256Hex, signEnvelope } from '../../shared/crypto.js';
import type { Manifest } from '../../shared/schemas/manifest.js';
import { toneWav } from '../../shared/wav.js';
import { initKeys } from '../../scripts/cli/keys.js';
import { killOnExit } from '../support/socat.js';
import { waitUntil } from '../support/relay-emulator.js';
import { startEmulatedBoard } from '../support/board.js';

const LOA = join(process.cwd(), 'bin', 'loa.js');
const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

function loa(args: string[]): string {
  const r = spawnSync(process.execPath, [LOA, ...args], { encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
  assert.equal(r.status, 0, `loa ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

interface Ev { type: string; dedupe: string; data: Record<string, unknown> }
function events(dataDir: string): Ev[] {
  const db = new Database(join(dataDir, 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    assert.equal(db.pragma('quick_check', { simple: true }), 'ok', 'the database opens cleanly');
    return db.prepare<[], { type: string; dedupe: string; data: string }>('SELECT type, dedupe, data FROM outbox ORDER BY seq').all()
      .map((r) => ({ type: r.type, dedupe: r.dedupe, data: JSON.parse(r.data) as Record<string, unknown> }));
  } finally {
    db.close();
  }
}

function startAgent(dataDir: string, profile: string): ChildProcess {
  const child = spawn(process.execPath, [LOA, 'agent', 'run', '--data-dir', dataDir, '--profile', profile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
  killOnExit(child);
  return child;
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

test('kill -9 mid-play and mid-write: the database opens cleanly, outputs are forced off then restored, proof-of-play is exact, and the schedule resumes', { timeout: 120_000 }, async () => {
  const rig = await startEmulatedBoard('loa-kill9-', { protocol: 'lcus', channels: 2 });
  const { dir, board } = rig;
  const history: string[] = [];
  board.onChange = (s) => history.push(s.map((v) => (v ? '1' : '0')).join(''));
  try {
    const keys = initKeys(join(dir, 'keys'), 3, 2, 1);
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'media'), { recursive: true });
    const long = toneWav({ seconds: 0.2 });
    const short = toneWav({ seconds: 0.1, hz: 500 });
    const media = [{ sha256: sha256Hex(long), size: long.length, durationMs: 6000 }, { sha256: sha256Hex(short), size: short.length, durationMs: 300 }];
    writeFileSync(join(bundle, 'media', media[0]!.sha256), long);
    writeFileSync(join(bundle, 'media', media[1]!.sha256), short);
    const t0 = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const m: Manifest = {
      _type: 'manifest', schemaVersion: 1, deviceId: 'thon-kill9', version: 1, issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(), timezone: 'Asia/Ho_Chi_Minh', media,
      programs: [{ id: 'dai', title: 'Dài', items: [{ kind: 'media', sha256: media[0]!.sha256 }] }, { id: 'ngan', title: 'Ngắn', items: [{ kind: 'media', sha256: media[1]!.sha256 }] }],
      schedule: [
        { id: 'dai', programId: 'dai', dtstart: localStamp(t0), priority: 'normal', volume: 80, outputs: ['amp'], onPreempt: 'resume', maxDelayMs: 60_000 },
        // Many short plays after it: the agent writes proof-of-play all the time.
        { id: 'ngan', programId: 'ngan', dtstart: localStamp(t0 + 14000), rrule: 'FREQ=SECONDLY;INTERVAL=1;COUNT=8', priority: 'priority', volume: 70, outputs: ['amp'], onPreempt: 'restart', maxDelayMs: 60_000 },
      ],
    };
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(signEnvelope(m, [readFileSync(keys.schedule, 'utf8')])));
    const data = join(dir, 'device');
    loa(['agent', 'init', '--data-dir', data, '--device-id', 'thon-kill9', '--root', join(keys.dir, 'root.json')]);
    loa(['agent', 'import', '--data-dir', data, bundle]);
    const profile = join(dir, 'profile.json');
    writeFileSync(profile, JSON.stringify({
      id: 'kill9', name: 'kill -9 test', audio: { driver: 'file', device: join(data, 'sink') },
      relay: { type: 'lcus', port: rig.port, channels: 2 }, outputs: [{ name: 'amp', channels: [0, 1], warmupMs: 500, cooldownMs: 1000 }],
    }));

    // 1. Kill in the middle of the long play.
    let agent = startAgent(data, profile);
    await waitUntil(() => events(data).some((e) => e.type === 'play.start'), 15_000, 'the first play to start');
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(board.state, [true, true], 'amplifier on while playing');
    await killHard(agent);
    assert.deepEqual(board.state, [true, true], 'a killed agent cannot switch anything off');
    history.length = 0;

    agent = startAgent(data, profile);
    await waitUntil(() => events(data).filter((e) => e.type === 'play.start').length >= 2, 10_000, 'the play to resume');
    await waitUntil(() => history.includes('00') && history.at(-1) === '11', 5000, 'outputs forced off then restored');
    assert.equal(history[0], history.find((h) => h.includes('0')), 'the first switch after restart turns outputs off');

    // 2. Kill repeatedly while short plays are being written.
    await waitUntil(() => events(data).some((e) => e.type === 'play.start' && e.data.entryId === 'ngan'), 15_000, 'the short plays');
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 150 + i * 170));
      await killHard(agent);
      agent = startAgent(data, profile);
      await waitUntil(() => events(data).some((e) => e.type === 'agent.start' && events(data).filter((x) => x.type === 'agent.start').length >= 3 + i), 10_000, 'restart');
    }
    await waitUntil(() => {
      const ev = events(data);
      return ev.filter((e) => e.type === 'play.end' || e.type === 'play.skip').length > 0 && ev.filter((e) => e.data.entryId === 'ngan' && (e.type === 'play.skip' || (e.type === 'play.end' && e.data.status === 'completed'))).length >= 8;
    }, 30_000, 'every short play to finish or be skipped');
    await waitUntil(() => history.at(-1) === '00', 5000, 'outputs off after the cool-down');
    const stopped = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await stopped;

    const ev = events(data);
    const dedupes = ev.map((e) => e.dedupe);
    assert.equal(new Set(dedupes).size, dedupes.length, 'no event written twice');
    // Every attempt that started has exactly one end; every occurrence ends completed or skipped exactly once.
    const starts = ev.filter((e) => e.type === 'play.start').map((e) => `${String(e.data.occurrence)}#${String(e.data.attempt)}`);
    const ends = ev.filter((e) => e.type === 'play.end').map((e) => `${String(e.data.occurrence)}#${String(e.data.attempt)}`);
    assert.deepEqual([...ends].sort(), [...starts].sort(), 'every started attempt has one end, no end without a start');
    const occurrences = new Set(ev.filter((e) => e.type === 'play.start' || e.type === 'play.skip').map((e) => String(e.data.occurrence)));
    assert.equal(occurrences.size, 9, 'one long and eight short occurrences');
    for (const occ of occurrences) {
      const finals = ev.filter((e) => e.data.occurrence === occ && ((e.type === 'play.end' && e.data.status === 'completed') || e.type === 'play.skip'));
      assert.equal(finals.length, 1, `${occ} completed or was skipped exactly once`);
    }
    const long1 = ev.filter((e) => e.type === 'play.end' && String(e.data.occurrence).startsWith('dai@')).map((e) => e.data.status);
    assert.equal(long1[0], 'interrupted', 'the long play was cut by the kill');
    assert.equal(long1.at(-1), 'completed', 'the long play resumed and completed (a priority item may preempt it under load)');
  } finally {
    await rig.stop();
  }
});
