// Mutual TLS between kernels (kernel.tls): a kernel process and the test process link over
// wss with no cloud secret and call each other; a leaf attaches over wss; a kernel whose
// certificate another CA signed, a kernel that trusts another CA, and a plain ws dialer are
// each refused with an error that says why; with TLS a kernel may listen beyond loopback
// without a secret; a wss:// seed without TLS is refused before the kernel starts.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import {
  attach,
  type MeshKernel,
  readTls,
  silentLogger,
  startKernel,
  type TlsFiles,
  WsTcpTransport,
} from '@ikc/mesh';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';

const TLS_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const pem = (name: string) => join(TLS_DIR, name);

/** A kernel's kernel.tls: its own certificate and key, and the CA it trusts. */
function tlsOf(kernel: 'alpha' | 'beta' | 'rogue', ca: 'cloud-ca' | 'rogue-ca' = 'cloud-ca'): TlsFiles {
  return { cert: pem(`${kernel}.pem`), key: pem(`${kernel}-key.pem`), ca: pem(`${ca}.pem`) };
}

// No secret anywhere: TLS alone authenticates.
const cloud = { name: 'tls-test' };

async function rejection(p: Promise<unknown>, what: string): Promise<{ code?: string; message: string }> {
  return p.then(
    (v) => assert.fail(`${what} resolved to ${String(v)}; it must fail`),
    (e: { code?: string; message: string }) => e,
  );
}

describe('mutual TLS between kernels (kernel.tls)', () => {
  const dir = socketDir();
  const kernels: MeshKernel[] = [];
  let alpha: KernelProc;

  async function host(name: string, tls: TlsFiles | undefined, seeds: string[]): Promise<MeshKernel> {
    const k = await startKernel({
      kernel: { name, listen: '127.0.0.1:0', socket: false, ...(tls ? { tls } : {}) },
      cloud: { ...cloud, seeds, mdns: false },
      logger: silentLogger,
      processSignals: false,
    });
    kernels.push(k);
    return k;
  }

  before(async () => {
    alpha = await startKernelProc({
      kernel: { name: 'alpha', listen: '127.0.0.1:0', socket: join(dir, 'alpha.sock'), tls: tlsOf('alpha') },
      cloud,
      sessions: ['./calc.js'],
    });
  });

  after(async () => {
    await Promise.all(kernels.map((k) => k.stop().catch(() => {})));
    await alpha.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('links two kernels of the same CA over wss without a secret; a leaf attaches over wss', async () => {
    const beta = await host('beta', tlsOf('beta'), [`wss://${alpha.listen}`]);
    assert.equal(beta.tls, true);
    beta.spawn({
      alias: 'greeter',
      publish: ['hello'],
      events: { hello: (_ctx, who: string) => `hi ${who}` },
    });
    await eventually(
      () => beta.peers().some((p) => p.name === 'alpha' && p.id === alpha.id && p.state === 'up'),
      5_000,
      'beta to link to alpha',
    );
    assert.equal(await beta.call('poe://alpha/calc/add', 20, 22), 42);
    const leaf = await attach({
      socket: `wss://${alpha.listen}`,
      name: 'tls-leaf',
      cloud,
      tls: tlsOf('beta'),
      logger: silentLogger,
      processSignals: false,
    });
    kernels.push(leaf);
    assert.equal(await leaf.call('poe://alpha/calc/add', 2, 3), 5);
    await eventually(
      async () => (await leaf.call('poe://beta/greeter/hello', 'leaf').catch(() => undefined)) === 'hi leaf',
      5_000,
      "the leaf to reach beta's greeter through alpha",
    );
  });

  it('refuses a dialer whose certificate another CA signed: nothing links', async () => {
    const transport = new WsTcpTransport({ tls: readTls(tlsOf('rogue', 'cloud-ca')) });
    const err = await rejection(transport.connect(alpha.listen, { timeoutMs: 3_000 }), 'a rogue dial');
    assert.equal(err.code, 'IKC_ERR_CONNECT');
    assert.match(err.message, new RegExp(alpha.listen.replace(/\./g, '\\.')));
    // The dialer sees the connection close after the handshake, and is told what that means;
    // the listener's log says why.
    assert.match(err.message, /after the TLS handshake.*refused this kernel's certificate/);
    await eventually(
      () => /"msg":"refused a TLS connection"/.test(alpha.stderr()) && /certificate/i.test(alpha.stderr()),
      3_000,
      `alpha to log why it refused; its log:\n${alpha.stderr()}`,
    );
    // A whole kernel with that certificate: it starts, but never links to alpha.
    const rogue = await host('rogue', tlsOf('rogue', 'cloud-ca'), [alpha.listen]);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      rogue.peers().map((p) => p.name),
      [],
    );
    assert.ok(!alpha.stdout().includes('"kernel.up","kernel":"rogue"'), 'alpha saw the rogue kernel up');
  });

  it("refuses a listener whose certificate the dialer's CA did not sign, saying so", async () => {
    const transport = new WsTcpTransport({ tls: readTls(tlsOf('beta', 'rogue-ca')) });
    const err = await rejection(
      transport.connect(alpha.listen, { timeoutMs: 3_000 }),
      'a dial trusting another CA',
    );
    assert.equal(err.code, 'IKC_ERR_CONNECT');
    assert.match(err.message, /certificate/i);
  });

  it('closes a TLS connection that shows no certificate before http reads its request', async () => {
    const before = alpha.stderr().split('refused a TLS connection').length;
    const [host, port] = alpha.listen.split(':') as [string, string];
    const socket = connectTls({
      host,
      port: Number(port),
      ca: readFileSync(pem('cloud-ca.pem')),
      checkServerIdentity: () => undefined,
    });
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: alpha\r\n\r\n'));
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => {});
    });
    assert.equal(answer, '', 'the listener answered a dialer without a certificate');
    await eventually(
      () => alpha.stderr().split('refused a TLS connection').length > before,
      3_000,
      'alpha to log the refusal',
    );
  });

  it('refuses a plain ws dialer', async () => {
    const err = await rejection(
      new WsTcpTransport().connect(alpha.listen, { timeoutMs: 3_000 }),
      'a plain dial',
    );
    assert.equal(err.code, 'IKC_ERR_CONNECT');
  });

  it('lets a kernel with kernel.tls and no secret listen beyond loopback', async () => {
    const open = await startKernel({
      kernel: { name: 'open', listen: '0.0.0.0:0', socket: false, tls: tlsOf('beta') },
      cloud: { ...cloud, mdns: false },
      logger: silentLogger,
      processSignals: false,
    });
    kernels.push(open);
    assert.match(open.listenAddress ?? '', /^0\.0\.0\.0:\d+$/);
    const port = (open.listenAddress as string).split(':')[1];
    const dialed = await new WsTcpTransport({ tls: readTls(tlsOf('alpha')) }).connect(`127.0.0.1:${port}`, {
      timeoutMs: 3_000,
    });
    dialed.terminate();
  });

  it('refuses a wss:// seed, and reading TLS files, with errors that name what is wrong', async () => {
    const seedless = await rejection(
      startKernel({
        kernel: { name: 'plain', listen: '127.0.0.1:0', socket: false },
        cloud: { ...cloud, seeds: [`wss://${alpha.listen}`], mdns: false },
        logger: silentLogger,
        processSignals: false,
      }),
      'a wss:// seed without kernel.tls',
    );
    assert.equal(seedless.code, 'IKC_ERR_INVALID_ARG');
    assert.match(seedless.message, /wss:\/\/.*kernel\.tls/);

    const missing = await rejection(
      startKernel({
        kernel: {
          name: 'nokey',
          listen: '127.0.0.1:0',
          socket: false,
          tls: { ...tlsOf('beta'), key: 'nope.pem' },
        },
        logger: silentLogger,
        processSignals: false,
      }),
      'a missing key file',
    );
    assert.equal(missing.code, 'IKC_ERR_INVALID_ARG');
    assert.match(missing.message, /kernel\.tls\.key: cannot read .*nope\.pem/);
    assert.throws(
      () => readTls({ ...tlsOf('beta'), ca: join(TLS_DIR, 'README.md') }),
      /kernel\.tls\.ca: .* is not a PEM file/,
    );
  });
});
