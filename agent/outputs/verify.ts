/** Read-back check: what the board reports against what was written to it. */
import { LoaError } from '../../shared/errors.js';

/** Throws LOA_ERR_RELAY_READBACK naming the channels that differ. `actual` null means the board cannot tell. */
export function verifyReadBack(expected: readonly boolean[], actual: readonly boolean[] | null, board: string): void {
  if (actual === null) return;
  const wrong = expected.flatMap((want, ch) => (actual[ch] === want ? [] : [ch]));
  if (wrong.length === 0) return;
  const show = (v: boolean | undefined): string => (v === undefined ? 'nothing' : v ? 'on' : 'off');
  const list = wrong.map((ch) => `channel ${ch} should be ${show(expected[ch])} but reads ${show(actual[ch])}`).join('; ');
  throw new LoaError('LOA_ERR_RELAY_READBACK', `Relay read-back on ${board} differs: ${list}`, {
    details: { channels: wrong, expected: [...expected], actual: [...actual] },
  });
}
