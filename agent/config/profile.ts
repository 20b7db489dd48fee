import { readFileSync } from 'node:fs';
import { LoaError } from '../../shared/errors.js';
import { Type } from '@sinclair/typebox';
import { HardwareProfile, RELAY_SCHEMAS, RELAY_TYPES } from '../../shared/schemas/hardware-profile.js';
import { checker, parseJsonText } from '../../shared/validate.js';

export const profileChecker = checker(HardwareProfile, 'LOA_ERR_PROFILE_INVALID');
const baseChecker = checker(Type.Object({ ...HardwareProfile.properties, relay: Type.Object({ type: Type.String() }) }, { additionalProperties: false }), 'LOA_ERR_PROFILE_INVALID');
const relayCheckers = Object.fromEntries(Object.entries(RELAY_SCHEMAS).map(([k, v]) => [k, checker(v, 'LOA_ERR_PROFILE_INVALID')]));
const PROFILE_MAX_BYTES = 256 * 1024;

/**
 * Reads and checks a hardware profile. An unknown relay type gets its own code (it usually means a newer
 * profile on an older agent); every other problem is LOA_ERR_PROFILE_INVALID listing all issues.
 */
export function parseProfile(text: string | Buffer, source = 'hardware profile'): HardwareProfile {
  const raw = parseJsonText(text, PROFILE_MAX_BYTES, source, 'LOA_ERR_PROFILE_INVALID');
  const type = (raw as { relay?: { type?: unknown } } | null)?.relay?.type;
  if (typeof type === 'string' && !(RELAY_TYPES as readonly string[]).includes(type)) {
    throw new LoaError('LOA_ERR_PROFILE_UNKNOWN_RELAY', `${source}: relay type "${type}" is unknown; known types: ${RELAY_TYPES.join(', ')}`, { details: { type } });
  }
  // The relay is checked against the schema its type names, so errors speak of that board only.
  const relay = (typeof type === 'string' ? relayCheckers[type] : undefined)?.parse((raw as { relay: unknown }).relay, `${source}: relay`);
  const base = baseChecker.parse(raw, source);
  const profile = profileChecker.parse({ ...base, relay: relay ?? base.relay }, source);
  for (const o of profile.outputs) {
    for (const ch of o.channels) {
      const max = profile.relay.type === 'none' ? 0 : profile.relay.type === 'gpio' ? profile.relay.lines.length : profile.relay.channels;
      if (ch >= max) throw new LoaError('LOA_ERR_PROFILE_INVALID', `${source}: output ${o.name} uses relay channel ${ch}, but the ${profile.relay.type} relay has ${max} channel(s)`);
    }
  }
  return profile;
}

export function loadProfile(path: string): HardwareProfile {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new LoaError('LOA_ERR_CONFIG_NOT_FOUND', `hardware profile ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return parseProfile(text, `hardware profile ${path}`);
}
