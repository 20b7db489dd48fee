/**
 * The hardened systemd unit for the agent (`loa-agent.service`) and the commands that install it. The unit runs
 * `loa agent run` as the unprivileged `loa` user with an empty capability set, a read-only system, only the data
 * dir writable, and only the devices the hardware profile needs; the agent pings systemd's watchdog while its
 * scheduler loop is alive (agent/watchdog.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { HardwareProfile } from '../../shared/schemas/hardware-profile.js';
import { AGENT_NODE_FLAGS } from '../node-flags.js';
import { underRoot } from './detect.js';

export const UNIT_NAME = 'loa-agent.service';
export const UNIT_DIR = '/etc/systemd/system';
export const SERVICE_USER = 'loa';

export interface UnitOptions {
  profile: HardwareProfile;
  /** Target paths (as the receiver sees them). */
  nodePath: string;
  installDir: string;
  dataDir: string;
  profilePath: string;
  user?: string;
  /** Supplementary groups; default unitGroups(profile). */
  groups?: readonly string[];
  /** 'main' when the agent can call sd_notify itself (libsystemd), 'all' when it spawns systemd-notify. */
  notifyAccess: 'main' | 'all';
  watchdogSec?: number;
  restartSec?: number;
}

/** The groups the profile's devices belong to on Debian and Raspberry Pi OS. */
export function unitGroups(profile: HardwareProfile): string[] {
  const groups: string[] = [];
  if (profile.audio.driver === 'alsa') groups.push('audio');
  if (profile.relay.type === 'lcus' || profile.relay.type === 'modbus-rtu') groups.push('dialout');
  if (profile.relay.type === 'gpio') groups.push('gpio');
  return groups;
}

/**
 * DeviceAllow= lines. The relay port by path, plus its kernel device class, so the board still works after it is
 * re-plugged and renumbered (ttyUSB0 → ttyUSB1); sound through the `alsa` class.
 */
export function unitDevices(profile: HardwareProfile): string[] {
  const out: string[] = [];
  const relay = profile.relay;
  if (relay.type === 'lcus' || relay.type === 'modbus-rtu') {
    out.push(`${relay.port} rw`);
    const name = basename(relay.port);
    if (relay.port.startsWith('/dev/serial/')) out.push('char-ttyUSB rw', 'char-ttyACM rw');
    else if (/^ttyUSB\d+$/.test(name)) out.push('char-ttyUSB rw');
    else if (/^ttyACM\d+$/.test(name)) out.push('char-ttyACM rw');
  }
  if (relay.type === 'gpio') out.push(`${relay.chip ?? '/dev/gpiochip0'} rw`, 'char-gpiochip rw');
  if (profile.audio.driver === 'alsa') out.push('char-alsa rw');
  return out;
}

/** Quotes one ExecStart word for systemd (and doubles `%`, its specifier character). */
export function quoteArg(arg: string): string {
  const s = arg.replace(/%/g, '%%');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The install root when the agent is installed from a release (`<root>/releases/<v>`, issue 11), else null. */
export function releaseInstallRoot(installDir: string): string | null {
  return basename(dirname(installDir)) === 'releases' ? dirname(dirname(installDir)) : null;
}

export function execStart(o: Pick<UnitOptions, 'nodePath' | 'installDir' | 'dataDir' | 'profilePath'>): string {
  // A release install runs through the stable launcher, which follows `current` and rolls back failed updates.
  const root = releaseInstallRoot(o.installDir);
  if (root) return ['/bin/sh', join(root, 'loa-launch'), 'agent', 'run', '--data-dir', o.dataDir, '--profile', o.profilePath].map(quoteArg).join(' ');
  return [o.nodePath, ...AGENT_NODE_FLAGS, join(o.installDir, 'bin', 'loa.js'), 'agent', 'run', '--data-dir', o.dataDir, '--profile', o.profilePath].map(quoteArg).join(' ');
}

export function renderUnit(o: UnitOptions): string {
  const user = o.user ?? SERVICE_USER;
  const groups = o.groups ?? unitGroups(o.profile);
  const devices = unitDevices(o.profile);
  const lines = [
    '# loa-agent.service: the loaphuong receiver agent. Written by `loa provision`; run it again rather than',
    '# editing this file (or use `systemctl edit loa-agent` for a drop-in).',
    '[Unit]',
    'Description=loaphuong receiver agent (IP loudspeaker)',
    'Documentation=man:systemd.exec(5)',
    'After=network-online.target sound.target time-sync.target',
    'Wants=network-online.target',
    '# A village loudspeaker never gives up restarting.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=notify',
    `NotifyAccess=${o.notifyAccess}`,
    `WatchdogSec=${o.watchdogSec ?? 30}`,
    'TimeoutStartSec=90',
    `ExecStart=${execStart(o)}`,
    ...(releaseInstallRoot(o.installDir) ? [`Environment=LOA_NODE=${quoteArg(o.nodePath)}`, `Environment="LOA_NODE_FLAGS=${AGENT_NODE_FLAGS.join(' ')}"`] : []),
    'Restart=always',
    `RestartSec=${o.restartSec ?? 5}`,
    '# SIGTERM to the agent first: it switches every relay off and stops its players.',
    'KillMode=mixed',
    'TimeoutStopSec=20',
    `User=${user}`,
    `Group=${user}`,
    ...(groups.length ? [`SupplementaryGroups=${groups.join(' ')}`] : []),
    `WorkingDirectory=${quoteArg(o.dataDir)}`,
    'Environment=NODE_ENV=production',
    'SyslogIdentifier=loa-agent',
    'UMask=0077',
    '',
    '# Filesystem: the whole system read-only, except the data dir.',
    'ProtectSystem=strict',
    `ReadWritePaths=${[o.dataDir, ...(releaseInstallRoot(o.installDir) ? [releaseInstallRoot(o.installDir)!] : [])].map(quoteArg).join(' ')}`,
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    '',
    '# Privileges: none.',
    'NoNewPrivileges=yes',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    'RemoveIPC=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallErrorNumber=EPERM',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    '# MemoryDenyWriteExecute= stays off: the V8 JIT needs writable executable memory.',
    '',
    '# Devices: only what the hardware profile uses (/dev/null, /dev/urandom and friends stay allowed).',
    'DevicePolicy=closed',
    ...devices.map((d) => `DeviceAllow=${d}`),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** Whether the target has libsystemd (the agent then calls sd_notify itself and NotifyAccess=main suffices). */
export function targetHasLibsystemd(root: string): boolean {
  const dirs = ['/lib', '/usr/lib', '/lib64', '/usr/lib64'];
  for (const d of dirs) {
    const dir = underRoot(root, d);
    if (existsSync(join(dir, 'libsystemd.so.0'))) return true;
    let subs: string[] = [];
    try {
      subs = readdirSync(dir).filter((n) => n.endsWith('-linux-gnu') || n.endsWith('-linux-gnueabihf'));
    } catch {
      /* not there */
    }
    if (subs.some((s) => existsSync(join(dir, s, 'libsystemd.so.0')))) return true;
  }
  return false;
}

/** Groups from the target's /etc/group, or null when it cannot be read. */
export function targetGroups(root: string): Set<string> | null {
  try {
    return new Set(readFileSync(underRoot(root, '/etc/group'), 'utf8').split('\n').map((l) => l.split(':')[0] ?? '').filter(Boolean));
  } catch {
    return null;
  }
}

/** Whether the target has the user, from its /etc/passwd. */
export function targetHasUser(root: string, user: string): boolean {
  try {
    return readFileSync(underRoot(root, '/etc/passwd'), 'utf8').split('\n').some((l) => l.split(':')[0] === user);
  } catch {
    return false;
  }
}

export interface ServiceCommand {
  argv: string[];
  why: string;
  /** Run only when this returns true (checked at run time). */
  skipIf?: 'user-exists';
}

/** The commands that make the service user, hand it the data dir, and start the unit. */
export function serviceCommands(o: { dataDir: string; user?: string; start: boolean }): ServiceCommand[] {
  const user = o.user ?? SERVICE_USER;
  return [
    { argv: ['useradd', '--system', '--user-group', '--home-dir', o.dataDir, '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'loaphuong agent', user], why: `the service user ${user}`, skipIf: 'user-exists' },
    { argv: ['chown', '-R', `${user}:${user}`, o.dataDir], why: `${user} owns the data dir` },
    { argv: ['chmod', '0750', o.dataDir], why: 'only the agent reads the data dir' },
    { argv: ['systemctl', 'daemon-reload'], why: 'systemd reads the new unit' },
    { argv: ['systemctl', 'enable', ...(o.start ? ['--now'] : []), UNIT_NAME], why: o.start ? 'start now and at every boot' : 'start at every boot' },
  ];
}

export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
