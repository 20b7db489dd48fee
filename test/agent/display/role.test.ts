import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisplayRole } from '../../../agent/display/role.js';
import { openDb } from '../../../agent/store/db.js';
import { Outbox } from '../../../agent/store/outbox.js';
import { SystemClock } from '../../../shared/clock.js';
import { createLogger } from '../../../shared/log.js';

const log = createLogger('test', { level: 'silent' });

test('a board page that cannot get its port is a coded display fault, not a failed agent start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-role-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const outbox = new Outbox({ db, deviceId: () => 'dev-1' });
  const media = { has: () => false, pathOf: () => '' };
  const first = new DisplayRole({ config: { width: 192, height: 96 }, clock: new SystemClock(), outbox, log, media, port: 0 });
  await first.start();
  const port = Number(new URL(first.url).port);
  const second = new DisplayRole({ config: { width: 192, height: 96 }, clock: new SystemClock(), outbox, log, media, port });
  try {
    await second.start();
    assert.equal(second.url, '', 'no page');
    const fault = outbox.list(['display.fault'])[0];
    assert.equal(fault?.data.code, 'LOA_ERR_DISPLAY_NO_PAGE');
    assert.match(String(fault?.data.message), new RegExp(`port ${port}`));
    const res = await fetch(new URL('/state', first.url));
    assert.equal(((await res.json()) as { view: { kind: string } }).view.kind, 'idle', 'the first page still answers');
  } finally {
    await second.stop();
    await first.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
