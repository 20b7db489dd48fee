/**
 * Self-update on the device (issue 11), end to end with real processes: real artifacts from `loa release
 * build`, real `loa agent run` processes through the sh launcher (restarted on exit as systemd does), a real
 * MQTT broker, and an HTTP server in the controller's role serving signed manifests and artifacts with Range.
 * A broken release: broken-release.test.ts; power cuts: power-cut*.test.ts; rejected input: bad-input.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { A, B, endsOnB, UpdateSuite } from '../../support/update-suite.js';
import { eventually } from '../../support/wait.js';

const s = new UpdateSuite();
before(() => s.start(['B']));
after(() => s.close());

test('three agents on version A get version B, restart into it, pass the health check and report healthy', async () => {
  const ds = await Promise.all([s.device(), s.device(), s.device()]);
  for (const d of ds) {
    await s.deploy(d, 1, 'dep-b', s.rel.B.signed);
    d.run();
  }
  for (const d of ds) {
    await endsOnB(d, 90_000);
    await eventually(() => s.events(d).some((e) => e.state === 'healthy' && e.version === B), 30_000, `${d.id} reports healthy`);
    assert.equal(d.layout.linkVersion('previous'), A);
    assert.deepEqual([...new Set(s.events(d).map((e) => e.state))].filter((x) => x !== 'healthy'), ['downloading', 'downloaded', 'installing', 'switched']);
    assert.equal(d.starts[0]?.version, A);
  }
});
