import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const LOA = join(process.cwd(), 'bin', 'loa.js');

/**
 * Runs `loa` without blocking the event loop: the relay emulator on the far end of a pty runs in the test
 * process, and spawnSync would stop it from answering.
 */
export function loa(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LOA, ...args], { env: { ...process.env, LOA_LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
