/**
 * `/etc/loa/agent.json`: what `loa provision` installed on this receiver. The systemd unit passes the same data
 * dir and profile to `loa agent run`; a second `loa provision` reads this file to see the device is provisioned.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Id } from '../../shared/schemas/common.js';
import { checker, parseJsonText } from '../../shared/validate.js';

const AbsPath = Type.String({ pattern: '^/[^\\0\\n]*$', minLength: 1, maxLength: 1024 });

export const AgentConfig = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    version: Type.Literal(1, { description: 'Format version of this file' }),
    dataDir: { ...AbsPath, title: 'data directory', description: 'State folder: agent.db, media, device.key', default: '/var/lib/loa' },
    profile: { ...AbsPath, title: 'hardware profile', description: 'The hardware profile JSON the agent runs with', default: '/etc/loa/hardware-profile.json' },
    profileId: Id,
    installDir: { ...AbsPath, title: 'install directory', description: 'Where the agent (bin/loa.js) is installed' },
    mode: Type.Union([Type.Literal('token'), Type.Literal('pairing'), Type.Literal('offline')], { description: 'How the device got its identity' }),
    deviceId: Type.Optional(Id),
    controllerUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
    service: Type.Optional(Type.String({ maxLength: 256, description: 'systemd unit name, when one was installed' })),
    provisionedAt: Type.String({ format: 'date-time' }),
    agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false, title: 'agent config', description: 'What `loa provision` installed on this receiver' },
);
export type AgentConfig = Static<typeof AgentConfig>;

export const agentConfigChecker = checker(AgentConfig, 'LOA_ERR_CONFIG_INVALID');

export const AGENT_CONFIG_PATH = '/etc/loa/agent.json';
export const PROFILE_INSTALL_PATH = '/etc/loa/hardware-profile.json';

export function parseAgentConfig(text: string | Buffer, source: string): AgentConfig {
  return agentConfigChecker.parse(parseJsonText(text, 64 * 1024, source, 'LOA_ERR_CONFIG_INVALID'), source);
}

/** The config at a path, or null when there is none. A present but broken file is an error. */
export function readAgentConfig(path: string): AgentConfig | null {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch {
    return null;
  }
  return parseAgentConfig(text, path);
}
