import type { Command } from 'commander';
import { loadProfile } from '../../agent/config/profile.js';
import { LoaError } from '../../shared/errors.js';

interface SelftestFlags {
  profile: string;
  dataDir: string;
  toneMs: string;
  root: string;
  json?: boolean;
}

export function registerSelftest(program: Command): void {
  program.command('selftest')
    .description('Test the receiver\'s hardware: each relay channel on and off (read back where the board can), then a 1 kHz tone on each output with its amplifier relays on')
    .requiredOption('--profile <file>', 'hardware profile JSON (e.g. /etc/loa/hardware-profile.json)')
    .option('--data-dir <dir>', 'state folder; the tone, recordings and selftest.json go to <data-dir>/selftest', '/var/lib/loa')
    .option('--tone-ms <ms>', 'tone length per output', '1500')
    .option('--root <dir>', 'read the profile\'s device paths under this root', '/')
    .option('--json', 'print the result as JSON instead of a table')
    .addHelpText('after', `
Stop the agent first (systemctl stop loa-agent): it holds the relay port. Channels are numbered as in the
profile (0-based; LCUS boards label them 1..N). LCUS boards cannot be read back, so their rows only say the
command was sent; Modbus and GPIO rows say what the board reports.
Exit status 0 when every step passed, 1 (LOA_ERR_SELFTEST_FAILED) when any failed.`)
    .action(async (f: SelftestFlags) => {
      const toneMs = Number(f.toneMs);
      if (!Number.isInteger(toneMs) || toneMs < 100 || toneMs > 60_000) throw new LoaError('LOA_ERR_PROVISION_INPUT', `--tone-ms must be 100..60000 (got "${f.toneMs}")`);
      const profile = loadProfile(f.profile);
      const { formatSelftestTable, runSelftest } = await import('../../agent/provision/selftest.js');
      const ctl = new AbortController();
      const onSigint = (): void => ctl.abort();
      process.once('SIGINT', onSigint);
      if (!f.json) console.log(`Self-test of ${profile.id} (${profile.name})`);
      const result = await runSelftest({
        profile, dataDir: f.dataDir, toneMs, root: f.root, signal: ctl.signal,
        ...(f.json ? {} : { onRow: (r) => console.log(`  ${r.status.padEnd(4)} ${r.step}`) }),
      }).finally(() => process.off('SIGINT', onSigint));
      console.log(f.json ? JSON.stringify(result, null, 2) : `\n${formatSelftestTable(result)}`);
      if (!result.ok) {
        throw new LoaError('LOA_ERR_SELFTEST_FAILED', `${result.failed.length} step(s) failed: ${result.failed.map((r) => `${r.step}${r.code ? ` (${r.code})` : ''}`).join('; ')}`);
      }
    });
}
