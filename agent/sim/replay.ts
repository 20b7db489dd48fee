/**
 * The simulator's in-memory stand-in for the agent's `emergency_seen` table (agent/emergency/store.ts): the
 * nonce and seq of every accepted order are kept until the order expires, so a replay is refused with
 * LOA_ERR_EMERGENCY_REPLAY; after expiry the order's own lifetime refuses it. It forgets everything when the
 * process ends, which a real device must not (it keeps the set in SQLite).
 */
export class ReplaySet {
  private readonly nonces = new Map<string, number>();
  private readonly seqs = new Map<number, number>();

  /** Same rule as the agent: seen when the nonce OR the seq was accepted before. */
  seen(nonce: string, seq: number): boolean {
    return this.nonces.has(nonce) || this.seqs.has(seq);
  }

  record(nonce: string, seq: number, expiresAt: number, now: number): void {
    if (this.nonces.size >= 64) this.prune(now);
    this.nonces.set(nonce, expiresAt);
    this.seqs.set(seq, expiresAt);
  }

  /** Forgets orders that expired (their expiry refuses a replay from now on). */
  prune(now: number): void {
    for (const [k, exp] of this.nonces) if (exp <= now) this.nonces.delete(k);
    for (const [k, exp] of this.seqs) if (exp <= now) this.seqs.delete(k);
  }

  get size(): number {
    return this.nonces.size;
  }
}
