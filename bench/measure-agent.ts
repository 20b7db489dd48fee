import { join } from 'node:path';
import { AGENT_NODE_FLAGS } from '../agent/node-flags.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentFixture } from './fixture.js';
import { readRss, spawnUntil, stopChild, type Resources, type Started } from './proc.js';
import { median } from './stats.js';

const isAgentReady = (line: string): boolean => {
  try {
    return (JSON.parse(line) as { ready?: unknown }).ready === true;
  } catch {
    return false;
  }
};

function startAgent(res: Resources, root: string, fx: AgentFixture): Promise<Started> {
  return spawnUntil(res, process.execPath, [...AGENT_NODE_FLAGS, join(root, 'bin', 'loa.js'), 'agent', 'run', '--data-dir', fx.dataDir, '--profile', fx.profilePath], {
    cwd: root, isReady: isAgentReady, timeoutMs: 20_000,
  });
}

function startBareNode(res: Resources, root: string, script: string, readyLine: string): Promise<Started> {
  return spawnUntil(res, process.execPath, ['-e', script], { cwd: root, isReady: (l) => l.trim() === readyLine, timeoutMs: 10_000 });
}

export interface RssResult {
  /** Largest VmRSS seen over the sampling window, bytes. */
  agentRss: number;
  agentHwm: number;
  agentSamples: number[];
  baselineRss: number;
  baselineHwm: number;
  baselineSamples: number[];
  settleMs: number;
  agentExit: { code: number | null; signal: string | null; forced: boolean };
}

async function sampleRss(pid: number, settleMs: number, count: number, everyMs: number): Promise<{ samples: number[]; hwm: number }> {
  await sleep(settleMs);
  const samples: number[] = [];
  let hwm = 0;
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(everyMs);
    const r = readRss(pid);
    samples.push(r.rss);
    hwm = r.hwm;
  }
  return { samples, hwm };
}

/** Idle RSS of a real `loa agent run` against a bare Node process that only keeps a timer. */
export async function measureIdleRss(res: Resources, root: string, fx: AgentFixture): Promise<RssResult> {
  const settleMs = 3000;
  const agent = await startAgent(res, root, fx);
  const a = await sampleRss(agent.child.pid!, settleMs, 5, 500);
  const agentExit = await stopChild(agent.child);
  const bare = await startBareNode(res, root, "console.log('ready'); setInterval(() => {}, 1000)", 'ready');
  const b = await sampleRss(bare.child.pid!, settleMs, 5, 500);
  await stopChild(bare.child);
  return {
    agentRss: Math.max(...a.samples), agentHwm: a.hwm, agentSamples: a.samples,
    baselineRss: Math.max(...b.samples), baselineHwm: b.hwm, baselineSamples: b.samples, settleMs, agentExit,
  };
}

export interface ColdStartResult {
  agentMedianMs: number;
  agentRunsMs: number[];
  baselineMedianMs: number;
  baselineRunsMs: number[];
  /** How each agent run ended after SIGTERM (a clean stop is code 0, not forced). */
  agentExits: { code: number | null; signal: string | null; forced: boolean }[];
}

/** Spawn → `{"ready":true}` on stdout, against spawn → first line of `node -e "console.log(1)"`; runs interleaved. */
export async function measureColdStart(res: Resources, root: string, fx: AgentFixture, runs = 5): Promise<ColdStartResult> {
  const agentRunsMs: number[] = [];
  const baselineRunsMs: number[] = [];
  const agentExits: ColdStartResult['agentExits'] = [];
  for (let i = 0; i < runs; i++) {
    const bare = await startBareNode(res, root, 'console.log(1)', '1');
    baselineRunsMs.push(bare.readyMs);
    await stopChild(bare.child);
    const agent = await startAgent(res, root, fx);
    agentRunsMs.push(agent.readyMs);
    agentExits.push(await stopChild(agent.child));
  }
  return { agentMedianMs: median(agentRunsMs), agentRunsMs, baselineMedianMs: median(baselineRunsMs), baselineRunsMs, agentExits };
}
