/**
 * Hardware detection for provisioning: serial ports (with their USB VID:PID), ALSA sound cards, GPIO chips and
 * the board model, read from sysfs, procfs and /dev under a configurable root. The root is `/` on a receiver;
 * tests point it at a fake tree, so every rule here is checked without the hardware.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export interface SerialPortInfo {
  /** /dev path on the target, e.g. /dev/ttyUSB0. */
  path: string;
  /** Kernel name, e.g. ttyUSB0. */
  name: string;
  /** USB VID:PID (lower-case hex) of the adapter, when it is a USB device. */
  usb?: string;
  manufacturer?: string;
  product?: string;
  serial?: string;
  /** Stable /dev/serial/by-id/… links to this port. */
  byId: string[];
}

export interface SoundCardInfo {
  index: number;
  /** ALSA card id, as in plughw:CARD=<id>. */
  id: string;
  driver: string;
  name: string;
  usb?: string;
}

export interface GpioChipInfo {
  /** /dev path on the target, e.g. /dev/gpiochip0. */
  path: string;
  name: string;
  label?: string;
  ngpio?: number;
}

export interface DetectedHardware {
  root: string;
  /** Device-tree model (ARM boards) or DMI vendor + product (PCs). */
  model?: string;
  /** 'devicetree' on ARM boards, 'dmi' on PCs, 'unknown' otherwise. */
  platform: 'devicetree' | 'dmi' | 'unknown';
  serialPorts: SerialPortInfo[];
  soundCards: SoundCardInfo[];
  gpioChips: GpioChipInfo[];
}

/** Joins a target path (absolute, like /dev/ttyUSB0) onto the root the detection reads. */
export function underRoot(root: string, targetPath: string): string {
  return resolve(root, `.${resolve('/', targetPath)}`);
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\0/g, '').trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort(naturalCompare);
  } catch {
    return [];
  }
}

/** ttyUSB2 before ttyUSB10. */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

const USB_ID = /^[0-9a-f]{4}$/;

/** Walks up from a sysfs device directory to the USB device that owns it (the one with idVendor/idProduct). */
function usbDeviceOf(sysDevice: string, sysRoot: string): { dir: string; id: string } | undefined {
  let dir = sysDevice;
  for (let i = 0; i < 6 && dir.startsWith(sysRoot) && dir !== sysRoot; i++) {
    const vid = read(join(dir, 'idVendor'))?.toLowerCase();
    const pid = read(join(dir, 'idProduct'))?.toLowerCase();
    if (vid && pid && USB_ID.test(vid) && USB_ID.test(pid)) return { dir, id: `${vid}:${pid}` };
    dir = dirname(dir);
  }
  return undefined;
}

function realpathOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/** /dev/serial/by-id/<name> → the /dev/<tty> it points at. */
function serialLinks(root: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const dir = underRoot(root, '/dev/serial/by-id');
  for (const name of list(dir)) {
    let target: string;
    try {
      target = readlinkSync(join(dir, name));
    } catch {
      continue;
    }
    const tty = basename(target);
    out.set(tty, [...(out.get(tty) ?? []), `/dev/serial/by-id/${name}`]);
  }
  return out;
}

export function detectSerialPorts(root: string): SerialPortInfo[] {
  const sysRoot = realpathOrUndefined(underRoot(root, '/sys')) ?? underRoot(root, '/sys');
  const classDir = underRoot(root, '/sys/class/tty');
  const links = serialLinks(root);
  const ports: SerialPortInfo[] = [];
  for (const name of list(classDir)) {
    // Virtual consoles and ptys have no `device`; the 8250 driver registers ttyS0..3 whether or not a UART is there.
    const device = realpathOrUndefined(join(classDir, name, 'device'));
    if (!device) continue;
    if (basename(device) === 'serial8250') continue;
    const port: SerialPortInfo = { path: `/dev/${name}`, name, byId: links.get(name) ?? [] };
    const usb = usbDeviceOf(device, sysRoot);
    if (usb) {
      port.usb = usb.id;
      const manufacturer = read(join(usb.dir, 'manufacturer'));
      const product = read(join(usb.dir, 'product'));
      const serial = read(join(usb.dir, 'serial'));
      if (manufacturer) port.manufacturer = manufacturer;
      if (product) port.product = product;
      if (serial) port.serial = serial;
    }
    ports.push(port);
  }
  // A by-id link whose tty is not in sysfs (a container with /dev but no /sys) still shows the port.
  for (const [tty, ids] of links) {
    if (!ports.some((p) => p.name === tty)) ports.push({ path: `/dev/${tty}`, name: tty, byId: ids });
  }
  return ports;
}

/** Lines of /proc/asound/cards: ` 1 [Device         ]: USB-Audio - USB Audio Device`. */
const CARD_LINE = /^\s*(\d+)\s+\[([^\]\s]+)\s*\]:\s+(.+?)\s+-\s+(.*)$/;

export function detectSoundCards(root: string): SoundCardInfo[] {
  const text = read(underRoot(root, '/proc/asound/cards')) ?? '';
  const cards: SoundCardInfo[] = [];
  for (const line of text.split('\n')) {
    const m = CARD_LINE.exec(line);
    if (!m) continue;
    const index = Number(m[1]);
    const card: SoundCardInfo = { index, id: m[2] ?? '', driver: m[3] ?? '', name: (m[4] ?? '').trim() };
    const usb = read(underRoot(root, `/proc/asound/card${index}/usbid`))?.toLowerCase();
    if (usb && /^[0-9a-f]{4}:[0-9a-f]{4}$/.test(usb)) card.usb = usb;
    cards.push(card);
  }
  return cards;
}

export function detectGpioChips(root: string): GpioChipInfo[] {
  const names = new Set<string>();
  for (const n of list(underRoot(root, '/dev'))) if (/^gpiochip\d+$/.test(n)) names.add(n);
  for (const n of list(underRoot(root, '/sys/bus/gpio/devices'))) if (/^gpiochip\d+$/.test(n)) names.add(n);
  // Label and line count live in the legacy class directory (/sys/class/gpio/gpiochip<base>), linked to the chip.
  const info = new Map<string, { label?: string; ngpio?: number }>();
  const classDir = underRoot(root, '/sys/class/gpio');
  for (const entry of list(classDir)) {
    if (!/^gpiochip\d+$/.test(entry)) continue;
    const dev = realpathOrUndefined(join(classDir, entry, 'device'));
    const chip = dev ? basename(dev) : undefined;
    if (!chip || !/^gpiochip\d+$/.test(chip)) continue;
    const label = read(join(classDir, entry, 'label'));
    const ngpio = Number(read(join(classDir, entry, 'ngpio')));
    info.set(chip, { ...(label ? { label } : {}), ...(Number.isInteger(ngpio) && ngpio > 0 ? { ngpio } : {}) });
  }
  return [...names].sort(naturalCompare).map((name) => ({ path: `/dev/${name}`, name, ...info.get(name) }));
}

function detectModel(root: string): Pick<DetectedHardware, 'model' | 'platform'> {
  const dt = read(underRoot(root, '/proc/device-tree/model')) ?? read(underRoot(root, '/sys/firmware/devicetree/base/model'));
  if (dt) return { model: dt, platform: 'devicetree' };
  const vendor = read(underRoot(root, '/sys/class/dmi/id/sys_vendor'));
  const product = read(underRoot(root, '/sys/class/dmi/id/product_name'));
  if (vendor || product) return { model: [vendor, product].filter(Boolean).join(' '), platform: 'dmi' };
  return { platform: 'unknown' };
}

/** The `serialport` package's view (udev on Linux), merged in when detecting the real machine. */
export type SerialLister = () => Promise<{ path: string; vendorId?: string; productId?: string; manufacturer?: string; serialNumber?: string }[]>;

async function defaultSerialLister(): Promise<Awaited<ReturnType<SerialLister>>> {
  const { SerialPort } = await import('serialport');
  return SerialPort.list();
}

export interface DetectOptions {
  /** Filesystem root to read (default `/`). */
  root?: string;
  /** Extra source for serial ports when the root is `/` (default `SerialPort.list()`); pass null to skip. */
  serialLister?: SerialLister | null;
}

/** Everything provisioning needs to know about the hardware. Never throws: what cannot be read is absent. */
export async function detectHardware(o: DetectOptions = {}): Promise<DetectedHardware> {
  const root = resolve(o.root ?? '/');
  const serialPorts = detectSerialPorts(root);
  const lister = o.serialLister === undefined ? (root === '/' ? defaultSerialLister : null) : o.serialLister;
  if (lister) {
    try {
      for (const p of await lister()) {
        if (serialPorts.some((x) => x.path === p.path || x.byId.includes(p.path))) continue;
        const vid = p.vendorId?.toLowerCase();
        const pid = p.productId?.toLowerCase();
        serialPorts.push({
          path: p.path, name: basename(p.path), byId: [],
          ...(vid && pid ? { usb: `${vid}:${pid}` } : {}), ...(p.manufacturer ? { manufacturer: p.manufacturer } : {}),
          ...(p.serialNumber ? { serial: p.serialNumber } : {}),
        });
      }
    } catch {
      /* the sysfs view above is enough */
    }
  }
  return { root, ...detectModel(root), serialPorts, soundCards: detectSoundCards(root), gpioChips: detectGpioChips(root) };
}

/** Whether a target path exists under the root (a device node, a by-id link, a pty); dangling links do not. */
export function existsUnder(root: string, targetPath: string): boolean {
  return existsSync(underRoot(root, targetPath));
}

/** Human-readable lines for the provisioning log. */
export function describeHardware(hw: DetectedHardware): string[] {
  const lines: string[] = [];
  lines.push(`board: ${hw.model ?? 'unknown'}${hw.platform === 'unknown' ? '' : ` (${hw.platform === 'dmi' ? 'PC' : 'device tree'})`}`);
  if (!hw.serialPorts.length) lines.push('serial ports: none');
  for (const p of hw.serialPorts) {
    const what = [p.usb ? `USB ${p.usb}` : 'on-board', p.manufacturer, p.product].filter(Boolean).join(', ');
    lines.push(`serial port: ${p.path} (${what})${p.byId.length ? ` = ${p.byId.join(', ')}` : ''}`);
  }
  if (!hw.soundCards.length) lines.push('sound cards: none');
  for (const c of hw.soundCards) lines.push(`sound card ${c.index}: ${c.id} — ${c.name}${c.usb ? ` (USB ${c.usb})` : ''}`);
  if (!hw.gpioChips.length) lines.push('GPIO chips: none');
  for (const g of hw.gpioChips) lines.push(`GPIO chip: ${g.path}${g.label ? ` (${g.label}` : ''}${g.ngpio ? `, ${g.ngpio} lines)` : g.label ? ')' : ''}`);
  return lines;
}
