/**
 * Modbus RTU frames for coil relay boards: read coils (01), write single coil (05), write multiple coils (0F),
 * and exception replies. The driver talks through modbus-serial; this codec is for the board side (the emulator)
 * and for tests that check bytes on the wire.
 */
import { hasValidCrc, withCrc } from './crc.js';

export const FC_READ_COILS = 0x01;
export const FC_WRITE_COIL = 0x05;
export const FC_WRITE_COILS = 0x0f;

export const EXC_ILLEGAL_FUNCTION = 0x01;
export const EXC_ILLEGAL_ADDRESS = 0x02;
export const EXC_ILLEGAL_VALUE = 0x03;

export type ModbusRequest =
  | { unit: number; fc: typeof FC_READ_COILS; address: number; quantity: number }
  | { unit: number; fc: typeof FC_WRITE_COIL; address: number; on: boolean }
  | { unit: number; fc: typeof FC_WRITE_COILS; address: number; values: boolean[] };

function u16(n: number): [number, number] {
  return [(n >>> 8) & 0xff, n & 0xff];
}

/** Packs booleans LSB-first, as coil values travel in Modbus. */
export function packBits(values: readonly boolean[]): Buffer {
  const out = Buffer.alloc(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    if (v) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
  });
  return out;
}

export function unpackBits(bytes: Uint8Array, count: number): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < count; i++) out.push((((bytes[i >> 3] ?? 0) >> (i & 7)) & 1) === 1);
  return out;
}

export function encodeRequest(req: ModbusRequest): Buffer {
  switch (req.fc) {
    case FC_READ_COILS:
      return withCrc(Buffer.from([req.unit, req.fc, ...u16(req.address), ...u16(req.quantity)]));
    case FC_WRITE_COIL:
      return withCrc(Buffer.from([req.unit, req.fc, ...u16(req.address), req.on ? 0xff : 0x00, 0x00]));
    case FC_WRITE_COILS: {
      const bits = packBits(req.values);
      return withCrc(Buffer.concat([Buffer.from([req.unit, req.fc, ...u16(req.address), ...u16(req.values.length), bits.length]), bits]));
    }
  }
}

export function encodeReadCoilsReply(unit: number, values: readonly boolean[]): Buffer {
  const bits = packBits(values);
  return withCrc(Buffer.concat([Buffer.from([unit, FC_READ_COILS, bits.length]), bits]));
}

/** FC05's reply echoes the request. */
export function encodeWriteCoilReply(unit: number, address: number, on: boolean): Buffer {
  return encodeRequest({ unit, fc: FC_WRITE_COIL, address, on });
}

export function encodeWriteCoilsReply(unit: number, address: number, quantity: number): Buffer {
  return withCrc(Buffer.from([unit, FC_WRITE_COILS, ...u16(address), ...u16(quantity)]));
}

export function encodeException(unit: number, fc: number, code: number): Buffer {
  return withCrc(Buffer.from([unit, (fc | 0x80) & 0xff, code]));
}

export type ParsedRequest =
  | { kind: 'request'; request: ModbusRequest; raw: Buffer }
  /** A well-formed frame (good CRC) that is not a valid coil request: answer with this exception code. */
  | { kind: 'invalid'; unit: number; fc: number; exception: number; raw: Buffer }
  | { kind: 'garbage'; raw: Buffer };

/** Length of a request frame from its first bytes, or null when more bytes are needed. -1: unknown function. */
function requestLength(buf: Buffer): number | null {
  const fc = buf[1];
  if (fc === undefined) return null;
  switch (fc) {
    case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06:
      return 8;
    case 0x0f: case 0x10: {
      const count = buf[6];
      return count === undefined ? null : 9 + count;
    }
    default:
      return -1;
  }
}

function decodeRequest(raw: Buffer): ParsedRequest {
  const unit = raw[0] ?? 0;
  const fc = raw[1] ?? 0;
  const address = raw.readUInt16BE(2);
  const invalid = (exception: number): ParsedRequest => ({ kind: 'invalid', unit, fc, exception, raw });
  switch (fc) {
    case FC_READ_COILS: {
      const quantity = raw.readUInt16BE(4);
      if (quantity < 1 || quantity > 2000) return invalid(EXC_ILLEGAL_VALUE);
      return { kind: 'request', request: { unit, fc, address, quantity }, raw };
    }
    case FC_WRITE_COIL: {
      const value = raw.readUInt16BE(4);
      if (value !== 0xff00 && value !== 0x0000) return invalid(EXC_ILLEGAL_VALUE);
      return { kind: 'request', request: { unit, fc, address, on: value === 0xff00 }, raw };
    }
    case FC_WRITE_COILS: {
      const quantity = raw.readUInt16BE(4);
      const count = raw[6] ?? 0;
      if (quantity < 1 || quantity > 1968 || count !== Math.ceil(quantity / 8)) return invalid(EXC_ILLEGAL_VALUE);
      return { kind: 'request', request: { unit, fc, address, values: unpackBits(raw.subarray(7, 7 + count), quantity) }, raw };
    }
    default:
      return invalid(EXC_ILLEGAL_FUNCTION);
  }
}

/**
 * Splits a byte stream into request frames by their function's length, checks the CRC, and on a bad CRC or an
 * unknown function drops one byte and tries again (RTU has no start byte, so this is how it resynchronises).
 */
export class ModbusRequestParser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): ParsedRequest[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: ParsedRequest[] = [];
    while (this.buffer.length >= 2) {
      const len = requestLength(this.buffer);
      if (len === null) break;
      if (len < 0) {
        out.push({ kind: 'garbage', raw: Buffer.from(this.buffer.subarray(0, 1)) });
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      if (this.buffer.length < len) break;
      const raw = Buffer.from(this.buffer.subarray(0, len));
      if (!hasValidCrc(raw)) {
        out.push({ kind: 'garbage', raw: raw.subarray(0, 1) });
        this.buffer = this.buffer.subarray(1);
        continue;
      }
      this.buffer = this.buffer.subarray(len);
      out.push(decodeRequest(raw));
    }
    return out;
  }

  /** Forgets a partial frame (after a silence, as RTU's 3.5-character gap would). */
  reset(): void {
    this.buffer = Buffer.alloc(0);
  }
}
