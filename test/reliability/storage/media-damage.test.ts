import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256Hex } from '../../../shared/crypto.js';
import { stopAll } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { recordFigures } from '../support/mode.js';
import { sinkPlays, startStorageRig } from './rig.js';

test('a stored media file cut short while the agent is stopped, or with bytes flipped while it runs, is detected, reported, never played garbled, fetched again from the controller and played', { timeout: 110_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-media-damage-'));
  const rig = await startStorageRig({ dir, deviceId: 'loa-hong-tep' });
  const children: ChildProcess[] = [];
  try {
    children.push(await rig.startAgent());
    const t1 = Math.ceil((Date.now() + 9000) / 1000) * 1000;
    const times = [t1, t1 + 11_000, t1 + 22_000, t1 + 34_000];
    await rig.scheduleAt(times);
    const file = join(rig.dataDir, 'media', rig.media.sha256);
    const fileOk = (): boolean => sha256Hex(readFileSync(file)) === rig.media.sha256;
    const playedAt = (t: number): boolean => sinkPlays(rig.dataDir).some((p) => p.status === 'completed' && p.startedAt >= t && p.startedAt < t + 5000);
    const rejected = (when: string): { seq: number; data: Record<string, unknown> } | undefined => rig.controllerEvents().find((e) => e.type === 'media.rejected' && e.data.when === when);
    await eventually(() => playedAt(times[0]!), 30_000, 'the first occurrence plays');

    // 1. Bytes flipped while the agent runs (same size: only a re-hash can tell).
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, Math.floor(size / 2));
    closeSync(fd);
    const flipped = Date.now();
    await eventually(() => rejected('before_play') !== undefined, 20_000, 'the damaged file is reported before it would play');
    assert.equal(rejected('before_play')!.data.code, 'LOA_ERR_MEDIA_STORED_CORRUPT');
    await eventually(fileOk, 15_000, 'the file is fetched again from the controller');
    const repairedAfterFlipMs = Date.now() - flipped;
    await eventually(() => playedAt(times[2]!), 20_000, 'the next occurrence plays the fetched file');
    assert.ok(!playedAt(times[1]!), 'the occurrence due while the file was damaged did not play it');
    await eventually(() => rig.controllerEvents().some((e) => e.type === 'audio.fault' && e.data.code === 'LOA_ERR_MEDIA_NOT_FOUND'), 10_000, 'the skipped item is reported with its code');

    // 2. Cut short while the agent is stopped: found by the check at start.
    await stopAll(children.splice(0));
    truncateSync(file, Math.floor(size / 3));
    const restarted = Date.now();
    children.push(await rig.startAgent());
    await eventually(() => rejected('start') !== undefined, 20_000, 'the truncated file is reported at start');
    await eventually(fileOk, 15_000, 'the truncated file is fetched again');
    const repairedAfterTruncateMs = Date.now() - restarted;
    await eventually(() => playedAt(times[3]!), 30_000, 'the last occurrence plays');

    const plays = sinkPlays(rig.dataDir);
    assert.deepEqual(plays.filter((p) => p.expectedSha256 !== undefined), [], 'no play of bytes other than the signed ones');
    assert.ok(plays.every((p) => p.status !== 'completed' || p.sha256 === rig.media.sha256));
    assert.equal(plays.filter((p) => p.status === 'completed').length, 3, 'three of the four occurrences played; the damaged one did not');
    recordFigures({
      suite: 'storage', what: 'damaged media: detected, not played, fetched again (real loa agent run, real controller)',
      figures: { occurrences: times.length, played: 3, garbledPlays: 0, repairedAfterFlipMs, repairedAfterTruncateMs },
      reproduce: 'npm test -- test/reliability/storage/media-damage',
    });
  } finally {
    await stopAll(children);
    await rig.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
