// Real audio (and not-audio) inputs for the media library tests, made with espeak-ng, sox and ffmpeg, plus
// measurements that do not go through the code under test (ffmpeg's ebur128 meter, ffprobe).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export interface Fixtures {
  dir: string;
  /** espeak-ng, Vietnamese, ~2.2 s, 22.05 kHz mono, peaks near 0 dBFS (needs the limiter to reach -16). */
  speech: string;
  /** 3 s of 440 Hz at -26 dBFS, 44.1 kHz stereo. */
  quiet: string;
  /** 3 s of 440 Hz at -0.5 dBFS, 44.1 kHz stereo. */
  loud: string;
  /** 2 s of digital silence. */
  silence: string;
  mp3: string;
  m4a: string;
  webm: string;
  /** A 1 s MPEG-4 video with no sound. */
  videoOnly: string;
  /** A 1 s MPEG-4 video with the speech as its sound. */
  videoWithAudio: string;
  png: string;
  text: string;
  /** Seeded pseudo-random bytes. */
  random: string;
  /** Pseudo-random bytes after an MPEG audio frame header (file-type calls this mp3). */
  fakeMp3: string;
  cleanup: () => void;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A deterministic byte generator (xorshift32), so a failure can be reproduced. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'loa-media-fx-'));
  const p = (name: string): string => join(dir, name);
  const ff = (...args: string[]): void => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  run('espeak-ng', ['-v', 'vi', '-w', p('speech.wav'), 'Thông báo của Ủy ban nhân dân xã']);
  run('sox', ['-n', '-r', '44100', '-c', '2', p('quiet.wav'), 'synth', '3', 'sine', '440', 'vol', '0.05']);
  run('sox', ['-n', '-r', '44100', '-c', '2', p('loud.wav'), 'synth', '3', 'sine', '440', 'vol', '0.95']);
  run('sox', ['-n', '-r', '44100', '-c', '1', p('silence.wav'), 'trim', '0', '2']);
  ff('-i', p('speech.wav'), '-metadata', 'title=Bản tin bí mật', '-c:a', 'libmp3lame', '-b:a', '64k', p('speech.mp3'));
  ff('-i', p('speech.wav'), '-metadata', 'title=Bản tin bí mật', '-c:a', 'aac', '-b:a', '64k', p('speech.m4a'));
  ff('-i', p('speech.wav'), '-metadata', 'title=Bản tin bí mật', '-c:a', 'libopus', '-b:a', '48k', p('speech.webm'));
  ff('-f', 'lavfi', '-i', 'testsrc=d=1:s=64x64:r=10', '-c:v', 'mpeg4', p('video-only.mp4'));
  ff('-f', 'lavfi', '-i', 'testsrc=d=2:s=64x64:r=10', '-i', p('speech.wav'), '-c:v', 'mpeg4', '-c:a', 'aac', '-shortest', p('video-with-audio.mp4'));
  ff('-f', 'lavfi', '-i', 'color=c=red:s=16x16', '-frames:v', '1', p('image.png'));
  writeFileSync(p('notes.txt'), 'Thông báo: họp dân lúc 8 giờ sáng thứ Hai tại nhà văn hóa thôn.\n'.repeat(200));
  writeFileSync(p('random.bin'), pseudoRandomBytes(64 * 1024));
  writeFileSync(p('fake.mp3'), Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), pseudoRandomBytes(64 * 1024, 7)]));
  return {
    dir,
    speech: p('speech.wav'), quiet: p('quiet.wav'), loud: p('loud.wav'), silence: p('silence.wav'),
    mp3: p('speech.mp3'), m4a: p('speech.m4a'), webm: p('speech.webm'),
    videoOnly: p('video-only.mp4'), videoWithAudio: p('video-with-audio.mp4'),
    png: p('image.png'), text: p('notes.txt'), random: p('random.bin'), fakeMp3: p('fake.mp3'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Integrated loudness (LUFS) and true peak (dBTP) from ffmpeg's own EBU R128 meter. */
export function ebur128(path: string): { integrated: number; truePeak: number } {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-af', 'ebur128=framelog=verbose:peak=true', '-f', 'null', '-'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ebur128 failed on ${path}: ${r.stderr.slice(-500)}`);
  const stderr = r.stderr;
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const i = /I:\s+(-?[\d.]+) LUFS/.exec(summary);
  const tp = /Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary);
  if (!i?.[1] || !tp?.[1]) throw new Error(`no ebur128 summary for ${path}`);
  return { integrated: Number(i[1]), truePeak: tp[1] === '-inf' ? -Infinity : Number(tp[1]) };
}

export interface Probed {
  formatName: string;
  durationMs: number;
  streams: Array<{ codec_type: string; codec_name: string; channels?: number; sample_rate?: string }>;
  tags: Record<string, string>;
}

export function ffprobe(path: string): Probed {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path], { encoding: 'utf8' });
  const j = JSON.parse(out) as { format: { format_name: string; duration: string; tags?: Record<string, string> }; streams: Probed['streams'] };
  return { formatName: j.format.format_name, durationMs: Math.round(Number(j.format.duration) * 1000), streams: j.streams, tags: j.format.tags ?? {} };
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file under a folder, relative, recursively (folders themselves are not listed). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full, join(rel, name));
      else out.push(join(rel, name));
    }
  };
  walk(dir, '');
  return out.sort();
}

/** A file as an upload stream of small chunks, like a multipart part. */
export function uploadOf(path: string): Readable {
  const data = readFileSync(path);
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 16 * 1024) chunks.push(data.subarray(i, i + 16 * 1024));
  return Readable.from(chunks);
}

/** The child processes of this test process named `name` (from /proc), to prove none outlives an abort. */
export function childProcesses(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && comm === name) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}
