import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import type { EmergencyContent } from '../../../shared/schemas/emergency.js';
import { canonicalize } from '../../../shared/crypto.js';
import { startTestController, type TestController } from '../../support/controller.js';

interface Feed { _type: string; keyid: string; generatedAt: string; expiresAt: string; alerts: { id: string; title: string; text?: string; kind: string; zones: { id: string; name: string }[] }[] }

describe('the public emergency feed', () => {
  let t: TestController;
  let dir: string;
  const url = (p: string): URL => new URL(p, t.controller.httpUrl);

  before(async () => {
    t = await startTestController();
    dir = mkdtempSync(join(tmpdir(), 'loa-feed-'));
    const d = t.controller.data;
    const now = Date.now();
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Bình Minh' }, now);
    d.devices.create({ id: 'dev-1', zoneId: 'X1', name: 'Loa', kind: 'speaker' }, now);
    const order = (id: string, content: EmergencyContent, status: 'active' | 'pending', over: { startAt?: number; expiresAt?: number } = {}): void => {
      const expiresAt = over.expiresAt ?? now + 3_600_000;
      const sent = status === 'active' ? { signed: { seq: d.emergency.nextSeq(now), issuedAt: now, expiresAt, body: '{}' }, deviceIds: ['dev-1'] } : undefined;
      d.emergency.create({
        id, zoneId: 'X1', title: `Tiêu đề ${id}`, zones: ['X1'], devices: [], content, mediaId: null, repeat: 1, volume: null,
        startAt: over.startAt ?? null, ttlMs: 3_600_000, expiresAt, createdBy: 'u',
      }, now, sent);
    };
    const audio = { sha256: 'a'.repeat(64), size: 10, durationMs: 1000 };
    order('em-tts', { kind: 'tts', text: 'Lũ đang lên, bà con <sơ tán> ngay & giữ an toàn', ...audio }, 'active');
    order('em-live', { kind: 'live', streamUrl: 'http://127.0.0.1/live/x', codec: 'opus' }, 'active');
    order('em-pending', { kind: 'media', ...audio }, 'pending');
    order('em-later', { kind: 'media', ...audio }, 'active', { startAt: now + 600_000 });
    order('em-expired', { kind: 'media', ...audio }, 'active', { expiresAt: now - 1000 });
    order('em-cancelled', { kind: 'media', ...audio }, 'active');
    d.emergency.cancel('em-cancelled', 'u', now);
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists only the orders in force, with their text and zones, in canonical JSON signed by the emergency key (verified by Node and by openssl)', async () => {
    const keyRes = await fetch(url('/api/v1/public/emergency/key'));
    assert.equal(keyRes.status, 200);
    const key = (await keyRes.json()) as { keyid: string; public: string; pem: string };
    const res = await fetch(url('/api/v1/public/emergency/feed.json'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const body = Buffer.from(await res.arrayBuffer());
    const sig = res.headers.get('x-loa-signature')!;
    assert.equal(res.headers.get('x-loa-keyid'), key.keyid);
    assert.ok(verify(null, body, createPublicKey(key.pem), Buffer.from(sig, 'base64')), 'Node verifies the detached signature');
    const feed = JSON.parse(body.toString('utf8')) as Feed;
    assert.equal(body.toString('utf8'), canonicalize(feed), 'the body is canonical JSON');
    assert.equal(feed._type, 'loa.emergency-feed');
    assert.ok(Date.parse(feed.expiresAt) - Date.parse(feed.generatedAt) <= 5 * 60_000);
    assert.deepEqual(feed.alerts.map((a) => a.id).sort(), ['em-live', 'em-tts']);
    const tts = feed.alerts.find((a) => a.id === 'em-tts')!;
    assert.equal(tts.text, 'Lũ đang lên, bà con <sơ tán> ngay & giữ an toàn');
    assert.deepEqual(tts.zones.map((z) => z.name), ['Xã Bình Minh']);
    assert.equal(feed.alerts.find((a) => a.id === 'em-live')!.text, undefined, 'a live order has its title only');

    // The README's shell recipe: openssl verifies the same bytes; one changed byte fails.
    writeFileSync(join(dir, 'feed.json'), body);
    writeFileSync(join(dir, 'feed.sig'), Buffer.from(sig, 'base64'));
    writeFileSync(join(dir, 'key.pem'), key.pem);
    const ossl = (file: string): number | null => spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'key.pem'), '-rawin', '-in', join(dir, file), '-sigfile', join(dir, 'feed.sig')]).status;
    assert.equal(ossl('feed.json'), 0, 'openssl verifies it');
    writeFileSync(join(dir, 'forged.json'), body.toString('utf8').replace('Lũ đang lên', 'Lũ đã rút'));
    assert.notEqual(ossl('forged.json'), 0, 'a forged feed fails');
  });

  it('serves the same alerts as RSS 2.0 and Atom, escaped, signed the same way, without authentication', async () => {
    const key = (await (await fetch(url('/api/v1/public/emergency/key'))).json()) as { pem: string };
    const parser = new XMLParser({ ignoreAttributes: false, processEntities: true });
    for (const [path, type] of [['feed.rss', 'application/rss+xml'], ['feed.atom', 'application/atom+xml']] as const) {
      const res = await fetch(url(`/api/v1/public/emergency/${path}`));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${type.replace('+', '\\+')}`));
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(verify(null, body, createPublicKey(key.pem), Buffer.from(res.headers.get('x-loa-signature')!, 'base64')), `${path} is signed`);
      const doc = parser.parse(body.toString('utf8')) as { rss?: { channel: { item: { title: string; description: string }[] } }; feed?: { entry: { title: string; summary: string }[] } };
      const entries = doc.rss ? doc.rss.channel.item.map((i) => `${i.title}|${i.description}`) : doc.feed!.entry.map((e) => `${e.title}|${e.summary}`);
      assert.equal(entries.length, 2);
      assert.ok(entries.some((e) => e.includes('bà con <sơ tán> ngay & giữ an toàn')), `${path}: text round-trips through XML escaping`);
    }
  });
});
