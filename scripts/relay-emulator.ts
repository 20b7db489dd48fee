#!/usr/bin/env node
/**
 * Runs the relay-board emulator (test/support/relay-emulator.ts) as its own process, on one end of a pty pair:
 *   socat -d -d pty,raw,echo=0,link=/tmp/relay-a pty,raw,echo=0,link=/tmp/relay-b &
 *   node dist/scripts/relay-emulator.js --port /tmp/relay-b --protocol modbus --channels 4
 * then point a hardware profile at /tmp/relay-a. It prints one JSON line per event on stdout:
 * {"event":"ready","state":[...]} once, then {"event":"frame","note":"set ch0 on","state":[...]}.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { RelayEmulator, type EmulatorMode, type EmulatorProtocol } from '../test/support/relay-emulator.js';

function int(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

const program = new Command()
  .name('relay-emulator')
  .description('Emulates an LCUS or Modbus RTU relay board on a serial port (use one end of a socat pty pair)')
  .requiredOption('--port <path>', 'serial port to open, e.g. the second link of a socat pty pair')
  .addOption(new Option('--protocol <protocol>', 'board protocol').choices(['lcus', 'modbus']).default('modbus'))
  .option('--channels <n>', 'number of relays', int(1, 64), 4)
  .option('--unit <id>', 'Modbus slave address', int(1, 247), 1)
  .option('--coil-offset <n>', 'Modbus address of the first coil', int(0, 65535), 0)
  .option('--baud <rate>', 'baud rate', int(1200, 115200), 9600)
  .option('--initial <bits>', 'relay state at power-on, e.g. 0101 (default all off)')
  .addOption(new Option('--mode <mode>', 'normal, or a fault: silent (never answers), corrupt (bad CRC)').choices(['normal', 'silent', 'corrupt']).default('normal'))
  .option('--dead-channels <list>', 'comma-separated 0-based channels that never latch (commands acknowledged, state unchanged)', '');

program.parse();
const opts = program.opts<{
  port: string;
  protocol: EmulatorProtocol;
  channels: number;
  unit: number;
  coilOffset: number;
  baud: number;
  initial?: string;
  mode: EmulatorMode;
  deadChannels: string;
}>();

if (opts.initial !== undefined && !/^[01]+$/.test(opts.initial)) program.error('--initial takes 0s and 1s, one per channel');
const deadChannels = opts.deadChannels ? opts.deadChannels.split(',').map(Number) : [];
if (deadChannels.some((c) => !Number.isInteger(c) || c < 0 || c >= opts.channels)) program.error(`--dead-channels takes channels 0..${opts.channels - 1}, comma-separated`);

const emulator = new RelayEmulator({
  port: opts.port,
  protocol: opts.protocol,
  channels: opts.channels,
  unitId: opts.unit,
  coilOffset: opts.coilOffset,
  baudRate: opts.baud,
  initial: [...(opts.initial ?? '')].map((c) => c === '1'),
  mode: opts.mode,
  deadChannels,
});
const print = (msg: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
};
emulator.onChange = (state, entry): void => print({ event: 'frame', note: entry.note, state });

try {
  await emulator.start();
} catch (e) {
  console.error(`relay-emulator: cannot open ${opts.port}: ${(e as Error).message}`);
  process.exit(1);
}
print({ event: 'ready', port: opts.port, protocol: opts.protocol, state: emulator.state });

const shutdown = (): void => {
  emulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
