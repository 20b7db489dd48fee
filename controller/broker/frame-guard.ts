import type { Duplex } from 'node:stream';

/**
 * Caps the size of MQTT packets while they stream (DESIGN §6), before the parser buffers them. aedes has no
 * such limit: without it, anyone could announce a 256 MB CONNECT and make the broker hold it in memory.
 *
 * It follows the MQTT fixed header (type byte + "remaining length" varint) across chunk boundaries and skips
 * packet bodies without copying.
 */
export class FrameGuard {
  private state: 'type' | 'length' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private skip = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Feeds bytes; returns an error message when a packet is too large or its header is malformed, else null. */
  feed(buf: Buffer): string | null {
    let i = 0;
    while (i < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = buf[i++]!;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (this.length > this.maxPacketBytes) return `MQTT packet of at least ${this.length} bytes exceeds the limit of ${this.maxPacketBytes}`;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) return 'malformed MQTT remaining length';
        continue;
      }
      this.state = 'type';
      this.skip = this.length;
    }
    return null;
  }
}

/**
 * Puts a FrameGuard on the stream aedes reads from: aedes pulls data with `read()`, so wrapping that one method
 * on this one stream sees every byte. A violation destroys the stream, and aedes then closes the client.
 */
export function guardStream(stream: Duplex, maxPacketBytes: number, onViolation: (message: string) => void): void {
  const guard = new FrameGuard(maxPacketBytes);
  const read = stream.read.bind(stream);
  stream.read = (size?: number): unknown => {
    const chunk: unknown = read(size);
    if (Buffer.isBuffer(chunk)) {
      const err = guard.feed(chunk);
      if (err) {
        onViolation(err);
        stream.destroy(new Error(err));
        return null;
      }
    }
    return chunk;
  };
}
