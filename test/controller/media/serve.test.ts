import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendFileRange, type SendFileRangeResult } from '../../../controller/media/serve.js';
import { pseudoRandomBytes } from './fixtures.js';

// Large enough that the socket buffers cannot hold it: a client that stops reading really cuts the transfer.
const data = pseudoRandomBytes(24 * 1024 * 1024, 42);
const sha = createHash('sha256').update(data).digest('hex');
let dir: string;
let server: Server;
let base: string;
const results: SendFileRangeResult[] = [];
let resultWaiters: Array<() => void> = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loa-media-serve-'));
  writeFileSync(join(dir, sha), data);
  server = createServer((req, res) => {
    const name = (req.url ?? '').split('/').pop() ?? '';
    void sendFileRange(req, res, join(dir, /^[0-9a-f]{64}$/.test(name) ? name : 'missing'), { etag: name, mime: 'audio/ogg' }).then((r) => {
      results.push(r);
      for (const w of resultWaiters) w();
      resultWaiters = [];
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A GET (or HEAD); with `cutAfter`, the client destroys its socket once that many bytes have arrived. */
function get(path: string, headers: Record<string, string> = {}, opts: { method?: string; cutAfter?: number } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (opts.cutAfter !== undefined && got >= opts.cutAfter) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, opts.cutAfter) });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', () => undefined);
    });
    req.on('error', (e) => (opts.cutAfter === undefined ? reject(e) : undefined));
    req.end();
  });
}

function nextResult(count: number): Promise<SendFileRangeResult> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (results.length >= count) resolve(results[count - 1] as SendFileRangeResult);
      else resultWaiters.push(check);
    };
    check();
  });
}

test('a download cut mid-way and resumed with Range: bytes=N- gives the file with the right sha256', async () => {
  const before = results.length;
  const cut = 1_234_567;
  const first = await get(`/media/${sha}`, {}, { cutAfter: cut });
  assert.equal(first.status, 200);
  assert.equal(first.body.length, cut);
  const served = await nextResult(before + 1);
  assert.equal(served.aborted, true, 'the server saw the client go away');

  const rest = await get(`/media/${sha}`, { range: `bytes=${cut}-`, 'if-range': `"${sha}"` });
  assert.equal(rest.status, 206);
  assert.equal(rest.headers['content-range'], `bytes ${cut}-${data.length - 1}/${data.length}`);
  assert.equal(Number(rest.headers['content-length']), data.length - cut);
  const whole = Buffer.concat([first.body, rest.body]);
  assert.equal(createHash('sha256').update(whole).digest('hex'), sha);
  assert.equal((await nextResult(before + 2)).aborted, false);
});

test('serves the whole file with its ETag and Accept-Ranges, and 304 when the ETag is already held', async () => {
  const full = await get(`/media/${sha}`);
  assert.equal(full.status, 200);
  assert.equal(full.headers.etag, `"${sha}"`);
  assert.equal(full.headers['accept-ranges'], 'bytes');
  assert.equal(full.headers['content-type'], 'audio/ogg');
  assert.equal(createHash('sha256').update(full.body).digest('hex'), sha);
  const again = await get(`/media/${sha}`, { 'if-none-match': `"${sha}"` });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
});

test('answers HEAD with the headers and no body, a suffix range with the tail, and 416 with a coded error', async () => {
  const head = await get(`/media/${sha}`, {}, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), data.length);
  assert.equal(head.body.length, 0);

  const tail = await get(`/media/${sha}`, { range: 'bytes=-10' });
  assert.equal(tail.status, 206);
  assert.deepEqual(tail.body, data.subarray(data.length - 10));

  const beyond = await get(`/media/${sha}`, { range: `bytes=${data.length}-` });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers['content-range'], `bytes */${data.length}`);
  assert.equal((JSON.parse(beyond.body.toString()) as { error: { code: string } }).error.code, 'LOA_ERR_RANGE_NOT_SATISFIABLE');
});

test('answers 404 with LOA_ERR_MEDIA_NOT_FOUND for a file that is not there', async () => {
  const missing = await get(`/media/${'0'.repeat(64)}`);
  assert.equal(missing.status, 404);
  assert.equal((JSON.parse(missing.body.toString()) as { error: { code: string } }).error.code, 'LOA_ERR_MEDIA_NOT_FOUND');
});
