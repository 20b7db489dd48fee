import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * `loa agent run` is the receiver's long-lived process, and it starts from the same CLI entry as every other
 * `loa` command, so whatever the CLI imports statically sits in the receiver's memory for weeks. Commands that
 * need the controller, the simulator, Node-RED or a browser load them with `await import()` when they run.
 * This walks the static import graph of the compiled CLI (type-only imports are erased by tsc) and names the
 * path to anything that must stay out.
 */
const DIST = resolve(process.cwd(), 'dist');
const ENTRY = join(DIST, 'scripts', 'loa.js');
const FORBIDDEN_DIRS = ['controller', 'agent/sim', 'agent/display', 'flows', 'bench'].map((d) => join(DIST, d) + '/');
// controller/keys.js only reads key files and checks the root chain (shared code): `loa keys` uses it offline.
const ALLOWED = new Set([join(DIST, 'controller', 'keys.js')]);
const FORBIDDEN_PACKAGES = ['fastify', 'aedes', 'exceljs', 'fast-xml-parser', 'playwright-core', 'node-red', '@roamhq/wrtc', 'qrcode', 'mqtt', 'serialport', 'modbus-serial', 'koffi'];

const STATIC = /^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

function staticImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(STATIC)].map((m) => m[1]!);
}

test('the loa CLI (and so `loa agent run`) loads no controller, simulator, board or heavy package module at start-up', () => {
  assert.ok(existsSync(ENTRY), 'built CLI present');
  const parent = new Map<string, string>();
  const queue = [ENTRY];
  const seen = new Set(queue);
  const problems: string[] = [];
  const chain = (f: string): string => {
    const out = [relative(DIST, f)];
    for (let p = parent.get(f); p; p = parent.get(p)) out.unshift(relative(DIST, p));
    return out.join(' → ');
  };
  while (queue.length) {
    const file = queue.shift()!;
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (seen.has(target)) continue;
        seen.add(target);
        parent.set(target, file);
        if (FORBIDDEN_DIRS.some((d) => target.startsWith(d)) && !ALLOWED.has(target)) problems.push(chain(target));
        else queue.push(target);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (FORBIDDEN_PACKAGES.includes(pkg)) problems.push(`${chain(file)} → ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(seen.size > 20, `walked ${seen.size} modules`);
});
