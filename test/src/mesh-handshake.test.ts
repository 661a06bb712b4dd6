// Handshake failures between real kernel processes and their peers: a wrong secret, a
// wrong cloud, no common protocol version, a stalled handshake, and a kernel without a
// secret asked to listen beyond loopback. Each is refused with a clear error on both sides
// (the kernel's log; the peer's REFUSE frame or attach()'s rejection), and nothing else breaks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attach, type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { FrameType, IkcError } from '@ikc/wire';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';
import { HandshakeRefused, type LogLine, logLines, RawPeer } from './harness/raw-peer.js';

const SECRET = 'gate-secret-7f3a9c';
const WRONG_SECRET = 'wrong-secret-c41d2e';
const cloud = { name: 'gatecloud', secret: SECRET };
const member = { cloud: cloud.name, secret: SECRET };
const NAME = 'gate';
const HANDSHAKE_TIMEOUT_MS = 400;
/** pino's level number for warn. */
const WARN = 40;

const MAIN = fileURLToPath(new URL('./fixtures/kernel-main.js', import.meta.url));

/** Waits for `proc` to log a warning (or worse) with err.code `code` after stderr offset `at`. */
async function loggedError(proc: KernelProc, at: number, code: string, ms = 3_000): Promise<LogLine> {
  let line: LogLine | undefined;
  await eventually(
    () =>
      (line = logLines(proc.stderr().slice(at)).find((l) => l.err?.code === code && l.level >= WARN)) !==
      undefined,
    ms,
    `${proc.name} to log ${code}; its log since the case began:\n${proc.stderr().slice(at)}`,
  );
  return line as LogLine;
}

/** The error a promise rejects with (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, `rejected with ${String(err)}`);
  return err as Error & { code?: string };
}

describe('handshake failures against a kernel process are refused, logged on both sides, and harm nothing', () => {
  let kernel: KernelProc;
  let leaf: MeshKernel;
  const dir = socketDir();
  const peers: RawPeer[] = [];

  const mark = () => kernel.stderr().length;

  async function open(): Promise<RawPeer> {
    const peer = await RawPeer.open(kernel.listen);
    peers.push(peer);
    return peer;
  }

  /** The kernel is up, and the good leaf still gets correct answers. */
  async function stillServing(): Promise<void> {
    assert.equal(kernel.child.exitCode, null, `the kernel process exited; stderr:\n${kernel.stderr()}`);
    assert.equal(kernel.child.signalCode, null);
    assert.equal(await leaf.callWith({ timeoutMs: 3_000 }, `poe://${NAME}/calc/add`, 19, 23), 42);
    assert.ok(
      leaf.peers().some((p) => p.name === NAME),
      'the good leaf is still linked',
    );
  }

  /** Neither secret shows up anywhere the kernel wrote. */
  function secretsNotLogged(): void {
    for (const secret of [SECRET, WRONG_SECRET]) {
      assert.ok(!kernel.stderr().includes(secret), 'a secret appears in the kernel log');
      assert.ok(!kernel.stdout().includes(secret), 'a secret appears on the kernel stdout');
    }
  }

  before(async () => {
    kernel = await startKernelProc({
      kernel: { name: NAME, listen: '127.0.0.1:0', socket: join(dir, 'g.sock') },
      cloud,
      sessions: ['./calc.js'],
      mesh: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
    });
    leaf = await attach({
      socket: kernel.socket,
      name: 'good-leaf',
      cloud,
      logger: silentLogger,
      processSignals: false,
    });
    await stillServing();
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await leaf?.stop();
    await kernel?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a wrong secret via attach(): rejected with IKC_ERR_AUTH, logged by the kernel, secret never logged', async () => {
    const at = mark();
    const err = await rejection(
      attach({
        socket: kernel.socket,
        name: 'wrong-secret-leaf',
        cloud: { name: cloud.name, secret: WRONG_SECRET },
        logger: silentLogger,
        processSignals: false,
      }),
    );
    assert.ok(IkcError.is(err), `not an IkcError: ${err}`);
    if (err.code === 'IKC_ERR_HANDSHAKE') assert.match(err.message, /secret|IKC_ERR_AUTH/);
    else assert.equal(err.code, 'IKC_ERR_AUTH', err.message);
    assert.match(err.message, /secret/, 'the rejection says why');
    assert.ok(!err.message.includes(SECRET) && !err.message.includes(WRONG_SECRET));
    const line = await loggedError(kernel, at, 'IKC_ERR_AUTH');
    assert.match(line.err?.message ?? '', /secret/);
    await stillServing();
    secretsNotLogged();
  });

  it('a wrong secret via a raw peer: REFUSE IKC_ERR_AUTH; the secret is in no frame sent or received', async () => {
    const at = mark();
    const peer = await open();
    const err = await rejection(peer.handshake({ cloud: cloud.name, secret: WRONG_SECRET }));
    assert.ok(err instanceof HandshakeRefused, String(err));
    assert.equal(err.code, 'IKC_ERR_AUTH');
    assert.match(peer.refuse?.message ?? '', /secret/);
    const closed = await peer.waitClose(3_000);
    assert.notEqual(closed.code, 1000);
    // The kernel never welcomed us and answered nothing else.
    assert.equal(peer.framesOf(FrameType.Welcome).length, 0);
    assert.deepEqual(
      peer.frames.map((r) => r.frame.type),
      [FrameType.Hello, FrameType.Auth, FrameType.Refuse],
    );
    // Only proofs travel: neither secret, in any encoding we can think of, is in the bytes.
    for (const secret of [SECRET, WRONG_SECRET]) {
      assert.ok(!peer.bytesContain(secret), `"${secret}" crossed the wire`);
      const hex = Buffer.from(secret).toString('hex');
      assert.ok(![...peer.sent, ...peer.received].some((b) => b.toString('hex').includes(hex)));
    }
    await loggedError(kernel, at, 'IKC_ERR_AUTH');
    await stillServing();
    secretsNotLogged();
  });

  it('the right secret via a raw peer links (control case): no secret in any frame either', async () => {
    const peer = await open();
    await peer.handshake(member);
    assert.equal(await peer.callAndWait('calc', 'add', [2, 2]), 4);
    assert.ok(!peer.bytesContain(SECRET));
    await peer.close();
  });

  it('a wrong cloud name: IKC_ERR_CLOUD for attach() and for a raw peer, logged by the kernel', async () => {
    let at = mark();
    const err = await rejection(
      attach({
        socket: kernel.socket,
        name: 'foreign-leaf',
        cloud: { name: 'othercloud', secret: SECRET },
        logger: silentLogger,
        processSignals: false,
      }),
    );
    assert.equal(err.code, 'IKC_ERR_CLOUD', err.message);
    assert.match(err.message, /othercloud/);
    await loggedError(kernel, at, 'IKC_ERR_CLOUD');
    await stillServing();

    at = mark();
    const peer = await open();
    const refused = await rejection(peer.handshake({ cloud: 'othercloud', secret: SECRET }));
    assert.ok(refused instanceof HandshakeRefused, String(refused));
    assert.equal(refused.code, 'IKC_ERR_CLOUD');
    assert.match(peer.refuse?.message ?? '', /othercloud/);
    assert.equal(peer.framesOf(FrameType.Auth).length, 0, 'no proof is offered to another cloud');
    await peer.waitClose(3_000);
    const line = await loggedError(kernel, at, 'IKC_ERR_CLOUD');
    assert.match(line.err?.message ?? '', /othercloud/);
    await stillServing();
  });

  it('no common protocol version (HELLO 99..99): IKC_ERR_VERSION', async () => {
    const at = mark();
    const peer = await open();
    const err = await rejection(peer.handshake({ ...member, range: { min: 99, max: 99 } }));
    assert.equal(err.code, 'IKC_ERR_VERSION');
    assert.match(peer.refuse?.message ?? '', /99/);
    assert.equal(peer.framesOf(FrameType.Welcome).length, 0);
    await peer.waitClose(3_000);
    await loggedError(kernel, at, 'IKC_ERR_VERSION');
    await stillServing();
  });

  it(`a stalled handshake (nothing sent) is cut after mesh.handshakeTimeoutMs (${HANDSHAKE_TIMEOUT_MS} ms)`, async () => {
    const at = mark();
    const peer = await open();
    const closed = await peer.waitClose(HANDSHAKE_TIMEOUT_MS + 3_000);
    assert.ok(closed.afterMs >= HANDSHAKE_TIMEOUT_MS - 50, `cut too early, after ${closed.afterMs} ms`);
    assert.ok(closed.afterMs < HANDSHAKE_TIMEOUT_MS + 1_500, `cut only after ${closed.afterMs} ms`);
    assert.notEqual(closed.code, 1000);
    assert.equal(peer.refuse?.code, 'IKC_ERR_HANDSHAKE');
    const line = await loggedError(kernel, at, 'IKC_ERR_HANDSHAKE');
    assert.match(line.err?.message ?? '', new RegExp(`${HANDSHAKE_TIMEOUT_MS} ms`));
    await stillServing();
  });

  it('a handshake that stalls after HELLO (no AUTH) is cut as well', async () => {
    const at = mark();
    const peer = await open();
    peer.send({
      type: FrameType.Hello,
      minVersion: 1,
      maxVersion: 1,
      cloud: cloud.name,
      kernelId: peer.kernelId,
      kernelName: peer.kernelName,
      nonce: Buffer.alloc(32, 7),
      role: 'host',
      features: [],
    });
    const closed = await peer.waitClose(HANDSHAKE_TIMEOUT_MS + 3_000);
    assert.ok(closed.afterMs >= HANDSHAKE_TIMEOUT_MS - 50, `cut too early, after ${closed.afterMs} ms`);
    assert.ok(closed.afterMs < HANDSHAKE_TIMEOUT_MS + 1_500, `cut only after ${closed.afterMs} ms`);
    assert.equal(peer.refuse?.code, 'IKC_ERR_HANDSHAKE');
    assert.equal(peer.framesOf(FrameType.Welcome).length, 0);
    await loggedError(kernel, at, 'IKC_ERR_HANDSHAKE');
    await stillServing();
  });
});

describe('two host kernel processes with different secrets, seeded at each other', () => {
  let alpha: KernelProc;
  let beta: KernelProc;
  const dir = socketDir();
  const alphaSecret = 'alpha-only-secret-1b2c';
  const betaSecret = 'beta-only-secret-9e8d';

  before(async () => {
    // alpha dials beta's UNIX socket (known before beta starts); beta dials alpha's TCP port.
    alpha = await startKernelProc({
      kernel: { name: 'alpha', listen: '127.0.0.1:0', socket: join(dir, 'a.sock') },
      cloud: { name: 'split', secret: alphaSecret, seeds: [`unix:${join(dir, 'b.sock')}`] },
      sessions: ['./calc.js'],
    });
    beta = await startKernelProc({
      kernel: { name: 'beta', listen: '127.0.0.1:0', socket: join(dir, 'b.sock') },
      cloud: { name: 'split', secret: betaSecret, seeds: [alpha.listen] },
      sessions: ['./calc.js'],
    });
  });

  after(async () => {
    await Promise.all([alpha?.stop(), beta?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('neither links to the other, both log IKC_ERR_AUTH, and neither secret is logged', async () => {
    await loggedError(alpha, 0, 'IKC_ERR_AUTH', 5_000);
    await loggedError(beta, 0, 'IKC_ERR_AUTH', 5_000);
    // Let them redial a few more times: still no link.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const [proc, other] of [
      [alpha, 'beta'],
      [beta, 'alpha'],
    ] as const) {
      assert.ok(
        !proc.stdout().includes(`"kernel.up","kernel":"${other}"`),
        `${proc.name} linked to ${other}:\n${proc.stdout()}`,
      );
      assert.ok(!/"msg":"link up"/.test(proc.stderr()), `${proc.name} logged a link up`);
      assert.equal(proc.child.exitCode, null, `${proc.name} exited`);
      for (const secret of [alphaSecret, betaSecret]) {
        assert.ok(!proc.stderr().includes(secret) && !proc.stdout().includes(secret), 'a secret was logged');
      }
    }
  });
});

describe('a kernel without a secret refuses to listen beyond loopback', () => {
  const dir = socketDir();

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a kernel process with kernel.listen 0.0.0.0:0 and no secret exits non-zero before READY', async () => {
    const config = {
      kernel: { name: 'open', listen: '0.0.0.0:0', socket: join(dir, 'o.sock') },
      cloud: { name: 'nosecret' },
      sessions: ['./calc.js'],
    };
    const err = await rejection(startKernelProc(config, 5_000));
    assert.match(err.message, /exited before "READY "/);
    assert.match(err.message, /IKC_ERR_INSECURE_LISTEN/);

    // The same, run directly, for the exit status and the full output.
    const child = spawn(process.execPath, [MAIN, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    assert.notEqual(code, 0, `exit code ${code}; output:\n${out}`);
    assert.notEqual(code, null, 'killed: it neither exited nor refused');
    assert.ok(!out.includes('READY'), `it said READY:\n${out}`);
    assert.match(out, /IKC_ERR_INSECURE_LISTEN/);
    assert.match(out, /0\.0\.0\.0/, 'the error names the address');
    assert.ok(!existsSync(join(dir, 'o.sock')), 'it listened on its UNIX socket before refusing');
  });

  it('in process: startKernel() rejects 0.0.0.0 and [::] without a secret; 127.0.0.1 without one works', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0']) {
      const err = await rejection(
        startKernel({
          kernel: { name: 'insecure', listen, socket: false },
          logger: silentLogger,
          processSignals: false,
        }),
      );
      assert.equal(err.code, 'IKC_ERR_INSECURE_LISTEN', `${listen}: ${err.message}`);
      assert.match(err.message, /secret/);
    }
    const ok = await startKernel({
      kernel: { name: 'loopback', listen: '127.0.0.1:0', socket: false },
      logger: silentLogger,
      processSignals: false,
    });
    try {
      assert.match(ok.listenAddress ?? '', /^127\.0\.0\.1:\d+$/);
      // And it is reachable there: a raw peer without a secret completes the handshake.
      const peer = await RawPeer.connect(ok.listenAddress as string, { cloud: 'ikc', secret: '' });
      assert.ok(peer.isOpen);
      await peer.close();
    } finally {
      await ok.stop();
    }
  });
});
