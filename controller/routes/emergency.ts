import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EmergencyStatus } from '../data/emergency.js';
import { EmergencyService, type Actor } from '../emergency/service.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, Limit, Params, SafeName } from '../http/schemas.js';
import { authz, visible } from './helpers.js';

export { CONFIRM_TTL_MS } from '../emergency/service.js';
/** Text that is spoken and shown on boards: any characters but control characters (new lines and tabs are fine). */
const SPOKEN_TEXT = '^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$';

const Targets = {
  zones: Type.Array(IdParam, { maxItems: 1000, description: 'Target zones: every live device in their subtrees' }),
  devices: Type.Optional(Type.Array(IdParam, { maxItems: 1000, description: 'Explicit target devices' })),
};
const PreviewBody = Type.Object(Targets, { additionalProperties: false });
const SendBody = Type.Object(
  {
    title: SafeName(200, 'Shown in reports and on boards'),
    ...Targets,
    content: Type.Union([
      Type.Object({ kind: Type.Literal('media'), mediaId: IdParam }, { additionalProperties: false, description: 'A file of the media library' }),
      Type.Object({
        kind: Type.Literal('tts'),
        text: Type.String({ minLength: 1, maxLength: 5000, pattern: SPOKEN_TEXT, description: 'Vietnamese text, spoken by the controller TTS' }),
        voice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+_.:-]{1,64}$' })),
      }, { additionalProperties: false, description: 'Text to speech' }),
    ]),
    repeat: Type.Integer({ minimum: 1, maximum: 20, default: 1 }),
    volume: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    startAt: Type.Optional(Type.String({ format: 'date-time', description: 'Start at this time (before the order expires); default at once' })),
    ttlMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'The order expires this long after it is signed (at most 24 h)' }),
    confirm: Type.String({ minLength: 1, maxLength: 300, description: 'The target zone\'s name (when there is exactly one zone), or the code from POST /api/v1/emergency/preview' }),
  },
  { additionalProperties: false },
);
interface SendBody {
  title: string; zones: string[]; devices?: string[]; content: { kind: 'media'; mediaId: string } | { kind: 'tts'; text: string; voice?: string };
  repeat: number; volume?: number; startAt?: string; ttlMinutes: number; confirm: string;
}

const STATUSES: EmergencyStatus[] = ['pending_approval', 'active', 'cancelled', 'expired'];

/** The signed-in user and the client address, as the emergency service audits them. */
export const actorOf = (req: FastifyRequest): Actor => ({ user: userOf(req), ip: req.ip });

/**
 * Emergency orders (issue 6, DESIGN §2): preview with a confirmation code, send (or hold for a second
 * person's approval), approve, cancel, and live progress from the devices' acks. The send path lives in
 * controller/emergency/service.ts (shared with CAP ingestion): each order is signed once with the emergency key
 * and the same bytes go to every targeted device's own MQTT topic. Every step and every refusal is in the audit log.
 */
export function registerEmergency(app: FastifyInstance, ctx: AppContext): void {
  const repo = ctx.data.emergency;
  const service = new EmergencyService(ctx);

  app.post('/api/v1/emergency/preview', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], body: PreviewBody,
      summary: 'Where an emergency order would go: the devices it reaches, the zones with their full names, and a 6-digit confirmation code (5 minutes, for this user and these targets)',
    },
  }, async (req) => service.preview(actorOf(req), req.body as { zones: string[]; devices?: string[] }));

  app.post('/api/v1/emergency', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], body: SendBody,
      summary: 'Send an emergency order: signed once, published to every targeted device (201); held for a second person\'s approval when it touches an approval zone (202)',
    },
  }, async (req, reply) => {
    const { confirm, ttlMinutes, ...b } = req.body as SendBody;
    const r = await service.send(actorOf(req), { ...b, ttlMs: ttlMinutes * 60_000 }, { confirmation: { by: 'typed', text: confirm } });
    ctx.events.progressChanged(r.order.id); // the live event stream (issue 9)
    if (r.approvalRequired) return reply.code(202).send({ order: r.order, approvalRequired: true, published: 0 });
    return reply.code(201).send({ order: r.order, approvalRequired: false, published: r.published, progress: r.progress });
  });

  app.post('/api/v1/emergency/:id/approve', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], params: Params, body: Type.Optional(Type.Object({}, { additionalProperties: false })),
      summary: 'Approve an order held by the two-person rule: another user than its author, with emergency.send over its targets; it is signed and sent now',
    },
  }, async (req) => {
    const id = (req.params as { id: string }).id;
    const r = await service.approve(actorOf(req), id);
    ctx.events.progressChanged(id);
    return r;
  });

  app.post('/api/v1/emergency/:id/cancel', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['emergency'], params: Params, body: Type.Optional(Type.Object({}, { additionalProperties: false })),
      summary: 'Cancel an order: a signed cancel (new seq and nonce, same order id and targets) goes to the devices the order went to; a pending order is simply dropped',
    },
  }, async (req) => {
    const id = (req.params as { id: string }).id;
    const r = await service.cancel(actorOf(req), id);
    ctx.events.progressChanged(id);
    return r;
  });

  app.get('/api/v1/emergency', {
    config: { perm: 'emergency.read' },
    schema: {
      tags: ['emergency'], summary: 'Emergency orders whose zone you can see, newest first',
      querystring: Type.Object({ status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))), limit: Limit }, { additionalProperties: false }),
    },
  }, async (req) => {
    const q = req.query as { status?: EmergencyStatus; limit: number };
    repo.expireDue(ctx.clock.now());
    return { orders: repo.list(visible(req, 'emergency.read'), q.limit, q.status) };
  });

  app.get('/api/v1/emergency/:id', {
    config: { perm: 'emergency.read' },
    schema: {
      tags: ['emergency'], params: Params,
      summary: 'An order with live progress (targeted, received, started, finished, failed, rejected, cancelled, offline, pending); ?devices=1 adds a row per device',
      querystring: Type.Object({
        devices: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')])),
        limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'Device rows per page' }),
        after: Type.Optional(IdParam),
      }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as { devices?: string; limit: number; after?: string };
    repo.expireDue(ctx.clock.now());
    const order = repo.require(id);
    authz(ctx, req, 'emergency.read', order.zoneId);
    const progress = repo.progress(id);
    if (q.devices !== '1' && q.devices !== 'true') return { order, progress };
    const devices = repo.deviceRows(id, q.limit, q.after);
    return { order, progress, devices, next: devices.length === q.limit ? devices[devices.length - 1]!.deviceId : null };
  });
}
