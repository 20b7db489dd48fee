import type { Writable } from 'node:stream';
import type { Logger } from '../../shared/log.js';
import type { Framer } from './frames.js';

export interface FanoutOptions {
  framer: Framer;
  log: Logger;
  /** A listener whose socket holds more than this many unsent bytes is dropped. Default 256 KiB (~60 s of 32 kb/s). */
  maxQueuedBytes?: number;
  /** Wall clock for the first-unit time; default Date.now. */
  now?: () => number;
}

interface Listener {
  out: Writable;
  name: string;
}

/**
 * The in-memory fan-out of one live stream to HTTP listeners. The encoder's bytes are cut into pages or frames
 * (`Framer`); a listener gets the header pages first, then the most recent unit, then every unit from there on,
 * so each one starts at a boundary a decoder can start from. Nothing is buffered per listener beyond the socket:
 * a listener that cannot keep up (more than maxQueuedBytes unsent) is cut off, not waited for.
 */
export class Fanout {
  private readonly o: FanoutOptions;
  private readonly listeners = new Set<Listener>();
  private readonly headers: Buffer[] = [];
  private last: Buffer | null = null;
  private ended = false;
  private audioSeen = false;
  /** Units written (pages or frames), and their bytes. */
  units = 0;
  bytes = 0;
  dropped = 0;
  firstUnitAt: number | null = null;

  constructor(options: FanoutOptions) {
    this.o = options;
  }

  get size(): number {
    return this.listeners.size;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Encoder output. */
  write(chunk: Buffer): void {
    if (this.ended) return;
    for (const { unit, header } of this.o.framer.push(chunk)) {
      if (header && !this.audioSeen && this.headers.length < 8) this.headers.push(unit);
      else {
        this.audioSeen = true;
        this.last = unit;
      }
      this.units++;
      this.bytes += unit.length;
      this.firstUnitAt ??= (this.o.now ?? Date.now)();
      for (const l of this.listeners) this.send(l, unit);
    }
  }

  /** Adds a listener; it is removed when it closes or errors. Returns false when the stream has ended. */
  add(out: Writable, name: string): boolean {
    if (this.ended || out.destroyed) return false;
    const l: Listener = { out, name };
    this.listeners.add(l);
    const gone = (): void => {
      this.listeners.delete(l);
    };
    out.once('close', gone);
    out.once('error', gone);
    for (const h of this.headers) this.send(l, h);
    if (this.last) this.send(l, this.last);
    return true;
  }

  /** Ends every listener's response; later writes and listeners are refused. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const l of this.listeners) l.out.end();
    this.listeners.clear();
  }

  private send(l: Listener, unit: Buffer): void {
    if (!this.listeners.has(l)) return;
    if (l.out.writableLength + unit.length > (this.o.maxQueuedBytes ?? 256 * 1024)) {
      this.listeners.delete(l);
      this.dropped++;
      this.o.log.warn({ listener: l.name, queued: l.out.writableLength }, 'live listener too slow: dropped');
      l.out.destroy();
      return;
    }
    l.out.write(unit);
  }
}
