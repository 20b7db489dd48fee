import { Type, type Static } from '@sinclair/typebox';
import { Id, IsoDateTime, Sha256, Signatures } from './common.js';

/** Longest life of an emergency order: an old alert must never be replayable. */
export const EMERGENCY_MAX_TTL_MS = 24 * 3_600_000;
export const EMERGENCY_MAX_BYTES = 64 * 1024;

export const EmergencyMedia = Type.Object(
  {
    kind: Type.Literal('media'),
    sha256: Sha256,
    size: Type.Integer({ minimum: 1 }),
    durationMs: Type.Integer({ minimum: 1 }),
    mime: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false, description: 'A file of the media library' },
);
export const EmergencyTts = Type.Object(
  {
    kind: Type.Literal('tts'),
    /** What is said (shown on boards, kept in reports); the audio was rendered by the controller. */
    text: Type.String({ minLength: 1, maxLength: 5000 }),
    sha256: Sha256,
    size: Type.Integer({ minimum: 1 }),
    durationMs: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false, description: 'Text spoken by the controller TTS, delivered as media' },
);
export const EmergencyLive = Type.Object(
  {
    kind: Type.Literal('live'),
    streamUrl: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
    codec: Type.Union([Type.Literal('opus'), Type.Literal('mp3')]),
  },
  { additionalProperties: false, description: 'A live stream from the controller' },
);
export const EmergencyContent = Type.Union([EmergencyMedia, EmergencyTts, EmergencyLive]);
export type EmergencyContent = Static<typeof EmergencyContent>;

/**
 * An emergency order (DESIGN §2), signed by the emergency role. `start` carries content; `cancel` ends the
 * order `orderId` started. `seq` grows per controller and `nonce` is random: with `expiresAt` (at most 24 h
 * after `issuedAt`) they make every order usable once.
 */
export const EmergencyOrder = Type.Object(
  {
    _type: Type.Literal('emergency'),
    schemaVersion: Type.Literal(1),
    orderId: Id,
    action: Type.Union([Type.Literal('start'), Type.Literal('cancel')]),
    seq: Type.Integer({ minimum: 1 }),
    nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{22,86}$', description: 'At least 128 random bits, base64url' }),
    issuedAt: IsoDateTime,
    expiresAt: IsoDateTime,
    target: Type.Object(
      {
        zones: Type.Array(Id, { maxItems: 1000, default: [] }),
        devices: Type.Array(Id, { maxItems: 10_000, default: [] }),
      },
      { additionalProperties: false },
    ),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    content: Type.Optional(EmergencyContent),
    repeat: Type.Integer({ minimum: 1, maximum: 20, default: 1 }),
    volume: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    /** Start at this time; absent means at once. */
    startAt: Type.Optional(IsoDateTime),
    outputs: Type.Array(Id, { maxItems: 32, default: [], description: 'Output zones of the hardware profile; empty = all' }),
  },
  { additionalProperties: false, title: 'emergency order' },
);
export type EmergencyOrder = Static<typeof EmergencyOrder>;

export const SignedEmergencyOrder = Type.Object({ signed: EmergencyOrder, signatures: Signatures }, { additionalProperties: false, title: 'signed emergency order' });
export type SignedEmergencyOrder = Static<typeof SignedEmergencyOrder>;

/** Device acks, through the outbox: received, started, finished, or failed with a reason. */
export const EmergencyAck = Type.Object(
  {
    orderId: Id,
    seq: Type.Integer({ minimum: 1 }),
    state: Type.Union([Type.Literal('received'), Type.Literal('started'), Type.Literal('finished'), Type.Literal('failed'), Type.Literal('rejected'), Type.Literal('cancelled')]),
    at: IsoDateTime,
    code: Type.Optional(Type.String({ maxLength: 64 })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false, title: 'emergency ack' },
);
export type EmergencyAck = Static<typeof EmergencyAck>;
