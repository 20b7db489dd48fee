import Database from 'better-sqlite3';

/** What the controller stored for the simulated devices (ids starting with `prefix-`), read from its SQLite file. */
export interface Ledger {
  telemetry: number;
  events: number;
  playsCompleted: number;
  /** Devices whose latest telemetry names the manifest version the controller holds for them. */
  devicesOnCurrentManifest: number;
  /** The highest manifest version compiled for them. */
  manifestVersion: number;
}

/**
 * Reads the controller's database file directly, read-only, while the controller runs (WAL: a reader never
 * blocks the writer). This is the soak's "received" side: rows committed, not messages accepted by the broker.
 */
export function ledgerOf(dbFile: string, prefix: string): Ledger {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const like = `${prefix}-%`;
    const one = (sql: string): number => (db.prepare<[string], { n: number | null }>(sql).get(like)?.n ?? 0);
    return {
      telemetry: one('SELECT count(*) AS n FROM telemetry WHERE device_id LIKE ?'),
      events: one('SELECT count(*) AS n FROM device_events WHERE device_id LIKE ?'),
      playsCompleted: one("SELECT count(*) AS n FROM plays WHERE device_id LIKE ? AND status = 'completed'"),
      devicesOnCurrentManifest: one('SELECT count(*) AS n FROM manifests m JOIN device_state s ON s.device_id = m.device_id WHERE m.device_id LIKE ? AND s.applied_version = m.version'),
      manifestVersion: one('SELECT max(version) AS n FROM manifests WHERE device_id LIKE ?'),
    };
  } finally {
    db.close();
  }
}
