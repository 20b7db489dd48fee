import { createInterface } from 'node:readline/promises';

/**
 * Asks for a password on the terminal (stderr, so stdout stays machine-readable). A small module of its own:
 * CLI commands that only talk to the API must not pull the controller in (`loa agent run` shares the CLI's
 * module graph, and every module it loads is memory a receiver keeps).
 */
export async function promptPassword(label = 'Password (≥ 10 characters): '): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  try {
    return (await rl.question(label)).trim();
  } finally {
    rl.close();
  }
}
