/**
 * A broken release (issue 11), with a real agent process through the real launcher: version C's agent module
 * throws as soon as it is loaded, so C crash-loops; the launcher switches back to A by itself at the third
 * failed start, and A reports the rollback with its reason and never installs C again for that deployment.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A, UpdateSuite } from '../../support/update-suite.js';
import { eventually } from '../../support/wait.js';

const s = new UpdateSuite();
before(() => s.start(['C']));
after(() => s.close());

test('a broken version C crash-loops, the launcher goes back to A by itself, A reports rolled-back and does not retry it', async () => {
  const d = await s.device();
  await s.deploy(d, 1, 'dep-c', s.rel.C.signed);
  d.run();
  await eventually(() => s.events(d).some((e) => e.state === 'rolled-back'), 90_000, 'a rolled-back report');
  const rb = s.events(d).find((e) => e.state === 'rolled-back')!;
  assert.equal(rb.reason, 'LOA_ERR_UPDATE_CRASH_LOOP');
  assert.equal(rb.version, '1.2.0');
  assert.equal(d.current, A);
  await eventually(() => d.running === A, 30_000, 'A running again');
  assert.equal(d.state().failed['dep-c']?.reason, 'LOA_ERR_UPDATE_CRASH_LOOP');
  assert.equal(s.events(d).filter((e) => e.state === 'switched').length, 1, 'C is switched to once, never again for dep-c');
});
