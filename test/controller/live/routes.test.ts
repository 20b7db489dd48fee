import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { outcome, startRig, type Rig } from '../emergency/rig.js';

interface LiveStart { sessionId: string; order: { id: string; status: string; content: { kind: string; streamUrl: string; codec: string } }; published: number }

/** GET of a stream: the status, then the connection is dropped. */
function listen(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | undefined; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(url), { headers }, (res) => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], res }));
    req.on('error', reject);
  });
}
const bare = (u: string): string => {
  const x = new URL(u);
  x.username = '';
  x.password = '';
  return x.href;
};
const basic = (key: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`live:${key}`).toString('base64')}` });

describe('live broadcast routes', () => {
  let rig: Rig;
  let live: LiveStart;
  before(async () => {
    rig = await startRig();
  });
  after(async () => rig?.close());

  it('starts a live session only for emergency.send over every target (403 and audited otherwise), through the emergency send path', async () => {
    const body = { title: 'Phát trực tiếp', zones: ['X1-C1'], ttlMinutes: 5, confirm: 'Thôn Đông' };
    assert.deepEqual(await outcome(rig.as.viewer1!.post('/api/v1/live', body)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.opY!.post('/api/v1/live', body)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/live', { ...body, confirm: 'Thôn Tây' })), { status: 422, code: 'LOA_ERR_EMERGENCY_CONFIRM' });
    live = await rig.as.op1!.post<LiveStart>('/api/v1/live', body);
    assert.match(live.sessionId, /^liv-/);
    assert.equal(live.order.status, 'active');
    assert.equal(live.order.content.kind, 'live');
    assert.equal(live.order.content.codec, 'opus');
    const url = new URL(live.order.content.streamUrl);
    assert.equal(url.pathname, `/live/${live.sessionId}.ogg`);
    assert.equal(url.username, 'live');
    assert.ok(url.password.length >= 32, 'the stream key is in the URL');
    // The receiver in the cluster gets the signed order, with the stream URL.
    await rig.received(rig.dev.A, 1);
    const env = await rig.verify(rig.dev.A, rig.dev.A.inbox.at(-1)!);
    assert.deepEqual(env.signed.content, live.order.content);
    const audit = await rig.t.admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>(`/api/v1/audit?targetId=${live.order.id}`);
    const sent = audit.entries.find((e) => e.action === 'emergency.send');
    assert.ok(sent);
    assert.ok(!JSON.stringify(audit.entries).includes(url.password), 'the stream key is not audited');
  });

  it('serves the stream to the order\'s devices (stream key or device token) and to users with emergency.read there, no one else', async () => {
    const url = bare(live.order.content.streamUrl);
    const key = new URL(live.order.content.streamUrl).password;
    const check = async (headers: Record<string, string>, want: number): Promise<void> => {
      const r = await listen(url, headers);
      r.res.destroy();
      assert.equal(r.status, want, JSON.stringify(Object.keys(headers)));
      if (want === 200) assert.equal(r.type, 'audio/ogg');
    };
    await check({}, 401);
    await check(basic('not-the-key'), 401);
    await check(basic(key), 200);
    const full = await listen(live.order.content.streamUrl);
    full.res.destroy();
    assert.equal(full.status, 200, 'the URL as the order carries it (credentials sent as Basic auth, as the agent does)');
    await check({ authorization: `Bearer ${rig.dev.A.device.token(rig.dev.A.id)}` }, 200);
    await check({ authorization: `Bearer ${rig.dev.C.device.token(rig.dev.C.id)}` }, 403);
    await check({ authorization: `Bearer ${rig.as.viewer1!.token!}` }, 200);
    await check({ authorization: `Bearer ${rig.as.opY!.token!}` }, 403);
    assert.equal((await listen(url.replace('.ogg', '.mp3'), basic(key))).status, 404);
  });

  it('lets only senders in scope connect a microphone or end it; a bad offer is refused and the session waits for another', async () => {
    const id = live.sessionId;
    assert.deepEqual(await outcome(rig.as.opY!.post(`/api/v1/live/${id}/offer`, { sdp: 'v=0 whatever' })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.viewer1!.post(`/api/v1/live/${id}/offer`, { sdp: 'v=0 whatever' })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.opY!.post(`/api/v1/live/${id}/end`, {})), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.opY!.get(`/api/v1/live/${id}`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.op1!.post(`/api/v1/live/${id}/offer`, { sdp: 'v=0 this is no SDP offer' })), { status: 422, code: 'LOA_ERR_LIVE_WEBRTC' });
    const st = await rig.as.viewer1!.get<{ state: string; orderId: string }>(`/api/v1/live/${id}`);
    assert.deepEqual([st.state, st.orderId], ['waiting', live.order.id]);
  });

  it('ends on request: listeners are closed, the order is cancelled (signed cancel), the session is gone, and it is audited', async () => {
    const id = live.sessionId;
    const l = await listen(live.order.content.streamUrl);
    const closed = new Promise<void>((r) => {
      l.res.on('end', r);
      l.res.on('close', r);
      l.res.resume();
    });
    const r = await rig.as.op1!.post<{ state: string; order: { status: string } }>(`/api/v1/live/${id}/end`, {});
    assert.equal(r.state, 'ended');
    await closed;
    const order = await rig.as.op1!.get<{ order: { status: string } }>(`/api/v1/emergency/${live.order.id}`);
    assert.equal(order.order.status, 'cancelled');
    await rig.received(rig.dev.A, 2);
    assert.equal((await rig.verify(rig.dev.A, rig.dev.A.inbox.at(-1)!)).signed.action, 'cancel');
    assert.deepEqual(await outcome(rig.as.op1!.get(`/api/v1/live/${id}`)), { status: 404, code: 'LOA_ERR_NOT_FOUND' });
    assert.equal((await listen(live.order.content.streamUrl)).status, 404);
    const audit = await rig.t.admin.get<{ entries: { action: string }[] }>(`/api/v1/audit?targetId=${live.order.id}`);
    assert.deepEqual(['emergency.send', 'live.end', 'emergency.cancel'].filter((a) => audit.entries.some((e) => e.action === a)), ['emergency.send', 'live.end', 'emergency.cancel']);
  });

  it('ends when its order is cancelled through the emergency API', async () => {
    const s = await rig.as.op1!.post<LiveStart>('/api/v1/live', { title: 'Trực tiếp 2', zones: ['X1-C1'], ttlMinutes: 5, confirm: 'Thôn Đông', codec: 'mp3' });
    assert.match(s.order.content.streamUrl, /\.mp3$/);
    await rig.as.op1!.post(`/api/v1/emergency/${s.order.id}/cancel`, {});
    const deadline = Date.now() + 5000;
    let last = 0;
    while (Date.now() < deadline) {
      last = (await outcome(rig.as.op1!.get(`/api/v1/live/${s.sessionId}`))).status;
      if (last === 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(last, 404, 'the session ended with its order');
  });
});
