import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Staging } from '../../agent/provision/staging.js';
import { LoaError } from '../../shared/errors.js';
import { snapshot } from './fake-root.js';

const tmp = mkdtempSync(join(tmpdir(), 'loa-staging-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const newRoot = (): string => {
  const root = join(tmp, `root-${++n}`);
  mkdirSync(join(root, 'etc'), { recursive: true });
  return root;
};

void describe('staged, all-or-nothing installation', () => {
  void it('moves staged data and files into place, replacing older versions, and leaves no staging folder', () => {
    const root = newRoot();
    mkdirSync(join(root, 'var/lib/loa/media'), { recursive: true });
    writeFileSync(join(root, 'var/lib/loa/media/abc'), 'keep me');
    writeFileSync(join(root, 'var/lib/loa/device.json'), 'old');
    const s = new Staging({ root, dataDir: '/var/lib/loa' });
    s.open();
    writeFileSync(join(s.data, 'device.json'), 'new');
    mkdirSync(join(s.data, 'media/.partial'), { recursive: true });
    s.stageFile('/etc/loa/agent.json', '{}\n', 0o644);
    const report = s.commit();
    assert.deepEqual(report.written.sort(), ['/etc/loa/agent.json', '/var/lib/loa/device.json', '/var/lib/loa/media/.partial']);
    assert.deepEqual(report.replaced, ['/var/lib/loa/device.json']);
    assert.equal(readFileSync(join(root, 'var/lib/loa/device.json'), 'utf8'), 'new');
    assert.equal(readFileSync(join(root, 'var/lib/loa/media/abc'), 'utf8'), 'keep me', 'folders are merged');
    assert.ok(!existsSync(s.dir));
    assert.deepEqual(Object.keys(snapshot(root)).filter((p) => p.includes('loa-old') || p.includes('provisioning')), []);
  });

  void it('undoes every move when one fails, and discard() then removes the folders it made', () => {
    const root = newRoot();
    writeFileSync(join(root, 'etc', 'loa'), 'a file where a folder is needed');
    const before = snapshot(root);
    const s = new Staging({ root, dataDir: '/var/lib/loa' });
    s.open();
    writeFileSync(join(s.data, 'device.key'), 'k');
    s.stageFile('/etc/loa/agent.json', '{}\n');
    assert.throws(() => s.commit(), (e: unknown) => e instanceof LoaError && e.code === 'LOA_ERR_PROVISION_COMMIT' && /put back/.test(e.message));
    assert.ok(!existsSync(join(root, 'var/lib/loa/device.key')), 'the data moved before the failure was moved back out');
    s.discard();
    assert.deepEqual(snapshot(root), before);
  });

  void it('clears the staging folder of a run that died, and refuses to run beside a live one', () => {
    const root = newRoot();
    const s = new Staging({ root, dataDir: '/var/lib/loa' });
    s.open();
    writeFileSync(join(s.dir, 'pid'), '999999999\n');
    writeFileSync(join(s.data, 'half-written'), 'x');
    const next = new Staging({ root, dataDir: '/var/lib/loa' });
    assert.deepEqual(next.stale(), { pid: 999999999, alive: false });
    next.open();
    assert.ok(!existsSync(join(next.data, 'half-written')));
    writeFileSync(join(next.dir, 'pid'), `${process.ppid}\n`);
    assert.throws(() => new Staging({ root, dataDir: '/var/lib/loa' }).open(), (e: unknown) => e instanceof LoaError && /another `loa provision`/.test(e.message));
    next.discard();
    assert.ok(!existsSync(next.dir), 'the staging folder is gone');
  });
});
