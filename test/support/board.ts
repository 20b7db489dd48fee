import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayEmulator, type RelayEmulatorOptions } from './relay-emulator.js';
import { startSocat, type SocatPair } from './socat.js';

/** A relay board on a real serial line: a temp dir, a socat pty pair, and the emulator on its far end. */
export interface EmulatedBoard {
  dir: string;
  socat: SocatPair;
  board: RelayEmulator;
  /** The port the code under test opens (socat side a). */
  port: string;
  /** Stops the emulator and socat, and removes the temp dir. */
  stop(): Promise<void>;
}

export async function startEmulatedBoard(prefix: string, emulator: Omit<RelayEmulatorOptions, 'port'>): Promise<EmulatedBoard> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const socat = await startSocat({ dir });
  const board = new RelayEmulator({ ...emulator, port: socat.b });
  await board.start();
  return {
    dir, socat, board, port: socat.a,
    async stop() {
      await board.stop();
      await socat.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
