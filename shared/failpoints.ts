/**
 * Named fault-injection points (failpoints, as in FreeBSD fail(9) or TiKV's fail-rs) for the chaos and power-cut
 * tests: `LOA_FAILPOINTS="update.after-switch=kill,outbox.after-insert=exit:3"` makes the process kill itself with
 * SIGKILL (a power cut, as far as its files are concerned), exit with a code, or throw, when it reaches the named
 * point. `name=kill@3` acts on the third hit only. Unset (always, in production), `failpoint()` is one Map lookup
 * on an empty map. The variable is read once, at first use.
 */
import { LoaError } from './errors.js';

type Action = { kind: 'kill' } | { kind: 'exit'; code: number } | { kind: 'throw' };
interface Point { action: Action; onHit: number | null; hits: number }

let points: Map<string, Point> | null = null;

function parseSpec(spec: string): Map<string, Point> {
  const out = new Map<string, Point>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9._-]+)=(kill|throw|exit:(\d{1,3}))(?:@(\d+))?$/.exec(part);
    if (!m) throw new LoaError('LOA_ERR_CONFIG_INVALID', `LOA_FAILPOINTS: cannot read "${part}" (expected name=kill|throw|exit:N[@hit])`);
    const action: Action = m[2] === 'kill' ? { kind: 'kill' } : m[2] === 'throw' ? { kind: 'throw' } : { kind: 'exit', code: Number(m[3]) };
    out.set(m[1]!, { action, onHit: m[4] ? Number(m[4]) : null, hits: 0 });
  }
  return out;
}

/** Replaces the configured points (tests in one process); `undefined` re-reads LOA_FAILPOINTS at next use. */
export function setFailpoints(spec: string | undefined): void {
  points = spec === undefined ? null : parseSpec(spec);
}

/** Acts if `name` is configured (see the module comment); otherwise returns at once. */
export function failpoint(name: string): void {
  points ??= parseSpec(process.env.LOA_FAILPOINTS ?? '');
  if (points.size === 0) return;
  const p = points.get(name);
  if (!p) return;
  p.hits++;
  if (p.onHit !== null && p.hits !== p.onHit) return;
  switch (p.action.kind) {
    case 'kill':
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'exit':
      process.exit(p.action.code);
      break;
    case 'throw':
      throw new LoaError('LOA_ERR_INTERNAL', `failpoint ${name}`);
  }
}
