/**
 * Agent software releases (issue 11). A release is a tar.gz artifact made by `loa release build`, plus this signed
 * metadata made by `loa release sign` with a key of the root metadata's `release` role (DESIGN §2). The
 * controller stores the artifact content-addressed; a device installs it only after checking the metadata's
 * signatures against its own trust root and the artifact's size and SHA-256 against the metadata.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Id, IsoDateTime, Sha256, Signatures } from './common.js';

/** Semantic version without build metadata: 1.2.3 or 1.2.3-rc.1. */
export const SEMVER_PATTERN = '^(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$';
export const Semver = Type.String({ pattern: SEMVER_PATTERN, maxLength: 40, title: 'version', description: 'Semantic version, e.g. 1.4.0 or 1.5.0-rc.1' });

export const RELEASE_ARCHES = ['x64', 'arm64', 'arm'] as const;
export const ReleaseArch = Type.Union(RELEASE_ARCHES.map((a) => Type.Literal(a)), { description: 'Node.js process.arch the native modules are built for' });

export const Release = Type.Object(
  {
    _type: Type.Literal('release'),
    name: Type.Literal('loaphuong-agent'),
    version: Semver,
    platform: Type.Literal('linux'),
    arch: ReleaseArch,
    /** SHA-256 and size of the .tar.gz artifact. */
    sha256: Sha256,
    size: Type.Integer({ minimum: 1, maximum: 2 * 1024 * 1024 * 1024 }),
    /** Node.js the artifact needs on the device (the engines range of the package). */
    node: Type.String({ maxLength: 40 }),
    createdAt: IsoDateTime,
    notes: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false, title: 'release' },
);
export type Release = Static<typeof Release>;

export const SignedRelease = Type.Object({ signed: Release, signatures: Signatures }, { additionalProperties: false, title: 'signed release' });
export type SignedRelease = Static<typeof SignedRelease>;
export const RELEASE_MAX_BYTES = 64 * 1024;

/** A time-of-day window in the device's local time (Asia/Ho_Chi_Minh); end < start spans midnight. */
export const MaintenanceWindow = Type.Object(
  {
    start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM local time' }),
    end: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM local time' }),
  },
  { additionalProperties: false, title: 'maintenance window' },
);
export type MaintenanceWindow = Static<typeof MaintenanceWindow>;

/**
 * The manifest's `agentUpdate`: the release this device should run (desired state, as in Mender/hawkBit). The
 * manifest's schedule-role signature binds it to this device; the release's own release-role signature proves
 * the artifact. Absent: keep the running version.
 */
export const AgentUpdate = Type.Object(
  {
    deploymentId: Id,
    release: SignedRelease,
    /** Where to download the artifact: `releases/{sha256}`, relative to the controller's URL (content-addressed, Range supported). */
    url: Type.String({ maxLength: 2048 }),
    /** Only a deployment created with an explicit downgrade sets this; otherwise versions only go up. */
    allowDowngrade: Type.Optional(Type.Boolean()),
    /** When installs may happen; absent: any time no broadcast is due. */
    windows: Type.Optional(Type.Array(MaintenanceWindow, { maxItems: 8 })),
    /** After the switch, the new version must pass its health check within this many seconds. */
    healthWindowSec: Type.Integer({ minimum: 10, maximum: 3600, default: 120 }),
  },
  { additionalProperties: false, title: 'agent update' },
);
export type AgentUpdate = Static<typeof AgentUpdate>;

/** States a device reports in `update.state` events (data: UpdateStateData). */
export const UPDATE_STATES = [
  'deferred', 'downloading', 'downloaded', 'installing', 'switched', 'healthy', 'failed', 'rolled-back', 'rejected',
] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];
export const UpdateStateData = Type.Object(
  {
    deploymentId: Id,
    version: Semver,
    /** The version running before (or after a rollback, the one the device went back to). */
    from: Type.Optional(Semver),
    state: Type.Union(UPDATE_STATES.map((s) => Type.Literal(s))),
    /** An error code from shared/errors.ts when failed, rolled-back, rejected or deferred. */
    reason: Type.Optional(Type.String({ maxLength: 80 })),
    message: Type.Optional(Type.String({ maxLength: 500 })),
    /** Download progress, bytes. */
    bytes: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false, title: 'update state' },
);
export type UpdateStateData = Static<typeof UpdateStateData>;
