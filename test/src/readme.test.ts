import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[], opts: { signalAfter?: string; signal?: NodeJS.Signals } = {}) {
  return new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (opts.signalAfter && out.includes(opts.signalAfter)) {
        opts.signalAfter = undefined;
        child.kill(opts.signal);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}

describe('README', () => {
  it("the tour's code runs as printed and does what its comments say", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(code, 'README has a ```js tour block');
    // Written inside the repository so that '@ikc/kernel' resolves as it does for a user.
    const file = join(root, 'test', 'dist', 'readme-tour.mjs');
    writeFileSync(file, code);
    try {
      const { code: exit, out, err } = await run([file]);
      assert.equal(exit, 0, err);
      const lines = out.trim().split('\n');
      assert.equal(lines[0], '5');
      assert.equal(lines[1], '9');
      assert.ok(lines.includes('hello, world'), out);
      assert.ok(lines.includes('ticked 3 times'), out);
      assert.ok(
        lines.some((l) => l.startsWith('unregister ')),
        'the monitor saw sessions stop',
      );
      assert.equal(err, '', 'no unhandled errors');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('the mesh tour runs as printed: two host kernels and a leaf, over real sockets', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const code = blocks.find((b) => b.includes('@ikc/mesh'));
    assert.ok(code, 'README has a ```js block using @ikc/mesh');
    const file = join(root, 'test', 'dist', 'readme-mesh-tour.mjs');
    writeFileSync(file, code);
    try {
      const { code: exit, out, err } = await run([file]);
      assert.equal(exit, 0, err);
      assert.deepEqual(out.trim().split('\n'), ['5', '9', 'IKC_ERR_NOT_PUBLISHED']);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('npm start runs a kernel that Ctrl-C (SIGINT) shuts down gracefully', async () => {
    const { code, signal, out } = await run(['scripts/demo.mjs'], {
      signalAfter: 'tick 1,',
      signal: 'SIGINT',
    });
    assert.equal(signal, null);
    assert.equal(code, 0, out);
    assert.match(out, /ready: press Ctrl-C/);
    assert.match(out, /calc: got signal INT/);
    assert.match(out, /calc: stopped/);
    assert.match(out, /kernel: no session left, exiting/);
  });

  it('names both set-up commands, and package.json defines them', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm install && npm test/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.ok(pkg.scripts.start && pkg.scripts.test && pkg.scripts.bench);
  });
});
