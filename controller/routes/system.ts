import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../http/context.js';

/** Health and Prometheus metrics (the dashboard at `/` is controller/web). */
export function registerSystem(app: FastifyInstance, ctx: AppContext): void {
  app.get('/healthz', { config: { auth: 'public' }, schema: { tags: ['system'], summary: 'Liveness and readiness: database reachable' } }, async (_req, reply) => {
    try {
      ctx.data.db.prepare('SELECT 1').get();
      return { ok: true, devices: ctx.data.devices.count(), time: new Date(ctx.clock.now()).toISOString() };
    } catch {
      return reply.code(503).send({ ok: false });
    }
  });
  app.get('/metrics', { config: { auth: 'public' }, schema: { tags: ['system'], summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    return reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics());
  });
}
