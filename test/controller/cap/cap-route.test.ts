import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CapOutcome } from '../../../controller/cap/ingest.js';
import type { EmergencyOrderRecord, EmergencyProgress } from '../../../controller/data/emergency.js';
import { capTime, fixture, postCap, postCapRaw, startCapRig, storm, type CapRig } from './cap-rig.js';
import { outcome } from '../../support/outcome.js';

type Made = Extract<CapOutcome, { action: 'auto' | 'pending' }>;
type Dup = Extract<CapOutcome, { action: 'duplicate' }>;
type Cancelled = Extract<CapOutcome, { action: 'cancel' }>;
interface Shown { order: EmergencyOrderRecord; progress: EmergencyProgress }

const SENDER = 'canhbao@nchmf.gov.vn';
const HOUR = 3_600_000;


/** The orders made from CAP alerts, straight from the data layer. */
const capOrders = (rig: CapRig, identifier: string): EmergencyOrderRecord[] => rig.t.controller.data.emergency.capOrders(SENDER, identifier);
const auditOf = (rig: CapRig, targetId: string): { action: string; actor: string; details: Record<string, unknown> }[] =>
  rig.t.controller.data.audit.list({ limit: 100, targetId }).reverse();

describe('CAP alerts (POST /api/v1/cap), automatic start off (the default)', () => {
  let rig: CapRig;
  let held: Made;
  const expires = Date.now() + 3 * HOUR;
  before(async () => {
    rig = await startCapRig();
  });
  after(async () => rig?.close());

  it('makes the Vietnamese storm warning an order waiting for approval: zones by geocode and by a receiver inside the polygon, the alert text spoken by TTS, title, expiry and the alert\'s identity stored', async () => {
    held = await postCap<Made>(rig.as.opP!, storm({ expires }));
    assert.equal(held.action, 'pending');
    assert.equal(held.held, 'automatic start is off (cap.enabledAuto)', 'Extreme/Immediate, but automatic start is off');
    const o = held.order;
    assert.deepEqual([o.status, held.approvalRequired, held.published, o.seq, o.targeted], ['pending_approval', true, 0, null, 0]);
    // 19753 by its administrative code; X19756-C1 because receiver C stands inside the polygon; X19999 (E outside) and D2 not.
    assert.deepEqual(o.zones, ['X19753', 'X19756-C1']);
    assert.deepEqual(held.matchedBy, { X19753: 'geocode', 'X19756-C1': 'polygon' });
    assert.deepEqual(held.outsideScope, []);
    assert.equal(o.zoneId, 'D1', 'the closest zone holding both targets');
    assert.equal(o.title, 'Tin bão khẩn cấp cơn bão số 9');
    assert.equal(o.createdBy, 'u-opP', 'the poster is the author, so someone else approves');
    assert.ok(o.content.kind === 'tts');
    assert.match(o.content.text, /^Tin bão khẩn cấp cơn bão số 9\. Hồi 7h ngày 23\/11.*sơ tán người dân khỏi khu vực nguy hiểm trước 17h\.$/);
    assert.match(o.content.sha256, /^[0-9a-f]{64}$/);
    assert.ok(o.content.durationMs > 1000, `spoken audio (${o.content.durationMs} ms)`);
    const media = await rig.as.opP!.get<{ media: { sha256: string; zoneId: string } }>(`/api/v1/media/${o.mediaId!}`);
    assert.deepEqual([media.media.sha256, media.media.zoneId], [o.content.sha256, 'D1']);
    // The order lives until the alert expires (3 h, under the 24 h cap).
    assert.ok(Math.abs(o.expiresAt - Math.floor(expires / 1000) * 1000) < 2000, `${o.expiresAt} vs ${expires}`);
    assert.deepEqual(o.cap, { identifier: 'NCHMF-2026-BAO9-03', sender: SENDER, sent: '2026-11-23T10:00:00+07:00', expiresAt: Math.floor(expires / 1000) * 1000 });
    // GET /api/v1/emergency/:id shows where it came from, to every reader of its zone.
    const shown = await rig.as.viewer1!.get<Shown>(`/api/v1/emergency/${o.id}`);
    assert.deepEqual(shown.order.cap, o.cap);
    // Nothing went out.
    for (const r of Object.values(rig.dev)) assert.equal(r.inbox.length, 0, `receiver ${r.name}`);
    const create = auditOf(rig, o.id).find((e) => e.action === 'emergency.create');
    assert.ok(create);
    assert.equal(create.actor, 'u-opP');
    assert.equal(create.details.confirmedBy, 'cap');
    assert.deepEqual((create.details.cap as Record<string, unknown>).identifier, 'NCHMF-2026-BAO9-03');
  });

  it('does not make a second order when the same alert (sender + identifier) is posted again, by anyone', async () => {
    const again = await postCap<Dup>(rig.as.opP!, storm({ expires }));
    assert.deepEqual([again.action, again.order?.id, again.orderIds], ['duplicate', held.order.id, [held.order.id]]);
    const other = await postCap<Dup>(rig.as.op2!, storm({ expires, severity: 'Severe' }));
    assert.deepEqual([other.action, other.order?.id], ['duplicate', held.order.id], 'an alert is identified by sender and identifier, not by its text');
    assert.equal(capOrders(rig, 'NCHMF-2026-BAO9-03').length, 1);
    assert.equal(auditOf(rig, 'NCHMF-2026-BAO9-03').filter((e) => e.action === 'cap.duplicate').length, 2);
  });

  it('is approved by another person with the existing route, and only then signed and sent to the receivers of the matched zones', async () => {
    const id = held.order.id;
    assert.deepEqual(await outcome(rig.as.opP!.post(`/api/v1/emergency/${id}/approve`)), { status: 403, code: 'LOA_ERR_EMERGENCY_SAME_APPROVER' });
    const ok = await rig.as.op2!.post<{ order: EmergencyOrderRecord; published: number }>(`/api/v1/emergency/${id}/approve`);
    assert.deepEqual([ok.order.status, ok.order.approvedBy, ok.published, ok.order.targeted], ['active', 'u-op2', 3, 3]);
    assert.ok(ok.order.expiresAt <= held.order.cap!.expiresAt!, 'an approval never signs past the alert\'s expiry');
    const { A, B, C, E, F } = rig.dev;
    for (const r of [A, B, C]) {
      await rig.received(r, 1);
      const env = await rig.verify(r, r.inbox[0]!);
      assert.deepEqual([env.signed.orderId, env.signed.action, env.signed.title, env.signed.content?.kind], [id, 'start', 'Tin bão khẩn cấp cơn bão số 9', 'tts']);
      assert.deepEqual(env.signed.target, { zones: ['X19753', 'X19756-C1'], devices: [] });
    }
    assert.deepEqual([E.inbox.length, F.inbox.length], [0, 0], 'outside the polygon, or in another district');
  });

  it('ignores the four OASIS examples (not this province, or Past), with the reason, audited', async () => {
    const before = rig.t.controller.data.emergency.list(['/T01/'], 1000).length;
    const reasons: string[] = [];
    for (const n of [1, 2, 3, 4]) {
      const r = await postCap<Extract<CapOutcome, { action: 'ignore' }>>(rig.as.opP!, fixture(`oasis-example-${n}.xml`), n % 2 ? 'application/xml' : 'text/xml');
      assert.equal(r.action, 'ignore');
      reasons.push(r.reason);
    }
    assert.deepEqual(reasons, ['no zone of this province in the alert areas', 'no zone of this province in the alert areas', 'urgency Past', 'no zone of this province in the alert areas']);
    assert.equal(rig.t.controller.data.emergency.list(['/T01/'], 1000).length, before, 'no order');
    assert.deepEqual(auditOf(rig, '43b080713727').map((e) => [e.action, e.actor, e.details.reason]), [['cap.ignore', 'u-opP', 'no zone of this province in the alert areas']]);
    // An alert past its expiry is ignored too.
    const old = await postCap<{ action: string; reason: string }>(rig.as.opP!, storm({ identifier: 'OLD-1', expires: Date.now() - HOUR }));
    assert.deepEqual([old.action, old.reason.startsWith('expired')], ['ignore', true]);
  });

  it('refuses XXE, entity bombs, malformed and off-schema alerts with 422 LOA_ERR_CAP_INVALID, storing nothing and auditing the refusal without the XML; other content types 415, more than 1 MiB 413', async () => {
    const orders = rig.t.controller.data.emergency.list(['/T01/'], 1000).length;
    const bad = {
      xxe: `<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>`,
      lol: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><alert>&lol3;</alert>`,
      malformed: '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>',
      cap11: storm({ identifier: 'NS-1' }).replace('cap:1.2', 'cap:1.1'),
      noSeverity: storm({ identifier: 'SEV-1' }).replace(/<severity>.*<\/severity>/, ''),
      empty: ' ',
    };
    for (const [what, xml] of Object.entries(bad)) {
      const r = await postCapRaw(rig.as.opP!, xml);
      assert.deepEqual([r.status, r.body.error?.code], [422, 'LOA_ERR_CAP_INVALID'], what);
    }
    assert.match((await postCapRaw(rig.as.opP!, bad.xxe)).body.error!.message, /DOCTYPE or ENTITY/);
    assert.equal(rig.t.controller.data.emergency.list(['/T01/'], 1000).length, orders, 'nothing stored');
    const refusals = rig.t.controller.data.audit.list({ limit: 1000 }).filter((e) => e.action === 'cap.refused');
    assert.ok(refusals.length >= Object.keys(bad).length);
    assert.ok(refusals.every((e) => e.details.code === 'LOA_ERR_CAP_INVALID' && e.actor === 'u-opP'));
    const text = JSON.stringify(refusals);
    assert.ok(!text.includes('/etc/passwd') && !text.includes('&lol') && !text.includes('<alert'), 'the XML is not kept');

    assert.deepEqual([(await postCapRaw(rig.as.opP!, JSON.stringify({ xml: storm() }), 'application/json')).status], [415]);
    const big = storm({ identifier: 'BIG-1' }).replace('<description>', `<description>${'mưa '.repeat(300_000)}`);
    const r = await postCapRaw(rig.as.opP!, big);
    assert.deepEqual([r.status, r.body.error?.code], [413, 'LOA_ERR_INPUT_TOO_LARGE']);
    assert.deepEqual(await outcome(postCap(rig.as.viewer1!, storm({ identifier: 'V-1' }))), { status: 403, code: 'LOA_ERR_FORBIDDEN' }, 'a viewer may not post alerts');
  });

  it('never widens a poster\'s scope: another district\'s operator gets 403 (audited); a commune operator gets an order for their own commune only', async () => {
    const denied = await outcome(postCap(rig.as.opD2!, storm({ identifier: 'SCOPE-1', expires })));
    assert.deepEqual(denied, { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.equal(capOrders(rig, 'SCOPE-1').length, 0);
    assert.deepEqual(auditOf(rig, 'SCOPE-1').map((e) => [e.action, e.actor, e.details.code]), [['cap.refused', 'u-opD2', 'LOA_ERR_FORBIDDEN']]);

    const mine = await postCap<Made>(rig.as.opX!, storm({ identifier: 'SCOPE-2', expires }));
    assert.deepEqual([mine.action, mine.order.zones, mine.outsideScope, mine.order.zoneId], ['pending', ['X19753'], ['X19756-C1'], 'X19753']);
    // The province operator posting the same alert afterwards covers only what is left: the other matched zone.
    const rest = await postCap<Made>(rig.as.opP!, storm({ identifier: 'SCOPE-2', expires }));
    assert.deepEqual([rest.action, rest.order.zones], ['pending', ['X19756-C1']]);
    const again = await postCap<Dup>(rig.as.op2!, storm({ identifier: 'SCOPE-2', expires }));
    assert.deepEqual([again.action, again.orderIds.length], ['duplicate', 2]);
  });

  it('cancels the orders of the alerts a CAP Cancel references (pending ones are dropped), only when the same sender sent them', async () => {
    const orders = capOrders(rig, 'SCOPE-2');
    const foreign = await postCap<Cancelled>(rig.as.opP!, storm({ identifier: 'CXL-0', sender: 'someone@example.vn', cancels: [`${SENDER},SCOPE-2,2026-11-23T10:00:00+07:00`] }));
    assert.deepEqual([foreign.action, foreign.cancelled.length, foreign.unmatched.length], ['cancel', 0, 1], 'another sender cannot cancel NCHMF\'s alert');
    const c = await postCap<Cancelled>(rig.as.opP!, storm({ identifier: 'CXL-1', cancels: [`${SENDER},SCOPE-2,2026-11-23T10:00:00+07:00`, `${SENDER},NOPE,2026-11-23T10:00:00+07:00`] }));
    assert.equal(c.action, 'cancel');
    assert.deepEqual(c.cancelled.map((x) => [x.order.id, x.order.status, x.published]).sort(), orders.map((o) => [o.id, 'cancelled', 0]).sort());
    assert.deepEqual(c.unmatched, [`${SENDER},NOPE,2026-11-23T10:00:00+07:00`]);
    assert.ok(auditOf(rig, 'CXL-1').some((e) => e.action === 'cap.cancel'));
    const twice = await postCap<Cancelled>(rig.as.opP!, storm({ identifier: 'CXL-1', cancels: [`${SENDER},SCOPE-2,2026-11-23T10:00:00+07:00`] }));
    assert.deepEqual([twice.cancelled.length, twice.unchanged.map((u) => u.status)], [0, ['cancelled', 'cancelled']]);
  });

  it('caps an alert\'s lifetime at 24 h, and gives an alert without <expires> the default 60 minutes', async () => {
    const long = await postCap<Made>(rig.as.opP!, storm({ identifier: 'TTL-1', expires: Date.now() + 72 * HOUR }));
    assert.equal(long.order.ttlMs, 24 * HOUR);
    const none = await postCap<Made>(rig.as.opP!, storm({ identifier: 'TTL-2', expires: null }));
    assert.deepEqual([none.order.ttlMs, none.order.cap?.expiresAt], [HOUR, null]);
    assert.equal(capTime(Date.parse('2026-11-23T03:00:00Z')), '2026-11-23T10:00:00+07:00');
  });
});

describe('CAP alerts with automatic start switched on (cap.enabledAuto)', () => {
  let rig: CapRig;
  let sent: Made;
  const seen = { nonces: new Set<string>(), seqs: new Set<number>() };
  before(async () => {
    rig = await startCapRig({ cap: { enabledAuto: true } });
  });
  after(async () => rig?.close());

  it('sends an Extreme/Immediate alert at once to the receivers of its areas (checked with the agent\'s verifier); the audit says the alert confirmed it', async () => {
    sent = await postCap<Made>(rig.as.opP!, storm({ expires: Date.now() + 2 * HOUR }));
    assert.deepEqual([sent.action, sent.order.status, sent.published, sent.approvalRequired, sent.held], ['auto', 'active', 3, false, null]);
    assert.equal(sent.progress?.targeted, 3);
    const { A, B, C, E, F } = rig.dev;
    for (const r of [A, B, C]) {
      await rig.received(r, 1);
      const env = await rig.verify(r, r.inbox[0]!, r === A ? seen : undefined);
      assert.deepEqual([env.signed.orderId, env.signed.action, env.signed.content?.kind, env.signed.seq], [sent.order.id, 'start', 'tts', sent.order.seq]);
    }
    assert.deepEqual([E.inbox.length, F.inbox.length], [0, 0]);
    const send = auditOf(rig, sent.order.id).find((e) => e.action === 'emergency.send');
    assert.ok(send);
    assert.deepEqual([send.actor, send.details.confirmedBy, send.details.targeted], ['u-opP', 'cap', 3]);
    const again = await postCap<Dup>(rig.as.opP!, storm({ expires: Date.now() + 2 * HOUR }));
    assert.deepEqual([again.action, again.order?.id], ['duplicate', sent.order.id]);
    assert.equal(A.inbox.length, 1, 'nothing is sent twice');
  });

  it('still holds what is outside the auto-start policy, and what reaches beyond the poster\'s zones', async () => {
    const severe = await postCap<Made>(rig.as.opP!, storm({ identifier: 'SEV-1', severity: 'Severe', expires: Date.now() + HOUR }));
    assert.deepEqual([severe.action, severe.order.status, severe.held], ['pending', 'pending_approval', null]);
    const partial = await postCap<Made>(rig.as.opX!, storm({ identifier: 'PART-1', expires: Date.now() + HOUR }));
    assert.deepEqual([partial.action, partial.order.zones, partial.held], ['pending', ['X19753'], 'some of the alert\'s zones lie outside your zones']);
    assert.equal(rig.dev.A.inbox.length, 1, 'neither was sent');
  });

  it('cancels the active order when a CAP Cancel references it: the receivers get a signed cancel', async () => {
    const c = await postCap<Cancelled>(rig.as.opP!, storm({ identifier: 'NCHMF-2026-BAO9-04', cancels: [`${SENDER},NCHMF-2026-BAO9-03,2026-11-23T10:00:00+07:00`] }));
    assert.equal(c.action, 'cancel');
    assert.deepEqual(c.cancelled.map((x) => [x.order.id, x.order.status, x.published]), [[sent.order.id, 'cancelled', 3]]);
    const { A, B, C } = rig.dev;
    for (const r of [A, B, C]) await rig.received(r, 2);
    const env = await rig.verify(A, A.inbox[1]!, seen);
    assert.deepEqual([env.signed.orderId, env.signed.action], [sent.order.id, 'cancel']);
    assert.ok(env.signed.seq > sent.order.seq!);
    const shown = await rig.as.viewer1!.get<Shown>(`/api/v1/emergency/${sent.order.id}`);
    assert.deepEqual([shown.order.status, shown.order.cancelledBy, shown.order.cap?.identifier], ['cancelled', 'u-opP', 'NCHMF-2026-BAO9-03']);
  });
});
