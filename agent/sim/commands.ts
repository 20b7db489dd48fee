import { toLoaError } from '../../shared/errors.js';
import { COMMAND_MAX_BYTES, type CommandAck, type DeviceCommand } from '../../shared/schemas/command.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { claimedIds } from '../../shared/signed-message.js';
import { verifyDeviceCommand } from '../commands/verify.js';
import { ReplaySet } from './replay.js';

export interface SimCommandsOptions {
  deviceId: string;
  root: () => RootMetadata;
  now: () => number;
  /** Queues one `command.ack` event (published QoS 1 like every event of the device). */
  ack: (data: CommandAck) => void;
  /** A refusal, for the worker's error tally. */
  error?: (code: string, message: string) => void;
  /** How long a simulated reboot takes before its done ack (default 1 s). */
  rebootMs?: number;
}

/**
 * The simulator's side of signed device commands (agent/commands/handler.ts minus SQLite, audio and relays):
 * every command goes through the agent's own `verifyDeviceCommand` (schedule key of the root, this device,
 * lifetime, replay against the nonces and the last seq seen in this process), then is acknowledged as the
 * agent would: `received`, then `done` — a volume is kept in memory, a test tone is "done" after its duration,
 * a relay check finds no board, a reboot is done after `rebootMs`. Refusals are `rejected` with their code.
 */
export class SimCommands {
  private readonly replay = new ReplaySet();
  private lastSeq = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  volume = 100;

  constructor(private readonly o: SimCommandsOptions) {}

  receive(payload: Buffer): void {
    const now = this.o.now();
    let c: DeviceCommand;
    try {
      c = verifyDeviceCommand(payload, { root: this.o.root(), deviceId: this.o.deviceId, now, seen: (n, s) => s <= this.lastSeq || this.replay.seen(n, s) }).signed;
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_COMMAND_INVALID');
      this.o.error?.(err.code, err.message);
      const claimed = claimedIds(payload, 'commandId', COMMAND_MAX_BYTES);
      if (claimed) this.send({ commandId: claimed.id, seq: claimed.seq }, 'rejected', { code: err.code, reason: err.message.slice(0, 500) });
      return;
    }
    this.replay.record(c.nonce, c.seq, Date.parse(c.expiresAt), now);
    this.lastSeq = Math.max(this.lastSeq, c.seq);
    this.send(c, 'received');
    switch (c.type) {
      case 'volume': {
        const previous = this.volume;
        this.volume = c.params.volume;
        this.send(c, 'done', { result: { volume: c.params.volume, previous } });
        return;
      }
      case 'test_tone':
        this.later(c.params.durationS * 1000, () => this.send(c, 'done', { result: { hz: 1000, durationMs: c.params.durationS * 1000, simulated: true } }));
        return;
      case 'relay_check':
        this.send(c, 'done', { result: { ok: true, board: 'none', readBack: false, channels: [], outputs: [], simulated: true } });
        return;
      case 'reboot':
        this.later(this.o.rebootMs ?? 1000, () => this.send(c, 'done', { result: { restarted: true, simulated: true } }));
        return;
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private send(c: Pick<DeviceCommand, 'commandId' | 'seq'>, state: CommandAck['state'], extra: { result?: Record<string, unknown>; code?: string; reason?: string } = {}): void {
    this.o.ack({
      commandId: c.commandId, seq: c.seq, state, at: new Date(this.o.now()).toISOString(),
      ...(extra.result ? { result: extra.result } : {}), ...(extra.code ? { code: extra.code } : {}), ...(extra.reason ? { reason: extra.reason } : {}),
    });
  }
}
