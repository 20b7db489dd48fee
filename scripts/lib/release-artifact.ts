/** Reading, signing and checking release artifacts (issue 11): shared by `loa release sign|verify|install`. */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { t as listTar } from 'tar';
import { signEnvelope } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { checkArtifact, verifyRelease } from '../../shared/release.js';
import type { Release, SignedRelease } from '../../shared/schemas/release.js';
import { verifyInitialRoot } from '../../shared/trust.js';

export interface ArtifactInfo {
  sha256: string;
  size: number;
  /** The artifact's own release.json. */
  release: { format: number; name: string; version: string; platform: string; arch: string; node: string; builtAt: string };
}

export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return { sha256: h.digest('hex'), size: statSync(path).size };
}

/** Hashes the artifact and reads `<top>/release.json` from it. */
export async function inspectArtifact(path: string): Promise<ArtifactInfo> {
  const { sha256, size } = await hashFile(path);
  let text: string | null = null;
  try {
    await listTar({
      file: path,
      onReadEntry: (e) => {
        if (/^loaphuong-agent-[^/]+\/release\.json$/.test(e.path)) {
          const chunks: Buffer[] = [];
          e.on('data', (c: Buffer) => chunks.push(c));
          e.on('end', () => { text = Buffer.concat(chunks).toString('utf8'); });
        } else e.resume();
      },
    });
  } catch (e) {
    throw new LoaError('LOA_ERR_RELEASE_INVALID', `${path} is not a release artifact (gzip tar): ${(e as Error).message}`, { cause: e });
  }
  if (text === null) throw new LoaError('LOA_ERR_RELEASE_INVALID', `${path} holds no loaphuong-agent-<version>/release.json`);
  const release = JSON.parse(text) as ArtifactInfo['release'];
  if (release.name !== 'loaphuong-agent' || typeof release.version !== 'string' || typeof release.arch !== 'string') {
    throw new LoaError('LOA_ERR_RELEASE_INVALID', `${path}: release.json is not a loaphuong-agent release`);
  }
  return { sha256, size, release };
}

export function signRelease(info: ArtifactInfo, keyPem: string, o: { now?: number; notes?: string } = {}): SignedRelease {
  const signed: Release = {
    _type: 'release', name: 'loaphuong-agent', version: info.release.version, platform: 'linux', arch: info.release.arch as Release['arch'],
    sha256: info.sha256, size: info.size, node: info.release.node, createdAt: new Date(o.now ?? Date.now()).toISOString(),
    ...(o.notes ? { notes: o.notes } : {}),
  };
  return signEnvelope(signed, [keyPem]);
}

/** Signature (by the release role of root.json) and hash of an artifact against its signed metadata. */
export async function verifyArtifact(artifact: string, metaPath: string, rootPath: string, now = Date.now()): Promise<Release> {
  const root = verifyInitialRoot(JSON.parse(readFileSync(rootPath, 'utf8')), now);
  const env = verifyRelease(readFileSync(metaPath, 'utf8'), root);
  checkArtifact(env.signed, await hashFile(artifact));
  return env.signed;
}
