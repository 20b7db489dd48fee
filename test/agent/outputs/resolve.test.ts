import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeGpioChip, fakeGpioLinesFactory } from '../../../agent/outputs/gpio/fake-lines.js';
import { createRelayDriver } from '../../../agent/outputs/resolve.js';
import { SystemClock } from '../../../shared/clock.js';
import { LoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import type { RelayConfig } from '../../../shared/schemas/hardware-profile.js';

const deps = { clock: new SystemClock(), log: createLogger('test:resolve', { level: 'silent' }) };

void describe('createRelayDriver', () => {
  void it('rejects an unknown relay type with LOA_ERR_PROFILE_UNKNOWN_RELAY naming the type', () => {
    const config = { type: 'x10-powerline', port: '/dev/ttyS0' } as unknown as RelayConfig;
    assert.throws(
      () => createRelayDriver(config, deps),
      (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_PROFILE_UNKNOWN_RELAY' && e.message.includes('"x10-powerline"') && e.message.includes('modbus-rtu'),
    );
  });

  void it('maps each relay type to its driver with the profile channel count', () => {
    const lcus = createRelayDriver({ type: 'lcus', port: '/dev/ttyUSB0', baudRate: 9600, channels: 2 }, deps);
    assert.deepEqual([lcus.kind, lcus.channels, lcus.supportsReadBack], ['lcus', 2, false]);
    const modbus = createRelayDriver(
      { type: 'modbus-rtu', port: '/dev/ttyUSB1', baudRate: 9600, parity: 'none', unitId: 3, channels: 8, coilOffset: 0, timeoutMs: 500 },
      deps,
    );
    assert.deepEqual([modbus.kind, modbus.channels, modbus.supportsReadBack], ['modbus-rtu', 8, true]);
    const gpio = createRelayDriver({ type: 'gpio', chip: '/dev/gpiochip0', lines: [17, 27, 22], activeLow: true }, deps);
    assert.deepEqual([gpio.kind, gpio.channels], ['gpio', 3]);
    const none = createRelayDriver({ type: 'none' }, deps);
    assert.deepEqual([none.kind, none.channels], ['none', 0]);
  });

  void it('passes the profile to the GPIO driver (chip, lines, active-low) through the injected lines factory', async () => {
    const chip = new FakeGpioChip({ path: '/dev/gpiochip1', numLines: 32 });
    const driver = createRelayDriver({ type: 'gpio', chip: '/dev/gpiochip1', lines: [17, 27], activeLow: true }, { ...deps, gpio: fakeGpioLinesFactory([chip]) });
    await driver.start();
    await driver.set(1, true);
    assert.deepEqual([chip.level(17), chip.level(27)], [true, false]);
    await driver.stop();
  });

  void it('defers loading libgpiod until the GPIO driver starts, then fails with LOA_ERR_GPIO_UNAVAILABLE', async () => {
    const driver = createRelayDriver({ type: 'gpio', chip: '/dev/gpiochip0', lines: [1], activeLow: false }, { ...deps, libgpiod: 'libgpiod-bogus.so.3' });
    await assert.rejects(driver.start(), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_GPIO_UNAVAILABLE');
  });
});
