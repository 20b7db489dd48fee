/** GpioLines on a real chip through libgpiod v2 (loaded with koffi, see ./libgpiod.ts). */
import { constants } from 'node:os';
import { gpioError, type GpioLines, type GpioLinesFactory, type GpioLinesRequest } from './lines.js';
import {
  GPIOD_LINE_DIRECTION_OUTPUT,
  GPIOD_LINE_VALUE_ACTIVE,
  GPIOD_LINE_VALUE_INACTIVE,
  loadLibgpiod,
  type CPointer,
  type Libgpiod,
} from './libgpiod.js';

function errnoName(n: number): string {
  const entry = Object.entries(constants.errno).find(([, v]) => v === n);
  return entry ? `${entry[0]} (${n})` : `errno ${n}`;
}

export class KoffiGpioLines implements GpioLines {
  private readonly lib: Libgpiod;
  private readonly chip: string;
  private readonly offsets: readonly number[];
  private request: CPointer | null;

  constructor(options: { lib: Libgpiod; chip: string; offsets: readonly number[]; request: CPointer }) {
    this.lib = options.lib;
    this.chip = options.chip;
    this.offsets = options.offsets;
    this.request = options.request;
  }

  /** Opens the chip and requests the lines as outputs at their initial values (one ioctl, so no glitch). */
  static open(lib: Libgpiod, req: GpioLinesRequest): KoffiGpioLines {
    const details = { chip: req.chip, offsets: [...req.offsets] };
    const fail = (what: string): never => {
      throw gpioError(`${what} on ${req.chip} (lines ${req.offsets.join(',')}): ${errnoName(lib.errno())}`, details);
    };
    const chip = lib.chipOpen(req.chip);
    if (!chip) fail('Cannot open GPIO chip');
    let settings: CPointer | null = null;
    let lineConfig: CPointer | null = null;
    let requestConfig: CPointer | null = null;
    try {
      settings = lib.settingsNew() ?? fail('Cannot allocate line settings');
      lineConfig = lib.lineConfigNew() ?? fail('Cannot allocate line config');
      requestConfig = lib.requestConfigNew() ?? fail('Cannot allocate request config');
      lib.requestConfigSetConsumer(requestConfig, req.consumer);
      if (lib.settingsSetDirection(settings, GPIOD_LINE_DIRECTION_OUTPUT) < 0) fail('Cannot set line direction');
      lib.settingsSetActiveLow(settings, req.activeLow);
      // Settings are copied when added, so one object serves every line with its own initial value.
      req.offsets.forEach((offset, i) => {
        const value = req.initial[i] === true ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE;
        if (lib.settingsSetOutputValue(settings as CPointer, value) < 0) fail('Cannot set initial output value');
        if (lib.lineConfigAddLineSettings(lineConfig as CPointer, Uint32Array.of(offset), 1, settings as CPointer) < 0) {
          fail(`Cannot configure line ${offset}`);
        }
      });
      const request = lib.chipRequestLines(chip as CPointer, requestConfig, lineConfig) ?? fail('Cannot request GPIO lines');
      return new KoffiGpioLines({ lib, chip: req.chip, offsets: req.offsets, request });
    } finally {
      if (requestConfig) lib.requestConfigFree(requestConfig);
      if (lineConfig) lib.lineConfigFree(lineConfig);
      if (settings) lib.settingsFree(settings);
      // A line request keeps its own file descriptor: the chip handle is not needed after this.
      lib.chipClose(chip as CPointer);
    }
  }

  set(index: number, value: boolean): void {
    const offset = this.offset(index);
    const rc = this.lib.requestSetValue(this.live(), offset, value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
    if (rc < 0) throw gpioError(`Cannot set GPIO line ${offset} on ${this.chip}: ${errnoName(this.lib.errno())}`, { chip: this.chip, offset });
  }

  setAll(values: readonly boolean[]): void {
    values.forEach((v, i) => this.set(i, v));
  }

  get(index: number): boolean {
    const offset = this.offset(index);
    const v = this.lib.requestGetValue(this.live(), offset);
    if (v !== GPIOD_LINE_VALUE_ACTIVE && v !== GPIOD_LINE_VALUE_INACTIVE) {
      throw gpioError(`Cannot read GPIO line ${offset} on ${this.chip}: ${errnoName(this.lib.errno())}`, { chip: this.chip, offset });
    }
    return v === GPIOD_LINE_VALUE_ACTIVE;
  }

  release(): void {
    const request = this.request;
    this.request = null;
    if (request) this.lib.requestRelease(request);
  }

  private live(): CPointer {
    if (!this.request) throw gpioError(`The GPIO lines on ${this.chip} were released`, { chip: this.chip });
    return this.request;
  }

  private offset(index: number): number {
    const offset = this.offsets[index];
    if (offset === undefined) throw gpioError(`No GPIO line for channel ${index} on ${this.chip}`, { chip: this.chip, index });
    return offset;
  }
}

/** A factory that loads libgpiod on first use (so a profile without GPIO never needs it). */
export function koffiGpioLinesFactory(options: { library?: string } = {}): GpioLinesFactory {
  let lib: Libgpiod | undefined;
  return (req) => {
    lib ??= loadLibgpiod(options.library);
    return KoffiGpioLines.open(lib, req);
  };
}
