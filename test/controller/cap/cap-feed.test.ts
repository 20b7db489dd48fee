import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CapFeedPoll } from '../../../controller/cap/feed.js';
import { hashPassword } from '../../../controller/auth/password.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { postCap, seedZonesAndUsers, storm } from './cap-rig.js';

const SENDER = 'canhbao@nchmf.gov.vn';
const HOUR = 3_600_000;

/**
 * A local HTTP server plays the hydro-meteorological centre: an Atom index (ETag), an RSS index
 * (Last-Modified) and a single CAP document, each answering 304 to a matching conditional request.
 */
class FeedServer {
  readonly requests: { path: string; ifNoneMatch?: string; ifModifiedSince?: string }[] = [];
  /** Atom entries: [document name, updated]. */
  atom: [string, string][] = [];
  atomTag = '"v1"';
  readonly docs = new Map<string, string>();
  /** Documents that answer 500 (once each). */
  readonly failOnce = new Set<string>();
  private server: Server | null = null;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  fetched(name: string): number {
    return this.requests.filter((r) => r.path === `/alerts/${name}`).length;
  }

  private handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    const path = req.url ?? '/';
    this.requests.push({ path, ...(req.headers['if-none-match'] ? { ifNoneMatch: req.headers['if-none-match'] } : {}), ...(req.headers['if-modified-since'] ? { ifModifiedSince: req.headers['if-modified-since'] } : {}) });
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(body);
    };
    if (path === '/feed.atom') {
      if (req.headers['if-none-match'] === this.atomTag) return send(304, 'application/atom+xml', '');
      const entries = this.atom.map(([name, updated]) => name.startsWith('http')
        ? `<entry><id>${name}</id><title>x</title><updated>${updated}</updated><link rel="alternate" type="application/cap+xml" href="${name}"/></entry>`
        : `<entry><id>urn:${name}</id><title>Tin bão</title><updated>${updated}</updated><link rel="alternate" type="text/html" href="/html/${name}"/><link rel="alternate" type="application/cap+xml" href="/alerts/${name}"/></entry>`);
      return send(200, 'application/atom+xml', `<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:nchmf</id><title>Cảnh báo</title><updated>2026-11-23T03:00:00Z</updated>${entries.join('')}</feed>`, { etag: this.atomTag });
    }
    if (path === '/feed.rss') {
      const lastModified = 'Mon, 23 Nov 2026 03:00:00 GMT';
      if (req.headers['if-modified-since'] === lastModified) return send(304, 'application/rss+xml', '');
      return send(200, 'application/rss+xml', `<?xml version="1.0"?><rss version="2.0"><channel><title>CAP</title><link>${this.base}</link><description>d</description>
        <item><title>Tin bão</title><link>${this.base}/alerts/r1.xml</link><pubDate>Mon, 23 Nov 2026 03:00:00 GMT</pubDate></item></channel></rss>`, { 'last-modified': lastModified });
    }
    if (path === '/single.xml') {
      if (req.headers['if-none-match'] === '"s1"') return send(304, 'application/cap+xml', '');
      return send(200, 'application/cap+xml', this.docs.get('single.xml')!, { etag: '"s1"' });
    }
    const name = path.replace(/^\/alerts\//, '');
    if (this.failOnce.delete(name)) return send(500, 'text/plain', 'busy');
    const doc = this.docs.get(name);
    if (!doc) return send(404, 'text/plain', 'no');
    return send(200, 'application/cap+xml', doc);
  }
}

describe('CAP feeds (cap.feeds): polled with ETag / If-Modified-Since, each new alert handled as POST /api/v1/cap would', () => {
  const feeds = new FeedServer();
  let t: TestController;
  const expires = Date.now() + 2 * HOUR;
  const byUrl = (polls: CapFeedPoll[], suffix: string): CapFeedPoll => polls.find((p) => p.url.endsWith(suffix))!;

  before(async () => {
    await feeds.start();
    feeds.docs.set('a1.xml', storm({ identifier: 'FEED-A1', severity: 'Severe', expires }));
    feeds.docs.set('a2.xml', storm({ identifier: 'FEED-A2', severity: 'Severe', expires }));
    feeds.docs.set('a3.xml', storm({ identifier: 'FEED-A3', severity: 'Severe', expires }));
    feeds.docs.set('bad.xml', `<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]><alert>&x;</alert>`);
    feeds.docs.set('r1.xml', storm({ identifier: 'FEED-R1', severity: 'Severe', expires }));
    feeds.docs.set('single.xml', storm({ identifier: 'FEED-S1', severity: 'Severe', expires }));
    feeds.atom = [['a1.xml', '2026-11-23T03:00:00Z'], ['http://elsewhere.invalid/alerts/x.xml', '2026-11-23T03:00:00Z']];
    const feed = (path: string): Record<string, unknown> => ({ url: `${feeds.base}${path}`, intervalSeconds: 3600, actAs: 'feedbot' });
    t = await startTestController({ cap: { feeds: [feed('/feed.atom'), feed('/feed.rss'), feed('/single.xml')] } });
  });
  after(async () => {
    await t?.close();
    await feeds.stop();
  });

  it('reports a feed whose user does not exist (LOA_ERR_CAP_FEED) and fetches nothing', async () => {
    const polls = await t.controller.capFeeds!.pollAll();
    assert.deepEqual(polls.map((p) => [p.status, p.error?.code]), [['failed', 'LOA_ERR_CAP_FEED'], ['failed', 'LOA_ERR_CAP_FEED'], ['failed', 'LOA_ERR_CAP_FEED']]);
    assert.equal(feeds.requests.length, 0);
  });

  it('reads an Atom index, an RSS index and a single CAP document: alerts become orders as the feed\'s user; links to other hosts are not followed; an unchanged feed costs a 304', async () => {
    await seedZonesAndUsers(t);
    const d = t.controller.data;
    d.users.create({ id: 'u-feedbot', username: 'feedbot', displayName: 'Nguồn CAP', passwordHash: await hashPassword('feed-password-1') }, Date.now());
    d.users.setRoles('u-feedbot', [{ role: 'operator', zoneId: 'T01', canApprove: false }]);

    const polls = await t.controller.capFeeds!.pollAll();
    const atom = byUrl(polls, '/feed.atom');
    assert.equal(atom.status, 'read');
    assert.deepEqual(atom.alerts.map((a) => [a.source.replace(feeds.base, ''), a.action ?? a.code]), [['/alerts/a1.xml', 'pending'], ['http://elsewhere.invalid/alerts/x.xml', 'LOA_ERR_CAP_FEED']]);
    assert.deepEqual(byUrl(polls, '/feed.rss').alerts.map((a) => [a.source.replace(feeds.base, ''), a.action]), [['/alerts/r1.xml', 'pending']]);
    assert.deepEqual(byUrl(polls, '/single.xml').alerts.map((a) => a.action), ['pending']);

    const [order] = d.emergency.capOrders(SENDER, 'FEED-A1');
    assert.ok(order);
    assert.deepEqual([order.status, order.createdBy, order.zones], ['pending_approval', 'u-feedbot', ['X19753']]);
    assert.equal(d.emergency.capOrders(SENDER, 'FEED-R1').length, 1);
    assert.equal(d.emergency.capOrders(SENDER, 'FEED-S1').length, 1);
    const created = d.audit.list({ limit: 10, targetId: order.id }).find((e) => e.action === 'emergency.create');
    assert.deepEqual([created?.actor, (created?.details.cap as Record<string, unknown>).via, (created?.details.cap as Record<string, unknown>).feed], ['u-feedbot', 'feed', `${feeds.base}/feed.atom`]);

    const again = await t.controller.capFeeds!.pollAll();
    assert.deepEqual(again.map((p) => p.status), ['unchanged', 'unchanged', 'unchanged']);
    const conditional = feeds.requests.slice(-3);
    assert.deepEqual(conditional.map((r) => [r.path, r.ifNoneMatch ?? r.ifModifiedSince]), [['/feed.atom', '"v1"'], ['/feed.rss', 'Mon, 23 Nov 2026 03:00:00 GMT'], ['/single.xml', '"s1"']]);
    assert.equal(feeds.fetched('a1.xml'), 1);
  });

  it('fetches only new entries when the index changes, retries a document that could not be fetched, and never retries an alert that was refused', async () => {
    feeds.atom = [...feeds.atom, ['a2.xml', '2026-11-23T04:00:00Z'], ['a3.xml', '2026-11-23T04:00:00Z'], ['bad.xml', '2026-11-23T04:00:00Z']];
    feeds.atomTag = '"v2"';
    feeds.failOnce.add('a3.xml');
    const first = byUrl(await t.controller.capFeeds!.pollAll(), '/feed.atom');
    assert.deepEqual(first.alerts.map((a) => [a.source.replace(`${feeds.base}/alerts/`, ''), a.action ?? a.code]), [['a2.xml', 'pending'], ['a3.xml', 'LOA_ERR_CAP_FEED'], ['bad.xml', 'LOA_ERR_CAP_INVALID']]);
    assert.equal(feeds.fetched('a1.xml'), 1, 'a1 was handled before');
    // The refused alert is audited as the feed's user, without its XML.
    const refusal = t.controller.data.audit.list({ limit: 50 }).find((e) => e.action === 'cap.refused');
    assert.deepEqual([refusal?.actor, refusal?.details.via, refusal?.details.code], ['u-feedbot', 'feed', 'LOA_ERR_CAP_INVALID']);
    assert.ok(!JSON.stringify(refusal).includes('/etc/passwd'));

    // The index was not read completely, so its ETag was not kept: the next poll reads it again and fetches a3 only.
    const second = byUrl(await t.controller.capFeeds!.pollAll(), '/feed.atom');
    assert.equal(feeds.requests.filter((r) => r.path === '/feed.atom').at(-1)?.ifNoneMatch, '"v1"', 'the validator of the last complete read');
    assert.deepEqual(second.alerts.map((a) => [a.source.replace(`${feeds.base}/alerts/`, ''), a.action ?? a.code]), [['a3.xml', 'pending']]);
    assert.deepEqual([feeds.fetched('a2.xml'), feeds.fetched('a3.xml'), feeds.fetched('bad.xml')], [1, 2, 1]);
    assert.equal(byUrl(await t.controller.capFeeds!.pollAll(), '/feed.atom').status, 'unchanged');
  });

  it('makes no second order when an alert of the feed is also posted to the API', async () => {
    const admin = t.admin;
    const r = await postCap<{ action: string; orderIds: string[] }>(admin, storm({ identifier: 'FEED-A1', severity: 'Severe', expires }));
    assert.deepEqual([r.action, r.orderIds], ['duplicate', t.controller.data.emergency.capOrders(SENDER, 'FEED-A1').map((o) => o.id)]);
  });
});
