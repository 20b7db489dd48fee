import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { ERRORS, LoaError, type ErrorCode } from '../../shared/errors.js';
import { ApiClient } from '../lib/api-client.js';

export interface UploadOptions {
  controller: string;
  release?: string;
  token?: string;
  username?: string;
  passwordFile?: string;
  json?: boolean;
}

async function bearer(o: UploadOptions): Promise<string> {
  const token = o.token ?? process.env.LOA_TOKEN;
  if (token) return token;
  if (!o.username) throw new LoaError('LOA_ERR_UNAUTHENTICATED', 'give --token (or $LOA_TOKEN), or --username with $LOA_PASSWORD or --password-file');
  const password = o.passwordFile ? readFileSync(o.passwordFile, 'utf8').trim() : process.env.LOA_PASSWORD;
  if (!password) throw new LoaError('LOA_ERR_UNAUTHENTICATED', 'no password: set $LOA_PASSWORD or use --password-file');
  const api = new ApiClient(o.controller);
  await api.login(o.username, password);
  return api.token!;
}

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;

/**
 * `loa release upload`: streams the artifact to POST /api/v1/releases as multipart (the signed metadata field
 * first, as the controller requires), printing progress to stderr. Resolves with the controller's answer.
 */
export async function releaseUpload(artifact: string, o: UploadOptions, say: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)): Promise<{ status: number; release: Record<string, unknown> }> {
  const metaPath = o.release ?? `${artifact}.release.json`;
  if (!existsSync(artifact)) throw new LoaError('LOA_ERR_NOT_FOUND', `no artifact ${artifact}`);
  if (!existsSync(metaPath)) throw new LoaError('LOA_ERR_RELEASE_INVALID', `no signed metadata ${metaPath}: run loa release sign first, or give --release FILE`);
  const meta = readFileSync(metaPath, 'utf8');
  const size = statSync(artifact).size;
  const token = await bearer(o);
  const boundary = `loaRelease${Date.now().toString(36)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="release"\r\n\r\n${meta}\r\n`
    + `--${boundary}\r\nContent-Disposition: form-data; name="artifact"; filename="${basename(artifact).replace(/["\r\n]/g, '_')}"\r\nContent-Type: application/gzip\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL('/api/v1/releases', o.controller);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  say(`uploading ${basename(artifact)} (${mb(size)}) to ${url.origin}`);
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: { release?: Record<string, unknown>; error?: { code?: string; message?: string } } = {};
        try { body = JSON.parse(text) as typeof body; } catch { /* not JSON: reported below */ }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300 && body.release) { resolve({ status, release: body.release }); return; }
        const code = body.error?.code;
        reject(code && code in ERRORS ? new LoaError(code as ErrorCode, body.error?.message ?? code) : new Error(`HTTP ${status}: ${text.slice(0, 200)}`));
      });
    });
    req.on('error', reject);
    req.write(head);
    let sent = 0;
    let shown = -1;
    const file = createReadStream(artifact);
    file.on('data', (c) => {
      sent += c.length;
      const pct = Math.floor((sent / Math.max(1, size)) * 10) * 10;
      if (pct !== shown) {
        shown = pct;
        say(`  ${mb(sent)} / ${mb(size)} (${pct}%)`);
      }
    });
    file.on('error', (e) => { req.destroy(); reject(e); });
    file.on('end', () => req.end(tail));
    file.pipe(req, { end: false });
  });
}

/** Adds `upload` to the `loa release` command group (made here when the build/sign side has not made it). */
export function registerReleaseUpload(program: Command): void {
  const release = program.commands.find((c) => c.name() === 'release') ?? program.command('release').description('Agent releases: build, sign and upload (issue 11)');
  release.command('upload')
    .description('Upload a signed agent release to the controller (stored content-addressed; deployments roll it out)')
    .argument('<artifact>', 'the .tar.gz made by loa release build')
    .option('--release <file>', 'the signed metadata (default <artifact>.release.json, made by loa release sign)')
    .option('--controller <url>', 'controller URL (or $LOA_CONTROLLER)', process.env.LOA_CONTROLLER ?? 'http://127.0.0.1:8080')
    .option('--token <t>', 'a session or API token of an admin (or $LOA_TOKEN)')
    .option('--username <name>', 'sign in as this admin (password from $LOA_PASSWORD or --password-file)')
    .option('--password-file <file>', 'read the password from this file')
    .option('--json', 'print the stored release as JSON on stdout')
    .addHelpText('after', `
The controller checks the metadata's signature against its root's release role, streams the artifact to a
temp file checking its size and SHA-256 against the metadata, then stores it as releases/<sha256>: all or
nothing. Uploading the same release again is harmless. Progress goes to stderr. Needs release.manage (admins).

Errors: LOA_ERR_RELEASE_INVALID (malformed metadata), LOA_ERR_RELEASE_SIGNATURE, LOA_ERR_RELEASE_UNKNOWN_KEY
(not signed by a release key), LOA_ERR_RELEASE_HASH (the file is not the one signed), LOA_ERR_RELEASE_EXISTS
(this version and arch are stored with other bytes), LOA_ERR_FORBIDDEN.

Examples:
  $ export LOA_PASSWORD=…
  $ loa release upload loaphuong-agent-1.4.0-linux-arm64.tar.gz --username admin
  uploading loaphuong-agent-1.4.0-linux-arm64.tar.gz (38.2 MB) to http://127.0.0.1:8080
    0.0 MB / 38.2 MB (0%)
    …
  stored release 1.4.0 (arm64) 3f9a0c1b2d4e…
  $ curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
      -d '{"releaseSha256":"3f9a…","target":{"zoneIds":["X1"]},"waves":[1,10,100]}' http://127.0.0.1:8080/api/v1/deployments`)
    .action(async (artifact: string, o: UploadOptions) => {
      const r = await releaseUpload(artifact, o);
      if (o.json) process.stdout.write(JSON.stringify({ release: r.release }) + '\n');
      process.stderr.write(`${r.status === 201 ? 'stored' : 'already stored:'} release ${String(r.release.version)} (${String(r.release.arch)}) ${String(r.release.sha256)}\n`);
    });
}
