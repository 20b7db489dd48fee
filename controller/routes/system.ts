import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../http/context.js';
import { STATUS_PAGE } from './status-page.js';

/** Health, Prometheus metrics, and the minimal status page. */
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
  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE));
}
