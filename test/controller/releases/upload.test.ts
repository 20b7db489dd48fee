import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signEnvelope } from '../../../shared/crypto.js';
import { generateKeyPair } from '../../../shared/crypto.js';
import { ReleaseStore } from '../../../controller/releases/store.js';
import { eventually } from '../../support/wait.js';
import { makeRelease, releaseForm, startRig, type Rig } from './rig.js';

interface Answer { status: number; body: { release?: { sha256: string; version: string; size: number }; error?: { code: string; message: string } } }

describe('agent releases (issue 11): upload, content-addressed storage and resumable download', () => {
  let rig: Rig;
  let dir: string;
  const upload = async (form: FormData, token = rig.t.admin.token!): Promise<Answer> => {
    const res = await fetch(new URL('/api/v1/releases', rig.t.controller.httpUrl), { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
    return { status: res.status, body: await res.json() as Answer['body'] };
  };
  /** Artifact files and temp files on disk, and release rows. */
  const stored = (): { files: string[]; tmp: string[]; rows: number } => ({
    files: readdirSync(dir).filter((f) => f !== '.tmp'), tmp: readdirSync(join(dir, '.tmp')), rows: rig.t.controller.data.releases.list(100).length,
  });

  before(async () => {
    rig = await startRig(0);
    dir = join(rig.t.dir, 'data', 'releases');
  });
  after(async () => rig?.close());

  it('stores a signed release content-addressed (201), answers 200 for the same bytes again, and 409 for the same version with other bytes', async () => {
    const r = makeRelease(rig.releaseKey, '1.1.0');
    const first = await upload(releaseForm(r.signed, r.bytes));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual([first.body.release?.sha256, first.body.release?.version, first.body.release?.size], [r.signed.signed.sha256, '1.1.0', r.bytes.length]);
    assert.ok(existsSync(join(dir, r.signed.signed.sha256)));
    const again = await upload(releaseForm(r.signed, r.bytes));
    assert.equal(again.status, 200);
    const other = makeRelease(rig.releaseKey, '1.1.0');
    const clash = await upload(releaseForm(other.signed, other.bytes));
    assert.deepEqual([clash.status, clash.body.error?.code], [409, 'LOA_ERR_RELEASE_EXISTS']);
    assert.deepEqual(stored(), { files: [r.signed.signed.sha256], tmp: [], rows: 1 });
    const shown = await rig.t.admin.get<{ release: { signed: unknown; url: string } }>(`/api/v1/releases/${r.signed.signed.sha256}`);
    assert.deepEqual(shown.release.signed, r.signed, 'the signed envelope is kept as uploaded');
    assert.equal(shown.release.url, `releases/${r.signed.signed.sha256}`);
    const audit = await rig.t.admin.get<{ entries: { action: string }[] }>(`/api/v1/audit?targetId=${r.signed.signed.sha256}`);
    assert.deepEqual(audit.entries.map((e) => e.action), ['release.upload']);
  });

  it('refuses a tampered artifact, a release signed by a non-release key and malformed metadata with coded errors, leaving no file and no row', async () => {
    const before = stored();
    const good = makeRelease(rig.releaseKey, '1.2.0');
    const tampered = Buffer.from(good.bytes);
    tampered[1000] = tampered[1000]! ^ 0xff;
    const longer = Buffer.concat([good.bytes, Buffer.from('x')]);
    const stranger = generateKeyPair();
    const wrongKey = makeRelease(stranger, '1.2.1');
    const cases: [string, FormData, number, string][] = [
      ['tampered byte', releaseForm(good.signed, tampered), 422, 'LOA_ERR_RELEASE_HASH'],
      ['one byte more than signed', releaseForm(good.signed, longer), 422, 'LOA_ERR_RELEASE_HASH'],
      ['truncated', releaseForm(good.signed, good.bytes.subarray(0, 5000)), 422, 'LOA_ERR_RELEASE_HASH'],
      ['signed by a key that is not a release key', releaseForm(wrongKey.signed, wrongKey.bytes), 422, 'LOA_ERR_RELEASE_UNKNOWN_KEY'],
      ['signature of other content', releaseForm({ ...good.signed, signed: { ...good.signed.signed, version: '9.9.9' } }, good.bytes), 422, 'LOA_ERR_RELEASE_SIGNATURE'],
      ['not JSON', releaseForm('{"signed": ', good.bytes), 422, 'LOA_ERR_RELEASE_INVALID'],
      ['a bad version', releaseForm(signEnvelope({ ...good.signed.signed, version: 'v1' }, [rig.releaseKey.privateKeyPem]), good.bytes), 422, 'LOA_ERR_RELEASE_INVALID'],
    ];
    const got = [];
    for (const [what, form] of cases) {
      const a = await upload(form);
      got.push([what, a.status, a.body.error?.code]);
    }
    assert.deepEqual(got, cases.map(([what, , status, code]) => [what, status, code]));
    // The artifact field without the metadata before it.
    const noMeta = new FormData();
    noMeta.append('artifact', new Blob([good.bytes]), 'a.tar.gz');
    assert.equal((await upload(noMeta)).body.error?.code, 'LOA_ERR_RELEASE_INVALID');
    assert.deepEqual(stored(), before);
  });

  it('keeps nothing of an upload interrupted mid-stream', async () => {
    const before = stored();
    const r = makeRelease(rig.releaseKey, '1.3.0', { size: 2_000_000 });
    const boundary = 'loaBoundary7';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="release"\r\n\r\n${JSON.stringify(r.signed)}\r\n--${boundary}\r\nContent-Disposition: form-data; name="artifact"; filename="a.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n`);
    const url = new URL('/api/v1/releases', rig.t.controller.httpUrl);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: {
      authorization: `Bearer ${rig.t.admin.token!}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + r.bytes.length + 100),
    } });
    req.on('error', () => undefined);
    req.write(head);
    req.write(r.bytes.subarray(0, 1_000_000));
    // Half the artifact has reached the controller's temp folder; then the connection drops.
    await eventually(() => readdirSync(join(dir, '.tmp')).length === 1, 5000, 'the upload streaming into .tmp/');
    req.destroy();
    await eventually(() => readdirSync(join(dir, '.tmp')).length === 0, 5000, 'the temp file removed');
    assert.deepEqual(stored(), before);
  });

  it('serves the artifact by sha256 without a login, with Range so that an interrupted download resumes', async () => {
    const r = makeRelease(rig.releaseKey, '1.4.0', { size: 300_000 });
    assert.equal((await upload(releaseForm(r.signed, r.bytes))).status, 201);
    const url = new URL(`/releases/${r.signed.signed.sha256}`, rig.t.controller.httpUrl);
    const head = await fetch(url, { method: 'HEAD' });
    assert.deepEqual([head.status, head.headers.get('content-length'), head.headers.get('accept-ranges')], [200, String(r.bytes.length), 'bytes']);
    const part1 = Buffer.from(await (await fetch(url, { headers: { range: 'bytes=0-99999' } })).arrayBuffer());
    const rest = await fetch(url, { headers: { range: 'bytes=100000-', 'if-range': `"${r.signed.signed.sha256}"` } });
    assert.equal(rest.status, 206);
    assert.equal(rest.headers.get('content-range'), `bytes 100000-${r.bytes.length - 1}/${r.bytes.length}`);
    const whole = Buffer.concat([part1, Buffer.from(await rest.arrayBuffer())]);
    assert.ok(whole.equals(r.bytes), 'the resumed download is the artifact');
    const missing = await fetch(new URL(`/releases/${'0'.repeat(64)}`, rig.t.controller.httpUrl));
    assert.deepEqual([missing.status, ((await missing.json()) as { error: { code: string } }).error.code], [404, 'LOA_ERR_RELEASE_NOT_FOUND']);
  });

  it('clears, at start, temp files and artifacts without a release row (what a crash mid-upload leaves)', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'loa-releases-'));
    try {
      const store = new ReleaseStore({ dir: scratch });
      mkdirSync(join(scratch, '.tmp'));
      writeFileSync(join(scratch, '.tmp', 'abc.part'), 'half');
      writeFileSync(join(scratch, 'a'.repeat(64)), 'renamed, row never committed');
      writeFileSync(join(scratch, 'b'.repeat(64)), 'stored');
      await store.init();
      assert.deepEqual(await store.sweep((sha) => sha === 'b'.repeat(64)), ['a'.repeat(64)]);
      assert.deepEqual([readdirSync(join(scratch, '.tmp')), readdirSync(scratch).sort()], [[], ['.tmp', 'b'.repeat(64)]]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('lets only admins upload (an operator gets 403), and deletes a release no deployment uses', async () => {
    const r = makeRelease(rig.releaseKey, '1.5.0');
    const op = await upload(releaseForm(r.signed, r.bytes), rig.as.opX!.token!);
    assert.deepEqual([op.status, op.body.error?.code], [403, 'LOA_ERR_FORBIDDEN']);
    assert.equal((await upload(releaseForm(r.signed, r.bytes), rig.as.adminX!.token!)).status, 201);
    await rig.t.admin.request('DELETE', `/api/v1/releases/${r.signed.signed.sha256}`);
    assert.ok(!existsSync(join(dir, r.signed.signed.sha256)));
    assert.equal(rig.t.controller.data.releases.get(r.signed.signed.sha256), null);
  });
});
