import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import type { Logger } from '../../shared/log.js';
import { checker, parseJsonText } from '../../shared/validate.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js';
import type { DisplaySurface } from './surface.js';

export interface DisplayServerOptions {
  surface: DisplaySurface;
  media: { has(sha256: string): boolean; pathOf(sha256: string): string };
  log: Logger;
  /** 0 = any free port. */
  port: number;
  /** Only the kiosk on this machine reads the page: 127.0.0.1 by default. */
  host?: string;
  /** SSE keep-alive comment interval (default 15 s). */
  pingMs?: number;
}

const REPORT_MAX_BYTES = 4096;
const reportChecker = checker(Type.Object({
  viewId: Type.Optional(Type.Integer({ minimum: 0 })),
  alertKey: Type.Optional(Type.String({ maxLength: 300 })),
  status: Type.Union([Type.Literal('shown'), Type.Literal('error')]),
  code: Type.Optional(Type.String({ maxLength: 64 })),
  message: Type.Optional(Type.String({ maxLength: 500 })),
  fit: Type.Optional(Type.Object({ fontPx: Type.Number({ minimum: 0 }), pages: Type.Integer({ minimum: 1 }), overflow: Type.Boolean() }, { additionalProperties: false })),
}, { additionalProperties: false }), 'LOA_ERR_SCHEMA');

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Image and video types by their first bytes (the page only ever asks for files of the signed manifest). */
export function sniffDisplayMime(head: Buffer): string {
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (head.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (head.subarray(4, 8).toString('latin1') === 'ftyp') return 'video/mp4';
  if (head.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]))) return 'video/webm';
  return 'application/octet-stream';
}

export interface DisplayServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The board's local page (DESIGN §4 `display`): GET / (page), /display.js, /display.css, /state, /events
 * (server-sent state on every change), /media/<sha256> (files of the media store), POST /report (the page
 * confirms what is on screen). It listens on 127.0.0.1 only: the kiosk on the same machine is its one reader.
 */
export async function startDisplayServer(o: DisplayServerOptions): Promise<DisplayServer> {
  const clients = new Set<ServerResponse>();
  const send = (res: ServerResponse, body: string): void => {
    res.write(`data: ${body}\n\n`);
  };
  const unsubscribe = o.surface.subscribe((s) => {
    const body = JSON.stringify(s);
    for (const c of clients) send(c, body);
  });
  const ping = setInterval(() => {
    for (const c of clients) c.write(': ping\n\n');
  }, o.pingMs ?? 15_000);
  ping.unref();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://display.local');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP });
      res.end(PAGE_HTML);
    } else if (req.method === 'GET' && path === '/display.js') {
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/javascript; charset=utf-8' });
      res.end(PAGE_JS);
    } else if (req.method === 'GET' && path === '/display.css') {
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/css; charset=utf-8' });
      res.end(PAGE_CSS);
    } else if (req.method === 'GET' && path === '/state') {
      res.writeHead(200, { ...HEADERS, 'content-type': 'application/json' });
      res.end(JSON.stringify(o.surface.state()));
    } else if (req.method === 'GET' && path === '/events') {
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
      res.write('retry: 1000\n\n');
      send(res, JSON.stringify(o.surface.state()));
      clients.add(res);
      req.on('close', () => clients.delete(res));
    } else if (req.method === 'GET' && /^\/media\/[0-9a-f]{64}$/.test(path)) {
      const sha = path.slice(7);
      if (!o.media.has(sha)) {
        res.writeHead(404, HEADERS).end();
        return;
      }
      const file = o.media.pathOf(sha);
      const head = Buffer.alloc(16);
      const fh = await open(file, 'r');
      try {
        await fh.read(head, 0, 16, 0);
      } finally {
        await fh.close();
      }
      res.writeHead(200, { ...HEADERS, 'content-type': sniffDisplayMime(head), 'content-length': statSync(file).size });
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } else if (req.method === 'POST' && path === '/report') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > REPORT_MAX_BYTES) {
          res.writeHead(413, HEADERS).end();
          return;
        }
        chunks.push(c);
      }
      const report = reportChecker.parse(parseJsonText(Buffer.concat(chunks), REPORT_MAX_BYTES, 'display report'), 'display report');
      o.surface.report(report);
      res.writeHead(204, HEADERS).end();
    } else {
      res.writeHead(404, HEADERS).end();
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      o.log.warn({ err: e, url: req.url }, 'display page request refused');
      if (!res.headersSent) res.writeHead(400, HEADERS);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}/`,
    port,
    async close() {
      unsubscribe();
      clearInterval(ping);
      for (const c of clients) c.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
