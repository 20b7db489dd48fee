import { createHash } from 'node:crypto';
import type { Db } from '../../agent/store/db.js';
import type { HardwareSummary, PairingState } from '../../shared/schemas/pairing.js';

/** A device's request to be paired on site. The code is never stored: only the locator and a hash of the secret. */
export interface PairingRecord {
  id: string;
  locator: string;
  publicKey: string;
  keyid: string;
  hardwareProfile: string | null;
  agentVersion: string | null;
  hardware: HardwareSummary;
  ip: string | null;
  /** As stored: a pending request past its expiry reads as 'expired' through stateAt(). */
  state: PairingState;
  failedAttempts: number;
  deviceId: string | null;
  pairedBy: string | null;
  pairedAt: number | null;
  createdAt: number;
  expiresAt: number;
}

interface Row {
  id: string; locator: string; secret_hash: string; public_key: string; keyid: string; hardware_profile: string | null; agent_version: string | null;
  hardware: string; ip: string | null; state: PairingState; failed_attempts: number; device_id: string | null; paired_by: string | null;
  paired_at: number | null; created_at: number; expires_at: number;
}

const toRecord = (r: Row): PairingRecord => ({
  id: r.id, locator: r.locator, publicKey: r.public_key, keyid: r.keyid, hardwareProfile: r.hardware_profile, agentVersion: r.agent_version,
  hardware: JSON.parse(r.hardware) as HardwareSummary, ip: r.ip, state: r.state, failedAttempts: r.failed_attempts, deviceId: r.device_id,
  pairedBy: r.paired_by, pairedAt: r.paired_at, createdAt: r.created_at, expiresAt: r.expires_at,
});

/** The stored form of a code's secret part (the last 5 characters), salted with the request id. */
export function pairingSecretHash(pairingId: string, secret: string): string {
  return createHash('sha256').update(`loa/v1/pairing-secret:${pairingId}:${secret}`).digest('hex');
}

/** The state a request is in at `now`: a pending request whose code has run out is expired. */
export function stateAt(p: Pick<PairingRecord, 'state' | 'expiresAt'>, now: number): PairingState {
  return p.state === 'pending' && p.expiresAt <= now ? 'expired' : p.state;
}

export interface NewPairing {
  id: string;
  locator: string;
  secretHash: string;
  publicKey: string;
  keyid: string;
  hardwareProfile: string | null;
  agentVersion: string | null;
  hardware: HardwareSummary;
  ip: string | null;
  expiresAt: number;
}

/** Pairing requests (issue 5): created by unpaired devices, claimed by technicians with the code. */
export class PairingRepo {
  constructor(private readonly db: Db) {}

  get(id: string): PairingRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM pairing_requests WHERE id = ?').get(id);
    return r ? toRecord(r) : null;
  }

  /** Marks pending requests whose code has run out as expired, which frees their locators. */
  expireDue(now: number): void {
    this.db.prepare("UPDATE pairing_requests SET state = 'expired', updated_at = ? WHERE state = 'pending' AND expires_at <= ?").run(now, now);
  }

  /** A new request from a key replaces that key's pending one, so each device has at most one live code. */
  supersede(keyid: string, now: number): number {
    return this.db.prepare("UPDATE pairing_requests SET state = 'expired', updated_at = ? WHERE keyid = ? AND state = 'pending'").run(now, keyid).changes;
  }

  locatorTaken(locator: string): boolean {
    return this.db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM pairing_requests WHERE locator = ? AND state = 'pending'").get(locator)!.n > 0;
  }

  create(p: NewPairing, now: number): PairingRecord {
    this.db.prepare(`INSERT INTO pairing_requests (id, locator, secret_hash, public_key, keyid, hardware_profile, agent_version, hardware, ip, state, created_at, expires_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`)
      .run(p.id, p.locator, p.secretHash, p.publicKey, p.keyid, p.hardwareProfile, p.agentVersion, JSON.stringify(p.hardware), p.ip, now, p.expiresAt, now);
    return this.get(p.id)!;
  }

  /** Every request that ever used this locator, newest first, with its secret hash (for the claim check only). */
  withLocator(locator: string, limit = 50): (PairingRecord & { secretHash: string })[] {
    return this.db.prepare<[string, number], Row>('SELECT * FROM pairing_requests WHERE locator = ? ORDER BY created_at DESC LIMIT ?').all(locator, limit)
      .map((r) => ({ ...toRecord(r), secretHash: r.secret_hash }));
  }

  /** Counts a wrong secret against a pending request; at `max` it locks. Returns the new count and state. */
  recordFailure(id: string, max: number, now: number): { failedAttempts: number; state: PairingState } {
    const r = this.db.prepare<[number, number, string], { failed_attempts: number; state: PairingState }>(
      `UPDATE pairing_requests SET failed_attempts = failed_attempts + 1, state = CASE WHEN failed_attempts + 1 >= ? THEN 'locked' ELSE state END, updated_at = ?
       WHERE id = ? AND state = 'pending' RETURNING failed_attempts, state`,
    ).get(max, now, id);
    return r ? { failedAttempts: r.failed_attempts, state: r.state } : { failedAttempts: 0, state: 'expired' };
  }

  markPaired(id: string, deviceId: string, by: string, now: number): void {
    this.db.prepare("UPDATE pairing_requests SET state = 'paired', device_id = ?, paired_by = ?, paired_at = ?, updated_at = ? WHERE id = ? AND state = 'pending'").run(deviceId, by, now, now, id);
  }

  /** Pending requests (codes not shown: they are not stored), newest first. */
  listPending(now: number, limit: number): PairingRecord[] {
    return this.db.prepare<[number, number], Row>("SELECT * FROM pairing_requests WHERE state = 'pending' AND expires_at > ? ORDER BY created_at DESC LIMIT ?").all(now, limit).map(toRecord);
  }

  /** The live (not revoked) device this key is bound to, if any. */
  deviceWithKey(keyid: string): string | null {
    return this.db.prepare<[string], { id: string }>('SELECT id FROM devices WHERE keyid = ? AND revoked_at IS NULL').get(keyid)?.id ?? null;
  }

  /** Retires a device for good: its key is refused (the caller retires it) and the compiler skips it; history stays. */
  decommission(deviceId: string, now: number): void {
    this.db.prepare('UPDATE devices SET decommissioned_at = ?, revoked_at = coalesce(revoked_at, ?), updated_at = ? WHERE id = ?').run(now, now, now, deviceId);
    this.db.prepare('UPDATE enrollment_tokens SET used_at = ? WHERE device_id = ? AND used_at IS NULL').run(now, deviceId);
  }
}
