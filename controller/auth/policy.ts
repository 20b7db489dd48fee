import { LoaError } from '../../shared/errors.js';
import type { Role, RoleGrant, User } from '../data/users.js';

/** What each role may do inside its zone subtree (DESIGN §1: roles are scoped to a zone subtree). */
export const PERMISSIONS = [
  'zone.read', 'zone.write',
  'user.read', 'user.write',
  'device.read', 'device.write',
  'media.read', 'media.write',
  'program.read', 'program.write',
  'schedule.read', 'schedule.write',
  'approve',
  'report.read', 'audit.read',
  // issue 5: switch the controller to a root rotated offline (admin only; see routes/trust.ts)
  'trust.reload',
  // issue 6: emergency orders (send, approve and cancel: admin and operator; read: every role)
  'emergency.read', 'emergency.send',
  // issue 11: agent releases and staged rollouts (admin only; deployments only over devices in the admin's subtree)
  'release.manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READ: Permission[] = ['zone.read', 'device.read', 'media.read', 'program.read', 'schedule.read', 'report.read', 'emergency.read'];

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(PERMISSIONS),
  operator: new Set([...READ, 'media.write', 'program.write', 'schedule.write', 'emergency.send']),
  technician: new Set([...READ, 'device.write']),
  viewer: new Set(READ),
};

/** An admin approves anywhere in its subtree; an operator only where its grant says can_approve. */
function grants(g: RoleGrant, p: Permission): boolean {
  if (p === 'approve') return g.role === 'admin' || (g.role === 'operator' && g.canApprove);
  return ROLE_PERMISSIONS[g.role].has(p);
}

/** True when some grant of the user covers `zonePath` (the zone or an ancestor) and allows `p`. */
export function can(user: User, p: Permission, zonePath: string): boolean {
  return user.roles.some((g) => zonePath.startsWith(g.zonePath) && grants(g, p));
}

/** The subtree paths where the user holds `p` (for filtering lists), without nested duplicates. */
export function scopes(user: User, p: Permission): string[] {
  const paths = user.roles.filter((g) => grants(g, p)).map((g) => g.zonePath).sort();
  return paths.filter((path, i) => !paths.slice(0, i).some((q) => path.startsWith(q)));
}

export function authorize(user: User, p: Permission, zonePath: string): void {
  if (!can(user, p, zonePath)) {
    throw new LoaError(p === 'approve' ? 'LOA_ERR_NOT_APPROVER' : 'LOA_ERR_FORBIDDEN', `${user.username} may not ${p} in ${zonePath}`, { details: { permission: p } });
  }
}
