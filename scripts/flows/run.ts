import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ApiClient } from '../lib/api-client.js';
import { createToken } from '../cli/token.js';
import { DEMO_USERS } from '../cli/demo-controller.js';
import { assembleNodePackage, REPO_ROOT } from './assemble.js';

const say = (s: string): void => console.log(`[flows] ${s}`);

/**
 * `npm run flows`: Node-RED 4 with the loaphuong nodes installed and the four example flows loaded against the
 * demo controller (`npm start`, :8080). The Node-RED user folder is .loa-demo/node-red (git-ignored). The flows
 * use an API token of the demo admin, made through the API on the first run and kept for the next ones.
 */
async function main(): Promise<void> {
  const url = process.env.LOA_CONTROLLER_URL ?? 'http://127.0.0.1:8080';
  const port = Number(process.env.NODE_RED_PORT ?? 1880);
  const sensorPort = Number(process.env.SENSOR_MQTT_PORT ?? 1884);
  const health = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
  if (!health) {
    console.error(`[flows] the controller at ${url} does not answer. Start the demo first (npm start), or set LOA_CONTROLLER_URL.`);
    console.error('[flows] Bộ điều khiển chưa chạy. Hãy chạy bản demo trước (npm start).');
    process.exit(1);
  }
  const pkg = assembleNodePackage();
  const dir = join(REPO_ROOT, '.loa-demo', 'node-red');
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  const link = join(dir, 'node_modules', pkg.name);
  rmSync(link, { force: true, recursive: true });
  symlinkSync(pkg.dir, link, 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'loa-demo-node-red', private: true, dependencies: { [pkg.name]: `file:${pkg.dir}` } }, null, 2));

  // The demo admin's token, kept in the user folder (mode 600) and checked before reuse.
  const tokenFile = join(dir, '.loa-token.json');
  const admin = DEMO_USERS[0]!;
  let token: string | null = null;
  if (existsSync(tokenFile)) {
    const saved = (JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string }).token;
    const probe = new ApiClient(url);
    probe.token = saved;
    token = await probe.get('/api/v1/auth/me').then(() => saved, () => null);
  }
  if (!token) {
    const r = await createToken({ user: admin.username, name: 'Node-RED demo (npm run flows)', days: '30', controller: url }, admin.password);
    token = r.token;
    writeFileSync(tokenFile, JSON.stringify({ token, id: r.id, expiresAt: r.expiresAt }));
    chmodSync(tokenFile, 0o600);
    say(`made an API token for ${admin.username} (${r.id}, expires ${r.expiresAt})`);
  }

  // Every example flow, sharing one loa-config node pointed at this controller.
  const nodes = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(join(pkg.dir, 'examples')).sort()) {
    for (const n of JSON.parse(readFileSync(join(pkg.dir, 'examples', f), 'utf8')) as Record<string, unknown>[]) {
      nodes.set(String(n.id), n.type === 'loa-config' ? { ...n, url } : n.type === 'mqtt-broker' ? { ...n, port: String(sensorPort) } : n);
    }
  }
  writeFileSync(join(dir, 'flows.json'), JSON.stringify([...nodes.values()], null, 2));
  // Demo only: credentials in clear (credentialSecret false) so that the token can be written here; a real
  // installation enters the token in the editor, and Node-RED encrypts it.
  writeFileSync(join(dir, 'flows_cred.json'), JSON.stringify({ 'loa-demo-config': { token } }));
  chmodSync(join(dir, 'flows_cred.json'), 0o600);
  writeFileSync(join(dir, 'settings.js'), `module.exports = ${JSON.stringify({ uiPort: port, uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false, logging: { console: { level: 'info' } } }, null, 2)};\n`);

  const children: ChildProcess[] = [];
  if (spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0) {
    children.push(spawn('mosquitto', ['-p', String(sensorPort)], { stdio: 'ignore' }));
    say(`sensor MQTT broker (mosquitto) on 127.0.0.1:${sensorPort}`);
  }
  const red = createRequire(import.meta.url).resolve('node-red/red.js');
  const nr = spawn(process.execPath, [red, '-u', dir, '-s', join(dir, 'settings.js')], { stdio: 'inherit' });
  children.push(nr);
  console.log(`
  Node-RED editor:   http://127.0.0.1:${port}/
  Controller:        ${url} (flows use an API token of "${admin.username}", kept in ${tokenFile})
  Nodes:             palette section "loaphuong"; help (Vietnamese/English) in the editor's help tab
  Try the flood flow: mosquitto_pub -p ${sensorPort} -t sensors/water-level/TRAM-01 -m '{"stationId":"TRAM-01","levelCm":380}'
  Then see the order: ${url}/ (or GET /api/v1/emergency)
`);
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  nr.on('exit', (code) => {
    stop();
    process.exit(code ?? 0);
  });
}

main().catch((e: unknown) => {
  console.error(`[flows] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
