/**
 * Vietnamese text normalisation before text-to-speech: numbers, dates, times, units and the abbreviations
 * of administrative and warning texts become words, so that espeak-ng (or any engine) reads them the way an
 * announcer would. "Lúc 7h30 ngày 23/11, UBND TP. Huế báo mưa 150-200 mm, gió 60 km/h" becomes
 * "lúc bảy giờ ba mươi phút ngày hai mươi ba tháng mười một, Ủy ban nhân dân thành phố Huế báo mưa một trăm
 * năm mươi đến hai trăm mi li mét, gió sáu mươi ki lô mét trên giờ".
 *
 * Conventions (Vietnamese print): "." groups thousands and "," marks decimals ("1.250,5"); a "." followed by
 * anything other than exactly three digits is read as a decimal point. Northern readings: "linh" for a zero
 * tens digit, "nghìn" for thousand.
 */

const DIGITS = ['không', 'một', 'hai', 'ba', 'bốn', 'năm', 'sáu', 'bảy', 'tám', 'chín'] as const;
const SCALES = ['', 'nghìn', 'triệu'] as const;

function digit(n: number): string {
  return DIGITS[n]!;
}

/** 0..999; `full` reads the hundreds even when zero ("không trăm linh năm"), as inside a larger number. */
function readTriple(n: number, full: boolean): string[] {
  const h = Math.floor(n / 100);
  const t = Math.floor((n % 100) / 10);
  const u = n % 10;
  const out: string[] = [];
  if (h > 0 || full) out.push(digit(h), 'trăm');
  if (t === 0) {
    if (u > 0) {
      if (h > 0 || full) out.push('linh');
      out.push(digit(u));
    }
  } else if (t === 1) {
    out.push('mười');
    if (u === 5) out.push('lăm');
    else if (u > 0) out.push(digit(u));
  } else {
    out.push(digit(t), 'mươi');
    if (u === 1) out.push('mốt');
    else if (u === 4) out.push('tư');
    else if (u === 5) out.push('lăm');
    else if (u > 0) out.push(digit(u));
  }
  return out;
}

function readBelowBillion(n: number, full: boolean): string[] {
  const groups = [Math.floor(n / 1e6), Math.floor((n % 1e6) / 1000), n % 1000];
  const words: string[] = [];
  groups.forEach((g, i) => {
    if (g === 0) return;
    words.push(...readTriple(g, full || words.length > 0), ...(SCALES[2 - i] ? [SCALES[2 - i]!] : []));
  });
  return words;
}

function readWords(n: number, full: boolean): string[] {
  if (n < 1e9) return readBelowBillion(n, full);
  const hi = Math.floor(n / 1e9);
  const lo = n % 1e9;
  // 5.000 tỷ is "năm nghìn tỷ": the part above a billion is itself a number.
  return [...readWords(hi, full), 'tỷ', ...(lo ? readBelowBillion(lo, true) : [])];
}

/** A non-negative integer in words ("hai nghìn không trăm hai mươi sáu"; 5.000 tỷ is "năm nghìn tỷ"). */
export function readInteger(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  if (n === 0) return 'không';
  return readWords(n, false).join(' ');
}

/** Digit by digit: phone numbers, codes, long numbers with leading zeros. */
export function readDigits(s: string): string {
  return [...s].filter((c) => c >= '0' && c <= '9').map((c) => digit(Number(c))).join(' ');
}

/** A decimal in Vietnamese notation ("3,5", "1.250,75", "0,05") or with a decimal point ("3.5"). */
export function readNumber(raw: string): string {
  let s = raw;
  let intPart = s;
  let frac = '';
  if (s.includes(',')) {
    [intPart, frac] = [s.slice(0, s.indexOf(',')), s.slice(s.indexOf(',') + 1)];
    intPart = intPart.replace(/\./g, '');
  } else if (/^\d{1,3}(\.\d{3})+$/.test(s)) {
    intPart = s.replace(/\./g, '');
  } else if (/^\d+\.\d+$/.test(s)) {
    [intPart, frac] = s.split('.') as [string, string];
  } else {
    s = s.replace(/[.,]/g, '');
    intPart = s;
  }
  if (intPart.length > 1 && intPart.startsWith('0') && !frac) return readDigits(intPart);
  const n = Number(intPart || '0');
  const whole = Number.isSafeInteger(n) ? readInteger(n) : readDigits(intPart);
  if (!frac) return whole;
  // Decimals: read as a number when short and without a leading zero ("ba phẩy mười lăm"), else digit by digit.
  const fracWords = frac.length <= 2 && !frac.startsWith('0') ? readInteger(Number(frac)) : readDigits(frac);
  return `${whole} phẩy ${fracWords}`;
}

/** Units after a number. Longest first, so "km/h" wins over "km" and "m". */
const UNITS: [string, string][] = [
  ['km/h', 'ki lô mét trên giờ'], ['km/giờ', 'ki lô mét trên giờ'], ['m/s', 'mét trên giây'], ['m³/s', 'mét khối trên giây'],
  ['m3/s', 'mét khối trên giây'], ['mm/h', 'mi li mét trên giờ'], ['km²', 'ki lô mét vuông'], ['km2', 'ki lô mét vuông'],
  ['m²', 'mét vuông'], ['m2', 'mét vuông'], ['m³', 'mét khối'], ['m3', 'mét khối'], ['°C', 'độ xê'], ['ºC', 'độ xê'], ['độ C', 'độ xê'],
  ['km', 'ki lô mét'], ['cm', 'xăng ti mét'], ['mm', 'mi li mét'], ['kg', 'ki lô gam'], ['ha', 'héc ta'], ['hPa', 'héc tô pát xcan'],
  ['mb', 'mi li ba'], ['kW', 'ki lô oát'], ['kV', 'ki lô vôn'], ['%', 'phần trăm'], ['m', 'mét'], ['g', 'gam'], ['l', 'lít'], ['t', 'tấn'],
  ['đ', 'đồng'], ['VNĐ', 'đồng'], ['VND', 'đồng'],
];

/**
 * Abbreviations of administrative, weather and public-safety texts. Case-sensitive; a trailing "." is part of
 * the abbreviation where it is written with one ("TP.", "Q.").
 */
const ABBREVIATIONS: [string, string][] = [
  ['UBMTTQ', 'Ủy ban Mặt trận Tổ quốc'], ['MTTQ', 'Mặt trận Tổ quốc'], ['UBND', 'Ủy ban nhân dân'], ['HĐND', 'Hội đồng nhân dân'],
  ['BCH PCTT&TKCN', 'Ban chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn'], ['PCTT&TKCN', 'phòng chống thiên tai và tìm kiếm cứu nạn'],
  ['BCH', 'Ban chỉ huy'], ['PCTT', 'phòng chống thiên tai'], ['TKCN', 'tìm kiếm cứu nạn'], ['PCCC', 'phòng cháy chữa cháy'],
  ['CNCH', 'cứu nạn cứu hộ'], ['KTTV', 'khí tượng thủy văn'], ['ATGT', 'an toàn giao thông'], ['CSGT', 'cảnh sát giao thông'],
  ['THPT', 'trung học phổ thông'], ['THCS', 'trung học cơ sở'], ['TTYT', 'trung tâm y tế'], ['BHYT', 'bảo hiểm y tế'], ['BHXH', 'bảo hiểm xã hội'],
  ['CAND', 'công an nhân dân'], ['QĐND', 'quân đội nhân dân'], ['TW', 'trung ương'], ['T.Ư', 'trung ương'],
  ['TP.HCM', 'thành phố Hồ Chí Minh'], ['TP HCM', 'thành phố Hồ Chí Minh'], ['TPHCM', 'thành phố Hồ Chí Minh'],
  ['TP.', 'thành phố'], ['TP', 'thành phố'], ['TX.', 'thị xã'], ['TT.', 'thị trấn'], ['Q.', 'quận'], ['P.', 'phường'], ['H.', 'huyện'], ['X.', 'xã'],
  ['Tp.', 'thành phố'], ['ĐT', 'điện thoại'], ['SĐT', 'số điện thoại'], ['Covid-19', 'Cô vít mười chín'], ['COVID-19', 'Cô vít mười chín'],
];

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/&]/g, '\\$&');
// Vietnamese letters are outside \w, so word edges are written out.
const L = 'A-Za-zÀ-ỹĐđ';
const ABBR_RE = new RegExp(`(?<![${L}\\d])(${ABBREVIATIONS.map(([a]) => esc(a)).join('|')})(?![${L}\\d])`, 'g');
const ABBR_MAP = new Map(ABBREVIATIONS);
const NUM = String.raw`\d+(?:[.,]\d+)*`;
const UNIT_RE = new RegExp(`(-?)(${NUM})(?:\\s*[-–]\\s*(${NUM}))?\\s*(${UNITS.map(([u]) => esc(u)).join('|')})(?![${L}\\d])`, 'g');
const UNIT_MAP = new Map(UNITS);

function number(raw: string, negative = ''): string {
  return `${negative ? 'âm ' : ''}${readNumber(raw)}`;
}

function day(d: number, m: number, y?: number): string | null {
  if (d < 1 || d > 31 || m < 1 || m > 12) return null;
  return `ngày ${readInteger(d)} tháng ${m === 4 ? 'tư' : readInteger(m)}${y !== undefined ? ` năm ${readInteger(y)}` : ''}`;
}

function time(h: number, min?: number): string | null {
  if (h > 24 || (min !== undefined && min > 59)) return null;
  return `${readInteger(h)} giờ${min ? ` ${readInteger(min)} phút` : ''}`;
}

/** The whole text, normalised for TTS. Idempotent on text that has no digits or abbreviations left. */
export function normalizeVietnamese(input: string): string {
  let s = input.normalize('NFC').replace(/\s+/g, ' ').trim();
  s = s.replace(ABBR_RE, (m) => ABBR_MAP.get(m) ?? m);
  // "ngày 23/11/2026", "23-11-2026", "23/11": the word "ngày" is not doubled.
  // With dashes only with a year, since "2-3 ngày" is a range.
  s = s.replace(/(ngày\s+)?(?<![\d.,])(\d{1,2})(?:\/(\d{1,2})(?:\/(\d{4}))?|-(\d{1,2})-(\d{4}))(?![\d/])/gi,
    (m, _w: string | undefined, d: string, mo1?: string, y1?: string, mo2?: string, y2?: string) => {
      const y = y1 ?? y2;
      return day(Number(d), Number(mo1 ?? mo2), y ? Number(y) : undefined) ?? m;
    });
  // Phone numbers ("0234 3822 123", "0912.345.678") digit by digit.
  s = s.replace(/(?<![\d.,])0\d{2,3}(?:[ .]\d{3,4}){1,3}(?![\d])/g, (m) => readDigits(m));
  // "tháng 11/2026"
  s = s.replace(/tháng\s+(\d{1,2})\/(\d{4})(?!\d)/gi, (m, mo: string, y: string) => (Number(mo) >= 1 && Number(mo) <= 12 ? `tháng ${Number(mo) === 4 ? 'tư' : readInteger(Number(mo))} năm ${readInteger(Number(y))}` : m));
  // Times: "7h30", "07:30", "7h", "19g15", with ranges "7h-9h".
  s = s.replace(/(?<![\d:])(\d{1,2})(?::(\d{2})|[hg](\d{2})?)(?![\d:])(?:\s*[-–]\s*(\d{1,2})(?::(\d{2})|[hg](\d{2})?)(?![\d:]))?/g,
    (m, h1: string, c1?: string, g1?: string, h2?: string, c2?: string, g2?: string) => {
      const a = time(Number(h1), c1 ?? g1 ? Number(c1 ?? g1) : undefined);
      if (!a) return m;
      if (h2 === undefined) return a;
      const b = time(Number(h2), c2 ?? g2 ? Number(c2 ?? g2) : undefined);
      return b ? `${a} đến ${b}` : m;
    });
  // Numbers with units, with ranges "150-200 mm" and negatives "-5°C".
  s = s.replace(UNIT_RE, (_m, neg: string, a: string, b: string | undefined, unit: string) =>
    `${number(a, neg)}${b ? ` đến ${number(b)}` : ''} ${UNIT_MAP.get(unit) ?? unit}`);
  // Ranges of plain numbers "từ 3-5 ngày".
  s = s.replace(new RegExp(`(?<![\\d${L}])(${NUM})\\s*[-–]\\s*(${NUM})(?![\\d${L}])`, 'g'), (_m, a: string, b: string) => `${number(a)} đến ${number(b)}`);
  // "số 5", "cấp 12": plain numbers, phone numbers digit by digit.
  s = s.replace(new RegExp(`(?<![\\d${L}])(${NUM})(?![\\d${L}])`, 'g'), (m: string) => number(m));
  return s.replace(/\s+/g, ' ').replace(/\s+([,.;:!?])/g, '$1').trim();
}
