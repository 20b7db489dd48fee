/**
 * Switching relays one by one and reading them back: shared by the self-test (`loa selftest`, which owns the
 * board) and the running agent's relay check (OutputController.checkChannels, the `relay_check` command).
 */
import type { Clock } from '../../shared/clock.js';
import type { RelayDriver } from '../../shared/outputs.js';

export interface ReadBackOptions {
  clock: Clock;
  /** Wait between a switch and its read-back, ms. */
  settleMs: number;
  signal?: AbortSignal;
}

/**
 * What the board reports against `want` (one entry per channel): null when the board cannot be read back,
 * '' when it matches, otherwise a description of the channels that differ ("ch2 reads off").
 */
export async function readBackMismatch(driver: RelayDriver, want: readonly boolean[], o: ReadBackOptions): Promise<string | null> {
  if (!driver.supportsReadBack) return null;
  if (o.settleMs > 0) await o.clock.sleep(o.settleMs, o.signal);
  const state = await driver.readState();
  if (!state) return null;
  const wrong = want.map((w, i) => (state[i] === w ? -1 : i)).filter((i) => i >= 0);
  return wrong.length ? wrong.map((i) => `ch${i} reads ${state[i] ? 'on' : 'off'}`).join(', ') : '';
}
