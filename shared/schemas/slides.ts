import { Type, type Static } from '@sinclair/typebox';
import { IsoDateTime, Sha256 } from './common.js';

/**
 * Slides for LED/LCD public boards (issue 8): program items a board shows for `durationMs`, in program order,
 * through the same signed manifest and scheduler as audio. A receiver without a display role skips them.
 */
const HHMM = Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'Local wall time HH:MM (Asia/Ho_Chi_Minh)' });

/** A time window of the day (dayparting). `to` before `from` wraps past midnight; `days` are ISO weekdays (1 = Monday). */
export const Daypart = Type.Object(
  {
    from: HHMM,
    to: HHMM,
    days: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: 'ISO weekdays, 1 = Monday; absent = every day' })),
  },
  { additionalProperties: false, title: 'daypart', description: 'The slide is shown only inside this window (local time)' },
);
export type Daypart = Static<typeof Daypart>;

const common = {
  durationMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, description: 'How long the slide stays on screen, ms' }),
  dayparts: Type.Optional(Type.Array(Daypart, { minItems: 1, maxItems: 8, description: 'Shown only inside one of these windows; absent = always' })),
};

export const TextSlide = Type.Object(
  {
    kind: Type.Literal('text'),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    body: Type.String({ minLength: 1, maxLength: 2000, description: 'The bulletin: auto-fitted to the board, Vietnamese typography' }),
    ticker: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'A line scrolling along the bottom' })),
    ...common,
  },
  { additionalProperties: false, title: 'text slide' },
);
export const ImageSlide = Type.Object(
  { kind: Type.Literal('image'), sha256: Sha256, fit: Type.Optional(Type.Union([Type.Literal('contain'), Type.Literal('cover')], { default: 'contain' })), ...common },
  { additionalProperties: false, title: 'image slide' },
);
export const VideoSlide = Type.Object(
  { kind: Type.Literal('video'), sha256: Sha256, muted: Type.Optional(Type.Boolean({ default: true })), ...common },
  { additionalProperties: false, title: 'video slide', description: 'A local video file (from the media store), looped for the slide duration' },
);
export const ClockSlide = Type.Object(
  { kind: Type.Literal('clock'), label: Type.Optional(Type.String({ maxLength: 200 })), ...common },
  { additionalProperties: false, title: 'clock slide' },
);
export const WidgetSlide = Type.Object(
  {
    kind: Type.Literal('widget'),
    title: Type.String({ minLength: 1, maxLength: 200, description: 'e.g. Thời tiết hôm nay' }),
    rows: Type.Array(Type.Object({ label: Type.String({ maxLength: 100 }), value: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 12 }),
    source: Type.Optional(Type.String({ maxLength: 200, description: 'Where the figures come from, shown small' })),
    updatedAt: Type.Optional(IsoDateTime),
    ...common,
  },
  { additionalProperties: false, title: 'data widget', description: 'Weather or other figures fed by the controller (signed with the manifest)' },
);

export const SLIDE_KINDS = ['text', 'image', 'video', 'clock', 'widget'] as const;
export type SlideKind = (typeof SLIDE_KINDS)[number];
export const SlideItem = Type.Union([TextSlide, ImageSlide, VideoSlide, ClockSlide, WidgetSlide]);
export type SlideItem = Static<typeof SlideItem>;

export function isSlide(item: { kind: string }): item is SlideItem {
  return (SLIDE_KINDS as readonly string[]).includes(item.kind);
}

/** The media file a slide shows, if any. */
export function slideMedia(item: SlideItem): string | null {
  return item.kind === 'image' || item.kind === 'video' ? item.sha256 : null;
}
