import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(
  args: string[],
  opts: { signalAfter?: string; signal?: NodeJS.Signals; env?: NodeJS.ProcessEnv } = {},
) {
  return new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
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
      assert.deepEqual(out.trim().split('\n'), ['5', '9', 'IKC_ERR_NOT_PUBLISHED', '42 on sh beta']);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('npm start runs a host kernel with a demo session that ikc reaches, and Ctrl-C stops it gracefully', async () => {
    // As a user would run it: npm start, with a HOME and runtime dir of its own.
    const home = mkdtempSync(join(tmpdir(), 'ikc-start-'));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_RUNTIME_DIR: home, POE_LOG: 'info' };
    delete env.POE_CONF;
    const child = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    try {
      for (let i = 0; i < 200 && !out.includes('Ctrl-C stops it gracefully'); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(out, /ikc kernel ".+" \(id .+\) is running, listening on ws:\/\/127\.0\.0\.1:6603/);
      assert.match(out, /npx ikc call poe:\/\/\/calc\/add 2 3/);
      const call = await run(
        [join(root, 'packages', 'cli', 'dist', 'src', 'main.js'), 'call', 'poe:///calc/add', '2', '3'],
        { env },
      );
      assert.equal(call.out, '5\n', call.err);
      assert.match(readFileSync(join(root, 'README.md'), 'utf8'), /npx ikc fork -- sh -c 'echo hi; exit 3'/);
      const fork = await run(
        [
          join(root, 'packages', 'cli', 'dist', 'src', 'main.js'),
          'fork',
          '--',
          'sh',
          '-c',
          'echo hi; exit 3',
        ],
        { env },
      );
      assert.equal(fork.out, 'hi\n', fork.err);
      assert.equal(fork.code, 3);
      process.kill(-(child.pid as number), 'SIGINT'); // the process group, as Ctrl-C in a terminal
      await exited; // npm itself dies of the SIGINT, as in a terminal; the kernel stops gracefully:
      assert.match(err, /"signal":"SIGINT","msg":"shutting down"/);
      assert.match(err, /"msg":"kernel stopped"/);
    } finally {
      if (child.exitCode === null && child.signalCode === null)
        process.kill(-(child.pid as number), 'SIGKILL');
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('npm run demo runs three kernels, shows the verbs between them, and exits 0', async () => {
    const demo = spawnSync('npm', ['run', 'demo', '--silent'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(demo.status, 0, demo.stderr);
    for (const line of [
      '$ ikc peers',
      '$ ikc call poe://beta/calc/add 2 3\n5\n(exit 0)',
      'IKC_ERR_NOT_PUBLISHED',
      'Done.',
    ]) {
      assert.ok(demo.stdout.includes(line), `demo output has "${line}":\n${demo.stdout}`);
    }
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
