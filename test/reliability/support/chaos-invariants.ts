/**
 * What the chaos tests check after the final heal (issue 10), read straight from the real files: the agent's
 * agent.db (outbox, plays), its file-sink journal (plays.jsonl) and the controller's controller.db
 * (device_events, plays). Each check returns the problems it found, as sentences, so that one assertion can
 * print all of them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { PlayRecord } from '../../../agent/player/file-sink.js';

export interface OutboxRow { seq: number; dedupe: string; type: string; at: number; data: Record<string, unknown>; sentAt: number | null }
export interface ControllerEvent { seq: number; type: string; at: number; receivedAt: number; data: Record<string, unknown> }

function readOnly<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function agentOutbox(agentDir: string): OutboxRow[] {
  return readOnly(join(agentDir, 'agent.db'), (db) => db.prepare<[], { seq: number; dedupe: string; type: string; at: number; data: string; sent_at: number | null }>('SELECT * FROM outbox ORDER BY seq').all()
    .map((r) => ({ seq: r.seq, dedupe: r.dedupe, type: r.type, at: r.at, data: JSON.parse(r.data) as Record<string, unknown>, sentAt: r.sent_at })));
}

export function agentPlays(agentDir: string): { occurrence: string; state: string }[] {
  return readOnly(join(agentDir, 'agent.db'), (db) => db.prepare<[], { occurrence: string; state: string }>('SELECT occurrence, state FROM plays ORDER BY occurrence').all());
}

export function controllerEvents(dbPath: string, deviceId: string): ControllerEvent[] {
  return readOnly(dbPath, (db) => db.prepare<[string], { seq: number; type: string; at: number; received_at: number; data: string }>('SELECT seq, type, at, received_at, data FROM device_events WHERE device_id = ? ORDER BY seq').all(deviceId)
    .map((r) => ({ seq: r.seq, type: r.type, at: r.at, receivedAt: r.received_at, data: JSON.parse(r.data) as Record<string, unknown> })));
}

export function controllerPlays(dbPath: string, deviceId: string): { occurrence: string; status: string }[] {
  return readOnly(dbPath, (db) => db.prepare<[string], { occurrence: string; status: string }>('SELECT occurrence, status FROM plays WHERE device_id = ? ORDER BY occurrence').all(deviceId));
}

export function sinkRecords(agentDir: string): PlayRecord[] {
  const f = join(agentDir, 'sink', 'plays.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as PlayRecord) : [];
}

const PLAY_TYPES = new Set(['play.start', 'play.end', 'play.skip']);
const factOf = (e: { type: string; data: Record<string, unknown> }): string =>
  e.type === 'play.skip' ? `skip ${String(e.data.occurrence)}` : `${e.type} ${String(e.data.occurrence)}#${String(e.data.attempt)}`;

export interface PopReport { problems: string[]; agentPlayEvents: number; controllerPlayEvents: number; occurrences: number; completed: number; lost: number; duplicated: number; spurious: number }

/**
 * Proof-of-play, exactly once: every play event in the agent's outbox is in the controller's device_events
 * with the same seq and content (none lost), no play fact (start/end of one attempt, skip of one occurrence)
 * is stored twice (none duplicated), the controller has nothing the agent did not record (none spurious),
 * the controller's plays table has exactly the agent's occurrences, and every completed play in the file-sink
 * journal is a completed play at the controller, once.
 */
export function checkProofOfPlay(o: { agentDir: string; controllerDb: string; deviceId: string }): PopReport {
  const problems: string[] = [];
  const agent = agentOutbox(o.agentDir).filter((e) => PLAY_TYPES.has(e.type));
  const ctl = controllerEvents(o.controllerDb, o.deviceId).filter((e) => PLAY_TYPES.has(e.type));
  const ctlBySeq = new Map(ctl.map((e) => [e.seq, e]));
  let lost = 0;
  for (const e of agent) {
    const c = ctlBySeq.get(e.seq);
    if (!c) {
      lost++;
      problems.push(`lost: agent event #${e.seq} ${factOf(e)} never reached controller.db`);
    } else if (c.type !== e.type || JSON.stringify(c.data) !== JSON.stringify(e.data)) {
      problems.push(`changed: event #${e.seq} is ${factOf(c)} at the controller but ${factOf(e)} on the agent`);
    }
  }
  const agentSeqs = new Set(agent.map((e) => e.seq));
  let spurious = 0;
  for (const c of ctl) {
    if (!agentSeqs.has(c.seq)) {
      spurious++;
      problems.push(`spurious: controller event #${c.seq} ${factOf(c)} is not in the agent's outbox`);
    }
  }
  const facts = new Map<string, number>();
  for (const c of ctl) facts.set(factOf(c), (facts.get(factOf(c)) ?? 0) + 1);
  let duplicated = 0;
  for (const [f, n] of facts) {
    if (n > 1) {
      duplicated += n - 1;
      problems.push(`duplicated: ${f} stored ${n} times at the controller`);
    }
  }
  const ap = agentPlays(o.agentDir).map((p) => p.occurrence).sort();
  const cp = controllerPlays(o.controllerDb, o.deviceId);
  const cpKeys = cp.map((p) => p.occurrence).sort();
  if (JSON.stringify(ap) !== JSON.stringify(cpKeys)) {
    const missing = ap.filter((k) => !cpKeys.includes(k));
    const extra = cpKeys.filter((k) => !ap.includes(k));
    problems.push(`plays table: controller lacks ${JSON.stringify(missing)} and has extra ${JSON.stringify(extra)}`);
  }
  const completedAt = new Set(ctl.filter((e) => e.type === 'play.end' && e.data.status === 'completed').map((e) => String(e.data.occurrence)));
  const sinkDone = new Map<string, number>();
  for (const r of sinkRecords(o.agentDir)) if (r.status === 'completed') sinkDone.set(r.key, (sinkDone.get(r.key) ?? 0) + 1);
  for (const [key, n] of sinkDone) {
    if (n > 1) problems.push(`file sink: ${key} completed ${n} times`);
    if (!completedAt.has(key)) problems.push(`file sink: ${key} completed on the device but not at the controller`);
  }
  for (const key of completedAt) if (!sinkDone.has(key)) problems.push(`controller: ${key} completed but the file sink has no completed play of it`);
  return { problems, agentPlayEvents: agent.length, controllerPlayEvents: ctl.length, occurrences: cp.length, completed: completedAt.size, lost, duplicated, spurious };
}

/** Every outbox event of the device is at the controller once, unchanged, and stored in per-device seq order. */
export function checkDelivery(o: { agentDir: string; controllerDb: string; deviceId: string }): { problems: string[]; events: number; unsent: number } {
  const problems: string[] = [];
  const agent = agentOutbox(o.agentDir);
  const ctl = new Map(controllerEvents(o.controllerDb, o.deviceId).map((e) => [e.seq, e]));
  const unsent = agent.filter((e) => e.sentAt === null).length;
  for (const e of agent) {
    const c = ctl.get(e.seq);
    if (!c) problems.push(`lost: event #${e.seq} ${e.type} (${e.dedupe})`);
    else if (c.type !== e.type || JSON.stringify(c.data) !== JSON.stringify(e.data)) problems.push(`changed: event #${e.seq}`);
  }
  for (const seq of ctl.keys()) if (!agent.some((e) => e.seq === seq)) problems.push(`spurious: controller event #${seq}`);
  // Per-device seq order: the controller stored no event before an earlier one of the same device.
  let prev: ControllerEvent | null = null;
  for (const c of [...ctl.values()].sort((a, b) => a.seq - b.seq)) {
    if (prev && c.receivedAt < prev.receivedAt) problems.push(`order: event #${c.seq} was stored before event #${prev.seq}`);
    prev = c;
  }
  return { problems, events: agent.length, unsent };
}

/** Percentile (nearest rank) of a list of numbers. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
