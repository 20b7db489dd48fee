import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { openBundle } from '../../agent/bundle.js';
import { loadProfile } from '../../agent/config/profile.js';
import { ensureKey, initIdentity, loadIdentity } from '../../agent/identity.js';
import { ManifestManager } from '../../agent/manifest/manager.js';
import { MediaStore } from '../../agent/media/store.js';
import { openDb, type Db } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { loadControllerConfig } from '../../agent/sync/config.js';
import { completeEnrollment, requestEnrollment } from '../../agent/sync/enroll.js';
import { SyncSettings } from '../../agent/sync/settings.js';
import { TelemetryQueue } from '../../agent/sync/telemetry-queue.js';
import { createLogger } from '../../shared/log.js';
import { registerAgentPair } from './agent-pair-command.js';
import { runAgent } from './agent-run.js';


/** The store of a data dir, for one-shot commands (init, import, status); closes it after `fn`. */
async function withStore<T>(dataDir: string, deviceId: string, fn: (s: { db: Db; outbox: Outbox; manager: ManifestManager; media: MediaStore }) => T | Promise<T>): Promise<T> {
  const db = openDb({ path: join(dataDir, 'agent.db') });
  try {
    const log = createLogger('cli');
    const outbox = new Outbox({ db, deviceId: () => deviceId });
    const media = new MediaStore({ dataDir, db, log, now: Date.now });
    media.init();
    const manager = new ManifestManager({ db, outbox, media, log, deviceId, now: Date.now });
    return await fn({ db, outbox, manager, media });
  } finally {
    db.close();
  }
}

export function registerAgent(program: Command): void {
  const a = program.command('agent').description('The receiver agent: offline-first playback of a signed schedule');
  a.command('run', { isDefault: true })
    .description('Run the agent (plays the schedule in force; needs no network)')
    .requiredOption('--data-dir <dir>', 'state folder (database, media, keys)')
    .requiredOption('--profile <file>', 'hardware profile JSON (see hardware-profiles/)')
    .action(async (o: { dataDir: string; profile: string }) => runAgent(o.dataDir, o.profile));
  a.command('init')
    .description('Give this receiver its identity key and device id, and install the trust root')
    .requiredOption('--data-dir <dir>', 'state folder')
    .requiredOption('--device-id <id>', 'device id from the controller')
    .requiredOption('--root <file>', 'root.json of the province (from `loa keys init`)')
    .action(async (o: { dataDir: string; deviceId: string; root: string }) => {
      const id = initIdentity(o.dataDir, o.deviceId);
      const root = await withStore(o.dataDir, id.deviceId, ({ manager }) => manager.installRoot(JSON.parse(readFileSync(o.root, 'utf8'))));
      console.log(JSON.stringify({ deviceId: id.deviceId, keyid: id.keyid, rootVersion: root.version }));
    });
  a.command('enroll')
    .description('Enroll this receiver with a controller: make its key if needed, bind it with a one-time token, install the trust root, and write device.json and controller.json (the agent then syncs)')
    .requiredOption('--data-dir <dir>', 'state folder')
    .requiredOption('--controller <url>', 'controller URL, e.g. https://loa.example.vn')
    .requiredOption('--token <token>', 'one-time enrollment token from the controller')
    .option('--profile <name>', 'hardware profile name (or a profile JSON file, whose id is sent)')
    .addHelpText('after', `
Prints one JSON line: {"enrolled":true,"deviceId":…,"zoneId":…,"keyid":…,"rootVersion":…,"controllerUrl":…,"mqttUrl":…}.
Errors: LOA_ERR_ENROLL_FAILED (controller unreachable, server error, bad answer), LOA_ERR_ENROLL_TOKEN (token
refused or malformed), or the controller's own code for other refusals.`)
    .action(async (o: { dataDir: string; controller: string; token: string; profile?: string }) => {
      console.log(JSON.stringify(await enroll(o)));
    });
  registerAgentPair(a);
  a.command('import')
    .description('Load a signed manifest and its media from a folder or USB stick, fully offline')
    .requiredOption('--data-dir <dir>', 'state folder')
    .argument('<bundle>', 'folder with manifest.json, media/<sha256> and optionally root.json')
    .action(async (bundle: string, o: { dataDir: string }) => {
      const id = loadIdentity(o.dataDir);
      const env = await withStore(o.dataDir, id.deviceId, ({ manager }) => manager.installBundle(openBundle(bundle)));
      console.log(JSON.stringify({ imported: true, version: env.signed.version, media: env.signed.media.length, entries: env.signed.schedule.length }));
    });
  a.command('status')
    .description('Show the manifest in force, the sync state (when enrolled with a controller) and the newest events')
    .requiredOption('--data-dir <dir>', 'state folder')
    .option('--events <n>', 'how many recent events', '20')
    .action(async (o: { dataDir: string; events: string }) => {
      const id = loadIdentity(o.dataDir);
      const controller = loadControllerConfig(o.dataDir);
      const out = await withStore(o.dataDir, id.deviceId, ({ db, outbox, manager }) => ({
        deviceId: id.deviceId, manifestVersion: manager.currentVersion(), unsent: outbox.pending(100000).length,
        sync: controller ? { ...controller, ...new SyncSettings(db).all(), telemetryQueued: new TelemetryQueue({ db }).count() } : null,
        events: outbox.list().slice(-Number(o.events)),
      }));
      console.log(JSON.stringify(out, null, 2));
    });
}

/** `loa agent enroll`: every step that can fail on the network happens before anything is written. */
export async function enroll(o: { dataDir: string; controller: string; token: string; profile?: string; fetch?: typeof fetch }): Promise<Record<string, unknown>> {
  const key = ensureKey(o.dataDir);
  const profileName = o.profile && o.profile.endsWith('.json') && existsSync(o.profile) ? loadProfile(o.profile).id : o.profile;
  const res = await requestEnrollment({
    controllerUrl: o.controller, token: o.token, publicKey: key.publicKey,
    ...(profileName ? { hardwareProfile: profileName } : {}), ...(o.fetch ? { fetch: o.fetch } : {}),
  });
  return { ...completeEnrollment(o.dataDir, res) };
}
