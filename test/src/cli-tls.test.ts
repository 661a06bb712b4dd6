// `ikc kernel` with kernel.tls, end to end: two kernel processes of one CA, without a cloud
// secret, link over wss (beta's seed is wss://alpha); the CLI attaches to alpha over wss
// with the same config key and calls beta through it; without kernel.tls it is told what is
// missing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CALC_MODULE, CliSandbox, type IkcKernel, kernelConfig } from './harness/cli.js';
import { eventually } from './harness/kernels.js';

const TLS_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const tlsOf = (name: string) => ({
  cert: join(TLS_DIR, `${name}.pem`),
  key: join(TLS_DIR, `${name}-key.pem`),
  ca: join(TLS_DIR, 'cloud-ca.pem'),
});

describe('ikc kernel and the ikc command over mutual TLS (kernel.tls)', () => {
  let box: CliSandbox;
  let alpha: IkcKernel;
  const cloud = { name: 'cli-tls', secret: '' };

  /** A kernel's config: TLS, no secret. */
  function config(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const base = kernelConfig(box, name, { cloud, sessions: [CALC_MODULE], ...extra }) as {
      kernel: Record<string, unknown>;
    };
    return { ...base, kernel: { ...base.kernel, tls: tlsOf(name) } };
  }

  before(async () => {
    box = new CliSandbox();
    alpha = await box.startKernel(['--config', box.writeConfig('alpha.json', config('alpha'))]);
    const betaConf = config('beta', { cloud: { ...cloud, seeds: [`wss://${alpha.listen}`] } });
    await box.startKernel(['--config', box.writeConfig('beta.json', betaConf)]);
    // The CLI's own config: the cloud's name and beta's certificate (any the CA signed).
    box.writeConfig('.poe.conf', {
      kernel: { socket: false, tls: tlsOf('beta') },
      cloud: { ...cloud, mdns: false },
    });
  });

  after(() => box?.cleanup());

  it('links the kernels over wss, and the CLI reaches beta through alpha with --kernel wss://', async () => {
    await eventually(
      async () => {
        const r = await box.run([
          '--kernel',
          `wss://${alpha.listen}`,
          'call',
          'poe://beta/calc/add',
          '2',
          '3',
        ]);
        return r.code === 0 && r.stdout === '5\n';
      },
      20_000,
      'a call from the CLI over wss to beta',
    );
    const peers = await box.run(['--kernel', `wss://${alpha.listen}`, 'peers', '--json']);
    assert.equal(peers.code, 0, peers.stderr);
    assert.match(peers.stdout, /"name":"beta"[^}]*"state":"up"/);
  });

  it('without kernel.tls, --kernel wss:// exits 2 saying what is missing', async () => {
    const plain = box.writeConfig('plain.json', {
      kernel: { socket: false },
      cloud: { ...cloud, mdns: false },
    });
    const r = await box.run(['--config', plain, '--kernel', `wss://${alpha.listen}`, 'peers']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /IKC_ERR_INVALID_ARG/);
    assert.match(r.stderr, /kernel\.tls/);
  });
});
