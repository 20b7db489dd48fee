/**
 * Power cuts at random moments of a self-update (issue 11): a real agent process, run through the launcher and
 * restarted like systemd does, is killed with SIGKILL three times at random moments while it updates from A to
 * B. After every cut the device comes back running A or B from `current`, and it ends on B.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A, B, endsOnB, runsAOrB, UpdateSuite } from '../../support/update-suite.js';
import { eventually } from '../../support/wait.js';

const s = new UpdateSuite();
before(() => s.start(['B']));
after(() => s.close());

test('kill -9 at random moments during an update never leaves the device without a running agent, and it ends on B', async () => {
  const d = await s.device();
  await s.deploy(d, 1, 'dep-random', s.rel.B.signed);
  d.run();
  const moments: number[] = [];
  for (let i = 0; i < 3; i++) {
    await runsAOrB(d, 60_000);
    const n = d.spawns;
    const ms = 100 + Math.floor(Math.random() * 2000);
    moments.push(ms);
    await new Promise((r) => setTimeout(r, ms)); // the moment of the power cut, not synchronisation
    d.kill9();
    await eventually(() => d.spawns > n, 20_000, `restarted after the cut at +${ms} ms`);
  }
  await runsAOrB(d, 60_000);
  await endsOnB(d, 90_000);
  for (const st of d.starts) assert.ok([A, B].includes(st.version), `start on ${st.version} (cuts at ${moments.join(', ')} ms)`);
});
