/**
 * The fewest migrations an agent must know to open a database that this code migrated (issue 11: after a
 * rollback an older agent opens the database a newer one may have migrated). Every migration so far is
 * additive — new tables, new columns with defaults, new indexes — so an agent that knows only the first one
 * can still use it. A migration that drops, renames, or changes the meaning of what older agents read must
 * raise this to its own number; older agents then refuse the database (LOA_ERR_STORE_NEWER).
 */
export const MIN_READER = 1;

/** Versioned schema migrations for the agent database. Append only: never edit a shipped migration. */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE trust_root (version INTEGER PRIMARY KEY, body TEXT NOT NULL, installed_at INTEGER NOT NULL);
  CREATE TABLE manifests (
    version INTEGER PRIMARY KEY,
    body TEXT NOT NULL,             -- the full signed envelope, canonical JSON
    accepted_at INTEGER NOT NULL
  );
  CREATE TABLE media (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    verified_at INTEGER NOT NULL
  );
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe TEXT NOT NULL UNIQUE,    -- local write-once key: a second write of the same fact is a no-op
    type TEXT NOT NULL,
    at INTEGER NOT NULL,
    data TEXT NOT NULL,
    sent_at INTEGER
  );
  CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;
  CREATE TABLE plays (
    occurrence TEXT PRIMARY KEY,    -- entry id + scheduled start
    entry_id TEXT NOT NULL,
    scheduled_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('playing','paused','done','skipped')),
    offset_ms INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX plays_scheduled ON plays(scheduled_at);
  `,
  // 2: telemetry samples waiting to be published (agent/sync/telemetry-queue.ts caps it at ~1000 rows)
  `
  CREATE TABLE telemetry_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    body TEXT NOT NULL              -- one DeviceTelemetry, JSON
  );
  `,
  // 3: emergency orders seen (replay protection until each expires) and their state on this device
  `
  CREATE TABLE emergency_seen (
    nonce TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('start','cancel')),
    expires_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL               -- the signed order, JSON
  );
  CREATE INDEX emergency_seen_expiry ON emergency_seen(expires_at);
  `,
  // 4: signed device commands seen (replay: nonces until they expire, the last seq for ever in settings
  //    `command.lastSeq`; the device volume is the setting `device.volume`), and what became of each
  `
  CREATE TABLE commands_seen (
    nonce TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    command_id TEXT NOT NULL,
    type TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'received' CHECK (state IN ('received', 'restarting', 'done', 'failed'))
  );
  CREATE INDEX commands_seen_expiry ON commands_seen(expires_at);
  `,
];
