import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DisplaySurface, type DisplayState } from '../../../agent/display/surface.js';
import { inDayparts, levelAt } from '../../../agent/display/daypart.js';
import { BrightnessSchedule } from '../../../agent/display/brightness.js';
import { LoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import type { Occurrence } from '../../../shared/timeline.js';
import { schedulerHarness, type Harness } from '../../support/agent-harness.js';
import { baseManifest } from '../../support/trust.js';

const vn = (s: string): number => Date.parse(`${s}+07:00`);
const IMG = 'c'.repeat(64);
const GONE = 'd'.repeat(64);
const log = createLogger('test', { level: 'silent' });

const manifest = (): Manifest => baseManifest({
  media: [{ sha256: IMG, size: 10, durationMs: 1000 }, { sha256: GONE, size: 10, durationMs: 1000 }],
  programs: [{
    id: 'board', title: 'Bảng tin', items: [
      { kind: 'text', title: 'Thông báo', body: 'Lịch tiêm chủng tháng 12', durationMs: 10_000 },
      { kind: 'image', sha256: GONE, durationMs: 10_000 },
      { kind: 'image', sha256: IMG, durationMs: 10_000 },
      { kind: 'text', body: 'Chỉ buổi tối', durationMs: 10_000, dayparts: [{ from: '18:00', to: '23:00' }] },
      { kind: 'clock', durationMs: 10_000 },
    ],
  }],
  schedule: [{ id: 'e1', programId: 'board', dtstart: '2026-11-23T08:00', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 60_000 }],
});

/** A page double: confirms every view at once, except the image files in `broken` (reported as the page does). */
function fakePage(surface: DisplaySurface, broken: ReadonlySet<string> = new Set()): DisplayState[] {
  const seen: DisplayState[] = [];
  surface.subscribe((s) => {
    seen.push(s);
    queueMicrotask(() => {
      const v = s.view;
      if (v.kind !== 'idle' && v.id > 0) {
        const bad = v.mediaUrl && broken.has(v.mediaUrl.slice(7));
        surface.report(bad ? { viewId: v.id, status: 'error', code: 'LOA_ERR_DISPLAY_MEDIA', message: 'decode failed' } : { viewId: v.id, status: 'shown', fit: { fontPx: 40, pages: 1, overflow: false } });
      }
      if (s.alert) surface.report({ alertKey: s.alert.key, status: 'shown' });
    });
  });
  return seen;
}

function boardRig(start: number, opts: { has?: (sha: string) => boolean; page?: boolean; broken?: Set<string> } = {}): { h: Harness; surface: DisplaySurface; seen: DisplayState[] } {
  let surface: DisplaySurface | null = null;
  const h = schedulerHarness({ start, manifest: manifest(), scheduler: { onPlay: (o, p) => surface?.onPlay(o, p), display: { show: (r, s) => surface!.show(r, s) } } });
  surface = new DisplaySurface({ clock: h.clock, outbox: h.outbox, log, media: { has: opts.has ?? ((s) => s !== GONE) }, board: { name: 'Xã Thử', width: 192, height: 96, kind: 'led', minFontPx: 10 } });
  const seen = opts.page === false ? [] : fakePage(surface, opts.broken);
  h.scheduler.start();
  return { h, surface, seen };
}

const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };
async function walk(h: Harness, to: number, stepMs = 500): Promise<void> {
  for (let t = h.clock.now() + stepMs; t <= to; t += stepMs) {
    await h.clock.advanceTo(t);
    await settle();
  }
}

test('the scheduled slides are shown in program order for their durations, each confirmed slide is a display.show event', async () => {
  const { h, seen } = boardRig(vn('2026-11-23T07:59:50'));
  try {
    await walk(h, vn('2026-11-23T08:00:35'));
    const views = seen.map((s) => s.view).filter((v) => v.kind !== 'idle');
    assert.deepEqual([...new Set(views.map((v) => `${v.kind}:${v.index}`))], ['text:0', 'image:2', 'clock:4'], 'the missing image and the evening-only text are not shown');
    const shows = h.outbox.list(['display.show']);
    assert.deepEqual(shows.map((e) => `${String(e.data.kind)}@${(e.at - vn('2026-11-23T08:00:00')) / 1000}`), ['text@0', 'image@10', 'clock@20']);
    assert.equal(shows[0]!.data.occurrence, 'e1@2026-11-23T01:00:00.000Z');
    const fault = h.outbox.list(['display.fault']);
    assert.equal(fault.length, 1);
    assert.equal(fault[0]!.data.code, 'LOA_ERR_DISPLAY_MEDIA');
    assert.equal(fault[0]!.data.index, 1);
    await walk(h, vn('2026-11-23T08:00:45'));
    assert.equal(seen.at(-1)!.view.kind, 'idle', 'after the program the idle screen (clock) is back');
  } finally {
    await h.close();
  }
});

test('a slide the page cannot decode is reported with a coded error, the next slide follows at once and the previous view is kept', async () => {
  const { h, surface, seen } = boardRig(vn('2026-11-23T07:59:50'), { broken: new Set([IMG]) });
  try {
    await walk(h, vn('2026-11-23T08:00:12'));
    const faults = h.outbox.list(['display.fault']).map((e) => `${String(e.data.index)}:${String(e.data.code)}`);
    assert.deepEqual(faults, ['1:LOA_ERR_DISPLAY_MEDIA', '2:LOA_ERR_DISPLAY_MEDIA']);
    // The page never got a blank request: after the refused image the state points at a confirmed view again.
    assert.ok(seen.every((s) => s.view.kind !== 'image' || s.view.mediaUrl), 'an image view always names its file');
    assert.equal(surface.state().view.kind, 'clock', 'the clock (slide 4) follows the two bad images at once');
  } finally {
    await h.close();
  }
});

test('without a page the slides still keep their time, and each one is reported as LOA_ERR_DISPLAY_NO_PAGE', async () => {
  const { h } = boardRig(vn('2026-11-23T07:59:50'), { page: false });
  try {
    await walk(h, vn('2026-11-23T08:00:25'));
    const codes = h.outbox.list(['display.fault']).map((e) => String(e.data.code));
    assert.ok(codes.filter((c) => c === 'LOA_ERR_DISPLAY_NO_PAGE').length >= 2, codes.join());
    assert.equal(h.outbox.list(['display.show']).length, 0, 'nothing is claimed as shown');
  } finally {
    await h.close();
  }
});

test('an emergency occurrence puts its alert over the slides until it ends, then the schedule resumes on screen', async () => {
  const { h, surface } = boardRig(vn('2026-11-23T07:59:50'));
  try {
    await walk(h, vn('2026-11-23T08:00:05'));
    const start = h.clock.now();
    const occ: Occurrence = {
      key: `emergency:em-1@${new Date(start).toISOString()}`, entryId: 'emergency:em-1', programId: 'emergency:em-1', start, durationMs: 8000,
      priority: 'emergency', rank: 4, volume: 100, outputs: [], onPreempt: 'restart', maxDelayMs: 60_000,
      items: [{ kind: 'media', ref: 'e'.repeat(64), durationMs: 8000 }], alert: { title: 'Lũ khẩn cấp', text: 'Nước sông đang lên nhanh' },
    };
    h.scheduler.addAdhoc(occ);
    await walk(h, start + 2000);
    assert.deepEqual(surface.state().alert, { key: occ.key, title: 'Lũ khẩn cấp', text: 'Nước sông đang lên nhanh' });
    await walk(h, start + 9000);
    assert.equal(surface.state().alert, null, 'the alert is gone when the order has played');
    assert.equal(surface.state().view.kind, 'text', 'the interrupted text slide is back');
    assert.ok(h.outbox.list(['display.show']).some((e) => e.data.kind === 'alert'), 'the alert is proof-of-display too');
  } finally {
    await h.close();
  }
});

test('dayparts wrap past midnight and respect ISO weekdays', () => {
  const fri23 = vn('2026-11-27T23:30:00');
  const sat01 = vn('2026-11-28T01:00:00');
  const sat03 = vn('2026-11-28T03:00:00');
  const night = [{ from: '22:00', to: '02:00', days: [5] }];
  assert.deepEqual([inDayparts(night, fri23), inDayparts(night, sat01), inDayparts(night, sat03)], [true, true, false]);
  assert.equal(inDayparts([{ from: '22:00', to: '02:00', days: [6] }], sat01), false, 'Saturday 01:00 belongs to Friday night');
  assert.equal(inDayparts(undefined, sat03), true);
  assert.equal(levelAt([{ from: '06:00', level: 100 }, { from: '22:00', level: 20 }], vn('2026-11-28T03:00:00')), 20, 'the last level of the day runs past midnight');
});

test('the brightness schedule runs the profile command with each new level, and a failing command is reported and retried', async () => {
  const clock = new VirtualClock({ start: vn('2026-11-23T17:59:00') });
  const ran: string[] = [];
  let fail = false;
  const faults: string[] = [];
  const b = new BrightnessSchedule({
    config: { command: ['set-bl', '--level={level}'], schedule: [{ from: '06:00', level: 100 }, { from: '18:00', level: 60 }] }, clock, log,
    runner: (argv) => {
      if (fail) return Promise.reject(new LoaError('LOA_ERR_DISPLAY_COMMAND', 'exit 1'));
      ran.push(argv.join(' '));
      return Promise.resolve();
    },
    onFault: (err, level) => faults.push(`${err.code}:${level}`),
  });
  b.start();
  await settle();
  fail = true;
  await clock.advanceTo(vn('2026-11-23T18:00:10'));
  await settle();
  fail = false;
  await clock.advanceTo(vn('2026-11-23T18:01:00'));
  await settle();
  await b.stop();
  assert.deepEqual(ran, ['set-bl --level=100', 'set-bl --level=60']);
  assert.deepEqual(faults, ['LOA_ERR_DISPLAY_COMMAND:60']);
  assert.equal(b.level, 60);
});
