/**
 * A measurement hook for the soak test (issue 10), off unless LOA_GC_SIGNAL=1: SIGUSR2 then makes the process
 * run a full garbage collection. The soak forces one at the start of its baseline window and one at the start
 * of its final window, so both windows see the same GC phase and their memory medians compare like with like
 * (without it, a 90-second run compares "before V8's first major GC" with "just before it"). Like the
 * failpoints, it is read from the environment once and never set in production.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

/** Installs the SIGUSR2 → full GC handler when `env.LOA_GC_SIGNAL` is "1". Returns whether it did. */
export function installGcSignal(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.LOA_GC_SIGNAL !== '1') return false;
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  process.on('SIGUSR2', () => gc());
  return true;
}
