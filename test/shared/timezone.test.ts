import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { intlZoneOffsetMs, localToUtc, utcToLocal, zoneOffsetMs } from '../../shared/timezone.js';

const FIXED = ['Asia/Ho_Chi_Minh', 'Asia/Saigon', 'Asia/Bangkok', 'Asia/Vientiane', 'Asia/Phnom_Penh', 'UTC', 'Etc/UTC'];

test('the fixed-offset table agrees with Intl for every instant from 1976 to 2100', () => {
  fc.assert(fc.property(fc.constantFrom(...FIXED), fc.integer({ min: Date.UTC(1976, 0, 1), max: Date.UTC(2100, 0, 1) }), (zone, t) => {
    assert.equal(zoneOffsetMs(zone, t), intlZoneOffsetMs(zone, t));
  }), { numRuns: 2000 });
});

test('before 1976 Saigon time comes from Intl (UTC+8 in 1970), not the table', () => {
  const t = Date.UTC(1970, 5, 1);
  assert.equal(zoneOffsetMs('Asia/Ho_Chi_Minh', t), intlZoneOffsetMs('Asia/Ho_Chi_Minh', t));
  assert.equal(zoneOffsetMs('Asia/Ho_Chi_Minh', t), 8 * 3_600_000);
});

test('zones outside the table still go through Intl, daylight saving included', () => {
  assert.equal(zoneOffsetMs('Europe/Berlin', Date.UTC(2026, 6, 1)), 2 * 3_600_000);
  assert.equal(zoneOffsetMs('Europe/Berlin', Date.UTC(2026, 0, 1)), 3_600_000);
  const local = Date.UTC(2026, 10, 23, 6, 0);
  assert.equal(localToUtc('Asia/Ho_Chi_Minh', local), Date.UTC(2026, 10, 22, 23, 0));
  assert.equal(utcToLocal('Asia/Ho_Chi_Minh', Date.UTC(2026, 10, 22, 23, 0)), local);
});
