import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ModbusDriver } from '../../../agent/outputs/modbus/driver.js';
import { LoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { RelayEmulator, waitUntil } from '../../support/relay-emulator.js';
import { startSocat, type SocatPair } from '../../support/socat.js';
import { startEmulatedBoard, type EmulatedBoard } from '../../support/board.js';

const log = createLogger('test:modbus', { level: 'silent' });
const isCode = (code: string) => (e: unknown): boolean => e instanceof LoaError && e.code === code;

void describe('Modbus RTU driver against the emulator on a pty pair', () => {
  let rig: EmulatedBoard;
  let dir: string;
  let socat: SocatPair;
  let board: RelayEmulator;
  let driver: ModbusDriver;

  void before(async () => {
    rig = await startEmulatedBoard('loa-modbus-', { protocol: 'modbus', channels: 4, unitId: 7, coilOffset: 16 });
    ({ dir, socat, board } = rig);
    driver = new ModbusDriver({ port: rig.port, channels: 4, unitId: 7, coilOffset: 16, timeoutMs: 300, log });
    await driver.start();
  });

  void after(async () => {
    await driver.stop();
    await rig.stop();
  });

  void it('switches each channel with write single coil (FC05) at the coil offset', async () => {
    for (let ch = 0; ch < 4; ch++) {
      await driver.set(ch, true);
      const want = [false, false, false, false];
      want[ch] = true;
      assert.deepEqual(board.state, want);
      await driver.set(ch, false);
      assert.deepEqual(board.state, [false, false, false, false]);
    }
    const frame = board.log.find((e) => e.dir === 'rx' && e.note === 'set ch1 on');
    // unit 7, FC05, coil 17, FF00
    assert.equal(frame?.hex.slice(0, 12), '07050011ff00');
  });

  void it('switches all channels with one write multiple coils (FC0F)', async () => {
    const before = board.received().length;
    await driver.setAll(true);
    assert.deepEqual(board.state, [true, true, true, true]);
    assert.deepEqual(board.received().slice(before), ['set 0+4 1111']);
    await driver.setAll(false);
    assert.deepEqual(board.state, [false, false, false, false]);
  });

  void it('reads back the real coil state with read coils (FC01)', async () => {
    await driver.set(1, true);
    board.state[3] = true; // someone flipped a relay by hand
    assert.deepEqual(await driver.readState(), [false, true, false, true]);
    board.state[3] = false;
    await driver.set(1, false);
    assert.deepEqual(await driver.readState(), [false, false, false, false]);
  });

  void it('serialises concurrent calls so no reply is mixed up', async () => {
    await Promise.all([driver.set(0, true), driver.set(2, true), driver.readState(), driver.set(3, true)]);
    assert.deepEqual(board.state, [true, false, true, true]);
    await driver.setAll(false);
  });

  void it('times out with LOA_ERR_RELAY_TIMEOUT when the board is silent', async () => {
    board.mode = 'silent';
    try {
      await assert.rejects(driver.set(0, true), isCode('LOA_ERR_RELAY_TIMEOUT'));
    } finally {
      board.mode = 'normal';
    }
    assert.deepEqual(await driver.readState(), [false, false, false, false]);
  });

  void it('fails with a coded error when the reply has a bad CRC', async () => {
    board.mode = 'corrupt';
    try {
      await assert.rejects(driver.readState(), (e: unknown) => isCode('LOA_ERR_SERIAL_IO')(e) && /CRC/i.test((e as Error).message));
    } finally {
      board.mode = 'normal';
    }
    assert.deepEqual(await driver.readState(), [false, false, false, false]);
  });

  void it('gets no answer from a board with another unit id', async () => {
    const other = new ModbusDriver({ port: socat.a, channels: 4, unitId: 8, coilOffset: 16, timeoutMs: 200, log });
    await driver.stop();
    try {
      await other.start();
      await assert.rejects(other.set(0, true), isCode('LOA_ERR_RELAY_TIMEOUT'));
      assert.ok(board.received().includes('other unit 8'));
    } finally {
      await other.stop();
      await driver.start();
    }
  });

  void it('rejects start with LOA_ERR_SERIAL_PORT_MISSING naming a missing port', async () => {
    const missing = join(dir, 'ttyUSB9');
    const d = new ModbusDriver({ port: missing, channels: 2, log });
    await assert.rejects(d.start(), (e: unknown) => isCode('LOA_ERR_SERIAL_PORT_MISSING')(e) && (e as Error).message.includes(missing));
  });

  void it('reports a fault when the port disappears', async () => {
    const pair = await startSocat({ dir, names: ['c', 'd'] });
    const d = new ModbusDriver({ port: pair.a, channels: 2, timeoutMs: 200, log });
    const faults: Error[] = [];
    d.onFault = (e): void => {
      faults.push(e);
    };
    await d.start();
    await pair.kill();
    await waitUntil(() => faults.length > 0, 3000, 'onFault');
    assert.ok(isCode('LOA_ERR_SERIAL_IO')(faults[0]), String(faults[0]));
    await assert.rejects(d.set(0, true), isCode('LOA_ERR_SERIAL_IO'));
    await d.stop();
  });
});
