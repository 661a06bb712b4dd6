import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '@ikc/wire';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('docs', () => {
  const table = Object.keys(ERROR_CODES);
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\|\s*`(IKC_ERR_[A-Z_]+)`/gm)].map((m) => m[1]));

  it('docs/errors.md has a row for every code in ERROR_CODES, and no other', () => {
    assert.deepEqual(
      table.filter((c) => !documented.has(c)),
      [],
      'codes missing from docs/errors.md',
    );
    assert.deepEqual(
      [...documented].filter((c) => !table.includes(c as string)),
      [],
      'codes in docs/errors.md that ERROR_CODES does not have',
    );
  });

  it('every IKC_ERR_ code the packages raise is in ERROR_CODES', () => {
    const used = new Set<string>();
    for (const pkg of readdirSync(join(root, 'packages'))) {
      const src = join(root, 'packages', pkg, 'src');
      try {
        statSync(src);
      } catch {
        continue;
      }
      for (const file of sources(src)) {
        for (const m of readFileSync(file, 'utf8').matchAll(/'(IKC_ERR_[A-Z_]+)'/g)) used.add(m[1] as string);
      }
    }
    assert.ok(used.size > 5, 'found the codes the packages use');
    assert.deepEqual(
      [...used].filter((c) => !table.includes(c)),
      [],
    );
  });
});
