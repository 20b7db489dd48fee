import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OutputController, type RelayEventType } from '../../../agent/outputs/controller.js';
import { LcusDriver } from '../../../agent/outputs/lcus/driver.js';
import { ModbusDriver } from '../../../agent/outputs/modbus/driver.js';
import { SystemClock } from '../../../shared/clock.js';
import { createLogger } from '../../../shared/log.js';
import type { RelayDriver } from '../../../shared/outputs.js';
import type { OutputZone } from '../../../shared/schemas/hardware-profile.js';
import { spawnRelayEmulator, waitUntil, type EmulatorProcess, type EmulatorProtocol } from '../../support/relay-emulator.js';
import { startSocat, type SocatPair } from '../../support/socat.js';

const log = createLogger('test:serial-faults', { level: 'silent' });
const clock = new SystemClock();
const ZONES: OutputZone[] = [
  { name: 'main', channels: [0], warmupMs: 0, cooldownMs: 0 },
  { name: 'market', channels: [1], warmupMs: 0, cooldownMs: 0 },
  { name: 'school', channels: [2], warmupMs: 0, cooldownMs: 0 },
];

interface Event {
  type: RelayEventType;
  data: Record<string, unknown>;
}

function controllerFor(driver: RelayDriver, events: Event[]): OutputController {
  return new OutputController({
    profileOutputs: ZONES,
    driver,
    clock,
    log,
    onEvent: (type, data) => events.push({ type, data }),
    retryMs: { min: 50, max: 300 },
    checkMs: 200,
  });
}

void describe('relay faults on a real serial port', () => {
  let dir: string;
  const cleanups: Array<() => Promise<void>> = [];

  void before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loa-relay-faults-'));
  });

  void after(async () => {
    for (const c of cleanups.reverse()) await c();
    await rm(dir, { recursive: true, force: true });
  });

  async function board(protocol: EmulatorProtocol, names: [string, string], initial?: boolean[]): Promise<{ socat: SocatPair; emu: EmulatorProcess }> {
    const socat = await startSocat({ dir, names });
    cleanups.push(() => socat.stop());
    const emu = await spawnRelayEmulator({ port: socat.b, protocol, channels: 4, ...(initial ? { initial } : {}) });
    cleanups.push(() => emu.kill());
    return { socat, emu };
  }

  for (const protocol of ['modbus', 'lcus'] as const) {
    void it(`recovers a ${protocol} board that lost power and whose port vanished, and resyncs it to the desired state`, async () => {
      const names: [string, string] = [`${protocol}-a`, `${protocol}-b`];
      const first = await board(protocol, names);
      const driver: RelayDriver =
        protocol === 'modbus'
          ? new ModbusDriver({ port: first.socat.a, channels: 4, timeoutMs: 200, log })
          : new LcusDriver({ port: first.socat.a, channels: 4, clock, log, frameGapMs: 5 });
      const events: Event[] = [];
      const controller = controllerFor(driver, events);
      cleanups.push(() => controller.stop());
      await controller.start();
      await controller.engage(['main']);
      await controller.engage(['school']);
      await first.emu.waitForState([true, false, true, false]);

      await first.emu.kill(); // SIGKILL: the board loses power
      await first.socat.kill(); // the USB adapter is unplugged: the port disappears
      await waitUntil(() => events.length > 0, 5000, 'relay.fault');
      assert.equal(events[0]?.type, 'relay.fault');
      assert.ok(['LOA_ERR_SERIAL_IO', 'LOA_ERR_RELAY_TIMEOUT'].includes(String(events[0]?.data.code)), JSON.stringify(events[0]));
      assert.ok(String(events[0]?.data.message).includes(first.socat.a), 'the fault names the port');

      // audio goes on: engage does not wait for the missing board
      const t = Date.now();
      await controller.engage(['market']);
      assert.ok(Date.now() - t < 500, 'engage resolved at once while faulted');
      // it keeps retrying, and says plainly that the port is missing
      await waitUntil(() => controller.state().error?.code === 'LOA_ERR_SERIAL_PORT_MISSING', 5000, 'a retry to find the port missing');
      assert.match(controller.state().error?.message ?? '', new RegExp(`does not exist: ${first.socat.a}`));
      assert.equal(events.length, 1, 'one fault event for the whole outage');

      // the board comes back on the same path, powered up with its relays in a random state
      const second = await board(protocol, names, [false, false, false, true]);
      await waitUntil(() => events.some((e) => e.type === 'relay.recovered'), 8000, 'relay.recovered');
      await second.emu.waitForState([true, true, true, false]);
      assert.deepEqual(controller.state().desired, [true, true, true, false]);
      assert.equal(controller.state().faulted, false);

      await controller.stop();
      await second.emu.waitForState([false, false, false, false]);
    });
  }

  void it('starts without a port, reports LOA_ERR_SERIAL_PORT_MISSING naming it, and takes the board when it appears', async () => {
    const port = join(dir, 'ttyUSB-late');
    const events: Event[] = [];
    const controller = controllerFor(new ModbusDriver({ port, channels: 4, timeoutMs: 200, log }), events);
    cleanups.push(() => controller.stop());
    await controller.start(); // resolves: audio must be able to play
    assert.deepEqual(events.map((e) => e.type), ['relay.fault']);
    assert.equal(events[0]?.data.code, 'LOA_ERR_SERIAL_PORT_MISSING');
    assert.equal(events[0]?.data.port, port);
    assert.match(String(events[0]?.data.message), new RegExp(port));
    await controller.engage(['market']);

    const late = await board('modbus', ['ttyUSB-late', 'ttyUSB-late-board'], [true, false, false, true]);
    await waitUntil(() => events.some((e) => e.type === 'relay.recovered'), 8000, 'relay.recovered');
    await late.emu.waitForState([false, true, false, false]);
    await controller.stop();
    await late.emu.waitForState([false, false, false, false]);
  });
});
