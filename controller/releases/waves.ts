import { createHash } from 'node:crypto';
import { LoaError } from '../../shared/errors.js';

export const DEFAULT_WAVES = [1, 10, 100] as const;

/** Throws LOA_ERR_DEPLOYMENT_TARGET unless the percentages grow strictly, lie in 1..100 and end at 100. */
export function checkWaves(waves: readonly number[]): void {
  const ok = waves.length > 0 && waves.length <= 10 && waves.every((p, i) => Number.isInteger(p) && p >= 1 && p <= 100 && (i === 0 || p > waves[i - 1]!)) && waves.at(-1) === 100;
  if (!ok) throw new LoaError('LOA_ERR_DEPLOYMENT_TARGET', `waves are cumulative percentages that grow and end at 100, e.g. [1, 10, 100] (got [${waves.join(', ')}])`);
}

/**
 * Splits devices into waves (Mender/hawkBit-style phased rollout). `waves` are cumulative percentages: wave i
 * holds the devices up to ceil(n × p_i / 100), at least one more than the wave before; waves left empty
 * (small fleets) are dropped. The order is deterministic for a deployment — devices sorted by
 * sha256(deploymentId, deviceId) — so a canary wave is a spread sample, not the first ids of one commune.
 */
export function planWaves(deploymentId: string, deviceIds: readonly string[], waves: readonly number[]): { percent: number; deviceIds: string[] }[] {
  checkWaves(waves);
  const key = (id: string): string => createHash('sha256').update(`${deploymentId}\n${id}`).digest('hex');
  const order = [...new Set(deviceIds)].map((id) => ({ id, k: key(id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.id);
  const n = order.length;
  const out: { percent: number; deviceIds: string[] }[] = [];
  let taken = 0;
  for (const p of waves) {
    if (taken >= n) break;
    const upTo = Math.min(n, Math.max(Math.ceil((n * p) / 100), taken + 1));
    out.push({ percent: p, deviceIds: order.slice(taken, upTo) });
    taken = upTo;
  }
  return out;
}
