// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in these strings is the config file's syntax, not a template
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import { type Config, DEFAULTS, type LoadOptions, loadConfig } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'ikc-config-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh directory under the test's temp dir. */
function dir(): string {
  const d = join(root, `d${++counter}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Writes `text` to `name` in a fresh directory (or in `where`), returning the absolute path. */
function write(name: string, text: string, where: string = dir()): string {
  const path = join(where, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/**
 * Options that keep the real machine out: an empty home, a system file that does not exist,
 * an environment of our own (no $POE_CONF, $POE_LOG or $XDG_RUNTIME_DIR unless given).
 */
function isolated(options: LoadOptions = {}): LoadOptions {
  const base = dir();
  return {
    home: join(base, 'home'),
    systemFile: join(base, 'etc', 'poe.conf'),
    ...options,
    env: { ...options.env },
  };
}

/** Loads `text` as the --config file; returns the config and the file's path. */
async function loadText(
  text: string,
  name = 'poe.yaml',
  options: LoadOptions = {},
): Promise<{ config: Config; file: string }> {
  const file = write(name, text);
  const loaded = await loadConfig(isolated({ ...options, file }));
  return { config: loaded.config, file };
}

/** Asserts that loading rejects with IKC_ERR_CONFIG and exactly this message. */
async function rejectsWith(
  promise: Promise<unknown>,
  message: string | ((message: string) => boolean),
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(IkcError.is(err, 'IKC_ERR_CONFIG'), `expected IKC_ERR_CONFIG, got ${String(err)}`);
    const got = (err as Error).message;
    if (typeof message === 'string') assert.equal(got, message);
    else assert.ok(message(got), `unexpected message: ${got}`);
    return true;
  });
}

/** Asserts that loading `text` from a file fails naming that file, `key`, and `expected`. */
async function badConfig(text: string, key: string, expected: string | RegExp, name = 'poe.yaml') {
  const file = write(name, text);
  await assert.rejects(loadConfig(isolated({ file })), (err: unknown) => {
    assert.ok(IkcError.is(err, 'IKC_ERR_CONFIG'), `expected IKC_ERR_CONFIG, got ${String(err)}`);
    const got = (err as IkcError).message;
    const prefix = `${file}: ${key}: `;
    assert.ok(got.startsWith(prefix), `message should start with "${prefix}", got: ${got}`);
    const rest = got.slice(prefix.length);
    if (typeof expected === 'string') assert.equal(rest, expected);
    else assert.match(rest, expected);
    assert.deepEqual((err as IkcError).details, { file, key });
    return true;
  });
}

/** The whole configuration with nothing set, computed keys worked out as documented. */
function defaultsFor(env: NodeJS.ProcessEnv): Config {
  const name = hostname();
  return {
    kernel: {
      name,
      listen: DEFAULTS.kernel.listen,
      socket: join(env.XDG_RUNTIME_DIR || tmpdir(), 'ikc', `${name}.sock`),
      heapGrowingPercent: DEFAULTS.kernel.heapGrowingPercent,
    },
    cloud: { ...DEFAULTS.cloud, seeds: [] },
    sessions: [],
    jobs: { allow: [], maxProc: availableParallelism(), killOrphans: true },
    log: { level: 'info' },
    mesh: { ...DEFAULTS.mesh },
  };
}

describe('where the file is looked for', () => {
  /** Four candidate files, each naming the kernel after itself. */
  function fourFiles() {
    const base = dir();
    const home = join(base, 'home');
    return {
      home,
      flag: write('flag.yaml', 'kernel: { name: from-flag }\n', base),
      poeConf: write('env.yaml', 'kernel: { name: from-poe-conf }\n', base),
      homeFile: write('.poe.conf', 'kernel: { name: from-home }\n', home),
      systemFile: write('etc/poe.conf', 'kernel: { name: from-etc }\n', base),
    };
  }

  it('--config wins over $POE_CONF, ~/.poe.conf and /etc/poe.conf, and is the only place looked', async () => {
    const f = fourFiles();
    const loaded = await loadConfig({
      file: f.flag,
      env: { POE_CONF: f.poeConf },
      home: f.home,
      systemFile: f.systemFile,
    });
    assert.equal(loaded.config.kernel.name, 'from-flag');
    assert.equal(loaded.file, f.flag);
    assert.deepEqual(loaded.looked, [f.flag]);
  });

  it('$POE_CONF wins over ~/.poe.conf and /etc/poe.conf', async () => {
    const f = fourFiles();
    const loaded = await loadConfig({ env: { POE_CONF: f.poeConf }, home: f.home, systemFile: f.systemFile });
    assert.equal(loaded.config.kernel.name, 'from-poe-conf');
    assert.equal(loaded.file, f.poeConf);
    assert.deepEqual(loaded.looked, [f.poeConf]);
  });

  it('~/.poe.conf wins over /etc/poe.conf', async () => {
    const f = fourFiles();
    const loaded = await loadConfig({ env: {}, home: f.home, systemFile: f.systemFile });
    assert.equal(loaded.config.kernel.name, 'from-home');
    assert.equal(loaded.file, f.homeFile);
    assert.deepEqual(loaded.looked, [f.homeFile]);
  });

  it('/etc/poe.conf is used when there is no ~/.poe.conf (both were looked at)', async () => {
    const f = fourFiles();
    const emptyHome = join(dir(), 'home');
    const loaded = await loadConfig({ env: {}, home: emptyHome, systemFile: f.systemFile });
    assert.equal(loaded.config.kernel.name, 'from-etc');
    assert.equal(loaded.file, f.systemFile);
    assert.deepEqual(loaded.looked, [join(emptyHome, '.poe.conf'), f.systemFile]);
  });

  it('no file anywhere: all defaults, file undefined, looked lists ~/.poe.conf then /etc/poe.conf', async () => {
    const options = isolated();
    const loaded = await loadConfig(options);
    assert.equal(loaded.file, undefined);
    assert.deepEqual(loaded.looked, [join(options.home as string, '.poe.conf'), options.systemFile]);
    assert.deepEqual(loaded.config, defaultsFor({}));
  });

  it('$POE_CONF is looked at before ~/.poe.conf and /etc/poe.conf', async () => {
    const options = isolated();
    const poeConf = write('poe.yaml', 'kernel: { name: p }\n');
    const loaded = await loadConfig({ ...options, env: { POE_CONF: poeConf } });
    assert.deepEqual(loaded.looked, [poeConf]);
    const missingHome = isolated();
    const viaHome = await loadConfig({
      ...missingHome,
      env: { POE_CONF: '' }, // empty: as if unset
    });
    assert.deepEqual(viaHome.looked, [join(missingHome.home as string, '.poe.conf'), missingHome.systemFile]);
  });

  it('--config must exist, even when the other files do', async () => {
    const f = fourFiles();
    const missing = join(dir(), 'nope.yaml');
    await rejectsWith(
      loadConfig({ file: missing, env: { POE_CONF: f.poeConf }, home: f.home, systemFile: f.systemFile }),
      `${missing}: no such config file (from --config)`,
    );
  });

  it('$POE_CONF must exist, even when ~/.poe.conf does', async () => {
    const f = fourFiles();
    const missing = join(dir(), 'nope.yaml');
    await rejectsWith(
      loadConfig({ env: { POE_CONF: missing }, home: f.home, systemFile: f.systemFile }),
      `${missing}: no such config file (from $POE_CONF)`,
    );
  });

  it('relative --config and $POE_CONF are taken from the working directory', async () => {
    const file = write('rel.yaml', 'kernel: { name: rel }\n');
    const rel = relative(process.cwd(), file);
    const a = await loadConfig(isolated({ file: rel }));
    assert.equal(a.file, file);
    assert.equal(a.config.kernel.name, 'rel');
    const b = await loadConfig(isolated({ env: { POE_CONF: rel } }));
    assert.equal(b.file, file);
    assert.equal(b.config.kernel.name, 'rel');
  });
});

describe('formats', () => {
  it('reads YAML', async () => {
    const { config } = await loadText(
      [
        'kernel:',
        '  name: alpha',
        '  listen: 0.0.0.0:7000',
        '  socket: /tmp/alpha.sock',
        '  heapGrowingPercent: 250',
        'cloud:',
        '  name: lab',
        '  secret: s3cret',
        '  mdns: false',
        '  seeds: [ "ws://10.0.0.5:6603", "10.0.0.6:6603", "unix:/run/ikc/x.sock" ]',
        'jobs:',
        '  allow: [ sh, python3 ]',
        '  maxProc: 3',
        'log:',
        '  level: debug',
        'mesh:',
        '  callTimeoutMs: 1000',
        '',
      ].join('\n'),
    );
    assert.deepEqual(config.kernel, {
      name: 'alpha',
      listen: '0.0.0.0:7000',
      socket: '/tmp/alpha.sock',
      heapGrowingPercent: 250,
    });
    assert.deepEqual(config.cloud, {
      name: 'lab',
      secret: 's3cret',
      mdns: false,
      seeds: ['ws://10.0.0.5:6603', '10.0.0.6:6603', 'unix:/run/ikc/x.sock'],
      balance: 'round-robin',
    });
    assert.deepEqual(config.jobs, { allow: ['sh', 'python3'], maxProc: 3, killOrphans: true });
    assert.equal(config.log.level, 'debug');
    assert.deepEqual(config.mesh, { ...DEFAULTS.mesh, callTimeoutMs: 1000 });
  });

  it('reads JSON, in a .json file or under any other name', async () => {
    const json = JSON.stringify({ kernel: { name: 'jay' }, cloud: { seeds: ['h:1'] } });
    for (const name of ['poe.json', '.poe.conf', 'poe']) {
      const { config } = await loadText(json, name);
      assert.equal(config.kernel.name, 'jay', name);
      assert.deepEqual(config.cloud.seeds, ['h:1'], name);
    }
  });

  it('reads YAML whatever the file is called', async () => {
    for (const name of [
      '.poe.conf',
      'poe.conf',
      'poe.yml',
      'poe.yaml',
      'poe',
      'poe.txt',
      'poe.cfg',
      'poe.json',
    ]) {
      const { config } = await loadText('kernel:\n  name: y\n', name);
      assert.equal(config.kernel.name, 'y', name);
    }
  });

  it('never runs a file as code, whatever its extension', async () => {
    const g = globalThis as { ikcConfigRan?: boolean };
    for (const name of ['poe.js', 'poe.mjs', 'poe.cjs', 'poe.ts']) {
      // YAML in a .js file is read as YAML.
      const { config } = await loadText('kernel:\n  name: y\n', name);
      assert.equal(config.kernel.name, 'y', name);
      // JavaScript in a .js file is not run; as YAML it is not a mapping.
      const file = write(
        name,
        'globalThis.ikcConfigRan = true; export default { kernel: { name: "js" } };\n',
      );
      await assert.rejects(loadConfig(isolated({ file })), (err: unknown) => {
        assert.ok(IkcError.is(err, 'IKC_ERR_CONFIG'));
        assert.ok((err as Error).message.startsWith(`${file}: `), (err as Error).message);
        return true;
      });
      assert.equal(g.ikcConfigRan, undefined, name);
    }
  });

  it('an empty file, or one with only comments, means all defaults', async () => {
    for (const text of ['', '\n\n', '# nothing here\n', '---\n']) {
      const { config } = await loadText(text);
      assert.deepEqual(config, defaultsFor({}), JSON.stringify(text));
    }
  });
});

describe('defaults', () => {
  it('fills in every key left out, with the computed ones worked out on the machine', async () => {
    const { config } = await loadText('cloud:\n  name: lab\n');
    assert.deepEqual(config, { ...defaultsFor({}), cloud: { ...DEFAULTS.cloud, name: 'lab', seeds: [] } });
    assert.equal(config.kernel.name, hostname());
    assert.equal(config.jobs.maxProc, availableParallelism());
  });

  it('kernel.socket defaults to $XDG_RUNTIME_DIR/ikc/NAME.sock when it is set', async () => {
    const xdg = join(dir(), 'run-user');
    const { config } = await loadText('', 'poe.yaml', { env: { XDG_RUNTIME_DIR: xdg } });
    assert.equal(config.kernel.socket, join(xdg, 'ikc', `${hostname()}.sock`));
  });

  it('kernel.socket defaults to TMPDIR/ikc/NAME.sock when $XDG_RUNTIME_DIR is unset or empty', async () => {
    for (const env of [{}, { XDG_RUNTIME_DIR: '' }]) {
      const { config } = await loadText('', 'poe.yaml', { env });
      assert.equal(config.kernel.socket, join(tmpdir(), 'ikc', `${hostname()}.sock`));
    }
  });

  it('the default socket is named after the configured kernel name', async () => {
    const xdg = join(dir(), 'run');
    const { config } = await loadText('kernel:\n  name: alpha\n', 'poe.yaml', {
      env: { XDG_RUNTIME_DIR: xdg },
    });
    assert.equal(config.kernel.socket, join(xdg, 'ikc', 'alpha.sock'));
  });

  it('an explicit kernel.socket is kept, and false turns the socket or the listener off', async () => {
    const a = await loadText('kernel:\n  socket: /tmp/x.sock\n');
    assert.equal(a.config.kernel.socket, '/tmp/x.sock');
    const b = await loadText('kernel:\n  socket: false\n  listen: false\n');
    assert.equal(b.config.kernel.socket, false);
    assert.equal(b.config.kernel.listen, false);
  });

  it('kernel.heapGrowingPercent defaults to 400, and 0 is kept', async () => {
    assert.equal((await loadText('kernel: {}\n')).config.kernel.heapGrowingPercent, 400);
    assert.equal((await loadText('kernel:\n  heapGrowingPercent: 0\n')).config.kernel.heapGrowingPercent, 0);
  });

  it('jobs.maxProc defaults to the CPU count, and an explicit value is kept', async () => {
    assert.equal((await loadText('jobs: {}\n')).config.jobs.maxProc, availableParallelism());
    assert.equal((await loadText('jobs:\n  maxProc: 7\n')).config.jobs.maxProc, 7);
  });

  it('an empty section is the same as a missing one', async () => {
    const { config } = await loadText('kernel: {}\ncloud: {}\njobs: {}\nlog: {}\nmesh: {}\nsessions: []\n');
    assert.deepEqual(config, defaultsFor({}));
  });

  it('each load gets fresh arrays and objects (defaults are not shared)', async () => {
    const a = await loadText('');
    a.config.cloud.seeds.push('h:1');
    a.config.mesh.callTimeoutMs = 1;
    const b = await loadText('');
    assert.deepEqual(b.config.cloud.seeds, []);
    assert.equal(b.config.mesh.callTimeoutMs, DEFAULTS.mesh.callTimeoutMs);
    assert.deepEqual(DEFAULTS.cloud.seeds, []);
    assert.equal(DEFAULTS.mesh.callTimeoutMs, 30_000);
  });
});

describe('${VAR} expansion', () => {
  it('replaces ${VAR} with the variable, alone or inside a string', async () => {
    const { config } = await loadText(
      'kernel:\n  name: ${KNAME}\n  listen: ${HOST}:6603\ncloud:\n  secret: "${POE_SECRET}"\n',
      'poe.yaml',
      { env: { KNAME: 'beta', HOST: '10.1.2.3', POE_SECRET: 'pssst' } },
    );
    assert.equal(config.kernel.name, 'beta');
    assert.equal(config.kernel.listen, '10.1.2.3:6603');
    assert.equal(config.cloud.secret, 'pssst');
  });

  it('expands inside arrays', async () => {
    const { config, file } = await loadText(
      'cloud:\n  seeds: [ "ws://${SEED}:6603", "${SEED}:6604" ]\nsessions: [ "${DIR}/calc.mjs" ]\njobs:\n  allow: [ "${TOOL}" ]\n',
      'poe.yaml',
      { env: { SEED: '10.0.0.9', DIR: '/opt/ikc', TOOL: 'python3' } },
    );
    assert.deepEqual(config.cloud.seeds, ['ws://10.0.0.9:6603', '10.0.0.9:6604']);
    assert.deepEqual(config.sessions, ['/opt/ikc/calc.mjs']);
    assert.deepEqual(config.jobs.allow, ['python3']);
    assert.ok(file);
  });

  it('a variable set to the empty string gives an empty string', async () => {
    const { config } = await loadText('cloud:\n  secret: ${EMPTY}\n', 'poe.yaml', { env: { EMPTY: '' } });
    assert.equal(config.cloud.secret, '');
  });

  it('an unset variable is an error naming the variable, the key and the file', async () => {
    const file = write('poe.yaml', 'cloud:\n  secret: ${POE_SECRET}\n');
    await rejectsWith(
      loadConfig(isolated({ file })),
      `${file}: cloud.secret: environment variable POE_SECRET is not set`,
    );
  });

  it('an unset variable in an array names the element', async () => {
    const file = write('poe.yaml', 'cloud:\n  seeds: [ "h:1", "ws://${SEED_HOST}:6603" ]\n');
    await rejectsWith(
      loadConfig(isolated({ file, env: { OTHER: 'x' } })),
      `${file}: cloud.seeds.1: environment variable SEED_HOST is not set`,
    );
  });

  it('$${X} is a literal ${X}, even when X is set', async () => {
    const { config } = await loadText('cloud:\n  secret: a$${X}b\n  name: "$${Y}"\n', 'poe.yaml', {
      env: { X: 'no', Y: 'no' },
    });
    assert.equal(config.cloud.secret, 'a${X}b');
    assert.equal(config.cloud.name, '${Y}');
  });

  it('$${X} stays literal in arrays too', async () => {
    const { config } = await loadText('jobs:\n  allow: [ "echo $${HOME}" ]\n');
    assert.deepEqual(config.jobs.allow, ['echo ${HOME}']);
  });

  it('a bad variable name is an error naming the key and the file', async () => {
    const file = write('poe.yaml', 'cloud:\n  secret: ${1X}\n');
    await rejectsWith(
      loadConfig(isolated({ file })),
      `${file}: cloud.secret: "\${1X}" is not a valid variable name`,
    );
  });

  it('a $VAR without braces is left alone', async () => {
    const { config } = await loadText('cloud:\n  secret: $HOME\n', 'poe.yaml', { env: { HOME: '/h' } });
    assert.equal(config.cloud.secret, '$HOME');
  });

  it('expansion gives strings: a number key set from a variable is a type error', async () => {
    const file = write('poe.yaml', 'mesh:\n  callTimeoutMs: ${T}\n');
    await rejectsWith(
      loadConfig(isolated({ file, env: { T: '100' } })),
      `${file}: mesh.callTimeoutMs: expected number`,
    );
  });
});

describe('overrides (command-line flags)', () => {
  it('override single keys of the file', async () => {
    const { config } = await loadText(
      'kernel:\n  name: file-name\n  listen: 127.0.0.1:7000\ncloud:\n  name: lab\n',
      'poe.yaml',
      {
        overrides: { 'kernel.name': 'flag-name', 'kernel.listen': '127.0.0.1:7001' },
      },
    );
    assert.equal(config.kernel.name, 'flag-name');
    assert.equal(config.kernel.listen, '127.0.0.1:7001');
    assert.equal(config.cloud.name, 'lab');
  });

  it('an undefined override (flag not given) leaves the file value', async () => {
    const { config } = await loadText('kernel:\n  name: file-name\n', 'poe.yaml', {
      overrides: { 'kernel.name': undefined, 'kernel.listen': undefined },
    });
    assert.equal(config.kernel.name, 'file-name');
    assert.equal(config.kernel.listen, DEFAULTS.kernel.listen);
  });

  it('apply with no file at all, into sections the file did not have', async () => {
    const loaded = await loadConfig(
      isolated({ overrides: { 'kernel.name': 'solo', 'mesh.callTimeoutMs': 5 } }),
    );
    assert.equal(loaded.file, undefined);
    assert.equal(loaded.config.kernel.name, 'solo');
    assert.equal(loaded.config.mesh.callTimeoutMs, 5);
  });

  it('the default socket follows an overridden name', async () => {
    const xdg = join(dir(), 'run');
    const { config } = await loadText('kernel:\n  name: file-name\n', 'poe.yaml', {
      env: { XDG_RUNTIME_DIR: xdg },
      overrides: { 'kernel.name': 'flagged' },
    });
    assert.equal(config.kernel.socket, join(xdg, 'ikc', 'flagged.sock'));
  });

  it('are not ${VAR}-expanded (the shell already did that)', async () => {
    const { config } = await loadText('', 'poe.yaml', {
      overrides: { 'kernel.name': '${X}' },
      env: { X: 'x' },
    });
    assert.equal(config.kernel.name, '${X}');
  });

  it('a bad override is checked like the file, and the error names the command line, not the file', async () => {
    const file = write('poe.yaml', 'kernel:\n  listen: 127.0.0.1:6603\n');
    await rejectsWith(
      loadConfig(isolated({ file, overrides: { 'kernel.listen': '127.0.0.1' } })),
      'command line: kernel.listen: must be HOST:PORT, like 127.0.0.1:6603',
    );
    await rejectsWith(
      loadConfig(isolated({ overrides: { 'kernel.name': 'has space' } })),
      'command line: kernel.name: must be a non-empty name without spaces or "/"',
    );
  });

  it('a bad file value is still blamed on the file when a flag sets another key', async () => {
    const file = write('poe.yaml', 'cloud:\n  mdns: "yes"\n');
    await rejectsWith(
      loadConfig(isolated({ file, overrides: { 'kernel.name': 'ok' } })),
      `${file}: cloud.mdns: expected boolean`,
    );
  });
});

describe('sessions', () => {
  it('relative paths in the file are resolved against the file’s directory, absolute ones kept', async () => {
    const base = dir();
    const file = write(
      'conf/poe.yaml',
      'sessions: [ ./calc.mjs, ../lib/echo.mjs, sub/x.js, /abs/y.mjs ]\n',
      base,
    );
    const { config } = await loadConfig(isolated({ file }));
    assert.deepEqual(config.sessions, [
      join(base, 'conf', 'calc.mjs'),
      join(base, 'lib', 'echo.mjs'),
      join(base, 'conf', 'sub', 'x.js'),
      '/abs/y.mjs',
    ]);
  });

  it('a file found as ~/.poe.conf resolves against the home directory', async () => {
    const options = isolated();
    write('.poe.conf', 'sessions: [ ./calc.mjs ]\n', options.home as string);
    const { config } = await loadConfig(options);
    assert.deepEqual(config.sessions, [join(options.home as string, 'calc.mjs')]);
  });

  it('flag sessions are resolved against the working directory and come after the file’s', async () => {
    const base = dir();
    const file = write('conf/poe.yaml', 'sessions: [ ./calc.mjs ]\n', base);
    const { config } = await loadConfig(isolated({ file, sessions: ['./flag.mjs', '/abs/z.mjs'] }));
    assert.deepEqual(config.sessions, [join(base, 'conf', 'calc.mjs'), resolve('flag.mjs'), '/abs/z.mjs']);
  });

  it('with no file, flag sessions are still resolved against the working directory', async () => {
    const { config } = await loadConfig(isolated({ sessions: ['s.mjs'] }));
    assert.deepEqual(config.sessions, [resolve(process.cwd(), 's.mjs')]);
  });
});

describe('$POE_LOG', () => {
  it('overrides log.level from the file', async () => {
    const { config } = await loadText('log:\n  level: warn\n', 'poe.yaml', { env: { POE_LOG: 'debug' } });
    assert.equal(config.log.level, 'debug');
  });

  it('unset or empty: the file’s level, else info', async () => {
    assert.equal((await loadText('log:\n  level: warn\n')).config.log.level, 'warn');
    assert.equal(
      (await loadText('log:\n  level: warn\n', 'poe.yaml', { env: { POE_LOG: '' } })).config.log.level,
      'warn',
    );
    assert.equal((await loadText('')).config.log.level, 'info');
  });

  it('applies with no file', async () => {
    const { config } = await loadConfig(isolated({ env: { POE_LOG: 'trace' } }));
    assert.equal(config.log.level, 'trace');
  });

  it('a level that does not exist is IKC_ERR_CONFIG naming $POE_LOG', async () => {
    await rejectsWith(
      loadConfig(isolated({ env: { POE_LOG: 'loud' } })),
      '$POE_LOG: log.level: expected one of trace, debug, info, warn, error, fatal, silent; got "loud"',
    );
  });
});

describe('bad configuration: IKC_ERR_CONFIG naming the file, the key and what was expected', () => {
  it('an unknown top-level key', async () => {
    await badConfig('colud:\n  name: lab\n', 'colud', 'unknown key (colud); see poe.conf.example');
  });

  it('an unknown nested key', async () => {
    await badConfig(
      'kernel:\n  lisen: 127.0.0.1:6603\n',
      'kernel.lisen',
      'unknown key (kernel.lisen); see poe.conf.example',
    );
    await badConfig('mesh:\n  pingMs: 5\n', 'mesh.pingMs', 'unknown key (mesh.pingMs); see poe.conf.example');
    await badConfig('log:\n  file: /tmp/x\n', 'log.file', 'unknown key (log.file); see poe.conf.example');
  });

  it('several unknown keys: the first is the key, all are listed', async () => {
    await badConfig(
      'cloud:\n  nmae: a\n  sead: b\n',
      'cloud.nmae',
      'unknown key (cloud.nmae, cloud.sead); see poe.conf.example',
    );
  });

  it('wrong types', async () => {
    await badConfig('kernel:\n  listen: 6603\n', 'kernel.listen', 'expected string or false');
    await badConfig('kernel:\n  listen: true\n', 'kernel.listen', 'expected string or false');
    await badConfig('kernel:\n  socket: 5\n', 'kernel.socket', 'expected string or false');
    await badConfig('kernel:\n  name: 42\n', 'kernel.name', 'expected string');
    await badConfig('cloud:\n  seeds: "ws://10.0.0.5:6603"\n', 'cloud.seeds', 'expected array');
    await badConfig('cloud:\n  mdns: "yes"\n', 'cloud.mdns', 'expected boolean');
    // YAML 1.2: a bare yes is a string, not a boolean.
    await badConfig('cloud:\n  mdns: yes\n', 'cloud.mdns', 'expected boolean');
    await badConfig('cloud:\n  seeds: [ 6603 ]\n', 'cloud.seeds.0', 'expected string');
    await badConfig('sessions: ./calc.mjs\n', 'sessions', 'expected array');
    await badConfig('jobs:\n  maxProc: "4"\n', 'jobs.maxProc', 'expected number');
    await badConfig('mesh:\n  callTimeoutMs: "30s"\n', 'mesh.callTimeoutMs', 'expected number');
    await badConfig('kernel: alpha\n', 'kernel', 'expected object');
    await badConfig('kernel:\n', 'kernel', 'expected object');
    await badConfig('cloud: [ lab ]\n', 'cloud', 'expected object');
  });

  it('bad values', async () => {
    await badConfig(
      'kernel:\n  listen: 127.0.0.1\n',
      'kernel.listen',
      'must be HOST:PORT, like 127.0.0.1:6603',
    );
    await badConfig(
      'kernel:\n  listen: ws://127.0.0.1:6603\n',
      'kernel.listen',
      'must be HOST:PORT, like 127.0.0.1:6603',
    );
    await badConfig(
      'cloud:\n  seeds: [ "ws://10.0.0.5:6603", "http://10.0.0.6:80" ]\n',
      'cloud.seeds.1',
      'must be ws://HOST:PORT, wss://HOST:PORT, HOST:PORT or unix:/PATH',
    );
    await badConfig(
      'cloud:\n  seeds: [ "10.0.0.5" ]\n',
      'cloud.seeds.0',
      'must be ws://HOST:PORT, wss://HOST:PORT, HOST:PORT or unix:/PATH',
    );
    await badConfig(
      'log:\n  level: loud\n',
      'log.level',
      /^Invalid option: expected one of .*"info".*"silent"/,
    );
    await badConfig(
      'kernel:\n  name: has space\n',
      'kernel.name',
      'must be a non-empty name without spaces or "/"',
    );
    await badConfig(
      'kernel:\n  name: a/b\n',
      'kernel.name',
      'must be a non-empty name without spaces or "/"',
    );
    await badConfig('kernel:\n  socket: ""\n', 'kernel.socket', 'must be a path');
    await badConfig('cloud:\n  name: ""\n', 'cloud.name', 'must not be empty');
    await badConfig('sessions: [ "" ]\n', 'sessions.0', 'must be a module path');
  });

  it('kernel.heapGrowingPercent must be a whole number from 0 to 10000', async () => {
    await badConfig(
      'kernel:\n  heapGrowingPercent: -1\n',
      'kernel.heapGrowingPercent',
      'must be 0 (V8 decides) or more',
    );
    await badConfig('kernel:\n  heapGrowingPercent: 2.5\n', 'kernel.heapGrowingPercent', 'expected int');
    await badConfig(
      'kernel:\n  heapGrowingPercent: 20000\n',
      'kernel.heapGrowingPercent',
      'must be at most 10000',
    );
    await badConfig('kernel:\n  heapGrowingPercent: lots\n', 'kernel.heapGrowingPercent', /expected number/);
  });

  it('jobs.maxProc must be a positive integer', async () => {
    await badConfig('jobs:\n  maxProc: 0\n', 'jobs.maxProc', /expected number to be >0/);
    await badConfig('jobs:\n  maxProc: -1\n', 'jobs.maxProc', /expected number to be >0/);
    await badConfig('jobs:\n  maxProc: 1.5\n', 'jobs.maxProc', 'expected int');
  });

  it('mesh times and limits must be positive integers', async () => {
    for (const key of Object.keys(DEFAULTS.mesh)) {
      await badConfig(`mesh:\n  ${key}: -1\n`, `mesh.${key}`, /expected number to be >0/);
      await badConfig(`mesh:\n  ${key}: 0\n`, `mesh.${key}`, /expected number to be >0/);
    }
    await badConfig('mesh:\n  pingIntervalMs: 1.5\n', 'mesh.pingIntervalMs', 'expected int');
  });

  it('unparseable YAML names the file', async () => {
    const file = write('poe.yaml', 'kernel: [\n  name: x\n');
    await rejectsWith(loadConfig(isolated({ file })), (m) =>
      m.startsWith(`${file}: not valid YAML or JSON: `),
    );
    const dup = write('poe.yaml', 'kernel:\n  name: a\n  name: b\n');
    await rejectsWith(loadConfig(isolated({ file: dup })), (m) =>
      m.startsWith(`${dup}: not valid YAML or JSON: `),
    );
  });

  it('unparseable JSON names the file', async () => {
    const file = write('poe.json', '{ "kernel": ');
    await rejectsWith(loadConfig(isolated({ file })), (m) =>
      m.startsWith(`${file}: not valid YAML or JSON: `),
    );
  });

  it('unparseable ~/.poe.conf is an error, not skipped', async () => {
    const options = isolated();
    const file = write('.poe.conf', 'kernel: [\n', options.home as string);
    write('poe.conf', 'kernel: { name: etc }\n', dirname(options.systemFile as string));
    await rejectsWith(loadConfig(options), (m) => m.startsWith(`${file}: not valid YAML or JSON: `));
  });

  it('a top-level list or scalar instead of a mapping', async () => {
    const expected = '(top level): the file must hold a mapping of keys (kernel, cloud, sessions, ...)';
    for (const text of ['- kernel\n- cloud\n', '[]\n', 'hello\n', '42\n']) {
      const file = write('poe.yaml', text);
      await rejectsWith(loadConfig(isolated({ file })), `${file}: ${expected}`);
    }
  });

  it('errors carry the file and the key in details', async () => {
    const file = write('poe.yaml', 'cloud:\n  mdns: 1\n');
    await assert.rejects(loadConfig(isolated({ file })), (err: unknown) => {
      assert.ok(err instanceof IkcError);
      assert.equal(err.code, 'IKC_ERR_CONFIG');
      assert.deepEqual(err.details, { file, key: 'cloud.mdns' });
      return true;
    });
  });
});

describe('kernel.tls', () => {
  const PEM_TEXT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('takes cert, key and ca relative to the file, and gives them absolute', async () => {
    const where = dir();
    for (const f of ['certs/k.pem', 'certs/k-key.pem', 'ca.pem']) write(f, PEM_TEXT, where);
    const file = write(
      'poe.yaml',
      'kernel:\n  tls: { cert: certs/k.pem, key: ./certs/k-key.pem, ca: ca.pem }\ncloud:\n  seeds: [ "wss://10.0.0.5:6603" ]\n',
      where,
    );
    const { config } = await loadConfig(isolated({ file }));
    assert.deepEqual(config.kernel.tls, {
      cert: join(where, 'certs/k.pem'),
      key: join(where, 'certs/k-key.pem'),
      ca: join(where, 'ca.pem'),
    });
    assert.deepEqual(config.cloud.seeds, ['wss://10.0.0.5:6603']);
  });

  it('is absent unless configured', async () => {
    const { config } = await loadText('kernel:\n  name: plain\n');
    assert.equal(config.kernel.tls, undefined);
  });

  it('a missing file is an error naming the key and the file it looked for', async () => {
    const where = dir();
    write('k.pem', PEM_TEXT, where);
    write('ca.pem', PEM_TEXT, where);
    const file = write('poe.yaml', 'kernel:\n  tls: { cert: k.pem, key: gone.pem, ca: ca.pem }\n', where);
    await rejectsWith(loadConfig(isolated({ file })), (m) =>
      m.startsWith(`${file}: kernel.tls.key: cannot read ${join(where, 'gone.pem')}: `),
    );
  });

  it('a file that is not PEM is an error naming the key', async () => {
    const where = dir();
    write('k.pem', PEM_TEXT, where);
    write('k-key.pem', PEM_TEXT, where);
    write('ca.der', 'binary', where);
    const file = write('poe.yaml', 'kernel:\n  tls: { cert: k.pem, key: k-key.pem, ca: ca.der }\n', where);
    await rejectsWith(
      loadConfig(isolated({ file })),
      `${file}: kernel.tls.ca: ${join(where, 'ca.der')} is not a PEM file (no "-----BEGIN" line)`,
    );
  });

  it('cert, key and ca are all required, and nothing else is taken', async () => {
    await badConfig('kernel:\n  tls: { cert: a.pem, key: b.pem }\n', 'kernel.tls.ca', /expected string/);
    await badConfig(
      'kernel:\n  tls: { cert: a.pem, key: b.pem, ca: c.pem, verify: false }\n',
      'kernel.tls.verify',
      /unknown key/,
    );
  });
});
