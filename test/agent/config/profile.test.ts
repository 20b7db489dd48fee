import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProfile } from '../../../agent/config/profile.js';
import { isLoaError } from '../../../shared/errors.js';

const dir = 'hardware-profiles';
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are at least four real-world hardware profiles', () => {
  assert.ok(files.filter((f) => !f.startsWith('sim-')).length >= 4);
});

for (const f of files) {
  test(`hardware profile ${f} validates against the schema`, () => {
    const p = parseProfile(readFileSync(join(dir, f)), f);
    assert.equal(`${p.id}.json`, f, 'file name matches id');
    assert.ok(Object.isFrozen(p));
  });
}

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(isLoaError(e), `expected a LoaError, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected an error');
};
const base = JSON.parse(readFileSync(join(dir, 'x86-minipc-lcus1.json'), 'utf8')) as Record<string, unknown>;

test('an unknown relay type gets LOA_ERR_PROFILE_UNKNOWN_RELAY naming the type', () => {
  assert.equal(code(() => parseProfile(JSON.stringify({ ...base, relay: { type: 'zigbee' } }))), 'LOA_ERR_PROFILE_UNKNOWN_RELAY');
});

test('a malformed, oversized or inconsistent profile gets a coded error that lists every problem', () => {
  assert.equal(code(() => parseProfile('{ not json')), 'LOA_ERR_JSON_PARSE');
  assert.equal(code(() => parseProfile('x'.repeat(300 * 1024))), 'LOA_ERR_PROFILE_INVALID');
  try {
    parseProfile(JSON.stringify({ ...base, audio: { driver: 'pulse' }, outputs: [], extra: 1 }));
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isLoaError(e));
    assert.equal(e.code, 'LOA_ERR_PROFILE_INVALID');
    assert.ok((e.details?.issues as unknown[]).length >= 3, 'all errors reported');
  }
  assert.equal(code(() => parseProfile(JSON.stringify({ ...base, outputs: [{ name: 'x', channels: [5], warmupMs: 0, cooldownMs: 0 }] }))), 'LOA_ERR_PROFILE_INVALID');
});

test('the board profiles declare a display role: LED 192×96, LCD 1920×1080 with speakers, portrait 1080×1920', () => {
  const load = (id: string) => parseProfile(readFileSync(join(dir, `${id}.json`)), id);
  const led = load('led-board-192x96');
  assert.deepEqual([led.display?.width, led.display?.height, led.display?.kind, led.audio.driver], [192, 96, 'led', 'none']);
  assert.ok(led.display?.brightness?.command.some((a) => a.includes('{level}')), 'the brightness command takes the level');
  const lcd = load('lcd-board-1080p');
  assert.deepEqual([lcd.display?.width, lcd.display?.height, lcd.audio.driver], [1920, 1080, 'alsa']);
  const portrait = load('lcd-portrait-1080x1920');
  assert.deepEqual([portrait.display?.width, portrait.display?.height, portrait.display?.orientation], [1080, 1920, 'portrait']);
});

test('a display block with an unknown field or a brightness level above 100 is refused with LOA_ERR_PROFILE_INVALID', () => {
  const base = JSON.parse(readFileSync(join(dir, 'led-board-192x96.json'), 'utf8')) as { display: Record<string, unknown> & { brightness: { schedule: { level: number }[] } } };
  const extra = structuredClone(base);
  extra.display.rotate = 90;
  assert.equal(code(() => parseProfile(JSON.stringify(extra))), 'LOA_ERR_PROFILE_INVALID');
  const bright = structuredClone(base);
  bright.display.brightness.schedule[0]!.level = 140;
  assert.equal(code(() => parseProfile(JSON.stringify(bright))), 'LOA_ERR_PROFILE_INVALID');
});
