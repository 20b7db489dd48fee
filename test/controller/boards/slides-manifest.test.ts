import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SignedManifest } from '../../../shared/schemas/manifest.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { outcome } from '../../support/outcome.js';

describe('board slides through the program API', () => {
  let t: TestController;
  before(async () => {
    t = await startTestController();
    const now = Date.now();
    t.controller.data.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, now);
    t.controller.data.devices.create({ id: 'dev-led', zoneId: 'X1', name: 'Bảng LED', kind: 'board' }, now);
  });
  after(async () => t.close());

  it('compiles text, clock and weather-widget slides with their dayparts into the signed manifest as the program API took them', async () => {
    const items = [
      { kind: 'text', title: 'Thông báo', body: 'Lịch "tiêm chủng" đợt 2; mang theo sổ', ticker: 'Bão số 9', durationMs: 15_000, dayparts: [{ from: '06:00', to: '21:00' }] },
      { kind: 'clock', label: 'Giờ Hà Nội', durationMs: 10_000 },
      { kind: 'widget', title: 'Thời tiết hôm nay', rows: [{ label: 'Nhiệt độ', value: '24–31 °C' }, { label: 'Mưa', value: '80 %' }], source: 'Đài KTTV tỉnh', updatedAt: '2026-11-23T05:00:00+07:00', durationMs: 10_000 },
    ];
    const { program } = await t.admin.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X1', title: 'Bảng tin', items });
    await t.admin.post(`/api/v1/programs/${program.id}/submit`);
    await t.admin.post(`/api/v1/programs/${program.id}/approve`);
    const { schedule } = await t.admin.post<{ schedule: { id: string } }>('/api/v1/schedules', {
      zoneId: 'X1', programId: program.id, title: 'Bảng tin hằng ngày', dtstart: '2026-12-01T06:00', rrule: 'FREQ=DAILY;COUNT=30', targets: { zones: ['X1'], devices: [] },
    });
    await t.admin.post(`/api/v1/schedules/${schedule.id}/submit`);
    await t.admin.post(`/api/v1/schedules/${schedule.id}/approve`);
    await t.controller.manifestCompiler.flush();
    const env = JSON.parse(t.controller.data.manifests.get('dev-led')!.body) as SignedManifest;
    assert.deepEqual(env.signed.programs.find((p) => p.id === program.id)?.items, items);
    assert.equal(env.signed.schedule[0]?.programId, program.id);
  });

  it('refuses a slide without a duration, an unknown slide kind, and a daypart that is not a time of day (LOA_ERR_SCHEMA)', async () => {
    const post = (item: unknown): Promise<{ status: number; code?: string }> => outcome(t.admin.post('/api/v1/programs', { zoneId: 'X1', title: 'x', items: [item] }));
    for (const bad of [
      { kind: 'text', body: 'Không có thời lượng' },
      { kind: 'marquee', body: 'x', durationMs: 5000 },
      { kind: 'clock', durationMs: 5000, dayparts: [{ from: '25:00', to: '26:00' }] },
    ]) {
      const r = await post(bad);
      assert.deepEqual([r.status, r.code], [400, 'LOA_ERR_SCHEMA'], JSON.stringify(bad));
    }
  });
});
