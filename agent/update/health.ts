/**
 * The health check of a freshly switched agent version (issue 11): within the deployment's window the agent
 * must have started (it runs this), verify the manifest in force, pass the player and relay self-test, and be
 * connected to the broker. Each probe is retried until the window ends; the first failing one is the reason.
 */
import type { Clock } from '../../shared/clock.js';
import { failpoint } from '../../shared/failpoints.js';

export interface HealthProbes {
  /** null when the manifest in force verifies against the trust root (or there is none yet), else why not. */
  manifest(): string | null;
  /** null when the audio sink and the relay board pass their self-test, else why not. */
  selfTest(): Promise<string | null>;
  /** True when connected to the controller's broker. */
  broker(): boolean;
}

export type HealthResult = { ok: true; ms: number } | { ok: false; failed: string; ms: number };

export async function checkHealth(o: { probes: HealthProbes; clock: Clock; windowMs: number; pollMs?: number; signal?: AbortSignal }): Promise<HealthResult> {
  const t0 = o.clock.monotonic();
  const left = (): number => o.windowMs - (o.clock.monotonic() - t0);
  const poll = o.pollMs ?? 250;
  const pass: Record<'manifest' | 'selftest' | 'broker', string | null> = { manifest: 'not checked yet', selftest: 'not checked yet', broker: 'not connected to the broker' };
  for (;;) {
    failpoint('update.mid-health-check');
    if (pass.manifest !== null) pass.manifest = o.probes.manifest();
    if (pass.selftest !== null) pass.selftest = await o.probes.selfTest();
    if (pass.broker !== null) pass.broker = o.probes.broker() ? null : 'not connected to the broker';
    const failing = Object.entries(pass).find(([, v]) => v !== null);
    if (!failing) return { ok: true, ms: Math.round(o.clock.monotonic() - t0) };
    if (left() <= 0 || o.signal?.aborted) return { ok: false, failed: `${failing[0]}: ${failing[1]}`, ms: Math.round(o.clock.monotonic() - t0) };
    await o.clock.sleep(Math.min(poll, Math.max(1, left())));
  }
}
