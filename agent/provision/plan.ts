/**
 * What `loa provision` is asked to do, checked before anything is touched: the inputs (flags or answers), the
 * hardware profile (chosen against the detected hardware), and how the device gets its identity.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { LoaError } from '../../shared/errors.js';
import type { HardwareProfile } from '../../shared/schemas/hardware-profile.js';
import { loadProfile } from '../config/profile.js';
import type { DetectedHardware } from './detect.js';
import { listProfiles, rankProfiles, requireFit, scoreProfile, suggestProfile, type ProfileMatch } from './profile-match.js';

export type ProvisionMode = 'token' | 'pairing' | 'offline';

/** Answers to questions, when a person is at the terminal. */
export interface ProvisionIO {
  out(line: string): void;
  /** A person can answer prompts (a TTY without --yes). */
  interactive: boolean;
  ask?(question: string, def?: string): Promise<string>;
  /** Like ask, without echo (tokens). */
  askSecret?(question: string): Promise<string>;
  confirm?(question: string, def: boolean): Promise<boolean>;
  /** Shows a pairing code the way a terminal can (big letters, QR code); the code and URL are printed anyway. */
  showPairing?(ticket: { code: string; pairUrl: string }): Promise<void>;
}

export interface ProvisionInputs {
  root: string;
  dataDir: string;
  profile?: string;
  profilesDir: string;
  controller?: string;
  token?: string;
  trust?: string;
  deviceId?: string;
  force?: boolean;
}

export interface ResolvedIdentity {
  mode: ProvisionMode;
  controller?: string;
  token?: string;
  deviceId?: string;
}

function inputError(message: string): LoaError {
  return new LoaError('LOA_ERR_PROVISION_INPUT', message);
}

export function checkUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw inputError(`--controller must be an http(s) URL such as https://loa.example.vn, not "${url.slice(0, 200)}"`);
  }
  return url.replace(/\/+$/, '');
}

/** Checks the flags that need no hardware or network: paths, exclusive options. */
export function checkInputs(o: ProvisionInputs): void {
  if (!existsSync(o.root) || !statSync(o.root).isDirectory()) throw inputError(`--root ${o.root} is not a folder`);
  if (!isAbsolute(o.dataDir)) throw inputError(`--data-dir must be an absolute path on the target, not ${o.dataDir}`);
  if (o.token && o.deviceId) throw inputError('--token enrolls with a controller and --device-id installs offline: give one of them');
  if (o.token && !o.controller) throw inputError('--token needs --controller URL');
  if (o.deviceId && o.controller) throw inputError('--device-id is for an offline install; with --controller the controller assigns the device id');
  if (o.deviceId && !o.trust) throw inputError('an offline install (--device-id) needs the trust root: --trust root.json');
  if (o.controller) checkUrl(o.controller);
}

/** How the device gets its identity, asking what the flags leave open when a person is there. */
export async function resolveIdentity(o: ProvisionInputs, io: ProvisionIO): Promise<ResolvedIdentity> {
  if (o.deviceId) return { mode: 'offline', deviceId: o.deviceId };
  let controller = o.controller;
  if (!controller) {
    if (!io.interactive || !io.ask) {
      throw inputError('give --controller URL (pairing, or --token T) or, for an offline install, --device-id ID with --trust root.json');
    }
    controller = checkUrl((await io.ask('Controller URL (e.g. https://loa.example.vn)')).trim());
  }
  controller = checkUrl(controller);
  if (o.token) return { mode: 'token', controller, token: o.token };
  if (io.interactive && io.ask) {
    const how = (await io.ask('Enroll with a pairing code shown here (p) or a one-time token (t)?', 'p')).trim().toLowerCase();
    if (how.startsWith('t')) {
      const token = (await (io.askSecret ?? io.ask)('Enrollment token')).trim();
      if (!token) throw inputError('no token given');
      return { mode: 'token', controller, token };
    }
  }
  return { mode: 'pairing', controller };
}

export interface ChosenProfile {
  match: ProfileMatch;
  /** Raw bytes of the profile file, installed as /etc/loa/hardware-profile.json. */
  bytes: Buffer;
  ranked: ProfileMatch[];
}

function describeMatch(m: ProfileMatch, i?: number): string[] {
  const head = `${i === undefined ? '' : `${String(i + 1).padStart(2)}) `}${m.profile.id}${m.fits ? ` (score ${m.score})` : ' (does not fit)'}: ${m.profile.name}`;
  return [head, ...m.found.map((f) => `      + ${f}`), ...m.problems.map((p) => `      - ${p}`), ...m.notes.map((n) => `      ? ${n}`)];
}

export function describeMatches(ranked: readonly ProfileMatch[], numbered = false): string[] {
  return ranked.flatMap((m, i) => describeMatch(m, numbered ? i : undefined));
}

/** Picks the profile: the one named (file or id), the technician's choice, or the best fit. */
export async function chooseProfile(o: ProvisionInputs, hw: DetectedHardware, io: ProvisionIO): Promise<ChosenProfile> {
  const { profiles, broken } = existsSync(o.profilesDir) ? listProfiles(o.profilesDir) : { profiles: [], broken: [] };
  for (const b of broken) io.out(`      ! skipped ${b.source}: ${b.error}`);
  const ranked = rankProfiles(profiles, hw);
  let match: ProfileMatch | undefined;
  if (o.profile) {
    const asFile = resolve(o.profile);
    if (existsSync(asFile) && statSync(asFile).isFile()) {
      match = scoreProfile({ profile: loadProfile(asFile), source: asFile }, hw);
    } else {
      match = ranked.find((m) => m.profile.id === o.profile);
      if (!match) {
        throw new LoaError('LOA_ERR_CONFIG_NOT_FOUND', `no hardware profile "${o.profile}": it is neither a file nor the id of one in ${o.profilesDir} (${profiles.map((p) => p.profile.id).join(', ') || 'none there'})`);
      }
    }
  } else if (io.interactive && io.ask) {
    const { best } = suggestProfile(ranked);
    for (const line of describeMatches(ranked, true)) io.out(`      ${line}`);
    const def = best ? String(ranked.indexOf(best) + 1) : undefined;
    const answer = (await io.ask('Hardware profile (number, id or file)', def)).trim();
    const n = Number(answer);
    match = Number.isInteger(n) && n >= 1 && n <= ranked.length ? ranked[n - 1] : ranked.find((m) => m.profile.id === answer);
    if (!match && existsSync(answer)) match = scoreProfile({ profile: loadProfile(resolve(answer)), source: resolve(answer) }, hw);
    if (!match) throw inputError(`"${answer}" is not one of the profiles listed`);
  } else {
    const { best, tied } = suggestProfile(ranked);
    if (!best) {
      throw new LoaError('LOA_ERR_PROVISION_NO_PROFILE', `no hardware profile in ${o.profilesDir} fits this hardware:\n${describeMatches(ranked).map((l) => `  ${l}`).join('\n')}\nConnect the relay board and sound card, or give --profile FILE`);
    }
    if (tied.length) {
      throw inputError(`several hardware profiles fit equally well (${[best, ...tied].map((m) => m.profile.id).join(', ')}); choose one with --profile`);
    }
    match = best;
  }
  requireFit(match, o.force === true);
  return { match, bytes: readFileSync(match.source), ranked };
}

/** A short description of the board for the plan and the summary. */
export function describeProfile(p: HardwareProfile): string {
  const r = p.relay;
  const relay = r.type === 'none' ? 'no relays' : r.type === 'gpio' ? `GPIO relays on ${r.chip ?? '/dev/gpiochip0'}` : `${r.type} relay board on ${r.port}`;
  return `${p.id}: ${relay}, audio ${p.audio.driver} ${p.audio.device}, ${p.outputs.length} output zone(s)`;
}
