import { PRIORITY_RANK } from '../../shared/schemas/manifest.js';
import type { Occurrence } from '../../shared/timeline.js';

/**
 * What one receiver will do with a list of occurrences: a discrete-event replay of the agent's scheduler
 * decisions (agent/scheduler/scheduler.ts, `Scheduler.tick`), assuming every item plays for its full duration
 * and amplifiers are pre-warmed (the scheduler's `prewarm` engages them ahead of each start, and a preempted
 * item keeps them), so warm-up never delays audio. Rules, each from `tick` / `play`:
 *
 * - A candidate is an occurrence whose start has come, that is not final and not playing. Its deadline is
 *   `start + maxDelayMs`, or `start + durationMs + maxDelayMs` once it has been preempted ("paused").
 * - Past its deadline (`now > deadline`) it is skipped: `overlap` if it was ever kept waiting ("blocked"),
 *   `expired_after_interruption` if it was paused, else `missed`. Past the manifest's expiry plus the grace
 *   period, every candidate below emergency is skipped as `manifest_expired`.
 * - Candidates are ordered by rank (emergency 4 > live 3 > priority 2 > normal 1), then start, then entry id.
 *   The first plays if nothing is playing, or if it outranks what is playing (strictly: equal ranks never
 *   preempt). Every other candidate is marked blocked (so is the winner when it preempted something).
 * - A preempted play stops at once. With `onPreempt: skip` it is skipped (`after_preempted`); otherwise it is
 *   paused at its position (`resume`) or at 0 (`restart`) and competes again as a candidate.
 * - When a play ends, the agent ticks again at the same instant (the play task's `finally` calls `wake()`).
 * - A waiting candidate is re-examined at its deadline + 1 ms.
 * - A preempted item becomes a candidate on the agent's next look at the clock, which comes within `maxSleepMs`
 *   (1 s) while something plays, and is blocked there; the model marks it at once. (The only visible effect is
 *   the reason if it later expires: `overlap`. An agent that happened not to tick in between would say
 *   `expired_after_interruption`.)
 */

export type SkipReason = 'overlap' | 'missed' | 'expired_after_interruption' | 'after_preempted' | 'manifest_expired';

/** One stretch of audio: wall times (UTC ms) and the program position it started from. */
export interface PlaySpan {
  from: number;
  to: number;
  offsetMs: number;
  ended: 'completed' | 'preempted';
}

export interface ModelOutcome {
  spans: PlaySpan[];
  completed: boolean;
  skipped: { reason: SkipReason; at: number } | null;
  /** Keys of the occurrences that interrupted it / that it had to wait for, in order. */
  preemptedBy: string[];
  waitedFor: string[];
}

/** Why the winner of a decision won. */
export type WinRule = 'higher_priority' | 'already_playing' | 'earlier_start' | 'entry_id';

export interface ModelDecision {
  kind: 'preemption' | 'wait';
  at: number;
  winner: Occurrence;
  loser: Occurrence;
  rule: WinRule;
}

export interface ModelOptions {
  /** Manifest expiry (UTC ms); default never. */
  expiresAt?: number;
  /** How long an expired manifest keeps playing (default 30 days, as the agent's `staleGraceMs`). */
  staleGraceMs?: number;
}

export interface ModelResult {
  outcomes: Map<string, ModelOutcome>;
  /** Each winner/loser pair once per kind, in the order the agent would meet them. */
  decisions: ModelDecision[];
}

interface State {
  occ: Occurrence;
  phase: 'pending' | 'paused' | 'playing' | 'done' | 'skipped';
  offset: number;
  blocked: boolean;
  out: ModelOutcome;
}

const byAgentOrder = (a: Occurrence, b: Occurrence): number =>
  b.rank - a.rank || a.start - b.start || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0);

function winRule(winner: Occurrence, loser: Occurrence, alreadyPlaying: boolean): WinRule {
  if (winner.rank > loser.rank) return 'higher_priority';
  if (alreadyPlaying) return 'already_playing';
  return winner.start < loser.start ? 'earlier_start' : 'entry_id';
}

/** Replays the agent's decisions over `occurrences` (any order; keys must be unique). */
export function modelAgentPlays(occurrences: readonly Occurrence[], options: ModelOptions = {}): ModelResult {
  const graceEnd = (options.expiresAt ?? Infinity) + (options.staleGraceMs ?? 30 * 86_400_000);
  const queue = [...occurrences].sort((a, b) => a.start - b.start);
  const states = new Map<string, State>();
  for (const occ of queue) states.set(occ.key, { occ, phase: 'pending', offset: 0, blocked: false, out: { spans: [], completed: false, skipped: null, preemptedBy: [], waitedFor: [] } });
  const decisions: ModelDecision[] = [];
  const decided = new Set<string>();
  const decide = (d: ModelDecision): void => {
    const id = `${d.kind}|${d.winner.key}|${d.loser.key}`;
    if (decided.has(id) || decided.has(`preemption|${d.winner.key}|${d.loser.key}`)) return;
    decided.add(id);
    decisions.push(d);
    const list = d.kind === 'preemption' ? states.get(d.loser.key)!.out.preemptedBy : states.get(d.loser.key)!.out.waitedFor;
    if (!list.includes(d.winner.key)) list.push(d.winner.key);
  };
  let open: State[] = [];
  let released = 0;
  let cur: { s: State; from: number } | null = null;
  const endOf = (c: { s: State; from: number }): number => c.from + c.s.occ.durationMs - c.s.offset;
  const deadline = (s: State): number => s.occ.start + s.occ.maxDelayMs + (s.phase === 'paused' ? s.occ.durationMs : 0);
  const skip = (s: State, reason: SkipReason, at: number): void => {
    s.phase = 'skipped';
    s.out.skipped = { reason, at };
  };

  let t = queue[0]?.start ?? Infinity;
  while (t !== Infinity) {
    if (cur && endOf(cur) <= t) {
      cur.s.out.spans.push({ from: cur.from, to: endOf(cur), offsetMs: cur.s.offset, ended: 'completed' });
      cur.s.out.completed = true;
      cur.s.phase = 'done';
      cur = null;
    }
    while (released < queue.length && queue[released]!.start <= t) open.push(states.get(queue[released++]!.key)!);
    const candidates: State[] = [];
    for (const s of open) {
      if (s.phase === 'done' || s.phase === 'skipped' || s.phase === 'playing') continue;
      if (t > graceEnd && s.occ.rank < PRIORITY_RANK.emergency) skip(s, 'manifest_expired', t);
      else if (t > deadline(s)) skip(s, s.blocked ? 'overlap' : s.phase === 'paused' ? 'expired_after_interruption' : 'missed', t);
      else candidates.push(s);
    }
    open = open.filter((s) => s.phase !== 'done' && s.phase !== 'skipped');
    candidates.sort((a, b) => byAgentOrder(a.occ, b.occ));
    const best = candidates[0];
    const had = cur;
    let preempted = false;
    if (best && (!cur || best.occ.rank > cur.s.occ.rank)) {
      if (cur) {
        preempted = true;
        const c = cur.s;
        const position = c.offset + (t - cur.from);
        c.out.spans.push({ from: cur.from, to: t, offsetMs: c.offset, ended: 'preempted' });
        decide({ kind: 'preemption', at: t, winner: best.occ, loser: c.occ, rule: 'higher_priority' });
        if (c.occ.onPreempt === 'skip') skip(c, 'after_preempted', t);
        else {
          c.phase = 'paused';
          c.offset = c.occ.onPreempt === 'restart' ? 0 : position;
        }
      }
      if (best.phase !== 'paused') best.offset = 0;
      best.phase = 'playing';
      best.blocked = false;
      cur = { s: best, from: t };
    }
    for (const c of candidates) {
      if (c !== best || had) c.blocked = true;
      if (cur && c !== cur.s) decide({ kind: 'wait', at: t, winner: cur.s.occ, loser: c.occ, rule: winRule(cur.s.occ, c.occ, cur === had) });
    }
    // Look again at once after a preemption, so that the paused item is seen (and blocked) as a candidate.
    let next = preempted ? t : released < queue.length ? queue[released]!.start : Infinity;
    if (cur) next = Math.min(next, endOf(cur));
    for (const c of candidates) if (c !== cur?.s) next = Math.min(next, deadline(c) + 1);
    t = next;
  }
  return { outcomes: new Map([...states].map(([k, s]) => [k, s.out])), decisions };
}
