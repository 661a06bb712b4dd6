// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in these strings is the config file's syntax (and session module source), not a template
// End-to-end tests of `ikc` that need no running kernel: --help, bad usage (exit 2), bad
// configuration for the client verbs (exit 2, naming file and key), where the configuration
// comes from (--config, $POE_CONF, ~/.poe.conf), and "no kernel running" (exit 3, saying
// where the CLI looked and why there).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CliSandbox } from './harness/cli.js';

/** Every verb, with the arguments it needs to get as far as attaching to a kernel. */
const CLIENT_VERBS: string[][] = [
  ['call', 'poe:///calc/add', '1', '2'],
  ['post', 'poe:///calc/add', '1', '2'],
  ['peers'],
  ['ls'],
  ['monitor'],
];

describe('ikc usage, configuration and no kernel', { concurrency: 2 }, () => {
  let box: CliSandbox;

  before(() => {
    box = new CliSandbox();
  });

  after(() => box?.cleanup());

  /** A fresh $HOME in the sandbox holding this ~/.poe.conf (text); returns the env to use. */
  function home(name: string, poeConf: string | undefined): { HOME: string; file: string } {
    const dir = box.path(name);
    mkdirSync(dir);
    const file = `${dir}/.poe.conf`;
    if (poeConf !== undefined) box.write(`${name}/.poe.conf`, poeConf);
    return { HOME: dir, file };
  }

  describe('--help and bad usage', { concurrency: 2 }, () => {
    it('--help on ikc and on every verb exits 0 and shows its usage', async () => {
      const top = await box.run(['--help']);
      assert.equal(top.code, 0, top.stderr);
      assert.match(top.stdout, /^Usage: ikc \[options\] \[command\]/);
      for (const verb of ['kernel', 'post', 'call', 'peers', 'ls', 'monitor']) {
        assert.match(top.stdout, new RegExp(`^\\s+${verb}\\b`, 'm'), `ikc --help lists ${verb}`);
      }
      assert.match(top.stdout, /--config <file>/);
      assert.match(top.stdout, /--kernel <url>/);
      assert.match(top.stdout, /--timeout <seconds>/);
      const usages: Record<string, RegExp> = {
        kernel: /--name <name>[\s\S]*--listen <host:port>[\s\S]*--session <module>/,
        post: /<spec> \[args\.\.\.\]/,
        call: /<spec> \[args\.\.\.\]/,
        peers: /--json/,
        ls: /\[kernel\][\s\S]*--json/,
        monitor: /--json/,
      };
      const results = await Promise.all(
        Object.keys(usages).map(async (verb) => [verb, await box.run([verb, '--help'])] as const),
      );
      for (const [verb, r] of results) {
        assert.equal(r.code, 0, `${verb} --help: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^Usage: ikc ${verb} `), `${verb} --help`);
        assert.match(r.stdout, usages[verb] as RegExp, `${verb} --help:\n${r.stdout}`);
      }
    });

    it('ikc help VERB works like VERB --help', async () => {
      const r = await box.run(['help', 'call']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: ikc call /);
    });

    it('an unknown verb exits 2 and says so', async () => {
      const r = await box.run(['frobnicate']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command 'frobnicate'/);
    });

    it('an unknown option exits 2 and says so, for every verb', async () => {
      const results = await Promise.all(
        [
          ['--frob'],
          ...[['kernel'], ['post', 'poe:///a/b'], ['call', 'poe:///a/b'], ['peers'], ['ls'], ['monitor']].map(
            (v) => [...v, '--frob'],
          ),
        ].map((args) => box.run(args)),
      );
      for (const r of results) {
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /unknown option '--frob'/);
      }
    });

    it('a missing SPEC, or too many arguments, exits 2', async () => {
      const results = await Promise.all([
        box.run(['call']),
        box.run(['post']),
        box.run(['ls', 'alpha', 'beta']),
        box.run(['peers', 'extra']),
      ]);
      for (const r of results) assert.equal(r.code, 2, r.stderr);
      assert.match(results[0]?.stderr ?? '', /missing required argument 'spec'/);
      assert.match(results[1]?.stderr ?? '', /missing required argument 'spec'/);
      assert.match(results[2]?.stderr ?? '', /too many arguments/);
    });
  });

  describe('no kernel running: exit 3, saying where it looked', { concurrency: 2 }, () => {
    it('every verb, with kernel.socket from ~/.poe.conf', async () => {
      const socket = box.path('nobody-home.sock');
      const { HOME, file } = home('nokernel', `kernel:\n  socket: ${socket}\n`);
      const results = await Promise.all(
        CLIENT_VERBS.map(async (args) => [args[0], await box.run(args, { env: { HOME } })] as const),
      );
      for (const [verb, r] of results) {
        assert.equal(r.code, 3, `${verb}: ${r.stderr}`);
        assert.equal(r.stdout, '', `${verb} prints nothing on stdout`);
        assert.ok(r.stderr.includes(socket), `${verb} names the socket: ${r.stderr}`);
        assert.ok(
          r.stderr.includes(`kernel.socket from ${file}`),
          `${verb} says where it came from: ${r.stderr}`,
        );
        assert.match(r.stderr, /ikc kernel/, `${verb} suggests starting a kernel`);
      }
    });

    it('with no config file at all: the default socket, under $XDG_RUNTIME_DIR/ikc', async () => {
      const { HOME } = home('noconf', undefined);
      const r = await box.run(['peers'], { env: { HOME, XDG_RUNTIME_DIR: HOME } });
      assert.equal(r.code, 3, r.stderr);
      assert.ok(r.stderr.includes(`${HOME}/ikc/`), r.stderr);
      assert.match(r.stderr, /kernel\.socket from the defaults/);
    });

    it('--kernel SOCKET and --kernel ws://HOST:PORT that nobody answers', async () => {
      const socket = box.path('nobody.sock');
      const [unix, ws] = await Promise.all([
        box.run(['--kernel', socket, 'ls']),
        box.run(['--kernel', 'ws://127.0.0.1:1', 'call', 'poe:///calc/add', '1', '2']),
      ]);
      assert.equal(unix.code, 3, unix.stderr);
      assert.ok(unix.stderr.includes(socket), unix.stderr);
      assert.match(unix.stderr, /--kernel/);
      assert.equal(ws.code, 3, ws.stderr);
      assert.match(ws.stderr, /ws:\/\/127\.0\.0\.1:1/);
    });

    it('kernel.socket: false and no --kernel exits 2, saying to give --kernel', async () => {
      const { HOME, file } = home('nosocket', 'kernel:\n  socket: false\n');
      const r = await box.run(['peers'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /--kernel/);
    });
  });

  describe('where the configuration comes from', { concurrency: 2 }, () => {
    it('--config FILE, else $POE_CONF, else ~/.poe.conf (first found wins)', async () => {
      const { HOME } = home('precedence', `kernel:\n  socket: ${box.path('from-home.sock')}\n`);
      const envFile = box.write('from-env.yaml', `kernel:\n  socket: ${box.path('from-env.sock')}\n`);
      const flagFile = box.write(
        'from-flag.json',
        JSON.stringify({ kernel: { socket: box.path('from-flag.sock') } }),
      );
      const [flag, env, homeOnly] = await Promise.all([
        box.run(['--config', flagFile, 'peers'], { env: { HOME, POE_CONF: envFile } }),
        box.run(['peers'], { env: { HOME, POE_CONF: envFile } }),
        box.run(['peers'], { env: { HOME } }),
      ]);
      assert.equal(flag.code, 3, flag.stderr);
      assert.match(flag.stderr, /from-flag\.sock \(kernel\.socket from .*from-flag\.json\)/);
      assert.equal(env.code, 3, env.stderr);
      assert.match(env.stderr, /from-env\.sock \(kernel\.socket from .*from-env\.yaml\)/);
      assert.equal(homeOnly.code, 3, homeOnly.stderr);
      assert.match(homeOnly.stderr, /from-home\.sock \(kernel\.socket from .*\.poe\.conf\)/);
    });

    it('${VAR} in a value is replaced from the environment', async () => {
      const { HOME } = home('expand', 'kernel:\n  socket: ${IKC_TEST_SOCKDIR}/expanded.sock\n');
      const r = await box.run(['peers'], { env: { HOME, IKC_TEST_SOCKDIR: box.path('somewhere') } });
      assert.equal(r.code, 3, r.stderr);
      assert.ok(r.stderr.includes(box.path('somewhere', 'expanded.sock')), r.stderr);
    });

    it('--config naming a file that does not exist exits 2, naming it', async () => {
      const missing = box.path('absent.yaml');
      const r = await box.run(['--config', missing, 'peers']);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(missing), r.stderr);
      assert.match(r.stderr, /--config/);
    });

    it('$POE_CONF naming a file that does not exist exits 2, naming it', async () => {
      const missing = box.path('absent-env.yaml');
      const r = await box.run(['ls'], { env: { POE_CONF: missing } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(missing), r.stderr);
      assert.match(r.stderr, /POE_CONF/);
    });
  });

  describe('bad ~/.poe.conf for the client verbs: exit 2, naming the file and the key', {
    concurrency: 2,
  }, () => {
    it('an unknown key, for every verb', async () => {
      const { HOME, file } = home('unknownkey', `kernel:\n  socket: ${box.path('x.sock')}\n  colour: red\n`);
      const results = await Promise.all(
        CLIENT_VERBS.map(async (args) => [args[0], await box.run(args, { env: { HOME } })] as const),
      );
      for (const [verb, r] of results) {
        assert.equal(r.code, 2, `${verb}: ${r.stderr}`);
        assert.ok(r.stderr.includes(file), `${verb} names the file: ${r.stderr}`);
        assert.match(r.stderr, /kernel\.colour/, `${verb} names the key`);
      }
    });

    it('an unknown top-level key', async () => {
      const { HOME, file } = home('unknowntop', 'kernal:\n  name: typo\n');
      const r = await box.run(['call', 'poe:///calc/add', '1', '2'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /kernal/);
    });

    it('${UNSET} names the variable', async () => {
      const { HOME, file } = home('unset', 'cloud:\n  secret: ${IKC_TEST_NOT_SET}\n');
      const r = await box.run(['call', 'poe:///calc/add', '1', '2'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /cloud\.secret/);
      assert.match(r.stderr, /IKC_TEST_NOT_SET/);
    });

    it('a wrong type', async () => {
      const { HOME, file } = home('wrongtype', 'cloud:\n  seeds: ws://10.0.0.5:6603\n');
      const r = await box.run(['post', 'poe:///calc/add', '1'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /cloud\.seeds/);
    });

    it('a bad value (mesh.callTimeoutMs: -1)', async () => {
      const { HOME, file } = home('badvalue', 'mesh:\n  callTimeoutMs: -1\n');
      const r = await box.run(['ls'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
      assert.match(r.stderr, /mesh\.callTimeoutMs/);
    });

    it('a file that is not YAML or JSON', async () => {
      const { HOME, file } = home('notyaml', 'kernel: [\n');
      const r = await box.run(['monitor'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
    });

    it('a file that is not a mapping', async () => {
      const { HOME, file } = home('notmapping', '- just\n- a list\n');
      const r = await box.run(['peers'], { env: { HOME } });
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
    });
  });
});
