import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { newId } from '../data/ids.js';
import type { AppContext } from '../http/context.js';
import { IdParam, SafeName } from '../http/schemas.js';
import { DEVICE_FORMAT } from '../media/transcode.js';
import { MAX_TTS_CHARS } from '../tts/provider.js';
import { audit, authz } from './helpers.js';

/** Spoken text: any characters but control characters (new lines and tabs are fine). */
const SPOKEN_TEXT = '^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$';

/**
 * Text to speech into the media library (issue 9, for Node-RED bulletins): the controller's TTS engine speaks
 * the text (normalised Vietnamese, cached by text and voice) and the audio is stored like an upload (Ogg Opus,
 * loudness-normalised), as a media item of the zone that programs and schedules can use.
 */
export function registerTts(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v1/media/tts', {
    config: { perm: 'media.write', rateLimit: { max: 60, timeWindow: 60_000 } },
    schema: {
      tags: ['media'], summary: 'Speak a text (controller TTS) into a new media item of the zone',
      body: Type.Object({
        zoneId: IdParam,
        title: SafeName(200),
        text: Type.String({ minLength: 1, maxLength: MAX_TTS_CHARS, pattern: SPOKEN_TEXT, description: 'Vietnamese text' }),
        voice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+_.:-]{1,64}$' })),
      }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const b = req.body as { zoneId: string; title: string; text: string; voice?: string };
    authz(ctx, req, 'media.write', b.zoneId);
    const r = await ctx.tts.speak(b.text, b.voice ? { voice: b.voice } : {});
    const media = ctx.data.tx(() => {
      const m = ctx.data.media.create({
        id: newId('med'), sha256: r.sha256, size: r.size, durationMs: r.durationMs, mime: DEVICE_FORMAT.mime, title: b.title, originalName: null,
        sourceSha256: null, loudnessLufs: null, zoneId: b.zoneId, createdBy: req.user!.id,
      }, ctx.clock.now());
      audit(ctx, req, { action: 'media.create', targetType: 'media', targetId: m.id, zoneId: b.zoneId, details: { sha256: r.sha256, title: b.title, tts: { provider: r.provider, voice: r.voice, chars: r.spokenText.length, cached: r.cached } } });
      return m;
    });
    return reply.code(201).send({ media, spokenText: r.spokenText, cached: r.cached });
  });
}
