import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { initIdentity } from '../../agent/identity.js';
import { libsystemdNotifier, systemdNotifyCli, Watchdog, type Notifier } from '../../agent/watchdog.js';
import { createLogger } from '../../shared/log.js';
import { VirtualClock } from '../../shared/virtual-clock.js';
import { killOnExit, waitExit } from '../support/socat.js';
import { eventually } from '../support/wait.js';

const log = createLogger('test:watchdog', { level: 'silent' });
const tmp = mkdtempSync(join(tmpdir(), 'loa-wd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A notifier that records what it was asked to send. */
function fakeNotifier(fail = false): Notifier & { sent: string[] } {
  const sent: string[] = [];
  return {
    kind: 'fake', sent,
    notify(state: string): Promise<void> {
      sent.push(state.split('\n')[0] ?? '');
      return fail ? Promise.reject(new Error('socket gone')) : Promise.resolve();
    },
  };
}

void describe('watchdog contract (fake notifier, virtual clock)', () => {
  const env = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' };

  void it('does nothing outside systemd (no NOTIFY_SOCKET)', async () => {
    const notifier = fakeNotifier();
    const wd = new Watchdog({ heartbeat: () => 1, log, env: {}, notifier });
    await wd.start();
    await wd.stop();
    assert.deepEqual(notifier.sent, []);
    assert.equal(wd.active, false);
  });

  void it('sends READY=1, then WATCHDOG=1 every WatchdogSec/2 only while the scheduler ticked within WatchdogSec, and STOPPING=1', async () => {
    const clock = new VirtualClock({ start: Date.parse('2026-11-01T00:00:00Z') });
    const notifier = fakeNotifier();
    let ticks = 0;
    const wd = new Watchdog({ heartbeat: () => ticks, log, env, notifier, clock });
    await wd.start();
    assert.equal(wd.intervalMs, 15_000);
    assert.deepEqual(notifier.sent, ['READY=1']);
    for (let i = 0; i < 3; i++) {
      ticks += 15;
      await clock.advanceBy(15_000);
    }
    assert.deepEqual(notifier.sent, ['READY=1', 'WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1']);
    // The loop stalls. One more ping (it ticked 15 s ago, within WatchdogSec), then none: systemd restarts it.
    await clock.advanceBy(15_000);
    assert.equal(notifier.sent.length, 5);
    await clock.advanceBy(30_000);
    assert.equal(notifier.sent.length, 5);
    assert.equal(wd.stats.skipped, 2);
    ticks++;
    await clock.advanceBy(15_000);
    assert.equal(notifier.sent.at(-1), 'WATCHDOG=1', 'pings resume when the loop ticks again');
    await wd.stop();
    assert.equal(notifier.sent.at(-1), 'STOPPING=1');
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  void it('sends READY=1 but never pings when the watchdog is meant for another process (WATCHDOG_PID)', async () => {
    const clock = new VirtualClock({ start: 0 });
    const notifier = fakeNotifier();
    let ticks = 0;
    const wd = new Watchdog({ heartbeat: () => ++ticks, log, env: { ...env, WATCHDOG_PID: String(process.pid + 1) }, notifier, clock });
    await wd.start();
    await clock.advanceBy(60_000);
    await wd.stop();
    assert.deepEqual(notifier.sent, ['READY=1', 'STOPPING=1']);
  });

  void it('keeps going when a notification fails (playing matters more than the watchdog)', async () => {
    const clock = new VirtualClock({ start: 0 });
    const notifier = fakeNotifier(true);
    let ticks = 0;
    const wd = new Watchdog({ heartbeat: () => ++ticks, log, env, notifier, clock });
    await wd.start();
    await clock.advanceBy(45_000);
    await wd.stop();
    assert.equal(wd.stats.errors, 5, 'READY, three pings, STOPPING: each failed and was logged');
  });
});

const hasPython = spawnSync('python3', ['-c', 'import socket']).status === 0;

/** A unix datagram socket that prints what it receives, one JSON string per line (what systemd would read). */
async function listen(path: string): Promise<{ messages: string[]; child: ChildProcess }> {
  const script = [
    'import json, socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    'print("listening", flush=True)',
    'while True:',
    '    print(json.dumps(s.recv(4096).decode()), flush=True)',
  ].join('\n');
  const child = spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  killOnExit(child);
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => (line === 'listening' ? resolve() : messages.push(JSON.parse(line) as string)));
    child.once('exit', (code) => reject(new Error(`listener exited ${String(code)}`)));
  });
  return { messages, child };
}

void describe('watchdog over a real notify socket', { skip: hasPython ? false : 'python3 is not installed (it plays systemd\'s notify socket)' }, () => {
  void it('`loa agent run` sends READY=1 through libsystemd, pings while it runs, and STOPPING=1 on SIGTERM', { skip: libsystemdNotifier() ? false : 'libsystemd.so.0 is not installed' }, async () => {
    const sock = join(tmp, 'notify-agent.sock');
    const { messages, child: listener } = await listen(sock);
    const dataDir = join(tmp, 'agent');
    initIdentity(dataDir, 'wd-dev-1');
    const agent = spawn(process.execPath, [join(process.cwd(), 'bin', 'loa.js'), 'agent', 'run', '--data-dir', dataDir, '--profile', join(process.cwd(), 'hardware-profiles', 'sim-file-sink.json')], {
      stdio: ['ignore', 'ignore', 'ignore'], cwd: tmp, env: { ...process.env, LOA_LOG_LEVEL: 'silent', NOTIFY_SOCKET: sock, WATCHDOG_USEC: '1000000' },
    });
    killOnExit(agent);
    try {
      await eventually(() => messages.filter((m) => m === 'WATCHDOG=1').length >= 2, 15_000, 'two watchdog pings');
      assert.match(messages[0] ?? '', /^READY=1\nSTATUS=playing the schedule$/);
      agent.kill('SIGTERM');
      await waitExit(agent, 10_000);
      await eventually(() => messages.at(-1) === 'STOPPING=1', 5000, 'STOPPING=1');
    } finally {
      agent.kill('SIGKILL');
      listener.kill('SIGKILL');
    }
  });

  void it('the systemd-notify fallback reaches the same socket', { skip: spawnSync('systemd-notify', ['--help']).status === 0 ? false : 'systemd-notify is not installed' }, async () => {
    const sock = join(tmp, 'notify-cli.sock');
    const { messages, child: listener } = await listen(sock);
    try {
      const cli = systemdNotifyCli('systemd-notify', { ...process.env, NOTIFY_SOCKET: sock });
      await cli.notify('READY=1');
      await cli.notify('WATCHDOG=1');
      // systemd-notify follows each message with BARRIER=1 (it waits until systemd has read it).
      const sent = (): string[] => messages.filter((m) => m !== 'BARRIER=1');
      await eventually(() => sent().length >= 2, 5000, 'two messages');
      assert.match(sent()[0] ?? '', /READY=1/);
      assert.match(sent()[1] ?? '', /WATCHDOG=1/);
      assert.match(sent()[0] ?? '', new RegExp(`MAINPID=${process.pid}`), 'it speaks for the agent, not for itself');
    } finally {
      listener.kill('SIGKILL');
    }
  });
});
