import type { DeviceEvent } from '../../shared/schemas/events.js';
import type { PlayFold, PlayStatus } from '../data/telemetry.js';

/**
 * Proof-of-play folding (DESIGN §3/§4). The agent writes, per occurrence (`entryId@ISO start`):
 * `play.start` {occurrence, entryId, programId, scheduledAt, attempt, offsetMs, …} when an attempt begins,
 * `play.end` {occurrence, entryId, attempt, status, playedMs} when it ends, and `play.skip` {occurrence, entryId,
 * scheduledAt?, reason} when the occurrence will not (or no longer) play. Its outbox numbers them in the order
 * they happened, so the event with the highest seq gives the occurrence's final status whatever order they
 * arrive in; the first start gives started_at and play time is summed over attempts.
 */

const END_STATUSES: ReadonlySet<string> = new Set<PlayStatus>(['completed', 'preempted', 'interrupted', 'failed', 'stopped', 'cancelled']);

const str = (v: unknown, max = 300): string | null => (typeof v === 'string' && v.length > 0 && v.length <= max ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

/** `entryId@2025-01-01T00:00:00.000Z` → its entry id and scheduled start, as the agent's occurrenceKey() makes it. */
export function parseOccurrenceKey(key: string): { entryId: string; scheduledAt: number } | null {
  const i = key.lastIndexOf('@');
  if (i <= 0) return null;
  const t = Date.parse(key.slice(i + 1));
  return Number.isFinite(t) ? { entryId: key.slice(0, i), scheduledAt: t } : null;
}

/** The fold of one play event; null for other events, or for a play event without a usable occurrence or status. */
export function playFoldOf(e: DeviceEvent, receivedAt: number): PlayFold | null {
  if (e.type !== 'play.start' && e.type !== 'play.end' && e.type !== 'play.skip') return null;
  const d = e.data;
  const occurrence = str(d.occurrence);
  if (!occurrence) return null;
  const fromKey = parseOccurrenceKey(occurrence);
  // Plain literals, not `{...base}`: object spread costs microseconds per call here, and this runs per event.
  const entryId = str(d.entryId) ?? fromKey?.entryId ?? null;
  const scheduledAt = int(d.scheduledAt) ?? fromKey?.scheduledAt ?? null;
  const attempt = int(d.attempt) ?? 0;
  const fold = (programId: string | null, startedAt: number | null, endedAt: number | null, status: PlayStatus, playedMs: number, reason: string | null): PlayFold => ({
    deviceId: e.deviceId, occurrence, seq: e.seq, entryId, programId, scheduledAt, startedAt, endedAt, status, attempt, playedMs, reason, receivedAt,
  });
  switch (e.type) {
    case 'play.start':
      return fold(str(d.programId), e.at, null, 'playing', 0, null);
    case 'play.end': {
      const status = typeof d.status === 'string' && END_STATUSES.has(d.status) ? (d.status as PlayStatus) : null;
      return status ? fold(null, null, e.at, status, int(d.playedMs) ?? 0, null) : null;
    }
    case 'play.skip':
      return fold(null, null, e.at, 'skipped', 0, str(d.reason, 100) ?? 'unknown');
  }
}
