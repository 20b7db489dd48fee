/**
 * The small surface the GPIO relay driver needs from a GPIO chip. The koffi/libgpiod implementation is in
 * ./koffi-lines.ts, an in-memory one for tests and the demo in ./fake-lines.ts. Every method throws a LoaError
 * (LOA_ERR_GPIO, or LOA_ERR_GPIO_UNAVAILABLE when libgpiod cannot be loaded).
 */
import { LoaError } from '../../../shared/errors.js';

export interface GpioLinesRequest {
  /** Chip device path, e.g. /dev/gpiochip0. */
  chip: string;
  /** Line offsets on the chip; the index into this list is the relay channel. */
  offsets: readonly number[];
  /** When true, "on" drives the line low (many relay modules switch on a low input). */
  activeLow: boolean;
  /** Shown by `gpioinfo` as the line's user. */
  consumer: string;
  /** Logical values the lines take at the moment they are requested (fail-safe: all off). */
  initial: readonly boolean[];
}

/** Lines requested as outputs. Values are logical (active-low is applied below this interface). */
export interface GpioLines {
  set(index: number, value: boolean): void;
  setAll(values: readonly boolean[]): void;
  get(index: number): boolean;
  /** Gives the lines back to the kernel. Never throws; idempotent. */
  release(): void;
}

export type GpioLinesFactory = (request: GpioLinesRequest) => GpioLines;

export function gpioError(message: string, details: Record<string, unknown> = {}, cause?: unknown): LoaError {
  return new LoaError('LOA_ERR_GPIO', message, { cause, details });
}
