import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import type { AppContext } from '../http/context.js';
import { Params } from '../http/schemas.js';
import { audit, authz } from './helpers.js';

/**
 * The end of a device's life (issue 5). Revocation (`POST /api/v1/devices/:id/revoke`, in devices.ts) refuses
 * the key at once; replacement hardware is paired with `POST /api/v1/pairing/claim {replaceDeviceId}`;
 * decommissioning retires the device for good while its history (plays, events, audit) stays.
 */
export function registerLifecycle(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/v1/devices/:id/decommission', {
    config: { perm: 'device.write' },
    schema: { tags: ['devices'], summary: 'Retire a device for good: its key is refused, it gets no more manifests, its history stays', params: Params },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.write', d.zoneId);
    if (d.state === 'decommissioned') throw new LoaError('LOA_ERR_DEVICE_DECOMMISSIONED', `device ${id} was decommissioned already`);
    const now = ctx.clock.now();
    ctx.data.tx(() => {
      ctx.data.devices.retireKey(id, 'decommission', now);
      ctx.data.pairing.decommission(id, now);
      audit(ctx, req, { action: 'device.decommission', targetType: 'device', targetId: id, zoneId: d.zoneId, details: { keyid: d.keyid, previousState: d.state } });
    });
    ctx.disconnectDevice(id);
    const { publicKey: _pk, ...device } = ctx.data.devices.require(id);
    return { device };
  });
}
