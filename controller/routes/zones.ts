import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { LoaError } from '../../shared/errors.js';
import { ZONE_LEVELS, type ZoneLevel } from '../data/zones.js';
import type { AppContext } from '../http/context.js';
import { IdParam, Params, SafeName, SAFE_TEXT_PATTERN } from '../http/schemas.js';
import { audit, authz, visible } from './helpers.js';
import { userOf } from '../http/context.js';
import { authorize } from '../auth/policy.js';

const Level = Type.Union(ZONE_LEVELS.map((l) => Type.Literal(l)));
const ZoneBody = Type.Object(
  {
    id: IdParam,
    parentId: Type.Union([IdParam, Type.Null()]),
    level: Level,
    code: Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9._-]+$', description: 'Administrative code' }),
    name: SafeName(200, 'Vietnamese name, e.g. Xã Tân Lập'),
  },
  { additionalProperties: false },
);
const CSV_COLUMNS = ['id', 'parent_id', 'level', 'code', 'name'] as const;
const SAFE = new RegExp(SAFE_TEXT_PATTERN, 'u');
const MAX_CSV_ROWS = 50_000;

/** Zones: the province › district › commune › cluster tree, with CSV import and export. */
export function registerZones(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/v1/zones', { config: { perm: 'zone.read' }, schema: { tags: ['zones'], summary: 'Zones you can see, in tree order' } },
    async (req) => ({ zones: ctx.data.zones.list(visible(req, 'zone.read')) }));

  app.get('/api/v1/zones/:id', { config: { perm: 'zone.read' }, schema: { tags: ['zones'], params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    authz(ctx, req, 'zone.read', id);
    return { zone: ctx.data.zones.require(id) };
  });

  app.post('/api/v1/zones', { config: { perm: 'zone.write' }, schema: { tags: ['zones'], summary: 'Create a zone under a parent you administer', body: ZoneBody } }, async (req, reply) => {
    const b = req.body as { id: string; parentId: string | null; level: ZoneLevel; code: string; name: string };
    if (b.parentId === null) throw new LoaError('LOA_ERR_FORBIDDEN', 'provinces are created with `loa controller admin create` or by a CSV import');
    authz(ctx, req, 'zone.write', b.parentId);
    const zone = ctx.data.tx(() => {
      const z = ctx.data.zones.create(b, ctx.clock.now());
      audit(ctx, req, { action: 'zone.create', targetType: 'zone', targetId: z.id, zoneId: z.id, details: { ...b } });
      return z;
    });
    return reply.code(201).send({ zone });
  });

  app.patch('/api/v1/zones/:id', {
    config: { perm: 'zone.write' },
    schema: {
      tags: ['zones'], params: Params, summary: 'Rename a zone; for a commune, record its legacy wired/FM stations and how many were converted (KPI reports)',
      body: Type.Object({
        name: Type.Optional(SafeName()), code: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9._-]+$' })),
        legacyStations: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()], { description: 'Wired/FM stations the commune had (null: not recorded)' })),
        convertedStations: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()], { description: 'Of those, converted to IT-based receivers' })),
      }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    authz(ctx, req, 'zone.write', id);
    return { zone: ctx.data.tx(() => {
      const z = ctx.data.zones.rename(id, req.body as { name?: string; code?: string; legacyStations?: number | null; convertedStations?: number | null }, ctx.clock.now());
      audit(ctx, req, { action: 'zone.update', targetType: 'zone', targetId: id, zoneId: id, details: req.body as Record<string, unknown> });
      return z;
    }) };
  });

  app.delete('/api/v1/zones/:id', { config: { perm: 'zone.write' }, schema: { tags: ['zones'], params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    authz(ctx, req, 'zone.write', id);
    ctx.data.tx(() => {
      ctx.data.zones.delete(id);
      audit(ctx, req, { action: 'zone.delete', targetType: 'zone', targetId: id, zoneId: id });
    });
    return { ok: true };
  });

  app.get('/api/v1/zones/export', { config: { perm: 'zone.read' }, schema: { tags: ['zones'], summary: 'CSV of the zones you can see (id, parent_id, level, code, name)' } }, async (req, reply) => {
    const rows = ctx.data.zones.list(visible(req, 'zone.read')).map((z) => [z.id, z.parentId ?? '', z.level, z.code, z.name]);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="zones.csv"').send(stringifyCsv([[...CSV_COLUMNS], ...rows]));
  });

  app.post('/api/v1/zones/import', {
    config: { perm: 'zone.write' },
    schema: { tags: ['zones'], summary: 'Import zones from CSV (text/csv): id, parent_id, level, code, name. All rows or none.' },
  }, async (req, reply) => {
    if (typeof req.body !== 'string') throw new LoaError('LOA_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the CSV as text/csv');
    let records: Record<string, string>[];
    try {
      records = parseCsv<Record<string, string>>(req.body, { columns: true, skip_empty_lines: true, trim: true, bom: true, to: MAX_CSV_ROWS + 1 });
    } catch (e) {
      throw new LoaError('LOA_ERR_CSV_INVALID', `the CSV cannot be read: ${(e as Error).message}`, { cause: e });
    }
    if (records.length > MAX_CSV_ROWS) throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `at most ${MAX_CSV_ROWS} rows per import`);
    const user = userOf(req);
    const created = ctx.data.tx(() => {
      const out: string[] = [];
      records.forEach((r, i) => {
        const line = i + 2;
        const bad = (why: string): never => { throw new LoaError('LOA_ERR_CSV_INVALID', `line ${line}: ${why}`, { details: { line } }); };
        for (const c of CSV_COLUMNS) if (typeof r[c] !== 'string') bad(`column ${c} is missing (columns: ${CSV_COLUMNS.join(', ')})`);
        const id = r.id!, parentId = r.parent_id || null, level = r.level as ZoneLevel, code = r.code!, name = r.name!;
        if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) bad(`id "${id.slice(0, 40)}" may hold only letters, digits and . _ : -`);
        if (!ZONE_LEVELS.includes(level)) bad(`level must be one of ${ZONE_LEVELS.join(', ')}`);
        if (!/^[A-Za-z0-9._-]{1,40}$/.test(code)) bad('code may hold only letters, digits and . _ -');
        if (!name || name.length > 200 || !SAFE.test(name)) bad('name is empty, too long or holds characters that are not allowed');
        const existing = ctx.data.zones.get(id);
        if (existing) {
          authorize(user, 'zone.write', existing.path);
          if (existing.parentId !== parentId || existing.level !== level) bad(`zone ${id} exists under another parent or level`);
          ctx.data.zones.rename(id, { name, code }, ctx.clock.now());
          return;
        }
        if (parentId) authorize(user, 'zone.write', ctx.data.zones.require(parentId).path);
        else bad('a new province (no parent_id) is created with `loa controller admin create`, not by import');
        ctx.data.zones.create({ id, parentId, level, code, name }, ctx.clock.now());
        out.push(id);
      });
      audit(ctx, req, { action: 'zone.import', targetType: 'zone', details: { rows: records.length, created: out.length } });
      return out;
    });
    return reply.code(200).send({ rows: records.length, created: created.length, updated: records.length - created.length });
  });
}
