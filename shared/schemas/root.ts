import { Type, type Static } from '@sinclair/typebox';
import { IsoDateTime, KeyId, Signatures } from './common.js';

export const RoleName = Type.Union([Type.Literal('root'), Type.Literal('schedule'), Type.Literal('emergency'), Type.Literal('release')]);
export type RoleName = Static<typeof RoleName>;

export const PublicKey = Type.Object(
  { keytype: Type.Literal('ed25519'), public: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'raw public key, base64' }) },
  { additionalProperties: false },
);
export const Role = Type.Object(
  {
    keyids: Type.Array(KeyId, { minItems: 1, maxItems: 16, uniqueItems: true }),
    threshold: Type.Integer({ minimum: 1, maximum: 16 }),
    zones: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000, description: 'Zone scope (emergency role)' })),
  },
  { additionalProperties: false },
);
/** TUF-style root metadata: which online keys may sign what, with k-of-n thresholds. */
export const RootMetadata = Type.Object(
  {
    _type: Type.Literal('root'),
    version: Type.Integer({ minimum: 1 }),
    expires: IsoDateTime,
    keys: Type.Record(KeyId, PublicKey),
    roles: Type.Object({ root: Role, schedule: Role, emergency: Role, release: Type.Optional(Role) }, { additionalProperties: false }),
    revokedKeys: Type.Array(KeyId, { default: [], maxItems: 1000 }),
    revokedDevices: Type.Array(Type.String({ maxLength: 128 }), { default: [], maxItems: 100000 }),
  },
  { additionalProperties: false, title: 'root metadata' },
);
export type RootMetadata = Static<typeof RootMetadata>;
export const SignedRoot = Type.Object({ signed: RootMetadata, signatures: Signatures }, { additionalProperties: false });
export type SignedRoot = Static<typeof SignedRoot>;
