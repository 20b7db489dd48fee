import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eofSafeRead } from '../../../agent/outputs/serial/binding.js';

void describe('EOF-safe serial read', () => {
  void it('fails as a disconnect on end of file instead of retrying forever', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loa-eof-'));
    const file = await open(join(dir, 'empty'), 'w+'); // reading an empty file returns 0 bytes, as a hung-up tty does
    try {
      const port = { fd: file.fd, isOpen: true, poller: new EventEmitter() };
      await assert.rejects(eofSafeRead(port, Buffer.alloc(16), 0, 16), (e: unknown) => (e as { disconnect?: boolean }).disconnect === true);
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('returns the bytes read, and refuses a closed port as a cancelled read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loa-eof-'));
    const file = await open(join(dir, 'data'), 'w+');
    try {
      await file.write(Buffer.from('a00101a2', 'hex'), 0, 4, 0);
      const port = { fd: file.fd, isOpen: true, poller: new EventEmitter() };
      const buf = Buffer.alloc(8);
      const r = await eofSafeRead(port, buf, 0, 8);
      assert.equal(buf.subarray(0, r.bytesRead).toString('hex'), 'a00101a2');
      await assert.rejects(eofSafeRead({ fd: null, isOpen: false, poller: new EventEmitter() }, buf, 0, 8), (e: unknown) => (e as { canceled?: boolean }).canceled === true);
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
