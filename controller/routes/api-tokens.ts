import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize } from '../auth/policy.js';
import { newApiToken, type ApiTokenRecord } from '../data/api-tokens.js';
import { newId } from '../data/ids.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, SafeName } from '../http/schemas.js';
import { audit, visible } from './helpers.js';

export const TOKEN_DEFAULT_DAYS = 365;
export const TOKEN_MAX_DAYS = 3650;

const UserParams = Type.Object({ id: IdParam }, { additionalProperties: false });
const TokenParams = Type.Object({ id: IdParam, tokenId: IdParam }, { additionalProperties: false });

/** What a list shows of a token: never the token or its hash. */
const view = (t: ApiTokenRecord, now: number): Record<string, unknown> => ({
  id: t.id, name: t.name, hint: `loat_${t.hint}…`, createdAt: new Date(t.createdAt).toISOString(), createdBy: t.createdBy,
  expiresAt: new Date(t.expiresAt).toISOString(), lastUsedAt: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
  revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(), active: t.revokedAt === null && t.expiresAt > now,
});

/**
 * API tokens (contract C): `loat_…` bearer tokens that act as one user (same zone-scoped roles), for Node-RED
 * and other integrations. A user manages its own tokens; an admin (user.write) manages those of a user only
 * when it administers every zone that user holds a role in (as for PATCH /api/v1/users/:id). The token is
 * shown once, at creation; only its hash is stored. Creation and revocation are audited.
 */
export function registerApiTokens(app: FastifyInstance, ctx: AppContext): void {
  /** The target user, after checking that the caller may manage its tokens. */
  const target = (req: FastifyRequest, userId: string): string => {
    const me = userOf(req);
    const u = ctx.data.users.require(userId);
    if (u.id === me.id) return u.id;
    visible(req, 'user.write');
    for (const g of u.roles) authorize(me, 'user.write', g.zonePath);
    return u.id;
  };

  app.post('/api/v1/users/:id/tokens', {
    config: { perm: 'user.write', rateLimit: { max: 30, timeWindow: 60_000 } },
    schema: {
      tags: ['users'], summary: 'Create an API token (loat_…) that acts as this user; the token is in the answer once and never again',
      params: UserParams,
      body: Type.Object({
        name: SafeName(100, 'What the token is for, e.g. "Node-RED trạm đo mực nước"'),
        expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: TOKEN_MAX_DAYS, description: `Default ${TOKEN_DEFAULT_DAYS}` })),
      }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const userId = target(req, (req.params as { id: string }).id);
    const b = req.body as { name: string; expiresInDays?: number };
    const now = ctx.clock.now();
    const token = newApiToken();
    const rec = ctx.data.tx(() => {
      const r = ctx.data.apiTokens.create({ id: newId('tok'), userId, name: b.name, token, createdBy: req.user!.id, expiresAt: now + (b.expiresInDays ?? TOKEN_DEFAULT_DAYS) * 86_400_000 }, now);
      audit(ctx, req, { action: 'api_token.create', targetType: 'user', targetId: userId, details: { tokenId: r.id, name: r.name, expiresAt: new Date(r.expiresAt).toISOString() } });
      return r;
    });
    return reply.code(201).header('cache-control', 'no-store').send({ token, id: rec.id, name: rec.name, expiresAt: new Date(rec.expiresAt).toISOString() });
  });

  app.get('/api/v1/users/:id/tokens', {
    config: { perm: 'user.write' },
    schema: { tags: ['users'], summary: 'The user\'s API tokens (without secrets), newest first', params: UserParams },
  }, async (req) => {
    const userId = target(req, (req.params as { id: string }).id);
    const now = ctx.clock.now();
    return { tokens: ctx.data.apiTokens.list(userId).map((t) => view(t, now)) };
  });

  app.delete('/api/v1/users/:id/tokens/:tokenId', {
    config: { perm: 'user.write' },
    schema: { tags: ['users'], summary: 'Revoke an API token: it is refused at once', params: TokenParams },
  }, async (req) => {
    const p = req.params as { id: string; tokenId: string };
    const userId = target(req, p.id);
    const now = ctx.clock.now();
    const rec = ctx.data.tx(() => {
      const r = ctx.data.apiTokens.revoke(userId, p.tokenId, req.user!.id, now);
      audit(ctx, req, { action: 'api_token.revoke', targetType: 'user', targetId: userId, details: { tokenId: r.id, name: r.name } });
      return r;
    });
    return { token: view(rec, now) };
  });
}
