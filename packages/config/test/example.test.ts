import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IkcError } from '@ikc/wire';
import { defaultLoaders } from 'cosmiconfig';
import { COMPUTED_KEYS, configSchema, DEFAULTS, loadConfig, OPTIONAL_KEYS } from '../src/index.js';

// Compiled to packages/config/dist/test/, four levels below the repository root.
const EXAMPLE = fileURLToPath(new URL('../../../../poe.conf.example', import.meta.url));

const scratch = mkdtempSync(join(tmpdir(), 'ikc-config-example-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

type Tree = Record<string, unknown>;

function isMapping(value: unknown): value is Tree {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Dotted paths of every leaf of a plain object tree (arrays and scalars are leaves). */
function leafPaths(tree: Tree, prefix: string[] = []): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    isMapping(v) ? leafPaths(v, [...prefix, k]) : [[...prefix, k].join('.')],
  );
}

/** The value at a dotted path. */
function at(tree: Tree, path: string): unknown {
  return path.split('.').reduce<unknown>((node, k) => (isMapping(node) ? node[k] : undefined), tree);
}

/** What a zod 4 schema looks like inside, as far as walking it needs. */
interface ZodInside {
  _zod: { def: { type: string; innerType?: ZodInside; shape?: Record<string, ZodInside> } };
}

/** Dotted paths of every leaf key of a zod object schema, through default/prefault/optional. */
function schemaPaths(schema: ZodInside, prefix: string[] = []): string[] {
  let s = schema;
  while (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(s._zod.def.type)) {
    const inner = s._zod.def.innerType;
    assert.ok(inner, `a ${s._zod.def.type} wrapper without an inner type at ${prefix.join('.')}`);
    s = inner;
  }
  if (s._zod.def.type === 'object' && s._zod.def.shape) {
    return Object.entries(s._zod.def.shape).flatMap(([k, v]) => schemaPaths(v, [...prefix, k]));
  }
  return [prefix.join('.')];
}

/** The example, parsed by the YAML loader cosmiconfig itself uses (js-yaml). */
function parseExample(): { text: string; tree: Tree } {
  const text = readFileSync(EXAMPLE, 'utf8');
  const tree = defaultLoaders['.yaml'](EXAMPLE, text) as unknown;
  assert.ok(isMapping(tree), 'poe.conf.example must hold a mapping');
  return { text, tree };
}

const sorted = (paths: string[]) => [...paths].sort();
const defaultsTree = DEFAULTS as unknown as Tree;

describe('poe.conf.example, the schema and DEFAULTS stay in step', () => {
  it('poe.conf.example loads and validates', async () => {
    const loaded = await loadConfig({
      file: EXAMPLE,
      env: {},
      home: scratch,
      systemFile: join(scratch, 'none'),
    });
    assert.equal(loaded.file, EXAMPLE);
  });

  it('the schema has exactly the keys of DEFAULTS, and the optional keys that have none', () => {
    assert.deepEqual(
      sorted(schemaPaths(configSchema as unknown as ZodInside)),
      sorted([...leafPaths(defaultsTree), ...OPTIONAL_KEYS]),
    );
  });

  it('poe.conf.example shows every optional key, commented out, under its section', () => {
    const { text } = parseExample();
    for (const path of OPTIONAL_KEYS) {
      const [section, ...rest] = path.split('.');
      const block = text.slice(text.indexOf(`\n${section}:\n`));
      let from = 0;
      rest.forEach((key, depth) => {
        const at = block.slice(from).search(new RegExp(`\\n  #${' '.repeat(1 + 2 * depth)}${key}:`));
        assert.ok(at >= 0, `poe.conf.example lacks "# ${key}:" for ${path}`);
        from += at + 1;
      });
    }
  });

  it('poe.conf.example has exactly the keys of DEFAULTS', () => {
    const { tree } = parseExample();
    assert.deepEqual(sorted(leafPaths(tree)), sorted(leafPaths(defaultsTree)));
  });

  it('every computed key is one of DEFAULTS', () => {
    const paths = leafPaths(defaultsTree);
    for (const key of COMPUTED_KEYS) assert.ok(paths.includes(key), key);
  });

  it('poe.conf.example gives every non-computed key its DEFAULTS value', () => {
    const { tree } = parseExample();
    for (const path of leafPaths(defaultsTree)) {
      if (COMPUTED_KEYS.includes(path)) continue;
      assert.deepEqual(at(tree, path), at(defaultsTree, path), path);
    }
  });

  it('the schema fills in the DEFAULTS value for every non-computed key, and leaves computed ones to load', () => {
    const filled = configSchema.parse({}) as unknown as Tree;
    for (const path of leafPaths(defaultsTree)) {
      if (COMPUTED_KEYS.includes(path)) assert.equal(at(filled, path), undefined, path);
      else assert.deepEqual(at(filled, path), at(defaultsTree, path), path);
    }
  });

  it('loading the example gives DEFAULTS for every non-computed key', async () => {
    const { config } = await loadConfig({
      file: EXAMPLE,
      env: {},
      home: scratch,
      systemFile: join(scratch, 'none'),
    });
    for (const path of leafPaths(defaultsTree)) {
      if (!COMPUTED_KEYS.includes(path))
        assert.deepEqual(at(config as unknown as Tree, path), at(defaultsTree, path), path);
    }
  });

  it('a file with every DEFAULTS key (computed ones given values) validates and round-trips', async () => {
    const all = structuredClone(DEFAULTS) as unknown as Tree & typeof DEFAULTS;
    all.kernel.name = 'alpha';
    all.kernel.socket = '/tmp/ikc/alpha.sock';
    all.jobs.maxProc = 3;
    const file = join(scratch, 'all.json');
    writeFileSync(file, JSON.stringify(all));
    const { config } = await loadConfig({ file, env: {} });
    assert.deepEqual(config, all);
  });

  it('the schema refuses an extra key at every level', async () => {
    const levels = [[], ...leafPaths(defaultsTree).map((p) => p.split('.').slice(0, -1))].filter(
      (level, i, all) => all.findIndex((l) => l.join('.') === level.join('.')) === i,
    );
    assert.ok(levels.length >= 6, 'the top level and the sections kernel, cloud, jobs, log, mesh');
    for (const level of levels) {
      const tree: Tree = {};
      let node = tree;
      for (const k of level) node = node[k] = {};
      node.notAKey = 1;
      const file = join(scratch, `extra-${level.join('-') || 'top'}.json`);
      writeFileSync(file, JSON.stringify(tree));
      const key = [...level, 'notAKey'].join('.');
      await assert.rejects(loadConfig({ file, env: {} }), (err: unknown) => {
        assert.ok(IkcError.is(err, 'IKC_ERR_CONFIG'));
        assert.equal((err as Error).message, `${file}: ${key}: unknown key (${key}); see poe.conf.example`);
        return true;
      });
    }
  });

  it('every key in poe.conf.example has a comment, computed ones say how their default is computed', () => {
    const { text } = parseExample();
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z]+):\s*(\S.*)?$/.exec(line);
      if (!m) return;
      const hasValue = m[3] !== undefined && !m[3].startsWith('#');
      if (!hasValue) return; // a section heading
      const commented = line.includes(' # ') || /^\s*#/.test(lines[i - 1] ?? '');
      assert.ok(commented, `line ${i + 1} of poe.conf.example has no comment: ${line}`);
    });
    for (const key of COMPUTED_KEYS) {
      const leaf = key.split('.').pop() as string;
      const line = lines.find((l) => new RegExp(`^\\s+${leaf}:`).test(l));
      assert.ok(line?.includes('# default: '), `${key} in poe.conf.example needs "# default: ..."`);
    }
  });

  it('poe.conf.example explains every key it shows, and none is left "not acted on"', () => {
    const { text } = parseExample();
    const lines = text.split('\n');
    assert.doesNotMatch(text, /not acted on/i);
    for (const leaf of ['mdns', 'allow', 'maxProc', 'killOrphans']) {
      const i = lines.findIndex((l) => new RegExp(`^\\s+${leaf}:`).test(l));
      assert.ok(i > 0, leaf);
      assert.match(lines[i - 1] as string, /^\s+#/, `${leaf} has a comment above it`);
    }
  });
});
