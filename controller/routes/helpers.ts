import type { FastifyRequest } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { authorize, scopes, type Permission } from '../auth/policy.js';
import type { AuditInput } from '../data/audit.js';
import { userOf, type AppContext } from '../http/context.js';

/** Checks that the signed-in user holds `perm` over the zone, and returns the zone's path. */
export function authz(ctx: AppContext, req: FastifyRequest, perm: Permission, zoneId: string): string {
  const zone = ctx.data.zones.require(zoneId);
  authorize(userOf(req), perm, zone.path);
  return zone.path;
}

/** The subtrees in which the user holds `perm`: lists are filtered to these. */
export function visible(req: FastifyRequest, perm: Permission): string[] {
  const s = scopes(userOf(req), perm);
  if (s.length === 0) throw new LoaError('LOA_ERR_FORBIDDEN', `you hold ${perm} in no zone`, { details: { permission: perm } });
  return s;
}

/** Appends to the audit log: who (user or device), from where, what. Call inside the change's transaction. */
export function audit(ctx: AppContext, req: FastifyRequest, e: Omit<AuditInput, 'actor' | 'ip'>): void {
  const actor = req.user ? req.user.id : req.deviceId ? `device:${req.deviceId}` : 'anonymous';
  // A change made with an API token names the token, so that an integration's actions can be told apart.
  const details = req.apiTokenId ? { ...e.details, apiTokenId: req.apiTokenId } : e.details;
  ctx.data.audit.add({ ...e, ...(details ? { details } : {}), actor, ip: req.ip }, ctx.clock.now());
}
