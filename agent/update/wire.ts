/**
 * Builds the updater from the running agent's parts (kept out of agent.ts, so the supervisor only starts and
 * stops it). Loaded only when the agent syncs with a controller: updates arrive in its signed manifests.
 */
import type { Clock } from '../../shared/clock.js';
import { toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AudioSink } from '../../shared/player.js';
import type { OutputZone } from '../../shared/schemas/hardware-profile.js';
import type { UpdateStateData } from '../../shared/schemas/release.js';
import type { ManifestManager } from '../manifest/manager.js';
import { verifyManifest } from '../manifest/verify.js';
import type { OutputController } from '../outputs/controller.js';
import { checkRelays } from '../outputs/relay-check.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { ControllerHttp } from '../sync/http.js';
import { detectLayout } from './layout.js';
import { Updater } from './updater.js';
import { runningRelease } from './version.js';

export interface UpdaterParts {
  dataDir: string;
  deviceId: string;
  controllerUrl: string;
  token: () => string;
  clock: Clock;
  log: Logger;
  manager: ManifestManager;
  scheduler: Scheduler;
  sink: AudioSink;
  outputs: OutputController;
  zones: readonly OutputZone[];
  connected: () => boolean;
  event: (dedupe: string, data: UpdateStateData) => void;
  restart: (reason: string) => void;
  checkMs?: number;
  marginMs?: number;
}

export function createUpdater(p: UpdaterParts): Updater {
  return new Updater({
    dataDir: p.dataDir, clock: p.clock, log: p.log, running: runningRelease(), layout: detectLayout(),
    root: () => p.manager.root(), desired: () => p.manager.current()?.signed.agentUpdate,
    report: p.event, restart: p.restart,
    http: new ControllerHttp({ baseUrl: p.controllerUrl, token: p.token }),
    view: {
      nowPlaying: () => p.scheduler.nowPlaying(),
      nextStart: () => p.scheduler.upcoming(1)[0]?.start ?? null,
    },
    probes: {
      manifest: () => {
        const root = p.manager.root();
        const cur = p.manager.current();
        if (!root) return 'no trust root is installed';
        if (!cur) return null;
        try {
          verifyManifest(cur, { root, deviceId: p.deviceId, currentVersion: cur.signed.version - 1, now: Date.parse(cur.signed.issuedAt) });
          return null;
        } catch (e) {
          return `${toLoaError(e).code}: ${(e as Error).message}`;
        }
      },
      selfTest: async () => {
        try {
          await p.sink.check();
        } catch (e) {
          return `player: ${toLoaError(e).code}: ${(e as Error).message}`;
        }
        const relays = await checkRelays(p.outputs, p.zones, { clock: p.clock });
        const bad = relays.channels.find((c) => c.status === 'failed');
        return bad ? `relays: channel ${bad.channel} failed${bad.code ? ` (${bad.code})` : ''}` : null;
      },
      broker: p.connected,
    },
    ...(p.checkMs !== undefined ? { checkMs: p.checkMs } : {}), ...(p.marginMs !== undefined ? { marginMs: p.marginMs } : {}),
  });
}
