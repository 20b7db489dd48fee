import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex, signEnvelope } from '../shared/crypto.js';
import type { Manifest } from '../shared/schemas/manifest.js';
import { toneWav } from '../shared/wav.js';
import { initKeys } from '../scripts/cli/keys.js';

export const DEVICE_ID = 'bench-001';

/** Local wall time in Asia/Ho_Chi_Minh (UTC+7, no DST) as a manifest dtstart. */
export function localStamp(ms: number): string {
  return new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);
}

export interface AgentFixture {
  dataDir: string;
  profilePath: string;
}

function loa(root: string, args: string[]): string {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'loa.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'warn' } });
  if (r.status !== 0) throw new Error(`loa ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.slice(-800)}`);
  return r.stdout;
}

/**
 * A provisioned receiver, made through the real CLI: keys, `loa agent init`, then `loa agent import` of a
 * signed bundle with one small program whose next play is days away (so the agent sits idle), and a file-sink
 * hardware profile with an absolute sink folder.
 */
export function makeAgentFixture(root: string, dir: string): AgentFixture {
  const keys = initKeys(join(dir, 'keys'), 3, 2, 1);
  const bundle = join(dir, 'bundle');
  mkdirSync(join(bundle, 'media'), { recursive: true });
  const wav = toneWav({ seconds: 2, hz: 440 });
  const sha = sha256Hex(wav);
  writeFileSync(join(bundle, 'media', sha), wav);
  const now = Date.now();
  const firstPlay = Math.ceil((now + 3 * 86_400_000) / 3_600_000) * 3_600_000;
  const manifest: Manifest = {
    _type: 'manifest', schemaVersion: 1, deviceId: DEVICE_ID, version: 1,
    issuedAt: new Date(now - 60_000).toISOString(), expiresAt: new Date(now + 30 * 86_400_000).toISOString(), timezone: 'Asia/Ho_Chi_Minh',
    media: [{ sha256: sha, size: wav.length, durationMs: 2000, mime: 'audio/wav' }],
    programs: [{ id: 'ban-tin', title: 'Bản tin', items: [{ kind: 'media', sha256: sha }] }],
    schedule: [{ id: 'hang-ngay', programId: 'ban-tin', dtstart: localStamp(firstPlay), rrule: 'FREQ=DAILY', priority: 'normal', volume: 70, outputs: [], onPreempt: 'resume', maxDelayMs: 60_000 }],
  };
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(signEnvelope(manifest, [readFileSync(keys.schedule, 'utf8')])));

  const dataDir = join(dir, 'device');
  loa(root, ['agent', 'init', '--data-dir', dataDir, '--device-id', DEVICE_ID, '--root', join(keys.dir, 'root.json')]);
  const imported = JSON.parse(loa(root, ['agent', 'import', '--data-dir', dataDir, bundle])) as { imported?: boolean };
  if (imported.imported !== true) throw new Error('loa agent import did not import the bench bundle');

  const profilePath = join(dir, 'profile.json');
  writeFileSync(profilePath, JSON.stringify({
    id: 'bench-file-sink', name: 'Benchmark receiver: file sink, no relays', description: 'Written by npm run bench.',
    audio: { driver: 'file', device: join(dir, 'sink') }, relay: { type: 'none' },
    outputs: [{ name: 'loa', channels: [], warmupMs: 500, cooldownMs: 1000 }],
  }));
  return { dataDir, profilePath };
}
