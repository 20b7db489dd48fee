/**
 * LCUS serial relay frames (CH340 boards from LC Technology and clones): `A0 <ch> <state> <sum>`, where `ch` is
 * 1-based on the wire, `state` is 00 (off) or 01 (on) and `sum = (0xA0 + ch + state) & 0xFF`.
 * The boards do not answer commands and their status reply (to 0xFF) differs between clones, so the driver does
 * not read back.
 */
export const LCUS_START = 0xa0;
export const LCUS_FRAME_LENGTH = 4;
/** The highest channel number a one-byte address can carry. */
export const LCUS_MAX_CHANNEL = 0xff;

export interface LcusFrame {
  /** 1-based channel, as on the wire. */
  channel: number;
  on: boolean;
}

export function lcusChecksum(channel: number, state: number): number {
  return (LCUS_START + channel + state) & 0xff;
}

/** Encodes a command for a 1-based channel. */
export function encodeLcusFrame(channel: number, on: boolean): Buffer {
  if (!Number.isInteger(channel) || channel < 1 || channel > LCUS_MAX_CHANNEL) {
    throw new RangeError(`LCUS channel must be 1..${LCUS_MAX_CHANNEL}, got ${channel}`);
  }
  const state = on ? 1 : 0;
  return Buffer.from([LCUS_START, channel, state, lcusChecksum(channel, state)]);
}

/** Decodes exactly one frame, or returns null when it is not a valid LCUS command. */
export function decodeLcusFrame(bytes: Uint8Array): LcusFrame | null {
  if (bytes.length !== LCUS_FRAME_LENGTH) return null;
  const start = bytes[0];
  const channel = bytes[1] ?? 0;
  const state = bytes[2] ?? -1;
  const sum = bytes[3];
  if (start !== LCUS_START || channel < 1 || (state !== 0 && state !== 1)) return null;
  if (lcusChecksum(channel, state) !== sum) return null;
  return { channel, on: state === 1 };
}

export type LcusParsed = { kind: 'frame'; frame: LcusFrame; raw: Buffer } | { kind: 'garbage'; raw: Buffer };

/**
 * Splits a byte stream into LCUS frames. Bytes that cannot start a valid frame are reported as garbage one at
 * a time, so the parser resynchronises on the next 0xA0 after line noise.
 */
export class LcusFrameParser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): LcusParsed[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: LcusParsed[] = [];
    while (this.buffer.length > 0) {
      if (this.buffer[0] !== LCUS_START) {
        const end = this.buffer.indexOf(LCUS_START);
        const cut = end < 0 ? this.buffer.length : end;
        out.push({ kind: 'garbage', raw: this.buffer.subarray(0, cut) });
        this.buffer = this.buffer.subarray(cut);
        continue;
      }
      if (this.buffer.length < LCUS_FRAME_LENGTH) break;
      const raw = this.buffer.subarray(0, LCUS_FRAME_LENGTH);
      const frame = decodeLcusFrame(raw);
      if (frame) {
        out.push({ kind: 'frame', frame, raw: Buffer.from(raw) });
        this.buffer = this.buffer.subarray(LCUS_FRAME_LENGTH);
      } else {
        out.push({ kind: 'garbage', raw: Buffer.from(this.buffer.subarray(0, 1)) });
        this.buffer = this.buffer.subarray(1);
      }
    }
    return out;
  }

  /** Bytes waiting for the rest of a frame. */
  get pending(): number {
    return this.buffer.length;
  }
}
