import type { Db } from '../store/db.js';

/** Keys of what sync remembers between runs (in the `settings` table); `loa agent status` shows them. */
export const SYNC_KEYS = {
  etag: 'sync.manifest.etag',
  lastCheckAt: 'sync.manifest.lastCheckAt',
  lastInstalledAt: 'sync.manifest.lastInstalledAt',
  lastConnectedAt: 'sync.mqtt.lastConnectedAt',
  lastError: 'sync.lastError',
} as const;
export type SyncKey = (typeof SYNC_KEYS)[keyof typeof SYNC_KEYS];

/** A tiny key-value view of the `settings` table. */
export class SyncSettings {
  private readonly getStmt;
  private readonly setStmt;
  private readonly delStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?');
    this.setStmt = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.delStmt = db.prepare('DELETE FROM settings WHERE key = ?');
  }

  get(key: SyncKey): string | null {
    return this.getStmt.get(key)?.value ?? null;
  }

  set(key: SyncKey, value: string | number | null): void {
    if (value === null) this.delStmt.run(key);
    else this.setStmt.run(key, String(value));
  }

  /** Everything sync remembers, for status output. */
  all(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, key] of Object.entries(SYNC_KEYS)) {
      const v = this.get(key);
      if (v !== null) out[name] = v;
    }
    return out;
  }
}
