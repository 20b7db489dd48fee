import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLcusFrame, encodeLcusFrame, LcusFrameParser, lcusChecksum } from '../../../agent/outputs/lcus/frame.js';

void describe('LCUS frames', () => {
  void it('encodes the documented frames for relay 1 and 2 (channels are 1-based on the wire)', () => {
    assert.equal(encodeLcusFrame(1, true).toString('hex'), 'a00101a2');
    assert.equal(encodeLcusFrame(1, false).toString('hex'), 'a00100a1');
    assert.equal(encodeLcusFrame(2, true).toString('hex'), 'a00201a3');
    assert.equal(encodeLcusFrame(8, false).toString('hex'), 'a00800a8');
  });

  void it('computes the checksum modulo 256', () => {
    assert.equal(lcusChecksum(0x60, 1), 0x01); // 0xA0 + 0x60 + 1 = 0x101
    assert.equal(encodeLcusFrame(0x60, true).toString('hex'), 'a0600101');
  });

  void it('refuses channel 0 and channels past 255', () => {
    assert.throws(() => encodeLcusFrame(0, true), RangeError);
    assert.throws(() => encodeLcusFrame(256, true), RangeError);
  });

  void it('decodes a valid frame and rejects a bad checksum, a bad state or a bad start byte', () => {
    assert.deepEqual(decodeLcusFrame(Buffer.from('a00301a4', 'hex')), { channel: 3, on: true });
    assert.equal(decodeLcusFrame(Buffer.from('a00301a5', 'hex')), null);
    assert.equal(decodeLcusFrame(Buffer.from('a00302a5', 'hex')), null);
    assert.equal(decodeLcusFrame(Buffer.from('a10301a5', 'hex')), null);
    assert.equal(decodeLcusFrame(Buffer.from('a00301', 'hex')), null);
  });

  void it('parses frames split across chunks and resynchronises after noise', () => {
    const parser = new LcusFrameParser();
    assert.deepEqual(parser.push(Buffer.from('a001', 'hex')), []);
    assert.equal(parser.pending, 2);
    const first = parser.push(Buffer.from('01a2ff00a0', 'hex'));
    assert.deepEqual(first.map((p) => p.kind), ['frame', 'garbage']);
    assert.deepEqual(first[0]?.kind === 'frame' ? first[0].frame : null, { channel: 1, on: true });
    // a bad checksum drops only the start byte, then the real frame that follows is found
    const second = parser.push(Buffer.from('0200a9a00200a2', 'hex'));
    const frames = second.filter((p) => p.kind === 'frame').map((p) => (p.kind === 'frame' ? p.frame : null));
    assert.deepEqual(frames, [{ channel: 2, on: false }]);
    assert.equal(parser.pending, 0);
  });
});
