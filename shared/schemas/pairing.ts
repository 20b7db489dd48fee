import { Type, type Static } from '@sinclair/typebox';
import { PAIRING_ALPHABET } from '../pairing.js';
import { Id, IsoDateTime } from './common.js';
import { EnrollResponse } from './telemetry.js';

// Text a device reports about itself: shown to technicians, so no control characters and no markup.
const Text = (maxLength: number) => Type.String({ maxLength, pattern: '^[^\\x00-\\x1f\\x7f<>"\'`\\\\]*$' });

/** What an unpaired device says about its hardware, so that the technician can tell it apart from others. */
export const HardwareSummary = Type.Object(
  {
    model: Type.Optional(Text(100)),
    serial: Type.Optional(Text(64)),
    mac: Type.Optional(Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$', description: 'First non-internal network interface' })),
    hostname: Type.Optional(Text(64)),
    arch: Type.Optional(Text(20)),
    platform: Type.Optional(Text(20)),
    os: Type.Optional(Text(100)),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    memMb: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
  },
  { additionalProperties: false, title: 'hardware summary' },
);
export type HardwareSummary = Static<typeof HardwareSummary>;

/** POST /api/v1/pairing: an unpaired device asks for a pairing code, proving that it holds the key. */
export const PairingRequest = Type.Object(
  {
    publicKey: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'Raw Ed25519 public key, base64' }),
    hardwareProfile: Type.Optional(Type.String({ maxLength: 100, pattern: '^[A-Za-z0-9._:-]*$' })),
    agentVersion: Type.Optional(Type.String({ maxLength: 40, pattern: '^[A-Za-z0-9._+-]*$' })),
    hardware: Type.Optional(HardwareSummary),
    proof: Type.Object(
      {
        at: Type.Integer({ minimum: 0, description: 'Device time, ms since epoch; within ±5 min of the controller' }),
        sig: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$', description: 'Ed25519 signature of pairingProofMessage(request without proof, at), base64' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'pairing request' },
);
export type PairingRequest = Static<typeof PairingRequest>;

export const PairingCode = Type.String({ pattern: `^[${PAIRING_ALPHABET}]{4}-[${PAIRING_ALPHABET}]{4}$`, description: 'XXXX-XXXX' });

export const PairingTicketResponse = Type.Object(
  {
    pairingId: Id,
    code: PairingCode,
    expiresAt: IsoDateTime,
    pollAfterMs: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false, title: 'pairing ticket' },
);
export type PairingTicketResponse = Static<typeof PairingTicketResponse>;

export const PairingState = Type.Union([Type.Literal('pending'), Type.Literal('paired'), Type.Literal('expired'), Type.Literal('locked')]);
export type PairingState = Static<typeof PairingState>;

/** GET /api/v1/pairing/:pairingId: the state; once paired, exactly what enrollment returns. */
export const PairingStatus = Type.Object(
  {
    state: PairingState,
    expiresAt: Type.Optional(IsoDateTime),
    pollAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
    enrollment: Type.Optional(EnrollResponse),
  },
  { additionalProperties: false, title: 'pairing status' },
);
export type PairingStatus = Static<typeof PairingStatus>;
