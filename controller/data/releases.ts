import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import type { SignedRelease } from '../../shared/schemas/release.js';

/** A stored agent release (issue 11): the artifact is `<dataDir>/releases/<sha256>`, the metadata as signed. */
export interface ReleaseRecord {
  sha256: string;
  version: string;
  arch: string;
  size: number;
  /** The signed createdAt, ms. */
  createdAt: number;
  uploadedAt: number;
  uploadedBy: string;
}

export interface ReleaseWithEnvelope extends ReleaseRecord {
  /** The signed metadata, verbatim as uploaded (what devices verify). */
  envelope: SignedRelease;
}

interface Row { sha256: string; version: string; arch: string; size: number; created_at: number; uploaded_at: number; uploaded_by: string; envelope: string }
const toRelease = (r: Row): ReleaseRecord => ({
  sha256: r.sha256, version: r.version, arch: r.arch, size: r.size, createdAt: r.created_at, uploadedAt: r.uploaded_at, uploadedBy: r.uploaded_by,
});

/** Release rows. Inserted only after the artifact file is in place (the upload route's one transaction). */
export class ReleasesRepo {
  constructor(private readonly db: Db) {}

  get(sha256: string): ReleaseWithEnvelope | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM releases WHERE sha256 = ?').get(sha256);
    return r ? { ...toRelease(r), envelope: JSON.parse(r.envelope) as SignedRelease } : null;
  }

  require(sha256: string): ReleaseWithEnvelope {
    const r = this.get(sha256);
    if (!r) throw new LoaError('LOA_ERR_RELEASE_NOT_FOUND', `no release ${sha256.slice(0, 12)}…`, { details: { sha256 } });
    return r;
  }

  byVersion(version: string, arch: string): ReleaseRecord | null {
    const r = this.db.prepare<[string, string], Row>('SELECT * FROM releases WHERE version = ? AND arch = ?').get(version, arch);
    return r ? toRelease(r) : null;
  }

  list(limit: number): ReleaseRecord[] {
    return this.db.prepare<[number], Row>('SELECT * FROM releases ORDER BY uploaded_at DESC, sha256 LIMIT ?').all(limit).map(toRelease);
  }

  insert(r: ReleaseRecord, envelopeJson: string): void {
    this.db.prepare('INSERT INTO releases (sha256, version, arch, size, created_at, uploaded_at, uploaded_by, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.sha256, r.version, r.arch, r.size, r.createdAt, r.uploadedAt, r.uploadedBy, envelopeJson);
  }

  /** Deletes a release no deployment refers to; LOA_ERR_RELEASE_IN_USE otherwise. */
  delete(sha256: string): void {
    const used = this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM deployments WHERE release_sha256 = ?').get(sha256)?.n ?? 0;
    if (used > 0) throw new LoaError('LOA_ERR_RELEASE_IN_USE', `release ${sha256.slice(0, 12)}… is used by ${used} deployment(s)`, { details: { deployments: used } });
    this.db.prepare('DELETE FROM releases WHERE sha256 = ?').run(sha256);
  }
}
