import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, networkInterfaces, platform, release, totalmem, type } from 'node:os';
import type { HardwareSummary } from '../../shared/schemas/pairing.js';

/** Text safe for the controller's check: no control characters, no markup or quotes; trimmed and capped. */
const clean = (s: string | undefined, max: number): string | undefined => {
  const out = s ? [...s].filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f && !'<>"\'`\\'.includes(c)).join('').trim().slice(0, max) : undefined;
  return out ? out : undefined;
};

function readFirst(paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      const t = readFileSync(p, 'utf8');
      if (t.trim()) return t;
    } catch {
      // not on this board
    }
  }
  return undefined;
}

function cpuSerial(): string | undefined {
  const info = readFirst(['/proc/cpuinfo']);
  const m = info ? /^Serial\s*:\s*([0-9a-fA-F]+)\s*$/m.exec(info) : null;
  return m?.[1];
}

function firstMac(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (!a.internal && a.mac && a.mac !== '00:00:00:00:00:00') return a.mac.toLowerCase();
    }
  }
  return undefined;
}

/**
 * What an unpaired device tells the technician about itself (board model, serial, MAC address, …), so that the
 * pending request on the screen can be matched to the box on the pole. Nothing secret; every field optional.
 */
export function collectHardwareSummary(): HardwareSummary {
  const model = clean(readFirst(['/proc/device-tree/model', '/sys/class/dmi/id/product_name']), 100);
  const serial = clean(readFirst(['/proc/device-tree/serial-number']) ?? cpuSerial(), 64);
  const mac = firstMac();
  const out: HardwareSummary = {
    ...(model ? { model } : {}),
    ...(serial ? { serial } : {}),
    ...(mac && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) ? { mac } : {}),
    ...(clean(hostname(), 64) ? { hostname: clean(hostname(), 64)! } : {}),
    arch: arch().slice(0, 20),
    platform: platform().slice(0, 20),
    ...(clean(`${type()} ${release()}`, 100) ? { os: clean(`${type()} ${release()}`, 100)! } : {}),
    cpus: Math.min(Math.max(cpus().length, 1), 1024),
    memMb: Math.round(totalmem() / 1048576),
  };
  return out;
}
