import { LoaError } from '../../shared/errors.js';
import { COMMAND_TTL_MS, type CommandType, type DeviceCommand } from '../../shared/schemas/command.js';
import type { CommandRecord } from '../data/commands.js';
import { newId } from '../data/ids.js';
import { iso, newNonce } from '../emergency/signer.js';
import type { AppContext } from '../http/context.js';

/** A request body of POST /api/v1/devices/:id/commands (contract B). */
export type CommandRequest =
  | { type: 'test_tone'; durationS?: number }
  | { type: 'volume'; volume: number }
  | { type: 'relay_check' }
  | { type: 'reboot' };

export interface CommandActor {
  userId: string;
  ip: string | null;
}

/** The API shape of a command (contract B): ISO times, result and error only when there are some. */
export function commandView(c: CommandRecord): Record<string, unknown> {
  return {
    id: c.id, deviceId: c.deviceId, type: c.type, params: c.params, state: c.state, seq: c.seq,
    createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt), expiresAt: iso(c.expiresAt), createdBy: c.createdBy,
    ...(c.result ? { result: c.result } : {}), ...(c.error ? { error: c.error } : {}),
  };
}

function paramsOf(b: CommandRequest): Record<string, number> {
  switch (b.type) {
    case 'test_tone':
      return { durationS: b.durationS ?? 5 };
    case 'volume':
      return { volume: b.volume };
    case 'relay_check':
    case 'reboot':
      return {};
  }
}

/**
 * Device commands (DESIGN §3 `cmd`, contract B): one command, for one device, signed with the schedule key in
 * force, stored and audited in one transaction, then published (QoS 1) on the device's own `cmd` topic, where
 * a persistent session keeps it for a device that is offline. At most one command of a type runs per device.
 * The device's `command.ack` events move it on (telemetry ingest folds them); without a final ack by its
 * expiry (5 min) it is `expired`.
 */
export class CommandService {
  constructor(private readonly ctx: AppContext) {}

  async send(actor: CommandActor, deviceId: string, body: CommandRequest): Promise<CommandRecord> {
    const { ctx } = this;
    const now = ctx.clock.now();
    const device = ctx.data.devices.require(deviceId);
    const audit = (action: string, details: Record<string, unknown>): void =>
      ctx.data.audit.add({ actor: actor.userId, ip: actor.ip, action, targetType: 'device', targetId: deviceId, zoneId: device.zoneId, details }, now);
    if (device.state !== 'active') {
      throw new LoaError('LOA_ERR_COMMAND_DEVICE', `device ${deviceId} is ${device.state}: only an enrolled, live device takes commands`, { details: { state: device.state } });
    }
    const type: CommandType = body.type;
    const params = paramsOf(body);
    const record = ctx.data.tx((): { busy: CommandRecord } | { busy: null; rec: CommandRecord; signedBody: string } => {
      this.expire(now);
      const running = ctx.data.commands.running(deviceId, type, now);
      if (running) {
        audit('command.send_refused', { type, code: 'LOA_ERR_COMMAND_BUSY', running: running.id });
        return { busy: running };
      }
      const cmd = {
        _type: 'command', schemaVersion: 1, commandId: newId('cmd'), deviceId, seq: ctx.data.commands.nextSeq(now), nonce: newNonce(),
        issuedAt: iso(now), expiresAt: iso(now + COMMAND_TTL_MS), type, params,
      } as DeviceCommand;
      const signedBody = ctx.commands.signer().sign(cmd);
      const rec = ctx.data.commands.create({ id: cmd.commandId, deviceId, zoneId: device.zoneId, type, params, seq: cmd.seq, expiresAt: now + COMMAND_TTL_MS, createdBy: actor.userId, signedBody }, now);
      audit('command.send', { commandId: rec.id, type, params, seq: rec.seq });
      return { busy: null, rec, signedBody };
    });
    if (record.busy) {
      throw new LoaError('LOA_ERR_COMMAND_BUSY', `a ${type} command (${record.busy.id}) is still running on ${deviceId}; wait until it is done, failed or expired`, { details: { commandId: record.busy.id, state: record.busy.state } });
    }
    try {
      await ctx.commands.publish(deviceId, record.signedBody);
    } catch (e) {
      // Stored and signed: it stays `sent` and expires unless the device gets it some other way.
      ctx.log.warn({ code: 'LOA_ERR_SYNC_MQTT', commandId: record.rec.id, deviceId, err: (e as Error).message }, 'device command not handed to the broker');
    }
    return record.rec;
  }

  /** Commands past their expiry with no final answer become `expired` (called before every read). */
  expire(now = this.ctx.clock.now()): void {
    this.ctx.data.commands.expireDue(now);
  }
}
