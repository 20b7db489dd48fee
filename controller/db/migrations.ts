/**
 * Versioned schema migrations for the controller database. Append only: never edit a shipped migration.
 * Times are ms since epoch (INTEGER); JSON columns hold canonical JSON text. All SQL lives in controller/data/.
 */
export const CONTROLLER_MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE zones (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES zones(id),
    level TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune', 'cluster')),
    code TEXT NOT NULL,               -- administrative code (mã đơn vị hành chính) or a local cluster code
    name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,        -- materialised path '/id/id/…/', for subtree queries
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX zones_parent ON zones(parent_id);

  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,      -- scrypt$N$r$p$salt$hash
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'technician', 'viewer')),
    zone_id TEXT NOT NULL REFERENCES zones(id),
    can_approve INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, role, zone_id)
  );
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,      -- sha256 of the bearer token; the token itself is never stored
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip TEXT
  );

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,              -- user id, 'device:<id>' or 'system'
    ip TEXT,
    action TEXT NOT NULL,             -- e.g. zone.create, schedule.approve
    target_type TEXT NOT NULL,
    target_id TEXT,
    zone_id TEXT,
    details TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX audit_at ON audit_log(at);
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL REFERENCES zones(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'speaker' CHECK (kind IN ('speaker', 'board')),
    public_key TEXT,                  -- raw Ed25519, base64; NULL until enrolled
    keyid TEXT,
    hardware_profile TEXT,
    agent_version TEXT,
    lat REAL,
    lon REAL,
    enrolled_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX devices_zone ON devices(zone_id);
  CREATE TABLE enrollment_tokens (
    token_hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  );

  -- live state, one row per device, updated by telemetry ingest
  CREATE TABLE device_state (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    online INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER,
    status_at INTEGER,
    applied_version INTEGER NOT NULL DEFAULT 0,
    stale INTEGER NOT NULL DEFAULT 0,
    telemetry TEXT,
    telemetry_at INTEGER
  );
  CREATE TABLE telemetry (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX telemetry_device_at ON telemetry(device_id, at);
  CREATE INDEX telemetry_received ON telemetry(received_at);
  CREATE TABLE device_events (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,             -- idempotency: (device_id, seq) is stored once
    type TEXT NOT NULL,
    at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX device_events_received ON device_events(received_at);
  -- proof-of-play, folded from play.start / play.end / play.skip events
  CREATE TABLE plays (
    device_id TEXT NOT NULL,
    occurrence TEXT NOT NULL,         -- entryId@ISO start, as the agent keys it
    entry_id TEXT,
    program_id TEXT,
    scheduled_at INTEGER,
    started_at INTEGER,
    ended_at INTEGER,
    status TEXT NOT NULL,             -- playing | completed | preempted | interrupted | failed | stopped | skipped
    PRIMARY KEY (device_id, occurrence)
  ) WITHOUT ROWID;
  CREATE INDEX plays_scheduled ON plays(scheduled_at);

  CREATE TABLE media (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,             -- of the transcoded file the devices play
    size INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    mime TEXT NOT NULL,
    title TEXT NOT NULL,
    original_name TEXT,
    source_sha256 TEXT,
    loudness_lufs REAL,
    zone_id TEXT NOT NULL REFERENCES zones(id),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX media_sha ON media(sha256);
  CREATE INDEX media_zone ON media(zone_id);

  CREATE TABLE programs (
    id TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL REFERENCES zones(id),
    title TEXT NOT NULL,
    items TEXT NOT NULL,              -- JSON array: {kind:'media', mediaId} | {kind:'stream', url, durationMs, title?}
    status TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'approved', 'rejected', 'archived')),
    created_by TEXT NOT NULL,
    approved_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX programs_zone ON programs(zone_id);

  CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL REFERENCES zones(id),   -- owning zone (for RBAC); targets may be narrower
    program_id TEXT NOT NULL REFERENCES programs(id),
    title TEXT NOT NULL,
    dtstart TEXT NOT NULL,            -- local wall time, Asia/Ho_Chi_Minh
    rrule TEXT,
    valid_from INTEGER,
    valid_until INTEGER,
    priority TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'emergency')),
    volume INTEGER NOT NULL,
    outputs TEXT NOT NULL DEFAULT '[]',
    on_preempt TEXT NOT NULL DEFAULT 'resume',
    max_delay_ms INTEGER NOT NULL DEFAULT 1800000,
    night_confirmed INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('draft', 'pending', 'approved', 'rejected', 'archived')),
    created_by TEXT NOT NULL,
    approved_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX schedules_program ON schedules(program_id);
  CREATE TABLE schedule_targets (
    schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    target_type TEXT NOT NULL CHECK (target_type IN ('zone', 'device')),
    target_id TEXT NOT NULL,
    PRIMARY KEY (schedule_id, target_type, target_id)
  );
  CREATE INDEX schedule_targets_target ON schedule_targets(target_type, target_id);

  -- the last signed manifest per device; versions only grow
  CREATE TABLE manifests (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_hash TEXT NOT NULL,       -- sha256 of the content without version/issuedAt/expiresAt
    body TEXT NOT NULL,               -- the signed envelope, canonical JSON
    compiled_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // 2: proof-of-play folding (telemetry ingest): out-of-order play events fold by the device's event seq
  `
  ALTER TABLE plays ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;   -- seq of the event that set status/ended_at
  ALTER TABLE plays ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE plays ADD COLUMN played_ms INTEGER NOT NULL DEFAULT 0;  -- summed over attempts
  ALTER TABLE plays ADD COLUMN reason TEXT;                           -- skip reason
  ALTER TABLE plays ADD COLUMN updated_at INTEGER;                    -- controller receive time of the last change
  CREATE INDEX plays_device_scheduled ON plays(device_id, scheduled_at);
  `,
  // 3: on-site pairing and the device lifecycle (issue 5)
  `
  ALTER TABLE devices ADD COLUMN decommissioned_at INTEGER;         -- retired for good: revoked, never compiled, history kept
  CREATE TABLE pairing_requests (
    id TEXT PRIMARY KEY,
    locator TEXT NOT NULL,            -- first 3 characters of the code: finds the request
    secret_hash TEXT NOT NULL,        -- sha256 of the id and the last 5 characters; the code itself is never stored
    public_key TEXT NOT NULL,         -- raw Ed25519, base64: the unpaired device's key
    keyid TEXT NOT NULL,
    hardware_profile TEXT,
    agent_version TEXT,
    hardware TEXT NOT NULL DEFAULT '{}',
    ip TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'paired', 'expired', 'locked')),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    device_id TEXT REFERENCES devices(id),
    paired_by TEXT,
    paired_at INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX pairing_pending_locator ON pairing_requests(locator) WHERE state = 'pending';
  CREATE INDEX pairing_locator ON pairing_requests(locator, created_at);
  CREATE INDEX pairing_keyid ON pairing_requests(keyid);
  CREATE INDEX pairing_state ON pairing_requests(state, expires_at);
  -- keys that must never authenticate or pair again (revoked, replaced or decommissioned devices)
  CREATE TABLE revoked_keys (
    keyid TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('revoke', 'replace', 'decommission')),
    revoked_at INTEGER NOT NULL
  );
  `,
  // 4: emergency orders (issue 6)
  `
  -- one counter for every signed start and cancel order: seqs only grow (never below Unix seconds, so a restore does not reuse them)
  CREATE TABLE emergency_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
  INSERT INTO emergency_seq (id, value) VALUES (1, 0);
  CREATE TABLE emergency_orders (
    id TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL,            -- the closest zone holding every target (RBAC, lists); no foreign key, so an emptied zone can still be deleted
    title TEXT NOT NULL,
    zones TEXT NOT NULL,              -- JSON array: target zone ids, as signed
    devices TEXT NOT NULL,            -- JSON array: explicit target device ids, as signed
    content TEXT NOT NULL,            -- JSON: the signed content ({kind: media|tts, sha256, size, durationMs, …})
    media_id TEXT,                    -- the media record of the audio (a TTS rendering is stored as one)
    repeat INTEGER NOT NULL,
    volume INTEGER,
    start_at INTEGER,
    ttl_ms INTEGER NOT NULL,
    seq INTEGER UNIQUE,               -- of the signed start order; NULL while pending approval
    cancel_seq INTEGER UNIQUE,
    issued_at INTEGER,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending_approval', 'active', 'cancelled', 'expired')),
    targeted INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    approved_by TEXT,
    cancelled_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    cancelled_at INTEGER,
    history TEXT NOT NULL DEFAULT '[]',  -- JSON array of {action, by, at, seq?, devices?}
    signed_body TEXT,                 -- the signed start order as published (canonical JSON)
    cancel_body TEXT                  -- the signed cancel order as published
  );
  CREATE INDEX emergency_orders_created ON emergency_orders(created_at);
  CREATE INDEX emergency_orders_status ON emergency_orders(status, expires_at);
  -- the devices an order was published to, resolved when it was signed
  CREATE TABLE emergency_targets (
    order_id TEXT NOT NULL REFERENCES emergency_orders(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    PRIMARY KEY (order_id, device_id)
  ) WITHOUT ROWID;
  CREATE INDEX emergency_targets_device ON emergency_targets(device_id);
  -- device acks (events of type emergency.ack): the latest per state
  CREATE TABLE emergency_acks (
    order_id TEXT NOT NULL REFERENCES emergency_orders(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'started', 'finished', 'failed', 'rejected', 'cancelled')),
    seq INTEGER NOT NULL,             -- of the signed order acknowledged (start or cancel)
    at INTEGER NOT NULL,              -- device time
    code TEXT,
    reason TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (order_id, device_id, state)
  ) WITHOUT ROWID;
  -- confirmation codes shown by the preview, bound to the user and the target set; only a hash is kept
  CREATE TABLE emergency_confirmations (
    user_id TEXT NOT NULL,
    target_hash TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, target_hash)
  ) WITHOUT ROWID;
  `,
  // 5: CAP alerts behind emergency orders (issue 6): which alert an order was made from
  `
  ALTER TABLE emergency_orders ADD COLUMN cap_identifier TEXT;      -- the alert's <identifier>
  ALTER TABLE emergency_orders ADD COLUMN cap_sender TEXT;          -- the alert's <sender>
  ALTER TABLE emergency_orders ADD COLUMN cap_sent TEXT;            -- the alert's <sent>, as written (ISO 8601 with its offset)
  ALTER TABLE emergency_orders ADD COLUMN cap_expires_at INTEGER;   -- the alert's <expires> (ms); an approval never signs past it
  CREATE INDEX emergency_orders_cap ON emergency_orders(cap_sender, cap_identifier) WHERE cap_identifier IS NOT NULL;
  `,
  // 6: API tokens (issue 9, contract C) (`loat_…`) for integrations; only the sha256 of a token is kept
  `
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,  -- sha256 of the token; the token itself is shown once and never stored
    hint TEXT NOT NULL,               -- the first characters after loat_, to recognise a token in lists
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER,
    last_used_ip TEXT,
    revoked_at INTEGER,
    revoked_by TEXT
  );
  CREATE INDEX api_tokens_user ON api_tokens(user_id, created_at);
  `,
  // 7: signed device commands (issue 7, contract B): test tone, volume, relay check, reboot
  `
  -- one counter for every signed command: seqs only grow (never below Unix seconds, so a restore does not reuse them)
  CREATE TABLE command_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
  INSERT INTO command_seq (id, value) VALUES (1, 0);
  CREATE TABLE device_commands (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,          -- no foreign key: a command outlives nothing, but a decommissioned device keeps its history
    zone_id TEXT NOT NULL,            -- the device's zone when it was sent (RBAC of the history)
    type TEXT NOT NULL CHECK (type IN ('test_tone', 'volume', 'relay_check', 'reboot')),
    params TEXT NOT NULL,             -- JSON, as signed
    seq INTEGER NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('sent', 'received', 'done', 'failed', 'expired')),
    expires_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    result TEXT,                      -- JSON from the device's done (or failed relay check) ack
    error_code TEXT,
    error_message TEXT,
    signed_body TEXT NOT NULL         -- the signed command as published (canonical JSON)
  );
  CREATE INDEX device_commands_device ON device_commands(device_id, created_at);
  CREATE INDEX device_commands_open ON device_commands(state, expires_at) WHERE state IN ('sent', 'received');
  `,
  // 8: LED/LCD boards (issue 8): the latest proof-of-display screenshot of each board, size-capped by its route
  `
  CREATE TABLE device_screenshots (
    device_id TEXT PRIMARY KEY,
    mime TEXT NOT NULL CHECK (mime IN ('image/webp', 'image/png')),
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    taken_at INTEGER NOT NULL,        -- device time, ms
    received_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 9: the dashboard and the provincial KPI reports (issue 7): legacy wired/FM stations per commune (and how many
  // were converted), and a log of device status changes (online/offline, controller time) for uptime
  `
  ALTER TABLE zones ADD COLUMN legacy_stations INTEGER;             -- wired/FM stations the commune had (NULL: not recorded)
  ALTER TABLE zones ADD COLUMN converted_stations INTEGER;          -- of those, converted to IT-based receivers
  CREATE TABLE device_status_log (
    device_id TEXT NOT NULL,
    at INTEGER NOT NULL,              -- controller receive time
    online INTEGER NOT NULL
  );
  CREATE INDEX device_status_log_device_at ON device_status_log(device_id, at);
  `,
  // 10: image and video media for boards (issue 8): what a media record is, and a picture's size
  `
  ALTER TABLE media ADD COLUMN kind TEXT NOT NULL DEFAULT 'audio' CHECK (kind IN ('audio', 'image', 'video'));
  ALTER TABLE media ADD COLUMN width INTEGER;                      -- pixels, images and videos only
  ALTER TABLE media ADD COLUMN height INTEGER;
  `,
  // 11: agent releases and staged rollouts (issue 11): content-addressed release artifacts with their signed
  // metadata, deployments in waves, and each targeted device's progress (folded from its update.state events)
  `
  CREATE TABLE releases (
    sha256 TEXT PRIMARY KEY,          -- of the .tar.gz; the file is <dataDir>/releases/<sha256>
    version TEXT NOT NULL,
    arch TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,      -- the signed createdAt
    uploaded_at INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    envelope TEXT NOT NULL,           -- the signed metadata (SignedRelease JSON), verbatim as uploaded
    UNIQUE (version, arch)
  );
  CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    release_sha256 TEXT NOT NULL REFERENCES releases(sha256),
    zone_id TEXT NOT NULL REFERENCES zones(id), -- the nearest zone holding every target: RBAC of the deployment
    target TEXT NOT NULL,             -- JSON {zoneIds, deviceIds} as asked
    state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'halted', 'completed', 'aborted')),
    current_wave INTEGER NOT NULL,
    max_failures INTEGER NOT NULL,
    wave_timeout_sec INTEGER NOT NULL,
    health_window_sec INTEGER NOT NULL,
    windows TEXT,                     -- JSON MaintenanceWindow[] or NULL
    allow_downgrade INTEGER NOT NULL,
    halt_reason TEXT,                 -- JSON {code, message, failures}
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX deployments_state ON deployments(state);
  CREATE TABLE deployment_waves (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    idx INTEGER NOT NULL,
    percent INTEGER NOT NULL,
    device_count INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    started_at INTEGER,
    ended_at INTEGER,
    PRIMARY KEY (deployment_id, idx)
  ) WITHOUT ROWID;
  CREATE TABLE deployment_devices (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    device_id TEXT NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL,              -- pending | waiting | an update.state | timeout
    version TEXT,                     -- the agent version last seen on the device
    reason TEXT,
    message TEXT,
    offered INTEGER NOT NULL DEFAULT 0, -- 1 while its manifest carries this deployment's agentUpdate (one row per device at most)
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, device_id)
  ) WITHOUT ROWID;
  CREATE INDEX deployment_devices_device ON deployment_devices(device_id);
  CREATE INDEX deployment_devices_offered ON deployment_devices(device_id) WHERE offered = 1;
  `,
];
