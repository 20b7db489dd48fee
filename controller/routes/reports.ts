import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import type { SignedManifest } from '../../shared/schemas/manifest.js';
import { Timeline } from '../../shared/timeline.js';
import type { AppContext } from '../http/context.js';
import { IdParam, Params } from '../http/schemas.js';
import { authz, visible } from './helpers.js';

const Window = Type.Object({
  from: Type.String({ format: 'date-time', description: 'Start (RFC 3339)' }),
  to: Type.String({ format: 'date-time', description: 'End (RFC 3339), at most 31 days after from' }),
}, { additionalProperties: false });
const MAX_WINDOW_MS = 31 * 86_400_000;

function window(q: { from: string; to: string }): { from: number; to: number } {
  const from = Date.parse(q.from), to = Date.parse(q.to);
  if (!(to > from)) throw new LoaError('LOA_ERR_SCHEMA', '`to` must be after `from`');
  if (to - from > MAX_WINDOW_MS) throw new LoaError('LOA_ERR_SCHEMA', 'the period may be at most 31 days');
  return { from, to };
}

/** Proof-of-play: per-device history, and "scheduled vs played" for a zone and period. */
export function registerReports(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/v1/devices/:id/plays', {
    config: { perm: 'report.read' },
    schema: { tags: ['reports'], summary: 'Play history (proof-of-play) of one device', params: Params, querystring: Type.Composite([Window, Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), cursor: Type.Optional(Type.String({ maxLength: 300 })) })], { additionalProperties: false }) },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as { from: string; to: string; limit: number; cursor?: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'report.read', d.zoneId);
    const w = window(q);
    const page = ctx.telemetry.playHistory(id, w.from, w.to, q.limit, q.cursor ?? null);
    return { plays: page.items, next: page.nextCursor };
  });

  app.get('/api/v1/devices/:id/telemetry', {
    config: { perm: 'device.read' },
    schema: { tags: ['devices'], summary: 'Latest health figures and recent events of one device', params: Params },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.read', d.zoneId);
    return { latest: ctx.telemetry.latestTelemetry(id), events: ctx.telemetry.eventsOf(id, undefined, undefined, undefined, 50) };
  });

  app.get('/api/v1/reports/scheduled-vs-played', {
    config: { perm: 'report.read' },
    schema: { tags: ['reports'], summary: 'For each device of a zone: occurrences its current manifest scheduled in the period, and what it reported as played', querystring: Type.Composite([Window, Type.Object({ zoneId: IdParam })], { additionalProperties: false }) },
  }, async (req) => {
    const q = req.query as { from: string; to: string; zoneId: string };
    const path = authz(ctx, req, 'report.read', q.zoneId);
    const w = window(q);
    const ids = ctx.data.devices.list({ zonePath: path, within: visible(req, 'report.read'), limit: 10_000 }).map((d) => d.id);
    const plays = ctx.telemetry.playsBetween(ids, w.from, w.to);
    const byDevice = new Map<string, typeof plays>();
    for (const p of plays) (byDevice.get(p.deviceId) ?? byDevice.set(p.deviceId, []).get(p.deviceId)!).push(p);
    const devices = ids.map((id) => {
      const m = ctx.data.manifests.get(id);
      const scheduled = m ? new Timeline((JSON.parse(m.body) as SignedManifest).signed).between(w.from, w.to) : [];
      const got = new Map((byDevice.get(id) ?? []).map((p) => [p.occurrence, p]));
      const missed = scheduled.filter((o) => got.get(o.key)?.status !== 'completed');
      return {
        deviceId: id, scheduled: scheduled.length,
        completed: scheduled.length - missed.length,
        missed: missed.slice(0, 100).map((o) => ({ occurrence: o.key, entryId: o.entryId, status: got.get(o.key)?.status ?? 'no report' })),
        extra: [...got.values()].filter((p) => !scheduled.some((o) => o.key === p.occurrence)).length,
      };
    });
    const total = devices.reduce((a, d) => ({ scheduled: a.scheduled + d.scheduled, completed: a.completed + d.completed }), { scheduled: 0, completed: 0 });
    return { zoneId: q.zoneId, from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), ...total, ratio: total.scheduled ? total.completed / total.scheduled : null, devices };
  });

  app.get('/api/v1/audit', {
    config: { perm: 'audit.read' },
    schema: { tags: ['audit'], summary: 'The audit log, newest first (admins)', querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), before: Type.Optional(Type.Integer({ minimum: 1 })), targetId: Type.Optional(IdParam) }, { additionalProperties: false }) },
  }, async (req) => {
    const q = req.query as { limit: number; before?: number; targetId?: string };
    const scopes = visible(req, 'audit.read');
    const zonePaths = new Map(ctx.data.zones.list().map((z) => [z.id, z.path]));
    const entries = ctx.data.audit.list({ limit: q.limit, ...(q.before ? { beforeId: q.before } : {}), ...(q.targetId ? { targetId: q.targetId } : {}) })
      .filter((e) => !e.zoneId || scopes.some((s) => (zonePaths.get(e.zoneId!) ?? '').startsWith(s)));
    return { entries };
  });
}
