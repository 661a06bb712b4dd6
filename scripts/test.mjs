#!/usr/bin/env node
// Runs every package's unit tests and the cross-package tests in test/ (compiled by
// `tsc -b` into dist/), then prints a one-line summary. Usage: node scripts/test.mjs [FILTER]
// where FILTER is a substring of the test file paths to run. Fails, naming them, when the
// tests leave files or directories of theirs (`ikc-*`) behind in the system's temp dir.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filter = process.argv[2];

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = [];
for (const pkg of readdirSync(join(root, 'packages')))
  walk(join(root, 'packages', pkg, 'dist', 'test'), files);
walk(join(root, 'test', 'dist'), files);
const chosen = files
  .map((f) => relative(root, f))
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (chosen.length === 0) {
  console.error(`no test files found${filter ? ` matching "${filter}"` : ''}; did "tsc -b" run?`);
  process.exit(1);
}

/** The tests' own entries in the temp dir (the netns labs' registry is meant to stay). */
const scratch = () =>
  new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('ikc-') && name !== 'ikc-netns-labs'));
const before = scratch();

const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...chosen,
  ],
  { cwd: root, stdio: 'inherit' },
);
const left = [...scratch()].filter((name) => !before.has(name));
if (left.length > 0) {
  console.error(`the tests left ${left.length} entries behind in ${tmpdir()}: ${left.join(', ')}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
