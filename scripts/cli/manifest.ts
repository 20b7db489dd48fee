import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { signEnvelope } from '../../shared/crypto.js';
import { checkReferences } from '../../agent/manifest/verify.js';
import { Manifest } from '../../shared/schemas/manifest.js';
import { checker } from '../../shared/validate.js';

const manifestChecker = checker(Manifest, 'LOA_ERR_MANIFEST_INVALID');

export function registerManifest(program: Command): void {
  const m = program.command('manifest').description('Device manifests: check and sign');
  m.command('sign')
    .description('Check an unsigned manifest (JSON) and sign its canonical form with one or more keys')
    .requiredOption('--in <file>', 'unsigned manifest JSON')
    .requiredOption('--key <file...>', 'private key file(s) of the schedule role')
    .requiredOption('--out <file>', 'where to write the signed manifest')
    .action((o: { in: string; key: string[]; out: string }) => {
      const body = manifestChecker.parse(JSON.parse(readFileSync(o.in, 'utf8')), `manifest ${o.in}`);
      checkReferences(body);
      const env = signEnvelope(body, o.key.map((k) => readFileSync(k, 'utf8')));
      writeFileSync(o.out, JSON.stringify(env, null, 2) + '\n');
      console.log(JSON.stringify({ out: o.out, version: body.version, deviceId: body.deviceId, signatures: env.signatures.length }));
    });
}
