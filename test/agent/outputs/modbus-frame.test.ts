import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc16Modbus, hasValidCrc, withCrc } from '../../../agent/outputs/modbus/crc.js';
import {
  encodeException,
  encodeReadCoilsReply,
  encodeRequest,
  encodeWriteCoilsReply,
  ModbusRequestParser,
  packBits,
  unpackBits,
} from '../../../agent/outputs/modbus/frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

void describe('Modbus RTU CRC16', () => {
  void it('gives the CRC-16/MODBUS check value 0x4B37 for "123456789"', () => {
    assert.equal(crc16Modbus(Buffer.from('123456789', 'ascii')), 0x4b37);
  });

  void it('matches known frames from the Modbus spec and vendor manuals', () => {
    // read 10 holding registers from unit 1
    assert.equal(withCrc(hex('01 03 00 00 00 0A')).toString('hex'), '01030000000ac5cd');
    // switch coil 0 of unit 1 on
    assert.equal(withCrc(hex('01 05 00 00 FF 00')).toString('hex'), '01050000ff008c3a');
    // read coils 0..7 of unit 1
    assert.equal(withCrc(hex('01 01 00 00 00 08')).toString('hex'), '010100000008' + '3dcc');
  });

  void it('detects a flipped bit', () => {
    const frame = withCrc(hex('01 05 00 02 FF 00'));
    assert.equal(hasValidCrc(frame), true);
    frame[3] = (frame[3] ?? 0) ^ 0x01;
    assert.equal(hasValidCrc(frame), false);
  });
});

void describe('Modbus RTU coil frames', () => {
  void it('packs coil values least significant bit first', () => {
    assert.equal(packBits([true, false, true, true, false, false, false, false, true]).toString('hex'), '0d01');
    assert.deepEqual(unpackBits(hex('0d01'), 9), [true, false, true, true, false, false, false, false, true]);
  });

  void it('encodes requests for FC01, FC05 and FC0F', () => {
    assert.equal(encodeRequest({ unit: 1, fc: 0x01, address: 0, quantity: 8 }).toString('hex'), '0101000000083dcc');
    assert.equal(encodeRequest({ unit: 1, fc: 0x05, address: 0, on: true }).toString('hex'), '01050000ff008c3a');
    const fc15 = encodeRequest({ unit: 1, fc: 0x0f, address: 0x13, values: [true, false, true, true, false, false, true, true, true, false] });
    // the example of the Modbus application protocol spec: coils 20..29 = CD 01
    assert.equal(fc15.subarray(0, -2).toString('hex'), '010f0013000a02cd01');
    assert.ok(hasValidCrc(fc15));
  });

  void it('encodes replies and exceptions with a valid CRC', () => {
    assert.equal(encodeReadCoilsReply(1, [true, false, true]).subarray(0, -2).toString('hex'), '01010105');
    assert.equal(encodeWriteCoilsReply(1, 0, 4).subarray(0, -2).toString('hex'), '010f00000004');
    const exc = encodeException(1, 0x05, 0x02);
    assert.equal(exc.subarray(0, -2).toString('hex'), '018502');
    assert.ok(hasValidCrc(exc));
  });

  void it('parses a stream of requests, skipping noise and frames with a bad CRC', () => {
    const parser = new ModbusRequestParser();
    const good = encodeRequest({ unit: 1, fc: 0x05, address: 2, on: true });
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    const fc15 = encodeRequest({ unit: 1, fc: 0x0f, address: 0, values: [true, true, false, true] });
    const out = [...parser.push(Buffer.concat([bad, good.subarray(0, 3)])), ...parser.push(Buffer.concat([good.subarray(3), fc15]))];
    const requests = out.flatMap((p) => (p.kind === 'request' ? [p.request] : []));
    assert.deepEqual(requests, [
      { unit: 1, fc: 0x05, address: 2, on: true },
      { unit: 1, fc: 0x0f, address: 0, values: [true, true, false, true] },
    ]);
    assert.ok(out.some((p) => p.kind === 'garbage'));
  });

  void it('reports a well-formed request for an unsupported function as invalid', () => {
    const parser = new ModbusRequestParser();
    const [item] = parser.push(withCrc(hex('01 03 00 00 00 01')));
    assert.equal(item?.kind, 'invalid');
    assert.equal(item?.kind === 'invalid' ? item.exception : -1, 0x01);
  });
});
