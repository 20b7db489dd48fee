import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { User } from '../data/users.js';
import type { Actor } from '../emergency/service.js';
import type { CapOutcome, CapSource } from './ingest.js';
import { CAP_MAX_BYTES } from './parse.js';

export interface CapFeedConfig {
  url: string;
  intervalSeconds: number;
  /** The user whose zones and rights the feed's alerts are handled with. */
  actAs: string;
  /** Hosts an index may link CAP documents on (default: the feed's own host). */
  allowedHosts?: readonly string[];
}

export interface CapFeedOptions {
  feeds: readonly CapFeedConfig[];
  /** Handles one alert the way POST /api/v1/cap does. */
  ingest: (actor: Actor, xml: Buffer, source: CapSource) => Promise<CapOutcome>;
  /** The live user a feed acts as; null when there is none or it is disabled. */
  userByName: (username: string) => User | null;
  clock: Clock;
  log: Logger;
  fetch?: typeof fetch;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Largest index (Atom/RSS) read (default 4 MiB); a CAP document is capped at 1 MiB like POST /api/v1/cap. */
  maxIndexBytes?: number;
  /** CAP documents fetched per poll at most (default 50); the rest wait for the next poll. */
  maxEntriesPerPoll?: number;
}

/** What one poll of one feed did. */
export interface CapFeedPoll {
  url: string;
  status: 'unchanged' | 'read' | 'failed';
  /** One per alert handled this time: its outcome, or the coded refusal. */
  alerts: { source: string; action?: CapOutcome['action']; orderId?: string; code?: string }[];
  error?: { code: string; message: string };
}

interface FeedState {
  etag?: string;
  lastModified?: string;
  /** Entries handled already (link + updated), as listed by the latest index. */
  seen: Set<string>;
}

type Node = Record<string, unknown>;
const indexParser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, ignoreDeclaration: true, ignorePiTags: true,
  processEntities: true, htmlEntities: false, parseTagValue: false, parseAttributeValue: false, trimValues: true,
  isArray: (name) => name === 'entry' || name === 'item' || name === 'link' || name === 'enclosure',
});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Node)['#text'] === 'string' ? (v as Node)['#text'] as string : undefined);
const attr = (v: unknown, name: string): string | undefined => (v && typeof v === 'object' && typeof (v as Node)[`@_${name}`] === 'string' ? (v as Node)[`@_${name}`] as string : undefined);
const isCapType = (t: string | undefined): boolean => !!t && /cap\+xml/i.test(t);
const isXmlType = (t: string | undefined): boolean => !!t && /xml/i.test(t);

/** The first element's local name (after the declaration, comments and processing instructions). */
function rootName(doc: string): string | null {
  const m = /^(?:\s|<\?[\s\S]*?\?>|<!--[\s\S]*?-->)*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)/.exec(doc.replace(/^\uFEFF/, ''));
  return m?.[1] ?? null;
}

/** The CAP document an Atom entry or RSS item points at: a link typed CAP, then any XML link, then the first link. */
function entryLink(e: Node, atom: boolean): string | undefined {
  if (atom) {
    const links = list(e.link);
    const pick = links.find((l) => isCapType(attr(l, 'type'))) ?? links.find((l) => isXmlType(attr(l, 'type'))) ?? links.find((l) => (attr(l, 'rel') ?? 'alternate') === 'alternate') ?? links[0];
    return attr(pick, 'href');
  }
  const enc = list(e.enclosure).find((x) => isCapType(attr(x, 'type')) || isXmlType(attr(x, 'type')));
  return attr(enc, 'url') ?? list(e.link).map(text).find((x) => !!x);
}

/** Reads a response body, refusing it as soon as it passes `max` bytes. */
async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `${what} is ${declared} bytes; the limit is ${max}`);
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      const b = Buffer.from(chunk as Uint8Array);
      size += b.length;
      if (size > max) throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `${what} passes the limit of ${max} bytes`);
      chunks.push(b);
    }
  }
  return Buffer.concat(chunks);
}

/**
 * Polls CAP feeds (issue 6): each an Atom or RSS index of CAP documents, or one CAP document, fetched with
 * If-None-Match / If-Modified-Since so an unchanged feed costs a 304. Each new alert goes to the same ingestion
 * as POST /api/v1/cap, as the feed's `actAs` user (audited as that user, with the feed's URL). Linked documents
 * are fetched only from the feed's host (or `allowedHosts`), over http(s). An entry whose document could not be
 * fetched is retried at the next poll; an alert that was refused (invalid, out of scope …) is not.
 */
export class CapFeedPoller {
  private readonly state = new Map<string, FeedState>();
  private ac: AbortController | null = null;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: CapFeedOptions) {}

  start(): void {
    if (this.ac) return;
    const ac = new AbortController();
    this.ac = ac;
    this.loops = this.o.feeds.map((f) => this.loop(f, ac.signal));
  }

  async stop(): Promise<void> {
    this.ac?.abort();
    await Promise.allSettled(this.loops);
    this.ac = null;
    this.loops = [];
  }

  private async loop(f: CapFeedConfig, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll(f, signal);
      try {
        await this.o.clock.sleep(f.intervalSeconds * 1000, signal);
      } catch {
        return;
      }
    }
  }

  /** Polls every feed once (tests, and an operator's "check now"). */
  async pollAll(signal?: AbortSignal): Promise<CapFeedPoll[]> {
    const out: CapFeedPoll[] = [];
    for (const f of this.o.feeds) out.push(await this.poll(f, signal));
    return out;
  }

  private async get(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 30_000);
    return (this.o.fetch ?? fetch)(url, { headers, redirect: 'follow', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  }

  /** Polls one feed; never throws (problems are logged with LOA_ERR_CAP_FEED and returned). */
  async poll(f: CapFeedConfig, signal?: AbortSignal): Promise<CapFeedPoll> {
    const result: CapFeedPoll = { url: f.url, status: 'read', alerts: [] };
    const st = this.state.get(f.url) ?? { seen: new Set<string>() };
    this.state.set(f.url, st);
    try {
      const user = this.o.userByName(f.actAs);
      if (!user) throw new LoaError('LOA_ERR_CAP_FEED', `the feed's user "${f.actAs}" does not exist or is disabled`);
      const actor: Actor = { user, ip: null };
      const headers: Record<string, string> = { accept: 'application/atom+xml, application/rss+xml, application/cap+xml, application/xml;q=0.9, text/xml;q=0.8' };
      if (st.etag) headers['if-none-match'] = st.etag;
      if (st.lastModified) headers['if-modified-since'] = st.lastModified;
      const res = await this.get(f.url, headers, signal);
      if (res.status === 304) {
        await res.body?.cancel();
        result.status = 'unchanged';
        return result;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new LoaError('LOA_ERR_CAP_FEED', `the feed answered HTTP ${res.status}`);
      }
      const body = await readCapped(res, this.o.maxIndexBytes ?? 4 * 1024 * 1024, 'the feed');
      const doc = body.toString('utf8');
      if (/<!DOCTYPE|<!ENTITY/i.test(doc)) throw new LoaError('LOA_ERR_CAP_FEED', 'the feed holds a DOCTYPE or ENTITY declaration; refused (XXE, entity expansion)');
      const root = rootName(doc);
      let complete = true;
      if (root === 'alert') {
        const key = createHash('sha256').update(body).digest('hex');
        if (!st.seen.has(key)) {
          complete = await this.handle(actor, f, f.url, () => Promise.resolve(body), result);
          if (complete) st.seen = new Set([key]);
        }
      } else if (root === 'feed' || root === 'rss' || root === 'RDF') {
        complete = await this.index(actor, f, st, doc, root === 'feed', result, signal);
      } else {
        throw new LoaError('LOA_ERR_CAP_FEED', `the feed is neither Atom, RSS nor a CAP alert (root element ${root ?? 'none'})`);
      }
      // Entries that could not be fetched are retried: the validators are kept only after a complete poll.
      if (complete) {
        const etag = res.headers.get('etag');
        const lastModified = res.headers.get('last-modified');
        if (etag) st.etag = etag; else delete st.etag;
        if (lastModified) st.lastModified = lastModified; else delete st.lastModified;
      }
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_CAP_FEED');
      result.status = 'failed';
      result.error = { code: err.code, message: err.message };
      if (!signal?.aborted) this.o.log.error({ code: err.code, feed: f.url }, `CAP feed poll failed: ${err.message}`);
    }
    return result;
  }

  /** The new entries of an Atom/RSS index. Returns false when some document could not be fetched (retried next time). */
  private async index(actor: Actor, f: CapFeedConfig, st: FeedState, doc: string, atom: boolean, result: CapFeedPoll, signal?: AbortSignal): Promise<boolean> {
    const parsed = indexParser.parse(doc) as Node;
    const entries = atom ? list((parsed.feed as Node | undefined)?.entry)
      : list(((parsed.rss as Node | undefined)?.channel as Node | undefined)?.item ?? (parsed.RDF as Node | undefined)?.item);
    const allowed = new Set((f.allowedHosts ?? [new URL(f.url).host]).map((h) => h.toLowerCase()));
    const listed = new Set<string>();
    let complete = true;
    let fetched = 0;
    for (const raw of entries) {
      const e = raw as Node;
      const href = entryLink(e, atom);
      if (!href) continue;
      let url: URL;
      try {
        url = new URL(href, f.url);
      } catch {
        continue;
      }
      const key = `${url.href}#${text(e.updated) ?? text(e.pubDate) ?? text(e.published) ?? ''}`;
      listed.add(key);
      if (st.seen.has(key)) continue;
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !allowed.has(url.host.toLowerCase())) {
        this.o.log.warn({ code: 'LOA_ERR_CAP_FEED', feed: f.url, host: url.host }, 'a CAP feed entry links outside the feed\'s allowed hosts; skipped');
        result.alerts.push({ source: url.href, code: 'LOA_ERR_CAP_FEED' });
        st.seen.add(key);
        continue;
      }
      if (fetched >= (this.o.maxEntriesPerPoll ?? 50)) {
        complete = false;
        continue;
      }
      fetched++;
      const done = await this.handle(actor, f, url.href, async () => {
        const res = await this.get(url.href, { accept: 'application/cap+xml, application/xml;q=0.9, text/xml;q=0.8' }, signal);
        if (!allowed.has(new URL(res.url || url.href).host.toLowerCase())) {
          await res.body?.cancel();
          throw new LoaError('LOA_ERR_CAP_FEED', `${url.href} redirected outside the feed's allowed hosts`);
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new LoaError('LOA_ERR_CAP_FEED', `${url.href} answered HTTP ${res.status}`);
        }
        return readCapped(res, CAP_MAX_BYTES, url.href);
      }, result);
      if (done) st.seen.add(key);
      else complete = false;
    }
    // Forget what the index no longer lists, so the set stays as small as the index.
    st.seen = new Set([...st.seen].filter((k) => listed.has(k)));
    return complete;
  }

  /**
   * Fetches and ingests one alert. True when it is dealt with (handled, or refused for good: its outcome is in the
   * audit log); false when the document could not be fetched and should be tried again.
   */
  private async handle(actor: Actor, f: CapFeedConfig, source: string, load: () => Promise<Buffer>, result: CapFeedPoll): Promise<boolean> {
    let xml: Buffer;
    try {
      xml = await load();
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_CAP_FEED');
      this.o.log.warn({ code: err.code, feed: f.url, source }, `a CAP document of the feed could not be fetched: ${err.message}`);
      result.alerts.push({ source, code: err.code });
      return err.code === 'LOA_ERR_INPUT_TOO_LARGE';
    }
    try {
      const r = await this.ingest(actor, xml, f);
      const orderId = r.action === 'auto' || r.action === 'pending' ? r.order.id : r.action === 'duplicate' ? r.orderIds[0] : undefined;
      result.alerts.push({ source, action: r.action, ...(orderId ? { orderId } : {}) });
      this.o.log.info({ feed: f.url, source, action: r.action, orderId }, 'CAP alert from a feed handled');
      return true;
    } catch (e) {
      const err = toLoaError(e);
      result.alerts.push({ source, code: err.code });
      this.o.log.warn({ code: err.code, feed: f.url, source }, `a CAP alert of the feed was refused: ${err.message}`);
      // A refusal that may pass later (no key yet, TTS engine down, broker busy) is tried again.
      return !['LOA_ERR_EMERGENCY_KEY_MISSING', 'LOA_ERR_TTS_FAILED', 'LOA_ERR_TOOL_MISSING', 'LOA_ERR_INTERNAL'].includes(err.code);
    }
  }

  private ingest(actor: Actor, xml: Buffer, f: CapFeedConfig): Promise<CapOutcome> {
    return this.o.ingest(actor, xml, { via: 'feed', feed: f.url });
  }
}
