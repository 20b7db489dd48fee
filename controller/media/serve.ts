import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LoaError, isLoaError } from '../../shared/errors.js';
import { planRange, type RangePlan, type RequestHeaders } from './range.js';

export interface FileRangeOptions {
  /** Opaque tag without quotes (the sha256): the strong ETag. */
  etag: string;
  /** Content-Type of the file. */
  mime: string;
  /** Default `public, max-age=31536000, immutable`. */
  cacheControl?: string;
}

/** What to answer: give `status` and `headers`, then send `stream` (200/206 GET) or `body` (416), or nothing. */
export interface FileRangeResponse {
  status: RangePlan['status'];
  headers: Record<string, string>;
  /** The requested bytes, for 200/206 to a GET. The caller must consume or destroy it (it holds the file open). */
  stream?: Readable;
  /** The `{error: {code, message}}` JSON of a 416. */
  body?: Buffer;
  plan: RangePlan;
}

function errorBody(e: LoaError): Buffer {
  return Buffer.from(JSON.stringify(e.toJSON()));
}

/**
 * Opens a file and plans a Range-aware answer, for any framework. In Fastify:
 * `const r = await openFileRange(path, request.raw, opts); return reply.code(r.status).headers(r.headers).send(r.stream ?? r.body ?? '');`
 * Rejects with LOA_ERR_MEDIA_NOT_FOUND when the file does not exist. The file is opened before it is measured,
 * so a concurrent delete cannot make the answer disagree with its headers.
 */
export async function openFileRange(
  path: string,
  req: { method?: string | undefined; headers: RequestHeaders },
  options: FileRangeOptions,
): Promise<FileRangeResponse> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', 'The media file was not found', { cause: e });
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', 'The media file was not found');
    const plan = planRange(req.headers, {
      size: st.size,
      etag: options.etag,
      mime: options.mime,
      method: req.method ?? 'GET',
      ...(options.cacheControl ? { cacheControl: options.cacheControl } : {}),
    });
    if (plan.status === 416) {
      const body = errorBody(new LoaError('LOA_ERR_RANGE_NOT_SATISFIABLE', `The requested range is outside the file (${st.size} bytes)`));
      await fh.close();
      return { status: 416, headers: { ...plan.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length) }, body, plan };
    }
    if (plan.length === 0 || plan.start === undefined || plan.end === undefined) {
      await fh.close();
      return { status: plan.status, headers: plan.headers, plan };
    }
    const stream = fh.createReadStream({ start: plan.start, end: plan.end, autoClose: true });
    return { status: plan.status, headers: plan.headers, stream, plan };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

export interface SendFileRangeResult {
  status: number;
  /** True when the body was cut short, almost always because the client went away (it resumes with Range). */
  aborted: boolean;
}

/**
 * Answers a GET/HEAD with Range support on a node:http response (or Fastify's `reply.raw`, after
 * `reply.hijack()`). A missing file is answered 404 with `{error: {code: LOA_ERR_MEDIA_NOT_FOUND}}`. Never
 * rejects because the client disconnected: that is reported as `aborted`.
 */
export async function sendFileRange(req: IncomingMessage, res: ServerResponse, path: string, options: FileRangeOptions): Promise<SendFileRangeResult> {
  let r: FileRangeResponse;
  try {
    r = await openFileRange(path, req, options);
  } catch (e) {
    const err = isLoaError(e) ? e : new LoaError('LOA_ERR_INTERNAL', 'The media file could not be read', { cause: e });
    const status = err.code === 'LOA_ERR_MEDIA_NOT_FOUND' ? 404 : 500;
    const body = errorBody(err);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return { status, aborted: false };
  }
  res.writeHead(r.status, r.headers);
  if (!r.stream) {
    res.end(req.method === 'HEAD' ? undefined : r.body);
    return { status: r.status, aborted: false };
  }
  try {
    await pipeline(r.stream, res);
    return { status: r.status, aborted: false };
  } catch {
    r.stream.destroy();
    return { status: r.status, aborted: true };
  }
}
