// Chunked messages: the CHUNK encoding, and the assembler fed pieces in and out of order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CHUNK_BYTES,
  ChunkAssembler,
  chunksFeature,
  encodeChunk,
  largeLimits,
  peerChunkLimit,
  readChunk,
} from '../src/chunk.js';
import { Codec, encodeFrame } from '../src/codec.js';
import { type ChunkFrame, type Frame, FrameType, type PostFrame } from '../src/frames.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { assertWireError } from './samples.js';

const codec = new Codec();

/** The CHUNK frames of `message`, as the receiving link decodes them, `size` bytes each. */
function pieces(id: number, message: Uint8Array, size = CHUNK_BYTES): ChunkFrame[] {
  const out: ChunkFrame[] = [];
  for (let offset = 0; offset < message.length; offset += size) {
    const bytes = encodeChunk(id, message.length, offset, message.subarray(offset, offset + size));
    out.push(codec.decodeOne(bytes) as ChunkFrame);
  }
  return out;
}

const chunk = (id: number, total: number, offset: number, bytes: number): ChunkFrame => ({
  type: FrameType.Chunk,
  id,
  total,
  offset,
  data: Buffer.alloc(bytes, 7),
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('CHUNK encoding', () => {
  it('writes exactly what the codec writes for the same frame, for every size of field', () => {
    const cases: [number, number, number, number][] = [
      [1, 10, 0, 10],
      [127, 300, 128, 172],
      [200, 70_000, 65_536, 4_464],
      [70_000, 2 ** 31, 2 ** 31 - 100, 100],
      [2 ** 32 + 5, 2 ** 33, 2 ** 32, 1],
    ];
    for (const [id, total, offset, bytes] of cases) {
      const data = Buffer.alloc(bytes, 0x61);
      const frame: Frame = { type: FrameType.Chunk, id, total, offset, data };
      const mine = encodeChunk(id, total, offset, data);
      assert.deepEqual(mine, encodeFrame(frame), `id ${id}, total ${total}, offset ${offset}`);
      assert.deepEqual(codec.decodeOne(mine), frame);
    }
  });

  it('refuses fields that are not unsigned integers (IKC_ERR_ENCODE)', () => {
    assert.throws(() => encodeChunk(-1, 1, 0, Buffer.alloc(1)), { code: 'IKC_ERR_ENCODE' });
    assert.throws(() => encodeChunk(1, 1.5, 0, Buffer.alloc(1)), { code: 'IKC_ERR_ENCODE' });
  });
});

describe("readChunk (the receiving link's shortcut)", () => {
  it('reads what the codec reads, with the data as a view into the message', () => {
    for (const [id, total, offset, bytes] of [
      [1, 10, 0, 10],
      [300, 70_000, 65_536, 4_464],
      [2 ** 32 + 5, 2 ** 33, 2 ** 32, 300],
    ] as const) {
      const message = encodeChunk(id, total, offset, Buffer.alloc(bytes, 0x62));
      const fast = readChunk(message);
      assert.deepEqual(fast, codec.decodeOne(message));
      assert.equal(fast?.data.buffer, message.buffer, 'a view, not a copy');
    }
  });

  it('leaves to the codec anything but exactly one CHUNK within the limits', () => {
    const one = encodeChunk(1, 100, 0, Buffer.alloc(100, 1));
    const cases: [string, Uint8Array][] = [
      ['a POST', encodeFrame({ type: FrameType.Ack, seq: 1 })],
      ['a batch holding a CHUNK', Buffer.concat([one, encodeFrame({ type: FrameType.Ack, seq: 1 })])],
      ['a truncated CHUNK', one.subarray(0, one.length - 1)],
      ['a bigint id', Buffer.from([0x95, 0x13, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x00, 0xc4, 0x01, 0x07])],
      ['a negative offset', Buffer.from([0x95, 0x13, 0x01, 0x01, 0xff, 0xc4, 0x01, 0x07])],
      ['a string for data', Buffer.from([0x95, 0x13, 0x01, 0x01, 0x00, 0xa1, 0x07])],
      ['four fields', Buffer.from([0x94, 0x13, 0x01, 0x01, 0x00])],
    ];
    for (const [what, message] of cases) assert.equal(readChunk(message), undefined, what);
    const small = new Codec({ limits: { maxBinBytes: 50 } }).limits;
    assert.equal(readChunk(one, small), undefined, 'data over maxBinBytes');
  });
});

describe('ChunkAssembler', () => {
  it('puts a message back together from its pieces, byte for byte', () => {
    const message = Buffer.alloc(3 * 1000 + 17);
    for (let i = 0; i < message.length; i++) message[i] = (i * 31) & 0xff;
    const asm = new ChunkAssembler(1 << 20);
    const list = pieces(1, message, 1000);
    assert.equal(list.length, 4);
    for (const piece of list.slice(0, -1)) {
      assert.equal(asm.take(piece), undefined);
      assert.ok(asm.inProgress);
    }
    const whole = asm.take(list.at(-1) as ChunkFrame);
    assert.ok(whole);
    assert.equal(sha(whole), sha(message));
    assert.equal(asm.inProgress, false);
    // The next message takes a larger id; a one-piece message is fine.
    assert.deepEqual(asm.take(pieces(2, Buffer.from('hi'))[0] as ChunkFrame), Buffer.from('hi'));
  });

  it('carries a frame with a 64 MiB binary argument, decoded with large limits, as views', () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 'ikc ');
    big.writeUInt32BE(0xdeadbeef, big.length - 4);
    const post: PostFrame = {
      type: FrameType.Post,
      seq: 9,
      from: 'a',
      to: 'b',
      event: 'big',
      args: [big, 'tail'],
      dest: '',
      origin: '',
    };
    const whole = new Codec({ limits: largeLimits(256 * 1024 * 1024) });
    const bytes = whole.encode(post);
    assert.throws(() => codec.encode(post), { code: 'IKC_ERR_ENCODE' }, 'too large for one message');
    const asm = new ChunkAssembler(256 * 1024 * 1024);
    let message: Buffer | undefined;
    for (const piece of pieces(1, bytes)) message = asm.take(piece);
    assert.ok(message);
    const views = new Codec({ limits: largeLimits(256 * 1024 * 1024), viewBinaries: true });
    const frame = views.decodeOne(message) as PostFrame;
    const arg = frame.args[0] as Buffer;
    assert.equal(arg.length, big.length);
    assert.equal(sha(arg), sha(big));
    assert.equal(arg.buffer, message.buffer, 'the argument is a view into the assembled message');
    assert.equal(frame.args[1], 'tail');
  });

  const bad: [string, ChunkFrame[], string, RegExp][] = [
    [
      'a first piece that does not start at 0',
      [chunk(1, 100, 10, 10)],
      'IKC_ERR_PROTOCOL',
      /offset 10, not 0/,
    ],
    [
      'a gap between pieces',
      [chunk(1, 100, 0, 10), chunk(1, 100, 20, 10)],
      'IKC_ERR_PROTOCOL',
      /expected 10/,
    ],
    ['a piece sent twice', [chunk(1, 100, 0, 10), chunk(1, 100, 0, 10)], 'IKC_ERR_PROTOCOL', /expected 10/],
    [
      'a new message before the last one is whole',
      [chunk(1, 100, 0, 10), chunk(2, 100, 0, 10)],
      'IKC_ERR_PROTOCOL',
      /before message 1/,
    ],
    [
      'a size that changes',
      [chunk(1, 100, 0, 10), chunk(1, 200, 10, 10)],
      'IKC_ERR_PROTOCOL',
      /changed its size/,
    ],
    ['a piece past the end', [chunk(1, 100, 0, 95), chunk(1, 100, 95, 10)], 'IKC_ERR_PROTOCOL', /runs past/],
    ['an empty piece', [chunk(1, 100, 0, 0)], 'IKC_ERR_PROTOCOL', /empty piece/],
    ['a message of no bytes', [chunk(1, 0, 0, 0)], 'IKC_ERR_PROTOCOL', /no bytes/],
    ['an id that does not grow', [chunk(3, 5, 0, 5), chunk(3, 5, 0, 5)], 'IKC_ERR_PROTOCOL', /ids must grow/],
    [
      'a message over maxMessageBytes',
      [chunk(1, 1001, 0, 10)],
      'IKC_ERR_MESSAGE_TOO_LARGE',
      /1001 bytes exceeds maxMessageBytes \(1000\)/,
    ],
  ];
  for (const [what, list, code, message] of bad) {
    it(`refuses ${what} (${code})`, () => {
      const asm = new ChunkAssembler(1000);
      for (const piece of list.slice(0, -1)) asm.take(piece);
      assertWireError(() => asm.take(list.at(-1) as ChunkFrame), code as 'IKC_ERR_PROTOCOL', message);
    });
  }

  it('refuses a message over its limit before allocating anything for it', () => {
    const asm = new ChunkAssembler(1024);
    const before = process.memoryUsage().arrayBuffers;
    assertWireError(() => asm.take(chunk(1, 2 ** 40, 0, 1)), 'IKC_ERR_MESSAGE_TOO_LARGE');
    assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
    assert.equal(asm.inProgress, false);
  });

  it('forgets a message in progress on reset (its link went away)', () => {
    const asm = new ChunkAssembler(1000);
    asm.take(chunk(1, 100, 0, 10));
    asm.reset();
    assert.equal(asm.inProgress, false);
    assert.equal(asm.take(chunk(2, 10, 0, 10))?.length, 10);
  });
});

describe('chunk limits and the HELLO feature', () => {
  it('says and reads the largest message a kernel takes', () => {
    assert.equal(chunksFeature(268_435_456), 'chunks=268435456');
    assert.equal(peerChunkLimit(['tls', chunksFeature(5_000_000)]), 5_000_000);
    for (const features of [
      [],
      ['chunks'],
      ['chunks='],
      ['chunks=-1'],
      ['chunks=0'],
      ['chunks=1e9'],
      ['chunks=12345678901234567'],
    ]) {
      assert.equal(peerChunkLimit(features), undefined, features.join());
    }
  });

  it('raise the message, string and binary limits and keep the others', () => {
    const limits = largeLimits(64 * 1024 * 1024);
    assert.equal(limits.maxMessageBytes, 64 * 1024 * 1024);
    assert.equal(limits.maxBinBytes, 64 * 1024 * 1024);
    assert.equal(limits.maxStringBytes, 64 * 1024 * 1024);
    assert.equal(limits.maxDepth, DEFAULT_LIMITS.maxDepth);
    assert.equal(limits.maxValuesPerMessage, DEFAULT_LIMITS.maxValuesPerMessage);
    assert.equal(
      largeLimits(1024).maxMessageBytes,
      DEFAULT_LIMITS.maxMessageBytes,
      'never below the defaults',
    );
  });

  it('leave msgpackr a small slab after a large frame (its slab is process-wide)', () => {
    const whole = new Codec({ limits: largeLimits(64 * 1024 * 1024) });
    const big = whole.encode({ type: FrameType.Gossip, payload: Buffer.alloc(8 * 1024 * 1024) });
    const small = whole.encode({ type: FrameType.Ack, seq: 1 });
    assert.notEqual(small.buffer, big.buffer);
    assert.ok(small.buffer.byteLength < 1024 * 1024, `slab of ${small.buffer.byteLength} bytes`);
  });
});
