import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ERRORS, LoaError, type ErrorCode } from '../../shared/errors.js';
import { COMMAND_TYPES } from '../../shared/schemas/command.js';
import { ApiClient, ApiError } from '../lib/api-client.js';

interface CmdOptions {
  controller: string;
  token?: string;
  username?: string;
  passwordFile?: string;
  volume?: string;
  duration?: string;
  timeout: string;
  json?: boolean;
}

interface CommandView { id: string; type: string; state: string; result?: Record<string, unknown>; error?: { code: string; message: string } }

const FINAL = new Set(['done', 'failed', 'expired']);

/** The request body of contract B from the CLI's words. */
export function commandBody(type: string, o: Pick<CmdOptions, 'volume' | 'duration'>): Record<string, unknown> {
  const int = (v: string, what: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new LoaError('LOA_ERR_SCHEMA', `${what} must be a whole number from ${min} to ${max}`);
    return n;
  };
  switch (type) {
    case 'test_tone':
      return { type, ...(o.duration !== undefined ? { durationS: int(o.duration, '--duration', 1, 30) } : {}) };
    case 'volume':
      if (o.volume === undefined) throw new LoaError('LOA_ERR_SCHEMA', 'a volume command needs --volume N (0–100)');
      return { type, volume: int(o.volume, '--volume', 0, 100) };
    case 'relay_check':
    case 'reboot':
      return { type };
    default:
      throw new LoaError('LOA_ERR_SCHEMA', `unknown command type "${type}"; one of ${COMMAND_TYPES.join(', ')}`);
  }
}

async function signIn(o: CmdOptions): Promise<ApiClient> {
  const api = new ApiClient(o.controller);
  const token = o.token ?? process.env.LOA_TOKEN;
  if (token) {
    api.token = token;
    return api;
  }
  if (!o.username) throw new LoaError('LOA_ERR_UNAUTHENTICATED', 'give --token (or $LOA_TOKEN), or --username with $LOA_PASSWORD or --password-file');
  const password = o.passwordFile ? readFileSync(o.passwordFile, 'utf8').trim() : process.env.LOA_PASSWORD;
  if (!password) throw new LoaError('LOA_ERR_UNAUTHENTICATED', 'no password: set $LOA_PASSWORD or use --password-file');
  await api.login(o.username, password);
  return api;
}

/** `loa device cmd`: sends one command (contract B) and prints its progress until it is done, failed or expired. */
export async function deviceCmd(deviceId: string, type: string, o: CmdOptions): Promise<number> {
  const body = commandBody(type, o);
  const api = await signIn(o);
  const path = `/api/v1/devices/${encodeURIComponent(deviceId)}/commands`;
  let c: CommandView;
  try {
    c = (await api.post<{ command: CommandView }>(path, body)).command;
  } catch (e) {
    if (e instanceof ApiError && e.code in ERRORS) throw new LoaError(e.code as ErrorCode, e.message);
    throw e;
  }
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  say(`${c.id}: ${type} → ${deviceId}: ${c.state}`);
  const until = Date.now() + Number(o.timeout) * 1000;
  let last = c.state;
  while (!FINAL.has(c.state) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    c = (await api.get<{ command: CommandView }>(`${path}/${c.id}`)).command;
    if (c.state !== last) say(`${c.id}: ${c.state}`);
    last = c.state;
  }
  if (o.json) process.stdout.write(JSON.stringify({ command: c }) + '\n');
  else {
    if (c.result) say(`result: ${JSON.stringify(c.result)}`);
    if (c.error) say(`error: ${c.error.code}: ${c.error.message}`);
  }
  if (!FINAL.has(c.state)) say(`still ${c.state} after ${o.timeout} s; GET ${path}/${c.id} tells how it ends`);
  return c.state === 'done' ? 0 : 1;
}

export function registerDevice(program: Command): void {
  const d = program.command('device').description('Devices on a controller, through its HTTP API');
  d.command('cmd')
    .description('Send a signed command to one device (test_tone, volume, relay_check, reboot) and follow it until it is done, failed or expired')
    .argument('<deviceId>', 'the device')
    .argument('<type>', COMMAND_TYPES.join(' | '))
    .option('--controller <url>', 'controller URL (or $LOA_CONTROLLER)', process.env.LOA_CONTROLLER ?? 'http://127.0.0.1:8080')
    .option('--token <t>', 'a session or API token (or $LOA_TOKEN)')
    .option('--username <name>', 'sign in as this admin or technician (password from $LOA_PASSWORD or --password-file)')
    .option('--password-file <file>', 'read the password from this file')
    .option('--volume <n>', 'volume: the device volume level, 0–100')
    .option('--duration <s>', 'test_tone: seconds of 1 kHz tone, 1–30 (default 5)')
    .option('--timeout <s>', 'stop following after this long (the command goes on)', '330')
    .option('--json', 'print the final command as JSON on stdout')
    .addHelpText('after', `
The controller signs the command with its schedule key for this device only (5-minute lifetime, nonce, seq);
the device checks it like a manifest and answers received, then done (with a result) or failed (with a code).
Progress goes to stderr; the exit status is 0 when the command is done, 1 otherwise. An offline device gets the
command when it reconnects within its lifetime, else it expires. "reboot" restarts the agent service, not the
machine. Needs device.write (admin, technician) in the device's zone.

Errors: LOA_ERR_COMMAND_BUSY (a command of this type is still running on the device), LOA_ERR_COMMAND_DEVICE
(the device is not enrolled, revoked or decommissioned), LOA_ERR_FORBIDDEN, LOA_ERR_NOT_FOUND.

Examples:
  $ export LOA_PASSWORD=…
  $ loa device cmd loa-cho-1 test_tone --duration 3 --username kythuat
  cmd-4f1a…: test_tone → loa-cho-1: sent
  cmd-4f1a…: received
  cmd-4f1a…: done
  result: {"hz":1000,"durationMs":3000,…}
  $ loa device cmd loa-cho-1 volume --volume 60 --token "$TOKEN"
  $ loa device cmd loa-cho-1 relay_check --json --token "$TOKEN"`)
    .action(async (deviceId: string, type: string, o: CmdOptions) => {
      process.exitCode = await deviceCmd(deviceId, type, o);
    });
}
