import { Type } from '@sinclair/typebox';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checker } from '../../shared/validate.js';
import type { Db } from './db.js';
import { writeFileDurably } from './durable-file.js';

/**
 * What the agent keeps OUTSIDE its SQLite file so that a corrupt database can be rebuilt (issue 10): the signed
 * manifest in force, the trust chain, and the outbox seq reservation. Each is replaced atomically
 * (durable-file.ts) and checked against its schema when read back; the manifest and roots are re-verified
 * against their signatures before use (store/recover.ts).
 */
export const MANIFEST_FILE = 'manifest.json';
export const TRUST_FILE = 'trust.json';
export const SEQ_FILE = 'outbox-seq.json';

const ManifestSnapshot = Type.Object({
  acceptedAt: Type.Integer({ minimum: 0 }),
  envelope: Type.Record(Type.String(), Type.Unknown()),
}, { additionalProperties: false, title: 'agent manifest snapshot' });
const TrustSnapshot = Type.Object({
  roots: Type.Array(Type.Object({ installedAt: Type.Integer({ minimum: 0 }), envelope: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false }), { maxItems: 1000 }),
}, { additionalProperties: false, title: 'agent trust snapshot' });
const SeqReservation = Type.Object({ reserved: Type.Integer({ minimum: 0 }) }, { additionalProperties: false, title: 'agent outbox seq reservation' });

const manifestChecker = checker(ManifestSnapshot, 'LOA_ERR_STORE_SNAPSHOT');
const trustChecker = checker(TrustSnapshot, 'LOA_ERR_STORE_SNAPSHOT');
const seqChecker = checker(SeqReservation, 'LOA_ERR_STORE_SNAPSHOT');

/** The data dir of a file-backed database (null for an in-memory one: nothing is kept outside it). */
export function dataDirOf(db: Db): string | null {
  return db.memory || !db.name || db.name === ':memory:' ? null : dirname(db.name);
}

function readJson(path: string): unknown {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

export function readManifestSnapshot(dataDir: string): { acceptedAt: number; envelope: Record<string, unknown> } | null {
  const v = readJson(join(dataDir, MANIFEST_FILE));
  return v === undefined ? null : manifestChecker.parse(v, MANIFEST_FILE);
}

export function writeManifestSnapshot(dataDir: string, envelope: unknown, acceptedAt: number): void {
  writeFileDurably(join(dataDir, MANIFEST_FILE), JSON.stringify({ acceptedAt, envelope }));
}

export function readTrustSnapshot(dataDir: string): { installedAt: number; envelope: Record<string, unknown> }[] {
  const v = readJson(join(dataDir, TRUST_FILE));
  return v === undefined ? [] : [...trustChecker.parse(v, TRUST_FILE).roots];
}

/** Appends a root envelope (oldest first) to the trust chain file. */
export function appendTrustSnapshot(dataDir: string, envelope: unknown, installedAt: number): void {
  const roots = readTrustSnapshot(dataDir);
  roots.push({ installedAt, envelope: envelope as Record<string, unknown> });
  writeFileDurably(join(dataDir, TRUST_FILE), JSON.stringify({ roots }));
}

/** Replaces the whole trust chain file (manager.snapshot). */
export function writeTrustSnapshot(dataDir: string, trust: { roots: { installedAt: number; envelope: Record<string, unknown> }[] }): void {
  writeFileDurably(join(dataDir, TRUST_FILE), JSON.stringify(trust));
}

/** The highest outbox seq this data dir may have handed out (0 when unknown). */
export function readSeqReservation(dataDir: string): number {
  const v = readJson(join(dataDir, SEQ_FILE));
  return v === undefined ? 0 : seqChecker.parse(v, SEQ_FILE).reserved;
}

export function writeSeqReservation(dataDir: string, reserved: number): void {
  writeFileDurably(join(dataDir, SEQ_FILE), JSON.stringify({ reserved }));
}
