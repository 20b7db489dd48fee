import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { authorize } from '../auth/policy.js';
import { userOf, type AppContext } from '../http/context.js';

const versionOf = (env: unknown): number => (env as { signed: { version: number } }).signed.version;

/**
 * Trust distribution (DESIGN §2): the chain of signed root versions, public (devices walk it from the version
 * they hold, `GET …/root/{v+1}` until 404, and check every link themselves), and the admin-only reload that
 * switches the controller to a root and schedule key rotated offline with `loa keys`.
 */
export function registerTrust(app: FastifyInstance, ctx: AppContext): void {
  app.get('/api/v1/trust/root', {
    config: { auth: 'public' },
    schema: { tags: ['trust'], summary: 'The newest signed root metadata (root.json)' },
  }, async () => {
    const chain = ctx.trust.chain();
    return chain[chain.length - 1];
  });

  app.get('/api/v1/trust/root/:version', {
    config: { auth: 'public' },
    schema: {
      tags: ['trust'], summary: 'The signed root metadata of one version (404 when there is none): devices walk v+1, v+2, … until 404',
      params: Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }, { additionalProperties: false }),
    },
  }, async (req) => {
    const { version } = req.params as { version: number };
    const env = ctx.trust.chain().find((e) => versionOf(e) === version);
    if (!env) throw new LoaError('LOA_ERR_NOT_FOUND', `no root metadata version ${version}`);
    return env;
  });

  app.post('/api/v1/trust/reload', {
    config: { perm: 'trust.reload' },
    schema: {
      tags: ['trust'],
      summary: 'Reload root.json, roots/ and schedule.key from the keys folder (after `loa keys rotate-…`): the new root must chain from the one in force; then every manifest is re-signed and devices are notified. Admin of every top-level zone only.',
      body: Type.Optional(Type.Object({}, { additionalProperties: false })),
    },
  }, async (req) => {
    // The trust root covers every zone: only an admin of the whole tree (every top-level zone) may switch it.
    const user = userOf(req);
    const tops = ctx.data.zones.list().filter((z) => z.parentId === null);
    if (tops.length === 0) throw new LoaError('LOA_ERR_FORBIDDEN', 'there is no top-level zone', { details: { permission: 'trust.reload' } });
    for (const z of tops) authorize(user, 'trust.reload', z.path);
    return ctx.trust.reload({ actor: user.id, ip: req.ip });
  });
}
