import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CapFeedConfig } from '../../../controller/cap/feed.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { AttackLog, httpRefusal } from '../support/attack-log.js';

/**
 * XML attacks on both CAP entry points of a real controller: POST /api/v1/cap and the feed poller (which reads an
 * Atom index and the CAP documents it links, here from a real local HTTP server): billion laughs, XXE to a file and
 * to an http URL, a bare DOCTYPE, a huge attribute, and documents past their caps. Every one must be refused,
 * quickly, with nothing fetched from the XXE URL and nothing of /etc/passwd in any answer.
 */
const REPRODUCE = 'npm test -- test/reliability/attacks/xml';
const FIXTURE = readFileSync(join(process.cwd(), 'test', 'fixtures', 'cap', 'vn-storm.xml'), 'utf8');
const withDoctype = (dtd: string, body = FIXTURE): string => body.replace(/^(<\?xml[^>]*\?>)?/, (decl) => `${decl}\n${dtd}\n`);
const LAUGHS = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`;

describe('XML attacks on the CAP parser (POST /api/v1/cap and the feed poller)', () => {
  let t: TestController;
  let server: Server;
  let base = '';
  const log = new AttackLog({ family: 'XML', reproduce: REPRODUCE });
  const outbound: string[] = [];
  const docs = new Map<string, string>();

  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/xxe-target')) outbound.push(path);
      const body = docs.get(path);
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': path.endsWith('.atom') ? 'application/atom+xml' : 'application/cap+xml' });
      res.end(body ?? 'not here');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startTestController({ cap: { feeds: [{ url: `${base}/feed.atom`, intervalSeconds: 86_400, actAs: 'admin' }] } });
  });
  after(async () => {
    await t.close();
    await new Promise((r) => server.close(r));
    log.finish();
  });

  const evil: [string, string, () => string, string][] = [
    ['X1', 'billion laughs (10^9 expansions of "lol")', () => withDoctype(LAUGHS), 'LOA_ERR_CAP_INVALID'],
    ['X2', 'XXE: an external entity to file:///etc/passwd used in <headline>', () => withDoctype('<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>').replace(/<headline>[^<]*/, '<headline>&xxe;'), 'LOA_ERR_CAP_INVALID'],
    ['X3', 'XXE: an external entity to an http URL (server-side request)', () => withDoctype(`<!DOCTYPE alert [<!ENTITY xxe SYSTEM "${base}/xxe-target">]>`).replace(/<headline>[^<]*/, '<headline>&xxe;'), 'LOA_ERR_CAP_INVALID'],
    ['X4', 'a bare DOCTYPE with an internal subset', () => withDoctype('<!DOCTYPE alert [<!ELEMENT alert ANY>]>'), 'LOA_ERR_CAP_INVALID'],
    ['X5', 'a parameter entity reaching out over http', () => withDoctype(`<!DOCTYPE alert [<!ENTITY % p SYSTEM "${base}/xxe-target-p"> %p;]>`), 'LOA_ERR_CAP_INVALID'],
  ];

  it('refuses DOCTYPE, entity expansion and XXE in POST /api/v1/cap (422) and fetches nothing', async () => {
    const post = async (xml: string | Buffer): Promise<string> => {
      const started = Date.now();
      const res = await fetch(new URL('/api/v1/cap', t.controller.httpUrl), { method: 'POST', headers: { authorization: `Bearer ${t.admin.token!}`, 'content-type': 'application/cap+xml' }, body: xml });
      const text = await res.clone().text();
      assert.ok(!text.includes('root:x:0:0'), 'the answer holds /etc/passwd');
      assert.ok(Date.now() - started < 10_000, 'answered in bounded time');
      return httpRefusal(res);
    };
    for (const [id, attack, xml, code] of evil) await log.attack(`${id}-api`, attack, 'POST /api/v1/cap', `HTTP 422 ${code}`, () => post(xml()));
    const hugeAttr = FIXTURE.replace('<alert ', `<alert data-x="${'A'.repeat(900 * 1024)}" `);
    await log.attack('X6-api', 'a 900 KiB attribute on <alert> (under the 1 MiB cap): parsed in bounded time, refused as not CAP', 'POST /api/v1/cap', 'HTTP 422 LOA_ERR_CAP_INVALID', () => post(hugeAttr.replace('urn:oasis:names:tc:emergency:cap:1.2', 'urn:evil')));
    await log.attack('X7-api', 'a 2 MiB attribute (past the 1 MiB CAP cap)', 'POST /api/v1/cap', 'HTTP 413 LOA_ERR_INPUT_TOO_LARGE', () => post(FIXTURE.replace('<alert ', `<alert data-x="${'A'.repeat(2 * 1024 * 1024)}" `)));
    await log.attack('X8-api', 'a CAP document of 8 MiB (past the 1 MiB cap)', 'POST /api/v1/cap', 'HTTP 413 LOA_ERR_INPUT_TOO_LARGE', () => post(Buffer.alloc(8 * 1024 * 1024, 0x20)));
    assert.deepEqual(outbound, [], 'no request reached the XXE URL');
  });

  it('refuses the same attacks in a polled feed: in the index itself, and in the CAP documents it links', async () => {
    const poller = t.controller.capFeeds!;
    const feed = (path: string): CapFeedConfig => ({ url: `${base}${path}`, intervalSeconds: 86_400, actAs: 'admin' });
    const atom = (links: string[]): string => `<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>Cảnh báo</title><updated>2026-11-23T03:00:00Z</updated>${links.map((l) => `<entry><id>urn:${l}</id><title>x</title><updated>2026-11-23T03:00:00Z</updated><link rel="alternate" type="application/cap+xml" href="${l}"/></entry>`).join('')}</feed>`;
    for (const [id, attack, xml, code] of evil) {
      docs.set(`/alerts/${id}.xml`, xml());
      docs.set(`/index-${id}.atom`, atom([`/alerts/${id}.xml`]));
      await log.attack(`${id}-feed`, `${attack}, in a CAP document linked by the feed`, 'CapFeedPoller (linked CAP)', code, async () => {
        const r = await poller.poll(feed(`/index-${id}.atom`));
        return r.alerts[0]?.code ?? r.error?.code ?? `poll ${r.status}, ${r.alerts.length} alerts handled`;
      });
      docs.set(`/feed-${id}.atom`, withDoctype(id === 'X1' ? LAUGHS.replace('lolz', 'feed') : `<!DOCTYPE feed [<!ENTITY xxe SYSTEM "${base}/xxe-target-feed">]>`, atom([]).replace('<title>Cảnh báo', '<title>&xxe;')));
      await log.attack(`${id}-index`, `${attack}, in the Atom index itself`, 'CapFeedPoller (index)', 'LOA_ERR_CAP_FEED', async () => (await poller.poll(feed(`/feed-${id}.atom`))).error?.code ?? 'ACCEPTED');
    }
    docs.set('/big.atom', `<feed xmlns="http://www.w3.org/2005/Atom">${' '.repeat(5 * 1024 * 1024)}</feed>`);
    await log.attack('X8-index', 'an Atom index of 5 MiB (past the 4 MiB index cap)', 'CapFeedPoller (index)', 'LOA_ERR_INPUT_TOO_LARGE', async () => (await poller.poll(feed('/big.atom'))).error?.code ?? 'ACCEPTED');
    docs.set('/alerts/big.xml', FIXTURE.replace('<alert ', `<alert data-x="${'A'.repeat(2 * 1024 * 1024)}" `));
    docs.set('/index-big.atom', atom(['/alerts/big.xml']));
    await log.attack('X8-feed', 'a linked CAP document of 2 MiB (past the 1 MiB cap)', 'CapFeedPoller (linked CAP)', 'LOA_ERR_INPUT_TOO_LARGE', async () => {
      const r = await poller.poll(feed('/index-big.atom'));
      return r.alerts[0]?.code ?? r.error?.code ?? 'ACCEPTED';
    });
    assert.deepEqual(outbound, [], 'no request reached the XXE URL');
  });
});
