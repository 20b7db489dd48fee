import { Type } from '@sinclair/typebox';

export const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', title: 'sha256', description: 'Lower-case hex SHA-256 of the content' });
export const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', title: 'identifier', description: 'Letters, digits and . _ : - (at most 128)' });
export const IsoDateTime = Type.String({ format: 'date-time', title: 'date-time', description: 'RFC 3339 date and time, with offset' });
export const KeyId = Type.String({ pattern: '^[0-9a-f]{64}$', title: 'key id', description: 'SHA-256 of the raw Ed25519 public key, hex' });
export const Signature = Type.Object(
  { keyid: KeyId, sig: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$', description: 'Ed25519 signature, base64' }) },
  { additionalProperties: false },
);
export const Signatures = Type.Array(Signature, { minItems: 1, maxItems: 16 });
