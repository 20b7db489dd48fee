/**
 * A koffi binding to the part of libgpiod v2 (libgpiod.so.3) that drives output lines. libgpiod v1
 * (libgpiod.so.2, Debian 12's package) has a different API and is refused with LOA_ERR_GPIO_UNAVAILABLE.
 */
import { createRequire } from 'node:module';
import type koffiType from 'koffi';

// Loaded on first use: only GPIO profiles pay for the FFI module's memory.
const requireCjs = createRequire(import.meta.url);
import { LoaError } from '../../../shared/errors.js';

export const LIBGPIOD_V2 = 'libgpiod.so.3';

/** enum gpiod_line_direction */
export const GPIOD_LINE_DIRECTION_OUTPUT = 3;
/** enum gpiod_line_value */
export const GPIOD_LINE_VALUE_INACTIVE = 0;
export const GPIOD_LINE_VALUE_ACTIVE = 1;
export const GPIOD_LINE_VALUE_ERROR = -1;

/** An opaque C pointer as koffi hands it over (null when the C function returned NULL). */
export type CPointer = object;

export interface Libgpiod {
  readonly library: string;
  chipOpen(path: string): CPointer | null;
  chipClose(chip: CPointer): void;
  settingsNew(): CPointer | null;
  settingsFree(settings: CPointer): void;
  settingsSetDirection(settings: CPointer, direction: number): number;
  settingsSetOutputValue(settings: CPointer, value: number): number;
  settingsSetActiveLow(settings: CPointer, activeLow: boolean): void;
  lineConfigNew(): CPointer | null;
  lineConfigFree(config: CPointer): void;
  lineConfigAddLineSettings(config: CPointer, offsets: Uint32Array, count: number, settings: CPointer): number;
  requestConfigNew(): CPointer | null;
  requestConfigFree(config: CPointer): void;
  requestConfigSetConsumer(config: CPointer, consumer: string): void;
  chipRequestLines(chip: CPointer, requestConfig: CPointer, lineConfig: CPointer): CPointer | null;
  requestRelease(request: CPointer): void;
  requestSetValue(request: CPointer, offset: number, value: number): number;
  requestGetValue(request: CPointer, offset: number): number;
  /** errno after the last call. */
  errno(): number;
}

export const INSTALL_HINT =
  'Install libgpiod v2: on Debian 13 (trixie), Raspberry Pi OS trixie and other distributions with libgpiod 2.x run ' +
  '`apt-get install libgpiod3`; Debian 12 (bookworm) only ships libgpiod v1 (libgpiod.so.2), so build libgpiod 2.x from ' +
  'source (./autogen.sh --enable-tools && make && make install && ldconfig) or give the path of a libgpiod.so.3.';

/** Loads libgpiod v2. Throws LOA_ERR_GPIO_UNAVAILABLE, with install instructions, when it cannot. */
export function loadLibgpiod(library: string = LIBGPIOD_V2): Libgpiod {
  const koffi = requireCjs('koffi') as typeof koffiType;
  let lib: koffiType.IKoffiLib;
  try {
    lib = koffi.load(library);
  } catch (e) {
    throw new LoaError('LOA_ERR_GPIO_UNAVAILABLE', `libgpiod v2 could not be loaded from ${library}: ${(e as Error).message}. ${INSTALL_HINT}`, {
      cause: e,
      details: { library },
    });
  }
  try {
    const ptr = koffi.pointer(koffi.opaque());
    const f = (name: string, result: string | object, args: (string | object)[]): ((...a: unknown[]) => unknown) =>
      lib.func(name, result as koffiType.IKoffiCType, args as koffiType.IKoffiCType[]) as (...a: unknown[]) => unknown;
    const chipOpen = f('gpiod_chip_open', ptr, ['str']);
    const chipClose = f('gpiod_chip_close', 'void', [ptr]);
    const settingsNew = f('gpiod_line_settings_new', ptr, []);
    const settingsFree = f('gpiod_line_settings_free', 'void', [ptr]);
    const settingsSetDirection = f('gpiod_line_settings_set_direction', 'int', [ptr, 'int']);
    const settingsSetOutputValue = f('gpiod_line_settings_set_output_value', 'int', [ptr, 'int']);
    const settingsSetActiveLow = f('gpiod_line_settings_set_active_low', 'void', [ptr, 'bool']);
    const lineConfigNew = f('gpiod_line_config_new', ptr, []);
    const lineConfigFree = f('gpiod_line_config_free', 'void', [ptr]);
    const lineConfigAdd = f('gpiod_line_config_add_line_settings', 'int', [ptr, koffi.pointer('uint32_t'), 'size_t', ptr]);
    const requestConfigNew = f('gpiod_request_config_new', ptr, []);
    const requestConfigFree = f('gpiod_request_config_free', 'void', [ptr]);
    const requestConfigSetConsumer = f('gpiod_request_config_set_consumer', 'void', [ptr, 'str']);
    const chipRequestLines = f('gpiod_chip_request_lines', ptr, [ptr, ptr, ptr]);
    const requestRelease = f('gpiod_line_request_release', 'void', [ptr]);
    const requestSetValue = f('gpiod_line_request_set_value', 'int', [ptr, 'uint32_t', 'int']);
    const requestGetValue = f('gpiod_line_request_get_value', 'int', [ptr, 'uint32_t']);
    const pointer = (v: unknown): CPointer | null => (typeof v === 'object' && v !== null ? v : null);
    return {
      library,
      chipOpen: (path) => pointer(chipOpen(path)),
      chipClose: (chip) => void chipClose(chip),
      settingsNew: () => pointer(settingsNew()),
      settingsFree: (s) => void settingsFree(s),
      settingsSetDirection: (s, d) => settingsSetDirection(s, d) as number,
      settingsSetOutputValue: (s, v) => settingsSetOutputValue(s, v) as number,
      settingsSetActiveLow: (s, a) => void settingsSetActiveLow(s, a),
      lineConfigNew: () => pointer(lineConfigNew()),
      lineConfigFree: (c) => void lineConfigFree(c),
      lineConfigAddLineSettings: (c, offsets, n, s) => lineConfigAdd(c, offsets, n, s) as number,
      requestConfigNew: () => pointer(requestConfigNew()),
      requestConfigFree: (c) => void requestConfigFree(c),
      requestConfigSetConsumer: (c, name) => void requestConfigSetConsumer(c, name),
      chipRequestLines: (chip, rc, lc) => pointer(chipRequestLines(chip, rc, lc)),
      requestRelease: (r) => void requestRelease(r),
      requestSetValue: (r, o, v) => requestSetValue(r, o, v) as number,
      requestGetValue: (r, o) => requestGetValue(r, o) as number,
      errno: () => koffi.errno(),
    };
  } catch (e) {
    lib.unload();
    throw new LoaError('LOA_ERR_GPIO_UNAVAILABLE', `${library} is not libgpiod v2 (${(e as Error).message}). ${INSTALL_HINT}`, {
      cause: e,
      details: { library },
    });
  }
}
