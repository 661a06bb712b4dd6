#!/usr/bin/env node
// After `tsc -b`: make the packages' bin files executable. tsc writes them as plain files,
// and npm sets the bit only when it links a bin, which happens before the first build.
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const pkg of readdirSync(join(root, 'packages'))) {
  const manifest = join(root, 'packages', pkg, 'package.json');
  if (!existsSync(manifest)) continue;
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8'));
  for (const file of Object.values(typeof bin === 'string' ? { bin } : (bin ?? {}))) {
    const path = join(root, 'packages', pkg, file);
    if (existsSync(path)) chmodSync(path, 0o755);
  }
}
