/**
 * Power cuts after the switch of a self-update (issue 11): a real agent process kills itself with SIGKILL right
 * after it moved `current` to B, or in the middle of B's health check; the launcher starts it again as systemd
 * would. Each leaves a live agent on B from `current` (never neither), which then commits. The cuts before the
 * switch: power-cut.test.ts.
 */
import { after, before, describe } from 'node:test';
import { powerCutTest, UpdateSuite } from '../../support/update-suite.js';

const s = new UpdateSuite();
before(() => s.start(['B']));
after(() => s.close());

describe('power cuts after the switch', { concurrency: true }, () => {
  powerCutTest(s, 'update.after-switch=kill', 0);
  powerCutTest(s, 'update.mid-health-check=kill', 1);
});
