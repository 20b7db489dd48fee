import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LoaError } from '../shared/errors.js';
import { MANIFEST_MAX_BYTES } from '../shared/schemas/manifest.js';
import type { MediaSource } from './manifest/manager.js';

/**
 * An offline bundle (a folder or a USB stick): `manifest.json` (signed), `media/<sha256>` files, and
 * optionally `root.json` (a newer trust root). Everything in it is checked like anything from the network.
 */
export interface Bundle {
  manifest: Buffer;
  root: unknown;
  media: MediaSource;
}

export function openBundle(dir: string): Bundle {
  const mPath = join(dir, 'manifest.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LoaError('LOA_ERR_BUNDLE_INVALID', `bundle ${dir} is not a folder`);
  if (!existsSync(mPath)) throw new LoaError('LOA_ERR_BUNDLE_INVALID', `bundle ${dir} has no manifest.json`);
  const size = statSync(mPath).size;
  if (size > MANIFEST_MAX_BYTES) throw new LoaError('LOA_ERR_MANIFEST_TOO_LARGE', `manifest.json is ${size} bytes; the limit is ${MANIFEST_MAX_BYTES}`);
  const rootPath = join(dir, 'root.json');
  return {
    manifest: readFileSync(mPath),
    root: existsSync(rootPath) ? (JSON.parse(readFileSync(rootPath, 'utf8')) as unknown) : null,
    media: (sha) => {
      if (!/^[0-9a-f]{64}$/.test(sha)) return null;
      const p = join(dir, 'media', sha);
      return existsSync(p) ? createReadStream(p) : null;
    },
  };
}
