import { Type, type Static } from '@sinclair/typebox';
import { Id } from './common.js';

/** Types of device events (proof-of-play, acks, faults). Each goes through the durable outbox. */
export const EVENT_TYPES = [
  'agent.start', 'agent.stop',
  'play.start', 'play.end', 'play.skip',
  'manifest.accepted', 'manifest.rejected', 'manifest.stale',
  'media.rejected',
  'relay.fault', 'relay.recovered',
  'audio.fault', 'stream.gap',
  'store.recovered', 'clock.step',
  'emergency.ack',
  'command.ack',
  // issue 8: proof-of-display (a slide or alert the board page confirmed) and display faults (coded)
  'display.show', 'display.fault',
  // issue 11: agent self-update progress (data: shared/schemas/release.ts UpdateStateData)
  'update.state',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DeviceEvent = Type.Object(
  {
    deviceId: Id,
    seq: Type.Integer({ minimum: 1, description: 'Per-device sequence number' }),
    key: Type.String({ maxLength: 300, description: 'Idempotency key: deviceId + seq' }),
    type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
    at: Type.Integer({ minimum: 0, description: 'Device wall-clock time, ms since epoch' }),
    data: Type.Record(Type.String(), Type.Unknown()),
    after: Type.Optional(Type.Integer({ minimum: 1, description: 'The seq of the device\'s previous event while the controller has not acknowledged it: the controller stores this event only once that one is stored (issue 10: per-device order across crashes)' })),
  },
  { additionalProperties: false, title: 'device event' },
);
export type DeviceEvent = Static<typeof DeviceEvent>;

export const PlayEndStatus = Type.Union([
  Type.Literal('completed'), Type.Literal('preempted'), Type.Literal('interrupted'), Type.Literal('failed'), Type.Literal('stopped'),
  Type.Literal('cancelled'),
]);
export type PlayEndStatus = Static<typeof PlayEndStatus>;
