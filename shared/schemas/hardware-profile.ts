import { Type, type Static } from '@sinclair/typebox';
import { Id } from './common.js';

const SerialPortPath = Type.String({ minLength: 1, maxLength: 256, description: 'Serial device path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...' });

export const LcusRelay = Type.Object(
  {
    type: Type.Literal('lcus', { description: 'LCUS-type USB serial relay (CH340), frames A0 <ch> <state> <sum>' }),
    port: SerialPortPath,
    baudRate: Type.Optional(Type.Integer({ default: 9600, minimum: 1200, maximum: 115200 })),
    channels: Type.Integer({ minimum: 1, maximum: 8, description: 'Number of relay channels on the board' }),
    usb: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$', description: 'USB VID:PID, for detection' })),
  },
  { additionalProperties: false, title: 'LCUS serial relay' },
);
export const ModbusRelay = Type.Object(
  {
    type: Type.Literal('modbus-rtu', { description: 'Modbus RTU relay board (coils; functions 01, 05, 0F)' }),
    port: SerialPortPath,
    baudRate: Type.Optional(Type.Integer({ default: 9600, minimum: 1200, maximum: 115200 })),
    parity: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('odd')], { default: 'none' })),
    unitId: Type.Optional(Type.Integer({ minimum: 1, maximum: 247, default: 1, description: 'Modbus slave address' })),
    channels: Type.Integer({ minimum: 1, maximum: 64 }),
    coilOffset: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'Address of the first coil' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 10000, default: 500 })),
    usb: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$' })),
  },
  { additionalProperties: false, title: 'Modbus RTU relay board' },
);
export const GpioRelay = Type.Object(
  {
    type: Type.Literal('gpio', { description: 'Relays on GPIO lines through libgpiod v2' }),
    chip: Type.Optional(Type.String({ minLength: 1, maxLength: 256, default: '/dev/gpiochip0' })),
    lines: Type.Array(Type.Integer({ minimum: 0, maximum: 1023 }), { minItems: 1, maxItems: 64, uniqueItems: true, description: 'Line offsets, one per channel' }),
    activeLow: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false, title: 'GPIO relays' },
);
export const NoRelay = Type.Object({ type: Type.Literal('none') }, { additionalProperties: false, title: 'no relay' });
export const RelayConfig = Type.Union([LcusRelay, ModbusRelay, GpioRelay, NoRelay]);
/** Each relay type's own schema, so a profile is checked against the member its `type` names (clear errors). */
export const RELAY_SCHEMAS = { lcus: LcusRelay, 'modbus-rtu': ModbusRelay, gpio: GpioRelay, none: NoRelay } as const;
export type RelayConfig = Static<typeof RelayConfig>;
export const RELAY_TYPES = ['lcus', 'modbus-rtu', 'gpio', 'none'] as const;

export const AudioConfig = Type.Object(
  {
    driver: Type.Union([Type.Literal('alsa'), Type.Literal('file'), Type.Literal('none')], { default: 'alsa' }),
    device: Type.String({ minLength: 1, maxLength: 128, default: 'default', description: 'ALSA PCM name, e.g. default, hw:1,0, plughw:CARD=Device' }),
    usb: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$' })),
  },
  { additionalProperties: false, title: 'audio output' },
);

export const OutputZone = Type.Object(
  {
    name: Id,
    label: Type.Optional(Type.String({ maxLength: 200 })),
    channels: Type.Array(Type.Integer({ minimum: 0, maximum: 63 }), { minItems: 0, maxItems: 64, uniqueItems: true, description: 'Relay channels (0-based) that power this zone' }),
    warmupMs: Type.Integer({ minimum: 0, maximum: 60000, default: 2000, description: 'Amplifier on this long before audio starts' }),
    cooldownMs: Type.Integer({ minimum: 0, maximum: 600000, default: 5000, description: 'Amplifier stays on this long after audio ends' }),
    emergencyWarmupMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000, description: 'Shorter warm-up for emergencies' })),
  },
  { additionalProperties: false, title: 'output zone' },
);
export type OutputZone = Static<typeof OutputZone>;

const HHMM = Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'Local wall time HH:MM (Asia/Ho_Chi_Minh)' });

/** The display role (issue 8): an LED or LCD board driven by a kiosk Chromium showing the agent's local page. */
export const DisplayConfig = Type.Object(
  {
    width: Type.Integer({ minimum: 8, maximum: 16384, description: 'Board width in CSS pixels (the kiosk window)' }),
    height: Type.Integer({ minimum: 8, maximum: 16384, description: 'Board height in CSS pixels' }),
    kind: Type.Optional(Type.Union([Type.Literal('led'), Type.Literal('lcd')], { default: 'lcd', description: 'LED boards get bolder, higher-contrast text' })),
    orientation: Type.Optional(Type.Union([Type.Literal('landscape'), Type.Literal('portrait')], { default: 'landscape', description: 'How the panel is mounted (width and height are as seen)' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 8090, description: 'Port of the local page (127.0.0.1)' })),
    minFontPx: Type.Optional(Type.Integer({ minimum: 6, maximum: 200, default: 10, description: 'Auto-fit never goes below this font size' })),
    name: Type.Optional(Type.String({ maxLength: 200, description: 'Shown on the idle screen (e.g. the commune name)' })),
    cdpUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 256, default: 'http://127.0.0.1:9222', description: 'Chromium DevTools endpoint (--remote-debugging-port) for screenshots' })),
    screenshot: Type.Optional(Type.Object(
      {
        intervalS: Type.Integer({ minimum: 10, maximum: 86_400, default: 300, description: 'Seconds between proof-of-display screenshots; 0 is not allowed, leave the block out to turn them off' }),
        maxWidth: Type.Optional(Type.Integer({ minimum: 32, maximum: 1920, default: 480, description: 'Screenshots are scaled down to this width' })),
        quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 60, description: 'WebP quality' })),
      },
      { additionalProperties: false, title: 'screenshots' },
    )),
    brightness: Type.Optional(Type.Object(
      {
        command: Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { minItems: 1, maxItems: 32, description: 'argv run to set the backlight; "{level}" is replaced by 0–100 (e.g. a serial write through a helper script)' }),
        schedule: Type.Array(Type.Object({ from: HHMM, level: Type.Integer({ minimum: 0, maximum: 100 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 48, description: 'From each time of day on, this level (the last one of the day wraps past midnight)' }),
      },
      { additionalProperties: false, title: 'brightness schedule' },
    )),
  },
  { additionalProperties: false, title: 'display' },
);
export type DisplayConfig = Static<typeof DisplayConfig>;

export const HardwareProfile = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    id: Id,
    name: Type.String({ maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    audio: AudioConfig,
    relay: RelayConfig,
    outputs: Type.Array(OutputZone, { minItems: 1, maxItems: 32 }),
    display: Type.Optional(DisplayConfig),
  },
  { additionalProperties: false, title: 'hardware profile', description: 'What a receiver is built from: audio output, relay board, amplifier zones' },
);
export type HardwareProfile = Static<typeof HardwareProfile>;
