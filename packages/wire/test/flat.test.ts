import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBatch, FrameBatcher } from '../src/batch.js';
import { Codec, encodeFrame } from '../src/codec.js';
import { FLAT_MAX_BYTES, readFlat, writeFlat } from '../src/flat.js';
import { type Frame, FrameType } from '../src/frames.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { packr, unpackr } from '../src/msgpack.js';
import { frameFromWire } from '../src/positional.js';
import { scanMessage } from '../src/scan.js';
import { SessionRef } from '../src/values.js';

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
  Buffer.alloc(0),
  Buffer.from([1, 2, 3]),
  new Uint8Array([250, 0, 7]),
  Buffer.alloc(255, 1),
  Buffer.alloc(256, 2),
  new Uint8Array(3000).fill(3),
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
  for (const seq of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40]) {
    list.push({ type: FrameType.Ack, seq });
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
    for (const args of [
      [{}],
      [[1]],
      [new Uint16Array(1)],
      [new DataView(new ArrayBuffer(1))],
      ['é'],
      [1n],
      [Symbol('s')],
      [() => 1],
    ]) {
      assert.equal(flat(post(args)), undefined, String(args[0]));
    }
    assert.equal(flat(post([1], { seq: -1 })), undefined, 'a bad seq');
    assert.equal(flat(post([1], { event: 'é' })), undefined, 'a non-ASCII event');
    assert.equal(flat(post(['x'.repeat(100)]), 100), undefined, 'past the room');
    assert.ok(flat(post(['x'.repeat(100)]), 120));
    assert.equal(flat({ type: FrameType.Ack, seq: -1 }), undefined, 'an ACK with a bad seq');
    assert.equal(flat({ type: FrameType.Ping, sentAt: 1 }), undefined, 'not a POST, CALL, REPLY or ACK');
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
    assert.equal(batcher.addFlat({ ...post(4), args: [new Map()] } as Frame), 0, 'not flat: nothing added');
    batcher.flush();
    const seqs = sent.map((m) => codec.decode(m).map((f) => (f as { seq: number }).seq));
    assert.deepEqual(seqs, [[1, 2], [3]]);
  });
});

/** Arguments with arrays and plain objects inside, each a level deeper than the last. */
const NESTED: unknown[] = [
  [],
  {},
  [1, 'two', null, undefined, true, Buffer.from([3])],
  { id: 'k1.j7', argv: ['/bin/echo', 'x'] },
  { a: 1, b: undefined, c: null, '': 'empty key', 'x-y': [1.5, -3] },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  Array.from({ length: 20 }, (_, i) => ({ n: i })),
  [[1, [2]]],
  { deep: { deeper: { deepest: 1 } } },
];

describe('flat frames with arrays and objects inside (nesting)', () => {
  const codec = new Codec();
  const nesting = codec.flatNesting;
  const post = (args: unknown[]): Frame =>
    ({ type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args, dest: '', origin: '' }) as Frame;
  const depthOf = (v: unknown): number =>
    Array.isArray(v)
      ? 1 + Math.max(0, ...v.map(depthOf))
      : v !== null && typeof v === 'object' && !(v instanceof Uint8Array)
        ? 1 + Math.max(0, ...Object.values(v).map(depthOf))
        : 0;

  it('are written as msgpackr writes them, read as it reads them, up to the nesting and no deeper', () => {
    assert.equal(nesting, 2, 'the default limits allow two levels');
    for (const v of NESTED) {
      const frame = post([v, 7]);
      const label = JSON.stringify(v)?.slice(0, 60);
      const out = Buffer.alloc(FLAT_MAX_BYTES + 16);
      const n = writeFlat(frame, out, 8, FLAT_MAX_BYTES, nesting);
      const bytes = encodeFrame(frame);
      if (depthOf(v) <= nesting) {
        assert.ok(n > 0, `written flat: ${label}`);
        assert.deepEqual(out.subarray(8, 8 + n), bytes, label);
        assert.deepEqual(readFlat(bytes, 1024, nesting), reference.decode(bytes), label);
      } else {
        assert.equal(n, 0, `deeper than the nesting: ${label}`);
        assert.equal(readFlat(bytes, 1024, nesting), undefined, `deeper than the nesting: ${label}`);
      }
      // Without nesting (the default) nothing with a collection inside is flat.
      assert.equal(writeFlat(frame, out, 8, FLAT_MAX_BYTES), 0, label);
      assert.equal(readFlat(bytes, 1024), undefined, label);
      assert.deepEqual(codec.decode(bytes), reference.decode(bytes), label);
    }
    const reply = {
      type: FrameType.Reply,
      seq: 3,
      callId: 4,
      value: { ok: [1, 2] },
      dest: '',
      origin: '',
    } as Frame;
    assert.deepEqual(readFlat(encodeFrame(reply), 1024, nesting), [reply]);
  });

  it('leave to msgpackr and the scan what a peer must refuse or what is not plain data', () => {
    const out = Buffer.alloc(FLAT_MAX_BYTES + 16);
    const notFlat: unknown[] = [
      JSON.parse('{"__proto__": {"admin": true}}'),
      { é: 1 },
      new Map([['a', 1]]),
      new (class Point {
        x = 1;
      })(),
      Object.create(null),
      [1n],
      {
        get boom(): number {
          throw new Error('a getter that throws');
        },
      },
    ];
    for (const [i, v] of notFlat.entries()) {
      assert.equal(writeFlat(post([v]), out, 0, FLAT_MAX_BYTES, 2), 0, `case ${i}`);
    }
    // A peer's __proto__ key: not read flat, and the scan refuses it.
    const proto = packr.pack([32, 1, 'a', 'b', 'e', [JSON.parse('{"__proto__": 1}')], '', '']);
    assert.equal(readFlat(proto, 1024, 2), undefined);
    assert.throws(() => codec.decode(proto), { code: 'IKC_ERR_FORBIDDEN_VALUE' });
    // A map whose key is not a string, or whose count runs past the message.
    assert.equal(
      readFlat(packr.pack([32, 1, 'a', 'b', 'e', [new Map([[1, 2]])], '', '']), 1024, 2),
      undefined,
    );
    assert.equal(
      readFlat(Buffer.from([0x98, 32, 1, 0xa1, 0x61, 0xa1, 0x62, 0xa1, 0x65, 0x91, 0x8f]), 1024, 2),
      undefined,
    );
  });

  it('never write a frame a peer with the same maxDepth refuses, whatever the limit', () => {
    const values: unknown[] = [
      undefined,
      [undefined],
      { a: [undefined] },
      [[[undefined]]],
      { a: { b: { c: 1 } } },
    ];
    for (const maxDepth of [3, 4, 5, 6]) {
      const limited = new Codec({ limits: { maxDepth } });
      assert.equal(limited.flatNesting, Math.min(2, maxDepth - 3));
      for (const v of values) {
        const sent: Buffer[] = [];
        const batcher = new FrameBatcher((m) => sent.push(Buffer.from(m)), limited);
        const n = batcher.addFlat(post([v]));
        batcher.flush();
        const label = `maxDepth ${maxDepth}: ${JSON.stringify(v)}`;
        if (n === 0) continue;
        assert.deepEqual(limited.decode(sent[0] as Buffer), [post([v])], label);
        assert.doesNotThrow(() => scanMessage(sent[0] as Buffer, limited.limits), label);
      }
    }
    // And with nesting 0 the old rule stands: flat frames hold no collection at all.
    assert.equal(new Codec({ limits: { maxDepth: 3 } }).flatNesting, 0);
  });
});

describe('flat frames with session references', () => {
  const refs = [
    new SessionRef('k1abc', 'k1abc.s7'),
    new SessionRef('', ''),
    new SessionRef('beta', 'x'.repeat(40)),
  ];
  const post = (args: unknown[]): Frame =>
    ({ type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args, dest: '', origin: '' }) as Frame;

  it('are written as msgpackr writes the extension, and read back as references', () => {
    const out = Buffer.alloc(FLAT_MAX_BYTES + 16);
    const frames = [
      post([refs[0], 1]),
      post([{ reply: refs[1], list: [refs[2]] }]),
      { type: FrameType.Reply, seq: 2, callId: 3, value: refs[0], dest: '', origin: '' } as Frame,
    ];
    for (const frame of frames) {
      const n = writeFlat(frame, out, 0, FLAT_MAX_BYTES, 2);
      const bytes = encodeFrame(frame);
      assert.ok(n > 0, 'written flat');
      assert.deepEqual(out.subarray(0, n), bytes);
      const read = readFlat(bytes, 1024, 2) as Frame[];
      assert.deepEqual(read, reference.decode(bytes));
      assert.deepEqual(read, [frame]);
    }
    // A session id that is not ASCII goes the general way.
    assert.equal(writeFlat(post([new SessionRef('k', 'é')]), out, 0, FLAT_MAX_BYTES, 2), 0);
    assert.equal(readFlat(encodeFrame(post([new SessionRef('k', 'é')])), 1024, 2), undefined);
  });

  it('become what the codec’s fromRef makes of them, once each, and only for a message read flat', () => {
    const seen: string[] = [];
    const codec = new Codec({
      fromRef: (r) => {
        seen.push(r.session);
        return { proxy: r.session };
      },
    });
    const read = codec.decode(encodeFrame(post([refs[0], { to: refs[2] }, [refs[1]]])));
    assert.deepEqual((read[0] as unknown as { args: unknown[] }).args, [
      { proxy: 'k1abc.s7' },
      { to: { proxy: 'x'.repeat(40) } },
      [{ proxy: '' }],
    ]);
    assert.deepEqual(seen, ['k1abc.s7', 'x'.repeat(40), '']);
    // A reference, then a value that is not flat: the general way maps the reference, once.
    seen.length = 0;
    const general = codec.decode(encodeFrame(post([refs[0], new Map([[1, 2]])])));
    assert.deepEqual((general[0] as unknown as { args: unknown[] }).args[0], { proxy: 'k1abc.s7' });
    assert.deepEqual(seen, ['k1abc.s7']);
  });
});

/** What Codec.decode gave before flat reading: the scan, msgpackr, then the positional checks. */
const reference = {
  decode(bytes: Uint8Array): Frame[] {
    const count = scanMessage(bytes, DEFAULT_LIMITS);
    const values = unpackr.unpackMultiple(bytes) as unknown[];
    assert.equal(values.length, count);
    return values.map((v, i) => frameFromWire(v, i + 1));
  },
};

const post = (args: unknown[], names: [string, string, string] = ['k.1', 'sink', 'hit'], seq = 1): Frame => ({
  type: FrameType.Post,
  seq,
  from: names[0],
  to: names[1],
  event: names[2],
  args,
  dest: '',
  origin: '',
});

describe('reading flat frames', () => {
  it('gives what the scan and msgpackr give, frame by frame and as one batch', () => {
    const codec = new Codec();
    const all = [
      ...frames(),
      { type: FrameType.Ack, seq: 0 },
      { type: FrameType.Ack, seq: 2 ** 32 - 1 },
    ] as Frame[];
    for (const frame of all) {
      const bytes = encodeFrame(frame);
      const read = readFlat(bytes, 1024);
      const label = JSON.stringify(frame).slice(0, 80);
      // A seq past 32 bits is written as a float: left to msgpackr.
      if ((frame as { seq: number }).seq < 2 ** 32) assert.ok(read, `read flat: ${label}`);
      if (read) assert.deepEqual(read, reference.decode(bytes), label);
      assert.deepEqual(codec.decode(bytes), reference.decode(bytes), label);
    }
    const batch = encodeBatch(all.filter((f) => (f as { seq: number }).seq < 2 ** 32));
    const read = readFlat(batch, 1024);
    assert.ok(read);
    assert.deepEqual(read, reference.decode(batch));
  });

  it('copies bytes out of the message, so holding them pins nothing and a reused buffer changes nothing', () => {
    const frame = post([Buffer.from('abc'), new Uint8Array(300).fill(9)]);
    const message = Buffer.from(encodeFrame(frame));
    const read = readFlat(message, 1024) as Frame[];
    assert.ok(read, 'read flat');
    const [small, large] = (read[0] as unknown as { args: Buffer[] }).args as [Buffer, Buffer];
    assert.ok(Buffer.isBuffer(small) && Buffer.isBuffer(large));
    assert.equal(small.buffer.byteLength, 3);
    message.fill(0);
    assert.equal(small.toString(), 'abc');
    assert.deepEqual([...large], Array(300).fill(9));
    // A length past the message is not flat (the scan then reports the truncation).
    const cut = Buffer.from(encodeFrame(post([Buffer.alloc(10)]))).subarray(0, 12);
    assert.equal(readFlat(cut, 1024), undefined);
  });

  it('writes and reads each frame its own names, repeated or not, whatever the boundaries', () => {
    const names: [string, string, string][] = [
      ['a', 'b', 'e'],
      ['a', 'b', 'e'],
      ['ab', 'c', 'e'],
      ['a', 'bc', 'e'],
      ['a', 'bc', 'e'],
      ['', '', ''],
      ['a', 'b', 'e'],
      ['x'.repeat(40), 'b', 'e'],
      ['x'.repeat(40), 'b', 'f'],
    ];
    const list = names.map((n, i) => post([i], n, i + 1));
    // Written one by one, each frame has its own names too (the writer keeps the last ones).
    for (const frame of list) assert.deepEqual(flat(frame), encodeFrame(frame), JSON.stringify(frame));
    const batch = encodeBatch(list);
    const read = readFlat(batch, 1024) as Frame[];
    assert.deepEqual(read, list);
    // Across messages too: the first frame of the next message repeats the last names.
    assert.deepEqual(readFlat(encodeFrame(list[8] as Frame), 1024), [list[8]]);
    assert.deepEqual(readFlat(encodeFrame(list[0] as Frame), 1024), [list[0]]);
  });

  it('leaves anything else to the scan and msgpackr, which read it as before', () => {
    const codec = new Codec();
    const cases: [string, Uint8Array][] = [
      ['an object argument', encodeFrame(post([{ a: 1 }]))],
      ['an array argument', encodeFrame(post([[1]]))],
      ['a binary argument past the flat size', encodeFrame(post([new Uint8Array(70_000)]))],
      ['a non-ASCII argument', encodeFrame(post(['é']))],
      ['a non-ASCII name', encodeFrame(post([1], ['a', 'b', 'é']))],
      ['a 64-bit integer', encodeFrame(post([2n ** 63n]))],
      [
        'a float 32',
        Buffer.from([
          0x98, 32, 1, 0xa1, 0x61, 0xa1, 0x62, 0xa1, 0x65, 0x91, 0xca, 0x3f, 0xc0, 0, 0, 0xa0, 0xa0,
        ]),
      ],
      ['a trailing field from a newer peer', packr.pack([32, 1, 'a', 'b', 'e', [1], '', '', 'new'])],
      ['a frame without its routing fields', packr.pack([32, 1, 'a', 'b', 'e', [1]])],
      ['another frame type', encodeFrame({ type: FrameType.Ping, sentAt: 7 })],
      ['a flat frame, then one that is not', encodeBatch([post([1]), post([{}])])],
    ];
    for (const [label, bytes] of cases) {
      assert.equal(readFlat(bytes, 1024), undefined, label);
      assert.deepEqual(codec.decode(bytes), reference.decode(bytes), label);
    }
    const whole = encodeFrame(post(['abc']));
    for (let n = 1; n < whole.length; n++) {
      assert.equal(readFlat(whole.subarray(0, n), 1024), undefined, `cut at ${n}`);
      assert.throws(
        () => codec.decode(whole.subarray(0, n)),
        { code: 'IKC_ERR_FRAME_TRUNCATED' },
        `cut at ${n}`,
      );
    }
  });

  it('never lets a message past a limit: one that could break one goes to the scan', () => {
    const refused: [string, object, Uint8Array, string][] = [
      [
        'maxCollectionEntries',
        { maxCollectionEntries: 3 },
        encodeFrame(post([1, 2, 3, 4])),
        'IKC_ERR_FRAME_TOO_LARGE',
      ],
      [
        'maxStringBytes',
        { maxStringBytes: 8 },
        encodeFrame(post(['x'.repeat(9)])),
        'IKC_ERR_FRAME_TOO_LARGE',
      ],
      [
        'maxValuesPerMessage',
        { maxValuesPerMessage: 12 },
        encodeFrame(post([1, 2, 3, 4, 5])),
        'IKC_ERR_FRAME_TOO_LARGE',
      ],
      [
        'maxFramesPerBatch',
        { maxFramesPerBatch: 2 },
        encodeBatch([1, 2, 3].map((seq) => ({ type: FrameType.Ack, seq }))),
        'IKC_ERR_BATCH_TOO_LONG',
      ],
    ];
    for (const [limit, limits, bytes, code] of refused) {
      assert.ok(readFlat(bytes, 1024), `${limit}: flat, so only the guard stops it`);
      assert.throws(() => new Codec({ limits }).decode(bytes), { code }, limit);
    }
  });
});
