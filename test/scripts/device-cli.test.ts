import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandBody } from '../../scripts/cli/device.js';
import { runLoa } from '../support/loa-cli.js';

test('loa device cmd turns its arguments into a contract B body and refuses bad ones before calling the controller', () => {
  assert.deepEqual(commandBody('test_tone', {}), { type: 'test_tone' });
  assert.deepEqual(commandBody('test_tone', { duration: '7' }), { type: 'test_tone', durationS: 7 });
  assert.deepEqual(commandBody('volume', { volume: '0' }), { type: 'volume', volume: 0 });
  assert.deepEqual(commandBody('relay_check', {}), { type: 'relay_check' });
  assert.deepEqual(commandBody('reboot', {}), { type: 'reboot' });
  assert.throws(() => commandBody('volume', {}), /--volume/);
  assert.throws(() => commandBody('volume', { volume: '101' }), /0 to 100/);
  assert.throws(() => commandBody('test_tone', { duration: '2.5' }), /1 to 30/);
  assert.throws(() => commandBody('shutdown', {}), /unknown command type/);
});

test('loa device cmd --help explains the command, and a bad volume fails with a coded message and no network call', () => {
  const help = runLoa(['device', 'cmd', '--help']);
  assert.equal(help.status, 0);
  for (const s of ['test_tone', 'relay_check', '--duration', '--volume', 'LOA_ERR_COMMAND_BUSY', 'restarts the agent service']) assert.ok(help.stdout.includes(s), s);
  const bad = runLoa(['device', 'cmd', 'dev-1', 'volume', '--volume', '500', '--controller', 'http://127.0.0.1:9', '--token', 'x']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /LOA_ERR_SCHEMA: --volume must be a whole number from 0 to 100/);
});
