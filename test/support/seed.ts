import { hashPassword } from '../../controller/auth/password.js';
import type { ZoneLevel } from '../../controller/data/zones.js';
import type { Role } from '../../controller/data/users.js';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import type { TestController } from './controller.js';

export type SeedZone = { readonly id: string; readonly parentId: string; readonly level: ZoneLevel; readonly code: string; readonly name: string };

/** Zones (in order, parents first) and users (name, role, zone; one password), each user signed in. */
export async function seedTree(t: TestController, zones: readonly SeedZone[], users: readonly (readonly [string, Role, string])[], password: string): Promise<Record<string, ApiClient>> {
  const d = t.controller.data;
  const now = Date.now();
  for (const z of zones) d.zones.create(z, now);
  const hash = await hashPassword(password);
  const as: Record<string, ApiClient> = {};
  for (const [name, role, zoneId] of users) {
    d.users.create({ id: `u-${name}`, username: name, displayName: name, passwordHash: hash }, now);
    d.users.setRoles(`u-${name}`, [{ role, zoneId, canApprove: false }]);
    const c = t.client();
    await c.login(name, password);
    as[name] = c;
  }
  return as;
}
