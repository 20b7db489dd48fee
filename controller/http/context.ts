import type {} from '@fastify/cookie';
import type {} from '@fastify/rate-limit';
import type {} from '@fastify/swagger';
import type {} from '@fastify/multipart';
import type { MediaLibrary } from '../media/library.js';
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import type { ControllerConfig } from '../config.js';
import type { DataLayer } from '../data/index.js';
import type { User } from '../data/users.js';
import type { Permission } from '../auth/policy.js';
import type { ManifestCompiler } from '../manifests/compiler.js';
import type { TelemetryRepo } from '../data/telemetry.js';
import type { TrustReloadResult } from '../keys.js';
import type { EmergencySigner, FanOutResult } from '../emergency/signer.js';
import type { TtsService } from '../tts/service.js';
import type { EventHub } from '../telemetry/hub.js';
import type { CommandSigner } from '../commands/signer.js';
import type { ReleaseStore } from '../releases/store.js';
import type { RolloutService } from '../releases/rollout.js';

export interface TrustAccess {
  /** Every signed root version, oldest first. */
  chain(): readonly unknown[];
  /** Switches to the keys folder's newer root and schedule key, after checking they chain from the current ones. */
  reload(by: { actor: string; ip: string | null }): Promise<TrustReloadResult>;
}

/** Emergency orders (issue 6): the key in force and the fan-out to devices. */
export interface EmergencyAccess {
  /** The emergency key in force; null when the keys folder has no emergency.key (routes that sign answer 503). */
  signer(): EmergencySigner | null;
  /** Publishes one signed order (QoS 1) on each device's own emergency topic. */
  publish(deviceIds: readonly string[], body: string): Promise<FanOutResult>;
}

/** Signed device commands (issue 7): the schedule key in force and the publish on the device's own cmd topic. */
export interface CommandAccess {
  signer(): CommandSigner;
  /** Publishes one signed command (QoS 1) on `loa/v1/dev/{id}/cmd`. */
  publish(deviceId: string, body: string): Promise<void>;
}

export type AuthMode = 'public' | 'user' | 'device' | 'user-or-device';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (default 'user'). */
    auth?: AuthMode;
    /** The permission the route needs, checked against the zone of the resource (authorization matrix). */
    perm?: Permission;
  }
  interface FastifyRequest {
    user: User | null;
    deviceId: string | null;
    /** The API token (`loat_…`) the user authenticated with, when not a session (contract C). */
    apiTokenId: string | null;
  }
}

export type MediaIngest = Pick<MediaLibrary, 'ingest' | 'ingestUpload' | 'openRange' | 'has' | 'remove'>;

export interface AppContext {
  config: ControllerConfig;
  data: DataLayer;
  clock: Clock;
  log: Logger;
  compiler: ManifestCompiler;
  telemetry: TelemetryRepo;
  media: MediaIngest;
  metrics: Registry;
  /** The signed root metadata devices trust (handed out at enrollment). */
  root: unknown;
  urls: { http: () => string; mqtt: () => string };
  /** The chain of signed roots served to devices, and the verified reload of a rotated root (issue 5). */
  trust: TrustAccess;
  /** Drops a device's broker connection (after revocation). */
  disconnectDevice: (deviceId: string) => void;
  emergency: EmergencyAccess;
  commands: CommandAccess;
  /** Text to speech into the media library (espeak-ng, or the HTTP engine of the `tts` configuration). */
  tts: Pick<TtsService, 'speak'>;
  /** The live event stream's hub (contract A, issue 9): device statuses, device events, emergency progress. */
  events: EventHub;
  /** Agent release artifacts (issue 11), content-addressed under <dataDir>/releases. */
  releases: ReleaseStore;
  /** Deployments of releases in waves (issue 11). */
  rollout: RolloutService;
}

/** The signed-in user, or 401. */
export function userOf(req: FastifyRequest): User {
  if (!req.user) throw new Error('route needs a user but auth mode let none through');
  return req.user;
}
