/**
 * Fake target roots for provisioning tests: the sysfs, procfs and /dev entries detection reads, laid out as the
 * kernel does (class links into /sys/devices, USB ids two levels above a tty, /dev/serial/by-id links), plus a
 * snapshot of a whole tree to prove a run changed nothing.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface FakeSerial {
  name: string;
  /** USB VID:PID; absent for an on-board UART. */
  usb?: string;
  manufacturer?: string;
  product?: string;
  byId?: string;
  /** What /dev/<name> is: an empty file (default) or a symlink to this path (a socat pty). */
  devLink?: string;
}

export interface FakeCard {
  index: number;
  id: string;
  driver: string;
  name: string;
  usb?: string;
}

export interface FakeHardware {
  model?: string;
  dmi?: { vendor: string; product: string };
  serial?: FakeSerial[];
  /** ttyS0..3 from the 8250 driver, which exist whether or not a UART is there. */
  legacySerial?: boolean;
  cards?: FakeCard[];
  gpio?: { name: string; label: string; ngpio: number; base: number }[];
  /** Users and groups in /etc/passwd and /etc/group. */
  groups?: string[];
}

function file(root: string, path: string, content = ''): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
}

function link(root: string, path: string, target: string): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  symlinkSync(target, p);
}

export function buildFakeRoot(root: string, hw: FakeHardware): string {
  mkdirSync(root, { recursive: true });
  if (hw.model) file(root, 'proc/device-tree/model', `${hw.model}\0`);
  if (hw.dmi) {
    file(root, 'sys/class/dmi/id/sys_vendor', `${hw.dmi.vendor}\n`);
    file(root, 'sys/class/dmi/id/product_name', `${hw.dmi.product}\n`);
  }
  let port = 1;
  for (const s of hw.serial ?? []) {
    if (s.usb) {
      const [vid, pid] = s.usb.split(':');
      const usbDev = `sys/devices/pci0000:00/0000:00:14.0/usb1/1-${port}`;
      file(root, `${usbDev}/idVendor`, `${vid}\n`);
      file(root, `${usbDev}/idProduct`, `${pid}\n`);
      if (s.manufacturer) file(root, `${usbDev}/manufacturer`, `${s.manufacturer}\n`);
      if (s.product) file(root, `${usbDev}/product`, `${s.product}\n`);
      const portDir = `${usbDev}/1-${port}:1.0/${s.name}`;
      file(root, `${portDir}/tty/${s.name}/dev`, '188:0\n');
      link(root, `${portDir}/tty/${s.name}/device`, '../../../' + s.name);
      link(root, `sys/class/tty/${s.name}`, relative(join(root, 'sys/class/tty'), join(root, portDir, 'tty', s.name)));
      port++;
    } else {
      const dev = `sys/devices/platform/soc/fe201000.serial`;
      file(root, `${dev}/tty/${s.name}/dev`, '204:64\n');
      link(root, `${dev}/tty/${s.name}/device`, '../../../fe201000.serial');
      link(root, `sys/class/tty/${s.name}`, relative(join(root, 'sys/class/tty'), join(root, dev, 'tty', s.name)));
    }
    if (s.devLink) link(root, `dev/${s.name}`, s.devLink);
    else file(root, `dev/${s.name}`);
    if (s.byId) link(root, `dev/serial/by-id/${s.byId}`, `../../${s.name}`);
  }
  if (hw.legacySerial) {
    for (let i = 0; i < 4; i++) {
      const dev = 'sys/devices/platform/serial8250';
      file(root, `${dev}/tty/ttyS${i}/dev`, `4:${64 + i}\n`);
      link(root, `${dev}/tty/ttyS${i}/device`, '../../../serial8250');
      link(root, `sys/class/tty/ttyS${i}`, `../../devices/platform/serial8250/tty/ttyS${i}`);
      file(root, `dev/ttyS${i}`);
    }
  }
  // Virtual consoles: no device link, never a serial port.
  file(root, 'sys/devices/virtual/tty/tty0/dev', '4:0\n');
  link(root, 'sys/class/tty/tty0', '../../devices/virtual/tty/tty0');
  const cards = hw.cards ?? [];
  file(root, 'proc/asound/cards', cards.length
    ? cards.map((c) => `${String(c.index).padStart(2)} [${c.id.padEnd(15)}]: ${c.driver} - ${c.name}\n                      ${c.name} at somewhere\n`).join('')
    : '--- no soundcards ---\n');
  for (const c of cards) if (c.usb) file(root, `proc/asound/card${c.index}/usbid`, `${c.usb}\n`);
  for (const g of hw.gpio ?? []) {
    const dev = `sys/devices/platform/soc/gpio-${g.name}/${g.name}`;
    file(root, `${dev}/dev`, '254:0\n');
    link(root, `sys/bus/gpio/devices/${g.name}`, `../../../devices/platform/soc/gpio-${g.name}/${g.name}`);
    file(root, `sys/class/gpio/gpiochip${g.base}/label`, `${g.label}\n`);
    file(root, `sys/class/gpio/gpiochip${g.base}/ngpio`, `${g.ngpio}\n`);
    file(root, `sys/class/gpio/gpiochip${g.base}/base`, `${g.base}\n`);
    link(root, `sys/class/gpio/gpiochip${g.base}/device`, `../../../devices/platform/soc/gpio-${g.name}/${g.name}`);
    file(root, `dev/${g.name}`);
  }
  const groups = hw.groups ?? ['root', 'audio', 'dialout', 'gpio'];
  file(root, 'etc/group', groups.map((g, i) => `${g}:x:${i === 0 ? 0 : 20 + i}:`).join('\n') + '\n');
  file(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
  return root;
}

/** The fixtures: one per shipped hardware profile, as those boards look to the kernel. */
export const FIXTURES: Record<string, FakeHardware> = {
  'rpi4-lcus2-usb-audio': {
    model: 'Raspberry Pi 4 Model B Rev 1.4',
    serial: [
      { name: 'ttyUSB0', usb: '1a86:7523', manufacturer: 'QinHeng Electronics', product: 'USB Serial', byId: 'usb-1a86_USB_Serial-if00-port0' },
      { name: 'ttyAMA0' },
    ],
    cards: [
      { index: 0, id: 'Headphones', driver: 'bcm2835_headpho', name: 'bcm2835 Headphones' },
      { index: 1, id: 'Device', driver: 'USB-Audio', name: 'USB Audio Device', usb: '0d8c:0014' },
    ],
    gpio: [{ name: 'gpiochip0', label: 'pinctrl-bcm2711', ngpio: 58, base: 512 }, { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', ngpio: 8, base: 570 }],
  },
  'armbian-modbus8': {
    model: 'Xunlong Orange Pi PC',
    serial: [{ name: 'ttyUSB0', usb: '1a86:7523', product: 'USB2.0-Ser!', byId: 'usb-1a86_USB2.0-Ser_-if00-port0' }],
    cards: [{ index: 0, id: 'Codec', driver: 'H3_Audio_Codec', name: 'H3 Audio Codec' }],
    gpio: [{ name: 'gpiochip0', label: '1c20800.pinctrl', ngpio: 224, base: 0 }, { name: 'gpiochip1', label: '1f02c00.pinctrl', ngpio: 32, base: 352 }],
  },
  'x86-minipc-lcus1': {
    dmi: { vendor: 'Intel Corporation', product: 'NUC7CJYH' },
    serial: [{ name: 'ttyUSB0', usb: '1a86:7523', product: 'USB Serial', byId: 'usb-1a86_USB_Serial-if00-port0' }],
    legacySerial: true,
    cards: [{ index: 0, id: 'PCH', driver: 'HDA-Intel', name: 'HDA Intel PCH' }],
  },
  'rpi-gpio-4zone': {
    model: 'Raspberry Pi 3 Model B Plus Rev 1.3',
    serial: [{ name: 'ttyS0' }],
    cards: [{ index: 0, id: 'Headphones', driver: 'bcm2835_headpho', name: 'bcm2835 Headphones' }],
    gpio: [{ name: 'gpiochip0', label: 'pinctrl-bcm2835', ngpio: 54, base: 512 }],
  },
  'sim-file-sink': {},
};

/** Every path under `dir` with its type, mode and content hash (or link target): equal snapshots = same tree. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}
