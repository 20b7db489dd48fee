import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { hashPassword, passwordProblem } from '../auth/password.js';
import { authorize } from '../auth/policy.js';
import { newId } from '../data/ids.js';
import { ROLES, type Role } from '../data/users.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, Params, SafeName } from '../http/schemas.js';
import { audit, visible } from './helpers.js';

const Grant = Type.Object({ role: Type.Union(ROLES.map((r) => Type.Literal(r))), zoneId: IdParam, canApprove: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false });
type GrantIn = { role: Role; zoneId: string; canApprove?: boolean };

/** Users and their zone-scoped roles. An admin can grant roles only inside its own subtree. */
export function registerUsers(app: FastifyInstance, ctx: AppContext): void {
  const checkGrants = (req: Parameters<typeof userOf>[0], grants: GrantIn[]): void => {
    for (const g of grants) authorize(userOf(req), 'user.write', ctx.data.zones.require(g.zoneId).path);
  };

  app.get('/api/v1/users', { config: { perm: 'user.read' }, schema: { tags: ['users'] } }, async (req) => ({ users: ctx.data.users.list(visible(req, 'user.read')) }));

  app.post('/api/v1/users', {
    config: { perm: 'user.write' },
    schema: {
      tags: ['users'], summary: 'Create a user with role grants',
      body: Type.Object({
        username: Type.String({ pattern: '^[a-z0-9._-]{3,64}$', description: 'lower-case letters, digits, . _ -' }),
        displayName: SafeName(120), password: Type.String({ minLength: 10, maxLength: 200 }), roles: Type.Array(Grant, { minItems: 1, maxItems: 50 }),
      }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const b = req.body as { username: string; displayName: string; password: string; roles: GrantIn[] };
    checkGrants(req, b.roles);
    const problem = passwordProblem(b.password);
    if (problem) throw new LoaError('LOA_ERR_SCHEMA', problem);
    const passwordHash = await hashPassword(b.password);
    const id = newId('usr');
    const user = ctx.data.tx(() => {
      ctx.data.users.create({ id, username: b.username, displayName: b.displayName, passwordHash }, ctx.clock.now());
      ctx.data.users.setRoles(id, b.roles);
      audit(ctx, req, { action: 'user.create', targetType: 'user', targetId: id, details: { username: b.username, roles: b.roles } });
      return ctx.data.users.require(id);
    });
    return reply.code(201).send({ user });
  });

  app.patch('/api/v1/users/:id', {
    config: { perm: 'user.write' },
    schema: {
      tags: ['users'], params: Params,
      body: Type.Object({ displayName: Type.Optional(SafeName(120)), password: Type.Optional(Type.String({ minLength: 10, maxLength: 200 })), disabled: Type.Optional(Type.Boolean()), roles: Type.Optional(Type.Array(Grant, { maxItems: 50 })) }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const b = req.body as { displayName?: string; password?: string; disabled?: boolean; roles?: GrantIn[] };
    const target = ctx.data.users.require(id);
    // You may change a user only if you administer every zone the user holds a role in.
    checkGrants(req, target.roles);
    if (b.roles) checkGrants(req, b.roles);
    const passwordHash = b.password ? await hashPassword(b.password) : undefined;
    return { user: ctx.data.tx(() => {
      ctx.data.users.update(id, { ...(b.displayName ? { displayName: b.displayName } : {}), ...(passwordHash ? { passwordHash } : {}), ...(b.disabled === undefined ? {} : { disabled: b.disabled }) }, ctx.clock.now());
      if (b.roles) ctx.data.users.setRoles(id, b.roles);
      audit(ctx, req, { action: 'user.update', targetType: 'user', targetId: id, details: { displayName: b.displayName, disabled: b.disabled, roles: b.roles, passwordChanged: !!b.password } });
      return ctx.data.users.require(id);
    }) };
  });
}
