import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Agent } from '../../../agent/agent.js';
import { loadProfile } from '../../../agent/config/profile.js';
import { FileSink, type PlayRecord } from '../../../agent/player/file-sink.js';
import { SystemClock } from '../../../shared/clock.js';
import { sha256Hex, signEnvelope } from '../../../shared/crypto.js';
import { createLogger } from '../../../shared/log.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import { Timeline } from '../../../shared/timeline.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { toneWav } from '../../../shared/wav.js';
import { startTestController } from '../../support/controller.js';
import { loaOkAsync, SIM_PROFILE } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { pick, recordFigures } from '../support/mode.js';

const DAY = 86_400_000;
const log = createLogger('test', { level: 'silent' });
const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

test('30 days offline on an injected clock: every daily occurrence plays once, through the manifest expiring mid-way (stale), then a real controller receives every event once, in seq order', { timeout: 170_000 }, async (t) => {
  const days = pick(30, 30);
  const dir = mkdtempSync(join(tmpdir(), 'loa-offline-'));
  const ctl = await startTestController();
  let agent: Agent | null = null;
  try {
    const api = ctl.admin;
    await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: '19753', name: 'Xã Tân Lập' });
    await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
    await api.post('/api/v1/devices', { id: 'loa-30-ngay', zoneId: 'X01-C1', name: 'Loa 30 ngày' });
    const dataDir = join(dir, 'agent');
    mkdirSync(dataDir);
    const { token } = await api.post<{ token: string }>('/api/v1/devices/loa-30-ngay/enrollment-token');
    await loaOkAsync(['agent', 'enroll', '--data-dir', dataDir, '--controller', ctl.controller.httpUrl, '--token', token]);

    // Virtual time ends now: the device tokens it signs on reconnect are current for the controller.
    const end = Math.floor(Date.now() / DAY) * DAY - 7 * 3_600_000;
    const from = end - days * DAY;
    const wav = toneWav({ seconds: 0.3, hz: 500 });
    const media = [{ sha256: sha256Hex(wav), size: wav.length, durationMs: 120_000 }];
    const m: Manifest = {
      _type: 'manifest', schemaVersion: 1, deviceId: 'loa-30-ngay', version: 1, issuedAt: new Date(from).toISOString(),
      expiresAt: new Date(from + Math.floor(days / 2) * DAY).toISOString(), timezone: 'Asia/Ho_Chi_Minh', media,
      programs: [{ id: 'ban-tin', title: 'Bản tin', items: [{ kind: 'media', sha256: media[0]!.sha256 }] }],
      schedule: [{ id: 'ngay', programId: 'ban-tin', dtstart: localStamp(from + 6 * 3_600_000), rrule: 'FREQ=DAILY;BYHOUR=6,11,17;BYMINUTE=0', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000 }],
    };
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'media'), { recursive: true });
    writeFileSync(join(bundle, 'media', media[0]!.sha256), wav);
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(signEnvelope(m, [readFileSync(join(ctl.dir, 'keys', 'schedule.key'), 'utf8')])));
    const expected = new Timeline(m).between(from, end);
    assert.equal(expected.length, days * 3);

    // 1. Offline: the real agent (SQLite store, scheduler, file sink) with no controller, on a virtual clock.
    const clock = new VirtualClock({ start: from });
    const profile = loadProfile(SIM_PROFILE);
    const sinkDir = join(dataDir, 'sink');
    agent = new Agent({ dataDir, profile, clock, log, sink: new FileSink({ dir: sinkDir, clock, log }), sync: false, scheduler: { maxSleepMs: 3_600_000 }, diskCheckMs: 3_600_000 });
    await agent.start();
    await agent.importBundle(bundle);
    const started = performance.now();
    for (let at = from; at <= end; at += 3_600_000) await clock.advanceTo(at);
    const simulatedMs = performance.now() - started;
    await agent.stop();
    agent = null;

    const plays = readFileSync(join(sinkDir, 'plays.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PlayRecord);
    const completed = plays.filter((p) => p.status === 'completed').map((p) => p.key);
    assert.deepEqual([...completed].sort(), expected.map((o) => o.key).sort(), 'every scheduled occurrence played, none twice');
    const db = new Database(join(dataDir, 'agent.db'), { readonly: true });
    const outbox = db.prepare<[], { seq: number; type: string; data: string; sent_at: number | null }>('SELECT seq, type, data, sent_at FROM outbox ORDER BY seq').all();
    db.close();
    assert.ok(outbox.every((e) => e.sent_at === null), 'nothing was sent while offline');
    assert.ok(outbox.some((e) => e.type === 'manifest.stale'), 'the manifest expired mid-way and was flagged stale');
    const staleStarts = outbox.filter((e) => e.type === 'play.start' && (JSON.parse(e.data) as { stale?: boolean }).stale === true).length;
    assert.ok(staleStarts >= (days - Math.floor(days / 2) - 1) * 3, `${staleStarts} plays after the expiry carry the stale flag`);

    // 2. Back online (the device restarts on the real clock and finds its controller).
    agent = new Agent({ dataDir, profile, log, sink: new FileSink({ dir: sinkDir, clock: new SystemClock(), log }), sync: { drainPollMs: 100 } });
    await agent.start();
    const reconnected = Date.now();
    await eventually(() => agent!.unsentEvents(1).length === 0, 60_000, 'the outbox drains to the controller');
    const drainMs = Date.now() - reconnected;
    const ours = agent.events();
    await agent.stop();
    agent = null;

    const storedEvents = (): { seq: number; type: string; received_at: number }[] => {
      const cdb = new Database(join(ctl.dir, 'data', 'controller.db'), { readonly: true });
      try {
        return cdb.prepare<[string], { seq: number; type: string; received_at: number }>('SELECT seq, type, received_at FROM device_events WHERE device_id = ? ORDER BY seq').all('loa-30-ngay');
      } finally {
        cdb.close();
      }
    };
    const sent = ours.filter((e) => e.type !== 'agent.stop');
    // Acknowledged by the broker is not yet stored: the controller ingests in batches.
    await eventually(() => storedEvents().length >= sent.length, 20_000, 'the controller stores what it acknowledged');
    const stored = storedEvents();
    const storedBySeq = new Map(stored.map((e) => [e.seq, e]));
    const missing = sent.filter((e) => storedBySeq.get(e.seq)?.type !== e.type);
    assert.deepEqual(missing.map((e) => `${e.seq}:${e.type}`), [], 'every outbox event is stored by the controller under its seq');
    const received = stored.filter((e) => sent.some((s) => s.seq === e.seq));
    const outOfOrder = received.filter((e, i) => i > 0 && e.received_at < received[i - 1]!.received_at).length;
    assert.equal(outOfOrder, 0, 'delivered in seq order');
    const starts = stored.filter((e) => e.type === 'play.start').length;
    assert.equal(starts, expected.length, 'one play.start per occurrence at the controller: no duplicates, no loss');
    t.diagnostic(`${days} days simulated in ${Math.round(simulatedMs)} ms; ${sent.length} events delivered in ${drainMs} ms`);
    recordFigures({
      suite: 'storage', what: `offline autonomy: ${days} virtual days without a controller, then reconnect`,
      figures: { daysSimulated: days, occurrencesExpected: expected.length, occurrencesPlayed: completed.length, playedTwice: completed.length - new Set(completed).size, staleStarts, eventsDelivered: sent.length, duplicates: stored.length - new Set(stored.map((e) => e.seq)).size, outOfOrder, simulateMs: Math.round(simulatedMs), drainMs },
      reproduce: 'npm test -- test/reliability/storage/offline-30-days',
    });
  } finally {
    await agent?.stop();
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
