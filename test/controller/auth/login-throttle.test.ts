import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoaError } from '../../../shared/errors.js';
import { LoginThrottle } from '../../../controller/auth/login-throttle.js';

const waitOf = (th: LoginThrottle, user: string): number => {
  try {
    th.check(user);
    return 0;
  } catch (e) {
    assert.ok(isLoaError(e) && e.code === 'LOA_ERR_LOGIN_THROTTLED');
    return e.details!.retryAfterS as number;
  }
};

test('an account waits after its free failures, the wait doubles with each failure up to the cap, and a success resets it', () => {
  let now = 0;
  const th = new LoginThrottle({ now: () => now, freeAttempts: 3, maxDelayMs: 60_000 });
  for (let i = 0; i < 2; i++) assert.equal(th.fail('Op1'), false);
  assert.equal(waitOf(th, 'op1'), 0, 'two failures are free');
  assert.equal(th.fail('op1'), true);
  assert.equal(waitOf(th, 'OP1 '), 5, 'the user name is compared trimmed and case-insensitively');
  now += 5000;
  assert.equal(waitOf(th, 'op1'), 0);
  th.fail('op1');
  assert.equal(waitOf(th, 'op1'), 10);
  for (let i = 0; i < 5; i++) th.fail('op1');
  assert.equal(waitOf(th, 'op1'), 60, 'capped');
  assert.equal(waitOf(th, 'someone-else'), 0, 'other accounts are not affected');
  th.succeed('op1');
  assert.equal(waitOf(th, 'op1'), 0);
});

test('the table of accounts stays bounded', () => {
  const th = new LoginThrottle({ now: () => 0, freeAttempts: 1, maxEntries: 100 });
  for (let i = 0; i < 1000; i++) th.fail(`user-${i}`);
  assert.equal(waitOf(th, 'user-0'), 0, 'the oldest entries were dropped');
  assert.ok(waitOf(th, 'user-999') > 0);
});
