import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LcusDriver } from '../../../agent/outputs/lcus/driver.js';
import { SystemClock } from '../../../shared/clock.js';
import { LoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { RelayEmulator, waitUntil } from '../../support/relay-emulator.js';
import { startSocat } from '../../support/socat.js';
import { startEmulatedBoard, type EmulatedBoard } from '../../support/board.js';

const log = createLogger('test:lcus', { level: 'silent' });
const clock = new SystemClock();

void describe('LCUS driver against the emulator on a pty pair', () => {
  let rig: EmulatedBoard;
  let dir: string;
  let board: RelayEmulator;
  let driver: LcusDriver;

  void before(async () => {
    rig = await startEmulatedBoard('loa-lcus-', { protocol: 'lcus', channels: 4 });
    ({ dir, board } = rig);
    driver = new LcusDriver({ port: rig.port, channels: 4, clock, log, frameGapMs: 5 });
    await driver.start();
  });

  void after(async () => {
    await driver.stop();
    await rig.stop();
  });

  void it('switches each channel on and off on the board', async () => {
    for (let ch = 0; ch < 4; ch++) {
      await driver.set(ch, true);
      const want = [false, false, false, false];
      want[ch] = true;
      await board.waitForState(want);
      await driver.set(ch, false);
      await board.waitForState([false, false, false, false]);
    }
    assert.deepEqual(board.received().slice(0, 2), ['set ch0 on', 'set ch0 off']);
  });

  void it('sends the exact A0 frames with 1-based channels and a checksum', async () => {
    const before = board.log.length;
    await driver.set(2, true);
    await waitUntil(() => board.log.length > before, 2000, 'a frame');
    assert.equal(board.log[before]?.hex, 'a00301a4');
    await driver.set(2, false);
  });

  void it('switches every channel with setAll', async () => {
    await driver.setAll(true);
    await board.waitForState([true, true, true, true]);
    await driver.setAll(false);
    await board.waitForState([false, false, false, false]);
  });

  void it('does not claim read-back', async () => {
    assert.equal(driver.supportsReadBack, false);
    assert.equal(await driver.readState(), null);
  });

  void it('rejects a channel the board does not have', async () => {
    await assert.rejects(driver.set(4, true), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_PROFILE_INVALID');
  });

  void it('rejects start with LOA_ERR_SERIAL_PORT_MISSING naming a missing port', async () => {
    const missing = join(dir, 'no-such-port');
    const d = new LcusDriver({ port: missing, channels: 2, clock, log });
    await assert.rejects(d.start(), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_SERIAL_PORT_MISSING' && e.message.includes(missing));
  });

  void it('reports a fault when the port disappears', async () => {
    const pair = await startSocat({ dir, names: ['c', 'd'] });
    const d = new LcusDriver({ port: pair.a, channels: 2, clock, log });
    const faults: Error[] = [];
    d.onFault = (e): void => {
      faults.push(e);
    };
    await d.start();
    await pair.kill();
    await waitUntil(() => faults.length > 0, 3000, 'onFault');
    assert.ok(faults[0] instanceof LoaError && faults[0].code === 'LOA_ERR_SERIAL_IO', String(faults[0]));
    await assert.rejects(d.set(0, true), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_SERIAL_IO');
    await d.stop();
    assert.equal(faults.length, 1);
  });
});
