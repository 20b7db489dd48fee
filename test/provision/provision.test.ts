import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../agent/agent.js';
import { loadProfile } from '../../agent/config/profile.js';
import { agentConfigChecker } from '../../agent/provision/config.js';
import { provision, type ProvisionOptions, type ProvisionResult } from '../../agent/provision/provision.js';
import { renderUnit } from '../../agent/provision/systemd.js';
import { withTrustStore } from '../../agent/provision/trust.js';
import { LoaError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { startEmulatedBoard, type EmulatedBoard } from '../support/board.js';
import { startTestController, type TestController } from '../support/controller.js';
import { eventually } from '../support/wait.js';
import { bigText } from '../../scripts/cli/big-text.js';
import { showPairing } from '../../scripts/cli/provision.js';
import { loa } from './cli.js';
import { buildFakeRoot, FIXTURES, snapshot } from './fake-root.js';

const PROFILES = join(process.cwd(), 'hardware-profiles');

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
/** An x86 mini PC bench rig: an LCUS-1 board on ttyUSB0 (the socat pty) and the file sink instead of a sound card. */
const BENCH_PROFILE = {
  id: 'bench-lcus1', name: 'x86 mini PC bench rig: LCUS-1 on ttyUSB0, file sink', audio: { driver: 'file', device: 'sink' },
  relay: { type: 'lcus', port: '/dev/ttyUSB0', channels: 1, usb: '1a86:7523' },
  outputs: [{ name: 'amply', label: 'Âm ly', channels: [0], warmupMs: 0, cooldownMs: 0 }],
};

void describe('loa provision into a temp root', () => {
  let ctl: TestController;
  let rig: EmulatedBoard;
  let profilePath: string;
  let trustPath: string;
  let roots = 0;
  let devices = 0;

  before(async () => {
    ctl = await startTestController();
    await ctl.admin.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: 'X01', name: 'Xã Tân Lập' });
    await ctl.admin.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
    rig = await startEmulatedBoard('loa-provision-', { protocol: 'lcus', channels: 1 });
    profilePath = join(rig.dir, 'bench-lcus1.json');
    writeFileSync(profilePath, JSON.stringify(BENCH_PROFILE, null, 2));
    trustPath = join(ctl.dir, 'keys', 'root.json');
  });
  after(async () => {
    await rig.stop();
    await ctl.close();
  });

  /** A fresh target: the x86 fixture, whose /dev/ttyUSB0 is the pty with the emulated LCUS board behind it. */
  const newRoot = (o: { board?: boolean } = {}): string => buildFakeRoot(join(rig.dir, `root-${++roots}`), {
    ...FIXTURES['x86-minipc-lcus1'],
    serial: [{ name: 'ttyUSB0', usb: '1a86:7523', byId: 'usb-1a86_USB_Serial-if00-port0', ...(o.board === false ? {} : { devLink: rig.port }) }],
  });
  const newToken = async (): Promise<{ deviceId: string; token: string }> => {
    const deviceId = `loa-prov-${++devices}`;
    await ctl.admin.post('/api/v1/devices', { id: deviceId, zoneId: 'X01-C1', name: `Loa ${devices}` });
    return { deviceId, ...(await ctl.admin.post<{ token: string }>(`/api/v1/devices/${deviceId}/enrollment-token`)) };
  };
  const run = async (o: Partial<ProvisionOptions> & { root: string }): Promise<{ result: ProvisionResult; out: string[] }> => {
    const out: string[] = [];
    const result = await provision({
      dataDir: '/var/lib/loa', profilesDir: PROFILES, installDir: '/opt/loaphuong', nodePath: '/usr/bin/node', toneMs: 200,
      io: { interactive: false, out: (l) => out.push(l) }, serialLister: null, agentVersion: '0.1.0',
      exec: () => Promise.reject(new Error('nothing may run on a temp root')), ...o,
    });
    return { result, out };
  };
  const cliArgs = (root: string, extra: string[]): string[] => ['provision', '--root', root, '--yes', '--tone-ms', '200', '--node', '/usr/bin/node', ...extra];

  void it('provisions with token enrollment: config, key 0600, trust installed, self-test passed, unit written but not started', async () => {
    const root = newRoot();
    const { deviceId, token } = await newToken();
    const { result, out } = await run({ root, controller: ctl.controller.httpUrl, token, trust: trustPath, profile: profilePath });
    const text = out.join('\n');
    for (let i = 1; i <= 10; i++) assert.match(text, new RegExp(`^\\[${i}/10\\] `, 'm'));
    assert.equal(result.deviceId, deviceId);
    assert.equal(result.zoneId, 'X01-C1');
    assert.deepEqual(result.selftest, { ok: true, passed: 5, failed: 0 }, 'board, ch0 on, ch0 off, audio output, tone');
    assert.equal(result.serviceStarted, false);

    const config = agentConfigChecker.parse(JSON.parse(readFileSync(join(root, 'etc/loa/agent.json'), 'utf8')));
    assert.deepEqual([config.dataDir, config.profile, config.profileId, config.mode, config.deviceId, config.service], ['/var/lib/loa', '/etc/loa/hardware-profile.json', 'bench-lcus1', 'token', deviceId, 'loa-agent.service']);
    assert.equal(statSync(join(root, 'etc/loa/agent.json')).mode & 0o777, 0o644);
    assert.equal(readFileSync(join(root, 'etc/loa/hardware-profile.json'), 'utf8'), readFileSync(profilePath, 'utf8'));

    const data = join(root, 'var/lib/loa');
    assert.equal(statSync(join(data, 'device.key')).mode & 0o777, 0o600);
    assert.equal(statSync(data).mode & 0o777, 0o750);
    assert.equal((JSON.parse(readFileSync(join(data, 'device.json'), 'utf8')) as { deviceId: string }).deviceId, deviceId);
    assert.equal((JSON.parse(readFileSync(join(data, 'controller.json'), 'utf8')) as { zoneId: string }).zoneId, 'X01-C1');
    const installed = await withTrustStore(data, (m) => m.root());
    const province = (JSON.parse(readFileSync(trustPath, 'utf8')) as { signed: { version: number; expires: string } }).signed;
    assert.deepEqual([installed?.version, installed?.expires], [province.version, province.expires]);
    assert.ok(existsSync(join(data, 'selftest', 'selftest.json')), 'the self-test record is kept');

    const unit = readFileSync(join(root, 'etc/systemd/system/loa-agent.service'), 'utf8');
    assert.equal(unit, renderUnit({ profile: loadProfile(profilePath), nodePath: '/usr/bin/node', installDir: '/opt/loaphuong', dataDir: '/var/lib/loa', profilePath: '/etc/loa/hardware-profile.json', notifyAccess: 'all' }));
    assert.deepEqual(result.todo.slice(-2), ['systemctl daemon-reload', 'systemctl enable --now loa-agent.service']);
    assert.ok(!existsSync(join(root, 'var/lib/.loa.provisioning')), 'no staging folder left');

    const device = (await ctl.admin.get<{ device: { keyid: string | null; hardwareProfile: string | null } }>(`/api/v1/devices/${deviceId}`)).device;
    assert.equal(device.hardwareProfile, 'bench-lcus1');
    assert.ok(text.includes(`key id ${device.keyid?.slice(0, 16) ?? 'none'}`));
    assert.ok(!text.includes('PRIVATE KEY') && !text.includes(token), 'neither the key nor the token is printed');
    assert.deepEqual(rig.board.state, [false], 'the relay is off after the self-test');
  });

  void it('asks for what the flags leave open when a person is at the terminal (controller, token, profile)', async () => {
    const root = newRoot();
    const { deviceId, token } = await newToken();
    const profilesDir = join(rig.dir, `profiles-${roots}`);
    mkdirSync(profilesDir);
    writeFileSync(join(profilesDir, 'bench-lcus1.json'), JSON.stringify(BENCH_PROFILE));
    writeFileSync(join(profilesDir, 'x86-minipc-lcus1.json'), readFileSync(join(PROFILES, 'x86-minipc-lcus1.json')));
    const asked: string[] = [];
    const secrets: string[] = [];
    const answers: [RegExp, string][] = [[/^Controller URL/, ctl.controller.httpUrl], [/pairing code .* or a one-time token/, 't'], [/^Hardware profile/, 'bench-lcus1']];
    const out: string[] = [];
    const result = await provision({
      root, dataDir: '/var/lib/loa', profilesDir, installDir: '/opt/loaphuong', nodePath: '/usr/bin/node', toneMs: 200, serialLister: null,
      exec: () => Promise.reject(new Error('no')),
      io: {
        interactive: true, out: (l) => out.push(l),
        ask: (q, def) => {
          asked.push(`${q} [${def ?? ''}]`);
          return Promise.resolve(answers.find(([re]) => re.test(q))?.[1] ?? def ?? '');
        },
        askSecret: (q) => {
          secrets.push(q);
          return Promise.resolve(token);
        },
      },
    });
    assert.equal(result.deviceId, deviceId);
    assert.equal(result.profileId, 'bench-lcus1');
    assert.deepEqual(secrets, ['Enrollment token'], 'the token is asked without echo');
    assert.equal(asked.length, 3, asked.join('\n'));
    assert.match(asked[2] ?? '', /^Hardware profile \(number, id or file\) \[1\]$/, 'the best fit is the default');
    assert.match(out.join('\n'), / 1\) x86-minipc-lcus1 \(score 75\)[^]* 2\) bench-lcus1 \(score 65\)/);
  });

  void it('refuses to provision a provisioned device again, changing nothing; --force keeps its key and media', async () => {
    const root = newRoot();
    const first = await newToken();
    await run({ root, controller: ctl.controller.httpUrl, token: first.token, profile: profilePath, selftest: false });
    const data = join(root, 'var/lib/loa');
    mkdirSync(join(data, 'media'), { recursive: true });
    writeFileSync(join(data, 'media', 'abc'), 'media bytes');
    const key = readFileSync(join(data, 'device.key'));
    const before = snapshot(root);

    const again = await newToken();
    await assert.rejects(run({ root, controller: ctl.controller.httpUrl, token: again.token, profile: profilePath, selftest: false }),
      (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_PROVISION_ALREADY' && /--force/.test(e.message));
    assert.deepEqual(snapshot(root), before);

    // The same device record again (a new token for it): the key is kept, so the identity does not change.
    const retoken = await ctl.admin.post<{ token: string }>(`/api/v1/devices/${first.deviceId}/enrollment-token`);
    const { result, out } = await run({ root, controller: ctl.controller.httpUrl, token: retoken.token, profile: profilePath, selftest: false, force: true });
    assert.match(out.join('\n'), /already provisioned: device loa-prov-\d+/);
    assert.match(out.join('\n'), /kept from \/var\/lib\/loa: device\.key, device\.json, controller\.json, agent\.db/);
    assert.equal(result.deviceId, first.deviceId);
    assert.deepEqual(readFileSync(join(data, 'device.key')), key);
    assert.equal(readFileSync(join(data, 'media', 'abc'), 'utf8'), 'media bytes', 'media/ is merged, never replaced');
    assert.equal(readFileSync(join(root, 'etc/loa/agent.json'), 'utf8').includes(first.deviceId), true);
  });

  void it('--dry-run prints the plan and leaves the root byte-identical', async () => {
    const root = newRoot();
    const before = snapshot(root);
    const { result, out } = await run({ root, controller: ctl.controller.httpUrl, token: 'a-token-that-is-never-used-1234', trust: trustPath, profile: profilePath, dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(snapshot(root), before);
    const text = out.join('\n');
    assert.match(text, /would write \/etc\/loa\/agent\.json/);
    assert.match(text, /would make a new Ed25519 key \/var\/lib\/loa\/device\.key \(mode 0600\)/);
    assert.match(text, /would install trust root v1 from .*root\.json \(verified\)/);
    assert.match(text, /ExecStart=\/usr\/bin\/node --max-semi-space-size=1 --v8-pool-size=1 \/opt\/loaphuong\/bin\/loa\.js agent run/);
    assert.match(text, /to run on the target: systemctl enable --now loa-agent\.service/);
    assert.match(text, /Dry run: nothing was changed\./);
    assert.deepEqual(rig.board.received().filter((n) => n.includes('dry')), [], 'no relay was touched');
  });

  void it('refuses a profile that does not match the hardware: clear message, exit 1, nothing written', async () => {
    const root = newRoot();
    const before = snapshot(root);
    const r = await loa(cliArgs(root, ['--profile', 'rpi-gpio-4zone', '--controller', ctl.controller.httpUrl, '--token', 'x'.repeat(32)]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /LOA_ERR_PROVISION_PROFILE_MISMATCH: hardware profile rpi-gpio-4zone does not match this hardware:\n\s+- no GPIO chip \/dev\/gpiochip0; GPIO chips found: none/);
    assert.match(r.stderr, /Hồ sơ phần cứng không khớp với phần cứng phát hiện được/);
    assert.match(r.stdout, /\[2\/10\] Choosing the hardware profile/);
    assert.deepEqual(snapshot(root), before);
  });

  void it('an unreachable controller fails step 8 after the self-test: exit 1, nothing half-written', async () => {
    const root = newRoot();
    const before = snapshot(root);
    const closed = await closedPort();
    const r = await loa(cliArgs(root, ['--profile', profilePath, '--controller', `http://127.0.0.1:${closed}`, '--token', 'x'.repeat(32), '--trust', trustPath]));
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /PASS relay ch0 on/);
    assert.match(r.stdout, /✖ step 8\/10 \(Identity\) failed: LOA_ERR_ENROLL_FAILED/);
    assert.match(r.stdout, /Nothing was changed on this device/);
    assert.match(r.stderr, /LOA_ERR_ENROLL_FAILED: the controller cannot be reached: http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.deepEqual(snapshot(root), before, 'no key, no config, no unit, no staging folder, no new folders');
  });

  void it('a corrupt trust file is refused before any step: exit 1, nothing written', async () => {
    const root = newRoot();
    const before = snapshot(root);
    const bad = join(rig.dir, 'corrupt-root.json');
    const good = JSON.parse(readFileSync(trustPath, 'utf8')) as { signed: { version: number } };
    good.signed.version = 7; // no longer what the root keys signed
    writeFileSync(bad, JSON.stringify(good));
    const r = await loa(cliArgs(root, ['--profile', profilePath, '--controller', ctl.controller.httpUrl, '--token', 'x'.repeat(32), '--trust', bad]));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /LOA_ERR_PROVISION_TRUST: the trust file .*corrupt-root\.json cannot be used: its root metadata is not valid or does not chain \(LOA_ERR_ROOT_THRESHOLD/);
    assert.match(r.stderr, /Không dùng được gói khóa tin cậy/);
    writeFileSync(bad, '{"signed": ');
    const r2 = await loa(cliArgs(root, ['--profile', profilePath, '--device-id', 'loa-x', '--trust', bad]));
    assert.match(r2.stderr, /LOA_ERR_PROVISION_TRUST: .* it is not JSON/);
    assert.deepEqual(snapshot(root), before);
  });

  void it('a failing self-test stops provisioning and removes everything staged', async () => {
    const root = newRoot({ board: false });
    const before = snapshot(root);
    const { token } = await newToken();
    await assert.rejects(run({ root, controller: ctl.controller.httpUrl, token, trust: trustPath, profile: profilePath }),
      (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_SELFTEST_FAILED' && /relay board/.test(e.message) && /--no-selftest/.test(e.message));
    assert.deepEqual(snapshot(root), before);
  });

  void it('installs offline with --device-id and --trust: no controller.json, schedules by bundle', async () => {
    const root = newRoot();
    const { result } = await run({ root, deviceId: 'loa-offline-1', trust: trustPath, profile: profilePath, selftest: false, service: false });
    assert.equal(result.mode, 'offline');
    const data = join(root, 'var/lib/loa');
    assert.equal((JSON.parse(readFileSync(join(data, 'device.json'), 'utf8')) as { deviceId: string }).deviceId, 'loa-offline-1');
    assert.ok(!existsSync(join(data, 'controller.json')));
    assert.ok(!existsSync(join(root, 'etc/systemd/system/loa-agent.service')), '--no-service');
    assert.equal((await withTrustStore(data, (m) => m.root()))?.version, 1);
  });

  void it('accepts the chain `loa keys export-trust` writes and installs its newest root', async () => {
    const keysDir = join(rig.dir, 'chain-keys');
    const init = await loa(['keys', 'init', '--out', keysDir]);
    assert.equal(init.status, 0, init.stderr);
    const rot = await loa(['keys', 'rotate-online', '--keys', keysDir, '--role', 'schedule', '--revoke-old']);
    assert.equal(rot.status, 0, rot.stderr);
    const chain = join(rig.dir, 'trust-chain.json');
    const ex = await loa(['keys', 'export-trust', '--keys', keysDir, '--out', chain]);
    assert.equal(ex.status, 0, ex.stderr);
    assert.ok(Array.isArray(JSON.parse(readFileSync(chain, 'utf8'))), 'export-trust writes a bare array');
    const root = newRoot();
    await run({ root, deviceId: 'loa-offline-2', trust: chain, profile: profilePath, selftest: false, service: false });
    assert.equal((await withTrustStore(join(root, 'var/lib/loa'), (m) => m.root()))?.version, 2);
  });

  void it('cancelling while it waits for the pairing claim (Ctrl-C) changes nothing', async () => {
    const root = newRoot();
    const before = snapshot(root);
    const out: string[] = [];
    const cancel = new AbortController();
    const running = run({ root, controller: ctl.controller.httpUrl, profile: profilePath, selftest: false, pairPollMs: 200, signal: cancel.signal, io: { interactive: false, out: (l) => out.push(l) } });
    await eventually(() => out.some((l) => l.includes('waiting for the claim')), 30_000, 'the pairing code');
    cancel.abort();
    await assert.rejects(running, (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_PROVISION_ABORTED');
    assert.deepEqual(snapshot(root), before);
  });

  void it('pairs: the code is claimed through the API, then the agent gets its first manifest', async (t) => {
    const root = newRoot();
    const out: string[] = [];
    const cancel = new AbortController();
    const running = provision({
      root, dataDir: '/var/lib/loa', profilesDir: PROFILES, installDir: '/opt/loaphuong', nodePath: '/usr/bin/node', toneMs: 200,
      io: { interactive: false, out: (l) => out.push(l), showPairing: (t) => showPairing(t, (l) => out.push(l), false) },
      serialLister: null, exec: () => Promise.reject(new Error('no')),
      controller: ctl.controller.httpUrl, trust: trustPath, profile: profilePath, pairPollMs: 200, signal: cancel.signal,
    });
    // A failed assertion must not leave provisioning waiting for a claim.
    t.after(async () => {
      cancel.abort();
      await running.catch(() => undefined);
    });
    let code = '';
    await eventually(() => {
      code = /code ([2-9A-Z]{4}-[2-9A-Z]{4}), valid until/.exec(out.join('\n'))?.[1] ?? '';
      return code !== '';
    }, 30_000, 'the pairing code on screen');
    const text = out.join('\n');
    assert.ok(text.includes(`${ctl.controller.httpUrl}/pair?code=${code}`), 'the pairing URL is shown');
    // Every row of the code in big letters (which glyph rows are full bars depends on the random code).
    for (const row of bigText(code, '        ').split('\n')) assert.ok(text.includes(row), `the code in big letters: ${row}`);
    assert.match(text, /█▀▀▀▀▀█/, 'a QR code (its finder pattern)');
    const claimed = (await ctl.admin.post<{ device: { id: string } }>('/api/v1/pairing/claim', { code, zoneId: 'X01-C1' })).device;
    const result = await running;
    assert.equal(result.mode, 'pairing');
    assert.equal(result.deviceId, claimed.id);
    const data = join(root, 'var/lib/loa');
    assert.ok(!existsSync(join(data, 'pairing.json')), 'the pairing ticket is gone once paired');

    // The provisioned data dir runs: the agent syncs and applies its first manifest from the controller.
    const agent = new Agent({ dataDir: data, profile: loadProfile(join(PROFILES, 'sim-file-sink.json')), log: createLogger('test:agent', { level: 'silent' }) });
    await agent.start();
    try {
      await eventually(() => Number(agent.status().manifestVersion) > 0, 20_000, 'the first manifest');
    } finally {
      await agent.stop();
    }
  });
});
