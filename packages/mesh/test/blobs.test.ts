// Large binary arguments out of band (protocol version 3): a POST or CALL whose top-level
// arguments include binaries of BLOB_MIN_BYTES up to CHUNK_BYTES goes as BLOBS, the frame
// with nil in their places, and each binary as a raw transport message. Checked on the
// wire with a hand-driven peer, end to end between two kernels (order, exactly once across
// a dropped link), and against bad sequences from a peer, which close that link only. Job
// output between kernel processes takes this path too (test/src/jobs-remote-stream.test.ts).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { BLOB_MIN_BYTES, type BlobsFrame, CHUNK_BYTES, encodeFrame, type Frame, FrameType } from '@ikc/wire';
import { cleanup, node, pattern, type Raw, rawPeer, refusal, sha, store, tick, wire } from './harness.js';

afterEach(cleanup);

/** Waits until the raw peer has received `n` messages after the handshake. */
async function messages(peer: Raw, n: number): Promise<(Frame[] | Uint8Array)[]> {
  for (let i = 0; i < 200 && peer.messages.length < n; i++) await tick(5);
  assert.ok(peer.messages.length >= n, `${peer.messages.length} messages, expected ${n}`);
  return peer.messages;
}

/** The messages from the one holding BLOBS on, without PING/PONG/ACK/REGISTRY traffic. */
function fromBlobs(peer: Raw): (Frame[] | Uint8Array)[] {
  const at = peer.messages.findIndex((m) => Array.isArray(m) && m.some((f) => f.type === FrameType.Blobs));
  assert.ok(at >= 0, 'a BLOBS frame was sent');
  return peer.messages.slice(at);
}

describe('large binary arguments travel as blobs', () => {
  it('on the wire: BLOBS, then the POST with nil in their places, then each binary as it is', async () => {
    const a = node('a');
    const { peer } = await rawPeer(a);
    const one = pattern(64 * 1024, 1);
    const two = pattern(BLOB_MIN_BYTES, 2);
    const small = Buffer.alloc(BLOB_MIN_BYTES - 1, 3);
    const before = peer.messages.length;
    a.kernel.post('poe://raw/anything/put', 'tag', one, small, { inner: pattern(BLOB_MIN_BYTES, 4) }, two);
    await messages(peer, before + 3);
    const [head, first, second] = fromBlobs(peer);
    const frames = head as Frame[];
    const blobs = frames.find((f) => f.type === FrameType.Blobs) as BlobsFrame;
    assert.deepEqual(blobs.args, [1, 4]);
    assert.deepEqual(blobs.lengths, [one.length, two.length]);
    const post = frames[frames.indexOf(blobs) + 1] as Frame & { args: unknown[] };
    assert.equal(post.type, FrameType.Post, 'the POST follows BLOBS in the same message');
    assert.equal(frames.indexOf(blobs) + 1, frames.length - 1, 'and ends it');
    assert.equal(post.args[0], 'tag');
    assert.equal(post.args[1], null);
    // Below BLOB_MIN_BYTES, or not at the top level: inside the frame.
    assert.deepEqual(post.args[2], small);
    assert.equal(sha((post.args[3] as { inner: Buffer }).inner), sha(pattern(BLOB_MIN_BYTES, 4)));
    assert.equal(post.args[4], null);
    assert.ok(first instanceof Uint8Array && !Array.isArray(first));
    assert.equal(sha(first as Uint8Array), sha(one));
    assert.equal(sha(second as Uint8Array), sha(two));
  });

  it('not to a peer at protocol version 2: the binary stays inside the POST', async () => {
    const a = node('a');
    const { peer } = await rawPeer(a, { maxVersion: 2 });
    const data = pattern(64 * 1024, 5);
    const before = peer.messages.length;
    a.kernel.post('poe://raw/anything/put', data);
    await messages(peer, before + 1);
    const posts = peer.frames.filter((f) => f.type === FrameType.Post) as (Frame & { args: unknown[] })[];
    assert.equal(posts.length, 1);
    assert.equal(sha(posts[0]?.args[0] as Buffer), sha(data));
    assert.ok(!peer.frames.some((f) => f.type === FrameType.Blobs));
    assert.ok(
      peer.messages.every((m) => Array.isArray(m)),
      'no raw message',
    );
  });

  it('between two kernels: posts and calls with blobs arrive intact and in order with the rest', async () => {
    const a = node('a');
    const b = node('b');
    store(b);
    b.kernel.spawn({
      alias: 'pair',
      publish: ['join'],
      events: { join: (_ctx, x: Buffer, sep: string, y: Buffer) => `${sha(x)}${sep}${sha(y)}` },
    });
    const { dial } = await wire(a, b);
    await dial();
    const chunks = [1, 2, 3].map((i) => pattern(64 * 1024 + i, i));
    const big = pattern(2 * CHUNK_BYTES + 5, 9); // over the blob limit: chunked instead
    a.kernel.post('poe://b/store/put', 'first');
    for (const [i, c] of chunks.entries()) {
      a.kernel.post('poe://b/store/put', i, c);
      a.kernel.post('poe://b/store/put', `after ${i}`);
    }
    a.kernel.post('poe://b/store/put', 'big', big);
    const x = pattern(300 * 1024, 7);
    const y = pattern(BLOB_MIN_BYTES, 8);
    assert.equal(await a.kernel.call('poe://b/pair/join', x, '+', y), `${sha(x)}+${sha(y)}`);
    assert.deepEqual(await a.kernel.call('poe://b/store/seen'), [
      'first',
      `0:${sha(chunks[0] as Buffer)}`,
      'after 0',
      `1:${sha(chunks[1] as Buffer)}`,
      'after 1',
      `2:${sha(chunks[2] as Buffer)}`,
      'after 2',
      `big:${sha(big)}`,
    ]);
  });

  it('exactly once, in order, when the link drops in the middle of a stream of them', async () => {
    const a = node('a');
    const b = node('b');
    const { seen } = store(b);
    const { dial } = await wire(a, b);
    let link = await dial();
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const data = pattern(32 * 1024, i + 1);
      sent.push(`${i}:${sha(data)}`);
      a.kernel.post('poe://b/store/put', i, data);
      if (i === 20) {
        await tick(0); // some went out, some did not
        link.conn.terminate();
      }
    }
    await tick(5);
    link = await dial();
    await a.mesh.barrier(a.mesh.kernelIdOf('b') as string);
    await b.kernel.idle();
    assert.deepEqual(seen, sent);
  });
});

describe('bad blob sequences from a peer close that link only', () => {
  const post = (seq: number, args: unknown[]): Frame => ({
    type: FrameType.Post,
    seq,
    from: 'raw.1',
    to: 'store',
    event: 'put',
    args,
    dest: '',
    origin: '',
  });
  const blobs = (args: number[], lengths: number[]): Frame => ({ type: FrameType.Blobs, args, lengths });
  const together = (...frames: Frame[]) => Buffer.concat(frames.map((f) => encodeFrame(f)));

  const cases: [string, (Uint8Array | Frame)[], RegExp][] = [
    [
      'BLOBS followed by a PING',
      [together(blobs([0], [10]), { type: FrameType.Ping, sentAt: 1 })],
      /not frame type 16/,
    ],
    ['a position that is not nil', [together(blobs([0], [10]), post(1, ['x']))], /position 0 is not a nil/],
    [
      'a position past the arguments',
      [together(blobs([3], [10]), post(1, [null]))],
      /position 3 is not a nil/,
    ],
    ['positions not ascending', [together(blobs([1, 0], [10, 10]), post(1, [null, null]))], /ascending/],
    [
      'a blob over the limit',
      [together(blobs([0], [CHUNK_BYTES + 1]), post(1, [null]))],
      /a blob of 1048577 bytes/,
    ],
    [
      'a blob of the wrong length',
      [together(blobs([0], [10]), post(1, [null])), Buffer.alloc(11)],
      /is 11 bytes; BLOBS said 10/,
    ],
    [
      'a frame after the one waiting for its blobs',
      [together(blobs([0], [10]), post(1, [null]), post(2, ['y']))],
      /before the blobs/,
    ],
    [
      'positions and lengths that differ',
      [together(blobs([0, 1], [10]), post(1, [null, null]))],
      /2 positions but 1 lengths/,
    ],
  ];
  for (const [what, sends, message] of cases) {
    it(`${what}: IKC_ERR_PROTOCOL`, async () => {
      const a = node('a');
      store(a);
      const b = node('b');
      const { dial } = await wire(a, b);
      await dial();
      const refuse = await refusal(a, sends);
      assert.equal(refuse.code, 'IKC_ERR_PROTOCOL', refuse.message);
      assert.match(refuse.message, message);
      assert.notEqual(refuse.closeCode, 1000);
      // a goes on: its link to b still carries blobs.
      const data = pattern(100 * 1024, 3);
      assert.deepEqual(await b.kernel.call('poe://a/store/hash', data), `${sha(data)}:${data.length}`);
    });
  }

  it('BLOBS on a link at protocol version 2: IKC_ERR_PROTOCOL', async () => {
    const a = node('a');
    const refuse = await refusal(a, [blobs([0], [10])], { maxVersion: 2 });
    assert.equal(refuse.code, 'IKC_ERR_PROTOCOL');
    assert.match(refuse.message, /BLOBS on a link at protocol version 2/);
  });

  it('a good sequence from a hand-driven peer is delivered with its blob in place', async () => {
    const a = node('a');
    const { seen } = store(a);
    const { peer } = await rawPeer(a);
    const data = pattern(20_000, 6);
    peer.send(together(blobs([1], [data.length]), post(1, ['raw', null])));
    await tick(5);
    assert.deepEqual(seen, [], 'not before its blob');
    peer.send(data);
    for (let i = 0; i < 100 && seen.length === 0; i++) await tick(5);
    assert.deepEqual(seen, [`raw:${sha(data)}`]);
  });
});
