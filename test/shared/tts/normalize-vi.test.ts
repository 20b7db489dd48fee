import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeVietnamese as n, readInteger, readNumber } from '../../../shared/tts/normalize-vi.js';

test('integers read the Vietnamese way: mốt, tư, lăm, linh, không trăm', () => {
  const cases: [number, string][] = [
    [0, 'không'], [5, 'năm'], [10, 'mười'], [11, 'mười một'], [15, 'mười lăm'], [20, 'hai mươi'], [21, 'hai mươi mốt'],
    [24, 'hai mươi tư'], [25, 'hai mươi lăm'], [105, 'một trăm linh năm'], [110, 'một trăm mười'], [115, 'một trăm mười lăm'],
    [1000, 'một nghìn'], [1005, 'một nghìn không trăm linh năm'], [2026, 'hai nghìn không trăm hai mươi sáu'],
    [1_000_005, 'một triệu không trăm linh năm'], [12_500_000, 'mười hai triệu năm trăm nghìn'],
    [2_000_000_005, 'hai tỷ không trăm linh năm'], [5_000_000_000_000, 'năm nghìn tỷ'],
  ];
  for (const [x, words] of cases) assert.equal(readInteger(x), words, String(x));
});

test('decimals use the comma, thousands the dot; leading zeros are read digit by digit', () => {
  assert.equal(readNumber('3,5'), 'ba phẩy năm');
  assert.equal(readNumber('1.250,75'), 'một nghìn hai trăm năm mươi phẩy bảy mươi lăm');
  assert.equal(readNumber('1.000'), 'một nghìn');
  assert.equal(readNumber('0,05'), 'không phẩy không năm');
  assert.equal(readNumber('2.5'), 'hai phẩy năm');
  assert.equal(readNumber('0912345678'), 'không chín một hai ba bốn năm sáu bảy tám');
});

test('dates and times', () => {
  assert.equal(n('Ngày 23/11/2026'), 'ngày hai mươi ba tháng mười một năm hai nghìn không trăm hai mươi sáu');
  assert.equal(n('họp lúc 7h30 ngày 4/4'), 'họp lúc bảy giờ ba mươi phút ngày bốn tháng tư');
  assert.equal(n('từ 07:00 đến 19:45'), 'từ bảy giờ đến mười chín giờ bốn mươi lăm phút');
  assert.equal(n('cắt điện 8h-11h'), 'cắt điện tám giờ đến mười một giờ');
  assert.equal(n('tháng 12/2026'), 'tháng mười hai năm hai nghìn không trăm hai mươi sáu');
  assert.equal(n('ngày 5-12-2026'), 'ngày năm tháng mười hai năm hai nghìn không trăm hai mươi sáu');
  // Not a date: left for the number rules.
  assert.equal(n('tỷ số 45/13'), 'tỷ số bốn mươi lăm/mười ba');
});

test('units, ranges and negative temperatures', () => {
  assert.equal(n('gió giật 60 km/h'), 'gió giật sáu mươi ki lô mét trên giờ');
  assert.equal(n('mưa 150-200mm'), 'mưa một trăm năm mươi đến hai trăm mi li mét');
  assert.equal(n('nhiệt độ -2°C đến 5 °C'), 'nhiệt độ âm hai độ xê đến năm độ xê');
  assert.equal(n('độ ẩm 85%'), 'độ ẩm tám mươi lăm phần trăm');
  assert.equal(n('lũ lên 3,5 m'), 'lũ lên ba phẩy năm mét');
  assert.equal(n('sơ tán 1.200 hộ trong 2-3 ngày'), 'sơ tán một nghìn hai trăm hộ trong hai đến ba ngày');
});

test('abbreviations of administrative and warning texts', () => {
  assert.equal(n('UBND TP. Huế thông báo'), 'Ủy ban nhân dân thành phố Huế thông báo');
  assert.equal(n('HĐND huyện, BCH PCTT&TKCN xã'), 'Hội đồng nhân dân huyện, Ban chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn xã');
  assert.equal(n('Trường THCS số 2'), 'Trường trung học cơ sở số hai');
  assert.equal(n('TPHCM và TP.HCM'), 'thành phố Hồ Chí Minh và thành phố Hồ Chí Minh');
  // Not inside words: "TPBank" and "UBNDX" stay as they are.
  assert.equal(n('TPBank'), 'TPBank');
});

test('a full warning reads without a digit or abbreviation left', () => {
  const out = n('Lúc 7h30 ngày 23/11, UBND TP. Huế báo mưa 150-200 mm, gió 60 km/h. Liên hệ 0234 3822 123.');
  assert.equal(out, 'Lúc bảy giờ ba mươi phút ngày hai mươi ba tháng mười một, Ủy ban nhân dân thành phố Huế báo mưa một trăm năm mươi đến hai trăm mi li mét, gió sáu mươi ki lô mét trên giờ. Liên hệ không hai ba bốn ba tám hai hai một hai ba.');
  assert.doesNotMatch(out, /\d/);
});

test('any text with numbers, dates and units comes out without digits, and never throws', async () => {
  const fc = (await import('fast-check')).default;
  const piece = fc.oneof(
    fc.nat({ max: 2_000_000_000 }).map(String),
    fc.tuple(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1990, max: 2099 })).map(([d, m, y]) => `${d}/${m}/${y}`),
    fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${h}h${String(m).padStart(2, '0')}`),
    fc.tuple(fc.nat({ max: 999 }), fc.constantFrom('mm', 'km/h', '%', '°C', 'm', 'ha')).map(([x, u]) => `${x} ${u}`),
    fc.tuple(fc.nat({ max: 99 }), fc.nat({ max: 99 })).map(([a, b]) => `${a},${b}`),
    fc.constantFrom('UBND', 'xã', 'mưa lớn', 'TP.', ',', '.', 'thôn'),
  );
  fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
    const out = n(parts.join(' '));
    assert.doesNotMatch(out, /\d/, out);
  }), { numRuns: 2000 });
});
