import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { PlayRecord } from '../../agent/player/file-sink.js';
import { OggFramer } from '../../controller/live/frames.js';
import { startAgentProcess, startControllerProcess, stopAll } from '../support/loa-cli.js';
import { eventually } from '../support/wait.js';

const CHROMIUM = process.env.LOA_CHROMIUM ?? '/usr/bin/chromium';
const DEVICES = ['loa-live-1', 'loa-live-2'];

const playsOf = (agentDir: string): PlayRecord[] => {
  const f = join(agentDir, 'sink', 'plays.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PlayRecord) : [];
};
/** The agent's recording of the live stream (its file sink writes `audio/<seq>-stream.ogg` while it plays). */
const recordingOf = (agentDir: string): string | null => {
  const d = join(agentDir, 'sink', 'audio');
  const f = existsSync(d) ? readdirSync(d).find((n) => n.endsWith('-stream.ogg')) : undefined;
  return f ? join(d, f) : null;
};
/** Decodes a recording with ffmpeg and measures it with sox: length in seconds and RMS amplitude. */
function decoded(file: string, dir: string): { seconds: number; rms: number } {
  const wav = join(dir, `${file.split('/').pop()!}.wav`);
  const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', file, '-ac', '1', '-ar', '48000', wav], { encoding: 'utf8' });
  assert.equal(ff.status, 0, `ffmpeg decodes ${file}: ${ff.stderr}`);
  const st = spawnSync('sox', [wav, '-n', 'stat'], { encoding: 'utf8' }).stderr;
  const num = (label: string): number => Number(new RegExp(`${label}:\\s+([-0-9.e]+)`).exec(st)?.[1] ?? NaN);
  return { seconds: num('Length \\(seconds\\)'), rms: num('RMS\\s+amplitude') };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * How late each beep reached the agent: the beep's onset in the decoded recording is mapped to the Ogg page that
 * holds it (by granule position), and that page's end offset to the moment the file had grown that far (sampled
 * every 5 ms); minus the onset the operator's page measured on its microphone.
 */
function beepLatencies(rec: string, dir: string, growth: [number, number][], pageOnsets: number[]): number[] {
  const raw = join(dir, `${rec.split('/').pop()!}.raw`);
  assert.equal(spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', rec, '-f', 's16le', '-ac', '1', '-ar', '48000', raw]).status, 0);
  const pcm = readFileSync(raw);
  const found: number[] = [];
  let quiet = 0;
  for (let w = 0; (w + 1) * 480 * 2 <= pcm.length; w++) {
    let peak = 0;
    for (let i = 0; i < 480; i++) peak = Math.max(peak, Math.abs(pcm.readInt16LE((w * 480 + i) * 2)));
    if (peak < 0.02 * 32768) quiet++;
    else {
      if (peak > 0.1 * 32768 && quiet >= 30) found.push(w * 480);
      quiet = 0;
    }
  }
  const pages = new OggFramer().push(readFileSync(rec));
  let end = 0;
  const ends: { granule: number; end: number }[] = [];
  for (const p of pages) {
    end += p.unit.length;
    if (!p.header) ends.push({ granule: Number(p.unit.readBigUInt64LE(6)), end });
  }
  const start = (ends[0]?.granule ?? 0) - 960;
  const out: number[] = [];
  for (const s of found) {
    const page = ends.find((e) => e.granule >= start + s);
    const at = page && growth.find(([, size]) => size >= page.end)?.[0];
    const onset = at === undefined ? undefined : pageOnsets.filter((o) => o <= at).at(-1);
    if (at !== undefined && onset !== undefined && at - onset < 1500) out.push(at - onset);
  }
  return out;
}

test('live microphone: headless Chromium sends its (fake) microphone through the controller to two real agents, whose file sinks record decodable audio; cancelling the order stops them and they ack, and the page hangs up; its Kết thúc button ends a second broadcast the same way', { timeout: 180_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'loa-live-e2e-'));
  const children: ChildProcess[] = [];
  let browser: Browser | null = null;
  const logs: string[] = [];
  try {
    const ctl = await startControllerProcess(dir, 'live-admin-password');
    children.push(ctl.child);
    ctl.child.stderr!.on('data', (b: Buffer) => logs.push(`controller: ${b.toString()}`));
    const base = ctl.http;
    const { api } = ctl;
    const agentDirs: string[] = [];
    for (const id of DEVICES) {
      const agent = await startAgentProcess(api, base, join(dir, id), id, 'X01-C1');
      children.push(agent);
      agent.stderr!.on('data', (b: Buffer) => logs.push(`${id}: ${b.toString()}`));
      agentDirs.push(join(dir, id));
    }
    await eventually(async () => (await api.get<{ devices: { online: boolean }[] }>('/api/v1/devices?zoneId=X01')).devices.filter((d) => d.online).length === 2, 20_000, 'two agents online');

    // The "microphone": beeps (1.5 s of silence, then 0.5 s of a 440 Hz tone), looped by Chromium's fake capture
    // device. The page notes when each beep starts; the agents' recordings show when it arrived.
    const tone = join(dir, 'mic.wav');
    assert.equal(spawnSync('sox', ['-n', '-r', '48000', '-c', '1', tone, 'synth', '0.5', 'sine', '440', 'vol', '0.5', 'pad', '1.5', '0', 'repeat', '9']).status, 0, 'sox works');
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${tone}`, '--autoplay-policy=no-user-gesture-required', '--no-sandbox'],
    });
    const page = await browser.newPage();
    await page.goto(`${base}/live`);
    await page.fill('#login [name=username]', 'admin');
    await page.fill('#login [name=password]', 'live-admin-password');
    await page.click('#login button');
    await page.waitForSelector('#start:not(.hidden)');

    // The operator starts the live order from the page (the cluster, confirmed by retyping its name).
    const startedAt = Date.now();
    await page.fill('#start [name=zones]', 'X01-C1');
    await page.fill('#start [name=title]', 'Thông báo trực tiếp');
    await page.fill('#start [name=ttl]', '10');
    await page.fill('#start [name=confirm]', 'cụm loa thôn đông');
    await page.click('#start button[type=submit]');
    await page.waitForFunction(() => (globalThis as unknown as { loaLive: { state: string } }).loaLive.state !== 'connecting' && (globalThis as unknown as { loaLive: { state: string } }).loaLive.state !== 'idle', undefined, { timeout: 20_000 });
    const pageState = await page.evaluate(() => (globalThis as unknown as { loaLive: { state: string; sessionId: string; orderId: string; error: string | null } }).loaLive);
    assert.equal(pageState.state, 'live', `the page is live: ${JSON.stringify(pageState)}`);

    // First bytes on each agent's disk, polled every 5 ms.
    const firstBytes = new Map<string, number>();
    await eventually(() => {
      for (const d of agentDirs) {
        const f = recordingOf(d);
        if (!firstBytes.has(d) && f && statSync(f).size > 0) firstBytes.set(d, Date.now());
      }
      return firstBytes.size === agentDirs.length;
    }, 20_000, 'both agents record stream bytes').catch(async (err: unknown) => {
      t.diagnostic(`session: ${JSON.stringify(await api.get(`/api/v1/live/${pageState.sessionId}`).catch((e: unknown) => String(e)))}`);
      throw err;
    });
    type Status = { state: string; listeners: number; bytes: number; firstAudioAt: number | null; firstEncodedAt: number | null; orderId: string };
    const st = await api.get<Status>(`/api/v1/live/${pageState.sessionId}`);
    assert.equal(st.state, 'live');
    assert.equal(st.orderId, pageState.orderId);
    assert.ok(st.firstAudioAt !== null && st.firstEncodedAt !== null);

    // Let it play for about 8 s, noting every 5 ms how far each agent's recording has got.
    const growth = new Map<string, [number, number][]>(agentDirs.map((d) => [d, []]));
    for (const until = Date.now() + 8000; Date.now() < until;) {
      for (const d of agentDirs) growth.get(d)!.push([Date.now(), statSync(recordingOf(d)!).size]);
      await new Promise((r) => setTimeout(r, 5));
    }
    const onsets = await page.evaluate(() => (globalThis as unknown as { loaLive: { onsets: number[] } }).loaLive.onsets);
    const during = await api.get<Status>(`/api/v1/live/${pageState.sessionId}`);
    assert.equal(during.listeners, 2, 'both agents are listening');
    const sizes = agentDirs.map((d) => statSync(recordingOf(d)!).size);

    // Cancel the order: the session ends, the agents stop and acknowledge.
    await api.post(`/api/v1/emergency/${pageState.orderId}/cancel`);
    await eventually(async () => (await api.get<{ progress: Record<string, number> }>(`/api/v1/emergency/${pageState.orderId}`)).progress.cancelled === 2, 20_000, 'two cancelled acks');
    await eventually(() => agentDirs.every((d) => playsOf(d).some((p) => p.kind === 'stream')), 20_000, 'both sinks journal the stream play');
    await eventually(async () => {
      try {
        await api.get(`/api/v1/live/${pageState.sessionId}`);
        return false;
      } catch {
        return true;
      }
    }, 10_000, 'the session is gone');

    const lines: string[] = [];
    for (const [i, d] of agentDirs.entries()) {
      const play = playsOf(d).find((p) => p.kind === 'stream')!;
      // The sink's journal says the play was cut short (the scheduler reports it as cancelled, in the acks above).
      assert.equal(play.status, 'aborted', JSON.stringify(play));
      assert.deepEqual(play.gaps, [], 'no gap in the stream');
      const rec = recordingOf(d)!;
      assert.ok(statSync(rec).size >= sizes[i]!, 'the recording grew');
      const a = decoded(rec, dir);
      assert.ok(a.seconds >= 4, `${DEVICES[i]} recorded ${a.seconds} s of audio`);
      assert.ok(a.rms > 0.05, `${DEVICES[i]} recorded sound, not silence (RMS ${a.rms})`);
      const beeps = beepLatencies(rec, dir, growth.get(d)!, onsets);
      assert.ok(beeps.length >= 2, `beeps heard at ${DEVICES[i]}: ${beeps.length} (page onsets ${onsets.length})`);
      lines.push(`${DEVICES[i]}: beep onset in the operator's page → that audio on the agent's disk: median ${median(beeps)} ms (${beeps.join(', ')} ms)`);
      const first = firstBytes.get(d)!;
      lines.push(`${DEVICES[i]}: ${a.seconds.toFixed(2)} s decoded (RMS ${a.rms.toFixed(3)}); first audio frame at the controller → first bytes on the agent's disk ${first - st.firstAudioAt} ms (ffmpeg's first page after ${st.firstEncodedAt - st.firstAudioAt} ms; the rest is the agent joining the stream)`);
    }
    lines.push(`operator clicked start → both agents recording: ${Math.max(...firstBytes.values()) - startedAt} ms`);
    for (const l of lines) {
      t.diagnostic(l);
      console.log(`# live latency: ${l}`);
    }

    // The page sees its session gone and hangs up.
    await page.waitForFunction(() => (globalThis as unknown as { loaLive: { state: string } }).loaLive.state === 'ended', undefined, { timeout: 10_000 });
    // A second broadcast, ended by the operator's big "Kết thúc" button: the order is cancelled and the agents ack.
    type Live = { state: string; sessionId: string; orderId: string };
    const live = (): Promise<Live> => page.evaluate(() => (globalThis as unknown as { loaLive: Live }).loaLive);
    await page.fill('#start [name=confirm]', 'Cụm loa thôn Đông');
    await page.click('#start button[type=submit]');
    await page.waitForSelector('#onair:not(.hidden)', { timeout: 20_000 });
    const second = await live();
    assert.notEqual(second.orderId, pageState.orderId);
    await eventually(async () => (await api.get<Status>(`/api/v1/live/${second.sessionId}`)).listeners === 2, 20_000, 'both agents join the second broadcast');
    await page.click('#end');
    await page.waitForFunction(() => (globalThis as unknown as { loaLive: { state: string } }).loaLive.state === 'ended', undefined, { timeout: 10_000 });
    assert.equal((await api.get<{ order: { status: string } }>(`/api/v1/emergency/${second.orderId}`)).order.status, 'cancelled');
    await eventually(async () => (await api.get<{ progress: Record<string, number> }>(`/api/v1/emergency/${second.orderId}`)).progress.cancelled === 2, 20_000, 'two cancelled acks for the second broadcast');
  } catch (err) {
    // The processes' warnings and errors, to see why.
    for (const l of logs.join('').split('\n').filter(Boolean).slice(-60)) t.diagnostic(l.slice(0, 400));
    throw err;
  } finally {
    await browser?.close();
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});
