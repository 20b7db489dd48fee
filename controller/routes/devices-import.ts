import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { keyIdOf } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import type { AppContext } from '../http/context.js';
import { IdParam, SafeName } from '../http/schemas.js';
import { audit, authz } from './helpers.js';

const PublicKeyB64 = Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: 'raw Ed25519 public key, base64' });
const ImportBody = Type.Object(
  {
    devices: Type.Array(Type.Object({
      id: IdParam, zoneId: IdParam, name: SafeName(200),
      kind: Type.Union([Type.Literal('speaker'), Type.Literal('board')], { default: 'speaker' }),
      publicKey: PublicKeyB64,
      hardwareProfile: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' })),
    }, { additionalProperties: false }), { minItems: 1, maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
interface ImportBody { devices: { id: string; zoneId: string; name: string; kind: 'speaker' | 'board'; publicKey: string; hardwareProfile?: string }[] }

/**
 * Factory provisioning: receivers whose keys were made before delivery (a vendor's list of device id and public
 * key, or the simulator) are registered and bound in one request, with no token or pairing step. All or nothing:
 * one bad row (out of scope, unknown cluster, a taken id, a revoked or already bound key) refuses the batch.
 */
export function registerDeviceImport(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v1/devices/import', {
    config: { perm: 'device.write' },
    bodyLimit: 4 * 1024 * 1024,
    schema: { tags: ['devices'], summary: 'Register devices with their public keys (factory provisioning), all or nothing', body: ImportBody },
  }, async (req, reply) => {
    const b = req.body as ImportBody;
    const now = ctx.clock.now();
    const zones = new Set(b.devices.map((d) => d.zoneId));
    for (const z of zones) {
      authz(ctx, req, 'device.write', z);
      const zone = ctx.data.zones.require(z);
      if (zone.level !== 'cluster' && zone.level !== 'commune') throw new LoaError('LOA_ERR_ZONE_HIERARCHY', `zone ${z}: a device belongs to a cluster (or directly to a commune)`);
    }
    const ids = new Set<string>();
    const keys = new Set<string>();
    const rows = b.devices.map((d, i) => {
      const keyid = keyIdOf(d.publicKey);
      if (ids.has(d.id) || ctx.data.devices.get(d.id)) throw new LoaError('LOA_ERR_CONFLICT', `row ${i + 1}: device ${d.id} already exists`);
      if (keys.has(keyid) || ctx.data.pairing.deviceWithKey(keyid)) throw new LoaError('LOA_ERR_PAIRING_KEY_IN_USE', `row ${i + 1}: the key of ${d.id} is already bound to a device`);
      if (ctx.data.devices.isKeyRevoked(keyid)) throw new LoaError('LOA_ERR_PAIRING_KEY_REVOKED', `row ${i + 1}: the key of ${d.id} has been revoked`);
      ids.add(d.id);
      keys.add(keyid);
      return { ...d, keyid };
    });
    ctx.data.tx(() => {
      for (const d of rows) {
        ctx.data.devices.create({ id: d.id, zoneId: d.zoneId, name: d.name, kind: d.kind }, now);
        ctx.data.devices.bindKey(d.id, { publicKey: d.publicKey, keyid: d.keyid, hardwareProfile: d.hardwareProfile ?? null }, now);
      }
      audit(ctx, req, { action: 'device.import', targetType: 'device', targetId: rows.length === 1 ? rows[0]!.id : `${rows.length} devices`, zoneId: rows[0]!.zoneId, details: { count: rows.length, zones: [...zones].slice(0, 50), first: rows[0]!.id } });
    });
    ctx.compiler.markDirty(rows.map((d) => d.id));
    return reply.code(201).send({ imported: rows.length });
  });
}
