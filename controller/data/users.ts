import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';

export const ROLES = ['admin', 'operator', 'technician', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleGrant {
  role: Role;
  zoneId: string;
  /** Materialised path of the zone: the grant covers this subtree. */
  zonePath: string;
  canApprove: boolean;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  disabled: boolean;
  createdAt: number;
  roles: RoleGrant[];
}

interface UserRow { id: string; username: string; display_name: string; password_hash: string; disabled: number; created_at: number }
interface GrantRow { role: Role; zone_id: string; path: string; can_approve: number }

/** Users, their zone-scoped role grants, and login sessions (only token hashes are stored). */
export class UsersRepo {
  constructor(private readonly db: Db) {}

  private grants(userId: string): RoleGrant[] {
    return this.db.prepare<[string], GrantRow>('SELECT r.role, r.zone_id, z.path, r.can_approve FROM user_roles r JOIN zones z ON z.id = r.zone_id WHERE r.user_id = ? ORDER BY z.path, r.role')
      .all(userId).map((g) => ({ role: g.role, zoneId: g.zone_id, zonePath: g.path, canApprove: g.can_approve === 1 }));
  }

  private toUser(r: UserRow): User {
    return { id: r.id, username: r.username, displayName: r.display_name, disabled: r.disabled === 1, createdAt: r.created_at, roles: this.grants(r.id) };
  }

  get(id: string): User | null {
    const r = this.db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?').get(id);
    return r ? this.toUser(r) : null;
  }

  require(id: string): User {
    const u = this.get(id);
    if (!u) throw new LoaError('LOA_ERR_NOT_FOUND', `user ${id} does not exist`);
    return u;
  }

  /** The user and password hash for a login, or null. */
  credentials(username: string): { user: User; passwordHash: string } | null {
    const r = this.db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?').get(username);
    return r ? { user: this.toUser(r), passwordHash: r.password_hash } : null;
  }

  /** Users holding a grant inside one of the subtrees (or all users). */
  list(within?: readonly string[]): User[] {
    const rows = this.db.prepare<[], UserRow>('SELECT * FROM users ORDER BY username').all().map((r) => this.toUser(r));
    if (!within) return rows;
    return rows.filter((u) => u.roles.some((g) => within.some((p) => g.zonePath.startsWith(p))));
  }

  count(): number {
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users').get()!.n;
  }

  create(input: { id: string; username: string; displayName: string; passwordHash: string }, now: number): void {
    if (this.credentials(input.username)) throw new LoaError('LOA_ERR_CONFLICT', `user name ${input.username} is taken`);
    this.db.prepare('INSERT INTO users (id, username, display_name, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)')
      .run(input.id, input.username, input.displayName, input.passwordHash, now, now);
  }

  update(id: string, patch: { displayName?: string; passwordHash?: string; disabled?: boolean }, now: number): void {
    this.require(id);
    this.db.prepare('UPDATE users SET display_name = coalesce(?, display_name), password_hash = coalesce(?, password_hash), disabled = coalesce(?, disabled), updated_at = ? WHERE id = ?')
      .run(patch.displayName ?? null, patch.passwordHash ?? null, patch.disabled === undefined ? null : patch.disabled ? 1 : 0, now, id);
    if (patch.disabled || patch.passwordHash) this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(id);
  }

  setRoles(userId: string, grants: readonly { role: Role; zoneId: string; canApprove?: boolean }[]): void {
    this.db.prepare('DELETE FROM user_roles WHERE user_id = ?').run(userId);
    const ins = this.db.prepare('INSERT OR REPLACE INTO user_roles (user_id, role, zone_id, can_approve) VALUES (?, ?, ?, ?)');
    for (const g of grants) ins.run(userId, g.role, g.zoneId, g.canApprove ? 1 : 0);
  }

  createSession(tokenHash: string, userId: string, now: number, expiresAt: number, ip: string | null): void {
    this.db.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at, ip) VALUES (?, ?, ?, ?, ?)').run(tokenHash, userId, now, expiresAt, ip);
  }

  /** The live, enabled user behind a session token hash. */
  sessionUser(tokenHash: string, now: number): User | null {
    const r = this.db.prepare<[string, number], UserRow>('SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0').get(tokenHash, now);
    return r ? this.toUser(r) : null;
  }

  deleteSession(tokenHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  purgeSessions(now: number): void {
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
  }
}
