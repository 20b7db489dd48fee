import type { Command } from 'commander';
import type { PairCliOptions } from './agent-pair.js';

/** Registers `loa agent pair` under `loa agent`. */
export function registerAgentPair(a: Command): void {
  a.command('pair')
    .description('Pair this receiver on site: show a pairing code (large, with a QR code, and on the local page) and wait until a technician enters it; then install the trust root and write device.json and controller.json')
    .requiredOption('--data-dir <dir>', 'state folder')
    .requiredOption('--controller <url>', 'controller URL, e.g. https://loa.example.vn')
    .option('--profile <file>', 'hardware profile JSON file (its id is sent) or a profile name')
    .option('--no-wait', 'print the code and exit (pairing.json keeps it; run again to wait)')
    .option('--timeout <s>', 'give up after this many seconds (LOA_ERR_PAIRING_CANCELLED)')
    .option('--ui-port <port>', 'port of the local page showing the code (0 = off)', '8081')
    .option('--ui-host <host>', 'address of the local page', '0.0.0.0')
    .option('--new-key', 'retire the current device key (kept as device.key.old-*) and pair with a new one, e.g. after a revocation')
    .addHelpText('after', `
The code and its QR code go to stderr; stdout gets one JSON line: with --no-wait
{"pairingId":…,"code":…,"expiresAt":…,"pairUrl":…}, otherwise {"paired":true,"deviceId":…,"zoneId":…,…}.
An expired code is replaced by a new one automatically. Errors: LOA_ERR_PAIRING_LOCKED (20 wrong codes were
typed: run again for a new code), LOA_ERR_PAIRING_KEY_REVOKED (run again with --new-key),
LOA_ERR_PAIRING_CANCELLED (--timeout or Ctrl-C), LOA_ERR_PAIRING_FAILED (controller unreachable or a bad answer).`)
    .action(async (o: PairCliOptions) => {
      // Loaded only when used: `loa agent run` does not pay for the QR code and the local page.
      const { pairCommand } = await import('./agent-pair.js');
      console.log(JSON.stringify(await pairCommand(o)));
    });
}
