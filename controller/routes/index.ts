import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../http/context.js';
import { registerCap } from './cap.js';
import { registerCommands } from './commands.js';
import { registerDevices } from './devices.js';
import { registerEmergency } from './emergency.js';
import { registerDeviceImport } from './devices-import.js';
import { registerLifecycle } from './lifecycle.js';
import { registerLive } from './live.js';
import { registerPairing } from './pairing.js';
import { registerPrograms } from './programs.js';
import { registerPublicFeed } from './public-feed.js';
import { registerReports } from './reports.js';
import { registerSchedules } from './schedules.js';
import { registerScreenshots } from './screenshots.js';
import { registerMedia } from './media.js';
import { registerSystem } from './system.js';
import { registerTrust } from './trust.js';
import { registerUsers } from './users.js';
import { registerZones } from './zones.js';
import { registerApiTokens } from './api-tokens.js';
import { registerEventsStream } from './events-stream.js';
import { registerTts } from './tts.js';
import { registerWeb } from '../web/index.js';
import { registerReleases } from './releases.js';
import { registerDeployments } from './deployments.js';

export function registerRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerSystem(app, ctx);
  registerZones(app, ctx);
  registerUsers(app, ctx);
  registerDevices(app, ctx);
  registerDeviceImport(app, ctx);
  registerPairing(app, ctx);
  registerLifecycle(app, ctx);
  registerMedia(app, ctx);
  registerPrograms(app, ctx);
  registerSchedules(app, ctx);
  registerReports(app, ctx);
  registerTrust(app, ctx);
  registerEmergency(app, ctx);
  registerLive(app, ctx);
  registerCap(app, ctx);
  registerApiTokens(app, ctx);
  registerEventsStream(app, ctx);
  registerTts(app, ctx);
  registerCommands(app, ctx);
  // issue 8: board screenshots (contract D) and the public emergency feed
  registerScreenshots(app, ctx);
  registerPublicFeed(app, ctx);
  registerReleases(app, ctx); // issue 11: agent releases and staged rollouts
  registerDeployments(app, ctx);
  registerWeb(app, ctx); // issue 7: the dashboard, its API and the CSRF check
}
