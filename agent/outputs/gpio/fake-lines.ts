/** An in-memory GPIO chip, for tests and the demo. It keeps physical levels, so active-low can be checked. */
import { gpioError, type GpioLines, type GpioLinesFactory, type GpioLinesRequest } from './lines.js';

export class FakeGpioChip {
  readonly path: string;
  readonly numLines: number;
  /** Physical level per line offset (true = high). */
  readonly levels: boolean[];
  /** Consumer holding each line, if any. */
  readonly owners: (string | undefined)[];

  constructor(options: { path?: string; numLines?: number } = {}) {
    this.path = options.path ?? '/dev/gpiochip0';
    this.numLines = options.numLines ?? 32;
    this.levels = new Array<boolean>(this.numLines).fill(false);
    this.owners = new Array<string | undefined>(this.numLines).fill(undefined);
  }

  /** The physical level of a line. */
  level(offset: number): boolean {
    return this.levels[offset] === true;
  }
}

export class FakeGpioLines implements GpioLines {
  private readonly chip: FakeGpioChip;
  private readonly offsets: readonly number[];
  private readonly activeLow: boolean;
  private released = false;

  constructor(options: { chip: FakeGpioChip; offsets: readonly number[]; activeLow: boolean }) {
    this.chip = options.chip;
    this.offsets = options.offsets;
    this.activeLow = options.activeLow;
  }

  /** Requests lines the way the kernel would: all or nothing, busy lines and unknown offsets refused. */
  static open(chip: FakeGpioChip, req: GpioLinesRequest): FakeGpioLines {
    const details = { chip: req.chip, offsets: [...req.offsets] };
    for (const offset of req.offsets) {
      if (!Number.isInteger(offset) || offset < 0 || offset >= chip.numLines) {
        throw gpioError(`Cannot configure line ${offset} on ${req.chip}: EINVAL (chip has ${chip.numLines} lines)`, details);
      }
      if (chip.owners[offset] !== undefined) {
        throw gpioError(`Cannot request GPIO lines on ${req.chip}: EBUSY (line ${offset} is used by ${chip.owners[offset]})`, details);
      }
    }
    const lines = new FakeGpioLines({ chip, offsets: req.offsets, activeLow: req.activeLow });
    req.offsets.forEach((offset, i) => {
      chip.owners[offset] = req.consumer;
      lines.write(offset, req.initial[i] === true);
    });
    return lines;
  }

  set(index: number, value: boolean): void {
    this.write(this.offset(index), value);
  }

  setAll(values: readonly boolean[]): void {
    values.forEach((v, i) => this.set(i, v));
  }

  get(index: number): boolean {
    return this.chip.level(this.offset(index)) !== this.activeLow;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const offset of this.offsets) this.chip.owners[offset] = undefined;
  }

  private write(offset: number, value: boolean): void {
    this.chip.levels[offset] = value !== this.activeLow;
  }

  private offset(index: number): number {
    if (this.released) throw gpioError(`The GPIO lines on ${this.chip.path} were released`, { chip: this.chip.path });
    const offset = this.offsets[index];
    if (offset === undefined) throw gpioError(`No GPIO line for channel ${index} on ${this.chip.path}`, { chip: this.chip.path, index });
    return offset;
  }
}

/** A factory over fake chips; requesting a chip path that is not among them fails like a missing device. */
export function fakeGpioLinesFactory(chips: FakeGpioChip[] = [new FakeGpioChip()]): GpioLinesFactory {
  return (req) => {
    const chip = chips.find((c) => c.path === req.chip);
    if (!chip) throw gpioError(`Cannot open GPIO chip on ${req.chip} (lines ${req.offsets.join(',')}): ENOENT (2)`, { chip: req.chip });
    return FakeGpioLines.open(chip, req);
  };
}
