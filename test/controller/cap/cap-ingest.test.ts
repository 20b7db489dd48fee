import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitSpoken, safeTitle } from '../../../controller/cap/ingest.js';
import { loadConfig } from '../../../controller/config.js';
import { SAFE_TEXT_PATTERN } from '../../../controller/http/schemas.js';
import { MAX_TTS_CHARS } from '../../../controller/tts/provider.js';
import { isLoaError } from '../../../shared/errors.js';
import { normalizeVietnamese } from '../../../shared/tts/normalize-vi.js';

test('a CAP headline becomes a title the order rules accept, whatever it holds', () => {
  const safe = new RegExp(SAFE_TEXT_PATTERN, 'u');
  for (const h of ['Bão số 9; "khẩn cấp" <b>ngay</b>', 'A -- B .. C /* x */ `d`', 'tab\there\nnew\\line', '   ', 'Lũ quét'.repeat(60)]) {
    const t = safeTitle(h);
    assert.match(t, safe, h);
    assert.ok(t.length >= 1 && t.length <= 200, h);
  }
  assert.equal(safeTitle('Bão số 9; "khẩn cấp"'), 'Bão số 9 khẩn cấp');
  assert.equal(safeTitle('   '), 'Cảnh báo CAP');
});

test('a long alert text is shortened by whole sentences until its spoken form fits the TTS limit', () => {
  const sentence = 'Mưa 200-300 mm trong 24h tới, gió cấp 12 giật cấp 15. ';
  const long = sentence.repeat(60).trim();
  assert.ok(normalizeVietnamese(long).length > MAX_TTS_CHARS);
  const fit = fitSpoken(long);
  assert.ok(normalizeVietnamese(fit).length <= MAX_TTS_CHARS);
  assert.ok(fit.endsWith('.') && long.startsWith(fit), 'whole sentences from the start');
  assert.equal(fitSpoken('Ngắn.'), 'Ngắn.');
});

test('the cap configuration is checked: automatic start off by default, Extreme/Immediate, known values only', () => {
  const c = loadConfig(undefined, {}, {});
  assert.deepEqual(
    [c.cap.enabledAuto, c.cap.autoStartSeverities, c.cap.autoStartUrgencies, c.cap.defaultTtlMinutes, c.cap.feeds, c.cap.geocodeNames],
    [false, ['Extreme'], ['Immediate'], 60, [], ['VN-ADMIN', 'MA_DVHC', 'ISO3166-2']],
  );
  const feed = loadConfig(undefined, {}, { cap: { feeds: [{ url: 'https://canhbao.example.vn/cap.atom', actAs: 'capbot' }] } });
  assert.deepEqual(feed.cap.feeds, [{ url: 'https://canhbao.example.vn/cap.atom', actAs: 'capbot', intervalSeconds: 60 }]);
  const refused = (cap: Record<string, unknown>, re: RegExp): void => {
    assert.throws(() => loadConfig(undefined, {}, { cap }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_CONFIG_INVALID' && re.test(e.message), String(re));
  };
  refused({ autoStartSeverities: ['Catastrophic'] }, /autoStartSeverities/);
  refused({ enabledAuto: 'yes' }, /enabledAuto/);
  refused({ feeds: [{ url: 'file:///etc/passwd', actAs: 'x' }] }, /url/);
  refused({ feeds: [{ url: 'https://x.vn/a', actAs: 'x', intervalSeconds: 1 }] }, /intervalSeconds/);
});
