import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { verifyDeviceToken } from '../../shared/device-token.js';

export interface SeenRequest {
  method: string;
  path: string;
  range: string | null;
  ifNoneMatch: string | null;
  authorized: boolean;
}

export interface MediaCut {
  sha256: string;
  /** Bytes sent before the connection is cut. */
  afterBytes: number;
  /** Awaited after those bytes were flushed, before the cut (e.g. until the device wrote them). */
  before?: () => Promise<void>;
}

/**
 * A node:http server in the controller's role (DESIGN §3): the device manifest with ETag/304, media by sha256
 * with `Range: bytes=N-`, and enrollment. Device tokens are checked against `devicePublicKey` when set.
 */
export class FakeController {
  readonly requests: SeenRequest[] = [];
  readonly media = new Map<string, Buffer>();
  manifest: { body: string; etag: string } | null = null;
  devicePublicKey: string | null = null;
  /** Cut the next response for this media file mid-body (once). */
  cut: MediaCut | null = null;
  enroll: ((body: unknown) => { status: number; body: unknown }) | null = null;
  /** Serve media as a server without Range support would: always 200 with the whole file. */
  ignoreRange = false;
  private server: Server | null = null;
  url = '';

  setManifest(env: unknown): void {
    const body = JSON.stringify(env);
    this.manifest = { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"` };
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Bearer ')) return false;
    if (!this.devicePublicKey) return true;
    try {
      verifyDeviceToken(h.slice(7), this.devicePublicKey, Date.now());
      return true;
    } catch {
      return false;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const seen: SeenRequest = {
      method: req.method ?? 'GET', path, range: req.headers.range ?? null, ifNoneMatch: req.headers['if-none-match'] ?? null, authorized: this.authorized(req),
    };
    this.requests.push(seen);
    if (req.method === 'POST' && path === '/api/v1/enroll') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const answer = this.enroll?.(JSON.parse(Buffer.concat(chunks).toString('utf8'))) ?? { status: 404, body: { error: { code: 'LOA_ERR_NOT_FOUND', message: 'no' } } };
      return send(res, answer.status, answer.body);
    }
    if (!seen.authorized) return send(res, 401, { error: { code: 'LOA_ERR_UNAUTHENTICATED', message: 'bad token' } });
    if (/^\/api\/v1\/devices\/[^/]+\/manifest$/.test(path)) {
      if (!this.manifest) return send(res, 404, { error: { code: 'LOA_ERR_NOT_FOUND', message: 'no manifest' } });
      if (seen.ifNoneMatch === this.manifest.etag) {
        res.writeHead(304, { etag: this.manifest.etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag: this.manifest.etag }).end(this.manifest.body);
      return;
    }
    const m = /^\/media\/([0-9a-f]{64})$/.exec(path);
    const file = m ? this.media.get(m[1]!) : undefined;
    if (!m || !file) return send(res, 404, { error: { code: 'LOA_ERR_NOT_FOUND', message: 'no media' } });
    const r = this.ignoreRange ? null : /^bytes=(\d+)-$/.exec(seen.range ?? '');
    const start = r ? Number(r[1]) : 0;
    if (start >= file.length) return send(res, 416, { error: { code: 'LOA_ERR_RANGE_NOT_SATISFIABLE', message: 'range' } });
    const body = file.subarray(start);
    res.writeHead(r ? 206 : 200, {
      'content-type': 'application/octet-stream', 'content-length': body.length,
      ...(r ? { 'content-range': `bytes ${start}-${file.length - 1}/${file.length}` } : {}),
    });
    const cut = this.cut;
    if (cut && cut.sha256 === m[1]) {
      this.cut = null;
      await new Promise<void>((resolve) => res.write(body.subarray(0, cut.afterBytes), () => resolve()));
      await cut.before?.();
      res.socket?.destroy();
      return;
    }
    res.end(body);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
