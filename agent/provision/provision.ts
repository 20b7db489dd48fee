/**
 * `loa provision`: turns a fresh receiver into an enrolled, self-tested, supervised one in ten steps. Everything
 * is written into a staging folder first and moved into place in one commit (./staging.ts), so a failure or a
 * cancel at any step leaves the device as it was. `dryRun` only reads: it prints the plan.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { EnrollResponse } from '../../shared/schemas/telemetry.js';
import { ensureKey, readIdentity, writeIdentity } from '../identity.js';
import { completeEnrollment, requestEnrollment } from '../sync/enroll.js';
import { AGENT_CONFIG_PATH, agentConfigChecker, PROFILE_INSTALL_PATH, readAgentConfig, type AgentConfig } from './config.js';
import { describeHardware, detectHardware, underRoot, type DetectedHardware, type SerialLister } from './detect.js';
import { checkInputs, chooseProfile, describeProfile, resolveIdentity, type ProvisionInputs, type ProvisionIO, type ProvisionMode } from './plan.js';
import { formatSelftestTable, runSelftest, type SelftestOptions } from './selftest.js';
import { Staging } from './staging.js';
import { renderUnit, serviceCommands, shellLine, targetGroups, targetHasLibsystemd, targetHasUser, unitGroups, UNIT_DIR, UNIT_NAME } from './systemd.js';
import { installTrust, readTrustFile, withTrustStore, type TrustBundle } from './trust.js';

export type { ProvisionIO } from './plan.js';

export type ExecFn = (argv: readonly string[]) => Promise<{ code: number; stderr: string }>;

export interface ProvisionOptions extends ProvisionInputs {
  dryRun?: boolean;
  selftest?: boolean;
  service?: boolean;
  toneMs?: number;
  /** How long to wait for a technician to claim the pairing code. Default 15 min. */
  pairTimeoutMs?: number;
  /** How often to ask whether the code was claimed (default: as the controller says, 3 s or more). */
  pairPollMs?: number;
  /** Where the agent is installed (bin/loa.js), and the node binary, as the target sees them. */
  installDir: string;
  nodePath: string;
  agentVersion?: string;
  io: ProvisionIO;
  /** Injection for tests. */
  serialLister?: SerialLister | null;
  selftestDeps?: Pick<SelftestOptions, 'relayDeps' | 'sink' | 'warmup' | 'settleMs'>;
  exec?: ExecFn;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  now?: () => number;
}

export interface ProvisionResult {
  dryRun: boolean;
  profileId: string;
  mode: ProvisionMode;
  deviceId?: string;
  zoneId?: string;
  written: string[];
  /** Commands still to run on the target (when it is not this machine's root). */
  todo: string[];
  serviceStarted: boolean;
  selftest?: { ok: boolean; passed: number; failed: number };
}

const STEPS = ['Detecting hardware', 'Choosing the hardware profile', 'Writing the configuration', 'Device key', 'Trust root', 'Self-test', 'systemd unit', 'Identity', 'Installing', 'Service'] as const;

/** Runs a command (systemctl, useradd), for provisioning this machine's own root. */
export const defaultExec: ExecFn = (argv) => new Promise((resolve) => {
  const child = spawn(argv[0] ?? 'false', argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  child.once('error', (e) => resolve({ code: 127, stderr: e.message }));
  child.once('exit', (code) => resolve({ code: code ?? 1, stderr }));
});

export async function provision(o: ProvisionOptions): Promise<ProvisionResult> {
  const io = o.io;
  const now = o.now ?? Date.now;
  const dry = o.dryRun === true;
  const onTarget = o.root === '/' && !dry;
  const exec = o.exec ?? defaultExec;
  const indent = (line: string): void => io.out(`      ${line}`);
  let n = 0;
  const step = (): void => {
    const title = STEPS[n] ?? '';
    n++;
    io.out(`[${n}/${STEPS.length}] ${title}${dry ? ' (dry run)' : ''}`);
  };
  const aborted = (): void => {
    if (o.signal?.aborted) throw new LoaError('LOA_ERR_PROVISION_ABORTED', 'provisioning was cancelled; nothing was changed');
  };

  checkInputs(o);
  // Checked before anything else: a corrupt trust file must fail before any step runs.
  const trust: TrustBundle | null = o.trust ? readTrustFile(o.trust, now()) : null;
  const previous = readAgentConfig(underRoot(o.root, AGENT_CONFIG_PATH));
  if (previous) {
    io.out(`This device is already provisioned: ${previous.deviceId ? `device ${previous.deviceId}, ` : ''}profile ${previous.profileId}, ${previous.mode}, on ${previous.provisionedAt}.`);
    if (!o.force && !dry) {
      const again = io.interactive && io.confirm ? await io.confirm('Provision it again (the device key is kept)?', false) : false;
      if (!again) throw new LoaError('LOA_ERR_PROVISION_ALREADY', `this device is already provisioned (${AGENT_CONFIG_PATH}); pass --force to provision it again (its key is kept)`);
    }
  }
  const identity = await resolveIdentity(o, io);
  const result: ProvisionResult = { dryRun: dry, profileId: '', mode: identity.mode, written: [], todo: [], serviceStarted: false };

  // 1. hardware
  step();
  const hw: DetectedHardware = await detectHardware({ root: o.root, ...(o.serialLister !== undefined ? { serialLister: o.serialLister } : {}) });
  for (const line of describeHardware(hw)) indent(line);

  // 2. profile
  step();
  const chosen = await chooseProfile(o, hw, io);
  const profile = chosen.match.profile;
  result.profileId = profile.id;
  indent(describeProfile(profile));
  for (const f of chosen.match.found) indent(`+ ${f}`);
  for (const p of chosen.match.problems) indent(`! ${p} (installed anyway: --force)`);
  for (const nt of chosen.match.notes) indent(`? ${nt}`);

  if (!dry && io.interactive && io.confirm) {
    const how = identity.mode === 'offline' ? `as offline device ${String(identity.deviceId)}` : identity.mode === 'token' ? `enrolling with ${String(identity.controller)}` : `pairing with ${String(identity.controller)}`;
    if (!(await io.confirm(`Install ${profile.id} under ${o.root}, ${how}?`, true))) throw new LoaError('LOA_ERR_PROVISION_ABORTED', 'provisioning was cancelled; nothing was changed');
  }

  const staging = new Staging({ root: o.root, dataDir: o.dataDir });
  const dataExists = existsSync(underRoot(o.root, o.dataDir));
  const serviceWanted = o.service !== false;
  const config = (extra: Partial<AgentConfig>): AgentConfig => agentConfigChecker.parse({
    version: 1, dataDir: o.dataDir, profile: PROFILE_INSTALL_PATH, profileId: profile.id, installDir: o.installDir, mode: identity.mode,
    ...(identity.controller ? { controllerUrl: identity.controller } : {}), ...(serviceWanted ? { service: UNIT_NAME } : {}),
    provisionedAt: new Date(now()).toISOString(), ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}), ...extra,
  }, 'agent config');
  const stageConfig = (extra: Partial<AgentConfig>): void => {
    staging.stageFile(AGENT_CONFIG_PATH, JSON.stringify(config(extra), null, 2) + '\n', 0o644);
  };
  const groups = unitGroups(profile);
  const known = targetGroups(o.root);
  const missingGroups = known ? groups.filter((g) => !known.has(g)) : [];
  const unit = renderUnit({
    profile, nodePath: o.nodePath, installDir: o.installDir, dataDir: o.dataDir, profilePath: PROFILE_INSTALL_PATH,
    groups: groups.filter((g) => !missingGroups.includes(g)),
    notifyAccess: (o.root === '/' ? targetHasLibsystemd('/') : targetHasLibsystemd(o.root)) ? 'main' : 'all',
  });
  const unitPath = join(UNIT_DIR, UNIT_NAME);
  const commands = serviceCommands({ dataDir: o.dataDir, start: true });

  if (dry) {
    printPlan();
    return result;
  }

  let serviceStopped = false;
  staging.open();
  try {
    if (previous && onTarget && serviceWanted && (await exec(['systemctl', 'is-active', '--quiet', UNIT_NAME])).code === 0) {
      io.out(`Stopping ${UNIT_NAME} while the device is provisioned again`);
      await exec(['systemctl', 'stop', UNIT_NAME]);
      serviceStopped = true;
    }
    // 3. config
    step();
    stageConfig({});
    staging.stageFile(PROFILE_INSTALL_PATH, chosen.bytes, 0o644);
    indent(`${AGENT_CONFIG_PATH}: data dir ${o.dataDir}, profile ${PROFILE_INSTALL_PATH} (copy of ${chosen.match.source})`);

    // 4. key (an existing device keeps its identity and state)
    step();
    if (dataExists) {
      const kept = staging.keep(['device.key', 'device.json', 'controller.json']);
      if (await staging.keepDatabase('agent.db')) kept.push('agent.db');
      if (kept.length) indent(`kept from ${o.dataDir}: ${kept.join(', ')}`);
    }
    const hadKey = existsSync(join(staging.data, 'device.key'));
    const key = ensureKey(staging.data);
    indent(`${hadKey ? 'existing' : 'new'} Ed25519 device key ${join(o.dataDir, 'device.key')} (mode 0600), key id ${key.keyid.slice(0, 16)}…`);
    aborted();

    // 5. trust
    step();
    if (trust) {
      const root = await withTrustStore(staging.data, (m) => installTrust(m, trust));
      indent(`trust root v${root.version} from ${o.trust} (root threshold ${root.roles.root.threshold} of ${root.roles.root.keyids.length}, expires ${root.expires})`);
    } else {
      indent('no --trust given: the controller hands over its trust root at enrollment (trust on first use)');
    }

    // 6. self-test
    step();
    if (o.selftest === false) {
      indent('skipped (--no-selftest)');
    } else {
      const st = await runSelftest({
        profile, dataDir: staging.data, root: o.root, ...(o.toneMs ? { toneMs: o.toneMs } : {}), ...o.selftestDeps,
        ...(o.signal ? { signal: o.signal } : {}),
        // Rows name the data dir as it will be, not the staging folder.
        onRow: (r) => indent(`${r.status.padEnd(4)} ${r.step}: ${r.detail.split(staging.data).join(o.dataDir)}`),
      });
      result.selftest = { ok: st.ok, passed: st.rows.filter((r) => r.status === 'PASS').length, failed: st.failed.length };
      if (!st.ok) {
        for (const line of formatSelftestTable(st).split('\n')) indent(line);
        throw new LoaError('LOA_ERR_SELFTEST_FAILED', `the self-test failed: ${st.failed.map((r) => r.step).join('; ')}. Check the wiring, or pass --no-selftest to install anyway`);
      }
    }
    aborted();

    // 7. systemd unit
    step();
    if (!serviceWanted) indent('skipped (--no-service)');
    else {
      staging.stageFile(unitPath, unit, 0o644);
      indent(`${unitPath}: runs as user loa${groups.length ? ` (groups ${groups.join(' ')})` : ''}, Type=notify, WatchdogSec=30, hardened`);
      for (const g of missingGroups) indent(`! the group ${g} does not exist on the target: left out of SupplementaryGroups (create it and give it ${g === 'gpio' ? '/dev/gpiochip*' : 'the device'} with a udev rule)`);
    }

    // 8. identity
    step();
    const enrolled = await establishIdentity(identity, staging.data);
    result.deviceId = enrolled.deviceId;
    if (enrolled.zoneId) result.zoneId = enrolled.zoneId;
    stageConfig({ deviceId: enrolled.deviceId });
    aborted();

    // 9. install
    step();
    const report = staging.commit();
    result.written = report.written;
    indent(`moved into place (${report.written.length}${report.replaced.length ? `, ${report.replaced.length} replacing older versions` : ''}): ${report.written.join(', ')}`);
  } catch (e) {
    staging.discard();
    if (serviceStopped) await exec(['systemctl', 'start', UNIT_NAME]);
    const err = toLoaError(e);
    io.out(`✖ step ${n}/${STEPS.length} (${STEPS[n - 1] ?? ''}) failed: ${err.code}: ${err.message}`);
    io.out('  Nothing was changed on this device: every file was staged and the staging folder is removed.');
    throw err;
  }

  // 10. service
  step();
  if (!serviceWanted) indent('skipped (--no-service): start the agent yourself with `loa agent run`');
  else if (onTarget) {
    for (const c of previous ? [...commands.slice(0, -1), { argv: ['systemctl', 'restart', UNIT_NAME], why: 'restart with the new setup' }] : commands) {
      if (c.skipIf === 'user-exists' && targetHasUser('/', 'loa')) continue;
      const r = await exec(c.argv);
      if (r.code !== 0) throw new LoaError('LOA_ERR_SERVICE_INSTALL', `\`${shellLine(c.argv)}\` failed (${r.code}): ${r.stderr.trim()}. The files are installed; fix this and run \`systemctl enable --now ${UNIT_NAME}\``);
      indent(`${shellLine(c.argv)}  # ${c.why}`);
    }
    result.serviceStarted = true;
  } else {
    indent(`not started: ${o.root} is not this machine's root. On the target, run:`);
    for (const c of commands) {
      const line = `${c.skipIf === 'user-exists' ? 'id loa >/dev/null 2>&1 || ' : ''}${shellLine(c.argv)}`;
      result.todo.push(line);
      indent(`  ${line}`);
    }
  }

  io.out('');
  io.out(`✔ Provisioned ${result.deviceId ? `device ${result.deviceId}` : 'this device'}${result.zoneId ? ` (zone ${result.zoneId})` : ''} with profile ${profile.id}.`);
  io.out(`  config    ${AGENT_CONFIG_PATH}`);
  io.out(`  data      ${o.dataDir} (device.key 0600, agent.db with the trust root)`);
  io.out(`  self-test ${result.selftest ? `${result.selftest.passed} passed, ${result.selftest.failed} failed` : 'skipped'}`);
  io.out(`  service   ${!serviceWanted ? 'not installed' : result.serviceStarted ? `${UNIT_NAME} enabled and started` : `${unitPath} written, not started`}`);
  return result;

  async function establishIdentity(id: typeof identity, dataDir: string): Promise<{ deviceId: string; zoneId?: string }> {
    if (id.mode === 'offline') {
      const existing = readIdentity(dataDir);
      if (existing && existing.deviceId !== id.deviceId) {
        throw new LoaError('LOA_ERR_PROVISION_INPUT', `this device is already ${existing.deviceId}; it cannot become ${String(id.deviceId)} (move ${o.dataDir} aside to start over)`);
      }
      writeIdentity(dataDir, id.deviceId ?? '');
      indent(`offline device ${String(id.deviceId)}: load schedules with \`loa agent import\``);
      return { deviceId: id.deviceId ?? '' };
    }
    const controller = id.controller ?? '';
    if (id.mode === 'token') {
      indent(`enrolling with ${controller} (one-time token)`);
      const res = await requestEnrollment({
        controllerUrl: controller, token: id.token ?? '', publicKey: ensureKey(dataDir).publicKey, hardwareProfile: profile.id,
        ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}), ...(o.fetch ? { fetch: o.fetch } : {}),
      });
      const done = completeEnrollment(dataDir, res);
      indent(`enrolled as ${done.deviceId} in zone ${done.zoneId}; trust root v${done.rootVersion}; broker ${done.mqttUrl}`);
      return { deviceId: done.deviceId, zoneId: done.zoneId };
    }
    // waitForPairing completes the enrollment itself (trust root, device.json, controller.json).
    const res = await pair(controller, dataDir);
    indent(`paired as ${res.deviceId} in zone ${res.zoneId}; trust root v${res.root.signed.version}; broker ${res.mqttUrl}`);
    return { deviceId: res.deviceId, zoneId: res.zoneId };
  }

  async function pair(controller: string, dataDir: string): Promise<EnrollResponse> {
    const api = await import('../sync/pair.js');
    const ticket = await api.requestPairing({
      dataDir, controllerUrl: controller, hardwareProfile: profile.id, ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}), ...(o.fetch ? { fetch: o.fetch } : {}),
    });
    io.out('');
    io.out('      Pairing code: give it to the technician, who claims it in the dashboard or at');
    io.out(`      ${ticket.pairUrl}`);
    if (io.showPairing) await io.showPairing(ticket);
    io.out(`      code ${ticket.code}, valid until ${ticket.expiresAt}; waiting for the claim… (Ctrl-C cancels)`);
    const timeout = AbortSignal.timeout(o.pairTimeoutMs ?? 15 * 60_000);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    try {
      return await api.waitForPairing({
        dataDir, controllerUrl: controller, ticket, signal, onState: (s) => indent(`pairing: ${s}`), ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.pairPollMs ? { pollMs: { min: o.pairPollMs } } : {}),
      });
    } catch (e) {
      if (o.signal?.aborted) throw new LoaError('LOA_ERR_PROVISION_ABORTED', 'pairing was cancelled; nothing was changed', { cause: e });
      if (timeout.aborted) throw new LoaError('LOA_ERR_PROVISION_ABORTED', `nobody claimed the pairing code within ${Math.round((o.pairTimeoutMs ?? 900_000) / 60_000)} min; nothing was changed`, { cause: e });
      throw e;
    }
  }

  function printPlan(): void {
    n = 2;
    step();
    indent(`would write ${AGENT_CONFIG_PATH}:`);
    for (const line of JSON.stringify(config(identity.deviceId ? { deviceId: identity.deviceId } : {}), null, 2).split('\n')) indent(`  ${line}`);
    indent(`would copy ${chosen.match.source} to ${PROFILE_INSTALL_PATH}`);
    step();
    const keyOnDisk = existsSync(join(underRoot(o.root, o.dataDir), 'device.key'));
    indent(keyOnDisk ? `would keep the existing key ${join(o.dataDir, 'device.key')}` : `would make a new Ed25519 key ${join(o.dataDir, 'device.key')} (mode 0600)`);
    step();
    indent(trust ? `would install trust root v${trust.latest.version} from ${o.trust} (verified)` : 'the controller hands over its trust root at enrollment');
    step();
    if (o.selftest === false) indent('skipped (--no-selftest)');
    else {
      const channels = profile.relay.type === 'none' ? 0 : profile.relay.type === 'gpio' ? profile.relay.lines.length : profile.relay.channels;
      indent(`would ${channels ? `switch ${channels} relay channel(s) on and off and ` : ''}play a 1 kHz tone on ${profile.outputs.map((z) => z.name).join(', ')}`);
    }
    step();
    if (!serviceWanted) indent('skipped (--no-service)');
    else {
      indent(`would write ${unitPath}:`);
      for (const line of unit.trimEnd().split('\n')) indent(`  ${line}`);
    }
    step();
    indent(identity.mode === 'offline' ? `would write device.json for ${String(identity.deviceId)}` : identity.mode === 'token' ? `would enroll with ${String(identity.controller)} using the token` : `would ask ${String(identity.controller)} for a pairing code and wait for a technician to claim it`);
    step();
    indent(`would move everything into place under ${o.root} in one commit`);
    step();
    for (const c of serviceWanted ? commands : []) indent(`${o.root === '/' ? 'would run' : 'to run on the target'}: ${shellLine(c.argv)}`);
    io.out('');
    io.out('Dry run: nothing was changed.');
  }
}
