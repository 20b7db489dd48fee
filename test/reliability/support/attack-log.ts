/**
 * The attack suite's table (issue 10): every attack is a row {id, family, attack, target, expected, outcome}.
 * A row is `rejected` only when the observed refusal is exactly the expected one (an error code, an HTTP status,
 * an MQTT refusal); anything else that gets through is `ACCEPTED`. `finish()` records one figure row per attack
 * and a summary row {tried, rejected} (suite 'attacks'), then asserts that every attack was rejected as expected.
 */
import assert from 'node:assert/strict';
import { ERRORS } from '../../../shared/errors.js';
import { recordFigures } from './mode.js';

export type Outcome = 'rejected' | 'ACCEPTED';

export interface AttackRow {
  id: string;
  family: string;
  attack: string;
  target: string;
  expected: string;
  got: string;
  outcome: Outcome;
}

/** What an attempt observed: the refusal (a LoaError code, `HTTP 401`, `CONNACK 5`, `SUBACK 128`, …) or ACCEPTED. */
export type Observed = string;
export const ACCEPTED = 'ACCEPTED';

/** Runs `fn`: ACCEPTED when it returns, the LoaError code when it throws one, else the exception's name and message. */
export async function codeOf(fn: () => unknown): Promise<Observed> {
  try {
    await fn();
    return ACCEPTED;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in ERRORS) return code;
    return `${(e as Error).name}: ${(e as Error).message}`.slice(0, 200);
  }
}

/** The status and error code of an HTTP response (`HTTP 403 LOA_ERR_CSRF`); the body is consumed. */
export async function httpRefusal(res: Response): Promise<Observed> {
  const text = await res.text();
  if (res.status < 400) return ACCEPTED;
  let code = '';
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    code = '';
  }
  return code ? `HTTP ${res.status} ${code}` : `HTTP ${res.status}`;
}

export class AttackLog {
  readonly rows: AttackRow[] = [];

  constructor(private readonly o: { family: string; reproduce: string }) {}

  /** Runs one attack and records what it observed. `observe` returns the refusal (or ACCEPTED). */
  async attack(id: string, attack: string, target: string, expected: string, observe: () => Promise<Observed> | Observed): Promise<AttackRow> {
    let got: Observed;
    try {
      got = await observe();
    } catch (e) {
      got = `the attempt itself failed: ${(e as Error).message}`.slice(0, 200);
    }
    const row: AttackRow = { id, family: this.o.family, attack, target, expected, got, outcome: got === ACCEPTED ? 'ACCEPTED' : 'rejected' };
    this.rows.push(row);
    return row;
  }

  /** Records every row and the summary (suite 'attacks'), then asserts each was refused exactly as expected. */
  finish(): void {
    for (const r of this.rows) {
      recordFigures({ suite: 'attacks', what: `${r.family} ${r.id}: ${r.attack}`, figures: { target: r.target, expected: r.expected, got: r.got, outcome: r.outcome }, reproduce: this.o.reproduce });
    }
    // Control rows (expected ACCEPTED: the genuine message goes through) prove the rig works; they are not attacks.
    const attacks = this.rows.filter((r) => r.expected !== ACCEPTED);
    const rejected = attacks.filter((r) => r.outcome === 'rejected' && r.got === r.expected).length;
    recordFigures({ suite: 'attacks', what: `${this.o.family}: summary`, figures: { tried: attacks.length, rejected, controls: this.rows.length - attacks.length }, reproduce: this.o.reproduce });
    const wrong = this.rows.filter((r) => r.got !== r.expected).map((r) => `${r.id} (${r.attack}) → ${r.outcome}: got ${r.got}, expected ${r.expected}`);
    assert.deepEqual(wrong, [], `${wrong.length} of ${this.rows.length} ${this.o.family} attacks were not refused as expected`);
    assert.ok(attacks.length > 0, 'no attack was tried');
  }
}
