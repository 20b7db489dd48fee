import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { ProvisionInputs } from '../../agent/provision/plan.js';
import type { ProvisionIO } from '../../agent/provision/provision.js';
import { LoaError } from '../../shared/errors.js';
import { bigText } from './big-text.js';

/** Where this copy of loaphuong is installed: the folder with bin/loa.js and hardware-profiles/. */
export const INSTALL_DIR = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

interface ProvisionFlags extends ProvisionInputs {
  dryRun?: boolean;
  selftest: boolean;
  service: boolean;
  yes?: boolean;
  toneMs: string;
  pairTimeout: string;
  node: string;
}

/**
 * The pairing code in big letters and the pairing URL as a QR code. On a terminal the QR code is drawn black on
 * white with ANSI colours, so any phone reads it whatever the terminal's colours; into a pipe or a log it is
 * plain half-block text.
 */
export async function showPairing(ticket: { code: string; pairUrl: string }, out: (line: string) => void, ansi = process.stdout.isTTY === true): Promise<void> {
  // Loaded here, not at the top: every `loa` command (the agent service included) loads this file.
  const { default: QRCode } = await import('qrcode');
  out('');
  for (const line of bigText(ticket.code, '        ').split('\n')) out(line);
  out('');
  const qr = ansi
    ? await QRCode.toString(ticket.pairUrl, { type: 'terminal', small: true, errorCorrectionLevel: 'M' })
    // qrcode 1.5.4's utf8 renderer fails on an odd margin.
    : await QRCode.toString(ticket.pairUrl, { type: 'utf8', errorCorrectionLevel: 'M', margin: 2 });
  for (const line of qr.trimEnd().split('\n')) out(`      ${line}`);
}

/** Prompts on the terminal; a muted output hides what is typed for secrets. */
function terminalIO(interactive: boolean): ProvisionIO & { close(): void } {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      if (!muted) process.stdout.write(chunk);
      cb();
    },
  });
  const rl = interactive ? createInterface({ input: process.stdin, output, terminal: true }) : null;
  const ask = async (q: string, def?: string): Promise<string> => {
    if (!rl) throw new LoaError('LOA_ERR_PROVISION_INPUT', `cannot ask "${q}" without a terminal: give it as a flag`);
    const a = await rl.question(`? ${q}${def !== undefined ? ` [${def}]` : ''}: `);
    return a.trim() === '' && def !== undefined ? def : a;
  };
  return {
    interactive,
    out: (line) => console.log(line),
    ask,
    async askSecret(q: string): Promise<string> {
      process.stdout.write(`? ${q} (not shown): `);
      muted = true;
      try {
        return await ask('');
      } finally {
        muted = false;
        process.stdout.write('\n');
      }
    },
    async confirm(q: string, def: boolean): Promise<boolean> {
      const a = (await ask(`${q} (y/n)`, def ? 'y' : 'n')).trim().toLowerCase();
      return a.startsWith('y');
    },
    showPairing: (ticket) => showPairing(ticket, (l) => console.log(l)),
    close: () => rl?.close(),
  };
}

function positiveInt(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new LoaError('LOA_ERR_PROVISION_INPUT', `${what} must be a positive whole number (got "${v}")`);
  return n;
}

export function registerProvision(program: Command): void {
  program.command('provision')
    .description('Install this receiver: detect hardware, choose the profile, write the config, make the device key, install the trust root, self-test, install the systemd unit, and enroll (token) or pair with the controller')
    .option('--root <dir>', 'filesystem root of the target (an SD card image mounted elsewhere, or a test folder)', '/')
    .option('--data-dir <dir>', 'state folder on the target', '/var/lib/loa')
    .option('--profile <file|id>', 'hardware profile: a JSON file, or the id of a shipped one (default: the best match for the detected hardware)')
    .option('--profiles-dir <dir>', 'where the shipped profiles are', join(INSTALL_DIR, 'hardware-profiles'))
    .option('--controller <url>', 'controller URL, e.g. https://loa.example.vn (pairing by default, or --token)')
    .option('--token <token>', 'one-time enrollment token from the controller (instead of pairing)')
    .option('--trust <file>', 'trust bundle: the province root.json (or {"roots": [...]}); pins the controller\'s trust root')
    .option('--device-id <id>', 'offline install without a controller (needs --trust); schedules come by `loa agent import`')
    .option('--dry-run', 'print the plan; change nothing')
    .option('--no-selftest', 'skip the relay and tone self-test')
    .option('--no-service', 'do not install the systemd unit')
    .option('-y, --yes', 'never ask: take the defaults and the flags (the best profile must be unambiguous)')
    .option('--force', 'install a profile that does not match the detected hardware, or provision an already provisioned device again (its key is kept)')
    .option('--tone-ms <ms>', 'self-test tone length per output', '1500')
    .option('--pair-timeout <minutes>', 'how long to wait for the pairing code to be claimed', '15')
    .option('--node <path>', 'node binary for the unit\'s ExecStart', process.execPath)
    .addHelpText('after', `
Examples:
  sudo loa provision                                          # interactive: asks for what is missing
  sudo loa provision --controller https://loa.example.vn --trust root.json --yes          # pairing code + QR
  sudo loa provision --controller https://loa.example.vn --token T --profile rpi4-lcus2-usb-audio --yes
  loa provision --root /mnt/sdcard --controller URL --token T --no-selftest --yes        # prepare an image
  loa provision --dry-run --controller URL --token T                                     # show the plan only

Steps are printed as [n/10]. Every file is staged first and moved into place at the end, so a failure at any
step leaves the device as it was. systemctl and useradd run only when --root is /; otherwise they are printed.
Exit status 0 when provisioned; 1 with a coded error (LOA_ERR_PROVISION_*, LOA_ERR_ENROLL_*, LOA_ERR_SELFTEST_FAILED).`)
    .action(async (f: ProvisionFlags) => {
      const interactive = !f.yes && process.stdin.isTTY === true && process.stdout.isTTY === true;
      const io = terminalIO(interactive);
      const ctl = new AbortController();
      const onSigint = (): void => ctl.abort();
      process.on('SIGINT', onSigint);
      try {
        const { provision } = await import('../../agent/provision/provision.js');
        await provision({
          root: f.root, dataDir: f.dataDir, profilesDir: f.profilesDir, installDir: INSTALL_DIR, nodePath: f.node, io, signal: ctl.signal,
          selftest: f.selftest, service: f.service, toneMs: positiveInt(f.toneMs, '--tone-ms'), pairTimeoutMs: positiveInt(f.pairTimeout, '--pair-timeout') * 60_000,
          ...(f.profile ? { profile: f.profile } : {}), ...(f.controller ? { controller: f.controller } : {}), ...(f.token ? { token: f.token } : {}),
          ...(f.trust ? { trust: f.trust } : {}), ...(f.deviceId ? { deviceId: f.deviceId } : {}),
          dryRun: f.dryRun === true, force: f.force === true, agentVersion: '0.1.0',
        });
      } finally {
        process.off('SIGINT', onSigint);
        io.close();
      }
    });
}
