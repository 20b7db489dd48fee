/**
 * Scores hardware profiles against detected hardware: the relay board's USB id and port, the sound card's USB
 * id and ALSA name, the GPIO chip, and the board family. A profile *fits* when nothing it needs is missing; the
 * best-scoring fit is suggested. Every finding is a sentence, so the technician sees why a profile fits or not.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { HardwareProfile } from '../../shared/schemas/hardware-profile.js';
import { loadProfile } from '../config/profile.js';
import { existsUnder, type DetectedHardware, type SerialPortInfo } from './detect.js';

export interface ProfileFile {
  profile: HardwareProfile;
  /** Where it was read from. */
  source: string;
}

export interface ProfileMatch extends ProfileFile {
  score: number;
  /** Nothing the profile needs is missing. */
  fits: boolean;
  /** Evidence for the profile. */
  found: string[];
  /** Why it does not fit (each one is enough to refuse it). */
  problems: string[];
  /** Soft doubts that do not refuse it. */
  notes: string[];
}

/** Every profile in a folder, checked against the schema; a broken file is reported, not fatal. */
export function listProfiles(dir: string): { profiles: ProfileFile[]; broken: { source: string; error: string }[] } {
  const profiles: ProfileFile[] = [];
  const broken: { source: string; error: string }[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    throw new LoaError('LOA_ERR_CONFIG_NOT_FOUND', `the hardware profile folder ${dir} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  for (const n of names) {
    const source = join(dir, n);
    try {
      profiles.push({ profile: loadProfile(source), source });
    } catch (e) {
      broken.push({ source, error: toLoaError(e).message });
    }
  }
  return { profiles, broken };
}

function portList(hw: DetectedHardware): string {
  return hw.serialPorts.length ? hw.serialPorts.map((p) => `${p.path}${p.usb ? ` (USB ${p.usb})` : ''}`).join(', ') : 'none';
}

function cardList(hw: DetectedHardware): string {
  return hw.soundCards.length ? hw.soundCards.map((c) => `${c.index} ${c.id}${c.usb ? ` (USB ${c.usb})` : ''}`).join(', ') : 'none';
}

/** The detected port a profile path names: /dev/ttyUSB0 or a /dev/serial/by-id link. */
function findPort(hw: DetectedHardware, path: string): SerialPortInfo | undefined {
  return hw.serialPorts.find((p) => p.path === path || p.byId.includes(path));
}

interface Tally {
  score: number;
  found: string[];
  problems: string[];
  notes: string[];
}

function scoreSerialRelay(relay: { type: string; port: string; usb?: string }, hw: DetectedHardware, t: Tally): void {
  const board = relay.type === 'lcus' ? 'LCUS relay board' : 'Modbus RTU relay board';
  const port = findPort(hw, relay.port);
  const portExists = port !== undefined || existsUnder(hw.root, relay.port);
  if (relay.usb) {
    const usb = relay.usb.toLowerCase();
    const adapters = hw.serialPorts.filter((p) => p.usb === usb);
    if (!adapters.length) {
      t.problems.push(`no USB serial adapter ${usb} (the ${board}) is connected; serial ports found: ${portList(hw)}`);
      return;
    }
    t.score += 50;
    t.found.push(`${board} adapter ${usb} at ${adapters.map((a) => a.path).join(', ')}`);
    if (port && port.usb === usb) {
      t.score += 10;
      t.found.push(`its port ${relay.port} is that adapter`);
    } else if (port && port.usb !== usb) {
      t.problems.push(`the profile's port ${relay.port} is another device (${port.usb ? `USB ${port.usb}` : 'on-board'}); the ${board} is at ${adapters.map((a) => a.byId[0] ?? a.path).join(', ')}`);
    } else if (!portExists) {
      t.problems.push(`the profile's port ${relay.port} does not exist; the ${board} is at ${adapters.map((a) => a.byId[0] ?? a.path).join(', ')}: copy the profile and set relay.port`);
    } else {
      t.notes.push(`${relay.port} exists but its USB id is unknown`);
    }
    return;
  }
  if (!portExists) {
    t.problems.push(`the profile's port ${relay.port} (the ${board}) does not exist; serial ports found: ${portList(hw)}`);
    return;
  }
  t.score += 20;
  t.found.push(`${board} port ${relay.port}`);
}

function scoreGpio(relay: { chip?: string; lines: number[] }, hw: DetectedHardware, t: Tally): void {
  const path = relay.chip ?? '/dev/gpiochip0';
  const chip = hw.gpioChips.find((c) => c.path === path);
  if (!chip && !existsUnder(hw.root, path)) {
    t.problems.push(`no GPIO chip ${path}; GPIO chips found: ${hw.gpioChips.length ? hw.gpioChips.map((c) => c.path).join(', ') : 'none'}`);
    return;
  }
  const top = Math.max(...relay.lines);
  if (chip?.ngpio !== undefined && top >= chip.ngpio) {
    t.problems.push(`GPIO line ${top} does not exist on ${path}, which has ${chip.ngpio} lines`);
    return;
  }
  t.score += 40;
  t.found.push(`GPIO chip ${path}${chip?.label ? ` (${chip.label}${chip.ngpio ? `, ${chip.ngpio} lines` : ''})` : ''}`);
}

function scoreAudio(audio: HardwareProfile['audio'], hw: DetectedHardware, t: Tally): void {
  if (audio.driver !== 'alsa') {
    t.found.push(audio.driver === 'file' ? 'audio: file sink (records instead of playing)' : 'audio: none');
    return;
  }
  let usbCard: number | undefined;
  if (audio.usb) {
    const usb = audio.usb.toLowerCase();
    const card = hw.soundCards.find((c) => c.usb === usb);
    if (!card) {
      t.problems.push(`no USB sound card ${usb} is connected; sound cards found: ${cardList(hw)}`);
      return;
    }
    usbCard = card.index;
    t.score += 30;
    t.found.push(`USB sound card ${usb} (card ${card.index}, ${card.id})`);
  }
  const byName = /CARD=([^,\s]+)/.exec(audio.device)?.[1];
  const byIndex = /^(?:plug)?hw:(\d+)/.exec(audio.device)?.[1];
  if (byName !== undefined || byIndex !== undefined) {
    const card = byName !== undefined ? hw.soundCards.find((c) => c.id === byName) : hw.soundCards.find((c) => c.index === Number(byIndex));
    if (!card) {
      t.problems.push(`the ALSA device ${audio.device} names a sound card that is not here; sound cards found: ${cardList(hw)}`);
      return;
    }
    if (usbCard !== undefined && card.index !== usbCard) t.notes.push(`${audio.device} is card ${card.index}, not the USB card ${usbCard}`);
    t.score += 10;
    t.found.push(`ALSA device ${audio.device} is card ${card.index} (${card.name})`);
    return;
  }
  if (!hw.soundCards.length) {
    t.problems.push(`the ALSA device ${audio.device} needs a sound card, and none was found`);
    return;
  }
  t.score += 5;
  t.found.push(`ALSA device ${audio.device} (${hw.soundCards.length} sound card(s))`);
}

/** The board family a profile's name or id implies, checked against the detected model: +5 when it agrees, −10 when not. */
function scorePlatform(profile: HardwareProfile, hw: DetectedHardware, t: Tally): void {
  const text = `${profile.id} ${profile.name}`;
  const isPi = /raspberry pi/i.test(hw.model ?? '');
  const wants = /raspberry|\brpi/i.test(text) ? 'pi' : /armbian|orange ?pi|banana ?pi/i.test(text) ? 'arm' : /x86|mini ?pc|\bpc\b/i.test(text) ? 'pc' : null;
  if (!wants) return;
  const ok = wants === 'pi' ? isPi : wants === 'arm' ? hw.platform === 'devicetree' && !isPi : hw.platform === 'dmi';
  const what = { pi: 'a Raspberry Pi', arm: 'an Armbian (non-Pi ARM) board', pc: 'an x86 PC' }[wants];
  if (ok) {
    t.score += 5;
    t.found.push(`board is ${what} (${hw.model ?? 'unknown model'})`);
  } else if (hw.platform !== 'unknown') {
    // Not a refusal (the relay board and sound card are what matter), but another family's profile ranks lower.
    t.score -= 10;
    t.notes.push(`the profile is for ${what}; this board is ${hw.model ?? 'of an unknown model'}`);
  }
}

export function scoreProfile(file: ProfileFile, hw: DetectedHardware): ProfileMatch {
  const { profile } = file;
  const t: Tally = { score: 0, found: [], problems: [], notes: [] };
  const relay = profile.relay;
  switch (relay.type) {
    case 'lcus':
    case 'modbus-rtu':
      scoreSerialRelay(relay, hw, t);
      break;
    case 'gpio':
      scoreGpio(relay, hw, t);
      break;
    case 'none':
      t.found.push('no relay board');
      break;
  }
  scoreAudio(profile.audio, hw, t);
  scorePlatform(profile, hw, t);
  return { ...file, ...t, fits: t.problems.length === 0 };
}

/** Fitting profiles first, best score first, then by id (so the order is stable). */
export function rankProfiles(files: readonly ProfileFile[], hw: DetectedHardware): ProfileMatch[] {
  return files.map((f) => scoreProfile(f, hw)).sort((a, b) => Number(b.fits) - Number(a.fits) || b.score - a.score || a.profile.id.localeCompare(b.profile.id));
}

/**
 * The profile to suggest: the best fit that found real hardware (a simulation profile fits anything and is
 * never suggested), or none. `tied` lists fits with the same score, which only the technician can tell apart.
 */
export function suggestProfile(ranked: readonly ProfileMatch[]): { best?: ProfileMatch; tied: ProfileMatch[] } {
  const top = ranked.find((m) => m.fits && m.score > 0);
  if (!top) return { tied: [] };
  return { best: top, tied: ranked.filter((m) => m !== top && m.fits && m.score === top.score) };
}

/** Refuses a profile that does not fit, listing every reason, unless forced. */
export function requireFit(match: ProfileMatch, force: boolean): void {
  if (match.fits || force) return;
  throw new LoaError('LOA_ERR_PROVISION_PROFILE_MISMATCH',
    `hardware profile ${match.profile.id} does not match this hardware:\n${match.problems.map((p) => `  - ${p}`).join('\n')}\nConnect the hardware, choose another profile, or pass --force to install it anyway`,
    { details: { profile: match.profile.id, problems: match.problems } });
}
