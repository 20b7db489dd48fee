import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { LoaError } from '../../shared/errors.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import {
  describeChain, draftStatus, finalizeRotation, initKeysDir, loadPending, loadRootKeys, openKeysDir, prepareRotation, readDraft,
  saveDraft, signDraft, writeDraft, type Change, type OnlineRole,
} from '../lib/ceremony.js';
import { passphraseSource, readKeyFile, requireRole, writeFileAtomic, type PassphraseSource } from '../lib/keyfile.js';

export interface KeySet {
  dir: string;
  rootKeys: string[];
  schedule: string;
  emergency: string;
  release: string;
  root: RootMetadata;
}

/**
 * Makes k-of-n root keys and the online schedule/emergency keys, and root v1 (root.json and roots/1.root.json)
 * signed by the threshold. Root key files are encrypted when a passphrase is given. Refuses to overwrite.
 */
export function initKeys(dir: string, n: number, k: number, years = 10, progress: (s: string) => void = () => undefined, o: { passphrase?: string } = {}): KeySet {
  const r = initKeysDir(dir, n, k, years, { now: Date.now(), progress, ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) });
  return { dir: r.dir, rootKeys: r.rootKeys, schedule: r.schedule, emergency: r.emergency, release: r.release, root: r.root };
}

const OFFLINE = `
Offline: this command never contacts a controller. Run it on the offline ceremony machine.
Progress lines go to stderr, a JSON summary to stdout. Passphrases come from --passphrase-file FILE,
$LOA_KEY_PASSPHRASE, or a hidden prompt on a terminal; they are never logged.`;

const progress = (s: string): void => console.error(s);
const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function int(v: string, what: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw new LoaError('LOA_ERR_SCHEMA', `${what} must be a whole number from ${min} to ${max} (got "${v}")`);
  return n;
}
function years(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0 && n <= 50)) throw new LoaError('LOA_ERR_SCHEMA', `--years must be more than 0 and at most 50 (got "${v}")`);
  return n;
}
function onlineRole(v: string | undefined): OnlineRole {
  if (v === 'schedule' || v === 'emergency') return v;
  throw new LoaError('LOA_ERR_SCHEMA', `--role must be schedule or emergency (got "${String(v)}")`);
}
const sources = (o: { passphraseFile?: string }): PassphraseSource => passphraseSource(o.passphraseFile ? { file: o.passphraseFile } : {});

function refuseWhilePending(dir: string): void {
  const p = join(dir, 'pending');
  if (existsSync(p)) throw new LoaError('LOA_ERR_KEY_EXISTS', `${p} exists: a rotation is in progress (finish it with \`loa keys finalize\`, or delete ${p} to abandon it)`);
}

interface RotateOpts { keys: string; rootKey?: string[]; passphraseFile?: string; years?: string }

/** rotate-online / rotate-root: prepare, sign with the root keys at hand, finalize — or write nothing. */
export async function rotate(o: RotateOpts, change: Change, encrypt: boolean): Promise<Record<string, unknown>> {
  const now = Date.now();
  const dir = resolve(o.keys);
  const kd = openKeysDir(dir, now, { migrate: true, progress });
  refuseWhilePending(dir);
  const pass = sources(o);
  const newPass = encrypt ? await pass.getNew('the new root keys') : undefined;
  const y = years(o.years);
  const prepared = prepareRotation(kd, change, { now, ...(y !== undefined ? { years: y } : {}), ...(newPass !== undefined ? { passphrase: newPass } : {}) });
  const keys = await loadRootKeys(kd, o.rootKey, pass, progress);
  const k = kd.latest.roles.root.threshold;
  if (keys.length < k) {
    throw new LoaError('LOA_ERR_ROOT_THRESHOLD', `only ${keys.length} of the ${k} root keys needed are at hand: pass --root-key FILE for each, or let the holders sign in turn with \`loa keys draft\`, \`loa keys sign\` and \`loa keys finalize\`. Nothing was written.`, { details: { have: keys.length, threshold: k } });
  }
  let draft = prepared.draft;
  for (const key of keys) draft = signDraft(draft, key);
  const r = finalizeRotation(kd, { ...prepared, draft }, { now, progress });
  return { rotated: true, ...r, root: join(dir, 'root.json') };
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys')
    .description('Offline key ceremony: root keys (k-of-n), online keys, rotations and the trust bundle. Never contacts a controller.');

  keys.command('init')
    .description('Make root keys (k-of-n Ed25519), the schedule and emergency keys, and root v1 signed by the threshold (offline)')
    .requiredOption('--out <dir>', 'folder for the key files (keep it offline)')
    .option('--count <n>', 'number of root keys', '3')
    .option('--threshold <k>', 'root signatures needed', '2')
    .option('--years <y>', 'root metadata validity in years', '10')
    .option('--encrypt', 'protect the root key files with a passphrase (AES-256-CBC, PKCS#8)')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .addHelpText('after', `
Writes root-1.key … root-n.key (mode 0600), schedule.key, emergency.key, release.key, root.json and
roots/1.root.json. Refuses to overwrite anything. Then move each root-*.key to its holder's USB stick, and copy
root.json, roots/ and schedule.key to the controller's keys folder. release.key signs agent releases (\`loa
release sign\`): move it to the build machine, never to the controller (a controller that holds it could make
every device run any code).${OFFLINE}`)
    .action(async (o: { out: string; count: string; threshold: string; years: string; encrypt?: boolean; passphraseFile?: string }) => {
      const n = int(o.count, '--count', 1, 16);
      const k = int(o.threshold, '--threshold', 1, 16);
      const y = years(o.years) ?? 10;
      const passphrase = o.encrypt ? await sources(o).getNew('the root keys') : undefined;
      const set = initKeys(o.out, n, k, y, progress, passphrase !== undefined ? { passphrase } : {});
      progress(`${set.release} signs agent releases: keep it on the build machine, not on the controller`);
      console.log(JSON.stringify({ root: join(set.dir, 'root.json'), version: set.root.version, rootThreshold: set.root.roles.root.threshold, rootKeys: set.rootKeys, releaseKey: set.release, encrypted: passphrase !== undefined }));
    });

  keys.command('show')
    .description('Print the key id and public key of a private key file (offline)')
    .argument('<keyfile>')
    .option('--passphrase-file <file>', 'passphrase of an encrypted key file')
    .action(async (f: string, o: { passphraseFile?: string }) => {
      const key = await readKeyFile(f, sources(o));
      console.log(JSON.stringify({ publicKey: key.publicKey, keyid: key.keyid, encrypted: key.encrypted }));
    });

  keys.command('rotate-online')
    .description('Replace the schedule or emergency key: a new key, and root v+1 listing it, signed by the root threshold (offline)')
    .requiredOption('--keys <dir>', 'the keys folder (root.json, roots/, the online keys)')
    .requiredOption('--role <role>', 'schedule or emergency')
    .option('--revoke-old', 'also list the replaced key in revokedKeys (devices refuse it for good)')
    .option('--root-key <file>', 'a root key file (repeat for each; default: the root-*.key files in --keys)', collect)
    .option('--passphrase-file <file>', 'passphrase of encrypted root key files')
    .option('--years <y>', 'new expiry of the root metadata, in years from now (default: keep the current expiry)')
    .addHelpText('after', `
The replaced key moves to <keys>/retired/; the new one is <keys>/<role>.key. Every root version is kept in
<keys>/roots/. Then copy root.json, roots/ and schedule.key to the controller and reload it
(\`kill -HUP <pid>\` or POST /api/v1/trust/reload). Needs the root threshold of keys at hand; otherwise use
draft / sign / finalize. Nothing is written unless the new root verifies.${OFFLINE}`)
    .action(async (o: RotateOpts & { role: string; revokeOld?: boolean }) => {
      console.log(JSON.stringify(await rotate(o, { kind: 'online', role: onlineRole(o.role), revokeOld: o.revokeOld === true }, false)));
    });

  keys.command('rotate-root')
    .description('Replace the root keys: n new keys, k-of-n, and root v+1 signed by the OLD and the NEW thresholds (offline)')
    .requiredOption('--keys <dir>', 'the keys folder')
    .requiredOption('--count <n>', 'number of new root keys')
    .requiredOption('--threshold <k>', 'signatures needed from the new root keys')
    .option('--new-out <dir>', 'folder for the new root key files (default: --keys)')
    .option('--encrypt', 'protect the new root key files with a passphrase')
    .option('--root-key <file>', 'a current root key file (repeat for each; default: the root-*.key files in --keys)', collect)
    .option('--passphrase-file <file>', 'passphrase of encrypted root key files (also used for the new ones with --encrypt)')
    .option('--years <y>', 'new expiry of the root metadata, in years from now (default: keep the current expiry)')
    .addHelpText('after', `
The old root-*.key files in --keys move to <keys>/retired/: destroy them once every device has the new root
(a device still at the old version would trust them). Devices walk from any older version through
<keys>/roots/ (served by the controller, or exported with \`loa keys export-trust\`).${OFFLINE}`)
    .action(async (o: RotateOpts & { count: string; threshold: string; newOut?: string; encrypt?: boolean }) => {
      const change: Change = { kind: 'root', count: int(o.count, '--count', 1, 16), threshold: int(o.threshold, '--threshold', 1, 16), ...(o.newOut ? { newOut: o.newOut } : {}) };
      console.log(JSON.stringify(await rotate(o, change, o.encrypt === true)));
    });

  keys.command('draft')
    .description('Start a rotation that root key holders sign one by one (keys on separate USB sticks): writes an unsigned draft (offline)')
    .requiredOption('--keys <dir>', 'the keys folder')
    .requiredOption('--rotate <what>', 'online (a new schedule/emergency key) or root (new root keys)')
    .option('--role <role>', 'with --rotate online: schedule or emergency')
    .option('--revoke-old', 'with --rotate online: list the replaced key in revokedKeys')
    .option('--count <n>', 'with --rotate root: number of new root keys')
    .option('--threshold <k>', 'with --rotate root: signatures needed from the new root keys')
    .option('--new-out <dir>', 'with --rotate root: folder for the new root key files (default: --keys)')
    .option('--encrypt', 'with --rotate root: protect the new root key files with a passphrase')
    .option('--passphrase-file <file>', 'passphrase for the new root key files')
    .option('--years <y>', 'new expiry of the root metadata, in years from now')
    .option('--out <file>', 'where to write the draft (default: <keys>/root-v<N>.draft.json)')
    .addHelpText('after', `
Step by step: (1) \`loa keys draft …\` on the ceremony machine: the new keys wait in <keys>/pending/ (0700),
the draft holds only public data. (2) Each holder, wherever their USB stick is: \`loa keys sign --key
/media/usb/root-2.key root-v2.draft.json\` (it says how many signatures are still needed). (3) Back on the
ceremony machine: \`loa keys finalize --keys <dir> root-v2.draft.json\`.${OFFLINE}`)
    .action(async (o: { keys: string; rotate: string; role?: string; revokeOld?: boolean; count?: string; threshold?: string; newOut?: string; encrypt?: boolean; passphraseFile?: string; years?: string; out?: string }) => {
      const now = Date.now();
      const dir = resolve(o.keys);
      const kd = openKeysDir(dir, now, { migrate: true, progress });
      let change: Change;
      if (o.rotate === 'online') change = { kind: 'online', role: onlineRole(o.role), revokeOld: o.revokeOld === true };
      else if (o.rotate === 'root') change = { kind: 'root', count: int(o.count ?? '', '--count', 1, 16), threshold: int(o.threshold ?? '', '--threshold', 1, 16), ...(o.newOut ? { newOut: o.newOut } : {}) };
      else throw new LoaError('LOA_ERR_SCHEMA', `--rotate must be online or root (got "${o.rotate}")`);
      refuseWhilePending(dir);
      const newPass = o.encrypt && change.kind === 'root' ? await sources(o).getNew('the new root keys') : undefined;
      const y = years(o.years);
      const prepared = prepareRotation(kd, change, { now, ...(y !== undefined ? { years: y } : {}), ...(newPass !== undefined ? { passphrase: newPass } : {}) });
      const out = resolve(o.out ?? join(dir, `root-v${prepared.draft.signed.version}.draft.json`));
      saveDraft(kd, prepared, out, progress);
      const status = draftStatus(prepared.draft);
      progress(`needs ${status.old.threshold} signature(s) from the root keys of v${kd.latest.version}: \`loa keys sign --key FILE ${out}\``);
      console.log(JSON.stringify({ draft: out, ...status }));
    });

  keys.command('sign')
    .description('Add one root key holder\'s signature to a draft (offline; needs only the draft and the key)')
    .requiredOption('--key <file>', 'the holder\'s root key file')
    .option('--passphrase-file <file>', 'passphrase of an encrypted key file')
    .argument('<draft>', 'the draft file from `loa keys draft` (updated in place, atomically)')
    .addHelpText('after', OFFLINE)
    .action(async (draftPath: string, o: { key: string; passphraseFile?: string }) => {
      const draft = readDraft(draftPath);
      const key = await readKeyFile(o.key, sources(o));
      const signed = signDraft(draft, key);
      writeDraft(draftPath, signed);
      const s = draftStatus(signed);
      progress(`signed root v${s.version} with ${o.key}: old root keys ${s.old.valid} of ${s.old.threshold}, new root keys ${s.new.valid} of ${s.new.threshold}${s.ready ? ' — ready: run `loa keys finalize`' : ''}`);
      console.log(JSON.stringify({ draft: draftPath, keyid: key.keyid, ...s }));
    });

  keys.command('finalize')
    .description('Finish a signed draft: check it chains, then write the new root, keys and roots/<v>.root.json (offline)')
    .requiredOption('--keys <dir>', 'the keys folder the draft was made from')
    .argument('<draft>', 'the signed draft')
    .addHelpText('after', OFFLINE)
    .action((draftPath: string, o: { keys: string }) => {
      const now = Date.now();
      const kd = openKeysDir(resolve(o.keys), now, { migrate: true, progress });
      const draft = readDraft(draftPath);
      const { prepared, pendingDir } = loadPending(kd, draft);
      const r = finalizeRotation(kd, prepared, { now, progress, pendingDir });
      console.log(JSON.stringify({ rotated: true, ...r, root: join(kd.dir, 'root.json') }));
    });

  keys.command('export-trust')
    .description('Write the trust bundle for devices: every signed root version, oldest first, so a device at any version can reach the newest (offline)')
    .requiredOption('--keys <dir>', 'the keys folder')
    .requiredOption('--out <file>', 'the trust bundle (JSON array); put it as root.json in an offline bundle for `loa agent import`')
    .addHelpText('after', OFFLINE)
    .action((o: { keys: string; out: string }) => {
      const kd = openKeysDir(resolve(o.keys), Date.now());
      writeFileAtomic(resolve(o.out), JSON.stringify(kd.chain, null, 2) + '\n', { overwrite: true });
      progress(`wrote ${o.out}: root versions ${kd.roots[0]!.version}…${kd.latest.version}`);
      console.log(JSON.stringify({ out: resolve(o.out), versions: kd.roots.map((r) => r.version), latest: kd.latest.version }));
    });

  keys.command('verify')
    .description('Check the chain of root versions of a keys folder and print versions, thresholds, expiry and key ids (offline)')
    .requiredOption('--keys <dir>', 'the keys folder')
    .addHelpText('after', `
Also checks that schedule.key and emergency.key (when present) are the live keys of the newest root.${OFFLINE}`)
    .action(async (o: { keys: string }) => {
      const kd = openKeysDir(resolve(o.keys), Date.now());
      for (const v of describeChain(kd)) {
        const r = v as { version: number; expires: string; root: { threshold: number; keyids: string[] }; schedule: { keyids: string[] }; emergency: { keyids: string[] }; revokedKeys: string[] };
        progress(`v${r.version}: root ${r.root.threshold}-of-${r.root.keyids.length}, schedule ${r.schedule.keyids.map((id) => id.slice(0, 12)).join(',')}, emergency ${r.emergency.keyids.map((id) => id.slice(0, 12)).join(',')}, ${r.revokedKeys.length} revoked, expires ${r.expires}`);
      }
      const files: Record<string, string> = {};
      for (const role of ['schedule', 'emergency'] as const) {
        const p = join(kd.dir, `${role}.key`);
        if (!existsSync(p)) continue;
        const key = await readKeyFile(p);
        requireRole(key, kd.latest, role);
        files[`${role}.key`] = key.keyid;
      }
      const pending = existsSync(join(kd.dir, 'pending'));
      progress(`chain ok: v${kd.roots[0]!.version}…v${kd.latest.version}${pending ? ' (a rotation is pending)' : ''}`);
      console.log(JSON.stringify({ ok: true, latest: kd.latest.version, expires: kd.latest.expires, versions: describeChain(kd), keyFiles: files, pending }));
    });
}
