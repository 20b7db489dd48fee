import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InstallLayout } from '../../agent/update/layout.js';
import { writeLauncher } from '../../agent/update/launcher.js';
import { installFirst } from '../../agent/update/unpack.js';
import { LoaError } from '../../shared/errors.js';
import { INSTALL_DIR } from './provision.js';
import { inspectArtifact, signRelease, verifyArtifact } from '../lib/release-artifact.js';
import { passphraseSource, readKeyFile, requireRole, writeFileAtomic } from '../lib/keyfile.js';
import { buildRelease } from '../lib/release-build.js';
import { verifyInitialRoot } from '../../shared/trust.js';

const progress = (s: string): void => console.error(s);

export function registerRelease(program: Command): void {
  const r = program.command('release').description('Agent releases: build a self-contained artifact, sign it with the release key, verify it, install it (issue 11)');

  r.command('build')
    .description('Pack the agent as loaphuong-agent-<version>-linux-<arch>.tar.gz: compiled JS, bin, hardware profiles and production node_modules (no build step on the device)')
    .option('--version <semver>', 'release version (default: package.json version)')
    .option('--out <dir>', 'where to write the artifact', 'releases')
    .option('--arch <arch>', 'target architecture (must be this machine\'s: native modules are built here)', process.arch)
    .addHelpText('after', `
Needs a built checkout (npm run build). Copies the production dependencies from the local node_modules (no
network), leaving out what the agent never loads (the controller's packages, typescript) and other platforms'
prebuilt binaries, then runs the staged agent (\`loa agent --help\` and a selftest on the sim profile) before
packing. A release for another architecture must be built on a machine of that architecture.
Progress lines go to stderr; stdout is one JSON line {artifact, version, arch, sha256, size, files, packages}.`)
    .action(async (o: { version?: string; out: string; arch: string }) => {
      const res = await buildRelease({ source: INSTALL_DIR, out: o.out, arch: o.arch, progress, ...(o.version ? { version: o.version } : {}) });
      console.log(JSON.stringify(res));
    });

  r.command('sign')
    .description('Sign an artifact with a release key: writes <artifact>.release.json (signed metadata: version, arch, sha256, size)')
    .requiredOption('--key <file>', 'release.key (from `loa keys init`; it belongs on the build machine)')
    .option('--root <file>', 'root.json: refuse a key that is not in its release role')
    .option('--notes <text>', 'release notes carried in the signed metadata')
    .option('--passphrase-file <file>', 'passphrase of an encrypted key file')
    .argument('<artifact>', 'the .tar.gz from `loa release build`')
    .action(async (artifact: string, o: { key: string; root?: string; notes?: string; passphraseFile?: string }) => {
      const key = await readKeyFile(o.key, passphraseSource(o.passphraseFile ? { file: o.passphraseFile } : {}));
      if (o.root) requireRole(key, verifyInitialRoot(JSON.parse(readFileSync(o.root, 'utf8')), Date.now()), 'release');
      const info = await inspectArtifact(artifact);
      const env = signRelease(info, key.pem, o.notes ? { notes: o.notes } : {});
      const out = `${resolve(artifact)}.release.json`;
      writeFileAtomic(out, JSON.stringify(env, null, 2) + '\n', { overwrite: true });
      progress(`signed ${info.release.version} (${info.release.arch}) with ${key.keyid.slice(0, 12)}…: ${out}`);
      console.log(JSON.stringify({ release: out, version: env.signed.version, arch: env.signed.arch, sha256: env.signed.sha256, size: env.signed.size, keyid: key.keyid }));
    });

  r.command('verify')
    .description('Check an artifact against its signed metadata: release-role signatures of root.json, size and SHA-256')
    .requiredOption('--root <file>', 'root.json of the province')
    .option('--release <file>', 'the signed metadata (default: <artifact>.release.json)')
    .argument('<artifact>')
    .addHelpText('after', `
Exit 0 and a JSON line when it verifies; otherwise exit 1 with a coded reason: LOA_ERR_RELEASE_INVALID,
LOA_ERR_RELEASE_SIGNATURE, LOA_ERR_RELEASE_UNKNOWN_KEY (not a release key of this root), LOA_ERR_RELEASE_HASH.`)
    .action(async (artifact: string, o: { root: string; release?: string }) => {
      const rel = await verifyArtifact(artifact, o.release ?? `${artifact}.release.json`, o.root);
      console.log(JSON.stringify({ ok: true, version: rel.version, arch: rel.arch, sha256: rel.sha256, size: rel.size }));
    });

  r.command('install')
    .description('First install of a verified release on a device: <install-root>/releases/<v>, current → it, and the loa-launch launcher')
    .requiredOption('--install-root <dir>', 'e.g. /opt/loaphuong')
    .requiredOption('--root <file>', 'root.json of the province')
    .option('--release <file>', 'the signed metadata (default: <artifact>.release.json)')
    .argument('<artifact>')
    .addHelpText('after', `
Later versions arrive through the controller (deployments) and the agent's updater. Run the agent as
\`/bin/sh <install-root>/loa-launch agent run --data-dir … --profile …\` (what \`loa provision\` writes).`)
    .action(async (artifact: string, o: { installRoot: string; root: string; release?: string }) => {
      const rel = await verifyArtifact(artifact, o.release ?? `${artifact}.release.json`, o.root);
      if (rel.arch !== process.arch) throw new LoaError('LOA_ERR_RELEASE_ARCH', `release ${rel.version} is for ${rel.arch}; this machine is ${process.arch}`);
      const layout = new InstallLayout(resolve(o.installRoot));
      const dir = await installFirst(layout, artifact, { version: rel.version, arch: rel.arch });
      const launcher = writeLauncher(layout.root);
      progress(`installed ${rel.version} in ${dir}; current → releases/${rel.version}; launcher ${launcher}`);
      console.log(JSON.stringify({ installed: true, version: rel.version, dir, launcher, current: join(layout.root, 'current'), launcherExists: existsSync(launcher) }));
    });
}
