import { Type, type Static } from '@sinclair/typebox';
import { Id, IsoDateTime, Signatures } from './common.js';

/** Longest life of a signed device command: a command that could not be delivered in time must not run later. */
export const COMMAND_MAX_TTL_MS = 15 * 60_000;
/** The lifetime the controller gives a command (DESIGN §3: short, so an old command is never obeyed). */
export const COMMAND_TTL_MS = 5 * 60_000;
export const COMMAND_MAX_BYTES = 8 * 1024;
export const COMMAND_TYPES = ['test_tone', 'volume', 'relay_check', 'reboot'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

const common = {
  _type: Type.Literal('command'),
  schemaVersion: Type.Literal(1),
  commandId: Id,
  /** The one device this command is for: any other device refuses it. */
  deviceId: Id,
  seq: Type.Integer({ minimum: 1, description: 'Grows per controller; a device refuses a seq not above the last it accepted' }),
  nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{22,86}$', description: 'At least 128 random bits, base64url' }),
  issuedAt: IsoDateTime,
  expiresAt: IsoDateTime,
};
const noParams = Type.Object({}, { additionalProperties: false });

export const TestToneParams = Type.Object(
  { durationS: Type.Integer({ minimum: 1, maximum: 30, default: 5, description: 'Length of the 1 kHz tone, seconds' }) },
  { additionalProperties: false },
);
export const VolumeParams = Type.Object(
  { volume: Type.Integer({ minimum: 0, maximum: 100, description: 'Device volume level, % (applied to every later play but emergencies)' }) },
  { additionalProperties: false },
);

/**
 * A signed device command (DESIGN §3 `cmd`): canonical JSON (RFC 8785) with a detached signature by the
 * root's **schedule** role, bound to one device, short-lived, with a nonce and a per-controller seq so it is
 * obeyed at most once.
 */
export const DeviceCommand = Type.Union([
  Type.Object({ ...common, type: Type.Literal('test_tone'), params: TestToneParams }, { additionalProperties: false }),
  Type.Object({ ...common, type: Type.Literal('volume'), params: VolumeParams }, { additionalProperties: false }),
  Type.Object({ ...common, type: Type.Literal('relay_check'), params: noParams }, { additionalProperties: false }),
  Type.Object({ ...common, type: Type.Literal('reboot'), params: noParams }, { additionalProperties: false }),
], { title: 'device command' });
export type DeviceCommand = Static<typeof DeviceCommand>;

export const SignedDeviceCommand = Type.Object({ signed: DeviceCommand, signatures: Signatures }, { additionalProperties: false, title: 'signed device command' });
export type SignedDeviceCommand = Static<typeof SignedDeviceCommand>;

export const COMMAND_ACK_STATES = ['received', 'done', 'failed', 'rejected'] as const;

/** Device acks (`command.ack` events, through the durable outbox). */
export const CommandAck = Type.Object(
  {
    commandId: Id,
    seq: Type.Integer({ minimum: 1 }),
    state: Type.Union(COMMAND_ACK_STATES.map((s) => Type.Literal(s))),
    at: IsoDateTime,
    /** done (and a failed relay check): what the device found. */
    result: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    code: Type.Optional(Type.String({ maxLength: 64 })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false, title: 'command ack' },
);
export type CommandAck = Static<typeof CommandAck>;

/** Relay check result, one row per relay channel. */
export interface RelayCheckRow {
  channel: number;
  /** The profile's output zones that use this channel. */
  outputs: string[];
  status: 'ok' | 'failed' | 'skipped';
  /** True when the board reported its state back (Modbus, GPIO); false for boards that cannot (LCUS). */
  readBack: boolean;
  detail: string;
  code?: string;
}
