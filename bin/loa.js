#!/usr/bin/env node
// The `loa` command. It runs the compiled CLI from dist/ (built by `npm install` through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'scripts', 'loa.js');
if (!existsSync(entry)) {
  console.error('loa: the compiled CLI is missing (dist/scripts/loa.js). Run `npm install` or `npm run build` in ' + root);
  process.exit(1);
}
// `loa agent run --data-dir D --profile P` starts the agent without loading the rest of the CLI (a receiver
// restarting after a power cut must be playing again within 2 s): scripts/cli/agent-run.ts.
const fast = process.argv[2] === 'agent' && process.argv[3] === 'run'
  ? await import(join(root, 'dist', 'scripts', 'cli', 'agent-run.js')).then((m) => ({ m, args: m.agentRunArgs(process.argv.slice(4)) }))
  : null;
if (fast?.args) fast.m.runAgentMain(fast.args);
else await import(entry);
