import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../support/wait.js';
import { agentOutbox, checkDelivery, checkProofOfPlay, percentile, sinkRecords } from '../support/chaos-invariants.js';
import { killLoop, type KillLoopResult, type Target } from '../support/chaos-kill-loop.js';
import { DEVICE, startChaosRig, type ChaosRig } from '../support/chaos-rig.js';
import { mode, pick, recordFigures } from '../support/mode.js';

const TIMEOUT = Number(process.env.LOA_TEST_TIMEOUT_MS ?? 120_000);

/** A seeded PRNG (mulberry32), so a failing run can be repeated with LOA_CHAOS_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Signed orders executed more than once: distinct plays (occurrences) of one order, or more than one completed play in the sink. */
function doubleExecutions(rig: ChaosRig, r: KillLoopResult): { problems: string[]; executed: number } {
  const problems: string[] = [];
  const starts = agentOutbox(rig.agentDir).filter((e) => e.type === 'play.start');
  const sink = sinkRecords(rig.agentDir).filter((s) => s.status === 'completed');
  let executed = 0;
  for (const id of [...r.commands, ...r.orders]) {
    const occs = new Set(starts.filter((e) => String(e.data.entryId).endsWith(`:${id}`)).map((e) => String(e.data.occurrence)));
    const done = sink.filter((s) => s.key.split('@')[0]!.endsWith(`:${id}`)).length;
    if (occs.size > 0) executed++;
    if (occs.size > 1) problems.push(`${id} was executed as ${occs.size} separate plays: ${[...occs].join(', ')}`);
    if (done > 1) problems.push(`${id} completed ${done} times in the file sink`);
  }
  return { problems, executed };
}

async function chaos(name: string, broker: 'embedded' | 'mosquitto', targets: Target[], iterations: number): Promise<void> {
  const seed = Number(process.env.LOA_CHAOS_SEED ?? Date.now() % 1_000_000);
  // Short mode: schedule rules for ~2 minutes of programs only (the full 5-minute cycle takes 75 rules to set up).
  const rig = await startChaosRig({ prefix: `loa-chaos-${broker}-`, broker, spacingMs: 4000, programMs: 2500, rules: pick(25, 75), leadMs: pick(12_000, 20_000) });
  try {
    const media = await rig.api.get<{ media: { durationMs: number } }>(`/api/v1/media/${rig.mediaId}`);
    await eventually(() => agentOutbox(rig.agentDir).some((e) => e.type === 'play.start'), 30_000, 'the first scheduled play');
    const r = await killLoop(rig, { iterations, targets, random: prng(seed), mediaDurationMs: media.media.durationMs });

    // Final heal: everything runs; within 90 s (the agent's MQTT backoff reaches 60 s after many cuts) a consistent state is seen with nothing lost or duplicated.
    for (const p of [rig.broker, rig.controller, rig.agent]) if (p && !p.running) await p.start();
    let pop = checkProofOfPlay({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
    let delivery = checkDelivery({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
    try {
      await eventually(() => {
        delivery = checkDelivery({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
        pop = checkProofOfPlay({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
        return delivery.unsent === 0 && delivery.problems.length === 0 && pop.problems.length === 0;
      }, 90_000, 'a healed state with every event delivered');
    } catch {
      // The assertions below say what is wrong.
    }
    const orders = doubleExecutions(rig, r);
    const restart = { p50: percentile(r.spawnToPlay, 50), p99: percentile(r.spawnToPlay, 99), max: r.spawnToPlay.length ? Math.max(...r.spawnToPlay) : NaN };
    const fromReady = { p50: percentile(r.readyToPlay, 50), p99: percentile(r.readyToPlay, 99), max: r.readyToPlay.length ? Math.max(...r.readyToPlay) : NaN };
    recordFigures({
      suite: 'chaos', what: `kill -9 (${name})`, reproduce: `LOA_CHAOS_SEED=${seed} npm test -- test/reliability/chaos/kill9`,
      figures: {
        seed, iterations, killsAgent: r.kills.agent, killsController: r.kills.controller, killsBroker: r.kills.broker,
        restartsMeasured: r.spawnToPlay.length, spawnToPlayP50Ms: restart.p50, spawnToPlayP99Ms: restart.p99, spawnToPlayMaxMs: restart.max,
        agentStartToPlayP50Ms: fromReady.p50, agentStartToPlayP99Ms: fromReady.p99, agentStartToPlayMaxMs: fromReady.max,
        playEvents: pop.agentPlayEvents, occurrences: pop.occurrences, completed: pop.completed, eventsDelivered: delivery.events - delivery.unsent,
        lost: pop.lost, duplicated: pop.duplicated, spurious: pop.spurious, ordersSent: r.commands.length + r.orders.length, ordersExecuted: orders.executed,
        ordersExecutedTwice: orders.problems.length,
      },
    });
    const unsent = agentOutbox(rig.agentDir).filter((e) => e.sentAt === null).map((e) => `#${e.seq} ${e.type}`);
    assert.deepEqual(pop.problems, [], `proof-of-play exactly once (seed ${seed}; not acknowledged by the controller: ${unsent.join(', ') || 'none'})`);
    assert.deepEqual(delivery.problems, [], `every event delivered once, in order (seed ${seed})`);
    assert.equal(delivery.unsent, 0, 'the outbox drained after the heal');
    assert.deepEqual(orders.problems, [], `no signed order executed twice (seed ${seed})`);
    assert.ok(pop.completed > 0, 'programs played');
    // Restart-to-playing is the embedded variant's invariant (the mosquitto one kills the agent too rarely to aim).
    assert.ok(r.spawnToPlay.length > 0 || broker === 'mosquitto' || iterations < 4 || !targets.includes('agent'), `at least one restart with a program due was measured: ${r.restarts.join('; ')}`);
    // 2 s from restart to playing, measured as the device lives it but fairly on a shared machine: from the
    // restarted agent's own first act (its agent.start event: node has loaded the agent, the store is open) to
    // its play.start (outputs warmed up, audio starting). Spawn → play.start is recorded too: it adds node's own
    // start-up and module loading, which on a loaded 2-core CI box alone takes 1–1.5 s.
    const bound = Math.max(...r.readyToPlay, 0);
    assert.ok(!(bound > 2000), `playing again within 2 s of a restart (agent.start → play.start max ${bound} ms: ${JSON.stringify(r.readyToPlay)}; spawn → play ${JSON.stringify(r.spawnToPlay)})`);
  } finally {
    await rig.close();
  }
}

test('kill -9 of the agent and of the controller (embedded broker) at random moments loses and duplicates no proof-of-play, executes no signed order twice, and plays again within 2 s of each agent restart', { timeout: TIMEOUT * 3 }, async () => {
  await chaos('agent + controller, embedded aedes', 'embedded', ['agent', 'agent', 'controller'], pick(6, 120));
});

// Long mode only: the short mode of the kill -9 suite must stay near 75 s, and this variant alone takes ~75 s
// (run it in short form with LOA_CHAOS_MOSQUITTO=1).
const mosquittoSkip = mode() === 'short' && !process.env.LOA_CHAOS_MOSQUITTO ? 'long mode (or LOA_CHAOS_MOSQUITTO=1): the short mode keeps to its time budget' : false;

test('kill -9 of the agent, the controller and an external mosquitto at random moments loses and duplicates no proof-of-play and executes no signed order twice', { timeout: TIMEOUT * 3, skip: mosquittoSkip }, async () => {
  await chaos('agent + controller + mosquitto', 'mosquitto', ['agent', 'controller', 'broker'], pick(7, 90));
});
