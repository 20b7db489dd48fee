import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/scripts/flows/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface NodePackage {
  /** The assembled Node-RED package: install it with `npm install <dir>` in a Node-RED user folder. */
  dir: string;
  name: string;
  /** Node type → its compiled file, from the package's `node-red.nodes`. */
  nodes: Record<string, string>;
}

/**
 * Makes dist/flows a complete Node-RED package: tsc has already compiled flows/nodes/*.cts into
 * dist/flows/nodes/*.cjs; this adds package.json, the editor HTML beside each node, the help in locales/
 * (vi and en-US) and the example flows (Node-RED lists them under Import › Examples).
 */
export function assembleNodePackage(root = REPO_ROOT): NodePackage {
  const src = join(root, 'flows');
  const dir = join(root, 'dist', 'flows');
  const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')) as { name: string; 'node-red': { nodes: Record<string, string> } };
  for (const [type, file] of Object.entries(pkg['node-red'].nodes)) {
    if (!existsSync(join(dir, file))) throw new Error(`${type}: ${join(dir, file)} is missing; run the build (tsc) first`);
  }
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  cpSync(join(src, 'package.json'), join(dir, 'package.json'));
  for (const f of readdirSync(join(src, 'nodes')).filter((n) => n.endsWith('.html'))) cpSync(join(src, 'nodes', f), join(dir, 'nodes', f));
  cpSync(join(src, 'nodes', 'locales'), join(dir, 'nodes', 'locales'), { recursive: true });
  cpSync(join(src, 'examples'), join(dir, 'examples'), { recursive: true });
  return { dir, name: pkg.name, nodes: pkg['node-red'].nodes };
}
