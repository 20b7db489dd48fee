/**
 * Bad input to the self-updater (issue 11), with a real agent process: a tampered artifact, a release signed
 * by a key that is not in the root's release role, and a version below the running one are each rejected with
 * a coded reason in an `update.state` event, and the device keeps running A.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateKeyPair } from '../../../shared/crypto.js';
import { signArtifact } from '../../support/update-fleet.js';
import { A, UpdateSuite } from '../../support/update-suite.js';
import { eventually } from '../../support/wait.js';

const s = new UpdateSuite();
before(() => s.start(['B', 'lower']));
after(() => s.close());

test('a tampered artifact, a release signed by the wrong key and a lower version are each rejected with a coded reason', async () => {
  const d = await s.device();
  // tampered: the metadata signs B's bytes; the server serves B with one byte changed
  const bad = Buffer.from(s.server.artifacts.get(s.rel.B.sha256)!);
  const mid = bad.length >> 1;
  bad[mid] = bad[mid]! ^ 0xff;
  s.server.artifacts.set('f'.repeat(64), bad);
  await s.deploy(d, 1, 'dep-tampered', s.rel.B.signed, { url: `releases/${'f'.repeat(64)}` });
  d.run();
  await eventually(() => s.events(d).some((e) => e.deploymentId === 'dep-tampered' && e.state === 'failed'), 60_000, 'tampered rejected');
  assert.equal(s.events(d).find((e) => e.deploymentId === 'dep-tampered' && e.state === 'failed')?.reason, 'LOA_ERR_RELEASE_HASH');

  const stranger = generateKeyPair();
  await s.deploy(d, 2, 'dep-wrongkey', await signArtifact(s.rel.B.path, stranger.privateKeyPem));
  await eventually(() => s.events(d).some((e) => e.deploymentId === 'dep-wrongkey'), 30_000, 'wrong key rejected');
  assert.deepEqual(s.events(d).filter((e) => e.deploymentId === 'dep-wrongkey').map((e) => [e.state, e.reason]), [['rejected', 'LOA_ERR_RELEASE_UNKNOWN_KEY']]);

  await s.deploy(d, 3, 'dep-lower', s.rel.lower.signed);
  await eventually(() => s.events(d).some((e) => e.deploymentId === 'dep-lower'), 30_000, 'downgrade rejected');
  assert.deepEqual(s.events(d).filter((e) => e.deploymentId === 'dep-lower').map((e) => [e.state, e.reason]), [['rejected', 'LOA_ERR_RELEASE_DOWNGRADE']]);
  assert.equal(d.current, A);
  assert.equal(d.running, A);
  assert.equal(d.spawns, 1, 'the agent never restarted');
});
