import type { DeviceCommand } from '../../shared/schemas/command.js';
import type { Db } from '../store/db.js';

const LAST_SEQ = 'command.lastSeq';
const VOLUME = 'device.volume';

export type SeenState = 'received' | 'restarting' | 'done' | 'failed';

/**
 * Device commands this device has accepted (agent migration 4) and the device volume. A command is refused as
 * a replay when its nonce was accepted before (kept until it expires) or its seq is not above the last accepted
 * one (kept for ever, in `settings`), so a replay is refused after a restart too.
 */
export class CommandStore {
  constructor(private readonly db: Db) {}

  lastSeq(): number {
    return Number(this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(LAST_SEQ)?.value ?? 0);
  }

  seen(nonce: string, seq: number): boolean {
    if (seq <= this.lastSeq()) return true;
    return this.db.prepare<[string, number], { n: number }>('SELECT 1 AS n FROM commands_seen WHERE nonce = ? OR seq = ?').get(nonce, seq) !== undefined;
  }

  /** Remembers an accepted command and raises the last seq, in one transaction. */
  record(c: DeviceCommand, now: number): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO commands_seen (nonce, seq, command_id, type, expires_at, received_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(c.nonce, c.seq, c.commandId, c.type, Date.parse(c.expiresAt), now);
      this.setSetting(LAST_SEQ, String(Math.max(c.seq, this.lastSeq())));
    })();
  }

  setState(commandId: string, state: SeenState): void {
    this.db.prepare('UPDATE commands_seen SET state = ? WHERE command_id = ?').run(state, commandId);
  }

  /** Reboot commands that stopped the agent (the agent acknowledges them as done once it runs again). */
  restarting(): { commandId: string; seq: number; receivedAt: number }[] {
    return this.db.prepare<[], { command_id: string; seq: number; received_at: number }>("SELECT command_id, seq, received_at FROM commands_seen WHERE state = 'restarting' ORDER BY seq")
      .all().map((r) => ({ commandId: r.command_id, seq: r.seq, receivedAt: r.received_at }));
  }

  /** Commands accepted but never finished: the agent stopped in between (a kill, a power cut). */
  interrupted(): { commandId: string; seq: number; type: string; receivedAt: number }[] {
    return this.db.prepare<[], { command_id: string; seq: number; type: string; received_at: number }>("SELECT command_id, seq, type, received_at FROM commands_seen WHERE state = 'received' ORDER BY seq")
      .all().map((r) => ({ commandId: r.command_id, seq: r.seq, type: r.type, receivedAt: r.received_at }));
  }

  /** Forgets expired commands (the last seq, and their own expiry, still refuse a replay). */
  prune(now: number): number {
    return this.db.prepare("DELETE FROM commands_seen WHERE expires_at <= ? AND state <> 'restarting'").run(now).changes;
  }

  /** The device volume level, 0–100 (100 until a `volume` command sets it). */
  volume(): number {
    const v = Number(this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(VOLUME)?.value ?? 100);
    return Number.isInteger(v) && v >= 0 && v <= 100 ? v : 100;
  }

  setVolume(level: number): void {
    this.setSetting(VOLUME, String(level));
  }

  private setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
