// A peer's bytes at their worst: every input here must give a WireError with the specific
// code, quickly, without allocating what the bytes claim and without any other exception.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack } from 'msgpackr';
import { Codec, decodeMessage, encodeFrame } from '../src/codec.js';
import { FrameType, type PostFrame } from '../src/frames.js';
import { MAX_MESSAGE_BYTES } from '../src/limits.js';
import { assertWireError, sampleFrames } from './samples.js';

/** A POST frame whose single argument is the raw msgpack `arg`. */
function postWithArg(...arg: number[]): Buffer {
  // [32, 1, 'a', 'b', 'e', [arg]]
  return Buffer.from([0x96, 0x20, 0x01, 0xa1, 0x61, 0xa1, 0x62, 0xa1, 0x65, 0x91, ...arg]);
}

function str(s: string): number[] {
  const bytes = [...Buffer.from(s)];
  return [0xa0 | bytes.length, ...bytes];
}

describe('truncated input', () => {
  it('every cut of every frame type gives IKC_ERR_FRAME_TRUNCATED', () => {
    for (const frame of sampleFrames()) {
      const bytes = encodeFrame(frame);
      for (let cut = 0; cut < bytes.length; cut++) {
        assertWireError(() => decodeMessage(bytes.subarray(0, cut)), 'IKC_ERR_FRAME_TRUNCATED');
      }
    }
  });

  it('a length that claims more bytes than remain is truncation, refused before allocating', () => {
    const cases = [
      [0x91, 0xdb, 0x00, 0x0f, 0xff, 0xff], // str 32 of ~1 MiB, no bytes
      [0x91, 0xc6, 0x00, 0x3f, 0xff, 0xff], // bin 32 of ~4 MiB, no bytes
      [0x91, 0xdc, 0xff, 0xff], // array 16 of 65535 entries, no bytes
      [0x91, 0xdd, 0x00, 0x03, 0xff, 0xff], // array 32 of 262143 entries
      [0x91, 0xdf, 0x00, 0x01, 0xff, 0xff, 0x01], // map 32 of 131071 entries
      [0x92, 0x20, 0xcb, 0x00], // float 64 cut
      [0x92, 0x20, 0xc7, 0x04, 0xff, 0x00], // ext 8 timestamp of 4 bytes, 1 present
    ];
    for (const bytes of cases)
      assertWireError(() => decodeMessage(Buffer.from(bytes)), 'IKC_ERR_FRAME_TRUNCATED');
  });
});

describe('oversized input', () => {
  it('a message over maxMessageBytes is refused before it is parsed', () => {
    // 0xc1 everywhere: parsing would say MALFORMED, so TOO_LARGE proves the size came first.
    const huge = Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0xc1);
    const err = assertWireError(() => decodeMessage(huge), 'IKC_ERR_FRAME_TOO_LARGE');
    assert.equal(err.details?.limit, MAX_MESSAGE_BYTES);
  });

  const small = new Codec({
    limits: { maxStringBytes: 8, maxBinBytes: 8, maxCollectionEntries: 6, maxValuesPerMessage: 30 },
  });

  it('a string over maxStringBytes, in any of its encodings', () => {
    assertWireError(
      () => small.decode(postWithArg(...str('123456789'))),
      'IKC_ERR_FRAME_TOO_LARGE',
      /string/,
    );
    const long = [...Buffer.from('x'.repeat(9))];
    assertWireError(() => small.decode(postWithArg(0xd9, 9, ...long)), 'IKC_ERR_FRAME_TOO_LARGE', /string/);
    assertWireError(
      () => small.decode(postWithArg(0xda, 0, 9, ...long)),
      'IKC_ERR_FRAME_TOO_LARGE',
      /string/,
    );
    assertWireError(
      () => small.decode(postWithArg(0xdb, 0, 0, 0, 9, ...long)),
      'IKC_ERR_FRAME_TOO_LARGE',
      /string/,
    );
    assert.equal((small.decode(postWithArg(...str('12345678')))[0] as PostFrame).args[0], '12345678');
  });

  it('a binary value over maxBinBytes', () => {
    assertWireError(
      () => small.decode(postWithArg(0xc4, 9, ...Buffer.alloc(9))),
      'IKC_ERR_FRAME_TOO_LARGE',
      /binary/,
    );
    // The length is refused even when the bytes are not there: 4 GiB claimed in 10 bytes.
    assertWireError(
      () => decodeMessage(postWithArg(0xc6, 0xff, 0xff, 0xff, 0xff)),
      'IKC_ERR_FRAME_TOO_LARGE',
    );
  });

  it('an array or map over maxCollectionEntries', () => {
    assertWireError(
      () => small.decode(postWithArg(0x97, 1, 2, 3, 4, 5, 6, 7)),
      'IKC_ERR_FRAME_TOO_LARGE',
      /collection/,
    );
    assert.equal(small.decode(postWithArg(0x96, 1, 2, 3, 4, 5, 6)).length, 1);
    const map = [0x87, ...[1, 2, 3, 4, 5, 6, 7].flatMap((k) => [k, 0])];
    assertWireError(() => small.decode(postWithArg(...map)), 'IKC_ERR_FRAME_TOO_LARGE', /collection/);
    // 4 billion entries claimed by a 14-byte message, with the default limits.
    assertWireError(
      () => decodeMessage(postWithArg(0xdd, 0xff, 0xff, 0xff, 0xff)),
      'IKC_ERR_FRAME_TOO_LARGE',
    );
    assertWireError(
      () => decodeMessage(postWithArg(0xdf, 0xff, 0xff, 0xff, 0xff)),
      'IKC_ERR_FRAME_TOO_LARGE',
    );
  });

  it('more values in one message than maxValuesPerMessage', () => {
    const ok = postWithArg(0x94, 0x90, 0x90, 0x90, 0x90); // 12 values
    assert.equal(small.decode(ok).length, 1);
    const many = Buffer.concat([ok, ok, ok]); // 36 values
    assertWireError(() => small.decode(many), 'IKC_ERR_FRAME_TOO_LARGE', /maxValuesPerMessage/);
  });
});

describe('deeply nested input', () => {
  it('a million nested arrays give IKC_ERR_FRAME_TOO_DEEP, not a stack overflow', () => {
    assertWireError(() => decodeMessage(Buffer.alloc(1_000_000, 0x91)), 'IKC_ERR_FRAME_TOO_DEEP');
  });

  it('nested maps and nested extension tags count too', () => {
    const maps = Buffer.from(Array.from({ length: 10_000 }, () => [0x81, 0xa1, 0x6b]).flat());
    assertWireError(() => decodeMessage(postWithArg(...maps)), 'IKC_ERR_FRAME_TOO_DEEP');
    const tags = Buffer.from(Array.from({ length: 10_000 }, () => [0xd4, 0x01, 0x00]).flat());
    assertWireError(() => decodeMessage(postWithArg(...tags)), 'IKC_ERR_FRAME_TOO_DEEP');
  });

  it('accepts exactly maxDepth levels and refuses one more', () => {
    const codec = new Codec({ limits: { maxDepth: 10 } });
    // Frame array = level 1, args = level 2, so 8 more array levels reach 10.
    const nest = (levels: number) => Array.from({ length: levels }, () => 0x91);
    const ok = postWithArg(...nest(8), 0x01);
    assert.equal(codec.decode(ok).length, 1);
    assertWireError(() => codec.decode(postWithArg(...nest(9), 0x01)), 'IKC_ERR_FRAME_TOO_DEEP');
  });

  it('fails a too-deep frame at the sender with IKC_ERR_ENCODE, whose cause has the limit code', () => {
    const codec = new Codec({ limits: { maxDepth: 10 } });
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = [deep];
    const frame: PostFrame = { type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args: [deep] };
    assert.throws(
      () => codec.encode(frame),
      (err: Error & { code?: string; cause?: { code?: string } }) =>
        err.code === 'IKC_ERR_ENCODE' && err.cause?.code === 'IKC_ERR_FRAME_TOO_DEEP',
    );
  });
});

describe('extension types', () => {
  // msgpackr's built-in extensions, none of which a peer may use.
  const refused: [string, number[]][] = [
    ['RegExp (0x78)', [0xd4, 0x78, 0x00, 0x92, ...str('(a+)+$'), ...str('g')]],
    ['Set (0x73)', [0xd4, 0x73, 0x00, 0x91, 0x01]],
    ['msgpackr Error (0x65)', [0xd4, 0x65, 0x00, 0x92, ...str('constructor'), ...str('m')]],
    ['typed array (0x74)', [0xc7, 0x05, 0x74, 0x05, 0x01, 0x00, 0x00, 0x00]],
    ['BigInt (0x42)', [0xd6, 0x42, 0x01, 0x02, 0x03, 0x04]],
    ['structured-clone pointer (0x70)', [0xd6, 0x70, 0x00, 0x00, 0x00, 0x01]],
    ['structured-clone id (0x69)', [0xd6, 0x69, 0x00, 0x00, 0x00, 0x01, 0x90]],
    ['bundled strings (0x62)', [0xd6, 0x62, 0x00, 0x00, 0x00, 0x10]],
    ['record definition (0x72)', [0xd4, 0x72, 0x40, 0x91, ...str('k'), 0x01]],
    ['two-byte record definition (0x72)', [0xd5, 0x72, 0x40, 0x00, 0x91, ...str('k'), 0x01]],
    ['an unregistered type (0x10)', [0xd4, 0x10, 0x00]],
    ['a negative type (-2)', [0xd4, 0xfe, 0x00]],
    ['undefined (0) with a 2-byte body', [0xd5, 0x00, 0x00, 0x00]],
    ['a timestamp of 2 bytes', [0xd5, 0xff, 0x00, 0x00]],
  ];
  for (const [what, arg] of refused) {
    it(`refuses ${what} with IKC_ERR_FORBIDDEN_VALUE`, () => {
      assertWireError(() => decodeMessage(postWithArg(...arg)), 'IKC_ERR_FORBIDDEN_VALUE');
    });
  }

  it('refuses ikc extension types in any form but the one-byte tag', () => {
    assertWireError(
      () => decodeMessage(postWithArg(0xd5, 0x01, 0x00, 0x00)),
      'IKC_ERR_FRAME_MALFORMED',
      /tag/,
    );
    assertWireError(
      () => decodeMessage(postWithArg(0xc7, 0x01, 0x02, 0x00)),
      'IKC_ERR_FRAME_MALFORMED',
      /tag/,
    );
  });

  it('accepts undefined and every timestamp form', () => {
    const [frame] = decodeMessage(
      postWithArg(
        0x95,
        0xd4,
        0x00,
        0x00,
        0xd6,
        0xff,
        0,
        0,
        0,
        1,
        0xd7,
        0xff,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        2,
        0xc7,
        12,
        0xff,
        ...Array(11).fill(0),
        3,
        0xd4,
        0xff,
        0xff,
      ),
    ) as [PostFrame];
    const [undef, t32, t64, t96, invalid] = frame.args[0] as unknown[];
    assert.equal(undef, undefined);
    assert.deepEqual(
      [t32, t64, t96].map((d) => (d as Date).getTime()),
      [1000, 2000, 3000],
    );
    assert.ok(invalid instanceof Date && Number.isNaN(invalid.getTime()));
  });
});

describe('prototype pollution', () => {
  it('refuses a "__proto__" key in every string encoding, at any depth', () => {
    const key = [...Buffer.from('__proto__')];
    const forms = [
      [0x81, 0xa9, ...key, 0x81, ...str('polluted'), 0xc3],
      [0x81, 0xd9, 9, ...key, 0xc3],
      [0x81, 0xda, 0, 9, ...key, 0xc3],
      [0x81, 0xdb, 0, 0, 0, 9, ...key, 0xc3],
      [0x81, ...str('a'), 0x81, 0xa9, ...key, 0xc3],
    ];
    for (const arg of forms) {
      assertWireError(() => decodeMessage(postWithArg(...arg)), 'IKC_ERR_FORBIDDEN_VALUE', /__proto__/);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
  });

  it('accepts a "__proto__" string as a value and "__proto_" as a key', () => {
    const bytes = encodeFrame({
      type: FrameType.Post,
      seq: 1,
      from: 'a',
      to: 'b',
      event: 'e',
      args: ['__proto__', { __proto_: 1 }],
    });
    assert.deepEqual((decodeMessage(bytes)[0] as PostFrame).args, ['__proto__', { __proto_: 1 }]);
  });

  it('refuses map keys that are not strings or numbers', () => {
    const keys = [
      [0x91, 0x01], // array
      [0x81, 0x01, 0x01], // map
      [0xc4, 0x01, 0x61], // bin
      [0xd4, 0x00, 0x00], // undefined
      [0xd4, 0x01, 0x00, 0x92, ...str('k'), ...str('s')], // session ref
    ];
    for (const key of keys) {
      assertWireError(
        () => decodeMessage(postWithArg(0x81, ...key, 0x01)),
        'IKC_ERR_FORBIDDEN_VALUE',
        /map key/,
      );
    }
    const [frame] = decodeMessage(
      postWithArg(0x83, 0x01, 0xc3, 0xcb, ...pack(1.5).subarray(1), 0xc2, 0xc0, 0x00),
    );
    assert.deepEqual((frame as PostFrame).args[0], { 1: true, '1.5': false, null: 0 });
  });
});

describe('other malformed input', () => {
  it('refuses the never-used byte 0xc1', () => {
    assertWireError(() => decodeMessage(postWithArg(0xc1)), 'IKC_ERR_FRAME_MALFORMED', /0xc1/);
  });

  it('refuses a top-level value that is not an array', () => {
    for (const bytes of [[0x01], [0xc0], [0x80], [0xa1, 0x61], [0xd4, 0x00, 0x00]]) {
      assertWireError(() => decodeMessage(Buffer.from(bytes)), 'IKC_ERR_FRAME_MALFORMED', /msgpack array/);
    }
  });

  it('refuses an empty message as truncated', () => {
    assertWireError(() => decodeMessage(Buffer.alloc(0)), 'IKC_ERR_FRAME_TRUNCATED');
  });

  it('decodes a message that is a view into a larger buffer', () => {
    const frame = sampleFrames()[8]!;
    const bytes = encodeFrame(frame);
    const padded = Buffer.concat([Buffer.from([0xc1, 0xc1]), bytes, Buffer.from([0xc1])]);
    assert.deepEqual(decodeMessage(padded.subarray(2, 2 + bytes.length)), [frame]);
    const u8 = new Uint8Array(padded.buffer, padded.byteOffset + 2, bytes.length);
    assert.deepEqual(decodeMessage(u8), [frame]);
  });
});
