import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameBatcher } from '../src/batch.js';
import { Codec, encodeFrame } from '../src/codec.js';
import { FLAT_MAX_BYTES, writeFlat } from '../src/flat.js';
import { type Frame, FrameType } from '../src/frames.js';

/** Every kind of value the flat writer takes, at the edges of each msgpack form. */
const VALUES: unknown[] = [
  0,
  1,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0xffffffff,
  2 ** 32,
  2 ** 53 - 1,
  -1,
  -0x20,
  -0x21,
  -0x80,
  -0x81,
  -0x8000,
  -0x8001,
  -(2 ** 31),
  -(2 ** 31) - 1,
  1.5,
  -0.25,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  '',
  'a',
  'x'.repeat(31),
  'x'.repeat(32),
  'x'.repeat(255),
  'x'.repeat(256),
  'x'.repeat(3000),
  true,
  false,
  null,
  undefined,
];

function frames(): Frame[] {
  const list: Frame[] = [];
  for (const v of VALUES) {
    list.push({
      type: FrameType.Post,
      seq: 1,
      from: 'k.1',
      to: 'sink',
      event: 'hit',
      args: [v],
      dest: '',
      origin: '',
    });
    list.push({ type: FrameType.Reply, seq: 2 ** 40, callId: 70000, value: v, dest: 'k2', origin: 'k3' });
  }
  list.push({
    type: FrameType.Call,
    seq: 300,
    callId: 1,
    from: 'a',
    to: 'b',
    event: 'e',
    args: VALUES.slice(0, 20),
    timeoutMs: 30_000,
    dest: '',
    origin: '',
  });
  list.push({ type: FrameType.Post, seq: 5, from: 'a', to: 'b', event: 'e', args: Array(16).fill(7) });
  list.push({
    type: FrameType.Call,
    seq: 5,
    callId: 2,
    from: 'a',
    to: 'b',
    event: 'e',
    args: [],
  } as unknown as Frame);
  return list;
}

function flat(frame: Frame, room = FLAT_MAX_BYTES): Buffer | undefined {
  const out = Buffer.alloc(room + 16);
  const n = writeFlat(frame, out, 8, room);
  return n === 0 ? undefined : out.subarray(8, 8 + n);
}

describe('flat frames', () => {
  it('are written byte for byte as msgpackr writes them, and decode to the same frame', () => {
    const codec = new Codec();
    for (const frame of frames()) {
      const bytes = flat(frame);
      assert.ok(bytes, `written flat: ${JSON.stringify(frame).slice(0, 80)}`);
      assert.deepEqual(bytes, encodeFrame(frame), JSON.stringify(frame).slice(0, 80));
      assert.deepEqual(codec.decode(bytes), codec.decode(encodeFrame(frame)));
    }
  });

  it('are not written when any part is not flat, nor past the room given', () => {
    const post = (args: unknown[], extra: object = {}) =>
      ({ type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args, ...extra }) as Frame;
    for (const args of [[{}], [[1]], [new Uint8Array(1)], ['é'], [1n], [Symbol('s')], [() => 1]]) {
      assert.equal(flat(post(args)), undefined, String(args[0]));
    }
    assert.equal(flat(post([1], { seq: -1 })), undefined, 'a bad seq');
    assert.equal(flat(post([1], { event: 'é' })), undefined, 'a non-ASCII event');
    assert.equal(flat(post(['x'.repeat(100)]), 100), undefined, 'past the room');
    assert.ok(flat(post(['x'.repeat(100)]), 120));
    assert.equal(flat({ type: FrameType.Ack, seq: 1 }), undefined, 'not a POST, CALL or REPLY');
  });

  it('join a batch like any frame, and a batch past maxBytes goes first', () => {
    const sent: Buffer[] = [];
    const codec = new Codec();
    const batcher = new FrameBatcher((m) => sent.push(Buffer.from(m)), codec, { maxBytes: 100 });
    const post = (i: number): Frame => ({
      type: FrameType.Post,
      seq: i,
      from: 'a',
      to: 'b',
      event: 'e',
      args: ['y'.repeat(30)],
      dest: '',
      origin: '',
    });
    for (let i = 1; i <= 3; i++) assert.equal(batcher.addFlat(post(i)), encodeFrame(post(i)).length);
    assert.equal(batcher.addFlat({ ...post(4), args: [{}] } as Frame), 0, 'not flat: nothing added');
    batcher.flush();
    const seqs = sent.map((m) => codec.decode(m).map((f) => (f as { seq: number }).seq));
    assert.deepEqual(seqs, [[1, 2], [3]]);
  });
});
