import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';

/** Every API token starts with this, so that `identify()` (and secret scanners) can tell it from a session. */
export const API_TOKEN_PREFIX = 'loat_';
/** How often the last-used time is written at most (one write per token per minute, not one per request). */
const TOUCH_EVERY_MS = 60_000;

export interface ApiTokenRecord {
  id: string;
  userId: string;
  name: string;
  /** The first characters after `loat_`, to recognise a token in lists (never enough to use it). */
  hint: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

interface Row {
  id: string; user_id: string; name: string; token_hash: string; hint: string; created_at: number; created_by: string; expires_at: number;
  last_used_at: number | null; last_used_ip: string | null; revoked_at: number | null; revoked_by: string | null;
}

const toRecord = (r: Row): ApiTokenRecord => ({
  id: r.id, userId: r.user_id, name: r.name, hint: r.hint, createdAt: r.created_at, createdBy: r.created_by, expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at, lastUsedIp: r.last_used_ip, revokedAt: r.revoked_at, revokedBy: r.revoked_by,
});

/** sha256 (hex) of a token: the only form in which a token is stored or looked up. */
export function apiTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random token: `loat_` and 32 random bytes (base64url). */
export function newApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * API tokens (contract C): long-lived bearer credentials of one user for integrations such as Node-RED. A token
 * acts as its user, with the same zone-scoped roles. Only its sha256 is stored; it is looked up by that hash
 * (like sessions), compared again in constant time, and refused once expired or revoked, or while its user is
 * disabled.
 */
export class ApiTokensRepo {
  constructor(private readonly db: Db) {}

  create(input: { id: string; userId: string; name: string; token: string; createdBy: string; expiresAt: number }, now: number): ApiTokenRecord {
    this.db.prepare('INSERT INTO api_tokens (id, user_id, name, token_hash, hint, created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(input.id, input.userId, input.name, apiTokenHash(input.token), input.token.slice(API_TOKEN_PREFIX.length, API_TOKEN_PREFIX.length + 4), now, input.createdBy, input.expiresAt);
    return this.require(input.userId, input.id);
  }

  /** The user's tokens, newest first (revoked and expired ones included, so that the list explains itself). */
  list(userId: string): ApiTokenRecord[] {
    return this.db.prepare<[string], Row>('SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id').all(userId).map(toRecord);
  }

  require(userId: string, id: string): ApiTokenRecord {
    const r = this.db.prepare<[string, string], Row>('SELECT * FROM api_tokens WHERE id = ? AND user_id = ?').get(id, userId);
    if (!r) throw new LoaError('LOA_ERR_NOT_FOUND', `user ${userId} has no API token ${id}`);
    return toRecord(r);
  }

  /** Revokes a token (idempotent: a revoked token keeps its first revocation). */
  revoke(userId: string, id: string, by: string, now: number): ApiTokenRecord {
    this.require(userId, id);
    this.db.prepare('UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL').run(now, by, id, userId);
    return this.require(userId, id);
  }

  /**
   * The live token behind a presented `loat_` token and its user id, or null (unknown, expired, revoked, or its
   * user disabled). Records the last use (at most once a minute).
   */
  authenticate(token: string, now: number, ip: string | null): { tokenId: string; userId: string } | null {
    const hash = apiTokenHash(token);
    const r = this.db.prepare<[string], Row & { disabled: number }>('SELECT t.*, u.disabled FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?').get(hash);
    if (!r || !timingSafeEqual(Buffer.from(r.token_hash, 'hex'), Buffer.from(hash, 'hex'))) return null;
    if (r.revoked_at !== null || r.expires_at <= now || r.disabled === 1) return null;
    if (r.last_used_at === null || now - r.last_used_at >= TOUCH_EVERY_MS || r.last_used_ip !== ip) {
      this.db.prepare('UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?').run(now, ip, r.id);
    }
    return { tokenId: r.id, userId: r.user_id };
  }
}
