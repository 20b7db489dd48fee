import type { Command } from 'commander';

// The controller's modules (Fastify, aedes, …) load only when a controller command runs, so the agent CLI
// on a small receiver never pays for them.
const actions = (): Promise<typeof import('./controller-actions.js')> => import('./controller-actions.js');

export function registerController(program: Command): void {
  const c = program.command('controller').description('The provincial controller: API, dashboard, MQTT broker, manifest signing');
  c.command('run', { isDefault: true })
    .description('Run the controller (HTTP API + embedded MQTT broker unless MQTT_URL is set)')
    .option('--config <file>', 'JSON configuration file (also $LOA_CONFIG); environment variables override it')
    .action(async (o: { config?: string }) => (await actions()).runController(o.config));
  const admin = c.command('admin').description('Administrator accounts');
  admin.command('create')
    .description('Create an admin for a province (creates the province zone when missing). Password from $LOA_ADMIN_PASSWORD or a prompt')
    .option('--config <file>', 'configuration file (for dataDir)')
    .requiredOption('--username <name>', 'login name')
    .requiredOption('--province <id>', 'province zone id (administrative code, e.g. 01 for Hà Nội)')
    .option('--province-name <name>', 'province name, e.g. "Tỉnh Lào Cai"')
    .option('--display-name <name>', 'shown name')
    .action(async (o: { config?: string; username: string; province: string; provinceName?: string; displayName?: string }) => {
      const { loadConfig, readPassword, createAdmin } = await actions();
      const config = loadConfig(o.config);
      const password = await readPassword();
      const r = await createAdmin(config.dataDir, { username: o.username, password, provinceId: o.province, ...(o.provinceName ? { provinceName: o.provinceName } : {}), ...(o.displayName ? { displayName: o.displayName } : {}) });
      console.log(JSON.stringify({ created: true, userId: r.userId, zoneId: r.zoneId }));
    });
}
