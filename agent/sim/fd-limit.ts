import { readFileSync } from 'node:fs';

/** Open-file limits of a process (RLIMIT_NOFILE); null when unlimited. */
export interface FdLimits {
  soft: number | null;
  hard: number | null;
}

/** File descriptors a process needs besides its sockets (stdio, IPC, libuv, timers, a margin). */
export const FD_MARGIN = 64;

/** Parses the "Max open files" line of /proc/<pid>/limits. Null when the line is missing. */
export function parseFdLimits(limitsText: string): FdLimits | null {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files/m.exec(limitsText);
  if (!m) return null;
  const n = (v: string): number | null => (v === 'unlimited' ? null : Number(v));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/** This process's limits (Linux); null where /proc is not there (the check is then skipped). */
export function currentFdLimits(): FdLimits | null {
  try {
    return parseFdLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether a process can hold `sockets` connections. Node raises its own soft limit to the hard limit when it
 * starts (src/node.cc), so the hard limit is what counts: `ok`, or `short` with how many sockets fit.
 */
export type FdPlan = { kind: 'ok' } | { kind: 'short'; max: number; limit: number };

export function planFds(sockets: number, limits: FdLimits | null): FdPlan {
  if (!limits) return { kind: 'ok' };
  const limit = limits.hard === null ? limits.soft : Math.max(limits.soft ?? 0, limits.hard);
  if (limit === null || limit >= sockets + FD_MARGIN) return { kind: 'ok' };
  return { kind: 'short', max: Math.max(0, limit - FD_MARGIN), limit };
}
