import { existsSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { loadRootChain } from '../../controller/keys.js';
import { canonicalize, generateKeyPair, publicKeyFromPrivatePem, sha256Hex, signBytes, type KeyPair } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { KeyId, Sha256, Signature } from '../../shared/schemas/common.js';
import { RootMetadata, SignedRoot } from '../../shared/schemas/root.js';
import { ROOT_MAX_BYTES, tallySignatures, verifyRootUpdate } from '../../shared/trust.js';
import { checker, parseJsonText } from '../../shared/validate.js';
import { encodeKeyPem, ensurePrivateDir, readKeyFile, requireRole, writeFileAtomic, writeKeyFile, type LoadedKey, type PassphraseSource } from './keyfile.js';

/**
 * The offline key ceremony on a keys folder (`loa keys`). Layout of a keys folder:
 *
 *   root.json                 the newest signed root (what the controller and devices trust)
 *   roots/<version>.root.json every version, so that a device at any version can walk the chain
 *   root-<i>.key              the root keys (move them offline, one holder each)
 *   schedule.key, emergency.key  the online keys (copied to the controller)
 *   retired/                  keys replaced by a rotation (destroy them once every device has the new root)
 *   pending/                  a rotation in progress (draft → sign → finalize): its plan and new keys
 *
 * Every change is made in memory and verified (verifyRootUpdate) before the first file is written; files are
 * written atomically and undone in reverse order when a later step fails.
 */

export type OnlineRole = 'schedule' | 'emergency';
export type Change =
  | { kind: 'online'; role: OnlineRole; revokeOld: boolean }
  | { kind: 'root'; count: number; threshold: number; newOut?: string };

export type Progress = (line: string) => void;
const silent: Progress = () => undefined;
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const short = (id: string): string => `${id.slice(0, 12)}…`;

/** A rotation being signed by root key holders: the previous root, the next one, and its signatures so far. */
export const RootDraft = Type.Object(
  {
    _type: Type.Literal('root-draft'),
    previous: SignedRoot,
    signed: RootMetadata,
    signatures: Type.Array(Signature, { maxItems: 48 }),
  },
  { additionalProperties: false, title: 'root draft' },
);
export type RootDraft = Static<typeof RootDraft>;
const draftChecker = checker(RootDraft, 'LOA_ERR_ROOT_DRAFT');

/** What `draft` planned, kept in the (local, trusted) pending folder; the draft travels, the plan does not. */
const Plan = Type.Object(
  {
    _type: Type.Literal('root-plan'),
    version: Type.Integer({ minimum: 2 }),
    signedSha256: Sha256,
    kind: Type.Union([Type.Literal('online'), Type.Literal('root')]),
    role: Type.Optional(Type.Union([Type.Literal('schedule'), Type.Literal('emergency')])),
    newOut: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    newKeys: Type.Array(Type.Object({ name: Type.String({ pattern: '^(schedule|emergency|root-[0-9]{1,2})\\.key$' }), keyid: KeyId }, { additionalProperties: false }), { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false, title: 'rotation plan' },
);
type Plan = Static<typeof Plan>;
const planChecker = checker(Plan, 'LOA_ERR_ROOT_DRAFT');

export interface KeysDir {
  dir: string;
  chain: unknown[];
  roots: RootMetadata[];
  latest: RootMetadata;
  latestEnv: unknown;
}

/**
 * Reads and verifies a keys folder's chain. With `migrate`, versions that exist only as root.json (a folder
 * made before roots/ existed) are copied into roots/ first.
 */
export function openKeysDir(dir: string, now: number, o: { migrate?: boolean; progress?: Progress } = {}): KeysDir {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LoaError('LOA_ERR_KEYS_DIR', `${dir} is not a keys folder (run \`loa keys init --out ${dir}\`)`);
  const { chain, roots, missingInRootsDir } = (() => {
    try {
      return loadRootChain(dir, now);
    } catch (e) {
      if (e instanceof LoaError && e.code === 'LOA_ERR_KEYS_MISSING') throw new LoaError('LOA_ERR_KEYS_DIR', `${dir} holds no root.json (run \`loa keys init --out ${dir}\`)`);
      throw e;
    }
  })();
  if (o.migrate && missingInRootsDir.length) {
    ensurePrivateDir(join(dir, 'roots'));
    for (const v of missingInRootsDir) {
      const i = roots.findIndex((r) => r.version === v);
      writeFileAtomic(join(dir, 'roots', `${v}.root.json`), JSON.stringify(chain[i], null, 2) + '\n');
      o.progress?.(`kept root v${v} as roots/${v}.root.json`);
    }
  }
  return { dir, chain, roots, latest: roots[roots.length - 1]!, latestEnv: chain[chain.length - 1] };
}

/** The files written by init (for the caller's summary). */
export interface InitResult {
  dir: string;
  rootKeys: string[];
  schedule: string;
  emergency: string;
  /** The release signing key (issue 11): it belongs with the build machine, not the controller. */
  release: string;
  root: RootMetadata;
  encrypted: boolean;
}

/** Undo log: steps done so far are undone in reverse order when a later one fails. */
class Steps {
  private readonly undo: (() => void)[] = [];
  run(step: () => void, undo: () => void): void {
    step();
    this.undo.push(undo);
  }
  rollback(): void {
    for (const u of this.undo.reverse()) {
      try {
        u();
      } catch {
        // best effort: report the original failure
      }
    }
  }
}

/** Makes k-of-n root keys, the online schedule/emergency keys, the release key, and root v1 signed by the threshold. */
export function initKeysDir(dir: string, n: number, k: number, years: number, o: { now: number; passphrase?: string; progress?: Progress }): InitResult {
  checkThreshold(n, k);
  if (!(Number.isFinite(years) && years > 0 && years <= 50)) throw new LoaError('LOA_ERR_SCHEMA', `--years ${years} must be more than 0 and at most 50`);
  const progress = o.progress ?? silent;
  for (const f of ['root.json', 'roots', 'schedule.key', 'emergency.key', 'release.key', ...Array.from({ length: n }, (_, i) => `root-${i + 1}.key`)]) {
    if (existsSync(join(dir, f))) throw new LoaError('LOA_ERR_KEY_EXISTS', `${join(dir, f)} already exists; refusing to overwrite keys`);
  }
  const roots = Array.from({ length: n }, () => generateKeyPair());
  const schedule = generateKeyPair();
  const emergency = generateKeyPair();
  const release = generateKeyPair();
  const keys: RootMetadata['keys'] = {};
  for (const kp of [...roots, schedule, emergency, release]) keys[kp.keyid] = { keytype: 'ed25519', public: kp.publicKey };
  const expires = iso(o.now + years * 365 * 86_400_000);
  const root: RootMetadata = {
    _type: 'root', version: 1, expires, keys,
    roles: {
      root: { keyids: roots.map((r) => r.keyid), threshold: k },
      schedule: { keyids: [schedule.keyid], threshold: 1 },
      emergency: { keyids: [emergency.keyid], threshold: 1 },
      release: { keyids: [release.keyid], threshold: 1 },
    },
    revokedKeys: [], revokedDevices: [],
  };
  const env = signWith(root, roots.slice(0, k));
  // Encrypting is slow-ish (PBKDF2) and can fail on the passphrase: do it before anything is written.
  const rootTexts = roots.map((r) => encodeKeyPem(r.privateKeyPem, o.passphrase));
  const steps = new Steps();
  const rootJson = JSON.stringify(env, null, 2) + '\n';
  const written: string[] = [];
  const write = (path: string, fn: () => void): void => steps.run(() => { fn(); written.push(path); progress(`wrote ${path}`); }, () => unlinkSync(path));
  try {
    ensurePrivateDir(dir);
    rootTexts.forEach((text, i) => { const p = join(dir, `root-${i + 1}.key`); write(p, () => writeFileAtomic(p, text, { mode: 0o600 })); });
    const sp = join(dir, 'schedule.key');
    write(sp, () => writeKeyFile(sp, schedule.privateKeyPem));
    const ep = join(dir, 'emergency.key');
    write(ep, () => writeKeyFile(ep, emergency.privateKeyPem));
    const lp = join(dir, 'release.key');
    write(lp, () => writeKeyFile(lp, release.privateKeyPem));
    steps.run(() => ensurePrivateDir(join(dir, 'roots')), () => rmSync(join(dir, 'roots'), { recursive: true, force: true }));
    const vp = join(dir, 'roots', '1.root.json');
    write(vp, () => writeFileAtomic(vp, rootJson));
    const rp = join(dir, 'root.json');
    steps.run(() => writeFileAtomic(rp, rootJson), () => unlinkSync(rp));
    progress(`wrote ${rp} (version 1, ${k}-of-${n} root, expires ${expires}${o.passphrase !== undefined ? ', root keys encrypted' : ''})`);
  } catch (e) {
    steps.rollback();
    throw e;
  }
  return { dir, rootKeys: written.filter((p) => /root-\d+\.key$/.test(p)), schedule: join(dir, 'schedule.key'), emergency: join(dir, 'emergency.key'), release: join(dir, 'release.key'), root, encrypted: o.passphrase !== undefined };
}

function checkThreshold(n: number, k: number): void {
  if (!(Number.isInteger(n) && Number.isInteger(k) && k >= 1 && k <= n && n <= 16)) {
    throw new LoaError('LOA_ERR_SCHEMA', `a threshold of ${k} of ${n} root keys is not possible (1 ≤ k ≤ n ≤ 16)`);
  }
}

function signWith(signed: RootMetadata, keys: readonly Pick<KeyPair, 'keyid' | 'privateKeyPem'>[]): SignedRoot {
  const bytes = Buffer.from(canonicalize(signed), 'utf8');
  return { signed, signatures: keys.map((kp) => ({ keyid: kp.keyid, sig: signBytes(kp.privateKeyPem, bytes) })) };
}

/**
 * Loads the current root keys that are at hand: the given files, or the root-*.key files of the keys folder.
 * Each must be a root key of the newest root (LOA_ERR_KEY_ROLE otherwise). Stops once the threshold is
 * reached, so no holder is asked for a passphrase that is not needed.
 */
export async function loadRootKeys(kd: KeysDir, files: readonly string[] | undefined, passphrases: PassphraseSource, progress: Progress = silent): Promise<LoadedKey[]> {
  const paths = files?.length ? files.map((f) => resolve(f)) : listRootKeyFiles(kd.dir);
  const out: LoadedKey[] = [];
  for (const p of paths) {
    if (out.length >= kd.latest.roles.root.threshold) break;
    const key = await readKeyFile(p, passphrases);
    requireRole(key, kd.latest, 'root');
    if (out.some((k) => k.keyid === key.keyid)) continue;
    out.push(key);
    progress(`root key ${basename(p)} (${short(key.keyid)}) loaded`);
  }
  return out;
}

function listRootKeyFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^root-\d+\.key$/.test(f)).sort((a, b) => Number(a.slice(5, -4)) - Number(b.slice(5, -4))).map((f) => join(dir, f));
}

/** A prepared rotation: the draft (to be signed by old root keys), its local plan, and the new keys' files. */
export interface Prepared {
  draft: RootDraft;
  plan: Plan;
  /** File name → file text (encrypted when asked). */
  newKeys: Map<string, string>;
}

/** Builds root v+1 for a change, with fresh keys; a root rotation is signed here by the new root keys. */
export function prepareRotation(kd: KeysDir, change: Change, o: { now: number; years?: number; passphrase?: string }): Prepared {
  const prev = kd.latest;
  const next = structuredClone<RootMetadata>(prev);
  next.version = prev.version + 1;
  if (o.years !== undefined) {
    if (!(Number.isFinite(o.years) && o.years > 0 && o.years <= 50)) throw new LoaError('LOA_ERR_SCHEMA', `--years ${o.years} must be more than 0 and at most 50`);
    next.expires = iso(o.now + o.years * 365 * 86_400_000);
  }
  const newKeys = new Map<string, string>();
  const planKeys: Plan['newKeys'] = [];
  let newRootKeys: KeyPair[] = [];
  if (change.kind === 'online') {
    const kp = generateKeyPair();
    const role = next.roles[change.role];
    const oldIds = currentOnlineKeyIds(kd, change.role);
    role.keyids = [...role.keyids.filter((id) => !oldIds.includes(id)), kp.keyid];
    role.threshold = Math.min(role.threshold, role.keyids.length);
    next.keys[kp.keyid] = { keytype: 'ed25519', public: kp.publicKey };
    if (change.revokeOld) next.revokedKeys = [...new Set([...next.revokedKeys, ...oldIds])];
    newKeys.set(`${change.role}.key`, kp.privateKeyPem);
    planKeys.push({ name: `${change.role}.key`, keyid: kp.keyid });
  } else {
    checkThreshold(change.count, change.threshold);
    if (prev.roles.root.threshold + change.threshold > 16) {
      throw new LoaError('LOA_ERR_SCHEMA', `the old (${prev.roles.root.threshold}) and new (${change.threshold}) root thresholds together need more than 16 signatures`);
    }
    newRootKeys = Array.from({ length: change.count }, () => generateKeyPair());
    next.roles.root = { keyids: newRootKeys.map((k) => k.keyid), threshold: change.threshold };
    for (const k of newRootKeys) next.keys[k.keyid] = { keytype: 'ed25519', public: k.publicKey };
    newRootKeys.forEach((k, i) => {
      newKeys.set(`root-${i + 1}.key`, encodeKeyPem(k.privateKeyPem, o.passphrase));
      planKeys.push({ name: `root-${i + 1}.key`, keyid: k.keyid });
    });
  }
  // Keys no role lists any more leave the key table (revoked ids stay in revokedKeys).
  const used = new Set(Object.values(next.roles).flatMap((r) => r?.keyids ?? []));
  for (const id of Object.keys(next.keys)) if (!used.has(id)) delete next.keys[id];
  const signed = signWith(next, newRootKeys.slice(0, change.kind === 'root' ? change.threshold : 0));
  const draft: RootDraft = { _type: 'root-draft', previous: kd.latestEnv as SignedRoot, signed: next, signatures: signed.signatures };
  draftChecker.parse(draft);
  const plan: Plan = {
    _type: 'root-plan', version: next.version, signedSha256: sha256Hex(canonicalize(next)), kind: change.kind,
    ...(change.kind === 'online' ? { role: change.role } : {}), ...(change.kind === 'root' && change.newOut ? { newOut: resolve(change.newOut) } : {}),
    newKeys: planKeys,
  };
  return { draft, plan, newKeys };
}

/** The key ids being replaced: the one in <role>.key when it is there, else every key of the role. */
function currentOnlineKeyIds(kd: KeysDir, role: OnlineRole): string[] {
  const ids = kd.latest.roles[role].keyids;
  const p = join(kd.dir, `${role}.key`);
  if (!existsSync(p)) return [...ids];
  try {
    const pem = readFileSync(p, 'utf8');
    const { keyid } = publicKeyFromPrivatePem(pem);
    return ids.includes(keyid) ? [keyid] : [...ids];
  } catch {
    return [...ids];
  }
}

/** Adds one root key's signature to a draft. The key must be a root key of the previous or the next root. */
export function signDraft(draft: RootDraft, key: LoadedKey): RootDraft {
  const inPrev = draft.previous.signed.roles.root.keyids.includes(key.keyid) && !draft.previous.signed.revokedKeys.includes(key.keyid);
  const inNext = draft.signed.roles.root.keyids.includes(key.keyid);
  if (!inPrev && !inNext) requireRole(key, draft.previous.signed, 'root');
  const sig = signBytes(key.pem, Buffer.from(canonicalize(draft.signed), 'utf8'));
  return { ...draft, signatures: [...draft.signatures.filter((s) => s.keyid !== key.keyid), { keyid: key.keyid, sig }] };
}

export interface DraftStatus {
  version: number;
  old: { valid: number; threshold: number };
  new: { valid: number; threshold: number };
  ready: boolean;
}

export function draftStatus(d: RootDraft): DraftStatus {
  const o = tallySignatures(d.signed, d.signatures, d.previous.signed, 'root');
  const n = tallySignatures(d.signed, d.signatures, d.signed, 'root');
  return {
    version: d.signed.version, old: { valid: o.valid.length, threshold: o.threshold }, new: { valid: n.valid.length, threshold: n.threshold },
    ready: o.valid.length >= o.threshold && n.valid.length >= n.threshold,
  };
}

/** The signatures a finished root carries: enough valid old-root and new-root ones, and no more (≤ 16). */
function finalSignatures(d: RootDraft): SignedRoot['signatures'] {
  const o = tallySignatures(d.signed, d.signatures, d.previous.signed, 'root');
  const n = tallySignatures(d.signed, d.signatures, d.signed, 'root');
  const keep = new Set(o.valid.slice(0, o.threshold));
  for (const id of n.valid) {
    if ([...keep].filter((k) => n.valid.includes(k)).length >= n.threshold) break;
    keep.add(id);
  }
  const seen = new Set<string>();
  return d.signatures.filter((s) => keep.has(s.keyid) && !seen.has(s.keyid) && seen.add(s.keyid));
}

export function readDraft(path: string): RootDraft {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new LoaError('LOA_ERR_ROOT_DRAFT', `draft ${path} cannot be read`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = parseJsonText(text, 2 * ROOT_MAX_BYTES, `draft ${path}`, 'LOA_ERR_ROOT_DRAFT');
  } catch (e) {
    throw new LoaError('LOA_ERR_ROOT_DRAFT', (e as Error).message, { cause: e });
  }
  return draftChecker.parse(raw, `draft ${path}`);
}

export function writeDraft(path: string, d: RootDraft): void {
  writeFileAtomic(path, JSON.stringify(d, null, 2) + '\n', { overwrite: true });
}

export interface FinalizeResult {
  version: number;
  previous: number;
  kind: 'online' | 'root';
  role?: OnlineRole;
  newKeys: { path: string; keyid: string }[];
  retired: string[];
  revokedKeys: string[];
}

/**
 * Finishes a rotation: the next root must chain from the keys folder's newest (verifyRootUpdate, with the
 * current time) before anything is written. Then, undone in reverse on failure: roots/<v>.root.json, the
 * replaced keys moved to retired/, the new keys in place (never overwriting), and root.json last.
 */
export function finalizeRotation(kd: KeysDir, p: Prepared, o: { now: number; progress?: Progress; pendingDir?: string }): FinalizeResult {
  const progress = o.progress ?? silent;
  const d = p.draft;
  if (canonicalize((d.previous as { signed: unknown }).signed) !== canonicalize(kd.latest)) {
    throw new LoaError('LOA_ERR_ROOT_DRAFT', `the draft was made from root v${d.previous.signed.version}, but ${kd.dir} is at v${kd.latest.version}`);
  }
  if (sha256Hex(canonicalize(d.signed)) !== p.plan.signedSha256 || d.signed.version !== p.plan.version) {
    throw new LoaError('LOA_ERR_ROOT_DRAFT', `the draft's root v${d.signed.version} is not the one planned in ${kd.dir}/pending (v${p.plan.version}): it was changed after \`loa keys draft\``);
  }
  const env: SignedRoot = { signed: d.signed, signatures: finalSignatures(d) };
  if (env.signatures.length === 0) {
    const s = draftStatus(d);
    throw new LoaError('LOA_ERR_ROOT_THRESHOLD', `root v${d.signed.version} has 0 of the ${s.old.threshold} signatures needed from the old root keys`);
  }
  verifyRootUpdate(kd.latest, env, o.now);
  const next = d.signed;
  const prevV = kd.latest.version;
  const dir = kd.dir;
  const text = JSON.stringify(env, null, 2) + '\n';
  const steps = new Steps();
  const retired: string[] = [];
  const placed: { path: string; keyid: string }[] = [];
  // Folders made here are removed again on rollback (when still empty).
  const mkdir = (path: string): void => {
    if (!existsSync(path)) steps.run(() => ensurePrivateDir(path), () => rmdirSync(path));
  };
  const move = (from: string, to: string): void => steps.run(() => { if (existsSync(to)) throw new LoaError('LOA_ERR_KEY_EXISTS', `${to} already exists`); renameSync(from, to); }, () => renameSync(to, from));
  try {
    mkdir(join(dir, 'roots'));
    const vp = join(dir, 'roots', `${next.version}.root.json`);
    steps.run(() => writeFileAtomic(vp, text), () => unlinkSync(vp));
    const replaced = p.plan.kind === 'online' ? [`${p.plan.role!}.key`] : listRootKeyFiles(dir).map((f) => basename(f));
    for (const name of replaced) {
      const from = join(dir, name);
      if (!existsSync(from)) continue;
      const to = join(dir, 'retired', `v${prevV}-${name}`);
      mkdir(join(dir, 'retired'));
      move(from, to);
      retired.push(to);
    }
    const outDir = p.plan.kind === 'root' && p.plan.newOut ? p.plan.newOut : dir;
    for (const k of p.plan.newKeys) {
      const dest = join(outDir, k.name);
      const textOf = p.newKeys.get(k.name);
      if (textOf === undefined) throw new LoaError('LOA_ERR_ROOT_DRAFT', `the new key ${k.name} is missing from the pending rotation`);
      mkdir(outDir);
      steps.run(() => writeFileAtomic(dest, textOf, { mode: 0o600 }), () => unlinkSync(dest));
      placed.push({ path: dest, keyid: k.keyid });
    }
    const rp = join(dir, 'root.json');
    const before = existsSync(rp) ? readFileSync(rp) : null;
    steps.run(() => writeFileAtomic(rp, text, { overwrite: true }), () => (before ? writeFileAtomic(rp, before, { overwrite: true }) : unlinkSync(rp)));
  } catch (e) {
    steps.rollback();
    throw e;
  }
  if (o.pendingDir) rmSync(o.pendingDir, { recursive: true, force: true });
  for (const r of retired) progress(`moved the replaced key to ${r} (destroy it once every device has root v${next.version})`);
  for (const k of placed) progress(`wrote ${k.path} (${short(k.keyid)})`);
  progress(`wrote ${join(dir, 'root.json')} and roots/${next.version}.root.json (version ${next.version}, root ${next.roles.root.threshold}-of-${next.roles.root.keyids.length}, expires ${next.expires})`);
  const revoked = next.revokedKeys.filter((id) => !kd.latest.revokedKeys.includes(id));
  return { version: next.version, previous: prevV, kind: p.plan.kind, ...(p.plan.role ? { role: p.plan.role } : {}), newKeys: placed, retired, revokedKeys: revoked };
}

/** `loa keys draft`: writes the plan and the new keys to <dir>/pending/ (0700) and the draft to `out`. */
export function saveDraft(kd: KeysDir, p: Prepared, out: string, progress: Progress = silent): void {
  const pending = join(kd.dir, 'pending');
  if (existsSync(pending)) throw new LoaError('LOA_ERR_KEY_EXISTS', `${pending} exists: a rotation is in progress (finish it with \`loa keys finalize\`, or delete ${pending} to abandon it)`);
  if (existsSync(out)) throw new LoaError('LOA_ERR_KEY_EXISTS', `${out} already exists; refusing to overwrite it`);
  try {
    ensurePrivateDir(pending);
    for (const [name, text] of p.newKeys) writeFileAtomic(join(pending, name), text, { mode: 0o600 });
    writeFileAtomic(join(pending, 'plan.json'), JSON.stringify(p.plan, null, 2) + '\n', { mode: 0o600 });
    writeFileAtomic(out, JSON.stringify(p.draft, null, 2) + '\n');
  } catch (e) {
    rmSync(pending, { recursive: true, force: true });
    throw e;
  }
  progress(`wrote ${out} (root v${p.draft.signed.version}, unsigned by the old root keys) and ${pending}/`);
}

/** `loa keys finalize`: the plan and new keys from <dir>/pending/, the signatures from the draft. */
export function loadPending(kd: KeysDir, draft: RootDraft): { prepared: Prepared; pendingDir: string } {
  const pending = join(kd.dir, 'pending');
  const planPath = join(pending, 'plan.json');
  if (!existsSync(planPath)) throw new LoaError('LOA_ERR_ROOT_DRAFT', `${kd.dir} has no rotation in progress (no pending/plan.json): run \`loa keys draft\` first`);
  const plan = planChecker.parse(parseJsonText(readFileSync(planPath), 1024 * 1024, planPath, 'LOA_ERR_ROOT_DRAFT'), planPath);
  const newKeys = new Map<string, string>();
  for (const k of plan.newKeys) {
    const p = join(pending, k.name);
    if (!existsSync(p)) throw new LoaError('LOA_ERR_KEYS_DIR', `${p} is missing: the pending rotation is incomplete`);
    newKeys.set(k.name, readFileSync(p, 'utf8'));
  }
  return { prepared: { draft, plan, newKeys }, pendingDir: pending };
}

/** A summary of each root version for `loa keys verify`. */
export function describeChain(kd: KeysDir): Record<string, unknown>[] {
  return kd.roots.map((r, i) => ({
    version: r.version, expires: r.expires,
    signatures: ((kd.chain[i] as { signatures?: unknown[] }).signatures ?? []).length,
    root: { threshold: r.roles.root.threshold, keyids: r.roles.root.keyids },
    schedule: { threshold: r.roles.schedule.threshold, keyids: r.roles.schedule.keyids },
    emergency: { threshold: r.roles.emergency.threshold, keyids: r.roles.emergency.keyids, ...(r.roles.emergency.zones ? { zones: r.roles.emergency.zones } : {}) },
    revokedKeys: r.revokedKeys, revokedDevices: r.revokedDevices.length,
  }));
}
