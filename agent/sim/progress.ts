import type { ErrorTally } from './protocol.js';
import type { FleetTotals, OrderTally } from './fleet.js';

const n = (v: number): string => v.toLocaleString('en-US');

/** `connected 7,500/10,000 · 2 worker(s) · failed attempts 3 · drops 0` */
export function connectedLine(t: FleetTotals): string {
  const extra = [`${t.workersAlive}/${t.workers} worker(s)`];
  if (t.connectFailures) extra.push(`failed attempts ${n(t.connectFailures)}`);
  if (t.drops) extra.push(`drops ${n(t.drops)}`);
  if (t.unacked) extra.push(`acks awaiting PUBACK ${n(t.unacked)}`);
  if (t.telemetry || t.plays || t.fetches || t.fetchFailures) {
    extra.push(`telemetry ${n(t.telemetry)}`, `plays ${n(t.plays)}`, `manifest fetches ${n(t.fetches)}${t.fetchFailures ? ` (failed ${n(t.fetchFailures)})` : ''}`);
  }
  return `connected ${n(t.connected)}/${n(t.devices)} · ${extra.join(' · ')}`;
}

/** `order emg-1: received 9,990 · started 9,990 · finished 0 · rejected 10 (LOA_ERR_EMERGENCY_SCOPE 10)` */
export function orderLine(o: OrderTally): string {
  const d = o.devices;
  const parts = [`received ${n(d.received.size)}`, `started ${n(d.started.size)}`, `finished ${n(d.finished.size)}`];
  if (d.cancelled.size) parts.push(`cancelled ${n(d.cancelled.size)}`);
  if (d.failed.size) parts.push(`failed ${n(d.failed.size)}`);
  if (d.rejected.size) parts.push(`rejected ${n(d.rejected.size)}`);
  const codes = Object.entries(o.codes).map(([c, k]) => `${c} ${n(k)}`);
  return `order ${o.orderId}: ${parts.join(' · ')}${codes.length ? ` (${codes.join(', ')})` : ''}`;
}

/** `errors: LOA_ERR_SYNC_MQTT ×12 (last: connection refused: Not authorized)` */
export function errorsLine(t: ErrorTally): string {
  return `errors: ${Object.entries(t).map(([c, e]) => `${c} ×${n(e.count)} (last: ${e.last})`).join('; ')}`;
}

/** Merges error tallies (the counts add up, the newest message wins). */
export function mergeErrors(into: ErrorTally, from: ErrorTally): void {
  for (const [code, e] of Object.entries(from)) {
    const cur = (into[code] ??= { count: 0, last: '' });
    cur.count += e.count;
    cur.last = e.last;
  }
}

/** The p-th percentile (nearest rank) of `values`; NaN when empty. */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
