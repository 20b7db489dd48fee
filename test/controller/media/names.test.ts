import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_FILE_NAME_LENGTH, MAX_TITLE_LENGTH, sanitizeFileName, sanitizeTitle } from '../../../controller/media/names.js';
import { isLoaError } from '../../../shared/errors.js';

const invalidName = (e: unknown): boolean => isLoaError(e) && e.code === 'LOA_ERR_NAME_INVALID';

test('keeps Vietnamese titles with ordinary punctuation, in NFC with spaces collapsed', () => {
  assert.equal(sanitizeTitle('Thông báo của Ủy ban nhân dân xã'), 'Thông báo của Ủy ban nhân dân xã');
  assert.equal(sanitizeTitle('  Lịch tiêm chủng (đợt 2) – tháng 7!  '), 'Lịch tiêm chủng (đợt 2) – tháng 7!');
  assert.equal(sanitizeTitle('Thông báo số 12/TB-UBND: “Phòng chống bão”...'), 'Thông báo số 12/TB-UBND: “Phòng chống bão”...');
  assert.equal(sanitizeTitle('Nước\u00a0sạch'), 'Nước sạch', 'a no-break space becomes a space');
  const nfd = 'Điện Biên Phủ, Quảng Ngãi, Thừa Thiên Huế'.normalize('NFD');
  assert.notEqual(nfd, nfd.normalize('NFC'));
  assert.equal(sanitizeTitle(nfd), 'Điện Biên Phủ, Quảng Ngãi, Thừa Thiên Huế'.normalize('NFC'));
});

test('rejects titles with control or invisible characters, backslashes, markup, or nothing in them', () => {
  for (const bad of ['a\u0000b', 'dòng 1\ndòng 2', 'tab\there', 'esc\u001b[31m', 'bidi\u202Etxt.exe', 'zero\u200Bwidth', 'a\\b', '<script>', '   ', '', 'emoji 🎉']) {
    assert.throws(() => sanitizeTitle(bad), invalidName, JSON.stringify(bad));
  }
  assert.throws(() => sanitizeTitle(42), invalidName);
});

test('rejects a title over the length cap, counting characters not bytes', () => {
  assert.equal(sanitizeTitle('ư'.repeat(MAX_TITLE_LENGTH)).length, MAX_TITLE_LENGTH);
  assert.throws(() => sanitizeTitle('ư'.repeat(MAX_TITLE_LENGTH + 1)), invalidName);
});

test('rejects file names that try path traversal or hold separators, NUL or control characters', () => {
  for (const bad of ['../../etc/passwd', '..', '.', 'a/b.mp3', '/abs.mp3', 'C:\\x.mp3', 'a\\..\\b', 'x\u0000.mp3', 'x\r\n.mp3', 'a..b.mp3', 'con:1.mp3', 'what?.mp3', 'a|b.wav', '"q".wav']) {
    assert.throws(() => sanitizeFileName(bad), invalidName, JSON.stringify(bad));
  }
});

test('keeps an ordinary Vietnamese file name and shortens a long one, keeping its extension', () => {
  assert.equal(sanitizeFileName('Bản tin sáng 06-7.mp3'), 'Bản tin sáng 06-7.mp3');
  const long = sanitizeFileName(`${'Thông báo '.repeat(30)}.wav`);
  assert.equal([...long].length <= MAX_FILE_NAME_LENGTH, true);
  assert.ok(long.endsWith('.wav'));
});

test('whatever it is given, a file name either is refused or comes back without separators, dot-dot or controls', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
    let out: string;
    try {
      out = sanitizeFileName(s);
    } catch (e) {
      return invalidName(e);
    }
    return out.length > 0 && !/[/\\\p{Cc}]/u.test(out) && !out.includes('..') && [...out].length <= MAX_FILE_NAME_LENGTH && out === out.normalize('NFC');
  }), { numRuns: 2000 });
});
