import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Id } from '../../shared/schemas/common.js';
import { MaintenanceWindow } from '../../shared/schemas/release.js';
import type { AppContext } from '../http/context.js';
import { Limit, Params } from '../http/schemas.js';
import type { Actor, DeploymentInput } from '../releases/rollout.js';
import { authz, visible } from './helpers.js';

const CreateBody = Type.Object({
  releaseSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  target: Type.Object({
    zoneIds: Type.Optional(Type.Array(Id, { maxItems: 1000 })),
    deviceIds: Type.Optional(Type.Array(Id, { maxItems: 10000 })),
  }, { additionalProperties: false }),
  waves: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { minItems: 1, maxItems: 10, description: 'Cumulative percentages, growing, ending at 100 (default [1, 10, 100])' })),
  maxFailures: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'Failures tolerated before the rollout halts (default 0)' })),
  waveTimeoutSec: Type.Optional(Type.Integer({ minimum: 10, maximum: 30 * 86400, description: 'A device not healthy this long after its wave started counts as failed (default 1800)' })),
  healthWindowSec: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600, description: 'Time the new version has to pass its health check on the device (default 120)' })),
  windows: Type.Optional(Type.Array(MaintenanceWindow, { maxItems: 8 })),
  allowDowngrade: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

/** The caller, for the audit log (an API token is named, as helpers.audit does). */
function actor(req: FastifyRequest): Actor {
  return { actor: req.user!.id, ip: req.ip, ...(req.apiTokenId ? { details: { apiTokenId: req.apiTokenId } } : {}) };
}

/**
 * Deployments of agent releases in waves (issue 11): create (targets inside the caller's release.manage
 * subtrees only), list, show with each device's version, state and failure reason, and pause, resume, abort.
 */
export function registerDeployments(app: FastifyInstance, ctx: AppContext): void {
  const show = (req: FastifyRequest): string => {
    const { id } = req.params as { id: string };
    authz(ctx, req, 'release.manage', ctx.data.deployments.require(id).zoneId);
    return id;
  };

  app.post('/api/v1/deployments', {
    config: { perm: 'release.manage' },
    schema: { tags: ['releases'], summary: 'Roll a release out to zones and/or devices in waves; wave 1 starts at once', body: CreateBody },
  }, async (req, reply) => {
    const scope = visible(req, 'release.manage');
    const r = ctx.rollout.create(req.body as DeploymentInput, scope, actor(req));
    return reply.code(201).send(r);
  });

  app.get('/api/v1/deployments', {
    config: { perm: 'release.manage' },
    schema: { tags: ['releases'], summary: 'Deployments in your subtrees, newest first (per-wave progress and state counts)', querystring: Type.Object({ limit: Limit }, { additionalProperties: false }) },
  }, async (req) => {
    const within = visible(req, 'release.manage');
    return { deployments: ctx.data.deployments.list(within, (req.query as { limit: number }).limit).map((d) => ctx.rollout.view(d.id)) };
  });

  app.get('/api/v1/deployments/:id', {
    config: { perm: 'release.manage' },
    schema: { tags: ['releases'], summary: 'One deployment: waves, each device (wave, state, version, reason), haltReason', params: Params },
  }, async (req) => ({ deployment: ctx.rollout.view(show(req), true) }));

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(`/api/v1/deployments/:id/${action}`, {
      config: { perm: 'release.manage' },
      schema: {
        tags: ['releases'], params: Params,
        summary: action === 'pause' ? 'Hold the next wave (devices of the current one go on)' : action === 'resume' ? 'Let a paused deployment go on'
          : 'Stop for good: devices that have not switched lose the update in their next manifest',
      },
    }, async (req) => ({ deployment: ctx.rollout[action](show(req), actor(req)) }));
  }
}
