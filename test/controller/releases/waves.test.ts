import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkWaves, planWaves } from '../../../controller/releases/waves.js';
import { commonZone } from '../../../controller/releases/rollout.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `loa-${i}`);

describe('wave planning (issue 11)', () => {
  it('splits 1,000 devices 1% → 10% → 100% cumulatively: 10, 90 and 900', () => {
    assert.deepEqual(planWaves('dep-a', ids(1000), [1, 10, 100]).map((w) => [w.percent, w.deviceIds.length]), [[1, 10], [10, 90], [100, 900]]);
  });

  it('puts at least one device in each wave and drops the waves a small fleet cannot fill', () => {
    assert.deepEqual(planWaves('dep-a', ids(3), [1, 10, 100]).map((w) => w.deviceIds.length), [1, 1, 1]);
    assert.deepEqual(planWaves('dep-a', ids(1), [1, 10, 100]).map((w) => w.deviceIds.length), [1]);
  });

  it('is deterministic for a deployment, differs between deployments, and assigns every device exactly once', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.string({ minLength: 1, maxLength: 10 }), (n, dep) => {
      const a = planWaves(dep, ids(n), [1, 10, 50, 100]);
      assert.deepEqual(planWaves(dep, [...ids(n)].reverse(), [1, 10, 50, 100]), a, 'input order does not matter');
      const all = a.flatMap((w) => w.deviceIds);
      assert.deepEqual([...all].sort(), [...ids(n)].sort());
      assert.ok(a.every((w) => w.deviceIds.length >= 1));
    }), { numRuns: 200 });
    assert.notDeepEqual(planWaves('dep-a', ids(100), [1, 100])[0]!.deviceIds, planWaves('dep-b', ids(100), [1, 100])[0]!.deviceIds);
  });

  it('refuses waves that do not grow, leave 1..100 or stop short of 100', () => {
    for (const bad of [[], [10, 5, 100], [0, 100], [10, 50], [50, 50, 100], [1.5, 100], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]]) {
      assert.throws(() => checkWaves(bad), { code: 'LOA_ERR_DEPLOYMENT_TARGET' }, JSON.stringify(bad));
    }
    checkWaves([100]);
  });

  it('finds the deepest zone that holds every target device', () => {
    assert.equal(commonZone(['/T01/X1/X1-C1/', '/T01/X1/X1-C2/']), 'X1');
    assert.equal(commonZone(['/T01/X1/X1-C1/']), 'X1-C1');
    assert.equal(commonZone(['/T01/X1/X1-C1/', '/T01/Y1/Y1-C1/']), 'T01');
  });
});
