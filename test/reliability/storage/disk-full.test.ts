import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, symlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { stopAll } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { recordFigures } from '../support/mode.js';
import { sinkPlays, startStorageRig } from './rig.js';

const dir = mkdtempSync(join(tmpdir(), 'loa-disk-full-'));
const mnt = join(dir, 'mnt');
mkdirSync(mnt);
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]).status === 0;
after(() => {
  if (mounted) spawnSync('umount', ['-l', mnt]);
  rmSync(dir, { recursive: true, force: true });
});

const free = (): number => {
  const s = statfsSync(mnt);
  return s.bavail * s.bsize;
};

/** Writes `path` until the file system says ENOSPC, in ever smaller pieces: the disk is then really full. */
function fill(path: string): number {
  const fd = openSync(path, 'a');
  let total = 0;
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512, 1]) {
      const buf = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          total += writeSync(fd, buf);
        } catch (e) {
          if ((e as { code?: string }).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

test('a full data disk (a 24 MB tmpfs): the agent keeps playing, does not crash or corrupt its store, leaves no half-written media, reports the fault once there is room, and its outbox resumes with no loss or duplicate', { timeout: 110_000, skip: mounted ? false : 'mount -t tmpfs is not allowed here' }, async () => {
  const dataDir = join(mnt, 'agent');
  const rig = await startStorageRig({ dir, dataDir, deviceId: 'loa-day-dia' });
  const children: ChildProcess[] = [];
  try {
    // The speakers need no disk: the file sink, which stands in for them, records outside the full disk.
    mkdirSync(join(dir, 'sink'));
    symlinkSync(join(dir, 'sink'), join(dataDir, 'sink'));
    const agent = await rig.startAgent();
    children.push(agent);
    const t1 = Math.ceil((Date.now() + 9000) / 1000) * 1000;
    const times = [t1, t1 + 12_000, t1 + 24_000];
    await rig.scheduleAt(times);
    const playedAt = (t: number): number => sinkPlays(rig.dataDir).filter((p) => p.status === 'completed' && p.startedAt >= t && p.startedAt < t + 120_000).length;
    await eventually(() => playedAt(times[0]!) === 1, 30_000, 'the first occurrence plays');
    assert.ok(existsSync(join(dataDir, 'disk-reserve')), 'the agent keeps a disk reserve');

    // 1. The disk fills up (something else writes it full): the agent releases its reserve and plays on.
    const filled = fill(join(mnt, 'filler-1'));
    await eventually(() => !existsSync(join(dataDir, 'disk-reserve')), 10_000, 'the reserve is released');
    await eventually(() => playedAt(times[1]!) === 1, 30_000, 'the occurrence due on the full disk plays');

    // 2. The reserve is eaten too: SQLite and every file write get SQLITE_FULL/ENOSPC. The agent must survive it.
    fill(join(mnt, 'filler-2'));
    assert.ok(free() < 4096, `the disk is full (${free()} bytes free)`);
    await eventually(() => Date.now() > times[2]! + 3000, 40_000, 'the third occurrence is due while the disk is full');
    assert.equal(agent.exitCode, null, 'the agent is still running');

    // 3. Room again: the fault is reported, the late occurrence plays, the outbox drains.
    rmSync(join(mnt, 'filler-1'));
    rmSync(join(mnt, 'filler-2'));
    await eventually(() => rig.controllerEvents().some((e) => e.type === 'store.recovered' && e.data.code === 'LOA_ERR_DISK_FULL'), 20_000, 'the disk fault is reported');
    const fault = rig.controllerEvents().find((e) => e.type === 'store.recovered')!.data;
    await eventually(() => playedAt(times[2]!) === 1, 20_000, 'the occurrence held up by the full disk plays');
    const unsent = (): number => {
      const d = new Database(join(dataDir, 'agent.db'), { readonly: true });
      try {
        return d.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL').get()!.n;
      } finally {
        d.close();
      }
    };
    await eventually(() => unsent() === 0, 20_000, 'the outbox drains');
    await stopAll(children.splice(0));

    const db = new Database(join(dataDir, 'agent.db'), { readonly: true });
    assert.equal(db.pragma('quick_check', { simple: true }), 'ok', 'the store is sound');
    const ours = db.prepare<[], { seq: number; type: string; sent_at: number | null }>('SELECT seq, type, sent_at FROM outbox ORDER BY seq').all();
    db.close();
    assert.deepEqual(readdirSync(join(dataDir, 'media')).filter((f) => !/^[0-9a-f]{64}$/.test(f) && !f.startsWith('.')), []);
    for (const sub of ['.tmp', '.partial']) {
      if (existsSync(join(dataDir, 'media', sub))) assert.deepEqual(readdirSync(join(dataDir, 'media', sub)), [], `nothing half-written in media/${sub}`);
    }
    const sent = ours.filter((e) => e.sent_at !== null);
    await eventually(() => sent.every((r) => rig.controllerEvents().some((e) => e.seq === r.seq)), 10_000, 'the controller stores what it acknowledged');
    const stored = rig.controllerEvents();
    const bySeq = new Map(stored.map((e) => [e.seq, e.type]));
    const lost = ours.filter((e) => e.type !== 'agent.stop' && bySeq.get(e.seq) !== e.type);
    assert.ok(ours.filter((e) => e.sent_at === null).every((e) => e.type === 'agent.stop'), 'only the last agent.stop is unsent');
    assert.deepEqual(lost, [], 'every event reached the controller under its own seq');
    const starts = stored.filter((e) => e.type === 'play.start').map((e) => String(e.data.occurrence));
    assert.equal(new Set(starts).size, times.length, 'one play per occurrence at the controller');
    assert.equal(sinkPlays(rig.dataDir).filter((p) => p.status === 'completed').length, times.length, 'each occurrence played once');
    recordFigures({
      suite: 'storage', what: 'full data disk (24 MB tmpfs): play on, no loss, fault reported after',
      figures: { filledBytes: filled, occurrences: times.length, played: times.length, eventsLost: lost.length, failedWrites: Number(fault.failedWrites), faultMs: Number(fault.until) - Number(fault.since) },
      reproduce: 'npm test -- test/reliability/storage/disk-full',
    });
  } finally {
    await stopAll(children);
    await rig.close();
  }
});
