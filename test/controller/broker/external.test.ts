import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { openDb } from '../../../agent/store/db.js';
import { MqttBus } from '../../../controller/broker/mqtt-bus.js';
import { TelemetryRepo } from '../../../controller/data/telemetry.js';
import { CONTROLLER_MIGRATIONS } from '../../../controller/db/migrations.js';
import { TelemetryIngest } from '../../../controller/telemetry/ingest.js';
import { topics } from '../../../shared/topics.js';
import { captureLogger, nextMessage, seed } from './fleet.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const skip = existsSync(MOSQUITTO) ? false : `${MOSQUITTO} is not installed (apt-get install mosquitto); the external-broker test needs it`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts Debian's mosquitto on 127.0.0.1:port with a temp config; resolves once it says it is running. */
function startMosquitto(dir: string, port: number): Promise<ChildProcess> {
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type all', `user ${userInfo().username}`, ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mosquitto did not start: ${err.slice(-500)}`));
    }, 10_000);
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      if (/ running/.test(err)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mosquitto exited with ${code}: ${err.slice(-500)}`));
    });
  });
}

function stopMosquitto(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const device = (port: number, id: string): Promise<MqttClient> => mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: id, reconnectPeriod: 0, protocolVersion: 4 });

test('telemetry ingest runs end to end through an external Mosquitto broker via MqttBus, and survives a broker restart', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-ext-'));
  const db = openDb({ path: join(dir, 'c.db'), migrations: CONTROLLER_MIGRATIONS, synchronous: 'NORMAL' });
  seed(db);
  const repo = new TelemetryRepo({ db });
  const log = captureLogger([]);
  const port = await freePort();
  let broker = await startMosquitto(dir, port);
  const bus = new MqttBus({ url: `mqtt://127.0.0.1:${port}`, clientId: `loa-controller-test-${process.pid}`, reconnectPeriodMs: 100, startWaitMs: 5000, log });
  const ingest = new TelemetryIngest({ bus, repo, log, flushIntervalMs: 5 });
  const clients: MqttClient[] = [];
  const until = (check: () => boolean): Promise<void> => new Promise((resolve) => {
    if (check()) {
      resolve();
      return;
    }
    const off = ingest.onFlush(() => {
      if (check()) {
        off();
        resolve();
      }
    });
  });
  try {
    await bus.start();
    assert.equal(bus.connected, true);
    await ingest.start();
    const a = await device(port, 'dev-a');
    clients.push(a);
    await a.publishAsync(topics.up('dev-a', 'status'), JSON.stringify({ online: true, at: 1, manifestVersion: 2 }), { qos: 1, retain: true });
    await a.publishAsync(topics.up('dev-a', 'telemetry'), JSON.stringify({ at: 10, manifestVersion: 2, stale: false, tempC: 51 }), { qos: 1 });
    const e = { deviceId: 'dev-a', seq: 1, key: 'dev-a:1', type: 'manifest.accepted', at: 11, data: { version: 3 } };
    await a.publishAsync(topics.up('dev-a', 'events'), JSON.stringify(e), { qos: 1 });
    await a.publishAsync(topics.up('dev-a', 'events'), JSON.stringify(e), { qos: 1 });
    await until(() => ingest.counters.stored === 3 && ingest.counters.duplicates === 1);
    assert.deepEqual(repo.deviceStates(['dev-a']).map((s) => [s.online, s.appliedVersion, s.telemetry?.tempC]), [[true, 3, 51]]);

    // Controller → device through the same bus.
    await a.subscribeAsync(topics.down('dev-a', 'notify'), { qos: 1 });
    const got = nextMessage(a);
    await bus.publish(topics.down('dev-a', 'notify'), JSON.stringify({ version: 3, at: 12 }));
    assert.equal((JSON.parse((await got).payload.toString()) as { version: number }).version, 3);

    // The broker goes away and comes back empty (no persistence): the bus reconnects and subscribes again.
    const down = new Promise<void>((r) => {
      const off = bus.onState((c) => {
        if (!c) {
          off();
          r();
        }
      });
    });
    const back = new Promise<void>((r) => {
      const off = bus.onState((c) => {
        if (c) {
          off();
          r();
        }
      });
    });
    await stopMosquitto(broker);
    await down;
    broker = await startMosquitto(dir, port);
    await back;
    const b = await device(port, 'dev-b');
    clients.push(b);
    await b.publishAsync(topics.up('dev-b', 'telemetry'), JSON.stringify({ at: 20, manifestVersion: 1, stale: true }), { qos: 1 });
    await until(() => repo.latestTelemetry('dev-b')?.at === 20);
    assert.equal(repo.deviceStates(['dev-b'])[0]?.stale, true);
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await ingest.stop();
    await bus.stop();
    await stopMosquitto(broker);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
