// Seeded fuzzing of the decoder: random bytes, and mutations of valid messages. Each input
// must decode or throw a WireError with a code from the table: no other exception, no hang,
// no crash, no polluted prototype. A failure prints its seed and case number to replay it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBatch } from '../src/batch.js';
import { Codec } from '../src/codec.js';
import { ERROR_CODES, WireError } from '../src/errors.js';
import { readFlat } from '../src/flat.js';
import { type Frame, FrameType } from '../src/frames.js';
import { unpackr } from '../src/msgpack.js';
import { frameFromWire } from '../src/positional.js';
import { scanMessage } from '../src/scan.js';
import { SessionRef } from '../src/values.js';
import { prng, sampleFrames } from './samples.js';

const SEED = Number(process.env.IKC_FUZZ_SEED ?? 0x1cc0ffee);
const CASES = Number(process.env.IKC_FUZZ_CASES ?? 50_000);

// Small limits, so that random inputs reach every limit often.
const codec = new Codec({
  limits: {
    maxMessageBytes: 4096,
    maxFramesPerBatch: 8,
    maxDepth: 12,
    maxStringBytes: 64,
    maxBinBytes: 64,
    maxCollectionEntries: 16,
    maxValuesPerMessage: 256,
  },
});

const roomy = new Codec();

/** Bytes a msgpack decoder finds interesting: every type byte and some lengths. */
const INTERESTING = [
  0x00, 0x01, 0x20, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x96, 0x9f, 0xa0, 0xa9, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5,
  0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff, 0x72, 0x78, 0x65, 0x73, 0x74, 0x70,
  0x69, 0x62, 0x42,
];

function seeds(): Buffer[] {
  const post = (seq: number, args: unknown[]): Frame => ({
    type: FrameType.Post,
    seq,
    from: 's',
    to: 'c',
    event: 'e',
    args,
  });
  const frames = sampleFrames().filter((f) => f.type !== FrameType.Gossip);
  return [
    ...frames.map((f) => codec.encode(f)),
    codec.encode(
      post(1, [
        { a: [1, { b: 'x' }] },
        new SessionRef('k', 's'),
        Object.assign(new Error('boom'), { stack: 'short' }),
        undefined,
      ]),
    ),
    codec.encode(post(2, [new Date(5), 1.5, -7, 2n ** 40n, Buffer.from([1, 2])])),
    encodeBatch([post(1, [1]), post(2, ['two']), { type: FrameType.Ack, seq: 2 }], codec),
  ];
}

function mutate(input: Buffer, rand: () => number): Buffer {
  const bytes = [...input];
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    const pick = () =>
      rand() < 0.5 ? INTERESTING[Math.floor(rand() * INTERESTING.length)]! : Math.floor(rand() * 256);
    switch (Math.floor(rand() * 7)) {
      case 0: // overwrite a byte
        if (at < bytes.length) bytes[at] = pick();
        break;
      case 1: // insert a byte
        bytes.splice(at, 0, pick());
        break;
      case 2: // delete a run
        bytes.splice(at, 1 + Math.floor(rand() * 4));
        break;
      case 3: // truncate
        bytes.length = Math.min(bytes.length, at);
        break;
      case 4: // flip a bit
        if (at < bytes.length) bytes[at]! ^= 1 << Math.floor(rand() * 8);
        break;
      case 5: // insert a run of one-element array headers (deep nesting)
        bytes.splice(at, 0, ...Array<number>(1 + Math.floor(rand() * 20)).fill(0x91));
        break;
      default: // duplicate a run (grows nesting and batches)
        bytes.splice(at, 0, ...bytes.slice(at, at + 1 + Math.floor(rand() * 16)));
    }
  }
  return Buffer.from(bytes);
}

function randomBytes(rand: () => number): Buffer {
  const length = Math.floor(rand() * 64);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    bytes[i] =
      rand() < 0.4 ? INTERESTING[Math.floor(rand() * INTERESTING.length)]! : Math.floor(rand() * 256);
  }
  // Start most inputs as a frame array so they get past the first check.
  if (length > 0 && rand() < 0.7) bytes[0] = 0x90 | Math.floor(rand() * 16);
  return bytes;
}

describe('fuzzed input', () => {
  it(`decodes or throws a WireError for ${CASES} seeded inputs (seed ${SEED})`, { timeout: 120_000 }, () => {
    const rand = prng(SEED);
    const pool = seeds();
    const outcomes = new Map<string, number>();
    const started = Date.now();
    for (let n = 0; n < CASES; n++) {
      const input = rand() < 0.3 ? randomBytes(rand) : mutate(pool[Math.floor(rand() * pool.length)]!, rand);
      const caseStart = Date.now();
      let outcome: string;
      try {
        const frames = codec.decode(input);
        outcome = 'decoded';
        // Whatever decodes is a valid frame list: it encodes again and decodes to as many
        // frames. (With roomier limits: invalid UTF-8 decodes to U+FFFD, 3 bytes re-encoded.)
        const again = roomy.decode(Buffer.concat(frames.map((f) => roomy.encode(f))));
        assert.equal(again.length, frames.length);
        if (pool.length < 400 && rand() < 0.05) pool.push(input); // keep valid mutants as seeds
      } catch (err) {
        if (!(err instanceof WireError) || !(err.code in ERROR_CODES)) {
          assert.fail(`seed ${SEED} case ${n}: input ${input.toString('hex')} threw ${String(err)}`);
        }
        outcome = err.code;
      }
      assert.ok(Date.now() - caseStart < 1000, `seed ${SEED} case ${n} took over a second`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
    // The fuzzer is worth something only if it reaches both sides and most error codes.
    for (const code of [
      'decoded',
      'IKC_ERR_FRAME_TRUNCATED',
      'IKC_ERR_FRAME_MALFORMED',
      'IKC_ERR_FRAME_TYPE',
      'IKC_ERR_FORBIDDEN_VALUE',
      'IKC_ERR_FRAME_TOO_LARGE',
      'IKC_ERR_FRAME_TOO_DEEP',
    ]) {
      assert.ok((outcomes.get(code) ?? 0) > 0, `no input ended as ${code}: ${JSON.stringify([...outcomes])}`);
    }
    assert.ok(Date.now() - started < 60_000);
  });
});

describe('fuzzed flat input', () => {
  // The flat reader must never take what the scan and msgpackr refuse, and must give what
  // they give for everything it does take: a differential check on mutated flat messages.
  const FLAT_CASES = Math.ceil(CASES / 2);
  it(`reads ${FLAT_CASES} mutated flat messages as the general way does, or leaves them to it`, () => {
    const rand = prng(SEED ^ 0x5eed);
    const post = (seq: number, args: unknown[]): Frame =>
      ({
        type: FrameType.Post,
        seq,
        from: 'k1.s2',
        to: 'sink',
        event: 'hit',
        args,
        dest: '',
        origin: '',
      }) as Frame;
    const pool: Buffer[] = [
      roomy.encode(post(1, [1, -1, 300, 'abc', true, null, undefined, 1.5])),
      roomy.encode(post(2, [{ id: 'k1.j7', argv: ['/bin/echo', 'x'] }, [1, [2, 3]], { a: { b: 1 } }])),
      roomy.encode(
        post(3, [Buffer.from([1, 2, 3]), new SessionRef('k1', 'k1.s9'), { to: new SessionRef('b', 'c') }]),
      ),
      roomy.encode(post(4, [Buffer.alloc(300, 7), 'x'.repeat(40)])),
      roomy.encode({
        type: FrameType.Reply,
        seq: 4,
        callId: 9,
        value: { ok: [true, 'x'] },
        dest: '',
        origin: '',
      }),
      encodeBatch([post(5, [{}]), post(6, [[]]), { type: FrameType.Ack, seq: 6 }], roomy),
    ];
    const limits = roomy.limits;
    let taken = 0;
    for (let n = 0; n < FLAT_CASES; n++) {
      const input = mutate(pool[Math.floor(rand() * pool.length)]!, rand);
      if (input.length === 0 || input.length > roomy.flatBytes) continue;
      const flat = readFlat(input, limits.maxFramesPerBatch, roomy.flatNesting);
      if (flat === undefined) continue;
      taken++;
      let general: Frame[];
      try {
        scanMessage(input, limits);
        general = (unpackr.unpackMultiple(input) as unknown[]).map((v, i) => frameFromWire(v, i + 1));
      } catch (err) {
        assert.fail(
          `seed ${SEED} case ${n}: read flat, refused the general way (${String(err)}): ${input.toString('hex')}`,
        );
      }
      assert.deepEqual(flat, general, `seed ${SEED} case ${n}: ${input.toString('hex')}`);
      if (pool.length < 200 && rand() < 0.1) pool.push(input); // mutants still flat breed more
    }
    // Worth something only if many mutants were still flat.
    assert.ok(taken > FLAT_CASES / 50, `only ${taken} of ${FLAT_CASES} mutants were read flat`);
  });
});
