import { Type, type Static } from '@sinclair/typebox';
import { Id } from './common.js';
import { RootMetadata } from './root.js';
import { Signatures } from './common.js';

/** `…/up/status`, retained; the broker publishes the offline form as the device's last will (LWT). */
export const DeviceStatus = Type.Object(
  {
    online: Type.Boolean(),
    at: Type.Integer({ minimum: 0, description: 'Device wall-clock time, ms since epoch' }),
    manifestVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    agentVersion: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false, title: 'device status' },
);
export type DeviceStatus = Static<typeof DeviceStatus>;

/** `…/up/telemetry`: health figures. Every figure is optional, since receivers differ. */
export const DeviceTelemetry = Type.Object(
  {
    at: Type.Integer({ minimum: 0 }),
    manifestVersion: Type.Integer({ minimum: 0 }),
    stale: Type.Boolean({ description: 'Playing an expired manifest within the offline grace period' }),
    uptimeS: Type.Optional(Type.Number({ minimum: 0 })),
    cpuLoad: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })),
    tempC: Type.Optional(Type.Number({ minimum: -50, maximum: 150 })),
    diskFreeMb: Type.Optional(Type.Number({ minimum: 0 })),
    memFreeMb: Type.Optional(Type.Number({ minimum: 0 })),
    rssiDbm: Type.Optional(Type.Number({ minimum: -150, maximum: 0 })),
    ampCurrentMa: Type.Optional(Type.Number({ minimum: 0, maximum: 100000 })),
    outbox: Type.Optional(Type.Integer({ minimum: 0, description: 'Events waiting to be sent' })),
    nowPlaying: Type.Optional(Type.Union([Type.String({ maxLength: 300 }), Type.Null()])),
  },
  { additionalProperties: false, title: 'device telemetry' },
);
export type DeviceTelemetry = Static<typeof DeviceTelemetry>;

/** `…/notify`: a hint only. The device fetches the manifest over HTTPS and verifies its signature. */
export const Notify = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    at: Type.Integer({ minimum: 0 }),
    rootVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'Newest trust root version the controller serves (a device behind fetches /api/v1/trust/root/{v+1}…)' })),
  },
  { additionalProperties: false, title: 'notify' },
);
export type Notify = Static<typeof Notify>;

/**
 * `…/dev/{id}/ack` (controller → device, QoS1): these event seqs are committed in the controller's database.
 * Ranges are inclusive [from, to]; the device keeps an event pending (and sends it again) until an ack covers it.
 */
export const EventsAck = Type.Object(
  {
    ranges: Type.Array(Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })]), { minItems: 1, maxItems: 1000 }),
    at: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false, title: 'events ack' },
);
export type EventsAck = Static<typeof EventsAck>;

/** Sorted, merged inclusive ranges of a set of seqs. */
export function seqRanges(seqs: Iterable<number>): [number, number][] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** POST /api/v1/enroll: binds a device's public key to a device record, with a one-time token. */
export const EnrollRequest = Type.Object(
  {
    token: Type.String({ minLength: 16, maxLength: 200, description: 'One-time enrollment token' }),
    publicKey: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'Raw Ed25519 public key, base64' }),
    hardwareProfile: Type.Optional(Type.String({ maxLength: 100 })),
    agentVersion: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false, title: 'enroll request' },
);
export type EnrollRequest = Static<typeof EnrollRequest>;

export const EnrollResponse = Type.Object(
  {
    deviceId: Id,
    zoneId: Id,
    root: Type.Object({ signed: RootMetadata, signatures: Signatures }),
    controllerUrl: Type.String(),
    mqttUrl: Type.String(),
  },
  { additionalProperties: false, title: 'enroll response' },
);
export type EnrollResponse = Static<typeof EnrollResponse>;
