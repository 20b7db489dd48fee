import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { CryptoError } from './errors.js';

const canonicalizeFn = canonicalizeModule as unknown as (v: unknown) => string | undefined;

/** RFC 8785 (JCS) canonical JSON. Sign and verify always operate on this form. */
export function canonicalize(value: unknown): string {
  const out = canonicalizeFn(value);
  if (out === undefined) throw new CryptoError('value cannot be canonicalized');
  return out;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface KeyPair {
  /** PKCS#8 PEM. Never logged. */
  privateKeyPem: string;
  /** Raw 32-byte public key, base64. */
  publicKey: string;
  keyid: string;
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(publicKey);
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: raw.toString('base64'), keyid: sha256Hex(raw) };
}

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
}

export function keyIdOf(publicKeyB64: string): string {
  return sha256Hex(Buffer.from(publicKeyB64, 'base64'));
}

export function publicKeyFromPrivatePem(pem: string): { publicKey: string; keyid: string } {
  try {
    const raw = rawPublicKey(createPublicKey(createPrivateKey(pem)));
    return { publicKey: raw.toString('base64'), keyid: sha256Hex(raw) };
  } catch (e) {
    throw new CryptoError('the private key could not be read', { cause: e });
  }
}

/**
 * Parsed public keys, most recently used last. Parsing is half the cost of a verification, and the same few
 * keys sign everything a device checks (and the controller sees the same device keys on every reconnect).
 */
const KEY_CACHE_MAX = 4096;
const keyCache = new Map<string, KeyObject>();

function publicKeyObject(publicKeyB64: string): KeyObject {
  const hit = keyCache.get(publicKeyB64);
  if (hit) {
    keyCache.delete(publicKeyB64);
    keyCache.set(publicKeyB64, hit);
    return hit;
  }
  const raw = Buffer.from(publicKeyB64, 'base64');
  if (raw.length !== 32) throw new CryptoError('an Ed25519 public key has 32 bytes');
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(publicKeyB64, key);
  return key;
}

export function signBytes(privateKeyPem: string, data: Buffer): string {
  try {
    return nodeSign(null, data, createPrivateKey(privateKeyPem)).toString('base64');
  } catch (e) {
    throw new CryptoError('signing failed', { cause: e });
  }
}

/** True when `sig` is a valid Ed25519 signature of `data` by `publicKeyB64`. Never throws on bad input. */
export function verifyBytes(publicKeyB64: string, data: Buffer, sigB64: string): boolean {
  try {
    const sig = Buffer.from(sigB64, 'base64');
    if (sig.length !== 64) return false;
    return nodeVerify(null, data, publicKeyObject(publicKeyB64), sig);
  } catch {
    return false;
  }
}

export interface Signed<T> {
  signed: T;
  signatures: { keyid: string; sig: string }[];
}

/** Signs the canonical form of `signed` with each key, returning the envelope. */
export function signEnvelope<T>(signed: T, privateKeysPem: string[]): Signed<T> {
  const bytes = Buffer.from(canonicalize(signed), 'utf8');
  return {
    signed,
    signatures: privateKeysPem.map((pem) => ({ keyid: publicKeyFromPrivatePem(pem).keyid, sig: signBytes(pem, bytes) })),
  };
}

/** Adds one more signature to an envelope (for k-of-n ceremonies where keys are held by different people). */
export function addSignature<T>(env: Signed<T>, privateKeyPem: string): Signed<T> {
  const { keyid } = publicKeyFromPrivatePem(privateKeyPem);
  const sig = signBytes(privateKeyPem, Buffer.from(canonicalize(env.signed), 'utf8'));
  return { signed: env.signed, signatures: [...env.signatures.filter((s) => s.keyid !== keyid), { keyid, sig }] };
}

/** A signer that parses its key once: for signing many envelopes in a row (manifest compiles). */
export function makeSigner(privateKeyPem: string): { keyid: string; signEnvelope<T>(signed: T): Signed<T>; signCanonical(signedJson: string): string } {
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (e) {
    throw new CryptoError('the signing key cannot be read', { cause: e });
  }
  const { keyid } = publicKeyFromPrivatePem(privateKeyPem);
  return {
    keyid,
    signEnvelope<T>(signed: T): Signed<T> {
      const sig = nodeSign(null, Buffer.from(canonicalize(signed), 'utf8'), key).toString('base64');
      return { signed, signatures: [{ keyid, sig }] };
    },
    /** Signs an already canonical `signed` JSON text and returns the canonical envelope text. */
    signCanonical(signedJson: string): string {
      const sig = nodeSign(null, Buffer.from(signedJson, 'utf8'), key).toString('base64');
      // "signatures" sorts before "signed" (code points: 'a' < 'e').
      return `{"signatures":[{"keyid":"${keyid}","sig":"${sig}"}],"signed":${signedJson}}`;
    },
  };
}
