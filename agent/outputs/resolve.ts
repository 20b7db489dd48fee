/** Maps a hardware profile's relay section to a RelayDriver (DESIGN §4 outputs). */
import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { RelayDriver } from '../../shared/outputs.js';
import { RELAY_TYPES, type RelayConfig } from '../../shared/schemas/hardware-profile.js';
import { GpioDriver } from './gpio/driver.js';
import { koffiGpioLinesFactory } from './gpio/koffi-lines.js';
import type { GpioLinesFactory } from './gpio/lines.js';
import { LcusDriver } from './lcus/driver.js';
import { ModbusDriver, type ModbusClient } from './modbus/driver.js';
import { NoneDriver } from './none/driver.js';
import type { SerialTransportFactory } from './serial/transport.js';

export interface RelayDriverDeps {
  clock: Clock;
  log: Logger;
  /** GPIO lines; default libgpiod v2 through koffi, loaded on first use. */
  gpio?: GpioLinesFactory;
  /** Where to load libgpiod v2 from when `gpio` is not given. Default libgpiod.so.3. */
  libgpiod?: string;
  /** Byte pipe for LCUS boards; default `serialport`. */
  serial?: SerialTransportFactory;
  /** Modbus client; default modbus-serial. */
  modbusClient?: () => ModbusClient;
}

export function createRelayDriver(config: RelayConfig, deps: RelayDriverDeps): RelayDriver {
  const log = deps.log;
  switch (config.type) {
    case 'lcus':
      return new LcusDriver({
        port: config.port,
        channels: config.channels,
        baudRate: config.baudRate ?? 9600,
        clock: deps.clock,
        log,
        ...(deps.serial ? { transport: deps.serial } : {}),
      });
    case 'modbus-rtu':
      return new ModbusDriver({
        port: config.port,
        channels: config.channels,
        baudRate: config.baudRate ?? 9600,
        parity: config.parity ?? 'none',
        unitId: config.unitId ?? 1,
        coilOffset: config.coilOffset ?? 0,
        timeoutMs: config.timeoutMs ?? 500,
        log,
        ...(deps.modbusClient ? { client: deps.modbusClient } : {}),
      });
    case 'gpio':
      return new GpioDriver({
        chip: config.chip ?? '/dev/gpiochip0',
        lines: config.lines,
        activeLow: config.activeLow ?? false,
        gpio: deps.gpio ?? koffiGpioLinesFactory(deps.libgpiod === undefined ? {} : { library: deps.libgpiod }),
        log,
      });
    case 'none':
      return new NoneDriver();
    default: {
      const type: unknown = (config as { type?: unknown }).type;
      throw new LoaError('LOA_ERR_PROFILE_UNKNOWN_RELAY', `Unknown relay type ${JSON.stringify(type) ?? String(type)} (known: ${RELAY_TYPES.join(', ')})`, {
        details: { type },
      });
    }
  }
}
