import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Agent } from '../../agent/agent.js';
import { parseProfile } from '../../agent/config/profile.js';
import { initIdentity } from '../../agent/identity.js';
import { readFileSync } from 'node:fs';
import { sha256Hex, signEnvelope } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import type { Manifest } from '../../shared/schemas/manifest.js';
import { toneWav } from '../../shared/wav.js';
import { initKeys } from './keys.js';

function localStamp(ms: number): string {
  return new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);
}

/** Builds keys, a signed three-program manifest and a bundle, then runs an agent on it with the file sink. */
export async function runDemo(dirArg: string, minutes: number): Promise<void> {
  const dir = resolve(dirArg);
  rmSync(dir, { recursive: true, force: true });
  const say = (s: string): void => console.log(`[demo] ${s}`);
  say(`working folder ${dir}`);
  const keys = initKeys(join(dir, 'keys'), 3, 2, 1, (s) => say(s));
  const bundle = join(dir, 'bundle');
  mkdirSync(join(bundle, 'media'), { recursive: true });
  const tones = [{ hz: 440, s: 4 }, { hz: 660, s: 3 }, { hz: 880, s: 2 }].map(({ hz, s }) => {
    const wav = toneWav({ seconds: s, hz });
    const sha = sha256Hex(wav);
    writeFileSync(join(bundle, 'media', sha), wav);
    return { sha256: sha, size: wav.length, durationMs: s * 1000, mime: 'audio/wav' };
  });
  const start = Math.ceil((Date.now() + 15_000) / 60_000) * 60_000;
  const manifest: Manifest = {
    _type: 'manifest', schemaVersion: 1, deviceId: 'demo-thon-1', version: 1,
    issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), timezone: 'Asia/Ho_Chi_Minh',
    media: tones,
    programs: [
      { id: 'ban-tin-sang', title: 'Bản tin sáng', items: [{ kind: 'media', sha256: tones[0]!.sha256 }, { kind: 'media', sha256: tones[2]!.sha256 }] },
      { id: 'thong-bao', title: 'Thông báo của UBND xã', items: [{ kind: 'media', sha256: tones[1]!.sha256 }] },
      { id: 'canh-bao', title: 'Cảnh báo thiên tai', items: [{ kind: 'media', sha256: tones[2]!.sha256 }] },
    ],
    schedule: [
      { id: 'moi-phut', programId: 'ban-tin-sang', dtstart: localStamp(start), rrule: 'FREQ=MINUTELY;INTERVAL=1', priority: 'normal', volume: 70, outputs: [], onPreempt: 'resume', maxDelayMs: 30_000 },
      { id: 'thong-bao', programId: 'thong-bao', dtstart: localStamp(start + 20_000), rrule: 'FREQ=MINUTELY;INTERVAL=2', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 30_000 },
      { id: 'uu-tien', programId: 'canh-bao', dtstart: localStamp(start + 62_000), rrule: 'FREQ=MINUTELY;INTERVAL=3', priority: 'priority', volume: 100, outputs: [], onPreempt: 'restart', maxDelayMs: 30_000 },
    ],
  };
  const env = signEnvelope(manifest, [readFileSync(keys.schedule, 'utf8')]);
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(env, null, 2));
  say(`signed manifest v1 with ${manifest.schedule.length} schedule entries → ${bundle}`);
  const data = join(dir, 'device');
  initIdentity(data, manifest.deviceId);
  const profile = parseProfile(JSON.stringify({
    id: 'demo', name: 'Demo receiver (file sink, no relays)', audio: { driver: 'file', device: join(data, 'sink') },
    relay: { type: 'none' }, outputs: [{ name: 'loa', channels: [], warmupMs: 1000, cooldownMs: 2000 }],
  }));
  const log = createLogger('demo', { level: process.env.LOA_LOG_LEVEL ?? 'warn' });
  const agent = new Agent({ dataDir: data, profile, log });
  await agent.start();
  await agent.importRootThenBundle(join(keys.dir, 'root.json'), bundle);
  say(`agent running; first play at ${localStamp(start).slice(11)} (Asia/Ho_Chi_Minh). Plays are written to ${join(data, 'sink')}`);
  say('Ctrl+C to stop');
  let seen = 0;
  const timer = setInterval(() => {
    for (const e of agent.events().slice(seen)) {
      if (e.type.startsWith('play.')) say(`${localStamp(e.at).slice(11)} ${e.type} ${String(e.data.entryId)} ${e.type === 'play.end' ? String(e.data.status) : ''}`);
    }
    seen = agent.events().length;
  }, 500);
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await agent.stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (minutes > 0) setTimeout(() => void stop(), minutes * 60_000);
}

export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description('Run the demo: controller on :8080 with its MQTT broker, and three agents on a seeded demo province')
    .option('--dir <dir>', 'working folder (kept between runs)', '.loa-demo')
    .option('--port <n>', 'HTTP port', process.env.PORT ?? '8080')
    .option('--mqtt-port <n>', 'MQTT port of the embedded broker', process.env.LOA_MQTT_PORT ?? '1883')
    .action(async (o: { dir: string; port: string; mqttPort: string }) => {
      const { runControllerDemo } = await import('./demo-controller.js');
      await runControllerDemo(o.dir, Number(o.port), Number(o.mqttPort));
    });
  demo
    .command('offline')
    .description('Agent only, no network: keys, a signed three-program manifest as an offline bundle, and an agent playing it')
    .option('--dir <dir>', 'working folder (recreated)', '.loa-demo-offline')
    .option('--minutes <n>', 'stop after this many minutes (0 = until Ctrl+C)', '0')
    .action(async (o: { dir: string; minutes: string }) => runDemo(o.dir, Number(o.minutes)));
}
