import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import koffi from 'koffi';
import { GpioDriver } from '../../../agent/outputs/gpio/driver.js';
import { FakeGpioChip, fakeGpioLinesFactory } from '../../../agent/outputs/gpio/fake-lines.js';
import { koffiGpioLinesFactory } from '../../../agent/outputs/gpio/koffi-lines.js';
import { loadLibgpiod, LIBGPIOD_V2 } from '../../../agent/outputs/gpio/libgpiod.js';
import type { GpioLines, GpioLinesFactory, GpioLinesRequest } from '../../../agent/outputs/gpio/lines.js';
import { LoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { buildFakeLibgpiod } from './fake-libgpiod.js';

const log = createLogger('test:gpio', { level: 'silent' });
const isCode = (code: string) => (e: unknown): boolean => e instanceof LoaError && e.code === code;

interface Harness {
  factory: GpioLinesFactory;
  chip: string;
  missingChip: string;
  /** Three line offsets that are safe to drive. */
  lines: [number, number, number];
  /** An offset the chip does not have. */
  badOffset: number;
  /** Physical level of a line, where the implementation can tell. */
  physical?: (offset: number) => boolean;
}

/** The behaviour every GpioLines implementation must have. `setup` runs in `before`. */
function gpioLinesContract(name: string, setup: () => Promise<Harness | string>): void {
  void describe(`GpioLines contract: ${name}`, () => {
    let h: Harness | undefined;
    let skip: string | undefined;
    const held: GpioLines[] = [];
    void before(async () => {
      const r = await setup();
      if (typeof r === 'string') skip = r;
      else h = r;
    });
    void after(() => held.forEach((l) => l.release()));

    function request(t: { skip: (m: string) => void }, overrides: Partial<GpioLinesRequest> = {}): { h: Harness; lines: GpioLines } | null {
      if (!h) {
        t.skip(skip ?? 'not set up');
        return null;
      }
      const lines = h.factory({ chip: h.chip, offsets: h.lines, activeLow: false, consumer: 'loa-test', initial: [false, false, false], ...overrides });
      held.push(lines);
      return { h, lines };
    }

    void it('requests the lines at their initial values', (t) => {
      const r = request(t, { initial: [true, false, true] });
      if (!r) return;
      assert.deepEqual([0, 1, 2].map((i) => r.lines.get(i)), [true, false, true]);
      r.lines.release();
    });

    void it('sets and reads each line without touching the others', (t) => {
      const r = request(t);
      if (!r) return;
      r.lines.set(1, true);
      assert.deepEqual([0, 1, 2].map((i) => r.lines.get(i)), [false, true, false]);
      r.lines.set(1, false);
      r.lines.set(2, true);
      assert.deepEqual([0, 1, 2].map((i) => r.lines.get(i)), [false, false, true]);
      r.lines.release();
    });

    void it('sets every line with setAll', (t) => {
      const r = request(t);
      if (!r) return;
      r.lines.setAll([true, true, false]);
      assert.deepEqual([0, 1, 2].map((i) => r.lines.get(i)), [true, true, false]);
      r.lines.release();
    });

    void it('drives active-low lines low for "on" while reading back logical values', (t) => {
      const r = request(t, { activeLow: true });
      if (!r) return;
      const physical = r.h.physical;
      if (!physical) {
        r.lines.release();
        t.skip('this implementation cannot read physical levels');
        return;
      }
      const [a, b] = r.h.lines;
      assert.equal(physical(a), true, 'off is high on an active-low line');
      r.lines.set(0, true);
      assert.equal(physical(a), false);
      assert.equal(physical(b), true);
      assert.equal(r.lines.get(0), true);
      r.lines.release();
    });

    void it('refuses lines another request holds, with LOA_ERR_GPIO', (t) => {
      const r = request(t);
      if (!r) return;
      assert.throws(() => r.h.factory({ chip: r.h.chip, offsets: [r.h.lines[1]], activeLow: false, consumer: 'other', initial: [false] }), isCode('LOA_ERR_GPIO'));
      r.lines.release();
    });

    void it('refuses an offset the chip does not have and holds nothing afterwards', (t) => {
      if (!h) return t.skip(skip ?? 'not set up');
      const { factory, chip, lines, badOffset } = h;
      assert.throws(() => factory({ chip, offsets: [lines[0], badOffset], activeLow: false, consumer: 'x', initial: [false, false] }), isCode('LOA_ERR_GPIO'));
      const again = factory({ chip, offsets: [lines[0]], activeLow: false, consumer: 'x', initial: [false] });
      again.release();
    });

    void it('refuses a missing chip with LOA_ERR_GPIO naming it', (t) => {
      if (!h) return t.skip(skip ?? 'not set up');
      const { factory, missingChip, lines } = h;
      assert.throws(
        () => factory({ chip: missingChip, offsets: [lines[0]], activeLow: false, consumer: 'x', initial: [false] }),
        (e: unknown) => isCode('LOA_ERR_GPIO')(e) && (e as Error).message.includes(missingChip),
      );
    });

    void it('gives the lines back on release, after which they can be requested again', (t) => {
      const r = request(t);
      if (!r) return;
      r.lines.release();
      r.lines.release(); // idempotent
      assert.throws(() => r.lines.set(0, true), isCode('LOA_ERR_GPIO'));
      const again = request(t);
      again?.lines.release();
    });
  });
}

let tmp: string;
void before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'loa-gpio-'));
});
void after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

gpioLinesContract('FakeGpioLines', () => {
  const chip = new FakeGpioChip({ path: '/dev/gpiochip0', numLines: 8 });
  return Promise.resolve({
    factory: fakeGpioLinesFactory([chip]),
    chip: chip.path,
    missingChip: '/dev/gpiochip9',
    lines: [2, 3, 5],
    badOffset: 8,
    physical: (o) => chip.level(o),
  });
});

gpioLinesContract('KoffiGpioLines over a stand-in libgpiod.so.3 built with cc', async () => {
  const lib = await buildFakeLibgpiod(tmp);
  if (!lib) return 'no C compiler to build the stand-in libgpiod';
  const chip = join(tmp, 'gpiochip0');
  await writeFile(chip, '');
  const level = koffi.load(lib).func('fake_gpiod_level', 'bool', ['uint32_t']) as (o: number) => boolean;
  return { factory: koffiGpioLinesFactory({ library: lib }), chip, missingChip: join(tmp, 'gpiochip7'), lines: [0, 1, 2], badOffset: 64, physical: level };
});

gpioLinesContract('KoffiGpioLines on this machine\'s libgpiod.so.3 and /dev/gpiochip0', () => {
  try {
    loadLibgpiod();
  } catch {
    return Promise.resolve(`${LIBGPIOD_V2} is not installed (libgpiod v2); the real-chip contract run is skipped`);
  }
  if (!existsSync('/dev/gpiochip0')) return Promise.resolve('/dev/gpiochip0 does not exist; the real-chip contract run is skipped');
  const lines = (process.env.LOA_TEST_GPIO_LINES ?? '0,1,2').split(',').map(Number) as [number, number, number];
  return Promise.resolve({ factory: koffiGpioLinesFactory(), chip: '/dev/gpiochip0', missingChip: join(tmp, 'gpiochip-missing'), lines, badOffset: 100_000 });
});

void describe('libgpiod loader', () => {
  void it('reports LOA_ERR_GPIO_UNAVAILABLE with install instructions when the library is missing', () => {
    assert.throws(
      () => loadLibgpiod('libgpiod-not-here.so.3'),
      (e: unknown) =>
        isCode('LOA_ERR_GPIO_UNAVAILABLE')(e) && /libgpiod-not-here\.so\.3/.test((e as Error).message) && /apt-get install libgpiod3/.test((e as Error).message),
    );
  });

  void it('refuses libgpiod v1 (libgpiod.so.2) as not being libgpiod v2', (t) => {
    try {
      koffi.load('libgpiod.so.2');
    } catch {
      return t.skip('libgpiod.so.2 is not installed');
    }
    assert.throws(() => loadLibgpiod('libgpiod.so.2'), (e: unknown) => isCode('LOA_ERR_GPIO_UNAVAILABLE')(e) && /not libgpiod v2/.test((e as Error).message));
  });

  void it('makes a GPIO driver fail to start with LOA_ERR_GPIO_UNAVAILABLE, not crash, when the library is missing', async () => {
    const driver = new GpioDriver({ chip: '/dev/gpiochip0', lines: [1], gpio: koffiGpioLinesFactory({ library: '/nonexistent/libgpiod.so.3' }), log });
    await assert.rejects(driver.start(), isCode('LOA_ERR_GPIO_UNAVAILABLE'));
  });
});

void describe('GPIO relay driver', () => {
  void it('requests every line off, even active-low ones, and switches channels by line', async () => {
    const chip = new FakeGpioChip({ numLines: 8 });
    chip.levels.fill(false); // active-low relays would all be on if left low
    const driver = new GpioDriver({ chip: chip.path, lines: [4, 6], activeLow: true, gpio: fakeGpioLinesFactory([chip]), log });
    await driver.start();
    assert.deepEqual([chip.level(4), chip.level(6)], [true, true], 'off is high on active-low relays');
    assert.deepEqual(chip.owners[4], 'loaphuong');
    await driver.set(1, true);
    assert.equal(chip.level(6), false);
    assert.deepEqual(await driver.readState(), [false, true]);
    await driver.setAll(true);
    assert.deepEqual(await driver.readState(), [true, true]);
    await driver.stop();
    assert.equal(chip.owners[4], undefined, 'lines released at stop');
    await assert.rejects(driver.set(0, false), isCode('LOA_ERR_GPIO'));
  });

  void it('fails to start with LOA_ERR_GPIO when a line is busy', async () => {
    const chip = new FakeGpioChip({ numLines: 8 });
    chip.owners[3] = 'someone-else';
    const driver = new GpioDriver({ chip: chip.path, lines: [2, 3], gpio: fakeGpioLinesFactory([chip]), log });
    await assert.rejects(driver.start(), (e: unknown) => isCode('LOA_ERR_GPIO')(e) && /EBUSY/.test((e as Error).message));
    assert.equal(chip.owners[2], undefined, 'nothing held after a failed request');
  });

  void it('rejects a channel it has no line for', async () => {
    const driver = new GpioDriver({ chip: '/dev/gpiochip0', lines: [0], gpio: fakeGpioLinesFactory(), log });
    await driver.start();
    await assert.rejects(driver.set(1, true), isCode('LOA_ERR_PROFILE_INVALID'));
    await driver.stop();
  });
});
