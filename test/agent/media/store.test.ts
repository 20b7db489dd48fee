import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MediaStore } from '../../../agent/media/store.js';
import { openDb } from '../../../agent/store/db.js';
import { sha256Hex } from '../../../shared/crypto.js';
import { isLoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';

function setup(): { dir: string; store: MediaStore; close: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'loa-media-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const store = new MediaStore({ dataDir: dir, db, log: createLogger('t', { level: 'silent' }), now: Date.now });
  store.init();
  return { dir, store, close: () => { db.close(); rmSync(dir, { recursive: true, force: true }); } };
}
const body = Buffer.from('bản tin sáng '.repeat(1000));
const entry = { sha256: sha256Hex(body), size: body.length };

test('stores media under its sha256 after checking it', async () => {
  const { dir, store, close } = setup();
  await store.put(entry, Readable.from([body.subarray(0, 100), body.subarray(100)]));
  assert.ok(store.has(entry.sha256, entry.size));
  assert.ok(existsSync(join(dir, 'media', entry.sha256)));
  assert.ok(await store.verify(entry.sha256));
  close();
});

for (const [name, data, code] of [
  ['a corrupt file', Buffer.from(body).fill(0x20, 10, 20), 'LOA_ERR_MEDIA_HASH_MISMATCH'],
  ['a truncated file', body.subarray(0, 500), 'LOA_ERR_MEDIA_SIZE_MISMATCH'],
  ['an oversized file', Buffer.concat([body, body]), 'LOA_ERR_MEDIA_SIZE_MISMATCH'],
] as const) {
  test(`refuses ${name} and leaves nothing behind that could be played`, async () => {
    const { dir, store, close } = setup();
    await assert.rejects(store.put(entry, Readable.from([data])), (e) => isLoaError(e) && e.code === code);
    assert.ok(!store.has(entry.sha256));
    assert.deepEqual(readdirSync(join(dir, 'media')).filter((f) => f !== '.tmp'), []);
    assert.deepEqual(readdirSync(join(dir, 'media', '.tmp')), []);
    close();
  });
}

test('a stored file that rots on disk is found by verify and removed', async () => {
  const { dir, store, close } = setup();
  await store.put(entry, Readable.from([body]));
  writeFileSync(join(dir, 'media', entry.sha256), Buffer.from(body).fill(0, 0, 10));
  assert.equal(await store.verify(entry.sha256), false);
  assert.ok(!store.has(entry.sha256));
  close();
});

test('garbage collection removes media that nothing references, and temp files left by a crash', async () => {
  const { dir, store, close } = setup();
  const other = Buffer.from('thông báo');
  await store.put(entry, Readable.from([body]));
  await store.put({ sha256: sha256Hex(other), size: other.length }, Readable.from([other]));
  writeFileSync(join(dir, 'media', '.tmp', 'partial'), 'x');
  store.init();
  assert.deepEqual(store.gc(new Set([entry.sha256])), [sha256Hex(other)]);
  assert.ok(store.has(entry.sha256));
  assert.deepEqual(readdirSync(join(dir, 'media', '.tmp')), []);
  close();
});
