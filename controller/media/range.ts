/**
 * HTTP Range planning for one file (RFC 9110 §13–14), pure and framework-neutral: from the request headers and
 * the file's size and ETag, decide the status, the response headers and which bytes to send.
 */

/** Request headers as node:http gives them (lower-case names). */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface RangeTarget {
  /** File size in bytes. */
  size: number;
  /** The opaque tag, without quotes (the media sha256): sent as the strong ETag `"<etag>"`. */
  etag: string;
  /** Content-Type of 200/206 answers. */
  mime?: string;
  /** Default `public, max-age=31536000, immutable` (the content behind an ETag never changes). */
  cacheControl?: string;
  /** Range is only honoured for GET; a HEAD gets the 200 headers. Default GET. */
  method?: string;
}

export interface RangePlan {
  status: 200 | 206 | 304 | 416;
  headers: Record<string, string>;
  /** First byte to send (inclusive). Present for 200 and 206. */
  start?: number;
  /** Last byte to send (inclusive). Present for 200 and 206; `start - 1` for an empty file. */
  end?: number;
  /** How many body bytes to send: 0 for HEAD, 304 and 416. */
  length: number;
}

export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** One parsed `Range` header. `ignore`: not a single byte range we handle, so the whole file is sent. */
export type ParsedRange =
  | { kind: 'ignore' }
  | { kind: 'unsatisfiable' }
  | { kind: 'range'; start: number; end: number };

function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

/**
 * Parses `Range: bytes=a-b`, `bytes=a-`, `bytes=-n` against a size. Syntax errors, other units and multiple
 * ranges are `ignore` (a server may always answer with the whole file); a first byte past the end or a zero
 * suffix is `unsatisfiable`; a last byte past the end is clamped.
 */
export function parseRange(value: string, size: number): ParsedRange {
  const m = /^\s*bytes\s*=(.*)$/i.exec(value);
  if (!m?.[1] || size <= 0) return { kind: 'ignore' };
  const specs = m[1].split(',').map((s) => s.trim()).filter(Boolean);
  if (specs.length !== 1 || !specs[0]) return { kind: 'ignore' };
  const spec = specs[0];
  const suffix = /^-(\d+)$/.exec(spec);
  if (suffix?.[1]) {
    const n = Number(suffix[1]);
    if (n === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const full = /^(\d+)-(\d*)$/.exec(spec);
  if (!full?.[1]) return { kind: 'ignore' };
  const start = Number(full[1]);
  const last = full[2] ? Number(full[2]) : Infinity;
  if (last < start) return { kind: 'ignore' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(last, size - 1) };
}

/** The entity-tags of an If-None-Match / If-Range value: opaque tags with their weakness, or `*`. */
function entityTags(value: string): Array<{ weak: boolean; tag: string }> | '*' {
  if (value.trim() === '*') return '*';
  const out: Array<{ weak: boolean; tag: string }> = [];
  for (const m of value.matchAll(/(W\/)?"([^"]*)"/g)) out.push({ weak: m[1] !== undefined, tag: m[2] ?? '' });
  return out;
}

/** If-None-Match uses the weak comparison: W/"x" matches "x". */
function noneMatchHits(value: string, etag: string): boolean {
  const tags = entityTags(value);
  return tags === '*' || tags.some((t) => t.tag === etag);
}

/** If-Range uses the strong comparison, and a date never matches (there is no Last-Modified). */
function ifRangeHolds(value: string, etag: string): boolean {
  const v = value.trim();
  return v === `"${etag}"`;
}

/**
 * Plans the answer to a GET or HEAD for a file:
 * - `If-None-Match` naming the ETag (or `*`) → 304;
 * - no usable `Range`, a HEAD, or an `If-Range` that does not strongly match → 200 with the whole file;
 * - one satisfiable range → 206 with `Content-Range: bytes a-b/size`;
 * - an unsatisfiable range → 416 with `Content-Range: bytes *\/size`.
 * Every answer carries `Accept-Ranges: bytes`, the ETag and Cache-Control.
 */
export function planRange(headers: RequestHeaders, target: RangeTarget): RangePlan {
  const { size, etag } = target;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid file size: ${size}`);
  if (!/^[\x21\x23-\x7e]*$/.test(etag)) throw new RangeError('an ETag may not hold quotes, spaces or controls');
  const method = (target.method ?? 'GET').toUpperCase();
  const common: Record<string, string> = {
    'Accept-Ranges': 'bytes',
    ETag: `"${etag}"`,
    'Cache-Control': target.cacheControl ?? IMMUTABLE_CACHE_CONTROL,
  };

  const inm = headerValue(headers, 'if-none-match');
  if (inm !== undefined && noneMatchHits(inm, etag)) return { status: 304, headers: common, length: 0 };

  const whole = (): RangePlan => ({
    status: 200,
    headers: { ...common, 'Content-Length': String(size), ...(target.mime ? { 'Content-Type': target.mime } : {}) },
    start: 0,
    end: size - 1,
    length: method === 'HEAD' ? 0 : size,
  });

  const range = headerValue(headers, 'range');
  if (range === undefined || method !== 'GET') return whole();
  const ifRange = headerValue(headers, 'if-range');
  if (ifRange !== undefined && !ifRangeHolds(ifRange, etag)) return whole();

  const r = parseRange(range, size);
  switch (r.kind) {
    case 'ignore':
      return whole();
    case 'unsatisfiable':
      return { status: 416, headers: { ...common, 'Content-Range': `bytes */${size}` }, length: 0 };
    case 'range': {
      const length = r.end - r.start + 1;
      return {
        status: 206,
        headers: {
          ...common,
          'Content-Range': `bytes ${r.start}-${r.end}/${size}`,
          'Content-Length': String(length),
          ...(target.mime ? { 'Content-Type': target.mime } : {}),
        },
        start: r.start,
        end: r.end,
        length,
      };
    }
  }
}
