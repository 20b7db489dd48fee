import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LoaError } from '../../shared/errors.js';

export interface AlsaCard {
  index: number;
  /** The short id in brackets, used as CARD=<id>. */
  id: string;
  name: string;
}

export interface AlsaDeviceDeps {
  /** PCM names as `aplay -L` prints them; null when aplay is not installed. Default runs aplay. */
  listPcms?: () => Promise<string[] | null>;
  /** Where the cards are listed (default /proc/asound; tests point it at a fake tree). */
  procRoot?: string;
}

/** PCM plugins whose arguments name a card (CARD, DEV, SUBDEV; positional or KEY=VALUE). */
const CARD_PLUGINS = new Set([
  'hw', 'plughw', 'default', 'sysdefault', 'dmix', 'dsnoop', 'front', 'rear', 'center_lfe', 'side', 'iec958', 'hdmi',
  'surround21', 'surround40', 'surround41', 'surround50', 'surround51', 'surround71',
]);

/** The PCM names in `aplay -L` output: the lines that do not start with whitespace. */
export function parseAplayL(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0 && !/^\s/.test(line))
    .map((line) => line.trim());
}

/** Parses /proc/asound/cards (" 0 [PCH            ]: HDA-Intel - HDA Intel PCH"). */
export function parseAsoundCards(text: string): AlsaCard[] {
  const cards: AlsaCard[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+\[([^\]]*?)\s*\]:\s*(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) cards.push({ index: Number(m[1]), id: m[2], name: (m[3] ?? '').trim() });
  }
  return cards;
}

/** Runs `aplay -L`; null when aplay is missing or fails. */
export function listAlsaPcms(aplayPath = 'aplay'): Promise<string[] | null> {
  return new Promise((resolve) => {
    execFile(aplayPath, ['-L'], { timeout: 5000, encoding: 'utf8' }, (err, stdout) => {
      resolve(err ? null : parseAplayL(stdout));
    });
  });
}

/** The sound cards the kernel knows; empty when there are none (no /proc/asound/cards). */
export async function listAlsaCards(procRoot = '/proc/asound'): Promise<AlsaCard[]> {
  try {
    return parseAsoundCards(await readFile(join(procRoot, 'cards'), 'utf8'));
  } catch {
    return [];
  }
}

interface ParsedPcm {
  plugin: string;
  card?: string;
  dev?: string;
}

/** Splits "hw:1,0", "plughw:CARD=Device,DEV=0", "front:CARD=PCH" into plugin and card/device arguments. */
export function parseAlsaPcmName(device: string): ParsedPcm {
  const colon = device.indexOf(':');
  if (colon < 0) return { plugin: device };
  const plugin = device.slice(0, colon);
  const parsed: ParsedPcm = { plugin };
  const positional = ['card', 'dev'] as const;
  let pos = 0;
  for (const raw of device.slice(colon + 1).split(',')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    const value = unquote(eq < 0 ? part : part.slice(eq + 1));
    let key: 'card' | 'dev' | undefined;
    if (eq < 0) key = positional[pos++];
    else {
      const name = part.slice(0, eq).trim().toUpperCase();
      key = name === 'CARD' ? 'card' : name === 'DEV' ? 'dev' : undefined;
    }
    if (key === 'card') parsed.card = value;
    if (key === 'dev') parsed.dev = value;
  }
  return parsed;
}

/**
 * Checks that an ALSA PCM can exist on this machine. Accepts `default`, `null`, any name `aplay -L` lists,
 * and card-addressed names (hw:N,M, plughw:N,M, hw:CARD=X,DEV=M, front:CARD=X, …) whose card exists (and,
 * when the kernel lists it, whose playback device exists). Rejects with LOA_ERR_AUDIO_DEVICE_NOT_FOUND,
 * naming the device and listing what exists.
 */
export async function checkAlsaDevice(device: string, deps: AlsaDeviceDeps = {}): Promise<void> {
  if (device === 'default' || device === 'null') return;
  const procRoot = deps.procRoot ?? '/proc/asound';
  const [pcms, cards] = await Promise.all([(deps.listPcms ?? listAlsaPcms)(), listAlsaCards(procRoot)]);
  if (pcms?.includes(device)) return;

  const parsed = parseAlsaPcmName(device);
  let why = 'it is not a known PCM name';
  if (CARD_PLUGINS.has(parsed.plugin) && parsed.card !== undefined) {
    const card = cards.find((c) => String(c.index) === parsed.card || c.id === parsed.card);
    if (!card) why = `there is no sound card ${parsed.card}`;
    else if (parsed.dev === undefined) return;
    else {
      const pcmDirs = await listPcmDirs(procRoot, card.index);
      if (pcmDirs === null || pcmDirs.includes(`pcm${parsed.dev}p`)) return;
      why = `card ${card.index} [${card.id}] has no playback device ${parsed.dev}`;
    }
  }
  const pcmList = pcms === null ? '(aplay -L unavailable: install alsa-utils)' : pcms.join(', ') || 'none';
  const cardList = cards.map((c) => `${c.index} [${c.id}] ${c.name}`).join('; ') || 'none';
  throw new LoaError(
    'LOA_ERR_AUDIO_DEVICE_NOT_FOUND',
    `ALSA device "${device}" does not exist (${why}). PCMs: ${pcmList}. Cards: ${cardList}`,
    { details: { device, pcms, cards } },
  );
}

/** Entries like pcm0p/pcm0c of /proc/asound/cardN; null when the directory cannot be read. */
async function listPcmDirs(procRoot: string, index: number): Promise<string[] | null> {
  try {
    return (await readdir(join(procRoot, `card${index}`))).filter((n) => /^pcm\d+[pc]$/.test(n));
  } catch {
    return null;
  }
}

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && (t.startsWith('"') || t.startsWith("'")) && t.endsWith(t[0] ?? '') ? t.slice(1, -1) : t;
}
