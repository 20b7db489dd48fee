import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputController, type OutputControllerOptions, type RelayEventType } from '../../../agent/outputs/controller.js';
import { MemoryRelayDriver } from '../../../agent/outputs/memory/driver.js';
import { NoneDriver } from '../../../agent/outputs/none/driver.js';
import { LoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import type { OutputZone } from '../../../shared/schemas/hardware-profile.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';

const T0 = 1_700_000_000_000;
const log = createLogger('test:outputs', { level: 'silent' });

const ZONES: OutputZone[] = [
  { name: 'main', channels: [0], warmupMs: 2000, cooldownMs: 5000, emergencyWarmupMs: 500 },
  { name: 'market', channels: [0, 1], warmupMs: 3000, cooldownMs: 10000 },
  { name: 'school', channels: [2], warmupMs: 1000, cooldownMs: 2000 },
];

interface Rig {
  clock: VirtualClock;
  driver: MemoryRelayDriver;
  controller: OutputController;
  events: Array<{ type: RelayEventType; data: Record<string, unknown>; at: number }>;
}

function rig(options: { initial?: boolean[]; zones?: OutputZone[] } & Partial<Pick<OutputControllerOptions, 'retryMs' | 'checkMs'>> = {}): Rig {
  const clock = new VirtualClock({ start: T0 });
  const driver = new MemoryRelayDriver({ channels: 4, clock, ...(options.initial ? { initial: options.initial } : {}) });
  const events: Rig['events'] = [];
  const controller = new OutputController({
    profileOutputs: options.zones ?? ZONES,
    driver,
    clock,
    log,
    onEvent: (type, data) => events.push({ type, data, at: clock.now() }),
    retryMs: options.retryMs ?? { min: 100, max: 400 },
    checkMs: options.checkMs ?? 0,
  });
  return { clock, driver, controller, events };
}

/** Switches after start (the fail-safe setAll at start is checked on its own). */
function switchesAfter(driver: MemoryRelayDriver, at: number): Array<[number, number, boolean]> {
  return driver.switches.filter((s) => s.at > at || s.via === 'set').map((s) => [s.at - T0, s.channel, s.on]);
}

void describe('OutputController', () => {
  void it('switches every relay off at start, even relays left on by a crashed agent', async () => {
    const { driver, controller, events } = rig({ initial: [true, false, true, true] });
    await controller.start();
    assert.deepEqual(driver.board, [false, false, false, false]);
    assert.deepEqual(driver.switches.map((s) => [s.channel, s.on, s.via]), [0, 1, 2, 3].map((ch) => [ch, false, 'setAll']));
    assert.deepEqual(controller.state().desired, [false, false, false, false]);
    assert.equal(controller.state().connected, true);
    assert.deepEqual(events, []);
    await controller.stop();
  });

  void it('gives the longest warm-up of the zones, all zones for an empty list, and the emergency warm-up when one is set', () => {
    const { controller } = rig();
    assert.equal(controller.warmupMs(['main'], false), 2000);
    assert.equal(controller.warmupMs(['main'], true), 500);
    assert.equal(controller.warmupMs(['main', 'school'], true), 1000);
    assert.equal(controller.warmupMs(['main', 'market'], true), 3000);
    assert.equal(controller.warmupMs([], false), 3000);
    assert.equal(controller.warmupMs(['nowhere'], false), 0);
  });

  void it('switches a zone on at engage and off only when its cool-down has passed', async () => {
    const { clock, driver, controller } = rig();
    await controller.start();
    await controller.engage(['school']);
    assert.equal(driver.board[2], true);
    await clock.advanceBy(60_000); // the program plays
    const released = controller.release(['school']);
    await clock.advanceBy(1999);
    assert.equal(driver.board[2], true, 'still on during the cool-down');
    assert.deepEqual(controller.state().coolingDown, [2]);
    await clock.advanceBy(1);
    await released;
    assert.equal(driver.board[2], false);
    assert.deepEqual(switchesAfter(driver, T0), [
      [0, 2, true],
      [62_000, 2, false],
    ]);
    await controller.stop();
  });

  void it('switches off zones released together in the order of their cool-downs', async () => {
    const { clock, driver, controller } = rig();
    await controller.start();
    await controller.engage(['market', 'school']);
    assert.deepEqual(driver.board, [true, true, true, false]);
    const released = controller.release(['market', 'school']);
    await clock.advanceBy(10_000);
    await released;
    assert.deepEqual(switchesAfter(driver, T0), [
      [0, 0, true],
      [0, 1, true],
      [0, 2, true],
      [2000, 2, false],
      [10_000, 0, false],
      [10_000, 1, false],
    ]);
    await controller.stop();
  });

  void it('keeps a channel shared by overlapping zones on until the last of them is released', async () => {
    const { clock, driver, controller } = rig();
    await controller.start();
    await controller.engage(['main']);
    await controller.engage(['market']);
    assert.deepEqual(controller.state().refs, [2, 1, 0, 0]);
    const first = controller.release(['main']);
    await clock.advanceBy(20_000);
    await first;
    assert.deepEqual(driver.board, [true, true, false, false], 'channel 0 is still held by market');
    const second = controller.release(['market']);
    await clock.advanceBy(9_999);
    assert.deepEqual(driver.board, [true, true, false, false]);
    await clock.advanceBy(1);
    await second;
    assert.deepEqual(driver.board, [false, false, false, false]);
    // channel 0 was switched on once and off once: no flicker while the zones overlapped
    assert.deepEqual(switchesAfter(driver, T0).filter(([, ch]) => ch === 0), [
      [0, 0, true],
      [30_000, 0, false],
    ]);
    await controller.stop();
  });

  void it('cancels a pending cool-down when the zone is engaged again', async () => {
    const { clock, driver, controller } = rig();
    await controller.start();
    await controller.engage(['main']);
    const released = controller.release(['main']);
    await clock.advanceBy(3000);
    await controller.engage(['main']);
    await released; // the cancelled cool-down settles without switching
    assert.deepEqual(controller.state().coolingDown, []);
    await clock.advanceBy(60_000);
    assert.equal(driver.board[0], true, 'the amplifier never went off');
    const again = controller.release(['main']);
    await clock.advanceBy(5000);
    await again;
    assert.equal(driver.board[0], false);
    assert.deepEqual(switchesAfter(driver, T0), [
      [0, 0, true],
      [68_000, 0, false],
    ]);
    await controller.stop();
  });

  void it('switches everything off at stop, cancelling cool-downs, and closes the driver', async () => {
    const { clock, driver, controller } = rig({ checkMs: 1000 });
    await controller.start();
    await controller.engage(['market', 'school']);
    const released = controller.release(['school']);
    await controller.stop();
    await released;
    assert.deepEqual(driver.board, [false, false, false, false]);
    assert.equal(driver.isStarted, false);
    assert.equal(driver.stops, 1);
    assert.equal(clock.pending, 0, 'no timer is left behind');
    assert.deepEqual(controller.state().desired, [false, false, false, false]);
    assert.deepEqual(controller.state().refs, [0, 0, 0, 0]);
  });

  void it('resolves start and retries in the background when the port is missing, then applies what was engaged meanwhile', async () => {
    const { clock, driver, controller, events } = rig({ initial: [false, false, false, true] });
    const missing = new LoaError('LOA_ERR_SERIAL_PORT_MISSING', 'The serial port does not exist: /dev/ttyUSB7', { details: { port: '/dev/ttyUSB7' } });
    driver.fail(missing);
    await controller.start(); // must not throw: audio plays without relays
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'relay.fault');
    assert.equal(events[0]?.data.code, 'LOA_ERR_SERIAL_PORT_MISSING');
    assert.match(String(events[0]?.data.message), /\/dev\/ttyUSB7/);
    assert.equal(events[0]?.data.port, '/dev/ttyUSB7');
    await controller.engage(['school']); // resolves although the board is gone
    assert.deepEqual(controller.state().desired, [false, false, true, false]);
    assert.equal(controller.state().faulted, true);
    await clock.advanceBy(1000); // attempts at +100, +300, +700 all fail
    assert.equal(events.length, 1, 'the fault is reported once, not per attempt');
    driver.heal();
    await clock.advanceBy(400);
    assert.deepEqual(events.map((e) => e.type), ['relay.fault', 'relay.recovered']);
    assert.deepEqual(driver.board, [false, false, true, false], 'the board is resynced: stale relay off, engaged zone on');
    assert.equal(controller.state().faulted, false);
    await controller.stop();
  });

  void it('reports a failed switch as a fault, retries with doubling backoff, and resyncs the desired state on recovery', async () => {
    const { clock, driver, controller, events } = rig();
    await controller.start();
    await controller.engage(['main']);
    driver.fail(new LoaError('LOA_ERR_SERIAL_IO', 'Serial write failed on /dev/ttyUSB0: EIO'), { notify: false });
    await controller.engage(['school']); // the write fails: recorded, reported, not thrown
    driver.onFault?.(new LoaError('LOA_ERR_SERIAL_IO', 'port closed')); // the same failure, seen by the transport
    assert.deepEqual(events.map((e) => [e.type, e.data.code]), [['relay.fault', 'LOA_ERR_SERIAL_IO']]);
    await clock.advanceTo(T0 + 99);
    assert.equal(controller.state().error?.message, 'port closed', 'no attempt before the first delay');
    driver.heal();
    driver.fail(new LoaError('LOA_ERR_SERIAL_IO', 'still gone'), { notify: false });
    await clock.advanceTo(T0 + 100);
    assert.equal(controller.state().error?.message, 'still gone');
    driver.heal();
    driver.board.fill(false); // the board power-cycled while it was away
    await clock.advanceTo(T0 + 299);
    assert.equal(events.length, 1, 'no retry before the doubled delay');
    await clock.advanceTo(T0 + 300);
    assert.deepEqual(events.map((e) => e.type), ['relay.fault', 'relay.recovered']);
    assert.deepEqual(driver.board, [true, false, true, false]);
    assert.equal(events[1]?.data.attempts, 2);
    await controller.stop();
  });

  void it('notices a board that lost its relays while idle and restores them', async () => {
    const { clock, driver, controller, events } = rig({ checkMs: 1000 });
    await controller.start();
    await controller.engage(['school']);
    driver.board[2] = false; // brown-out: the board rebooted with every relay off
    await clock.advanceBy(1000);
    assert.equal(events[0]?.type, 'relay.fault');
    assert.equal(events[0]?.data.code, 'LOA_ERR_RELAY_READBACK');
    assert.match(String(events[0]?.data.message), /channel 2 should be on but reads off/);
    await clock.advanceBy(100);
    assert.deepEqual(events.map((e) => e.type), ['relay.fault', 'relay.recovered']);
    assert.equal(driver.board[2], true);
    await controller.stop();
  });

  void it('stays faulted while a relay is stuck, and says which one', async () => {
    const { clock, driver, controller, events } = rig();
    driver.stick(1, true);
    await controller.start();
    assert.equal(events[0]?.data.code, 'LOA_ERR_RELAY_READBACK');
    assert.deepEqual(events[0]?.data.channels, [1]);
    await clock.advanceBy(5000);
    assert.equal(controller.state().faulted, true);
    assert.equal(controller.state().error?.code, 'LOA_ERR_RELAY_READBACK');
    assert.equal(events.length, 1);
    driver.stick(1, undefined);
    await clock.advanceBy(400);
    assert.deepEqual(events.map((e) => e.type), ['relay.fault', 'relay.recovered']);
    assert.deepEqual(driver.board, [false, false, false, false]);
    await controller.stop();
  });

  void it('reports a port that vanishes while idle through the driver and recovers when it returns', async () => {
    const { clock, driver, controller, events } = rig();
    await controller.start();
    await controller.engage(['market']);
    driver.fail(); // the driver's onFault fires, as a closed serial port does
    assert.equal(events[0]?.data.code, 'LOA_ERR_SERIAL_PORT_MISSING');
    const released = controller.release(['market']);
    await clock.advanceBy(10_000); // the cool-down ends while the board is away
    await released;
    assert.deepEqual(controller.state().desired, [false, false, false, false]);
    driver.board.fill(true);
    driver.heal();
    await clock.advanceBy(400);
    assert.equal(events.at(-1)?.type, 'relay.recovered');
    assert.deepEqual(driver.board, [false, false, false, false]);
    await controller.stop();
  });

  void it('ignores unknown zones and channels the board does not have', async () => {
    const { driver, controller } = rig({ zones: [...ZONES, { name: 'far', channels: [3, 9], warmupMs: 0, cooldownMs: 0 }] });
    await controller.start();
    await controller.engage(['nowhere', 'far']);
    assert.deepEqual(driver.board, [false, false, false, true]);
    assert.deepEqual(controller.state().refs, [0, 0, 0, 1]);
    await controller.stop();
  });

  void it('works with the none driver and never reports a fault', async () => {
    const clock = new VirtualClock({ start: T0 });
    const events: string[] = [];
    const controller = new OutputController({ profileOutputs: ZONES, driver: new NoneDriver(), clock, log, onEvent: (t) => events.push(t) });
    await controller.start();
    await controller.engage([]);
    const released = controller.release([]);
    await clock.advanceBy(20_000);
    await released;
    assert.equal(controller.warmupMs([], false), 3000);
    await controller.stop();
    assert.deepEqual(events, []);
  });
});
