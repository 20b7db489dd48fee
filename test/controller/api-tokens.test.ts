import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { ADMIN, startTestController, type TestController } from '../support/controller.js';
import { loaOkAsync } from '../support/loa-cli.js';
import { outcome } from '../support/outcome.js';
import { seedTree } from '../support/seed.js';

const ZONES = [
  { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' },
  { id: 'X2', parentId: 'T01', level: 'commune', code: 'X2', name: 'Xã Hai' },
] as const;
const PASSWORD = 'token-password-1';

/** A client that authenticates with an API token instead of a session. */
function withToken(t: TestController, token: string): ApiClient {
  const c = t.client();
  c.token = token;
  return c;
}

describe('API tokens (contract C)', () => {
  let t: TestController;
  let as: Record<string, ApiClient>;
  before(async () => {
    t = await startTestController();
    as = await seedTree(t, ZONES, [['op1', 'operator', 'X1'], ['viewer1', 'viewer', 'X1'], ['admin2', 'admin', 'X2']], PASSWORD);
  });
  after(async () => t.close());

  it('makes a loat_ token that acts as its user with the same zone-scoped rights, shown once and stored only as a hash', async () => {
    const r = await t.admin.post<{ token: string; id: string; name: string; expiresAt: string }>('/api/v1/users/u-op1/tokens', { name: 'Node-RED trạm mực nước', expiresInDays: 30 });
    assert.match(r.token, /^loat_[A-Za-z0-9_-]{43}$/);
    assert.equal(r.name, 'Node-RED trạm mực nước');
    assert.ok(Math.abs(Date.parse(r.expiresAt) - (Date.now() + 30 * 86_400_000)) < 60_000);
    const api = withToken(t, r.token);
    const me = await api.get<{ user: { id: string } }>('/api/v1/auth/me');
    assert.equal(me.user.id, 'u-op1');
    assert.equal((await outcome(api.get('/api/v1/zones/X1'))).status, 200);
    assert.deepEqual(await outcome(api.get('/api/v1/zones/X2')), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(api.post('/api/v1/zones', { id: 'X1-N', parentId: 'X1', level: 'cluster', code: 'N', name: 'Cụm' })), { status: 403, code: 'LOA_ERR_FORBIDDEN' }, 'an operator token cannot do what an operator cannot');
    const list = await t.admin.get<{ tokens: Record<string, unknown>[] }>('/api/v1/users/u-op1/tokens');
    assert.equal(list.tokens.length, 1);
    assert.equal(list.tokens[0]!.id, r.id);
    assert.equal(list.tokens[0]!.active, true);
    assert.ok(list.tokens[0]!.lastUsedAt, 'the last use is recorded');
    assert.ok(!JSON.stringify(list).includes(r.token.slice(9)), 'a list never shows the secret');
    const db = readFileSync(join(t.dir, 'data', 'controller.db'));
    assert.ok(!db.includes(Buffer.from(r.token)), 'the token is not in the database file');
    const audit = await t.admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>('/api/v1/audit?limit=50');
    const created = audit.entries.find((e) => e.action === 'api_token.create');
    assert.equal(created?.details.tokenId, r.id);
    assert.ok(!JSON.stringify(audit).includes(r.token), 'the audit log never holds the token');
  });

  it('refuses a revoked, expired or unknown token with LOA_ERR_API_TOKEN, and a disabled user\'s token', async () => {
    const a = await t.admin.post<{ token: string; id: string }>('/api/v1/users/u-op1/tokens', { name: 'thu hồi' });
    assert.equal((await outcome(withToken(t, a.token).get('/api/v1/auth/me'))).status, 200);
    await t.admin.request('DELETE', `/api/v1/users/u-op1/tokens/${a.id}`);
    assert.deepEqual(await outcome(withToken(t, a.token).get('/api/v1/auth/me')), { status: 401, code: 'LOA_ERR_API_TOKEN' });
    const audit = await t.admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>('/api/v1/audit?limit=50');
    assert.ok(audit.entries.some((e) => e.action === 'api_token.revoke' && e.details.tokenId === a.id));

    const b = await t.admin.post<{ token: string; id: string }>('/api/v1/users/u-op1/tokens', { name: 'hết hạn', expiresInDays: 1 });
    t.controller.data.db.prepare('UPDATE api_tokens SET expires_at = ? WHERE id = ?').run(Date.now() - 1, b.id);
    assert.deepEqual(await outcome(withToken(t, b.token).get('/api/v1/auth/me')), { status: 401, code: 'LOA_ERR_API_TOKEN' });
    assert.deepEqual(await outcome(withToken(t, `${a.token.slice(0, -2)}xx`).get('/api/v1/auth/me')), { status: 401, code: 'LOA_ERR_API_TOKEN' });

    const c = await as.viewer1!.post<{ token: string }>('/api/v1/users/u-viewer1/tokens', { name: 'của tôi' });
    assert.equal((await outcome(withToken(t, c.token).get('/api/v1/auth/me'))).status, 200);
    await t.admin.request('PATCH', '/api/v1/users/u-viewer1', { disabled: true });
    assert.deepEqual(await outcome(withToken(t, c.token).get('/api/v1/auth/me')), { status: 401, code: 'LOA_ERR_API_TOKEN' });
  });

  it('lets a user manage its own tokens, and an admin only those of users inside its zones', async () => {
    assert.equal((await outcome(as.op1!.post('/api/v1/users/u-op1/tokens', { name: 'tự tạo' }))).status, 200);
    assert.deepEqual(await outcome(as.op1!.post('/api/v1/users/u-admin2/tokens', { name: 'của người khác' })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(as.admin2!.post('/api/v1/users/u-op1/tokens', { name: 'ngoài vùng' })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(as.admin2!.get('/api/v1/users/u-op1/tokens')), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(t.admin.post('/api/v1/users/u-op1/tokens', { name: 'x', expiresInDays: 0 })), { status: 400, code: 'LOA_ERR_SCHEMA' });
  });

  it('loa token create makes a token through the API that works at once', async () => {
    const out = await loaOkAsync(['token', 'create', '--user', 'op1', '--name', 'CLI', '--days', '7', '--login', ADMIN.username, '--controller', t.controller.httpUrl], { LOA_PASSWORD: ADMIN.password });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { token: string; userId: string; expiresAt: string };
    assert.equal(r.userId, 'u-op1');
    assert.ok(Math.abs(Date.parse(r.expiresAt) - (Date.now() + 7 * 86_400_000)) < 120_000);
    assert.equal((await withToken(t, r.token).get<{ user: { id: string } }>('/api/v1/auth/me')).user.id, 'u-op1');
  });
});
