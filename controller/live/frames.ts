/**
 * Splits an encoder's output into units a listener may start from (DESIGN §5 live): Ogg pages for Opus, MPEG
 * audio frames for MP3. Ogg streams also have header pages (OpusHead, OpusTags) that every listener needs
 * first; MP3 has none.
 */
export interface Framer {
  /** Feeds bytes; returns the complete units found (each a page or a frame, header units flagged). */
  push(chunk: Buffer): { unit: Buffer; header: boolean }[];
}

const OGG = Buffer.from('OggS');
/** Ogg pages are at most 27 + 255 + 255·255 bytes; a buffer beyond that without a page is garbage. */
const MAX_PAGE = 27 + 255 + 255 * 255;

/** Ogg pages: capture pattern, 27-byte header, segment table. A page whose granule position is 0 is a header. */
export class OggFramer implements Framer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { unit: Buffer; header: boolean }[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: { unit: Buffer; header: boolean }[] = [];
    for (;;) {
      const at = this.buf.indexOf(OGG);
      if (at < 0) {
        this.buf = this.buf.subarray(Math.max(0, this.buf.length - 3));
        break;
      }
      if (at > 0) this.buf = this.buf.subarray(at);
      if (this.buf.length < 27) break;
      const segments = this.buf[26]!;
      if (this.buf.length < 27 + segments) break;
      let body = 0;
      for (let i = 0; i < segments; i++) body += this.buf[27 + i]!;
      const size = 27 + segments + body;
      if (this.buf.length < size) {
        if (this.buf.length > MAX_PAGE) this.buf = this.buf.subarray(4);
        break;
      }
      const unit = Buffer.from(this.buf.subarray(0, size));
      this.buf = this.buf.subarray(size);
      out.push({ unit, header: unit.readBigUInt64LE(6) === 0n });
    }
    return out;
  }
}

const MP3_BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_RATES = [44100, 48000, 32000];

/** Length of the MPEG-1 Layer III frame whose header starts at `i`, or 0 when there is none. */
export function mp3FrameLength(b: Buffer, i: number): number {
  if (i + 4 > b.length || b[i] !== 0xff || (b[i + 1]! & 0xfe) !== 0xfa) return 0;
  const bitrate = MP3_BITRATES[b[i + 2]! >> 4];
  const rate = MP3_RATES[(b[i + 2]! >> 2) & 3];
  if (!bitrate || !rate) return 0;
  return Math.floor((144_000 * bitrate) / rate) + ((b[i + 2]! >> 1) & 1);
}

/** MPEG-1 Layer III frames (what ffmpeg's libmp3lame writes at 32/44.1/48 kHz); bytes between frames are skipped. */
export class Mp3Framer implements Framer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { unit: Buffer; header: boolean }[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: { unit: Buffer; header: boolean }[] = [];
    let i = 0;
    while (i + 4 <= this.buf.length) {
      const len = mp3FrameLength(this.buf, i);
      if (len === 0) {
        i++;
        continue;
      }
      if (i + len > this.buf.length) break;
      out.push({ unit: Buffer.from(this.buf.subarray(i, i + len)), header: false });
      i += len;
    }
    this.buf = this.buf.subarray(i);
    return out;
  }
}
