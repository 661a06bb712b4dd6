import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBatch, FrameBatcher } from '../src/batch.js';
import { Codec, decodeMessage, encodeFrame } from '../src/codec.js';
import { type Frame, FrameType, type PostFrame } from '../src/frames.js';
import { assertWireError, sampleFrames } from './samples.js';

/** A POST with every field set (as a decoded one has them), so it compares equal after a round trip. */
function post(seq: number, args: unknown[] = [seq]): PostFrame {
  return { type: FrameType.Post, seq, from: 'sender', to: 'calc', event: 'add', args, dest: '', origin: '' };
}

describe('batches', () => {
  it('decode back to the frames in the order they were encoded', () => {
    const frames = [...sampleFrames(), ...Array.from({ length: 100 }, (_, i) => post(i + 1))];
    const message = encodeBatch(frames);
    assert.deepEqual(decodeMessage(message), frames);
  });

  it('are the frames back to back, nothing in between', () => {
    const frames = [post(1), post(2), post(3)];
    assert.deepEqual(encodeBatch(frames), Buffer.concat(frames.map((f) => encodeFrame(f))));
  });

  it('refuse a message holding more frames than maxFramesPerBatch', () => {
    const codec = new Codec({ limits: { maxFramesPerBatch: 4 } });
    const five = Buffer.concat([1, 2, 3, 4, 5].map((i) => encodeFrame(post(i))));
    assertWireError(() => codec.decode(five), 'IKC_ERR_BATCH_TOO_LONG');
    assert.equal(codec.decode(five.subarray(0, encodeFrame(post(1)).length * 4)).length, 4);
  });

  it('refuse a batch whose last frame is cut short, and deliver none of it', () => {
    const message = encodeBatch([post(1), post(2), post(3)]);
    assertWireError(() => decodeMessage(message.subarray(0, message.length - 2)), 'IKC_ERR_FRAME_TRUNCATED');
  });

  it('refuse a batch with one bad frame as a whole', () => {
    const message = Buffer.concat([
      encodeFrame(post(1)),
      Buffer.from([0x92, 32, 0xc1]),
      encodeFrame(post(2)),
    ]);
    const err = assertWireError(() => decodeMessage(message), 'IKC_ERR_FRAME_MALFORMED');
    assert.equal(err.details?.frame, 2);
  });

  it('encodeBatch refuses an empty batch, too many frames or too many bytes', () => {
    const codec = new Codec({ limits: { maxFramesPerBatch: 2, maxMessageBytes: 64 } });
    assert.throws(() => encodeBatch([], codec), { code: 'IKC_ERR_ENCODE' });
    assert.throws(() => encodeBatch([post(1), post(2), post(3)], codec), { code: 'IKC_ERR_ENCODE' });
    assert.throws(() => encodeBatch([post(1, ['x'.repeat(40)]), post(2)], codec), { code: 'IKC_ERR_ENCODE' });
  });
});

describe('FrameBatcher', () => {
  function collect(options?: { maxFrames?: number; maxBytes?: number }, codec = new Codec()) {
    const messages: { message: Buffer; frames: number }[] = [];
    const batcher = new FrameBatcher((message, frames) => messages.push({ message, frames }), codec, options);
    return { batcher, messages };
  }

  it('sends nothing until flushed, then one message with every frame in order', () => {
    const { batcher, messages } = collect();
    for (let i = 1; i <= 10; i++) batcher.add(post(i));
    assert.equal(messages.length, 0);
    assert.equal(batcher.pendingFrames, 10);
    batcher.flush();
    batcher.flush(); // nothing pending: no empty message
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.frames, 10);
    assert.deepEqual(
      decodeMessage(messages[0]!.message),
      Array.from({ length: 10 }, (_, i) => post(i + 1)),
    );
    assert.equal(batcher.pendingBytes, 0);
  });

  it('sends a batch on its own when it reaches maxFrames', () => {
    const { batcher, messages } = collect({ maxFrames: 64 });
    for (let i = 1; i <= 200; i++) batcher.add(post(i));
    batcher.flush();
    assert.deepEqual(
      messages.map((m) => m.frames),
      [64, 64, 64, 8],
    );
    const all = messages.flatMap((m) => decodeMessage(m.message));
    assert.deepEqual(
      all.map((f) => (f as PostFrame).seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
  });

  it('starts a new batch rather than go past maxBytes, and sends an oversized frame alone', () => {
    const { batcher, messages } = collect({ maxBytes: 100 });
    batcher.add(post(1, ['a'.repeat(40)]));
    batcher.add(post(2, ['b'.repeat(40)])); // would make the batch > 100 bytes
    batcher.add(post(3, ['c'.repeat(300)])); // larger than maxBytes by itself
    batcher.add(post(4));
    batcher.flush();
    assert.deepEqual(
      messages.map((m) => decodeMessage(m.message).map((f) => (f as PostFrame).seq)),
      [[1], [2], [3], [4]],
    );
    for (const { message } of messages.slice(0, 2)) assert.ok(message.length <= 100);
  });

  it('never writes over a message it has handed out', () => {
    const { batcher, messages } = collect({ maxFrames: 3 });
    const frames = Array.from({ length: 30_000 }, (_, i) => post(i + 1, ['x'.repeat(i % 50), i]));
    for (const frame of frames) batcher.add(frame);
    batcher.flush();
    const decoded = messages.flatMap((m) => decodeMessage(m.message));
    assert.deepEqual(decoded, frames);
  });

  it('hands a frame that fills a batch over as encoded, without a copy, after what was pending', () => {
    const codec = new Codec();
    const { batcher, messages } = collect({ maxBytes: 64 * 1024 }, codec);
    batcher.add(post(1));
    const big = Array.from({ length: 20 }, (_, i) => post(i + 2, [Buffer.alloc(80 * 1024, i)]));
    const encoded = big.map((f) => codec.encode(f));
    for (const bytes of encoded) batcher.addEncoded(bytes);
    batcher.flush();
    assert.deepEqual(
      messages.map((m) => m.frames),
      [1, ...big.map(() => 1)],
    );
    for (let i = 0; i < big.length; i++) {
      const { message } = messages[i + 1]!;
      assert.equal(message.buffer, encoded[i]!.buffer, 'the same memory, not a copy');
      assert.equal(message.byteOffset, encoded[i]!.byteOffset);
    }
    // Encoding went on meanwhile: nothing handed out was written over.
    assert.deepEqual(
      messages.flatMap((m) => codec.decode(m.message)),
      [post(1), ...big],
    );
  });

  it('leaves the batch as it was when a frame cannot be encoded', () => {
    const { batcher, messages } = collect();
    batcher.add(post(1));
    assert.throws(() => batcher.add(post(2, [Symbol('no')])), { code: 'IKC_ERR_ENCODE' });
    batcher.add(post(3));
    batcher.flush();
    assert.deepEqual(decodeMessage(messages[0]!.message), [post(1), post(3)]);
  });

  it('lets the sink add frames while it is being called', () => {
    const codec = new Codec();
    const seen: Frame[][] = [];
    let batcher: FrameBatcher;
    batcher = new FrameBatcher(
      (message) => {
        seen.push(decodeMessage(message));
        if (seen.length === 1) batcher.add(post(99));
      },
      codec,
      { maxFrames: 2 },
    );
    batcher.add(post(1));
    batcher.add(post(2));
    batcher.flush();
    assert.deepEqual(seen, [[post(1), post(2)], [post(99)]]);
  });

  it('keeps its limits within the codec limits', () => {
    const codec = new Codec({ limits: { maxFramesPerBatch: 8, maxMessageBytes: 1000 } });
    const batcher = new FrameBatcher(() => {}, codec, { maxFrames: 100, maxBytes: 1e6 });
    assert.equal(batcher.maxFrames, 8);
    assert.equal(batcher.maxBytes, 1000);
    assert.throws(() => new FrameBatcher(() => {}, codec, { maxFrames: 0 }), { code: 'IKC_ERR_INVALID_ARG' });
  });
});
