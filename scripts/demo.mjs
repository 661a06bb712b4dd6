#!/usr/bin/env node
// `npm run demo`: three host kernels on this machine (alpha, beta, gamma, each an `ikc
// kernel` process with its own config file), then the ikc verbs between them, then a
// graceful shutdown. Everything runs on loopback and in a temporary directory.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ikc = join(root, 'packages', 'cli', 'dist', 'src', 'main.js');
const calc = join(root, 'examples', 'calc.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ikc-demo-'));
const env = { ...process.env, HOME: dir, POE_LOG: 'warn', DEMO_SECRET: 'demo secret, shared by the cloud' };
delete env.POE_CONF;
const say = (line = '') => process.stdout.write(`${line}\n`);

function config(name, port, seeds, sessions) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'kernel:',
      `  name: ${name}`,
      `  listen: 127.0.0.1:${port}`,
      `  socket: ${join(dir, `${name}.sock`)}`,
      'cloud:',
      '  name: demo',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ~/.poe.conf expands ${VAR} itself.
      '  secret: ${DEMO_SECRET}',
      `  seeds: [${seeds.map((s) => `"ws://127.0.0.1:${s}"`).join(', ')}]`,
      `sessions: [${sessions.map((s) => `"${s}"`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  return file;
}

function startKernel(name, file) {
  const child = spawn(process.execPath, [ikc, 'kernel', '--config', file], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes('Ctrl-C stops it')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`kernel ${name} exited (${code}) before it was ready`)));
  });
}

function run(args, file) {
  say(`$ ikc ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [ikc, '--config', file, ...args], { env, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(r.stderr);
  say(`(exit ${r.status})`);
  say();
  return r.status;
}

const ports = [16603, 16604, 16605];
const files = {
  alpha: config('alpha', ports[0], [], []),
  beta: config('beta', ports[1], [ports[0]], [calc]),
  gamma: config('gamma', ports[2], [ports[0], ports[1]], [calc]),
};
const kernels = [];
try {
  say(`Starting three kernels (configs in ${dir}):`);
  for (const name of ['alpha', 'beta', 'gamma']) {
    kernels.push(await startKernel(name, files[name]));
    say(`  ${name} is up`);
  }
  say();
  say("Everything below runs from alpha's side: the CLI attaches to alpha as a leaf kernel.");
  say();
  run(['peers'], files.alpha);
  run(['ls', 'beta'], files.alpha);
  run(['call', 'poe://beta/calc/add', '2', '3'], files.alpha);
  run(['call', 'poe://*/calc/mul', '6', '7'], files.alpha);
  run(['post', 'poe://gamma/calc/add', '1', '1'], files.alpha);
  run(['call', 'poe://gamma/calc/fail', '"on purpose"'], files.alpha);
  run(['call', 'poe://beta/calc/secret'], files.alpha);
} finally {
  say('Stopping the kernels (SIGTERM: sessions stop, peers are told, sockets removed).');
  await Promise.all(
    kernels.map(
      (child) =>
        new Promise((resolve) => {
          child.on('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
  say('Done.');
}
