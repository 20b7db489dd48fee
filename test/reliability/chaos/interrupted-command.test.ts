import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../support/wait.js';
import { agentOutbox, sinkRecords } from '../support/chaos-invariants.js';
import { DEVICE, startChaosRig } from '../support/chaos-rig.js';
import { recordFigures } from '../support/mode.js';

interface CommandView { id: string; state: string; error?: { code: string } }

test('a test tone accepted just before a power cut is reported failed with LOA_ERR_COMMAND_INTERRUPTED after the restart, never played, and its redelivery is refused as a replay', { timeout: 110_000 }, async () => {
  // The agent kills itself (SIGKILL) right after it recorded the command as seen and acknowledged `received`,
  // before the tone is queued (it is queued in memory only).
  const rig = await startChaosRig({ prefix: 'loa-chaos-cmd-', broker: 'embedded', noSchedule: true, agentEnv: { LOA_FAILPOINTS: 'command.after-received=kill' } });
  try {
    const { command } = await rig.api.post<{ command: CommandView }>(`/api/v1/devices/${DEVICE}/commands`, { type: 'test_tone', durationS: 1 });
    await eventually(() => !rig.agent.running, 20_000, 'the agent to die at the failpoint');
    const pid = rig.agent.pid;
    await rig.agent.start({ LOA_FAILPOINTS: '' });
    const get = async (): Promise<CommandView> => (await rig.api.get<{ command: CommandView }>(`/api/v1/devices/${DEVICE}/commands/${command.id}`)).command;
    let view = await get();
    await eventually(async () => (view = await get()).state === 'failed', 30_000, 'the command reported failed');
    assert.equal(view.error?.code, 'LOA_ERR_COMMAND_INTERRUPTED');

    // Give a redelivery (QoS1, persistent session) and the scheduler time to act, then look at what the device did.
    const acks = (): { state: string; code?: string }[] => agentOutbox(rig.agentDir).filter((e) => e.type === 'command.ack' && e.data.commandId === command.id).map((e) => ({ state: String(e.data.state), ...(typeof e.data.code === 'string' ? { code: e.data.code } : {}) }));
    await eventually(() => agentOutbox(rig.agentDir).filter((e) => e.sentAt === null).length === 0, 20_000, 'the outbox delivered');
    assert.deepEqual(acks().filter((a) => a.state !== 'rejected'), [{ state: 'received' }, { state: 'failed', code: 'LOA_ERR_COMMAND_INTERRUPTED' }], 'received once, then failed once');
    assert.ok(acks().filter((a) => a.state === 'rejected').every((a) => a.code === 'LOA_ERR_COMMAND_REPLAY'), 'a redelivery is refused as a replay');
    const tones = agentOutbox(rig.agentDir).filter((e) => e.type === 'play.start' && String(e.data.entryId).includes(command.id));
    assert.deepEqual(tones, [], 'the interrupted tone never played');
    assert.equal(sinkRecords(rig.agentDir).filter((r) => r.key.includes(command.id)).length, 0, 'nothing of it in the file sink');
    recordFigures({
      suite: 'chaos', what: 'command interrupted by a kill', reproduce: 'npm test -- test/reliability/chaos/interrupted-command',
      figures: { killedPid: pid ?? 0, reportedCode: view.error?.code ?? '', executions: tones.length },
    });
  } finally {
    await rig.close();
  }
});
