import type { Readable } from 'node:stream';
import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import { failpoint } from '../../shared/failpoints.js';
import type { Logger } from '../../shared/log.js';
import { COMMAND_MAX_BYTES, type CommandAck, type DeviceCommand } from '../../shared/schemas/command.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { claimedIds } from '../../shared/signed-message.js';
import type { Occurrence } from '../../shared/timeline.js';
import type { RelayCheckResult } from '../outputs/relay-check.js';
import type { Outbox } from '../store/outbox.js';
import type { CommandStore } from './store.js';
import { COMMAND_PREFIX, testToneMedia, testToneOccurrence } from './tone.js';
import { verifyDeviceCommand } from './verify.js';

export interface CommandHandlerOptions {
  deviceId: string;
  store: CommandStore;
  outbox: Outbox;
  scheduler: { addAdhoc(occ: Occurrence): void };
  /** The trust root in force (null before provisioning: every command is refused). */
  root: () => RootMetadata | null;
  media: { has(sha256: string, size?: number): boolean; put(expected: { sha256: string; size: number }, source: Readable): Promise<void> };
  /** Switches each free relay channel on and off with read-back (agent/outputs/relay-check.ts). */
  checkRelays: () => Promise<RelayCheckResult>;
  /**
   * Restarts the agent service (the `reboot` command), called once the `received` ack is committed: the agent
   * drains its outbox and exits with AGENT_RESTART_EXIT_CODE, and systemd's Restart= starts it again.
   */
  restart: (commandId: string) => void;
  clock: Clock;
  log: Logger;
}

type Extra = { result?: Record<string, unknown>; code?: string; reason?: string; dedupe?: string };

/**
 * Signed device commands on the device (DESIGN §3 `cmd`): verify (verify.ts), remember against replay, then
 * execute — `test_tone` through the scheduler's ad-hoc path, `volume` into the store, `relay_check` on the
 * relay board, `reboot` by restarting the agent service — and acknowledge each step through the durable
 * outbox (`command.ack`: received, done with a result, failed with a code, rejected with a code). A refused
 * command is never executed.
 */
export class CommandHandler {
  /** commandId → seq of test tones queued or playing. */
  private readonly tones = new Map<string, { seq: number; sha256: string }>();

  constructor(private readonly o: CommandHandlerOptions) {}

  /**
   * After a start: reboot commands that restarted the agent are done now. Any other command still `received`
   * was accepted (and is refused as a replay from now on) but the agent stopped before finishing it — a test
   * tone queued only in memory, say: it is reported failed with LOA_ERR_COMMAND_INTERRUPTED, never run again.
   */
  restore(): void {
    const now = this.o.clock.now();
    for (const r of this.o.store.interrupted()) {
      this.o.log.warn({ code: 'LOA_ERR_COMMAND_INTERRUPTED', commandId: r.commandId, type: r.type }, 'a device command was interrupted by a stop; reported failed');
      this.finish({ commandId: r.commandId, seq: r.seq }, 'failed', { code: 'LOA_ERR_COMMAND_INTERRUPTED', reason: `the agent stopped after accepting this ${r.type} command and before finishing it; it is not run again` });
    }
    for (const r of this.o.store.restarting()) {
      this.ack({ commandId: r.commandId, seq: r.seq }, 'done', { result: { restarted: true, restartedAt: new Date(now).toISOString(), downMs: Math.max(0, now - r.receivedAt) } });
      this.o.store.setState(r.commandId, 'done');
    }
    this.o.store.prune(now);
  }

  /** Sha256s of test tones still queued or playing (kept by the media garbage collector). */
  activeMedia(): string[] {
    return [...this.tones.values()].map((t) => t.sha256);
  }

  /** A command from MQTT (or any channel). Never throws: refusals are logged and acknowledged as `rejected`. */
  async receive(input: unknown): Promise<'accepted' | 'rejected'> {
    const now = this.o.clock.now();
    let c: DeviceCommand;
    try {
      const root = this.o.root();
      if (!root) throw new LoaError('LOA_ERR_COMMAND_SIGNATURE', 'this device has no trust root yet');
      c = verifyDeviceCommand(input, { root, deviceId: this.o.deviceId, now, seen: (n, s) => this.o.store.seen(n, s) }).signed;
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_COMMAND_INVALID');
      const claimed = claimedIds(input, 'commandId', COMMAND_MAX_BYTES);
      this.o.log.warn({ code: err.code, commandId: claimed?.id, seq: claimed?.seq }, `device command refused: ${err.message}`);
      if (claimed) this.ack({ commandId: claimed.id, seq: claimed.seq }, 'rejected', { code: err.code, reason: err.message.slice(0, 500), dedupe: `${claimed.seq}:${err.code}` });
      return 'rejected';
    }
    this.o.store.record(c, now);
    this.ack(c, 'received');
    failpoint('command.after-received');
    this.o.log.info({ commandId: c.commandId, seq: c.seq, type: c.type }, 'device command accepted');
    try {
      await this.execute(c);
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_INTERNAL');
      this.o.log.error({ code: err.code, commandId: c.commandId }, `device command failed: ${err.message}`);
      this.finish(c, 'failed', { code: err.code, reason: err.message.slice(0, 500) });
    }
    return 'accepted';
  }

  /** Scheduler hook: the end (or skip) of a test tone finishes its command. */
  onPlay(occ: Occurrence, phase: 'start' | 'end' | 'skip', detail?: string): void {
    if (!occ.entryId.startsWith(COMMAND_PREFIX) || phase === 'start') return;
    const commandId = occ.entryId.slice(COMMAND_PREFIX.length);
    const t = this.tones.get(commandId);
    if (!t) return;
    this.tones.delete(commandId);
    const ref = { commandId, seq: t.seq };
    if (phase === 'end' && detail === 'completed') this.finish(ref, 'done', { result: { hz: 1000, durationMs: occ.durationMs, sha256: t.sha256 } });
    else if (phase === 'end' && detail === 'failed') this.finish(ref, 'failed', { code: 'LOA_ERR_PLAYER_FAILED', reason: 'the test tone could not be played' });
    else this.finish(ref, 'failed', { code: 'LOA_ERR_COMMAND_SKIPPED', reason: `the test tone was ${phase === 'skip' ? 'skipped' : 'cut'}: ${detail ?? 'unknown'} (an emergency or live broadcast held the loudspeakers)` });
  }

  private async execute(c: DeviceCommand): Promise<void> {
    switch (c.type) {
      case 'volume': {
        const previous = this.o.store.volume();
        this.o.store.setVolume(c.params.volume);
        this.o.log.info({ volume: c.params.volume, previous }, 'device volume set');
        this.finish(c, 'done', { result: { volume: c.params.volume, previous } });
        return;
      }
      case 'test_tone': {
        const tone = testToneMedia(c.params.durationS);
        if (!this.o.media.has(tone.sha256, tone.size)) await this.o.media.put(tone, tone.open());
        this.tones.set(c.commandId, { seq: c.seq, sha256: tone.sha256 });
        this.o.scheduler.addAdhoc(testToneOccurrence(c.commandId, tone, this.o.clock.now()));
        return;
      }
      case 'relay_check': {
        const r = await this.o.checkRelays();
        const bad = r.channels.find((x) => x.status === 'failed');
        if (bad) this.finish(c, 'failed', { code: bad.code ?? 'LOA_ERR_RELAY_READBACK', reason: `relay channel ${bad.channel}: ${bad.detail}`.slice(0, 500), result: { ...r } });
        else this.finish(c, 'done', { result: { ...r } });
        return;
      }
      case 'reboot':
        // The received ack is committed; the agent drains its outbox, then exits for systemd to restart it.
        this.o.store.setState(c.commandId, 'restarting');
        this.o.log.warn({ commandId: c.commandId }, 'restarting the agent service (reboot command)');
        this.o.restart(c.commandId);
        return;
    }
  }

  private finish(c: Pick<DeviceCommand, 'commandId' | 'seq'>, state: 'done' | 'failed', extra: Extra): void {
    this.ack(c, state, extra);
    this.o.store.setState(c.commandId, state);
  }

  private ack(c: Pick<DeviceCommand, 'commandId' | 'seq'>, state: CommandAck['state'], extra: Extra = {}): void {
    const now = this.o.clock.now();
    const data: CommandAck = {
      commandId: c.commandId, seq: c.seq, state, at: new Date(now).toISOString(),
      ...(extra.result ? { result: extra.result } : {}), ...(extra.code ? { code: extra.code } : {}), ...(extra.reason ? { reason: extra.reason } : {}),
    };
    this.o.outbox.add('command.ack', `command:${c.commandId}:${c.seq}:${state}${extra.dedupe ? `:${extra.dedupe}` : ''}`, now, data);
  }
}
