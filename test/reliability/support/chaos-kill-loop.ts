/**
 * The kill -9 loop of the chaos tests (issue 10): at a random moment of the program cycle, SIGKILL one of the
 * rig's processes and start it again; now and then send a signed order (a test tone command or an emergency
 * order) just before the kill, so the kill lands right after the device executed it. Measures, for every agent
 * restart that happens while a program is due, the time from spawn (and from the agent's ready line) to the
 * resumed `play.start` in the agent's outbox.
 */
import { ApiError } from '../../../scripts/lib/api-client.js';
import { eventually } from '../../support/wait.js';
import { agentOutbox } from './chaos-invariants.js';
import type { ChaosRig } from './chaos-rig.js';
import { DEVICE } from './chaos-rig.js';

export type Target = 'agent' | 'controller' | 'broker';

export interface KillLoopResult {
  kills: Record<Target, number>;
  /** Spawn → resumed play.start (ms), one per agent restart with a program due. */
  spawnToPlay: number[];
  /** The agent's ready line → resumed play.start (ms). */
  readyToPlay: number[];
  commands: string[];
  orders: string[];
  /** Per agent restart: what happened to the measurement (for failure messages). */
  restarts: string[];
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function killLoop(rig: ChaosRig, o: { iterations: number; targets: Target[]; random: () => number; mediaDurationMs: number }): Promise<KillLoopResult> {
  const res: KillLoopResult = { kills: { agent: 0, controller: 0, broker: 0 }, spawnToPlay: [], readyToPlay: [], commands: [], orders: [], restarts: [] };
  const proc = (t: Target) => (t === 'agent' ? rig.agent : t === 'controller' ? rig.controller : rig.broker!);
  let lag = 2500;
  for (let i = 0; i < o.iterations; i++) {
    // Every target once first (so that a short run kills each of them), then at random.
    const target = i < o.targets.length ? o.targets[i]! : o.targets[Math.floor(o.random() * o.targets.length)]!;
    // A random point, uniform over one program cycle (this is the chaos, not a synchronisation). Every other
    // agent kill is aimed instead: its restart (spawn + the last measured spawn → agent.start lag) lands in the
    // first half-second of a program, so that restart-to-playing is measured in every run, however short.
    const aimed = target === 'agent' && res.kills.agent % 2 === 0;
    await delay(aimed ? aimDelay(rig, lag, o.random) : o.random() * rig.spacingMs);
    if (i % 3 === 1 && rig.controller.running) await sendOrder(rig, i, res);
    await proc(target).kill9();
    res.kills[target]++;
    // The broker and controller come back after a random outage of up to one cycle; the agent at once.
    if (target !== 'agent') await delay(o.random() * rig.spacingMs * 0.5);
    if (target === 'agent') lag = (await restartAgentAndMeasure(rig, o.mediaDurationMs, res)) ?? lag;
    else await proc(target).start();
  }
  return res;
}

/** A signed order, its kill a few ms to a few hundred ms after: a test tone command, or every 4th time an emergency order. */
async function sendOrder(rig: ChaosRig, i: number, res: KillLoopResult): Promise<void> {
  try {
    if (i % 4 === 1) {
      const { order } = await rig.api.post<{ order: { id: string } }>('/api/v1/emergency', {
        title: `Báo động thử ${i}`, zones: ['X01-C1'], content: { kind: 'media', mediaId: rig.mediaId }, repeat: 1, ttlMinutes: 5, confirm: 'Cụm loa thôn Đông',
      });
      res.orders.push(order.id);
    } else {
      const { command } = await rig.api.post<{ command: { id: string } }>(`/api/v1/devices/${DEVICE}/commands`, { type: 'test_tone', durationS: 1 });
      res.commands.push(command.id);
    }
  } catch (e) {
    // A tone while one is queued is refused (409); the controller may be restarting. Neither is a failure here.
    if (!(e instanceof ApiError) && !(e instanceof TypeError)) throw e;
  }
  await delay(Math.floor(Math.random() * 400));
}

/** ms from now until `lag` before a program start plus up to 500 ms. */
function aimDelay(rig: ChaosRig, lag: number, random: () => number): number {
  const now = Date.now();
  let at = rig.firstAt + Math.ceil((now + lag - rig.firstAt) / rig.spacingMs) * rig.spacingMs - lag + random() * 500;
  while (at < now) at += rig.spacingMs;
  return at - now;
}

/** Restarts the agent; measures restart-to-playing when a program is due. Returns the spawn → agent.start lag. */
async function restartAgentAndMeasure(rig: ChaosRig, durationMs: number, res: KillLoopResult): Promise<number | undefined> {
  const started = await rig.agent.start();
  const t = started.spawnedAt;
  // The agent's own first timestamp of this life: the agent.start event, written once node has loaded it and the store is open.
  let up = 0;
  await eventually(() => {
    up = agentOutbox(rig.agentDir).find((e) => e.type === 'agent.start' && e.data.pid === started.child.pid)?.at ?? 0;
    return up > 0;
  }, 10_000, 'the agent.start event of the restarted agent');
  const since = up - rig.firstAt;
  if (since < 0) {
    res.restarts.push(`before the first program (lag ${up - t} ms)`);
    return up - t;
  }
  const occStart = rig.firstAt + Math.floor(since / rig.spacingMs) * rig.spacingMs;
  // Due: it may still start or resume (maxDelayMs = the program's length) with at least 1 s of it left.
  if (up > occStart + Math.min(durationMs, rig.maxDelayMs) - 1000) {
    res.restarts.push(`not due: up ${up - occStart} ms into the program of ${new Date(occStart).toISOString()} (lag ${up - t} ms)`);
    return up - t;
  }
  let at = 0;
  try {
    await eventually(() => {
      // The due program, or the one the kill interrupted, resumed first (the scheduler's onPreempt: resume):
      // either way the loudspeakers play again. (Orders' plays have entry ids with a colon.)
      const ev = agentOutbox(rig.agentDir).find((e) => e.type === 'play.start' && e.at >= up && !String(e.data.entryId).includes(':') && Number(e.data.scheduledAt) <= occStart);
      if (ev) at = ev.at;
      return ev !== undefined;
    }, 8000, `the agent to resume the program of ${new Date(occStart).toISOString()}`);
  } catch {
    // An emergency order or a test tone may hold the loudspeakers: no measurement then, and not a failure.
    const busy = agentOutbox(rig.agentDir).some((e) => e.type === 'play.start' && e.at >= up && String(e.data.entryId).includes(':'));
    if (busy) {
      res.restarts.push('busy with an order');
      return up - t;
    }
    const seen = agentOutbox(rig.agentDir).filter((e) => e.at >= t - 3000).map((e) => `${e.type} ${JSON.stringify(e.data)} at ${e.at - t}`);
    throw new Error(`the agent did not resume the program due at ${new Date(occStart).toISOString()} (spawned at ${t}, up ${up - t} ms later): ${seen.join('; ')}`);
  }
  res.spawnToPlay.push(at - t);
  res.readyToPlay.push(at - up);
  res.restarts.push(`measured (lag ${up - t} ms)`);
  return up - t;
}
