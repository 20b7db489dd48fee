import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { authorize } from '../auth/policy.js';
import { newId } from '../data/ids.js';
import type { ScheduleInput, ScheduleRecord } from '../data/schedules.js';
import type { ApprovalState } from '../data/workflow.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, LocalDate, Params, SafeName } from '../http/schemas.js';
import { buildContent } from '../manifests/compiler.js';
import { previewDay, previewZone } from '../schedules/preview.js';
import { audit, authz, visible } from './helpers.js';
import { StatusQuery } from './programs.js';
import { registerWorkflow } from './workflow.js';
import { checkSchedule } from './schedule-checks.js';

const ScheduleBody = Type.Object(
  {
    zoneId: IdParam,
    programId: IdParam,
    title: SafeName(300),
    dtstart: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2})?$', description: 'First occurrence, local wall time in Asia/Ho_Chi_Minh (no offset)' }),
    rrule: Type.Optional(Type.String({ maxLength: 500, description: 'RFC 5545 RRULE, e.g. FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0. Must end (UNTIL/COUNT or validUntil).' })),
    validFrom: Type.Optional(Type.String({ format: 'date-time' })),
    validUntil: Type.Optional(Type.String({ format: 'date-time' })),
    priority: Type.Union([Type.Literal('normal'), Type.Literal('priority'), Type.Literal('emergency')], { default: 'normal' }),
    volume: Type.Integer({ minimum: 0, maximum: 100, default: 80 }),
    outputs: Type.Array(IdParam, { maxItems: 32, default: [] }),
    onPreempt: Type.Union([Type.Literal('resume'), Type.Literal('restart'), Type.Literal('skip')], { default: 'resume' }),
    maxDelayMs: Type.Integer({ minimum: 0, maximum: 24 * 3_600_000, default: 1_800_000 }),
    targets: Type.Object({ zones: Type.Array(IdParam, { maxItems: 1000, default: [] }), devices: Type.Array(IdParam, { maxItems: 10000, default: [] }) }, { additionalProperties: false }),
    confirmNightHours: Type.Optional(Type.Boolean({ description: 'Required when the schedule plays between 22:00 and 05:00' })),
  },
  { additionalProperties: false },
);
type Body = {
  zoneId: string; programId: string; title: string; dtstart: string; rrule?: string; validFrom?: string; validUntil?: string; priority: ScheduleRecord['priority'];
  volume: number; outputs: string[]; onPreempt: ScheduleRecord['onPreempt']; maxDelayMs: number; targets: { zones: string[]; devices: string[] }; confirmNightHours?: boolean;
};

/** Schedules: when a program plays where, under the approval workflow; with checks against unbounded, too frequent and night-time rules. */
export function registerSchedules(app: FastifyInstance, ctx: AppContext): void {
  const affected = (s: { targets: { zones: string[]; devices: string[] } }): string[] => ctx.data.manifests.devicesOfTargets(s.targets.zones, s.targets.devices);

  /** Checks a body against the zone tree, the program, the targets and the recurrence rules; returns the record input. */
  const prepare = (req: FastifyRequest, b: Body, id: string): { input: ScheduleInput; warnings: unknown[] } => {
    const path = authz(ctx, req, 'schedule.write', b.zoneId);
    const program = ctx.data.programs.require(b.programId);
    authorize(userOf(req), 'program.read', ctx.data.zones.require(program.zoneId).path);
    if (b.targets.zones.length + b.targets.devices.length === 0) throw new LoaError('LOA_ERR_SCHEMA', 'give at least one target zone or device');
    for (const z of b.targets.zones) {
      if (!ctx.data.zones.require(z).path.startsWith(path)) throw new LoaError('LOA_ERR_FORBIDDEN', `target zone ${z} is outside the schedule's zone ${b.zoneId}`);
    }
    for (const d of b.targets.devices) {
      const dev = ctx.data.devices.require(d);
      if (!ctx.data.zones.require(dev.zoneId).path.startsWith(path)) throw new LoaError('LOA_ERR_FORBIDDEN', `target device ${d} is outside the schedule's zone ${b.zoneId}`);
    }
    const validFrom = b.validFrom ? Date.parse(b.validFrom) : null;
    const validUntil = b.validUntil ? Date.parse(b.validUntil) : null;
    const rrule = b.rrule?.replace(/^RRULE:/i, '') ?? null;
    const warnings = checkSchedule(ctx, { dtstart: b.dtstart, rrule, validFrom, validUntil, programId: b.programId, confirmNightHours: b.confirmNightHours ?? false });
    return {
      input: {
        id, zoneId: b.zoneId, programId: b.programId, title: b.title, dtstart: b.dtstart.length === 16 ? `${b.dtstart}:00` : b.dtstart, rrule, validFrom, validUntil,
        priority: b.priority, volume: b.volume, outputs: b.outputs, onPreempt: b.onPreempt, maxDelayMs: b.maxDelayMs, nightConfirmed: b.confirmNightHours ?? false,
        createdBy: req.user!.id, targets: b.targets,
      },
      warnings,
    };
  };

  app.get('/api/v1/schedules', { config: { perm: 'schedule.read' }, schema: { tags: ['schedules'], querystring: StatusQuery } }, async (req) => {
    const q = req.query as { status?: ApprovalState; limit: number };
    return { schedules: ctx.data.schedules.list(visible(req, 'schedule.read'), q.status, q.limit) };
  });

  app.get('/api/v1/schedules/:id', { config: { perm: 'schedule.read' }, schema: { tags: ['schedules'], params: Params } }, async (req) => {
    const s = ctx.data.schedules.require((req.params as { id: string }).id);
    authz(ctx, req, 'schedule.read', s.zoneId);
    return { schedule: s };
  });

  app.post('/api/v1/schedules', {
    config: { perm: 'schedule.write' },
    schema: { tags: ['schedules'], summary: 'Create a schedule (draft). Night-time rules (22:00–05:00) need confirmNightHours: true.', body: ScheduleBody },
  }, async (req, reply) => {
    const { input, warnings } = prepare(req, req.body as Body, newId('sch'));
    const schedule = ctx.data.tx(() => {
      const s = ctx.data.schedules.create(input, ctx.clock.now());
      audit(ctx, req, { action: 'schedule.create', targetType: 'schedule', targetId: s.id, zoneId: s.zoneId, details: { ...(req.body as Body) } });
      return s;
    });
    return reply.code(201).send({ schedule, warnings });
  });

  app.put('/api/v1/schedules/:id', {
    config: { perm: 'schedule.write' },
    schema: { tags: ['schedules'], summary: 'Replace a draft or rejected schedule (reopen an approved one first)', params: Params, body: ScheduleBody },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const cur = ctx.data.schedules.require(id);
    authz(ctx, req, 'schedule.write', cur.zoneId);
    if (cur.status !== 'draft' && cur.status !== 'rejected') throw new LoaError('LOA_ERR_WORKFLOW_STATE', `a ${cur.status} schedule cannot be edited; reopen it first`, { details: { state: cur.status } });
    const { input, warnings } = prepare(req, req.body as Body, id);
    const schedule = ctx.data.tx(() => {
      const s = ctx.data.schedules.update(id, input, ctx.clock.now());
      audit(ctx, req, { action: 'schedule.update', targetType: 'schedule', targetId: id, zoneId: s.zoneId, details: { ...(req.body as Body) } });
      return s;
    });
    return { schedule, warnings };
  });

  app.delete('/api/v1/schedules/:id', { config: { perm: 'schedule.write' }, schema: { tags: ['schedules'], params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    const s = ctx.data.schedules.require(id);
    authz(ctx, req, 'schedule.write', s.zoneId);
    const devices = affected(s);
    ctx.data.tx(() => {
      ctx.data.schedules.delete(id);
      audit(ctx, req, { action: 'schedule.delete', targetType: 'schedule', targetId: id, zoneId: s.zoneId });
    });
    if (s.status === 'approved') ctx.compiler.markDirty(devices);
    return { ok: true };
  });

  app.get('/api/v1/preview', {
    config: { perm: 'schedule.read' },
    schema: {
      tags: ['schedules'], summary: 'What a device (or every device of a zone) will play on a local day, with conflicts and night-hour warnings; approved schedules only',
      querystring: Type.Object({ deviceId: Type.Optional(IdParam), zoneId: Type.Optional(IdParam), date: LocalDate }, { additionalProperties: false }),
    },
  }, async (req) => {
    const q = req.query as { deviceId?: string; zoneId?: string; date: string };
    if (!q.deviceId === !q.zoneId) throw new LoaError('LOA_ERR_SCHEMA', 'give exactly one of deviceId and zoneId');
    if (q.deviceId) {
      const d = ctx.data.devices.require(q.deviceId);
      authz(ctx, req, 'schedule.read', d.zoneId);
      const content = buildContent(d.id, ctx.data.manifests.snapshot([d.id]));
      return { plan: previewDay({ deviceId: d.id, ...content! }, q.date) };
    }
    const path = authz(ctx, req, 'schedule.read', q.zoneId!);
    const ids = ctx.data.devices.list({ zonePath: path, limit: 2000 }).map((d) => d.id);
    const snap = ctx.data.manifests.snapshot(ids);
    const manifests = new Map(ids.map((id) => [id, { deviceId: id, ...buildContent(id, snap)! }]));
    return { plan: previewZone(manifests, q.date) };
  });

  registerWorkflow(app, ctx, '/api/v1/schedules', {
    kind: 'schedule',
    load: (id) => ctx.data.schedules.require(id),
    save: (id, status, by, now) => ctx.data.schedules.setStatus(id, status, by, now),
    beforeApprove: (id) => {
      const s = ctx.data.schedules.require(id);
      if (ctx.data.programs.require(s.programId).status !== 'approved') throw new LoaError('LOA_ERR_PROGRAM_NOT_APPROVED', `approve program ${s.programId} first`);
      checkSchedule(ctx, { dtstart: s.dtstart, rrule: s.rrule, validFrom: s.validFrom, validUntil: s.validUntil, programId: s.programId, confirmNightHours: s.nightConfirmed });
    },
    affected: (id) => affected(ctx.data.schedules.require(id)),
  });
}
