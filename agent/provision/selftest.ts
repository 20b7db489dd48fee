/**
 * The receiver self-test (`loa selftest`, and step 6 of `loa provision`): every relay channel on and off, read
 * back where the board can report its state (Modbus coils, GPIO lines; LCUS boards cannot), then a 1 kHz tone
 * on each output zone with its amplifier relays on, through the profile's audio sink. One row per step.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SystemClock, type Clock } from '../../shared/clock.js';
import { toLoaError, type ErrorCode } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { RelayDriver } from '../../shared/outputs.js';
import type { AudioSink } from '../../shared/player.js';
import type { HardwareProfile, OutputZone } from '../../shared/schemas/hardware-profile.js';
import { toneWav } from '../../shared/wav.js';
import { readBackMismatch } from '../outputs/channel-check.js';
import { createRelayDriver, type RelayDriverDeps } from '../outputs/resolve.js';
import { createAudioSink } from '../player/resolve.js';
import { underRoot } from './detect.js';

export type SelftestStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface SelftestRow {
  n: number;
  step: string;
  status: SelftestStatus;
  detail: string;
  kind: 'relay' | 'audio';
  /** Relay rows: the channel (0-based, as in the profile). */
  channel?: number;
  /** Tone rows: the output zone. */
  output?: string;
  code?: ErrorCode;
  /** Tone rows with the file sink: the recorded file. */
  file?: string;
  ms: number;
}

export interface SelftestResult {
  ok: boolean;
  profile: string;
  rows: SelftestRow[];
  failed: SelftestRow[];
}

export interface SelftestOptions {
  profile: HardwareProfile;
  /** Tone file, file-sink recordings and selftest.json go to <dataDir>/selftest. */
  dataDir: string;
  /** Tone length per output, ms. Default 1500. */
  toneMs?: number;
  /** Device paths in the profile are read under this root (provisioning a mounted image). Default `/`. */
  root?: string;
  /** Wait between a switch and its read-back, ms. Default 100. */
  settleMs?: number;
  /** Honour each zone's warmupMs before its tone (default true). */
  warmup?: boolean;
  clock?: Clock;
  log?: Logger;
  relayDeps?: Partial<RelayDriverDeps>;
  /** Replaces the profile's audio sink. */
  sink?: AudioSink;
  /** Called as each row is decided (progress output). */
  onRow?: (row: SelftestRow) => void;
  signal?: AbortSignal;
}

/** The profile with its device paths moved under `root` (a no-op for `/`). */
function atRoot(profile: HardwareProfile, root: string): HardwareProfile {
  if (root === '/') return profile;
  const r = profile.relay;
  if (r.type === 'lcus' || r.type === 'modbus-rtu') return { ...profile, relay: { ...r, port: underRoot(root, r.port) } };
  if (r.type === 'gpio') return { ...profile, relay: { ...r, chip: underRoot(root, r.chip ?? '/dev/gpiochip0') } };
  return profile;
}

function describeBoard(p: HardwareProfile): string {
  const r = p.relay;
  switch (r.type) {
    case 'lcus':
    case 'modbus-rtu':
      return `${r.type} on ${r.port}, ${r.channels} channel(s)`;
    case 'gpio':
      return `gpio on ${r.chip ?? '/dev/gpiochip0'}, lines ${r.lines.join(',')}`;
    case 'none':
      return 'none';
  }
}

export async function runSelftest(o: SelftestOptions): Promise<SelftestResult> {
  const clock = o.clock ?? new SystemClock();
  const log = o.log ?? createLogger('selftest');
  const profile = atRoot(o.profile, o.root ?? '/');
  const toneMs = o.toneMs ?? 1500;
  const settleMs = o.settleMs ?? 100;
  const rows: SelftestRow[] = [];
  const outDir = join(o.dataDir, 'selftest');
  mkdirSync(outDir, { recursive: true });

  const row = (r: Omit<SelftestRow, 'n' | 'ms'>, started: number): SelftestRow => {
    const full: SelftestRow = { n: rows.length + 1, ...r, ms: Math.round(clock.monotonic() - started) };
    rows.push(full);
    o.onRow?.(full);
    return full;
  };
  const fail = (e: unknown): { code: ErrorCode; detail: string } => {
    const err = toLoaError(e);
    return { code: err.code, detail: `${err.code}: ${err.message}` };
  };

  // 1. The relay board.
  let driver: RelayDriver | null = null;
  const channels = profile.relay.type === 'none' ? 0 : profile.relay.type === 'gpio' ? profile.relay.lines.length : profile.relay.channels;
  let t0 = clock.monotonic();
  if (profile.relay.type === 'none') {
    row({ kind: 'relay', step: 'relay board', status: 'SKIP', detail: 'the profile has no relay board' }, t0);
  } else {
    const d = createRelayDriver(profile.relay, { clock, log: log.child({ m: 'relay' }), ...o.relayDeps });
    try {
      await d.start(o.signal);
      await d.setAll(false);
      driver = d;
      row({ kind: 'relay', step: 'relay board', status: 'PASS', detail: `${describeBoard(o.profile)}; all off${d.supportsReadBack ? ', reads back' : ', no read-back on this board'}` }, t0);
    } catch (e) {
      await d.stop();
      row({ kind: 'relay', step: 'relay board', status: 'FAIL', ...fail(e) }, t0);
    }
  }

  // 2. Each channel on, then off, read back where the board can.
  const readBack = (want: boolean[]): Promise<string | null> =>
    (driver ? readBackMismatch(driver, want, { clock, settleMs, ...(o.signal ? { signal: o.signal } : {}) }) : Promise.resolve(null));
  if (driver) {
    for (let ch = 0; ch < channels; ch++) {
      for (const on of [true, false]) {
        t0 = clock.monotonic();
        const step = `relay ch${ch} ${on ? 'on' : 'off'}`;
        try {
          await driver.set(ch, on);
          const want = Array.from({ length: channels }, (_, i) => i === ch && on);
          const wrong = await readBack(want);
          if (wrong === null) row({ kind: 'relay', channel: ch, step, status: 'PASS', detail: 'switched (the board cannot be read back)' }, t0);
          else if (wrong === '') row({ kind: 'relay', channel: ch, step, status: 'PASS', detail: `read back: ${on ? 'on' : 'off'}` }, t0);
          else {
            row({ kind: 'relay', channel: ch, step, status: 'FAIL', code: 'LOA_ERR_RELAY_READBACK', detail: `LOA_ERR_RELAY_READBACK: relay channel ${ch} was switched ${on ? 'on' : 'off'} but ${wrong}` }, t0);
            await driver.set(ch, false).catch(() => undefined);
          }
        } catch (e) {
          row({ kind: 'relay', channel: ch, step, status: 'FAIL', ...fail(e) }, t0);
        }
      }
    }
  }

  // 3. The audio output, then a 1 kHz tone on each zone with its amplifier relays on.
  t0 = clock.monotonic();
  const sink = o.sink ?? createAudioSink(profile.audio, { clock, log: log.child({ m: 'player' }), fileDir: outDir });
  let sinkOk = false;
  try {
    await sink.check();
    sinkOk = true;
    row({ kind: 'audio', step: 'audio output', status: 'PASS', detail: `${profile.audio.driver} ${profile.audio.driver === 'file' ? outDir : profile.audio.device}` }, t0);
  } catch (e) {
    row({ kind: 'audio', step: 'audio output', status: 'FAIL', ...fail(e) }, t0);
  }
  const tone = toneWav({ seconds: toneMs / 1000, hz: 1000, rate: 48000, amplitude: 0.5 });
  const tonePath = join(outDir, 'tone-1khz.wav');
  writeFileSync(tonePath, tone);
  const sha256 = createHash('sha256').update(tone).digest('hex');
  for (const zone of o.profile.outputs) {
    t0 = clock.monotonic();
    const step = `output ${zone.name} tone`;
    if (!sinkOk) {
      row({ kind: 'audio', output: zone.name, step, status: 'SKIP', detail: 'no audio output' }, t0);
      continue;
    }
    const r = await toneOnZone(zone);
    row({ kind: 'audio', output: zone.name, step, ...r }, t0);
  }

  async function toneOnZone(zone: OutputZone): Promise<Pick<SelftestRow, 'status' | 'detail' | 'code' | 'file'>> {
    const problems: string[] = [];
    let code: ErrorCode | undefined;
    if (driver && zone.channels.length) {
      try {
        for (const ch of zone.channels) await driver.set(ch, true);
        const want = Array.from({ length: channels }, (_, i) => zone.channels.includes(i));
        const wrong = await readBack(want);
        if (wrong) {
          code = 'LOA_ERR_RELAY_READBACK';
          problems.push(`amplifier relays did not switch on (${wrong})`);
        }
      } catch (e) {
        const f = fail(e);
        code = f.code;
        problems.push(`amplifier relays: ${f.detail}`);
      }
      if (o.warmup !== false && zone.warmupMs > 0) await clock.sleep(zone.warmupMs, o.signal);
    }
    let file: string | undefined;
    try {
      const result = await sink.play(
        { key: `selftest:${zone.name}`, source: { kind: 'file', path: tonePath, sha256, durationMs: toneMs }, offsetMs: 0, volume: 80 },
        o.signal ?? new AbortController().signal,
      );
      if (result.status !== 'completed') {
        code ??= result.error?.code ?? 'LOA_ERR_PLAYER_FAILED';
        problems.push(`tone ${result.status}${result.error ? `: ${result.error.message}` : ''}`);
      }
      if (sink.kind === 'file') file = lastRecordedFile(outDir);
    } finally {
      if (driver) for (const ch of zone.channels) await driver.set(ch, false).catch(() => undefined);
    }
    const where = zone.channels.length ? ` with relay channel(s) ${zone.channels.join(',')} on` : '';
    if (problems.length) return { status: 'FAIL', code, detail: `${code ? `${code}: ` : ''}${problems.join('; ')}`, ...(file ? { file } : {}) };
    return { status: 'PASS', detail: `1 kHz for ${(toneMs / 1000).toFixed(1)} s${where}${file ? ` → ${file}` : ''}`, ...(file ? { file } : {}) };
  }

  if (driver) {
    await driver.setAll(false).catch(() => undefined);
    await driver.stop();
  }
  const failed = rows.filter((r) => r.status === 'FAIL');
  const result: SelftestResult = { ok: failed.length === 0, profile: o.profile.id, rows, failed };
  writeFileSync(join(outDir, 'selftest.json'), JSON.stringify({ at: new Date(clock.now()).toISOString(), ...result }, null, 2) + '\n');
  return result;
}

/** The file the file sink recorded last (absolute), from its plays.jsonl. */
function lastRecordedFile(dir: string): string | undefined {
  try {
    const lines = readFileSync(join(dir, 'plays.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1] ?? '{}') as { file?: string };
    return last.file ? join(dir, last.file) : undefined;
  } catch {
    return undefined;
  }
}

/** The rows as a fixed-width table for a terminal. */
export function formatSelftestTable(result: SelftestResult): string {
  const w = Math.max(4, ...result.rows.map((r) => r.step.length));
  const lines = [`${' #'.padEnd(4)}${'step'.padEnd(w + 2)}result  detail`];
  for (const r of result.rows) lines.push(`${String(r.n).padStart(2)}  ${r.step.padEnd(w + 2)}${r.status.padEnd(8)}${r.detail}`);
  const pass = result.rows.filter((r) => r.status === 'PASS').length;
  const skip = result.rows.filter((r) => r.status === 'SKIP').length;
  lines.push(`${result.ok ? 'PASS' : 'FAIL'}: ${pass} passed, ${result.failed.length} failed${skip ? `, ${skip} skipped` : ''}${result.failed.length ? ` (${result.failed.map((r) => r.step).join('; ')})` : ''}`);
  return lines.join('\n');
}
