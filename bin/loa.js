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
await import(entry);
