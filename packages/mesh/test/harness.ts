// Two kernels (Kernel + Mesh) over the in-memory transport, and a hand-driven peer that runs
// the handshake itself and then sends whatever frames or bytes a test wants: for the tests
// of what crosses a link (chunks.test.ts, blobs.test.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Kernel } from '@ikc/kernel';
import {
  acceptHello,
  authFrame,
  authProof,
  Codec,
  chunksFeature,
  encodeFrame,
  type Frame,
  FrameType,
  type HelloFrame,
  helloFrame,
  type IkcError,
  verifyAuth,
  welcomeFrame,
} from '@ikc/wire';
import { defaultTuning, type MeshTuning } from '../src/defaults.js';
import type { Link } from '../src/link.js';
import { silentLogger } from '../src/log.js';
import { Mesh } from '../src/mesh.js';
import type { Conn } from '../src/transport.js';
import { MemoryNetwork, MemoryTransport } from '../src/transports/memory.js';

export interface Node {
  kernel: Kernel;
  mesh: Mesh;
}

const cleanups: (() => Promise<void> | void)[] = [];
/** Stops what the last test started; each test file runs it afterEach. */
export async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0)) await c();
}

export const SECRET = 'sesame';
const CLOUD = 'mesh-test';
export const MIB = 1024 * 1024;

export function node(name: string, tuning: Partial<MeshTuning> = {}): Node {
  const kernel = new Kernel({ name, processSignals: false, onUnhandledError: () => {} });
  const mesh = new Mesh({
    kernel,
    cloud: CLOUD,
    secret: SECRET,
    role: 'host',
    tuning: { ...defaultTuning(), ...tuning },
    log: silentLogger,
  });
  cleanups.push(async () => {
    mesh.stop();
    await kernel.stop();
  });
  return { kernel, mesh };
}

/** A listener for `b`; `dial()` links `a` to it (again), resolving with a's side of the link. */
export async function wire(
  a: Node,
  b: Node,
): Promise<{ dial: () => Promise<Link>; transport: MemoryTransport }> {
  const transport = new MemoryTransport({ network: new MemoryNetwork() });
  const listener = await transport.listen('b', (conn) => b.mesh.adopt(conn, 'listener'));
  cleanups.push(() => listener.close());
  return {
    transport,
    dial: async () => {
      const link = a.mesh.adopt(await transport.connect('b'), 'dialer');
      await link.whenUp();
      return link;
    },
  };
}

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `bytes` bytes that differ from place to place, so a piece out of place shows. */
export function pattern(bytes: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0;
  for (let i = 0; i + 4 <= bytes; i += 4) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    b.writeUInt32LE(x, i);
  }
  b.fill(7, bytes - (bytes % 4));
  return b;
}

/** A session on `b`: hashes what it is given, records posts in order, makes big replies. */
export function store(b: Node): { seen: unknown[] } {
  const seen: unknown[] = [];
  b.kernel.spawn({
    alias: 'store',
    publish: ['hash', 'put', 'seen', 'make'],
    events: {
      hash: (_ctx, data: Buffer) => `${sha(data)}:${data.length}`,
      put: (_ctx, tag: unknown, data?: Buffer) => void seen.push(data ? `${tag}:${sha(data)}` : tag),
      seen: () => seen,
      make: (_ctx, bytes: number, seed: number) => pattern(bytes, seed),
    },
  });
  return { seen };
}

// ---- a hand-driven peer over the in-memory transport -------------------------------------

export interface Raw {
  frames: Frame[];
  /** Every message received after the handshake, in order: its frames, or its raw bytes
   * when they are not frames (a blob). */
  messages: (Frame[] | Uint8Array)[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: Frame | Uint8Array): void;
  /** Makes `a` call something on this peer with `data`; resolves with how the call failed. */
  sendCall(a: Node, data: Buffer): Promise<IkcError>;
}

/** Links a raw peer (kernel "raw") to `a`, runs the handshake by hand, and returns it. */
export async function rawPeer(
  a: Node,
  hello: { maxVersion?: number; features?: string[] } = {},
): Promise<{ peer: Raw; conn: Conn }> {
  const transport = new MemoryTransport({ network: new MemoryNetwork() });
  const listener = await transport.listen('a', (c) => a.mesh.adopt(c, 'listener'));
  cleanups.push(() => listener.close());
  const conn = await transport.connect('a');
  const codec = new Codec();
  const frames: Frame[] = [];
  const messages: (Frame[] | Uint8Array)[] = [];
  let upped = false;
  let wake: () => void = () => {};
  let closedResolve!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (closedResolve = r));
  const mine: HelloFrame = {
    ...helloFrame({ cloud: CLOUD, kernelId: 'rawrawrawrawrawrawraw', kernelName: 'raw', role: 'host' }),
    ...(hello.maxVersion ? { maxVersion: hello.maxVersion } : {}),
    features: hello.features ?? [chunksFeature(256 * MIB)],
  };
  conn.attach({
    message: (data) => {
      let decoded: Frame[];
      try {
        decoded = codec.decode(data);
      } catch (err) {
        if (!upped) throw err;
        messages.push(data);
        return wake();
      }
      if (upped) messages.push(decoded);
      for (const f of decoded) frames.push(f);
      wake();
    },
    close: (info) => closedResolve(info),
  });
  const send = (f: Frame | Uint8Array) => conn.send(f instanceof Uint8Array ? f : encodeFrame(f));
  const waitFor = async <F extends Frame>(type: number): Promise<F> => {
    for (;;) {
      const f = frames.find((x) => x.type === type);
      if (f) return f as F;
      await new Promise<void>((r) => (wake = r));
    }
  };
  send(mine);
  const theirs = await waitFor<HelloFrame>(FrameType.Hello);
  acceptHello(mine, theirs);
  // We dialed: the dialer's HELLO comes first in the proofs.
  send(authFrame(authProof(SECRET, 'dialer', mine, theirs)));
  const auth = await waitFor<Frame & { proof: Uint8Array }>(FrameType.Auth);
  assert.ok(verifyAuth(SECRET, 'listener', mine, theirs, auth.proof));
  send(welcomeFrame(Math.min(mine.maxVersion, theirs.maxVersion)));
  await waitFor(FrameType.Welcome);
  upped = true;
  await tick(5);
  const peer: Raw = {
    frames,
    messages,
    closed,
    send,
    async sendCall(node: Node, data: Buffer) {
      return node.kernel.call('poe://raw/anything/x', data).then(
        () => assert.fail('the call must fail'),
        (e: IkcError) => e,
      );
    },
  };
  return { peer, conn };
}

/**
 * Links a raw peer to `a` (with `hello`'s version and features), sends it `sends`, and
 * returns the REFUSE `a` answered with and the code `a` closed the link with.
 */
export async function refusal(
  a: Node,
  sends: readonly (Frame | Uint8Array)[],
  hello: { maxVersion?: number; features?: string[] } = {},
): Promise<{ code: string; message: string; closeCode: number }> {
  const { peer } = await rawPeer(a, hello);
  for (const s of sends) peer.send(s);
  const closed = await peer.closed;
  const refuse = peer.frames.find((f) => f.type === FrameType.Refuse) as
    | (Frame & { code: string; message: string })
    | undefined;
  assert.ok(refuse, 'a REFUSE before the close');
  return { code: refuse.code, message: refuse.message, closeCode: closed.code };
}
