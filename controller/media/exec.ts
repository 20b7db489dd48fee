import { spawn } from 'node:child_process';
import { LoaError, type ErrorCode } from '../../shared/errors.js';

/** How to get the media tools, for every "missing tool" message. */
export const INSTALL_HINT = 'install it with `sudo apt-get install ffmpeg` (or `npm run setup:system`)';

export interface RunToolOptions {
  /** Aborting kills the process (SIGKILL) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Kills the process (SIGKILL) and rejects with `timeoutCode` after this many ms. */
  timeoutMs?: number;
  /** The code of the timeout error. Default LOA_ERR_MEDIA_TRANSCODE. */
  timeoutCode?: ErrorCode;
  /** stdout beyond this is an error (the process is killed). Default 4 MiB. */
  maxStdoutBytes?: number;
  /** Only the last bytes of stderr are kept. Default 64 KiB. */
  stderrTailBytes?: number;
}

export interface RunToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The tail of stderr (ffmpeg prints its reports, loudnorm JSON and ebur128 summary, at the end). */
  stderr: string;
}

/**
 * Runs a tool with no shell, collecting stdout (capped) and the tail of stderr. A non-zero exit resolves (the
 * caller knows what it means); a missing binary rejects with LOA_ERR_TOOL_MISSING; abort and timeout kill the
 * process first, so no ffmpeg outlives the request that started it.
 */
export function runTool(command: string, args: readonly string[], options: RunToolOptions = {}): Promise<RunToolResult> {
  const maxStdout = options.maxStdoutBytes ?? 4 * 1024 * 1024;
  const tail = options.stderrTailBytes ?? 64 * 1024;
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);

  return new Promise<RunToolResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = Buffer.alloc(0);
    let failure: Error | undefined;
    let settled = false;

    const kill = (why: unknown): void => {
      failure ??= why as Error;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const onAbort = (): void => kill(signal?.reason);
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      kill(new LoaError(options.timeoutCode ?? 'LOA_ERR_MEDIA_TRANSCODE', `${command} took longer than ${options.timeoutMs} ms and was stopped`, { details: { timeoutMs: options.timeoutMs } }));
    }, options.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxStdout) {
        kill(new LoaError('LOA_ERR_INPUT_TOO_LARGE', `${command} wrote more than ${maxStdout} bytes`));
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = Buffer.concat([err, chunk]);
      if (err.length > tail * 2) err = err.subarray(err.length - tail);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish(() => {
        if (e.code === 'ENOENT') {
          reject(new LoaError('LOA_ERR_TOOL_MISSING', `${command} is not installed or not on PATH: ${INSTALL_HINT}`, { cause: e, details: { tool: command } }));
        } else {
          reject(new LoaError('LOA_ERR_INTERNAL', `${command} could not be started: ${e.message}`, { cause: e }));
        }
      });
    });
    child.on('close', (code, sig) => {
      finish(() => {
        if (failure !== undefined) {
          reject(failure);
          return;
        }
        const stderr = err.length > tail ? err.subarray(err.length - tail) : err;
        resolve({ code, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: stderr.toString('utf8') });
      });
    });
  });
}

/** The last meaningful stderr lines, for error messages. */
export function lastLines(stderr: string, count = 3): string {
  return stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-count).join(' | ').slice(0, 500);
}
