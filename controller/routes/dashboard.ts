import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { ReportsRepo } from '../data/reports.js';
import type { AppContext } from '../http/context.js';
import { IdParam, Params } from '../http/schemas.js';
import { kpiCsv, kpiXlsx } from '../reports/export.js';
import { kpiReport } from '../reports/kpi.js';
import { dictionary, langOf } from '../web/i18n.js';
import { authz, visible } from './helpers.js';

const DAY_MS = 86_400_000;
const TZ_OFFSET_MS = 7 * 3_600_000; // Asia/Ho_Chi_Minh has no daylight saving time
const MAX_KPI_DAYS = 366;
/** Local midnight (Asia/Ho_Chi_Minh) of the day holding `t`, in UTC ms. */
export const localMidnight = (t: number): number => Math.floor((t + TZ_OFFSET_MS) / DAY_MS) * DAY_MS - TZ_OFFSET_MS;

const KpiQuery = Type.Object({
  zoneId: IdParam,
  from: Type.String({ format: 'date-time', description: 'Start (RFC 3339)' }),
  to: Type.String({ format: 'date-time', description: `End (RFC 3339), at most ${MAX_KPI_DAYS} days after from` }),
  format: Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('xlsx')], { default: 'json' }),
  lang: Type.Optional(Type.Union([Type.Literal('vi'), Type.Literal('en')], { description: 'Labels of the export (default vi)' })),
}, { additionalProperties: false });

/** The dashboard's API (issue 7): the overview figures, the provincial KPI report and its exports, health series. */
export function registerDashboardApi(app: FastifyInstance, ctx: AppContext): void {
  const repo = new ReportsRepo(ctx.data.db);

  app.get('/api/v1/reports/overview', {
    config: { perm: 'report.read' },
    schema: { tags: ['reports'], summary: 'Overview: devices online, offline, stale and never seen; plays and failed plays today (local day); open alarms; emergency orders in force', querystring: Type.Object({ zoneId: Type.Optional(IdParam) }, { additionalProperties: false }) },
  }, async (req) => {
    const q = req.query as { zoneId?: string };
    const paths = q.zoneId ? [authz(ctx, req, 'report.read', q.zoneId)] : visible(req, 'report.read');
    const now = ctx.clock.now();
    const from = localMidnight(now);
    return { at: new Date(now).toISOString(), day: { from: new Date(from).toISOString(), to: new Date(from + DAY_MS).toISOString() }, ...repo.overview(paths, from, from + DAY_MS, now) };
  });

  app.get('/api/v1/reports/kpi', {
    config: { perm: 'report.read' },
    schema: { tags: ['reports'], summary: 'The provincial plan indicators for a zone and period (coverage, converted stations, e-boards, large boards, uptime, plays, emergency delivery); JSON, CSV or XLSX', querystring: KpiQuery },
  }, async (req, reply) => {
    const q = req.query as { zoneId: string; from: string; to: string; format: 'json' | 'csv' | 'xlsx'; lang?: 'vi' | 'en' };
    const zonePath = authz(ctx, req, 'report.read', q.zoneId);
    const from = Date.parse(q.from), to = Date.parse(q.to);
    if (!(to > from)) throw new LoaError('LOA_ERR_SCHEMA', '`to` must be after `from`');
    if (to - from > MAX_KPI_DAYS * DAY_MS) throw new LoaError('LOA_ERR_SCHEMA', `the period may be at most ${MAX_KPI_DAYS} days`);
    const report = kpiReport({
      repo, zoneId: q.zoneId, zonePath, from, to, now: ctx.clock.now(),
      manifestOf: (id) => ctx.data.manifests.get(id)?.body ?? null,
      playsOf: (ids, f, t) => ctx.telemetry.playsBetween(ids, f, t),
    });
    if (q.format === 'json') return report;
    const d = dictionary(langOf(q.lang));
    const labels = { lang: langOf(q.lang), indicators: { coverage: d.kpiCoverage, converted: d.kpiConverted, boards: d.kpiBoards, districtBoards: d.kpiDistrictBoards, uptime: d.kpiUptime, plays: d.kpiPlays } };
    const name = `kpi-${q.zoneId}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}`;
    if (q.format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(kpiCsv(report, labels));
    return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').header('content-disposition', `attachment; filename="${name}.xlsx"`).send(await kpiXlsx(report, labels));
  });

  app.get('/api/v1/devices/:id/telemetry/series', {
    config: { perm: 'device.read' },
    schema: {
      tags: ['devices'], summary: 'Health samples of one device over a period (default: the last 24 h), oldest first, for charts', params: Params,
      querystring: Type.Object({ from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })), limit: Type.Integer({ minimum: 1, maximum: 5000, default: 1000 }) }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as { from?: string; to?: string; limit: number };
    authz(ctx, req, 'device.read', ctx.data.devices.require(id).zoneId);
    const to = q.to ? Date.parse(q.to) : ctx.clock.now();
    const from = q.from ? Date.parse(q.from) : to - DAY_MS;
    if (!(to > from)) throw new LoaError('LOA_ERR_SCHEMA', '`to` must be after `from`');
    const samples = ctx.telemetry.telemetrySeries(id, from, to, q.limit);
    return { deviceId: id, samples: samples.map((s) => ({ ...s.body, at: new Date(s.at).toISOString() })) };
  });
}
