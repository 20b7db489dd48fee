import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { generateKeyPair, signEnvelope, publicKeyFromPrivatePem } from '../../shared/crypto.js';
import type { RootMetadata } from '../../shared/schemas/root.js';

export interface KeySet {
  dir: string;
  rootKeys: string[];
  schedule: string;
  emergency: string;
  root: RootMetadata;
}

/** Makes k-of-n root keys and the online schedule/emergency keys, and a root.json signed by the threshold. */
export function initKeys(dir: string, n: number, k: number, years = 10, progress: (s: string) => void = () => undefined): KeySet {
  if (!(k >= 1 && k <= n && n <= 16)) throw new Error(`threshold ${k} of ${n} is not possible (1 ≤ k ≤ n ≤ 16)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(join(dir, 'root.json'))) throw new Error(`${dir} already holds root.json; refusing to overwrite keys`);
  const write = (name: string, pem: string): string => {
    const p = join(dir, name);
    writeFileSync(p, pem, { mode: 0o600, flag: 'wx' });
    progress(`wrote ${p}`);
    return p;
  };
  const roots = Array.from({ length: n }, () => generateKeyPair());
  const schedule = generateKeyPair();
  const emergency = generateKeyPair();
  const keys: RootMetadata['keys'] = {};
  for (const kp of [...roots, schedule, emergency]) keys[kp.keyid] = { keytype: 'ed25519', public: kp.publicKey };
  const expires = new Date(Date.now() + years * 365 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const root: RootMetadata = {
    _type: 'root', version: 1, expires, keys,
    roles: {
      root: { keyids: roots.map((r) => r.keyid), threshold: k },
      schedule: { keyids: [schedule.keyid], threshold: 1 },
      emergency: { keyids: [emergency.keyid], threshold: 1 },
    },
    revokedKeys: [], revokedDevices: [],
  };
  const rootKeys = roots.map((r, i) => write(`root-${i + 1}.key`, r.privateKeyPem));
  const env = signEnvelope(root, roots.slice(0, k).map((r) => r.privateKeyPem));
  writeFileSync(join(dir, 'root.json'), JSON.stringify(env, null, 2) + '\n');
  progress(`wrote ${join(dir, 'root.json')} (version 1, ${k}-of-${n} root, expires ${expires})`);
  return { dir, rootKeys, schedule: write('schedule.key', schedule.privateKeyPem), emergency: write('emergency.key', emergency.privateKeyPem), root };
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('Offline key ceremony: root keys (k-of-n) and online keys');
  keys
    .command('init')
    .description('Make root keys (k-of-n Ed25519), the schedule and emergency keys, and a signed root.json')
    .requiredOption('--out <dir>', 'folder for the key files (keep it offline)')
    .option('--count <n>', 'number of root keys', '3')
    .option('--threshold <k>', 'root signatures needed', '2')
    .option('--years <y>', 'root metadata validity in years', '10')
    .action((o: { out: string; count: string; threshold: string; years: string }) => {
      const set = initKeys(o.out, Number(o.count), Number(o.threshold), Number(o.years), (s) => console.error(s));
      console.log(JSON.stringify({ root: join(set.dir, 'root.json'), version: set.root.version, rootThreshold: set.root.roles.root.threshold }));
    });
  keys
    .command('show')
    .description('Print the key id of a private key file')
    .argument('<keyfile>')
    .action((f: string) => console.log(JSON.stringify(publicKeyFromPrivatePem(readFileSync(f, 'utf8')))));
}
