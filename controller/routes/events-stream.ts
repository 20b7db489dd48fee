import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam } from '../http/schemas.js';
import { STREAM_EVENTS, type HubEvent, type StreamEventName } from '../telemetry/hub.js';
import { authz, visible } from './helpers.js';

/** Open streams one user may hold at once (browser tabs, a Node-RED instance …). */
export const MAX_STREAMS_PER_USER = 5;
/**
 * A slow client: its unsent data stays above MAX_STREAM_BUFFER_BYTES for SLOW_CLIENT_MS without the socket
 * draining, or passes HARD_STREAM_BUFFER_BYTES at any moment. Its stream is closed (it reconnects with
 * Last-Event-less retry), never buffered on without bound. A healthy client may fall behind for a moment: one
 * ingest flush during a 2,000-device emergency fan-out writes thousands of ack events at once (issue 10 soak).
 */
export const MAX_STREAM_BUFFER_BYTES = 256 * 1024;
export const SLOW_CLIENT_MS = 10_000;
export const HARD_STREAM_BUFFER_BYTES = 16 * 1024 * 1024;
export const PING_EVERY_MS = 15_000;

const Query = Type.Object({
  types: Type.Optional(Type.String({ pattern: `^(${STREAM_EVENTS.map((e) => e.replace('.', '\\.')).join('|')})(,(${STREAM_EVENTS.map((e) => e.replace('.', '\\.')).join('|')}))*$`, description: `Comma list of: ${STREAM_EVENTS.join(', ')} (default all)` })),
  zone: Type.Optional(IdParam),
}, { additionalProperties: false });

/**
 * The live event stream (contract A): Server-Sent Events of device statuses, stored device events (proof-of-play,
 * acks, errors) and emergency progress, only for devices (and orders) inside the caller's device.read scopes, or
 * one zone's subtree with `?zone=`. A `: ping` comment every 15 s keeps proxies from closing it. A slow client is
 * closed (see SLOW_CLIENT_MS); each user holds at most MAX_STREAMS_PER_USER streams.
 */
export function registerEventsStream(app: FastifyInstance, ctx: AppContext): void {
  const open = new Map<string, number>();

  app.get('/api/v1/events/stream', {
    config: { perm: 'device.read' },
    schema: {
      tags: ['devices'], querystring: Query, produces: ['text/event-stream'],
      summary: 'Server-Sent Events: device.status, device.event and emergency.progress for the devices in your zones (or one zone with ?zone=)',
    },
  }, async (req, reply) => {
    const user = userOf(req);
    const q = req.query as { types?: string; zone?: string };
    const scopes = q.zone ? [authz(ctx, req, 'device.read', q.zone)] : visible(req, 'device.read');
    const types = new Set<StreamEventName>(q.types ? (q.types.split(',') as StreamEventName[]) : STREAM_EVENTS);
    const mine = open.get(user.id) ?? 0;
    if (mine >= MAX_STREAMS_PER_USER) throw new LoaError('LOA_ERR_STREAM_LIMIT', `${user.username} already holds ${mine} open event streams (at most ${MAX_STREAMS_PER_USER})`);
    open.set(user.id, mine + 1);

    const raw = reply.raw;
    void reply.hijack();
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(': loaphuong event stream\nretry: 3000\n\n');

    let closed = false;
    let behindSince: number | null = null;
    raw.on('drain', () => { behindSince = null; });
    const inScope = (path: string): boolean => scopes.some((s) => path.startsWith(s));
    const write = (chunk: string): void => {
      if (closed) return;
      const buffered = raw.writableLength;
      if (buffered > MAX_STREAM_BUFFER_BYTES) {
        const now = ctx.clock.now();
        behindSince ??= now;
        if (buffered > HARD_STREAM_BUFFER_BYTES || now - behindSince > SLOW_CLIENT_MS) {
          ctx.log.warn({ user: user.id, buffered, behindMs: now - behindSince }, 'event stream client too slow; closing its stream');
          end();
          return;
        }
      }
      raw.write(chunk);
    };
    const unsubscribe = ctx.events.subscribe({
      send: (e: HubEvent) => {
        if (types.has(e.event) && inScope(e.zonePath)) write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      },
      close: () => end(),
    });
    const ping = setInterval(() => write(': ping\n\n'), PING_EVERY_MS);
    ping.unref();
    function end(): void {
      if (closed) return;
      closed = true;
      clearInterval(ping);
      unsubscribe();
      const n = (open.get(user.id) ?? 1) - 1;
      if (n <= 0) open.delete(user.id);
      else open.set(user.id, n);
      if (!raw.destroyed) raw.destroy();
    }
    req.raw.once('close', end);
    raw.once('close', end);
    raw.once('error', end);
  });
}
