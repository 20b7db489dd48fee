import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRelayDriver } from '../../../agent/outputs/memory/driver.js';
import { NoneDriver } from '../../../agent/outputs/none/driver.js';
import { LoaError } from '../../../shared/errors.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';

void describe('memory relay driver', () => {
  void it('records every switch with the clock time and reads back the board', async () => {
    const clock = new VirtualClock({ start: 1000 });
    const driver = new MemoryRelayDriver({ channels: 3, clock });
    await driver.start();
    await driver.set(1, true);
    await clock.advanceBy(250);
    await driver.setAll(false);
    assert.deepEqual(driver.switches, [
      { at: 1000, channel: 1, on: true, via: 'set' },
      { at: 1250, channel: 0, on: false, via: 'setAll' },
      { at: 1250, channel: 1, on: false, via: 'setAll' },
      { at: 1250, channel: 2, on: false, via: 'setAll' },
    ]);
    assert.deepEqual(await driver.readState(), [false, false, false]);
    assert.deepEqual(driver.history(1), [
      [1000, true],
      [1250, false],
    ]);
  });

  void it('fails every call after fail() and tells onFault once, until heal()', async () => {
    const driver = new MemoryRelayDriver({ channels: 2, clock: new VirtualClock({ start: 0 }) });
    const faults: Error[] = [];
    driver.onFault = (e): void => {
      faults.push(e);
    };
    await driver.start();
    driver.fail();
    assert.equal(faults.length, 1);
    await assert.rejects(driver.set(0, true), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_SERIAL_PORT_MISSING');
    await assert.rejects(driver.start(), LoaError);
    driver.heal();
    await driver.start();
    await driver.set(0, true);
    assert.deepEqual(driver.board, [true, false]);
  });

  void it('keeps a stuck relay at its value whatever is written', async () => {
    const driver = new MemoryRelayDriver({ channels: 2, clock: new VirtualClock({ start: 0 }) });
    await driver.start();
    driver.stick(0, true);
    await driver.setAll(false);
    assert.deepEqual(await driver.readState(), [true, false]);
  });
});

void describe('none relay driver', () => {
  void it('has no channels, no read-back, and accepts every call', async () => {
    const driver = new NoneDriver();
    await driver.start();
    await driver.setAll(true);
    assert.equal(await driver.readState(), null);
    assert.deepEqual([driver.channels, driver.supportsReadBack], [0, false]);
    await driver.stop();
  });
});
