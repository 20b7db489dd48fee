import { AgentUpdate } from './release.js';
import { Type, type Static } from '@sinclair/typebox';
import { Id, IsoDateTime, Sha256, Signatures } from './common.js';
import { ClockSlide, ImageSlide, TextSlide, VideoSlide, WidgetSlide } from './slides.js';

/** MIC levels for IP radio (Thông tư 39/2020/TT-BTTTT); `live` is internal and sits between priority and emergency. */
export const PriorityLevel = Type.Union([Type.Literal('normal'), Type.Literal('priority'), Type.Literal('emergency')], {
  title: 'priority', description: 'normal (thông thường), priority (ưu tiên) or emergency (khẩn cấp)', default: 'normal',
});
export type PriorityLevel = Static<typeof PriorityLevel> | 'live';
/** Internal preemption order: emergency > live > priority > normal. */
export const PRIORITY_RANK: Record<PriorityLevel, number> = { normal: 1, priority: 2, live: 3, emergency: 4 };

export const MediaEntry = Type.Object(
  {
    sha256: Sha256,
    size: Type.Integer({ minimum: 1, maximum: 2_000_000_000, description: 'Size in bytes' }),
    durationMs: Type.Integer({ minimum: 1, maximum: 24 * 3600 * 1000, description: 'Playing time in ms' }),
    url: Type.Optional(Type.String({ maxLength: 2048, description: 'Where the controller serves it (content-addressed)' })),
    mime: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false, title: 'media entry' },
);
export type MediaEntry = Static<typeof MediaEntry>;

export const MediaItem = Type.Object({ kind: Type.Literal('media'), sha256: Sha256 }, { additionalProperties: false });
/** A relay ("tiếp sóng") of an HTTP or Icecast stream for a fixed time window. */
export const StreamItem = Type.Object(
  {
    kind: Type.Literal('stream'),
    url: Type.String({ pattern: '^https?://', maxLength: 2048, description: 'HTTP or Icecast stream URL' }),
    durationMs: Type.Integer({ minimum: 1000, maximum: 24 * 3600 * 1000 }),
    title: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
/** Audio (media, stream) and, for boards, slides (shared/schemas/slides.ts). */
export const ProgramItem = Type.Union([MediaItem, StreamItem, TextSlide, ImageSlide, VideoSlide, ClockSlide, WidgetSlide]);
export type ProgramItem = Static<typeof ProgramItem>;

export const Program = Type.Object(
  {
    id: Id,
    title: Type.String({ maxLength: 300 }),
    items: Type.Array(ProgramItem, { minItems: 1, maxItems: 500 }),
  },
  { additionalProperties: false, title: 'program' },
);
export type Program = Static<typeof Program>;

export const ScheduleEntry = Type.Object(
  {
    id: Id,
    programId: Id,
    dtstart: Type.String({
      pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2})?$',
      description: 'First occurrence, local wall time in the manifest time zone (no offset)',
    }),
    rrule: Type.Optional(Type.String({ maxLength: 500, pattern: '^(RRULE:)?FREQ=', description: 'RFC 5545 RRULE, e.g. FREQ=DAILY;BYHOUR=6,17' })),
    validFrom: Type.Optional(IsoDateTime),
    validUntil: Type.Optional(IsoDateTime),
    priority: PriorityLevel,
    volume: Type.Integer({ minimum: 0, maximum: 100, default: 80, description: 'Volume in percent' }),
    outputs: Type.Array(Id, { maxItems: 32, default: [], description: 'Output zones of the hardware profile; empty = all' }),
    onPreempt: Type.Union([Type.Literal('resume'), Type.Literal('restart'), Type.Literal('skip')], {
      default: 'resume', description: 'What happens to this item after a higher priority item interrupts it',
    }),
    maxDelayMs: Type.Integer({
      minimum: 0, maximum: 24 * 3600 * 1000, default: 1_800_000,
      description: 'How late a delayed or preempted occurrence may still start or resume',
    }),
  },
  { additionalProperties: false, title: 'schedule entry' },
);
export type ScheduleEntry = Static<typeof ScheduleEntry>;

export const Manifest = Type.Object(
  {
    _type: Type.Literal('manifest'),
    schemaVersion: Type.Literal(1),
    deviceId: Id,
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    issuedAt: IsoDateTime,
    expiresAt: IsoDateTime,
    timezone: Type.Literal('Asia/Ho_Chi_Minh', { default: 'Asia/Ho_Chi_Minh' }),
    media: Type.Array(MediaEntry, { maxItems: 5000 }),
    programs: Type.Array(Program, { maxItems: 2000 }),
    schedule: Type.Array(ScheduleEntry, { maxItems: 5000 }),
    zones: Type.Optional(Type.Array(Id, { maxItems: 8, description: 'The device zone chain, province first: which zone-addressed emergency orders are for it' })),
    agentUpdate: Type.Optional(AgentUpdate),
  },
  { additionalProperties: false, title: 'manifest' },
);
export type Manifest = Static<typeof Manifest>;

export const SignedManifest = Type.Object({ signed: Manifest, signatures: Signatures }, { additionalProperties: false, title: 'signed manifest' });
export type SignedManifest = Static<typeof SignedManifest>;

/** Manifests larger than this are refused before parsing. */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
