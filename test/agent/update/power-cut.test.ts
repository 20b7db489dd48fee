/**
 * Power cuts during a self-update (issue 11): a real agent process kills itself with SIGKILL at a failpoint
 * (shared/failpoints.ts) — mid-download, mid-unpack, right after the switch, mid-health-check — and the
 * launcher starts it again as systemd would. Each leaves a live agent on A or B with `current` pointing at
 * it (never neither), and the device ends on B. The cuts after the switch: power-cut-switch.test.ts.
 */
import { after, before, describe } from 'node:test';
import { powerCutTest, UpdateSuite } from '../../support/update-suite.js';

const s = new UpdateSuite();
before(() => s.start(['B']));
after(() => s.close());

describe('power cuts before the switch', { concurrency: true }, () => {
  powerCutTest(s, 'update.download-progress=kill@5', 0);
  powerCutTest(s, 'update.mid-unpack=kill@300', 0);
});
