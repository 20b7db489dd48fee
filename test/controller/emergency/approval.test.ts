import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EmergencyOrderRecord, EmergencyProgress } from '../../../controller/data/emergency.js';
import { outcome, startRig, type Rig } from './rig.js';

interface Answer { order: EmergencyOrderRecord; approvalRequired: boolean; published: number; progress?: EmergencyProgress }

describe('emergency orders: the two-person rule (emergency.approvalZones)', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ emergency: { approvalZones: ['X1-C1'] } });
  });
  after(async () => rig?.close());

  it('holds an order touching an approval zone (202, nothing sent); its author cannot approve it; a second user with emergency.send does, and only then is it signed and sent', async () => {
    const { A, B } = rig.dev;
    const preview = await rig.as.op1!.post<{ approvalRequired: boolean; confirmCode: string }>('/api/v1/emergency/preview', { zones: ['X1'] });
    assert.equal(preview.approvalRequired, true, 'the commune holds the approval zone');
    const held = await rig.as.op1!.request<Answer>('POST', '/api/v1/emergency', { title: 'Sơ tán', zones: ['X1'], content: { kind: 'media', mediaId: rig.mediaId }, confirm: preview.confirmCode });
    assert.deepEqual([held.order.status, held.approvalRequired, held.published, held.order.seq, held.order.targeted], ['pending_approval', true, 0, null, 0]);

    assert.deepEqual(await outcome(rig.as.op1!.post(`/api/v1/emergency/${held.order.id}/approve`)), { status: 403, code: 'LOA_ERR_EMERGENCY_SAME_APPROVER' });
    assert.deepEqual(await outcome(rig.as.viewer1!.post(`/api/v1/emergency/${held.order.id}/approve`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' }, 'a viewer cannot approve');
    assert.deepEqual(await outcome(rig.as.opY!.post(`/api/v1/emergency/${held.order.id}/approve`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' }, 'nor an operator of another district');
    const audit = await rig.t.admin.get<{ entries: { action: string; actor: string; details: { code?: string } }[] }>(`/api/v1/audit?targetId=${held.order.id}`);
    assert.deepEqual(audit.entries.map((e) => [e.action, e.actor, e.details.code ?? null]).reverse(), [
      ['emergency.create', 'u-op1', null],
      ['emergency.approve_refused', 'u-op1', 'LOA_ERR_EMERGENCY_SAME_APPROVER'],
      ['emergency.approve_refused', 'u-viewer1', 'LOA_ERR_FORBIDDEN'],
      ['emergency.approve_refused', 'u-opY', 'LOA_ERR_FORBIDDEN'],
    ]);

    const approved = await rig.as.op2!.post<Answer>(`/api/v1/emergency/${held.order.id}/approve`);
    assert.deepEqual([approved.order.status, approved.order.approvedBy, approved.published, approved.order.targeted], ['active', 'u-op2', 3, 3]);
    await rig.received(A, 1);
    await rig.received(B, 1);
    // The first thing the devices ever received is the approved order: nothing left before the approval.
    assert.deepEqual([A.inbox.length, B.inbox.length], [1, 1]);
    const env = await rig.verify(A, A.inbox[0]!);
    assert.deepEqual([env.signed.orderId, env.signed.seq, env.signed.action], [held.order.id, approved.order.seq, 'start']);
    assert.deepEqual(approved.order.history.map((h) => [h.action, h.by]), [['create', 'u-op1'], ['approve', 'u-op2']]);
    assert.deepEqual(await outcome(rig.as.op2!.post(`/api/v1/emergency/${held.order.id}/approve`)), { status: 409, code: 'LOA_ERR_EMERGENCY_STATE' }, 'approved once');
  });

  it('sends at once what touches no approval zone, and drops a held order on cancel without sending anything', async () => {
    const { B } = rig.dev;
    const n = B.inbox.length;
    const direct = await rig.as.op1!.post<Answer>('/api/v1/emergency', { title: 'Thôn Tây', zones: ['X1-C2'], content: { kind: 'media', mediaId: rig.mediaId }, confirm: 'Thôn Tây' });
    assert.deepEqual([direct.order.status, direct.published], ['active', 1]);
    await rig.received(B, n + 1);

    const held = await rig.as.op1!.post<Answer>('/api/v1/emergency', { title: 'Thôn Đông', zones: [], devices: [rig.dev.A.id], content: { kind: 'media', mediaId: rig.mediaId }, confirm: (await rig.as.op1!.post<{ confirmCode: string }>('/api/v1/emergency/preview', { zones: [], devices: [rig.dev.A.id] })).confirmCode });
    assert.equal(held.order.status, 'pending_approval', 'a device inside an approval zone counts');
    const c = await rig.as.op2!.post<Answer>(`/api/v1/emergency/${held.order.id}/cancel`);
    assert.deepEqual([c.order.status, c.published, c.order.cancelSeq], ['cancelled', 0, null]);
    assert.deepEqual(await outcome(rig.as.op2!.post(`/api/v1/emergency/${held.order.id}/approve`)), { status: 409, code: 'LOA_ERR_EMERGENCY_STATE' });
  });
});
