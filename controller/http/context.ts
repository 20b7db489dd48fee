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
  }
}

export type MediaIngest = Pick<MediaLibrary, 'ingest' | 'openRange' | 'has' | 'remove'>;

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
  /** Drops a device's broker connection (after revocation). */
  disconnectDevice: (deviceId: string) => void;
}

/** The signed-in user, or 401. */
export function userOf(req: FastifyRequest): User {
  if (!req.user) throw new Error('route needs a user but auth mode let none through');
  return req.user;
}
