/**
 * Checks every signed controller → device message shares (emergency orders, device commands): the input's
 * size and JSON, its schema, and its lifetime. Signatures are checked by shared/trust.ts `requireThreshold`.
 */
import { LoaError, type ErrorCode } from './errors.js';
import type { TSchema, Static } from '@sinclair/typebox';
import { parseJsonText, type Checker } from './validate.js';

/** A string or Buffer is size-capped and parsed; anything else is taken as already parsed. Then the schema. */
export function parseSigned<S extends TSchema>(input: unknown, maxBytes: number, check: Checker<S>, what: string): Static<S> {
  const raw = typeof input === 'string' || Buffer.isBuffer(input) ? parseJsonText(input, maxBytes, what) : input;
  return check.parse(raw, what);
}

export interface LifetimeRule {
  /** Longest allowed expiresAt − issuedAt. */
  maxTtlMs: number;
  /** How far in the future issuedAt may be (clock skew between controller and device). */
  skewMs: number;
  code: ErrorCode;
  what: string;
}

/** Throws `rule.code` when the message expired, is issued in the future, or lives longer than allowed. */
export function checkLifetime(m: { issuedAt: string; expiresAt: string }, now: number, rule: LifetimeRule): void {
  const issued = Date.parse(m.issuedAt);
  const expires = Date.parse(m.expiresAt);
  if (expires <= now) throw new LoaError(rule.code, `${rule.what} expired at ${m.expiresAt}`, { details: { expiresAt: m.expiresAt } });
  if (issued > now + rule.skewMs) throw new LoaError(rule.code, `${rule.what} is issued in the future (${m.issuedAt}); check the device clock`, { details: { issuedAt: m.issuedAt } });
  if (expires - issued > rule.maxTtlMs || expires <= issued) {
    throw new LoaError(rule.code, `${rule.what} lives from ${m.issuedAt} to ${m.expiresAt}; at most ${formatMs(rule.maxTtlMs)} is allowed`);
  }
}

function formatMs(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * The id and seq a refused input claims (`signed[idField]`, `signed.seq`), for its refusal ack; null unless
 * the id looks like an id. The input is not trusted: only used to tell the controller which message was refused.
 */
export function claimedIds(input: unknown, idField: string, maxBytes: number): { id: string; seq: number } | null {
  let v: unknown = input;
  if (typeof v === 'string' || Buffer.isBuffer(v)) {
    if (v.length > maxBytes) return null;
    try {
      v = JSON.parse(String(v)) as unknown;
    } catch {
      return null;
    }
  }
  const s = (v as { signed?: Record<string, unknown> } | null)?.signed;
  const id = s?.[idField];
  if (!s || typeof id !== 'string' || !ID.test(id)) return null;
  const seq = s.seq;
  return { id, seq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : 1 };
}
