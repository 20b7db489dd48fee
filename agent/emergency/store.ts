import type { SignedEmergencyOrder } from '../../shared/schemas/emergency.js';
import type { Db } from '../store/db.js';

/**
 * Emergency orders this device has accepted (agent migration 3). Every accepted order's nonce and seq are kept
 * until it expires, so a replay is refused; after expiry the order's own lifetime refuses it.
 */
export class EmergencyStore {
  constructor(private readonly db: Db) {}

  seen(nonce: string, seq: number): boolean {
    return this.db.prepare<[string, number], { n: number }>('SELECT 1 AS n FROM emergency_seen WHERE nonce = ? OR seq = ?').get(nonce, seq) !== undefined;
  }

  record(env: SignedEmergencyOrder, now: number): void {
    const o = env.signed;
    this.db.prepare('INSERT INTO emergency_seen (nonce, seq, order_id, action, expires_at, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(o.nonce, o.seq, o.orderId, o.action, Date.parse(o.expiresAt), now, JSON.stringify(env));
  }

  isCancelled(orderId: string): boolean {
    return this.db.prepare<[string], { n: number }>("SELECT 1 AS n FROM emergency_seen WHERE order_id = ? AND action = 'cancel'").get(orderId) !== undefined;
  }

  /** Start orders not expired and not cancelled, oldest first, with when they arrived: what a restarted agent must still play. */
  activeStarts(now: number): { env: SignedEmergencyOrder; receivedAt: number }[] {
    return this.db.prepare<[number], { body: string; received_at: number }>(
      "SELECT s.body, s.received_at FROM emergency_seen s WHERE s.action = 'start' AND s.expires_at > ? AND NOT EXISTS (SELECT 1 FROM emergency_seen c WHERE c.order_id = s.order_id AND c.action = 'cancel') ORDER BY s.seq",
    ).all(now).map((r) => ({ env: JSON.parse(r.body) as SignedEmergencyOrder, receivedAt: r.received_at }));
  }

  /** Forgets expired orders (their expiry now refuses any replay). */
  prune(now: number): number {
    return this.db.prepare('DELETE FROM emergency_seen WHERE expires_at <= ?').run(now).changes;
  }
}
