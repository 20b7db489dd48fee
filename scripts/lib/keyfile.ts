import { randomBytes, createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { publicKeyFromPrivatePem } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import type { RoleName, RootMetadata } from '../../shared/schemas/root.js';

/**
 * Private key files for the offline key ceremony (`loa keys`): PKCS#8 PEM, encrypted with AES-256-CBC under a
 * passphrase when one is given (the key is derived with PBKDF2 by OpenSSL). Key files are mode 0600 in
 * folders made 0700, written atomically (temporary file, then a hard link, so an existing file is never
 * replaced), and never overwritten. Passphrases and key bytes never reach a log or an error message.
 */

export const PASSPHRASE_ENV = 'LOA_KEY_PASSPHRASE';
export const MIN_PASSPHRASE = 10;
const MAX_KEY_FILE = 64 * 1024;
const CIPHER = 'aes-256-cbc';

/** Makes `dir` (and parents) when missing; folders made here are mode 0700. */
export function ensurePrivateDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new LoaError('LOA_ERR_KEYS_DIR', `${dir} is not a folder`);
    return;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Writes `data` to `path` atomically: a temporary file in the same folder (flushed), then a rename (when
 * `overwrite`) or a hard link (which fails when `path` exists: LOA_ERR_KEY_EXISTS). Nothing is left behind on
 * failure.
 */
export function writeFileAtomic(path: string, data: string | Buffer, o: { mode?: number; overwrite?: boolean } = {}): void {
  const mode = o.mode ?? 0o644;
  if (!o.overwrite && existsSync(path)) throw new LoaError('LOA_ERR_KEY_EXISTS', `${path} already exists; refusing to overwrite it`);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', mode);
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    chmodSync(tmp, mode);
    if (o.overwrite) {
      renameSync(tmp, path);
    } else {
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LoaError('LOA_ERR_KEY_EXISTS', `${path} already exists; refusing to overwrite it`);
        throw e;
      }
      unlinkSync(tmp);
    }
  } finally {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
  }
}

/** The text of a key file: plain PKCS#8 PEM, or encrypted PKCS#8 PEM under `passphrase`. */
export function encodeKeyPem(privateKeyPem: string, passphrase?: string): string {
  if (passphrase === undefined) return privateKeyPem;
  if (passphrase.length < MIN_PASSPHRASE) throw new LoaError('LOA_ERR_KEY_PASSPHRASE', `a key passphrase needs at least ${MIN_PASSPHRASE} characters`);
  return createPrivateKey(privateKeyPem).export({ type: 'pkcs8', format: 'pem', cipher: CIPHER, passphrase }).toString();
}

/** Writes a private key file (mode 0600, never overwritten), encrypted when a passphrase is given. */
export function writeKeyFile(path: string, privateKeyPem: string, o: { passphrase?: string } = {}): void {
  ensurePrivateDir(dirname(path));
  writeFileAtomic(path, encodeKeyPem(privateKeyPem, o.passphrase), { mode: 0o600 });
}

export interface LoadedKey {
  path: string;
  /** Unencrypted PKCS#8 PEM, in memory only. Never logged. */
  pem: string;
  keyid: string;
  publicKey: string;
  encrypted: boolean;
}

/** Where passphrases come from: --passphrase-file, $LOA_KEY_PASSPHRASE, or a hidden prompt on a terminal. */
export interface PassphraseSource {
  /** The passphrase of an existing encrypted key. */
  get(what: string): Promise<string>;
  /** A passphrase for new keys (asked twice on a terminal; at least MIN_PASSPHRASE characters). */
  getNew(what: string): Promise<string>;
}

export function passphraseSource(o: { file?: string; env?: NodeJS.ProcessEnv; tty?: boolean; prompt?: (question: string) => Promise<string> } = {}): PassphraseSource {
  const env = o.env ?? process.env;
  const tty = o.tty ?? (process.stdin.isTTY === true && process.stderr.isTTY === true);
  const prompt = o.prompt ?? hiddenPrompt;
  const fixed = (): string | null => {
    if (o.file) return readPassphraseFile(o.file);
    const v = env[PASSPHRASE_ENV];
    return v !== undefined && v !== '' ? v : null;
  };
  const none = (what: string): LoaError =>
    new LoaError('LOA_ERR_KEY_PASSPHRASE', `${what} needs a passphrase: give --passphrase-file FILE or set ${PASSPHRASE_ENV} (or run on a terminal to be asked)`);
  return {
    async get(what) {
      const f = fixed();
      if (f !== null) return f;
      if (!tty) throw none(what);
      return prompt(`Passphrase for ${what}: `);
    },
    async getNew(what) {
      let p = fixed();
      if (p === null) {
        if (!tty) throw none(what);
        p = await prompt(`New passphrase for ${what} (at least ${MIN_PASSPHRASE} characters): `);
        if (p !== await prompt('Repeat the passphrase: ')) throw new LoaError('LOA_ERR_KEY_PASSPHRASE', 'the two passphrases differ');
      }
      if (p.length < MIN_PASSPHRASE) throw new LoaError('LOA_ERR_KEY_PASSPHRASE', `a key passphrase needs at least ${MIN_PASSPHRASE} characters`);
      return p;
    },
  };
}

/** The first line of a passphrase file (a trailing newline is not part of the passphrase). */
export function readPassphraseFile(file: string): string {
  let text: string;
  try {
    if (statSync(file).size > MAX_KEY_FILE) throw new Error('too large');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LoaError('LOA_ERR_KEY_PASSPHRASE', `the passphrase file ${file} cannot be read`, { cause: e });
  }
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line === '') throw new LoaError('LOA_ERR_KEY_PASSPHRASE', `the passphrase file ${file} is empty`);
  return line;
}

/** Asks on the terminal without echoing what is typed. */
export function hiddenPrompt(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err: Error | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null);
        if (ch === '\u0003') return done(new LoaError('LOA_ERR_KEY_PASSPHRASE', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    // Raw (no echo) before the question shows, so nothing typed after seeing it is ever echoed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** True when `b64` is strict base64 and its DER starts with a SEQUENCE whose length matches the whole. */
function wellFormedDer(pem: string): boolean {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return false;
  const der = Buffer.from(body, 'base64');
  if (der.length < 2 || der[0] !== 0x30) return false;
  let len = der[1]!;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3 || der.length < 2 + n) return false;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
    off = 2 + n;
  }
  return off + len === der.length;
}

/**
 * Reads a private key file. Errors: LOA_ERR_KEY_FILE (missing, unreadable, damaged, not an Ed25519 private
 * key), LOA_ERR_KEY_PASSPHRASE (encrypted and the passphrase is missing or wrong).
 */
export async function readKeyFile(path: string, passphrases?: PassphraseSource): Promise<LoadedKey> {
  let text: string;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_KEY_FILE) throw new Error(`${st.size} bytes is too large for a key`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LoaError('LOA_ERR_KEY_FILE', `key file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const encrypted = text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
  if (!encrypted && !text.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new LoaError('LOA_ERR_KEY_FILE', `${path} is not a PKCS#8 private key (PEM)`);
  }
  if (!wellFormedDer(text)) throw new LoaError('LOA_ERR_KEY_FILE', `key file ${path} is damaged (its PEM/DER structure does not hold)`);
  let key: KeyObject;
  if (encrypted) {
    if (!passphrases) throw new LoaError('LOA_ERR_KEY_PASSPHRASE', `${path} is encrypted and no passphrase was given`);
    const passphrase = await passphrases.get(basename(path));
    try {
      key = createPrivateKey({ key: text, format: 'pem', passphrase });
    } catch (e) {
      // CBC without a MAC: a wrong passphrase fails the padding check, or (1 in 256) the inner DER.
      throw new LoaError('LOA_ERR_KEY_PASSPHRASE', `wrong passphrase for ${path} (or the encrypted key is damaged)`, { cause: e });
    }
  } else {
    try {
      key = createPrivateKey({ key: text, format: 'pem' });
    } catch (e) {
      throw new LoaError('LOA_ERR_KEY_FILE', `key file ${path} is damaged and cannot be parsed`, { cause: e });
    }
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new LoaError('LOA_ERR_KEY_FILE', `${path} holds a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { path, pem, encrypted, ...publicKeyFromPrivatePem(pem) };
}

/** Throws LOA_ERR_KEY_ROLE unless the key is a live (listed, unrevoked) key of `role` in `root`. */
export function requireRole(key: Pick<LoadedKey, 'keyid' | 'path'>, root: RootMetadata, role: RoleName): void {
  const r = root.roles[role];
  if (root.revokedKeys.includes(key.keyid)) {
    throw new LoaError('LOA_ERR_KEY_ROLE', `${key.path} (key ${key.keyid.slice(0, 12)}…) is revoked in root metadata v${root.version}`, { details: { keyid: key.keyid, role } });
  }
  if (!r?.keyids.includes(key.keyid)) {
    const has = (Object.entries(root.roles) as [string, { keyids: string[] } | undefined][]).find(([, v]) => v?.keyids.includes(key.keyid))?.[0];
    throw new LoaError('LOA_ERR_KEY_ROLE', `${key.path} (key ${key.keyid.slice(0, 12)}…) is ${has ? `a ${has} key` : 'not listed'} in root metadata v${root.version}, not a ${role} key`, { details: { keyid: key.keyid, role, ...(has ? { has } : {}) } });
  }
}
