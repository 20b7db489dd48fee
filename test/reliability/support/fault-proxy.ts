/**
 * A TCP fault proxy for the network chaos tests (issue 10), in the spirit of toxiproxy: it listens on a local
 * port and forwards to a target, and its mode can be changed at any time:
 * - `pass`: forward as is;
 * - `cut`: reset every open connection (RST) and refuse new ones (they are reset at once);
 * - `blackhole`: accept, read and drop; nothing is forwarded either way (a dead 4G link that TCP does not see);
 * - `latency`: each chunk is held `ms` before it is forwarded (in order);
 * - `stall`: each chunk is held `ms` with probability `rate` (a lossy link whose retransmits stall the stream);
 * - `bandwidth`: at most `bytesPerSecond` each way per connection.
 * Chunks are never reordered within a connection. A test only drives its mode; it never sees a fake socket.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { kind: 'pass' }
  | { kind: 'cut' }
  | { kind: 'blackhole' }
  | { kind: 'latency'; ms: number }
  | { kind: 'stall'; rate: number; ms: number }
  | { kind: 'bandwidth'; bytesPerSecond: number };

interface Pair { client: Socket; upstream: Socket }

export class FaultProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  private modeNow: ProxyMode = { kind: 'pass' };
  /** Connections accepted, and how many of them were reset by a cut. */
  readonly stats = { accepted: 0, reset: 0, modeChanges: 0 };
  port = 0;

  constructor(private readonly o: { targetPort: number; targetHost?: string; listenPort?: number; random?: () => number }) {}

  get mode(): ProxyMode {
    return this.modeNow;
  }

  async start(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.listenPort ?? 0, '127.0.0.1', () => resolve());
    });
    const a = server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this.port;
  }

  /** Changes the mode; `cut` resets every open connection at once. */
  setMode(mode: ProxyMode): void {
    this.modeNow = mode;
    this.stats.modeChanges++;
    if (mode.kind === 'cut') for (const p of [...this.pairs]) this.reset(p);
  }

  async stop(): Promise<void> {
    for (const p of [...this.pairs]) this.reset(p);
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private reset(p: Pair): void {
    this.pairs.delete(p);
    this.stats.reset++;
    p.client.resetAndDestroy();
    p.upstream.destroy();
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    if (this.modeNow.kind === 'cut') {
      client.resetAndDestroy();
      this.stats.reset++;
      return;
    }
    client.setNoDelay(true);
    const upstream = connect({ host: this.o.targetHost ?? '127.0.0.1', port: this.o.targetPort });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    const close = (): void => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Forwards `from` → `to` chunk by chunk, in order, applying the mode in force when each chunk arrives. */
  private pipe(from: Socket, to: Socket): void {
    let chain: Promise<void> = Promise.resolve();
    let windowStart = Date.now();
    let windowBytes = 0;
    const random = this.o.random ?? Math.random;
    from.on('data', (chunk: Buffer) => {
      const mode = this.modeNow;
      if (mode.kind === 'blackhole' || mode.kind === 'cut') return;
      let delay = 0;
      if (mode.kind === 'latency') delay = mode.ms;
      else if (mode.kind === 'stall' && random() < mode.rate) delay = mode.ms;
      else if (mode.kind === 'bandwidth') {
        const now = Date.now();
        if (now - windowStart >= 1000) {
          windowStart = now;
          windowBytes = 0;
        }
        windowBytes += chunk.length;
        delay = Math.max(0, (windowBytes / mode.bytesPerSecond) * 1000 - (now - windowStart));
      }
      if (delay === 0 && chain === resolved) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      from.pause();
      const step = chain.then(() => new Promise<void>((r) => setTimeout(r, delay))).then(() => {
        if (!to.destroyed && this.modeNow.kind !== 'blackhole' && this.modeNow.kind !== 'cut') to.write(chunk);
        from.resume();
      });
      chain = step;
      void step.then(() => {
        if (chain === step) chain = resolved;
      });
    });
    from.on('end', () => {
      void chain.then(() => to.end());
    });
    chain = resolved;
  }
}

const resolved: Promise<void> = Promise.resolve();
