import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../src/codec.js';
import { FrameType } from '../src/frames.js';
import { DEFAULT_LIMITS, HARD_MAX_DEPTH, MAX_MESSAGE_BYTES, resolveLimits } from '../src/limits.js';

describe('limits', () => {
  it('default to the named constants, frozen', () => {
    assert.equal(resolveLimits(), DEFAULT_LIMITS);
    assert.equal(DEFAULT_LIMITS.maxMessageBytes, MAX_MESSAGE_BYTES);
    assert.ok(Object.isFrozen(DEFAULT_LIMITS));
    assert.ok(Object.isFrozen(resolveLimits({ maxDepth: 8 })));
  });

  it('take overrides per codec and keep the other defaults', () => {
    const limits = resolveLimits({ maxDepth: 8, maxStringBytes: undefined });
    assert.equal(limits.maxDepth, 8);
    assert.equal(limits.maxStringBytes, DEFAULT_LIMITS.maxStringBytes);
    assert.equal(new Codec({ limits: { maxFramesPerBatch: 3 } }).limits.maxFramesPerBatch, 3);
  });

  it('refuse unknown keys, non-integers and a depth beyond the hard ceiling', () => {
    const bad = [
      { maxBytes: 1 },
      { maxDepth: 0 },
      { maxDepth: 1.5 },
      { maxDepth: HARD_MAX_DEPTH + 1 },
      { maxMessageBytes: -1 },
    ];
    for (const overrides of bad) {
      assert.throws(() => resolveLimits(overrides as object), { code: 'IKC_ERR_INVALID_ARG' });
    }
  });

  it('apply to what a codec encodes as well as what it decodes', () => {
    const codec = new Codec({ limits: { maxMessageBytes: 64 } });
    const frame = {
      type: FrameType.Post,
      seq: 1,
      from: 'a',
      to: 'b',
      event: 'e',
      args: ['x'.repeat(100)],
    } as const;
    assert.throws(
      () => codec.encode(frame),
      (err: Error & { code?: string; cause?: { code?: string } }) =>
        err.code === 'IKC_ERR_ENCODE' && err.cause?.code === 'IKC_ERR_FRAME_TOO_LARGE',
    );
    assert.throws(() => codec.decode(new Codec().encode(frame)), {
      name: 'WireError',
      code: 'IKC_ERR_FRAME_TOO_LARGE',
    });
  });

  it('hold for frames of primitives too, whose own scan the encoder skips while they are small', () => {
    const post = (args: unknown[]) =>
      ({ type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args }) as const;
    const refused = (codec: Codec, args: unknown[], code: string) =>
      assert.throws(
        () => codec.encode(post(args)),
        (err: Error & { code?: string; cause?: { code?: string } }) =>
          err.code === 'IKC_ERR_ENCODE' && err.cause?.code === code,
        `${JSON.stringify(args).slice(0, 40)}: ${code}`,
      );
    // Each limit, broken by a frame of primitives.
    refused(new Codec({ limits: { maxStringBytes: 8 } }), ['x'.repeat(9)], 'IKC_ERR_FRAME_TOO_LARGE');
    refused(new Codec({ limits: { maxCollectionEntries: 4 } }), [1, 2, 3, 4, 5], 'IKC_ERR_FRAME_TOO_LARGE');
    refused(new Codec({ limits: { maxValuesPerMessage: 8 } }), [1, 2, 3, 4, 5], 'IKC_ERR_FRAME_TOO_LARGE');
    // And within them, primitives of every kind go, and come back as they were.
    const codec = new Codec();
    const args = [0, -1, 2 ** 40, 1.5, Number.NaN, 'é', '', true, false, null, undefined];
    const [back] = codec.decode(codec.encode(post(args)));
    assert.deepEqual((back as unknown as { args: unknown[] }).args, args);
    // A frame that is not flat is still scanned, however small: a nested argument too deep.
    refused(new Codec({ limits: { maxDepth: 3 } }), [[[1]]], 'IKC_ERR_FRAME_TOO_DEEP');
    assert.deepEqual((codec.decode(codec.encode(post([[[1]]])))[0] as unknown as { args: unknown[] }).args, [
      [[1]],
    ]);
  });
});
