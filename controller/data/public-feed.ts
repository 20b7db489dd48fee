import type { Db } from '../../agent/store/db.js';
import type { EmergencyContent } from '../../shared/schemas/emergency.js';

/** One alert of the public emergency feed: what third-party screens may show. */
export interface PublicAlert {
  id: string;
  title: string;
  /** The spoken text of a TTS order; absent for recorded audio and live broadcasts. */
  text?: string;
  kind: EmergencyContent['kind'];
  zones: { id: string; name: string; level: string }[];
  issuedAt: string;
  startAt?: string;
  expiresAt: string;
  cap?: { identifier: string; sender: string };
}

interface Row {
  id: string; zone_id: string; title: string; zones: string; content: string; issued_at: number | null; start_at: number | null; expires_at: number;
  cap_identifier: string | null; cap_sender: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Emergency orders in force for the public feed (issue 8): signed and sent (status active), started, not yet
 * expired. Pending approvals and cancelled or expired orders never appear. Read-only over emergency_orders.
 */
export class PublicFeedRepo {
  constructor(private readonly db: Db) {}

  activeAlerts(now: number, limit = 200): PublicAlert[] {
    const rows = this.db.prepare<[number, number, number], Row>(`SELECT id, zone_id, title, zones, content, issued_at, start_at, expires_at, cap_identifier, cap_sender
      FROM emergency_orders WHERE status = 'active' AND expires_at > ? AND (start_at IS NULL OR start_at <= ?) ORDER BY issued_at DESC, id LIMIT ?`).all(now, now, limit);
    const zoneStmt = this.db.prepare<[string], { id: string; name: string; level: string }>('SELECT id, name, level FROM zones WHERE id = ?');
    return rows.map((r) => {
      const content = JSON.parse(r.content) as EmergencyContent;
      const ids = JSON.parse(r.zones) as string[];
      const zones = (ids.length ? ids : [r.zone_id]).map((z) => zoneStmt.get(z)).filter((z): z is { id: string; name: string; level: string } => z !== undefined);
      return {
        id: r.id, title: r.title, ...(content.kind === 'tts' ? { text: content.text } : {}), kind: content.kind, zones,
        issuedAt: iso(r.issued_at ?? 0), ...(r.start_at !== null ? { startAt: iso(r.start_at) } : {}), expiresAt: iso(r.expires_at),
        ...(r.cap_identifier && r.cap_sender ? { cap: { identifier: r.cap_identifier, sender: r.cap_sender } } : {}),
      };
    });
  }
}
