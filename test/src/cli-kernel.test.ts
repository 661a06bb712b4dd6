// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in these strings is the config file's syntax (and session module source), not a template
// End-to-end tests of `ikc kernel`: the real binary, started from ~/.poe.conf, --config FILE
// or $POE_CONF, with flags overriding the file, stopped by SIGINT/SIGTERM, and refusing to
// start (exit 2, before listening) on bad session modules, bad config and insecure listening.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CALC_MODULE, CliSandbox, jsonLines, kernelConfig } from './harness/cli.js';
import { RawPeer } from './harness/raw-peer.js';

describe('ikc kernel', { concurrency: 3 }, () => {
  let box: CliSandbox;

  before(() => {
    box = new CliSandbox();
    mkdirSync(box.path('mods'));
    mkdirSync(box.path('conf'));
    mkdirSync(box.path('elsewhere'));
    copyFileSync(CALC_MODULE, box.path('mods', 'calc.mjs'));
    box.write(
      'elsewhere/extra.mjs',
      "export default { alias: 'extra', publish: ['hello'], events: { hello: (_ctx, who) => `hello ${who}` } };\n",
    );
  });

  after(() => box.cleanup());

  it('starts from ~/.poe.conf: banner on stdout, JSON logs on stderr, sessions relative to the file; SIGINT stops it with exit 0', async () => {
    const socket = box.path('home.sock');
    // Hand-written YAML, as a user would write it; the session path is relative to the file,
    // and the kernel runs in another directory to show it is not relative to the cwd.
    box.write(
      '.poe.conf',
      [
        'kernel:',
        '  name: homer',
        '  listen: 127.0.0.1:0',
        `  socket: ${socket}`,
        'cloud:',
        '  name: cli-home',
        '  mdns: false',
        'sessions: [ ./mods/calc.mjs ]',
        '',
      ].join('\n'),
    );
    const k = await box.startKernel([], { cwd: box.path('elsewhere') });
    const banner = k.stdout();
    assert.equal(k.name, 'homer', banner);
    assert.match(k.listen, /^127\.0\.0\.1:[1-9]\d*$/, 'the banner shows the ws address with the port bound');
    assert.equal(k.socket, socket, 'the banner shows the UNIX socket');
    assert.ok(banner.includes(box.path('.poe.conf')), `the banner names the config file:\n${banner}`);
    assert.match(banner, /calc \(add, mul, ping, fail\)/, 'the banner lists the session modules started');

    // stderr: pino's JSON lines, one per line.
    await k.waitFor('"kernel started"', { stream: 'stderr' });
    const lines = k.stderr().trim().split('\n');
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(typeof entry.level, 'number', line);
      assert.equal(typeof entry.time, 'number', line);
      assert.equal(typeof entry.msg, 'string', line);
    }
    const logs = jsonLines(k.stderr());
    assert.ok(
      logs.some((l) => l.msg === 'listening' && l.address === k.listen),
      'a log line for the ws listener',
    );
    assert.ok(
      logs.some((l) => l.msg === 'listening' && l.address === socket),
      'a log line for the socket',
    );
    assert.equal(statSync(socket).mode & 0o777, 0o600, 'the socket is for its user only');

    // The session module is running: the CLI, with the same ~/.poe.conf, reaches it.
    const r = await box.run(['call', 'poe:///calc/add', '2', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '5\n');

    const exit = await k.stop('SIGINT');
    assert.deepEqual(exit, { code: 0, signal: null }, k.stderr());
    const after = jsonLines(k.stderr());
    assert.ok(
      after.some((l) => l.signal === 'SIGINT'),
      `a log line says SIGINT stopped it:\n${k.stderr()}`,
    );
    assert.ok(
      after.some((l) => /stopped/.test(String(l.msg))),
      `a log line says it stopped:\n${k.stderr()}`,
    );
    assert.equal(existsSync(socket), false, 'the socket file is removed on a graceful stop');
  });

  it('starts from --config FILE (sessions relative to that file); SIGTERM stops it with exit 0', async () => {
    const file = box.writeConfig(
      'conf/by-flag.json',
      kernelConfig(box, 'byflag', { sessions: ['../mods/calc.mjs'] }),
    );
    const k = await box.startKernel(['--config', file]);
    assert.equal(k.name, 'byflag');
    assert.equal(k.socket, box.path('byflag.sock'));
    assert.ok(k.stdout().includes(file), 'the banner names the config file');
    const r = await box.run(['--config', file, 'call', 'poe:///calc/mul', '6', '7']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '42\n');

    const exit = await k.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, k.stderr());
    assert.ok(
      jsonLines(k.stderr()).some((l) => l.signal === 'SIGTERM'),
      `a log line says SIGTERM stopped it:\n${k.stderr()}`,
    );
    assert.equal(existsSync(k.socket), false);
  });

  it('takes --config before the verb too (`ikc --config FILE kernel`)', async () => {
    const file = box.writeConfig('conf/before-verb.json', kernelConfig(box, 'beforeverb'));
    const proc = box.spawn(['--config', file, 'kernel'], { timeoutMs: 30_000 });
    await proc.waitFor(/is running.*\n/);
    assert.match(proc.stdout(), /ikc kernel "beforeverb"/);
    assert.deepEqual(await proc.stop('SIGINT'), { code: 0, signal: null });
  });

  it('starts from $POE_CONF', async () => {
    const file = box.writeConfig('conf/by-env.json', kernelConfig(box, 'byenv'));
    const k = await box.startKernel([], { env: { POE_CONF: file } });
    assert.equal(k.name, 'byenv');
    assert.equal(k.socket, box.path('byenv.sock'));
    assert.ok(k.stdout().includes(file), 'the banner names the config file');
    assert.deepEqual(await k.stop('SIGINT'), { code: 0, signal: null });
  });

  it('as a service runs it: $POE_CONF and $POE_SECRET from the environment, secret: ${POE_SECRET}', async () => {
    const file = box.writeConfig('conf/service.json', {
      ...kernelConfig(box, 'service'),
      cloud: { name: 'cli-service', secret: '${POE_SECRET}', mdns: false },
    });
    const env = { POE_CONF: file, POE_SECRET: 'from the environment file' };
    const k = await box.startKernel([], { env });
    assert.equal(k.name, 'service');
    // The CLI with the same environment attaches (it proves the same secret) ...
    const ok = await box.run(['peers', '--json'], { env });
    assert.equal(ok.code, 0, ok.stderr);
    // ... without POE_SECRET it stops at the config, naming the variable (exit 2) ...
    const unset = await box.run(['peers'], { env: { POE_CONF: file } });
    assert.equal(unset.code, 2, unset.stderr);
    assert.match(unset.stderr, /POE_SECRET/);
    // ... and with another secret the kernel refuses it (exit 2).
    const wrong = await box.run(['peers'], { env: { ...env, POE_SECRET: 'guess' } });
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /IKC_ERR_AUTH/);
    assert.deepEqual(await k.stop('SIGTERM'), { code: 0, signal: null });
  });

  it('--name, --listen and --session override the file (--session relative to the cwd)', async () => {
    const file = box.writeConfig('conf/flags.json', {
      ...kernelConfig(box, 'filename'),
      kernel: { name: 'filename', listen: false, socket: box.path('flags.sock') },
    });
    const k = await box.startKernel(
      ['--config', file, '--name', 'flagged', '--listen', '127.0.0.1:0', '--session', './extra.mjs'],
      { cwd: box.path('elsewhere') },
    );
    assert.equal(k.name, 'flagged');
    assert.match(k.listen, /^127\.0\.0\.1:[1-9]\d*$/, `--listen overrides listen: false:\n${k.stdout()}`);
    const r = await box.run(['--config', file, 'call', 'poe:///extra/hello', 'world']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '"hello world"\n');
    const peers = await box.run(['--config', file, 'peers', '--json']);
    assert.equal(peers.code, 0, peers.stderr);
    const self = (JSON.parse(peers.stdout) as { name: string; state: string }[]).find(
      (p) => p.state === 'self',
    );
    assert.equal(self?.name, 'flagged');
    assert.deepEqual(await k.stop('SIGTERM'), { code: 0, signal: null });
  });

  it('SIGTERM ends the process promptly, even while a dropped peer link waits to resume', async () => {
    // A service manager waits for the process, not for the "kernel stopped" log line: once
    // the kernel has stopped, nothing may keep the process alive (here: the window in which a
    // dropped link may come back, mesh.resumeWindowMs, 10 s by default).
    const cloud = { name: 'cli-linger', secret: 'cli-linger-secret' };
    const file = box.writeConfig('conf/linger.json', kernelConfig(box, 'linger', { cloud }));
    const k = await box.startKernel(['--config', file]);
    const peer = await RawPeer.connect(k.listen, {
      cloud: cloud.name,
      secret: cloud.secret,
      kernelName: 'dropper',
    });
    peer.terminate(); // the TCP connection ends without a BYE: a dropped link
    await k.waitFor(/"peer":"dropper".*"link down"|"link down".*"peer":"dropper"/, { stream: 'stderr' });
    const started = Date.now();
    const exit = await k.stop('SIGTERM');
    const took = Date.now() - started;
    assert.deepEqual(exit, { code: 0, signal: null }, k.stderr());
    assert.ok(
      jsonLines(k.stderr()).some((l) => l.msg === 'kernel stopped'),
      k.stderr(),
    );
    assert.ok(took < 3_000, `the process exited ${took} ms after SIGTERM, long after "kernel stopped"`);
  });

  it('starts again after being killed (SIGKILL leaves a stale socket behind)', async () => {
    const file = box.writeConfig('conf/stale.json', kernelConfig(box, 'stale'));
    const first = await box.startKernel(['--config', file]);
    assert.deepEqual(await first.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
    assert.ok(existsSync(first.socket), 'the killed kernel left its socket file');
    const second = await box.startKernel(['--config', file]);
    const r = await box.run(['--config', file, 'peers', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await second.stop('SIGTERM'), { code: 0, signal: null });
  });

  describe('refuses to start, exit 2, before listening', { concurrency: 3 }, () => {
    /** Runs `ikc kernel` to the end and checks it never listened. */
    async function refused(args: string[], socketName: string, env: Record<string, string> = {}) {
      const r = await box.run(['kernel', ...args], { env });
      assert.equal(r.code, 2, `exit 2 expected:\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /is running/, 'no banner');
      assert.ok(
        !jsonLines(r.stderr).some((l) => l.msg === 'listening'),
        `it must not listen first:\n${r.stderr}`,
      );
      assert.equal(existsSync(box.path(socketName)), false, 'no socket was created');
      return r;
    }

    it('a session module that does not exist, naming its path', async () => {
      const file = box.writeConfig(
        'conf/missing.json',
        kernelConfig(box, 'missing', { sessions: ['../mods/nope.mjs'] }),
      );
      const r = await refused(['--config', file], 'missing.sock');
      assert.ok(r.stderr.includes(box.path('mods', 'nope.mjs')), r.stderr);
    });

    it('a session module with a syntax error, naming its path', async () => {
      box.write('mods/broken.mjs', 'export default { alias: "broken", events: {\n');
      const file = box.writeConfig(
        'conf/broken.json',
        kernelConfig(box, 'broken', { sessions: ['../mods/broken.mjs'] }),
      );
      const r = await refused(['--config', file], 'broken.sock');
      assert.ok(r.stderr.includes(box.path('mods', 'broken.mjs')), r.stderr);
    });

    it('a session module without a default export, naming its path', async () => {
      box.write('mods/nodefault.mjs', 'export const events = { x: () => 1 };\n');
      const file = box.writeConfig(
        'conf/nodefault.json',
        kernelConfig(box, 'nodefault', { sessions: ['../mods/nodefault.mjs'] }),
      );
      const r = await refused(['--config', file], 'nodefault.sock');
      assert.ok(r.stderr.includes(box.path('mods', 'nodefault.mjs')), r.stderr);
      assert.match(r.stderr, /default/);
    });

    it('a --session module that does not exist, naming its path', async () => {
      const file = box.writeConfig('conf/flagmissing.json', kernelConfig(box, 'flagmissing'));
      const r = await refused(['--config', file, '--session', './mods/absent.mjs'], 'flagmissing.sock');
      assert.ok(r.stderr.includes(box.path('mods', 'absent.mjs')), r.stderr);
    });

    it('a config file with an unknown key, naming the file and the key', async () => {
      const file = box.writeConfig('conf/unknown-key.json', {
        ...kernelConfig(box, 'unknownkey'),
        cloud: { name: 'x', secrett: 'typo' },
      });
      const r = await refused(['--config', file], 'unknownkey.sock');
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /cloud\.secrett/);
    });

    it('a config file with a wrong type, naming the file and the key', async () => {
      const file = box.writeConfig('conf/wrong-type.json', {
        kernel: { name: 'wrongtype', listen: 6603, socket: box.path('wrongtype.sock') },
      });
      const r = await refused(['--config', file], 'wrongtype.sock');
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /kernel\.listen/);
    });

    it('a ${VAR} that is not set, naming the file, the key and the variable', async () => {
      const file = box.writeConfig('conf/unset-var.json', {
        ...kernelConfig(box, 'unsetvar'),
        cloud: { name: 'x', secret: '${IKC_TEST_UNSET_SECRET}' },
      });
      const r = await refused(['--config', file], 'unsetvar.sock');
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /cloud\.secret/);
      assert.match(r.stderr, /IKC_TEST_UNSET_SECRET/);
    });

    it('a bad --listen flag, naming the key', async () => {
      const file = box.writeConfig('conf/badlisten.json', kernelConfig(box, 'badlisten'));
      const r = await refused(['--config', file, '--listen', 'nowhere'], 'badlisten.sock');
      assert.match(r.stderr, /kernel\.listen/);
    });

    it('--config naming a file that does not exist', async () => {
      const file = box.path('conf', 'absent.yaml');
      const r = await refused(['--config', file], 'absent.sock');
      assert.ok(r.stderr.includes(file), r.stderr);
    });

    it('listening beyond loopback without a secret: IKC_ERR_INSECURE_LISTEN', async () => {
      const file = box.writeConfig(
        'conf/insecure.json',
        kernelConfig(box, 'insecure', { cloud: { secret: '' } }),
      );
      const r = await refused(['--config', file, '--listen', '0.0.0.0:0'], 'insecure.sock');
      assert.match(r.stderr, /IKC_ERR_INSECURE_LISTEN/);
      assert.match(r.stderr, /0\.0\.0\.0:0/);
    });

    it('listening beyond loopback in the file without a secret: IKC_ERR_INSECURE_LISTEN', async () => {
      const file = box.writeConfig('conf/insecure-file.json', {
        kernel: { name: 'insecurefile', listen: '0.0.0.0:0', socket: box.path('insecurefile.sock') },
        cloud: { mdns: false },
      });
      const r = await refused(['--config', file], 'insecurefile.sock');
      assert.match(r.stderr, /IKC_ERR_INSECURE_LISTEN/);
    });
  });
});
