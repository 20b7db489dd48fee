// Helpers for the player tests: audio generated at run time with ffmpeg, measured with sox, and a paced
// HTTP "radio" that can drop its listener and refuse connections for a while.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../../shared/log.js';

export const T0 = Date.UTC(2025, 5, 1, 0, 0, 0);

export function quietLog(): Logger {
  return createLogger('test:player', { level: 'silent' });
}

export function run(cmd: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `loa-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A sine tone file (amplitude 1/8, ffmpeg's default) in the format the extension or `codecArgs` implies. */
export async function makeTone(path: string, o: { seconds: number; freq?: number; rate?: number; codecArgs?: string[] }): Promise<void> {
  await run('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `sine=frequency=${o.freq ?? 1000}:duration=${o.seconds}:sample_rate=${o.rate ?? 44100}`,
    ...(o.codecArgs ?? []), path,
  ]);
}

export interface SoxStat {
  lengthS: number;
  rms: number;
  max: number;
}

/** `sox <file> -n stat`; `typeArgs` describe raw input (e.g. -t raw -r 8000 -e signed -b 16 -c 1). */
export async function soxStat(path: string, typeArgs: string[] = []): Promise<SoxStat> {
  const { stderr } = await run('sox', [...typeArgs, path, '-n', 'stat']);
  const num = (label: string): number => {
    const m = new RegExp(`^${label}:\\s+(-?[\\d.]+)`, 'm').exec(stderr);
    if (!m?.[1]) throw new Error(`sox stat has no "${label}":\n${stderr}`);
    return Number(m[1]);
  };
  return { lengthS: num('Length \\(seconds\\)'), rms: num('RMS\\s+amplitude'), max: num('Maximum amplitude') };
}

/** `soxi -D`: duration in seconds. */
export async function soxDuration(path: string): Promise<number> {
  return Number((await run('soxi', ['-D', path])).stdout.trim());
}

/** Polls (real time, bounded) until `pred` holds. */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves like `p`, or rejects when it takes longer than `ms` of real time. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A port nothing listens on (taken from the OS, then released). */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface RadioOptions {
  /** Looped as the live programme. */
  data: Buffer;
  bytesPerSec: number;
  /** Bytes per write are a multiple of this (2 for s16 mono). */
  align?: number;
  contentType: string;
  /** The first listener is cut after this long, then the port refuses connections for refuseMs. */
  dropAfterMs?: number;
  refuseMs?: number;
}

export interface Radio {
  url: (path?: string) => string;
  /** Real-time moments (Date.now()) when the first listener was cut and when the port listened again. */
  droppedAt?: number;
  backAt?: number;
  connections: number;
  close: () => Promise<void>;
}

/**
 * A paced live stream over HTTP: each listener gets the programme from the current live position at its
 * real-time rate. Optionally drops the first listener and refuses connections for a while, like a relay
 * that restarts. /moved… redirects to /live…, /missing… answers 404.
 */
export async function startRadio(o: RadioOptions): Promise<Radio> {
  const align = o.align ?? 1;
  const started = Date.now();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let servers: http.Server[] = [];
  let port = 0;
  const radio: Radio = {
    url: (path = '/live') => `http://127.0.0.1:${port}${path}`,
    connections: 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      servers = [];
    },
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.url?.startsWith('/moved')) {
      res.writeHead(302, { location: req.url.replace('/moved', '/live') }).end();
      return;
    }
    if (req.url?.startsWith('/missing')) {
      res.writeHead(404).end('no such mount');
      return;
    }
    radio.connections++;
    const first = radio.connections === 1;
    res.writeHead(200, { 'content-type': o.contentType, 'cache-control': 'no-cache' });
    const connectedAt = Date.now();
    let pos = Math.floor((((connectedAt - started) / 1000) * o.bytesPerSec) / align) * align;
    let sent = 0;
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const tick = (): void => {
      if (closed) return;
      const due = Math.floor((((Date.now() - connectedAt) / 1000) * o.bytesPerSec) / align) * align;
      while (sent < due) {
        const start = pos % o.data.length;
        const n = Math.min(due - sent, o.data.length - start);
        res.write(o.data.subarray(start, start + n));
        pos += n;
        sent += n;
      }
      if (first && o.dropAfterMs !== undefined && Date.now() - connectedAt >= o.dropAfterMs) {
        cutAndRefuse(req.socket);
        return;
      }
      const t = setTimeout(() => {
        timers.delete(t);
        tick();
      }, 50);
      timers.add(t);
    };
    tick();
  };

  const listen = async (): Promise<void> => {
    const server = http.createServer(handler);
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  };

  const cutAndRefuse = (socket: Socket): void => {
    radio.droppedAt = Date.now();
    socket.destroy();
    const old = servers;
    servers = [];
    for (const s of old) s.close();
    const t = setTimeout(() => {
      timers.delete(t);
      listen().then(
        () => {
          radio.backAt = Date.now();
        },
        (err: unknown) => console.error('radio could not listen again', err),
      );
    }, o.refuseMs ?? 0);
    timers.add(t);
  };

  await listen();
  return radio;
}
