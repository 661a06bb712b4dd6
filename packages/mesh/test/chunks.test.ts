// Messages larger than a transport message, over the in-memory transport (which, like ws,
// refuses any message over 4 MiB): they cross in CHUNK frames and are put back together,
// in order with everything else, exactly once across a dropped link. Bad chunk sequences
// from a peer close that link only. The same runs between real processes in
// test/src/mesh-large.test.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  CHUNK_BYTES,
  type ChunkFrame,
  encodeChunk,
  type Frame,
  FrameType,
  type IkcError,
  MAX_MESSAGE_BYTES,
} from '@ikc/wire';
import { cleanup, MIB, node, pattern, rawPeer, refusal, sha, store, tick, wire } from './harness.js';

afterEach(cleanup);

describe('messages larger than a transport message', () => {
  it('a 9 MiB argument and a 9 MiB result cross a link limited to 4 MiB messages, intact', async () => {
    const a = node('a');
    const b = node('b');
    store(b);
    const { dial } = await wire(a, b);
    await dial();
    const data = pattern(9 * MIB + 3);
    assert.ok(data.length > MAX_MESSAGE_BYTES);
    assert.equal(await a.kernel.call('poe://b/store/hash', data), `${sha(data)}:${data.length}`);
    const back = (await a.kernel.call('poe://b/store/make', 9 * MIB, 5)) as Buffer;
    assert.equal(sha(back), sha(pattern(9 * MIB, 5)));
  });

  it('keeps the order of a session’s posts and calls around a large one', async () => {
    const a = node('a');
    const b = node('b');
    store(b);
    const { dial } = await wire(a, b);
    await dial();
    const big = pattern(3 * MIB);
    a.kernel.post('poe://b/store/put', 'before');
    a.kernel.post('poe://b/store/put', 'big', big);
    for (let i = 0; i < 5; i++) a.kernel.post('poe://b/store/put', i);
    const hashed = a.kernel.call('poe://b/store/hash', big);
    a.kernel.post('poe://b/store/put', 'after');
    assert.equal(await hashed, `${sha(big)}:${big.length}`);
    assert.deepEqual(await a.kernel.call('poe://b/store/seen'), [
      'before',
      `big:${sha(big)}`,
      0,
      1,
      2,
      3,
      4,
      'after',
    ]);
  });

  it('delivers a large post exactly once when its link drops halfway through', async () => {
    const a = node('a');
    const b = node('b');
    const { seen } = store(b);
    const { dial } = await wire(a, b);
    let link = await dial();
    const big = pattern(12 * MIB, 9);
    a.kernel.post('poe://b/store/put', 'big', big);
    a.kernel.post('poe://b/store/put', 'small');
    // Let a few of its chunks out (one per turn), then fail the network.
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    assert.ok(link.pendingBytes > 0 && link.pendingBytes < big.length, `mid-transfer (${link.pendingBytes})`);
    link.conn.terminate();
    await tick(5);
    link = await dial();
    await a.mesh.barrier(a.mesh.kernelIdOf('b') as string);
    await b.kernel.idle();
    assert.deepEqual(seen, [`big:${sha(big)}`, 'small']);
  });

  it('refuses a message over mesh.maxMessageBytes at the sender; the link stays up', async () => {
    const a = node('a', { maxMessageBytes: 8 * MIB });
    const b = node('b');
    store(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    await assert.rejects(a.kernel.call('poe://b/store/hash', Buffer.alloc(9 * MIB)), (err: IkcError) => {
      assert.equal(err.code, 'IKC_ERR_MESSAGE_TOO_LARGE');
      assert.match(err.message, /CALL of \d+ bytes: mesh\.maxMessageBytes is 8388608/);
      return true;
    });
    assert.ok(link.isUp);
    assert.equal(
      await a.kernel.call('poe://b/store/hash', Buffer.alloc(7 * MIB)),
      `${sha(Buffer.alloc(7 * MIB))}:${7 * MIB}`,
    );
  });

  it("applies the peer's smaller limit at the sender, and a result too large comes back as an error", async () => {
    const a = node('a');
    const b = node('b', { maxMessageBytes: 6 * MIB });
    store(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    await assert.rejects(a.kernel.call('poe://b/store/hash', Buffer.alloc(7 * MIB)), (err: IkcError) => {
      assert.equal(err.code, 'IKC_ERR_MESSAGE_TOO_LARGE');
      assert.match(err.message, /b takes at most 6291456 bytes/);
      return true;
    });
    // b's own limit stops a result of 7 MiB: the caller gets why, not a timeout.
    await assert.rejects(a.kernel.call('poe://b/store/make', 7 * MIB, 1), {
      code: 'IKC_ERR_MESSAGE_TOO_LARGE',
    });
    assert.ok(link.isUp);
  });

  it('sends no chunks to a peer that speaks protocol version 1: 4 MiB stays the limit there', async () => {
    const a = node('a');
    const { peer, conn } = await rawPeer(a, { maxVersion: 1, features: [] });
    const welcome = peer.frames.find((f) => f.type === FrameType.Welcome) as Frame & { version: number };
    assert.equal(welcome.version, 1);
    const sent = await peer.sendCall(a, Buffer.alloc(5 * MIB));
    assert.equal(sent.code, 'IKC_ERR_MESSAGE_TOO_LARGE');
    assert.match(sent.message, /takes no chunked messages, so at most 4194304 bytes/);
    conn.close();
  });
});

describe('bad chunk sequences from a peer close that link only', () => {
  const post = (seq: number): Frame => ({
    type: FrameType.Post,
    seq,
    from: 'raw.1',
    to: 'store',
    event: 'put',
    args: [seq],
    dest: '',
    origin: '',
  });
  const piece = (id: number, total: number, offset: number, bytes: number) =>
    encodeChunk(id, total, offset, Buffer.alloc(bytes, 1));

  const cases: [string, (Uint8Array | Frame)[], string][] = [
    ['a piece out of order', [piece(1, 3000, 0, 1000), piece(1, 3000, 2000, 1000)], 'IKC_ERR_PROTOCOL'],
    [
      'a second message before the first is whole',
      [piece(1, 3000, 0, 1000), piece(2, 3000, 0, 1000)],
      'IKC_ERR_PROTOCOL',
    ],
    [
      'a piece that runs past the total',
      [piece(1, 1500, 0, 1000), piece(1, 1500, 1000, 1000)],
      'IKC_ERR_PROTOCOL',
    ],
    ['a sequenced frame between two pieces', [piece(1, 3000, 0, 1000), post(1)], 'IKC_ERR_PROTOCOL'],
    [
      'a message announced over maxMessageBytes',
      [piece(1, 64 * MIB + 1, 0, 1000)],
      'IKC_ERR_MESSAGE_TOO_LARGE',
    ],
    [
      'an assembled message that is not one valid frame',
      [piece(1, 2000, 0, 1000), piece(1, 2000, 1000, 1000)],
      'IKC_ERR_FRAME_MALFORMED',
    ],
    [
      'an assembled message that is a CHUNK',
      [
        (() => {
          const inner = encodeChunk(2, 1000, 0, Buffer.alloc(1000));
          return encodeChunk(1, inner.length, 0, inner);
        })(),
      ],
      'IKC_ERR_PROTOCOL',
    ],
  ];
  for (const [what, sends, code] of cases) {
    it(`${what}: ${code}`, async () => {
      const a = node('a', { maxMessageBytes: 64 * MIB });
      store(a);
      const b = node('b');
      store(b);
      const { dial } = await wire(a, b);
      await dial();
      const refuse = await refusal(a, sends);
      assert.equal(refuse.code, code, refuse.message);
      assert.notEqual(refuse.closeCode, 1000);
      // a goes on: its link to b still carries large messages.
      const data = pattern(2 * CHUNK_BYTES + 1);
      assert.equal(await b.kernel.call('poe://a/store/hash', data), `${sha(data)}:${data.length}`);
    });
  }

  it('a CHUNK on a link at protocol version 1: IKC_ERR_PROTOCOL', async () => {
    const a = node('a');
    const chunk = {
      type: FrameType.Chunk,
      id: 1,
      total: 10,
      offset: 0,
      data: Buffer.alloc(10),
    } as ChunkFrame;
    const refuse = await refusal(a, [chunk], { maxVersion: 1 });
    assert.equal(refuse.code, 'IKC_ERR_PROTOCOL');
    assert.match(refuse.message, /version 1/);
  });
});
