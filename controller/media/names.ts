import { LoaError } from '../../shared/errors.js';

/** Longest display title, in characters (code points, after NFC). A longer one is rejected. */
export const MAX_TITLE_LENGTH = 200;
/** Longest original file name kept, in characters. A longer one is shortened, keeping its extension. */
export const MAX_FILE_NAME_LENGTH = 120;

/**
 * Characters never allowed: C0/C1 controls (NUL, CR, LF, TAB, ESC…), format characters (bidi overrides, zero
 * width), line/paragraph separators, private-use, surrogates and unassigned code points.
 */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Cn}]/u;
/** Letters with their marks (every Vietnamese letter and tone), digits, spaces and ordinary punctuation. */
const ALLOWED = /^[\p{L}\p{M}\p{N} .,;:!?'"()[\]{}\-–—_&+%#@/…«»“”‘’·°₫$€*=~]+$/u;
/** Extra characters a file name may not hold (path separators and what Windows refuses). */
const FILE_NAME_FORBIDDEN = /[/\\:*?"<>|]/;

export type NameKind = 'title' | 'file name';

function invalid(kind: NameKind, reason: string, details: Record<string, unknown> = {}): LoaError {
  return new LoaError('LOA_ERR_NAME_INVALID', `The ${kind} ${reason}`, { details: { kind, reason, ...details } });
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** NFC, other spaces (NBSP…) to plain spaces, runs collapsed, trimmed; then the checks both kinds share. */
function clean(input: unknown, kind: NameKind): string {
  if (typeof input !== 'string') throw invalid(kind, 'is not text');
  const nfc = input.normalize('NFC');
  const bad = FORBIDDEN.exec(nfc);
  if (bad) throw invalid(kind, `contains a control or invisible character (${codePoint(bad[0])})`, { char: codePoint(bad[0]) });
  const s = nfc.replace(/\p{Zs}+/gu, ' ').trim();
  if (!s) throw invalid(kind, 'is empty');
  if (s.includes('\\')) throw invalid(kind, 'contains a backslash', { char: 'U+005C' });
  if (!ALLOWED.test(s)) {
    const ch = [...s].find((c) => !ALLOWED.test(c)) ?? '';
    throw invalid(kind, `contains a character that is not allowed (${codePoint(ch)})`, { char: codePoint(ch) });
  }
  return s;
}

/**
 * A display title, e.g. "Thông báo số 12/TB-UBND về lịch tiêm chủng...". Vietnamese letters, digits and
 * ordinary punctuation, including `/` and `...` (document numbers and ellipses are normal in titles; a title is
 * never used as a path). Rejects controls, invisible characters, `\`, `<`, `>` and over-long titles with
 * LOA_ERR_NAME_INVALID. Returns the NFC, whitespace-collapsed title.
 */
export function sanitizeTitle(input: unknown): string {
  const s = clean(input, 'title');
  const length = [...s].length;
  if (length > MAX_TITLE_LENGTH) throw invalid('title', `is longer than ${MAX_TITLE_LENGTH} characters`, { length, max: MAX_TITLE_LENGTH });
  return s;
}

/**
 * The client's original file name, kept only as a label (files on disk are named by sha256). Anything that
 * looks like a path is rejected with LOA_ERR_NAME_INVALID: `/`, `\`, `..`, NUL, control characters, and the
 * characters Windows refuses (`: * ? " < > |`). A name over MAX_FILE_NAME_LENGTH is shortened, keeping
 * its extension. Returns the NFC name.
 */
export function sanitizeFileName(input: unknown): string {
  if (typeof input === 'string' && /[/\\]/.test(input)) throw invalid('file name', 'contains a path separator');
  const s = clean(input, 'file name');
  if (s.includes('..')) throw invalid('file name', 'contains ".."');
  const bad = FILE_NAME_FORBIDDEN.exec(s);
  if (bad) throw invalid('file name', `contains a character that is not allowed in file names (${bad[0]})`, { char: codePoint(bad[0]) });
  if (s === '.') throw invalid('file name', 'is only a dot');
  const chars = [...s];
  if (chars.length <= MAX_FILE_NAME_LENGTH) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 10 ? s.slice(dot) : '';
  const stem = chars.slice(0, MAX_FILE_NAME_LENGTH - [...ext].length).join('').trimEnd();
  return stem + ext;
}
