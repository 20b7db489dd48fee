import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { toneWav } from '../../../shared/wav.js';
import { eventually } from '../../support/wait.js';
import { startChaosRig } from '../support/chaos-rig.js';
import { recordFigures } from '../support/mode.js';

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort() : []);

test('a controller killed with -9 in the middle of a slow media upload keeps no partial file, no row, and no temp file after its restart', { timeout: 110_000 }, async () => {
  const rig = await startChaosRig({ prefix: 'loa-chaos-upload-', broker: 'embedded', noSchedule: true });
  try {
    const mediaDir = join(rig.dir, 'controller', 'media');
    const tmpDir = join(mediaDir, '.tmp');
    const before = { files: files(mediaDir), rows: (await rig.api.get<{ media: unknown[] }>('/api/v1/media')).media.length };

    // A slow client: a 20 s tone (≈1.7 MB) sent 32 KiB every 25 ms, so the kill lands while the body streams in.
    const wav = toneWav({ seconds: 20, hz: 660 });
    const boundary = `loa${randomBytes(8).toString('hex')}`;
    const field = (name: string, value: string): string => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const head = Buffer.from(`${field('zoneId', 'X01')}${field('title', 'Bản tin dài')}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="dai.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
    const req = request(`${rig.http}/api/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${rig.api.token ?? ''}`, 'content-type': `multipart/form-data; boundary=${boundary}` } });
    const answered = new Promise<string>((resolve) => {
      req.on('response', (res) => resolve(`HTTP ${res.statusCode ?? 0}`));
      req.on('error', (e) => resolve(`error ${e.message}`));
    });
    req.write(head);
    let sent = 0;
    const feed = setInterval(() => {
      if (sent >= wav.length) {
        clearInterval(feed);
        req.end(`\r\n--${boundary}--\r\n`);
        return;
      }
      req.write(wav.subarray(sent, sent + 32 * 1024));
      sent += 32 * 1024;
    }, 25);
    try {
      // Kill once part of the upload has reached the controller's temp file.
      await eventually(() => files(tmpDir).some((f) => statSync(join(tmpDir, f)).size > 64 * 1024), 20_000, 'the upload to reach a temp file');
      const partial = files(tmpDir);
      await rig.controller.kill9();
      const outcome = await answered;
      clearInterval(feed);
      assert.ok(sent < wav.length, 'the kill came before the whole body was sent');
      assert.ok(partial.length > 0);
      await rig.controller.start();
      assert.deepEqual(files(tmpDir), [], 'temp files of the killed upload are removed at start');
      assert.deepEqual(files(mediaDir), before.files, 'no partial or extra file in the media store');
      const rows = (await rig.api.get<{ media: unknown[] }>('/api/v1/media')).media.length;
      assert.equal(rows, before.rows, 'no media row for the killed upload');
      recordFigures({ suite: 'chaos', what: 'kill -9 during a media upload', reproduce: 'npm test -- test/reliability/chaos/upload-kill', figures: { bytesSent: sent, bytesTotal: wav.length, tempFilesAtKill: partial.length, tempFilesAfter: 0, rowsAdded: rows - before.rows, clientSaw: outcome } });
    } finally {
      clearInterval(feed);
      req.destroy();
    }
  } finally {
    await rig.close();
  }
});
