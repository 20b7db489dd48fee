import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { authorize, can } from '../auth/policy.js';
import { EmergencyService, type Actor } from '../emergency/service.js';
import { identify } from '../http/auth.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, SafeName } from '../http/schemas.js';
import { CODEC_FORMAT } from '../live/encoder.js';
import { LiveManager, type LiveEntry } from '../live/manager.js';
import { LIVE_PAGE } from '../live/page.js';
import { audit, visible } from './helpers.js';

const SessionParams = Type.Object({ id: Type.String({ pattern: '^liv-[A-Za-z0-9_-]{1,64}$' }) }, { additionalProperties: false });
const StartBody = Type.Object({
  title: SafeName(200, 'Shown in reports and on boards'),
  zones: Type.Array(IdParam, { maxItems: 1000, description: 'Target zones: every live device in their subtrees' }),
  devices: Type.Optional(Type.Array(IdParam, { maxItems: 1000, description: 'Explicit target devices' })),
  codec: Type.Union([Type.Literal('opus'), Type.Literal('mp3')], { default: 'opus', description: 'Ogg Opus 32 kb/s (default) or MP3 64 kb/s' }),
  volume: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  ttlMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'The order (and the broadcast) ends at the latest this long after it is signed' }),
  confirm: Type.String({ minLength: 1, maxLength: 300, description: 'The target zone\'s name (when there is exactly one zone), or the code from POST /api/v1/emergency/preview' }),
}, { additionalProperties: false });
interface StartBody { title: string; zones: string[]; devices?: string[]; codec: 'opus' | 'mp3'; volume?: number; ttlMinutes: number; confirm: string }
/** An SDP offer is a few KiB; 64 KiB is plenty. */
const OfferBody = Type.Object({ sdp: Type.String({ minLength: 10, maxLength: 65_536 }) }, { additionalProperties: false });

const actorOf = (req: FastifyRequest): Actor => ({ user: userOf(req), ip: req.ip });

/**
 * Live microphone broadcasts (issue 6): POST /api/v1/live makes a session and its emergency order, the
 * operator's browser connects its microphone with POST …/offer (WebRTC), devices and listeners read the
 * encoded stream at GET /live/:id.ogg|mp3, and …/end (or cancelling the order) stops it. The page /live does
 * the browser side.
 */
export function registerLive(app: FastifyInstance, ctx: AppContext): void {
  const service = new EmergencyService(ctx);
  const live = new LiveManager({
    service, orderOf: (id) => ctx.data.emergency.get(id), baseUrl: () => ctx.urls.http().replace(/\/$/, ''), log: ctx.log.child({ module: 'live' }),
  });
  app.addHook('onClose', async () => live.close());

  /** emergency.send over the session's order zone (403 otherwise). */
  const guard = (req: FastifyRequest, e: LiveEntry, perm: 'emergency.send' | 'emergency.read'): void => {
    authorize(userOf(req), perm, ctx.data.zones.require(e.zoneId).path);
  };
  const find = (req: FastifyRequest, perm: 'emergency.send' | 'emergency.read'): LiveEntry => {
    visible(req, perm);
    const e = live.require((req.params as { id: string }).id);
    guard(req, e, perm);
    return e;
  };
  const status = (id: string, e: LiveEntry): Record<string, unknown> => ({
    sessionId: id, orderId: e.orderId, state: e.session.state, endReason: e.session.endReason, codec: e.session.o.codec,
    listeners: e.session.fanout.size, units: e.session.fanout.units, bytes: e.session.fanout.bytes, droppedListeners: e.session.fanout.dropped,
    pcmFrames: e.session.pcmFrames, firstAudioAt: e.session.firstAudioAt, firstEncodedAt: e.session.fanout.firstUnitAt,
  });

  app.post('/api/v1/live', {
    config: { perm: 'emergency.send' },
    schema: {
      tags: ['live'], body: StartBody,
      summary: 'Start a live broadcast: a session waiting for the microphone, and an emergency order {kind: live} sent through the emergency send path (scope, confirmation, signing, fan-out, audit)',
    },
  }, async (req, reply) => {
    const b = req.body as StartBody;
    const r = await live.start(actorOf(req), { title: b.title, zones: b.zones, ...(b.devices ? { devices: b.devices } : {}), codec: b.codec, ttlMs: b.ttlMinutes * 60_000, ...(b.volume !== undefined ? { volume: b.volume } : {}), confirm: b.confirm });
    return reply.code(r.send.approvalRequired ? 202 : 201).send({ sessionId: r.sessionId, ...r.send });
  });

  app.post('/api/v1/live/:id/offer', {
    config: { perm: 'emergency.send' },
    schema: { tags: ['live'], params: SessionParams, body: OfferBody, summary: 'The operator\'s WebRTC offer (audio only, ICE gathered); answers with the controller\'s SDP, ICE gathered too' },
  }, async (req) => {
    const e = find(req, 'emergency.send');
    const sdp = await e.session.answer((req.body as { sdp: string }).sdp);
    ctx.data.tx(() => audit(ctx, req, { action: 'live.connect', targetType: 'emergency', targetId: e.orderId, zoneId: e.zoneId, details: { session: e.session.o.id } }));
    return { type: 'answer', sdp };
  });

  app.post('/api/v1/live/:id/end', {
    config: { perm: 'emergency.send' },
    schema: { tags: ['live'], params: SessionParams, body: Type.Optional(Type.Object({}, { additionalProperties: false })), summary: 'End the broadcast: the microphone, the encoder and the listeners stop, and the order is cancelled (signed cancel)' },
  }, async (req) => {
    const e = find(req, 'emergency.send');
    const id = e.session.o.id;
    ctx.data.tx(() => audit(ctx, req, { action: 'live.end', targetType: 'emergency', targetId: e.orderId, zoneId: e.zoneId, details: { session: id, bytes: e.session.fanout.bytes } }));
    const r = await live.end(id, actorOf(req));
    return { ...status(id, e), order: r.order };
  });

  app.get('/api/v1/live/:id', {
    config: { perm: 'emergency.read' },
    schema: { tags: ['live'], params: SessionParams, summary: 'A live session: state, listeners, bytes encoded, when the first audio arrived and was encoded' },
  }, async (req) => {
    const e = find(req, 'emergency.read');
    return status(e.session.o.id, e);
  });

  // The stream. Devices show the key of the stream URL their signed order carries (as HTTP Basic auth, from the
  // URL's credentials: the agent's stream reader sends no device token); a device token of a targeted device, or a user with emergency.read, also listens.
  app.get('/live/:stream', {
    config: { auth: 'public' },
    schema: {
      tags: ['live'], summary: 'The encoded live stream (Ogg Opus or MP3), from a recent page or frame; for the order\'s devices (stream key or device token) and users with emergency.read',
      params: Type.Object({ stream: Type.String({ pattern: '^liv-[A-Za-z0-9_-]{1,64}\\.(ogg|mp3)$' }) }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const { stream } = req.params as { stream: string };
    const [id, ext] = stream.split('.') as [string, string];
    const e = live.get(id);
    if (!e || e.session.state === 'ended' || CODEC_FORMAT[e.session.o.codec].ext !== ext) throw new LoaError('LOA_ERR_NOT_FOUND', 'no such live stream (it may have ended)');
    const basic = /^Basic ([A-Za-z0-9+/=]{1,200})$/.exec(req.headers.authorization ?? '');
    const key = basic ? /^live:(.+)$/.exec(Buffer.from(basic[1]!, 'base64').toString('utf8'))?.[1] : undefined;
    let who: string;
    if (key !== undefined && live.keyMatches(e, key)) who = 'stream key';
    else {
      const caller = identify(ctx, req);
      if (caller.deviceId && ctx.data.emergency.targetIds(e.orderId).includes(caller.deviceId)) who = `device:${caller.deviceId}`;
      else if (caller.user && can(caller.user, 'emergency.read', ctx.data.zones.require(e.zoneId).path)) who = caller.user.id;
      else throw new LoaError(caller.user || caller.deviceId ? 'LOA_ERR_FORBIDDEN' : 'LOA_ERR_UNAUTHENTICATED', 'this stream is for the devices of its order and for users who may read emergency orders');
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': CODEC_FORMAT[e.session.o.codec].mime, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    if (!e.session.fanout.add(res, `${who}@${req.ip}`)) res.end();
    else ctx.log.info({ session: id, listener: who, ip: req.ip, listeners: e.session.fanout.size }, 'live listener joined');
  });

  app.get('/live', { config: { auth: 'public' }, schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'").send(LIVE_PAGE));
}
