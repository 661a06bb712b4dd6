#!/usr/bin/env node
// Runs each compiled benchmark (bench/dist/*.bench.js) in its own Node process, one after
// the other so they do not compete for the two cores. Usage: node scripts/bench.mjs [FILTER]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'bench', 'dist');
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && (!filter || f.includes(filter)))
  .sort();
console.log(`# ikc benchmarks\n\nnode ${process.version}, ${process.platform}/${process.arch}\n`);
let failed = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, ['--expose-gc', join(dir, file)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`benchmark ${file} failed with exit code ${r.status}`);
  }
}
process.exit(failed ? 1 : 0);
