import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLocalUi, type LocalUiStatus } from '../../../agent/local-ui/server.js';

test('the local page shows the pairing code with its QR code (inline SVG) in Vietnamese first, and status.json the same facts', async () => {
  const status: LocalUiStatus & { privateKey?: string } = {
    state: 'pairing',
    pairing: { code: 'AC7K-9MPX', pairUrl: 'http://loa.example.vn/pair?code=AC7K-9MPX', expiresAt: '2026-11-23T03:15:00.000Z' },
    manifestVersion: null,
    health: { hardwareProfile: 'rpi4-lcus2-usb-audio', online: false, nested: { secret: 1 } as unknown as string },
    privateKey: '-----BEGIN PRIVATE KEY-----',
  };
  const ui = await startLocalUi({ port: 0, host: '127.0.0.1', getStatus: () => status });
  try {
    const res = await fetch(`${ui.url}/`);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/html/);
    assert.match(res.headers.get('content-security-policy')!, /default-src 'none'/);
    assert.match(html, /<html lang="vi">/);
    assert.match(html, /Mã ghép nối/);
    assert.match(html, /AC7K-9MPX/);
    assert.match(html, /<svg[^>]*>[\s\S]*<\/svg>/, 'the QR code, inline');
    assert.match(html, /10:15 \(giờ Việt Nam\)/, 'expiry in Vietnam time');
    assert.match(html, /chưa có/, 'no manifest yet');
    assert.ok(!html.includes('<script'), 'no scripts');

    const json = await (await fetch(`${ui.url}/status.json`)).json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).sort(), ['at', 'deviceId', 'health', 'manifestVersion', 'message', 'pairing', 'state']);
    assert.equal((json.pairing as { code: string }).code, 'AC7K-9MPX');
    assert.deepEqual(json.health, { hardwareProfile: 'rpi4-lcus2-usb-audio', online: false }, 'only plain values');
    assert.ok(!JSON.stringify(json).includes('PRIVATE'), 'only the documented fields leave the device');

    // Once paired: the device id and the manifest version, and no code.
    status.state = 'paired';
    status.pairing = null;
    status.deviceId = 'loa-<thon>-1';
    status.manifestVersion = 1763866800;
    const paired = await (await fetch(`${ui.url}/`)).text();
    assert.match(paired, /Mã thiết bị: <strong>loa-&lt;thon&gt;-1<\/strong>/, 'escaped');
    assert.match(paired, /1763866800/);
    assert.ok(!paired.includes('AC7K'));
  } finally {
    await ui.close();
  }
});

test('the local page is read-only: GET and HEAD only, unknown paths 404', async () => {
  const ui = await startLocalUi({ port: 0, host: '127.0.0.1', getStatus: () => ({ state: 'unpaired' }) });
  try {
    const post = await fetch(`${ui.url}/`, { method: 'POST', body: 'x' });
    assert.deepEqual([post.status, post.headers.get('allow')], [405, 'GET, HEAD']);
    await post.arrayBuffer();
    const missing = await fetch(`${ui.url}/../device.key`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const head = await fetch(`${ui.url}/status.json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(await (await fetch(`${ui.url}/`)).text(), /Chưa ghép nối/);
  } finally {
    await ui.close();
  }
});
