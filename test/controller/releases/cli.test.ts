import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOA } from '../../support/loa-cli.js';
import { makeRelease, startRig, type Rig } from './rig.js';

/** Runs a real `loa` process without blocking this one (which hosts the controller). */
function loa(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LOA, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('loa release upload', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig(0);
  });
  after(async () => rig?.close());

  it('uploads an artifact with its <artifact>.release.json, showing progress, and the controller stores it', async () => {
    const r = makeRelease(rig.releaseKey, '2.0.0', { size: 3_000_000 });
    const artifact = join(rig.t.dir, 'loaphuong-agent-2.0.0-linux-x64.tar.gz');
    writeFileSync(artifact, r.bytes);
    writeFileSync(`${artifact}.release.json`, JSON.stringify(r.signed, null, 2));
    const out = await loa(['release', 'upload', artifact, '--controller', rig.t.controller.httpUrl, '--token', rig.t.admin.token!, '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((JSON.parse(out.stdout) as { release: { sha256: string } }).release.sha256, r.signed.signed.sha256);
    assert.match(out.stderr, /\(100%\)/);
    assert.match(out.stderr, /stored release 2\.0\.0 \(x64\)/);
    assert.equal(rig.t.controller.data.releases.get(r.signed.signed.sha256)?.version, '2.0.0');
  });

  it('exits 1 with the coded reason when the artifact is not the one signed, and --help documents the command', async () => {
    const r = makeRelease(rig.releaseKey, '2.1.0');
    const artifact = join(rig.t.dir, 'tampered.tar.gz');
    writeFileSync(artifact, Buffer.concat([r.bytes.subarray(0, 100), Buffer.from('evil'), r.bytes.subarray(104)]));
    const meta = join(rig.t.dir, 'meta.json');
    writeFileSync(meta, JSON.stringify(r.signed));
    const out = await loa(['release', 'upload', artifact, '--release', meta, '--controller', rig.t.controller.httpUrl, '--token', rig.t.admin.token!]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /LOA_ERR_RELEASE_HASH/);
    assert.equal(rig.t.controller.data.releases.get(r.signed.signed.sha256), null);
    const help = await loa(['release', 'upload', '--help']);
    assert.match(help.stdout, /--release <file>/);
    assert.match(help.stdout, /LOA_ERR_RELEASE_UNKNOWN_KEY/);
  });
});
