import { Command } from 'commander';
import { isLoaError, messageVi } from '../shared/errors.js';
import { registerAgent } from './cli/agent.js';
import { registerController } from './cli/controller.js';
import { registerDemo } from './cli/demo.js';
import { registerDevice } from './cli/device.js';
import { registerKeys } from './cli/keys.js';
import { registerManifest } from './cli/manifest.js';
import { registerProvision } from './cli/provision.js';
import { registerRelease } from './cli/release.js';
import { registerSelftest } from './cli/selftest.js';
import { registerSim } from './cli/sim.js';
import { registerToken } from './cli/token.js';

const program = new Command('loa')
  .description('loaphuong: open, secure, offline-first IP loudspeakers and public e-boards for grassroots information')
  .version('0.1.0')
  .showHelpAfterError()
  // Program options (--version) only before the subcommand: `loa release build --version 1.2.0` is the release's.
  .enablePositionalOptions();
registerAgent(program);
registerKeys(program);
registerController(program);
registerManifest(program);
registerDemo(program);
registerProvision(program);
registerRelease(program);
registerSelftest(program);
registerSim(program);
registerToken(program);
registerDevice(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (isLoaError(e)) {
    console.error(`loa: ${e.code}: ${e.message}\n     (${messageVi(e.code)})`);
  } else {
    console.error(`loa: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exit(1);
});
