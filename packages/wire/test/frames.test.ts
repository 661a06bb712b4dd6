import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import { Codec, decodeMessage, encodeFrame } from '../src/codec.js';
import { IkcError } from '../src/errors.js';
import { type Frame, FrameType, frameName, frameSchemas, type HelloFrame } from '../src/frames.js';
import { assertWireError, sampleFrames } from './samples.js';

describe('frame round trips', () => {
  for (const frame of sampleFrames()) {
    it(`${frameName(frame.type)} decodes to the frame that was encoded`, () => {
      const bytes = encodeFrame(frame);
      const decoded = decodeMessage(bytes);
      assert.equal(decoded.length, 1);
      assert.deepEqual(decoded[0], frame);
    });
  }

  it('covers every type in the frame table', () => {
    const sampled = new Set(sampleFrames().map((f) => f.type));
    for (const schema of frameSchemas()) assert.ok(sampled.has(schema.type), `no sample for ${schema.name}`);
  });

  it('writes a frame as the positional array [type, ...fields]', () => {
    const post: Frame = {
      type: FrameType.Post,
      seq: 5,
      from: 'a',
      to: 'b',
      event: 'e',
      args: [1],
      dest: 'k2',
      origin: 'k1',
    };
    assert.deepEqual([...encodeFrame(post)], [...pack([32, 5, 'a', 'b', 'e', [1], 'k2', 'k1'])]);
  });

  it('writes every field, optional ones left out of the frame as their defaults', () => {
    const post: Frame = { type: FrameType.Post, seq: 5, from: 'a', to: 'b', event: 'e', args: [1] };
    assert.deepEqual([...encodeFrame(post)], [...pack([32, 5, 'a', 'b', 'e', [1], '', ''])]);
  });

  it('keeps undefined, bigint, Date and nested values in args', () => {
    const args = [undefined, null, 2n ** 60n, -(2n ** 62n), new Date(1234567), { deep: { er: ['x', 0.5] } }];
    const [frame] = decodeMessage(
      encodeFrame({ type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args }),
    );
    assert.deepEqual(frame, {
      type: FrameType.Post,
      seq: 1,
      from: 'a',
      to: 'b',
      event: 'e',
      args,
      dest: '',
      origin: '',
    });
  });

  it('sends the version range as the first two HELLO fields', () => {
    const hello = sampleFrames()[0]!;
    const wire = unpack(encodeFrame(hello)) as unknown[];
    assert.deepEqual(wire.slice(0, 3), [FrameType.Hello, 1, 3]);
  });
});

describe('frame fields', () => {
  it('ignores fields after the ones it knows (a newer peer appended them)', () => {
    const bytes = pack([FrameType.Post, 1, 'a', 'b', 'e', [], 'k2', 'k1', 'future field', { more: 1 }]);
    assert.deepEqual(decodeMessage(bytes), [
      { type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args: [], dest: 'k2', origin: 'k1' },
    ]);
  });

  it('fills in defaults for missing optional fields (an older peer did not send them)', () => {
    const [call] = decodeMessage(pack([FrameType.Call, 1, 2, 'a', 'b', 'e', []]));
    assert.equal((call as { timeoutMs: number }).timeoutMs, 0);
    const [bye] = decodeMessage(pack([FrameType.Bye, 'idle']));
    assert.deepEqual(bye, { type: FrameType.Bye, reason: 'idle', message: '' });
    const hello = pack([FrameType.Hello, 1, 1, 'lab', 'id', 'alpha', Buffer.alloc(16), 'host']);
    assert.deepEqual((decodeMessage(hello)[0] as HelloFrame).features, []);
  });

  it('encodes a missing optional field as its default', () => {
    const frame = { type: FrameType.Bye, reason: 'leave' } as unknown as Frame;
    assert.deepEqual(decodeMessage(encodeFrame(frame)), [
      { type: FrameType.Bye, reason: 'leave', message: '' },
    ]);
  });

  it('refuses a missing required field, naming the frame and the field', () => {
    const err = assertWireError(
      () => decodeMessage(pack([FrameType.Post, 1, 'a', 'b'])),
      'IKC_ERR_FRAME_MALFORMED',
      /POST frame: field 'event' is missing/,
    );
    assert.deepEqual(err.details, { frame: 'POST', field: 'event' });
  });

  const wrongTypes: [string, unknown[], string][] = [
    ['a string seq', [FrameType.Post, '1', 'a', 'b', 'e', []], 'seq'],
    ['a negative seq', [FrameType.Post, -1, 'a', 'b', 'e', []], 'seq'],
    ['a fractional seq', [FrameType.Ack, 1.5], 'seq'],
    ['a seq beyond 2^53', [FrameType.Ack, 2 ** 60], 'seq'],
    ['a numeric event name', [FrameType.Post, 1, 'a', 'b', 7, []], 'event'],
    ['args that are not an array', [FrameType.Post, 1, 'a', 'b', 'e', { 0: 1 }], 'args'],
    ['a null session id', [FrameType.Call, 1, 2, null, 'b', 'e', [], 0], 'from'],
    ['a short nonce', [FrameType.Hello, 1, 1, 'lab', 'id', 'n', Buffer.alloc(8), 'host', []], 'nonce'],
    ['a string nonce', [FrameType.Hello, 1, 1, 'lab', 'id', 'n', 'x'.repeat(32), 'host', []], 'nonce'],
    ['an unknown role', [FrameType.Hello, 1, 1, 'lab', 'id', 'n', Buffer.alloc(32), 'boss', []], 'role'],
    [
      'features that are not strings',
      [FrameType.Hello, 1, 1, 'lab', 'id', 'n', Buffer.alloc(32), 'host', [1]],
      'features',
    ],
    ['a proof that is a string', [FrameType.Auth, 'proof'], 'proof'],
    ['an infinite timestamp', [FrameType.Ping, Number.POSITIVE_INFINITY], 'sentAt'],
    ['an error payload without a message', [FrameType.Error, 1, 2, 0, ['IKC_ERR_HANDLER']], 'error'],
    ['an error payload with a numeric stack', [FrameType.Error, 1, 2, 0, ['c', 'm', 'n', 42]], 'error'],
  ];
  for (const [what, wire, field] of wrongTypes) {
    it(`refuses ${what} with IKC_ERR_FRAME_MALFORMED naming field '${field}'`, () => {
      const err = assertWireError(() => decodeMessage(pack(wire)), 'IKC_ERR_FRAME_MALFORMED');
      assert.equal(err.details?.field, field);
      assert.match(err.message, new RegExp(`field '${field}' must be`));
    });
  }

  it('refuses an unknown frame type with IKC_ERR_FRAME_TYPE', () => {
    for (const type of [0, 6, 31, 99, 127, 128, 65535, 2 ** 32]) {
      const err = assertWireError(() => decodeMessage(pack([type, 1, 2])), 'IKC_ERR_FRAME_TYPE');
      assert.equal(err.details?.type, type);
    }
  });

  it('refuses frames that are not [number, ...] arrays', () => {
    assertWireError(() => decodeMessage(pack([])), 'IKC_ERR_FRAME_MALFORMED', /non-empty array/);
    assertWireError(
      () => decodeMessage(pack(['POST', 1])),
      'IKC_ERR_FRAME_MALFORMED',
      /type must be a number/,
    );
    assertWireError(
      () => decodeMessage(pack({ type: 32 })),
      'IKC_ERR_FRAME_MALFORMED',
      /must be a msgpack array/,
    );
    assertWireError(() => decodeMessage(pack('hello')), 'IKC_ERR_FRAME_MALFORMED');
  });

  it('refuses to encode a frame a peer would refuse, with IKC_ERR_ENCODE and not a WireError', () => {
    const bad = [
      { type: FrameType.Post, seq: -1, from: 'a', to: 'b', event: 'e', args: [] },
      { type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args: 'no' },
      { type: 99, seq: 1 },
      null,
    ];
    for (const frame of bad) {
      assert.throws(
        () => encodeFrame(frame as unknown as Frame),
        (err: unknown) => err instanceof IkcError && err.code === 'IKC_ERR_ENCODE' && err.name === 'IkcError',
      );
    }
  });

  it('refuses to encode values msgpack cannot carry', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const arg of [Symbol('s'), cyclic, 2n ** 70n]) {
      const frame: Frame = { type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args: [arg] };
      assert.throws(() => encodeFrame(frame), { code: 'IKC_ERR_ENCODE' });
    }
  });

  it('refuses a message that is not bytes', () => {
    const codec = new Codec();
    for (const input of [null, undefined, 'text', 42, [0x91, 0x20], {}]) {
      assertWireError(() => codec.decode(input as unknown as Uint8Array), 'IKC_ERR_FRAME_MALFORMED');
    }
  });

  it('decodeOne returns the single frame and refuses a batch', () => {
    const codec = new Codec();
    const ack: Frame = { type: FrameType.Ack, seq: 1 };
    assert.deepEqual(codec.decodeOne(codec.encode(ack)), ack);
    const two = Buffer.concat([codec.encode(ack), codec.encode(ack)]);
    assertWireError(() => codec.decodeOne(two), 'IKC_ERR_FRAME_MALFORMED', /expected one frame/);
  });
});

describe('docs/protocol.md', () => {
  it('lists every frame type with its number, name and fields in wire order', () => {
    // packages/wire/dist/test/ -> repository root
    const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');
    for (const schema of frameSchemas()) {
      const fields = schema.fields.map((f) => (f.required ? f.name : `${f.name}?`)).join(', ');
      const row = `| ${schema.type} | ${schema.name} | ${fields} |`;
      assert.ok(doc.includes(row), `docs/protocol.md lacks the row "${row}"`);
    }
  });
});
