import { redactUrl } from '../../shared/redact-url.js';
import type { Readable, Writable } from 'node:stream';
import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { PlayResult, StreamGap } from '../../shared/player.js';
import { createHttpOpener, type StreamOpener } from './http-opener.js';

export interface StreamReaderOptions {
  /** Times the window, the backoff and stall detection. */
  clock: Clock;
  log: Logger;
  /** Opens one connection (default: node:http/https with redirects). */
  open?: StreamOpener;
  /** Reconnect delay: starts at initialMs, doubles up to maxMs, ± jitter/2 of itself. Default 250, 5000, 0.2. */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number };
  /** A connection that delivers nothing for this long counts as dropped. Default 10000 ms. */
  stallMs?: number;
  /** For jitter; default Math.random. */
  random?: () => number;
}

export interface StreamReadRequest {
  url: string;
  /** Length of the window, ms on the clock. */
  durationMs: number;
  /**
   * Receives the bytes. Backpressure is honoured (the connection is paused while `write` returns false), so a
   * connection holds at most one socket chunk beyond the consumer's own buffer. The owner must listen for
   * the consumer's 'error'; the reader stops when the consumer errors or closes.
   */
  consumer: Writable;
  /** Called with each gap as soon as the stream is back, and with a gap still open when the window ends. */
  onGap?: (gap: StreamGap) => void;
  /** End the consumer when the read stops (default true). */
  endConsumer?: boolean;
}

export interface StreamReadResult extends PlayResult {
  gaps: StreamGap[];
  /** Bytes passed to the consumer. */
  bytes: number;
  /** Connections that got a 2xx answer. */
  connections: number;
}

interface PumpOutcome {
  reason: string;
  /** When the drop happened (the last data for a stall). */
  at: number;
  gotData: boolean;
}

/**
 * Reads an HTTP/Icecast stream for a window of time and bridges drop-outs by reconnecting with backoff
 * (DESIGN §4 player). Each outage becomes a StreamGap; a URL that never delivers a byte in the whole window
 * fails with LOA_ERR_STREAM_UNREACHABLE. `read` never rejects.
 */
export class StreamReader {
  private readonly o: StreamReaderOptions;

  constructor(options: StreamReaderOptions) {
    this.o = options;
  }

  async read(req: StreamReadRequest, signal: AbortSignal): Promise<StreamReadResult> {
    const { clock, log } = this.o;
    const open = this.o.open ?? createHttpOpener();
    const startedAt = clock.now();
    const windowMs = Math.max(0, req.durationMs);
    const stop = new AbortController();
    let stopReason: 'window' | 'abort' | 'consumer' | undefined;
    let consumerError: Error | undefined;
    const halt = (why: 'window' | 'abort' | 'consumer'): void => {
      stopReason ??= why;
      stop.abort();
    };
    const onAbort = (): void => halt('abort');
    const onConsumerError = (err: Error): void => {
      consumerError ??= err;
      halt('consumer');
    };
    const onConsumerClose = (): void => halt('consumer');
    const { consumer } = req;
    consumer.on('error', onConsumerError);
    consumer.on('close', onConsumerClose);
    if (signal.aborted) halt('abort');
    else signal.addEventListener('abort', onAbort, { once: true });
    if (consumer.destroyed) halt('consumer');
    const windowDone = clock.sleep(windowMs, stop.signal).then(
      () => halt('window'),
      () => undefined,
    );

    const url = parseUrl(req.url);
    const shown = url ? redactUrl(url) : req.url;
    const gaps: StreamGap[] = [];
    const report = (gap: StreamGap): void => {
      gaps.push(gap);
      log.warn({ url: shown, ...gap }, 'stream gap');
      try {
        req.onGap?.(gap);
      } catch (err) {
        log.error({ err }, 'onGap handler threw');
      }
    };
    let openGap: { from: number; reason: string } | null = null;
    let everData = false;
    let bytes = 0;
    let connections = 0;
    let attempts = 0;
    let failures = 0;
    let lastReason = url ? 'not tried' : `invalid URL ${req.url}`;

    while (url && !stop.signal.aborted) {
      attempts++;
      let body: Readable;
      try {
        body = await open(url, stop.signal);
      } catch (err) {
        if (stop.signal.aborted) break;
        lastReason = `connect: ${errorText(err)}`;
        openGap ??= { from: everData ? clock.now() : startedAt, reason: lastReason };
        log.debug({ url: shown, attempt: attempts, reason: lastReason }, 'stream connect failed');
        await this.backoff(failures++, stop.signal);
        continue;
      }
      connections++;
      const outcome = await this.pump(body, consumer, stop.signal, (n) => {
        bytes += n;
        everData = true;
        if (openGap) {
          report({ from: openGap.from, to: clock.now(), reason: openGap.reason });
          openGap = null;
        }
      });
      if (stop.signal.aborted) break;
      if (outcome.gotData) failures = 0;
      lastReason = outcome.reason;
      openGap ??= { from: everData ? outcome.at : startedAt, reason: outcome.reason };
      await this.backoff(failures++, stop.signal);
    }
    if (!url) halt('window');

    await windowDone;
    signal.removeEventListener('abort', onAbort);
    consumer.off('error', onConsumerError);
    consumer.off('close', onConsumerClose);
    if (req.endConsumer !== false && !consumer.destroyed && !consumer.writableEnded) consumer.end();

    const endedAt = clock.now();
    if (openGap && everData) report({ from: openGap.from, to: endedAt, reason: openGap.reason });
    const gapMs = gaps.reduce((sum, g) => sum + Math.max(0, g.to - g.from), 0);
    const playedMs = everData ? Math.max(0, endedAt - startedAt - gapMs) : 0;
    const base = { playedMs, gaps, bytes, connections };

    if (stopReason === 'abort') return { status: 'aborted', ...base };
    if (stopReason === 'consumer') {
      const why = consumerError ? `: ${consumerError.message}` : '';
      return {
        status: 'failed',
        ...base,
        error: new LoaError('LOA_ERR_PLAYER_FAILED', `The audio output stopped accepting the stream${why}`, {
          cause: consumerError,
        }),
      };
    }
    if (!everData) {
      return {
        status: 'failed',
        ...base,
        error: new LoaError(
          'LOA_ERR_STREAM_UNREACHABLE',
          `The relayed stream ${shown} delivered no audio in ${windowMs} ms (${attempts} attempts; last: ${lastReason})`,
          { details: { url: shown, attempts, lastReason } },
        ),
      };
    }
    return { status: 'completed', ...base };
  }

  /** Reconnect delay for the n-th consecutive failure, waited on the clock (cut short by the stop signal). */
  private async backoff(n: number, signal: AbortSignal): Promise<void> {
    const initial = this.o.backoff?.initialMs ?? 250;
    const max = this.o.backoff?.maxMs ?? 5000;
    const jitter = this.o.backoff?.jitter ?? 0.2;
    const base = Math.min(max, initial * 2 ** Math.min(n, 30));
    const random = this.o.random ?? Math.random;
    const delay = Math.round(base * (1 - jitter / 2 + jitter * random()));
    await this.o.clock.sleep(delay, signal).catch(() => undefined);
  }

  /** Copies one connection's body into the consumer until it ends, errors, stalls or the stop signal fires. */
  private pump(body: Readable, consumer: Writable, signal: AbortSignal, onData: (n: number) => void): Promise<PumpOutcome> {
    const { clock } = this.o;
    const stallMs = this.o.stallMs ?? 10_000;
    return new Promise<PumpOutcome>((resolve) => {
      let done = false;
      let gotData = false;
      let paused = false;
      let lastDataAt = clock.now();
      const watchdog = new AbortController();
      const finish = (reason: string, at = clock.now()): void => {
        if (done) return;
        done = true;
        body.off('data', onChunk);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onClose);
        consumer.off('drain', onDrain);
        signal.removeEventListener('abort', onStop);
        watchdog.abort();
        body.on('error', ignore);
        body.destroy();
        resolve({ reason, at, gotData });
      };
      const onChunk = (chunk: Buffer | string): void => {
        lastDataAt = clock.now();
        gotData = true;
        onData(chunk.length);
        if (!consumer.write(chunk) && !done) {
          paused = true;
          body.pause();
        }
      };
      const onDrain = (): void => {
        if (!paused) return;
        paused = false;
        lastDataAt = clock.now();
        body.resume();
      };
      const onEnd = (): void => finish('the server ended the stream');
      const onError = (err: Error): void => finish(`connection lost: ${err.message}`);
      const onClose = (): void => finish('connection closed');
      const onStop = (): void => finish('stopped');
      body.on('data', onChunk);
      body.on('end', onEnd);
      body.on('error', onError);
      body.on('close', onClose);
      consumer.on('drain', onDrain);
      signal.addEventListener('abort', onStop, { once: true });
      if (signal.aborted) onStop();

      const watch = async (): Promise<void> => {
        while (!done) {
          const wait = paused ? stallMs : lastDataAt + stallMs - clock.now();
          if (wait <= 0) {
            finish(`no data for ${stallMs} ms`, lastDataAt);
            return;
          }
          await clock.sleep(wait, watchdog.signal);
        }
      };
      watch().catch(() => undefined);
    });
  }
}

function parseUrl(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}


function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

function ignore(): void {
  /* late errors of a connection we already left */
}
