import type { Command } from 'commander';
import { LoaError } from '../../shared/errors.js';
import { ApiClient } from '../lib/api-client.js';
import { promptPassword } from '../lib/prompt.js';

interface Opts { user: string; name: string; days?: string; controller: string; login?: string }

/**
 * `loa token create`: an API token (loat_…) for a user, made through the controller's API (so it is checked
 * against the caller's roles and audited). Signs in as --login (default: the user itself), password from
 * $LOA_PASSWORD or a prompt. Prints the token once, as JSON.
 */
export async function createToken(o: Opts, password: string): Promise<{ token: string; id: string; name: string; expiresAt: string; userId: string }> {
  const api = new ApiClient(o.controller);
  await api.login(o.login ?? o.user, password);
  const me = await api.get<{ user: { id: string; username: string } }>('/api/v1/auth/me');
  let userId = me.user.id;
  if (o.user !== me.user.username) {
    const users = await api.get<{ users: { id: string; username: string }[] }>('/api/v1/users');
    const u = users.users.find((x) => x.username === o.user);
    if (!u) throw new LoaError('LOA_ERR_NOT_FOUND', `no user ${o.user} in the zones ${me.user.username} administers`);
    userId = u.id;
  }
  const days = o.days === undefined ? undefined : Number(o.days);
  if (days !== undefined && (!Number.isInteger(days) || days < 1)) throw new LoaError('LOA_ERR_SCHEMA', '--days must be a whole number of days ≥ 1');
  const r = await api.post<{ token: string; id: string; name: string; expiresAt: string }>(`/api/v1/users/${userId}/tokens`, { name: o.name, ...(days ? { expiresInDays: days } : {}) });
  return { ...r, userId };
}

export function registerToken(program: Command): void {
  const t = program.command('token').description('API tokens (loat_…) for integrations such as Node-RED');
  t.command('create')
    .description('Create an API token for a user (shown once). Password of the signing-in user from $LOA_PASSWORD or a prompt')
    .requiredOption('--user <username>', 'the user the token acts as (same roles and zones)')
    .requiredOption('--name <name>', 'what the token is for, e.g. "Node-RED trạm mực nước"')
    .option('--days <n>', 'days until it expires (default 365, at most 3650)')
    .option('--controller <url>', 'controller URL', process.env.LOA_CONTROLLER_URL ?? 'http://127.0.0.1:8080')
    .option('--login <username>', 'sign in as this admin instead of the user itself')
    .action(async (o: Opts) => {
      const r = await createToken(o, process.env.LOA_PASSWORD ?? await promptPassword());
      console.log(JSON.stringify(r));
    });
}
