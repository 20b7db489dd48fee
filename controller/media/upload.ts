import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LoaError } from '../../shared/errors.js';
import { SNIFF_HEAD_BYTES } from './sniff.js';

export interface ReceiveOptions {
  /** More bytes than this is LOA_ERR_INPUT_TOO_LARGE, raised as soon as the cap is passed. */
  maxBytes: number;
  /** Called once with the first SNIFF_HEAD_BYTES (or all, if fewer), before more is written; a rejection stops the upload. */
  onHead?: (head: Buffer) => Promise<unknown>;
  signal?: AbortSignal;
}

export interface ReceivedUpload {
  path: string;
  size: number;
  sha256: string;
  head: Buffer;
}

/**
 * Streams an upload into a new file (never buffering it), counting and hashing as it goes. It stops at the
 * first byte over the cap, or when `onHead` rejects (a PNG is refused after 4 KiB, not after 200 MB). On any
 * failure the file is removed and the source destroyed; the error is the LoaError that stopped it, or the
 * source's own error.
 */
export async function receiveUpload(source: Readable, path: string, options: ReceiveOptions): Promise<ReceivedUpload> {
  const hash = createHash('sha256');
  const headParts: Buffer[] = [];
  let headBytes = 0;
  let head: Buffer | undefined;
  let size = 0;

  const checkHead = async (): Promise<void> => {
    head = Buffer.concat(headParts, headBytes).subarray(0, SNIFF_HEAD_BYTES);
    headParts.length = 0;
    await options.onHead?.(head);
  };

  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      size += chunk.length;
      if (size > options.maxBytes) {
        cb(new LoaError('LOA_ERR_INPUT_TOO_LARGE', `The upload is larger than ${options.maxBytes} bytes`, { details: { maxBytes: options.maxBytes } }));
        return;
      }
      hash.update(chunk);
      if (head !== undefined) {
        cb(null, chunk);
        return;
      }
      headParts.push(chunk);
      headBytes += chunk.length;
      if (headBytes < SNIFF_HEAD_BYTES) {
        cb(null, chunk);
        return;
      }
      checkHead().then(() => cb(null, chunk), (e: unknown) => cb(e as Error));
    },
    flush(cb: TransformCallback): void {
      if (head !== undefined) {
        cb();
        return;
      }
      checkHead().then(() => cb(), (e: unknown) => cb(e as Error));
    },
  });

  try {
    await pipeline(source, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }), options.signal ? { signal: options.signal } : {});
    // @fastify/multipart ends a file stream early, flagged `truncated`, when its own fileSize limit is hit.
    if ((source as Readable & { truncated?: unknown }).truncated === true) {
      throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', 'The upload was cut at the multipart file size limit', { details: { maxBytes: options.maxBytes } });
    }
    return { path, size, sha256: hash.digest('hex'), head: head ?? Buffer.alloc(0) };
  } catch (e) {
    source.destroy();
    await rm(path, { force: true });
    throw e;
  }
}
