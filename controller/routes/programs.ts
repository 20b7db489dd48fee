import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { ClockSlide, Daypart, TextSlide, WidgetSlide } from '../../shared/schemas/slides.js';
import { authorize } from '../auth/policy.js';
import { newId } from '../data/ids.js';
import type { ProgramItemInput } from '../data/programs.js';
import { STATES, type ApprovalState } from '../data/workflow.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, Limit, Params, SafeName } from '../http/schemas.js';
import { audit, authz, visible } from './helpers.js';
import { registerWorkflow } from './workflow.js';

const Item = Type.Union([
  Type.Object({ kind: Type.Literal('media'), mediaId: IdParam }, { additionalProperties: false }),
  Type.Object({
    kind: Type.Literal('stream'), url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'HTTP or Icecast stream to relay (tiếp sóng)' }),
    durationMs: Type.Integer({ minimum: 1000, maximum: 24 * 3600 * 1000 }), title: Type.Optional(SafeName(200)),
  }, { additionalProperties: false }),
]);
const SlideTime = {
  dayparts: Type.Optional(Type.Array(Daypart, { minItems: 1, maxItems: 8, description: 'Shown only inside one of these windows; absent = always' })),
};
const DurationMs = Type.Integer({ minimum: 1000, maximum: 3_600_000, description: 'How long the slide stays on screen, ms' });
/** A picture of the media library on a board; compiled into an `image` slide with the file's sha256. */
const ImageSlideInput = Type.Object({
  kind: Type.Literal('image'), mediaId: IdParam, fit: Type.Optional(Type.Union([Type.Literal('contain'), Type.Literal('cover')])), durationMs: DurationMs, ...SlideTime,
}, { additionalProperties: false, title: 'image slide (by media id)' });
/** A video of the media library; without durationMs it stays for the video's own duration. */
const VideoSlideInput = Type.Object({
  kind: Type.Literal('video'), mediaId: IdParam, muted: Type.Optional(Type.Boolean()), durationMs: Type.Optional(DurationMs), ...SlideTime,
}, { additionalProperties: false, title: 'video slide (by media id)' });
/** Slides for boards (issue 8): text, clock and widget as the manifest carries them; image and video by media id. */
const SlideInput = Type.Union([TextSlide, ClockSlide, WidgetSlide, ImageSlideInput, VideoSlideInput]);
const Items = Type.Array(Type.Union([Item, SlideInput]), { minItems: 1, maxItems: 500 });
export const StatusQuery = Type.Object({ status: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)))), limit: Limit }, { additionalProperties: false });

/** Devices reached by the schedules that use a program. */
export function devicesOfProgram(ctx: AppContext, programId: string): string[] {
  const out = new Set<string>();
  for (const sid of ctx.data.schedules.idsUsingProgram(programId)) {
    const s = ctx.data.schedules.require(sid);
    for (const d of ctx.data.manifests.devicesOfTargets(s.targets.zones, s.targets.devices)) out.add(d);
  }
  return [...out];
}

/** Programs: ordered lists of stored media and stream relays, under the approval workflow. */
export function registerPrograms(app: FastifyInstance, ctx: AppContext): void {
  const checkItems = (req: FastifyRequest, items: ProgramItemInput[]): void => {
    for (const [index, it] of items.entries()) {
      if (it.kind !== 'media' && it.kind !== 'image' && it.kind !== 'video') continue;
      const m = ctx.data.media.get(it.mediaId);
      if (!m) throw new LoaError('LOA_ERR_NOT_FOUND', `media ${it.mediaId} does not exist`, { details: { mediaId: it.mediaId } });
      authorize(userOf(req), 'media.read', ctx.data.zones.require(m.zoneId).path);
      // An audio item plays audio; an image slide shows a picture; a video slide a video (issue 8).
      const want = it.kind === 'media' ? 'audio' : it.kind;
      if (m.kind !== want) {
        throw new LoaError('LOA_ERR_MEDIA_KIND_MISMATCH', `item ${index} (${it.kind}) needs ${want} media, but media ${m.id} is ${m.kind}`, { details: { index, mediaId: m.id, kind: m.kind, expected: want } });
      }
    }
  };

  app.get('/api/v1/programs', { config: { perm: 'program.read' }, schema: { tags: ['programs'], querystring: StatusQuery } }, async (req) => {
    const q = req.query as { status?: ApprovalState; limit: number };
    return { programs: ctx.data.programs.list(visible(req, 'program.read'), q.status, q.limit) };
  });

  app.get('/api/v1/programs/:id', { config: { perm: 'program.read' }, schema: { tags: ['programs'], params: Params } }, async (req) => {
    const p = ctx.data.programs.require((req.params as { id: string }).id);
    authz(ctx, req, 'program.read', p.zoneId);
    return { program: p };
  });

  app.post('/api/v1/programs', {
    config: { perm: 'program.write' },
    schema: { tags: ['programs'], summary: 'Create a program (starts as a draft)', body: Type.Object({ zoneId: IdParam, title: SafeName(300), items: Items }, { additionalProperties: false }) },
  }, async (req, reply) => {
    const b = req.body as { zoneId: string; title: string; items: ProgramItemInput[] };
    authz(ctx, req, 'program.write', b.zoneId);
    checkItems(req, b.items);
    const program = ctx.data.tx(() => {
      const p = ctx.data.programs.create({ id: newId('prg'), zoneId: b.zoneId, title: b.title, items: b.items, createdBy: req.user!.id }, ctx.clock.now());
      audit(ctx, req, { action: 'program.create', targetType: 'program', targetId: p.id, zoneId: p.zoneId, details: { title: b.title, items: b.items.length } });
      return p;
    });
    return reply.code(201).send({ program });
  });

  app.patch('/api/v1/programs/:id', {
    config: { perm: 'program.write' },
    schema: { tags: ['programs'], summary: 'Edit a draft or rejected program (reopen an approved one first)', params: Params, body: Type.Object({ title: Type.Optional(SafeName(300)), items: Type.Optional(Items) }, { additionalProperties: false }) },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const b = req.body as { title?: string; items?: ProgramItemInput[] };
    const p = ctx.data.programs.require(id);
    authz(ctx, req, 'program.write', p.zoneId);
    if (p.status !== 'draft' && p.status !== 'rejected') throw new LoaError('LOA_ERR_WORKFLOW_STATE', `a ${p.status} program cannot be edited; reopen it first`, { details: { state: p.status } });
    if (b.items) checkItems(req, b.items);
    return { program: ctx.data.tx(() => {
      const out = ctx.data.programs.update(id, b, ctx.clock.now());
      audit(ctx, req, { action: 'program.update', targetType: 'program', targetId: id, zoneId: p.zoneId, details: { title: b.title, items: b.items?.length } });
      return out;
    }) };
  });

  app.delete('/api/v1/programs/:id', { config: { perm: 'program.write' }, schema: { tags: ['programs'], params: Params } }, async (req) => {
    const { id } = req.params as { id: string };
    const p = ctx.data.programs.require(id);
    authz(ctx, req, 'program.write', p.zoneId);
    ctx.data.tx(() => {
      ctx.data.programs.delete(id);
      audit(ctx, req, { action: 'program.delete', targetType: 'program', targetId: id, zoneId: p.zoneId });
    });
    return { ok: true };
  });

  registerWorkflow(app, ctx, '/api/v1/programs', {
    kind: 'program',
    load: (id) => ctx.data.programs.require(id),
    save: (id, status, by, now) => ctx.data.programs.setStatus(id, status, by, now),
    affected: (id) => devicesOfProgram(ctx, id),
  });
}
