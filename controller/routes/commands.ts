import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { CommandService, commandView, type CommandRequest } from '../commands/service.js';
import { userOf, type AppContext } from '../http/context.js';
import { IdParam, Params } from '../http/schemas.js';
import { authz } from './helpers.js';

const CommandBody = Type.Union([
  Type.Object({ type: Type.Literal('test_tone'), durationS: Type.Optional(Type.Integer({ minimum: 1, maximum: 30, default: 5, description: 'Seconds of 1 kHz tone' })) }, { additionalProperties: false, description: 'A 1 kHz tone through the loudspeakers, relays on' }),
  Type.Object({ type: Type.Literal('volume'), volume: Type.Integer({ minimum: 0, maximum: 100, description: 'Device volume level, %' }) }, { additionalProperties: false, description: 'Set the device volume (applies to every later play but emergencies)' }),
  Type.Object({ type: Type.Literal('relay_check') }, { additionalProperties: false, description: 'Each free relay channel on, then off, read back where the board can' }),
  Type.Object({ type: Type.Literal('reboot') }, { additionalProperties: false, description: 'Restart the agent service (not the machine)' }),
]);

/**
 * Device commands (issue 7, contract B): `POST /api/v1/devices/:id/commands` signs one command for one device
 * with the schedule key and publishes it on the device's `cmd` topic (202, even when the device is offline: its
 * persistent session delivers it, or it expires); the device's acks move it on. device.write (admin,
 * technician) in the device's zone to send, device.read to read. Sending, and a refusal for a command still
 * running, are audited.
 */
export function registerCommands(app: FastifyInstance, ctx: AppContext): void {
  const service = new CommandService(ctx);

  app.post('/api/v1/devices/:id/commands', {
    config: { perm: 'device.write' },
    schema: {
      tags: ['devices'], params: Params, body: CommandBody,
      summary: 'Send a signed command to one device: test_tone, volume, relay_check or reboot (202; at most one running per device and type, else 409 LOA_ERR_COMMAND_BUSY)',
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const d = ctx.data.devices.require(id);
    authz(ctx, req, 'device.write', d.zoneId);
    const command = await service.send({ userId: userOf(req).id, ip: req.ip }, id, req.body as CommandRequest);
    return reply.code(202).send({ command: commandView(command) });
  });

  app.get('/api/v1/devices/:id/commands', {
    config: { perm: 'device.read' },
    schema: {
      tags: ['devices'], params: Params, summary: 'A device\'s commands, newest first',
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const { limit } = req.query as { limit: number };
    authz(ctx, req, 'device.read', ctx.data.devices.require(id).zoneId);
    service.expire();
    return { commands: ctx.data.commands.list(id, limit).map(commandView) };
  });

  app.get('/api/v1/devices/:id/commands/:commandId', {
    config: { perm: 'device.read' },
    schema: { tags: ['devices'], params: Type.Object({ id: IdParam, commandId: IdParam }, { additionalProperties: false }), summary: 'One command, with its state, result or error' },
  }, async (req) => {
    const { id, commandId } = req.params as { id: string; commandId: string };
    authz(ctx, req, 'device.read', ctx.data.devices.require(id).zoneId);
    service.expire();
    const c = ctx.data.commands.get(commandId);
    if (!c || c.deviceId !== id) throw new LoaError('LOA_ERR_NOT_FOUND', `no command ${commandId} for device ${id}`);
    return { command: commandView(c) };
  });
}
