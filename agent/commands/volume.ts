import { PRIORITY_RANK } from '../../shared/schemas/manifest.js';
import type { Occurrence } from '../../shared/timeline.js';

/**
 * The volume a play goes to the sink with: the occurrence's own, scaled by the device volume level (0–100, the
 * `volume` command). Emergency orders keep their signed volume: a trim set for a quiet street must never make a
 * warning inaudible.
 */
export function playVolume(occ: Occurrence, deviceLevel: number): number {
  return occ.rank >= PRIORITY_RANK.emergency ? occ.volume : Math.round((occ.volume * deviceLevel) / 100);
}
