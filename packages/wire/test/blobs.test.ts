// Blobs: which arguments splitBlobs() takes out, what checkBlobs() refuses of a peer, and
// joinBlobs() putting them back. The link that sends and receives them is tested in
// packages/mesh/test/blobs.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BLOB_MIN_BYTES,
  type BlobCarrier,
  type BlobsFrame,
  checkBlobs,
  decodeMessage,
  encodeFrame,
  type Frame,
  FrameType,
  joinBlobs,
  MAX_BLOBS,
  splitBlobs,
} from '../src/index.js';

const post = (args: unknown[]): BlobCarrier => ({
  type: FrameType.Post,
  seq: 1,
  from: 's.1',
  to: 'store',
  event: 'put',
  args,
  dest: '',
  origin: '',
});

const big = (n = BLOB_MIN_BYTES, fill = 1) => Buffer.alloc(n, fill);

describe('splitBlobs', () => {
  it('takes out top-level binaries of at least BLOB_MIN_BYTES, leaving nil in their places', () => {
    const a = big(BLOB_MIN_BYTES, 1);
    const b = new Uint8Array(70_000).fill(2);
    const frame = post(['x', a, big(BLOB_MIN_BYTES - 1), { nested: big() }, b, 5]);
    const split = splitBlobs(frame);
    assert.ok(split);
    assert.deepEqual(split.blobs, { type: FrameType.Blobs, args: [1, 4], lengths: [a.length, b.length] });
    assert.deepEqual(split.frame.args.slice(0, 2), ['x', null]);
    assert.equal(split.frame.args[4], null);
    assert.equal(split.frame.args[5], 5);
    // The blobs are the caller's buffers, not copies; the original frame is not changed.
    assert.equal(split.data[0], a);
    assert.equal(split.data[1], b);
    assert.equal(frame.args[1], a);
    assert.deepEqual(joinBlobs(split.blobs, split.frame, split.data), frame);
  });

  it('leaves frames without such binaries, and frames other than POST and CALL, alone', () => {
    assert.equal(splitBlobs(post(['x', big(BLOB_MIN_BYTES - 1), { a: big() }])), undefined);
    const reply: Frame = { type: FrameType.Reply, seq: 1, callId: 1, value: big(), dest: '', origin: '' };
    assert.equal(splitBlobs(reply), undefined);
    const call: Frame = {
      type: FrameType.Call,
      seq: 1,
      callId: 2,
      from: 's.1',
      to: 't',
      event: 'e',
      args: [big()],
      timeoutMs: 0,
      dest: '',
      origin: '',
    };
    assert.deepEqual(splitBlobs(call)?.blobs.args, [0]);
  });

  it(`honours min and max, and takes at most MAX_BLOBS (${MAX_BLOBS}) per frame`, () => {
    assert.equal(splitBlobs(post([big(100)]), 101), undefined);
    assert.deepEqual(splitBlobs(post([big(100)]), 100)?.blobs.args, [0]);
    assert.equal(splitBlobs(post([big(2000)]), 100, 1999), undefined);
    const many = Array.from({ length: MAX_BLOBS + 3 }, (_, i) => big(BLOB_MIN_BYTES, i));
    const split = splitBlobs(post(many));
    assert.equal(split?.data.length, MAX_BLOBS);
    assert.ok(Buffer.isBuffer(split?.frame.args[MAX_BLOBS]), 'the rest stay inside');
  });

  it('the BLOBS frame and the frame with nils encode and decode like any frame', () => {
    const split = splitBlobs(post([big(), 'y']));
    assert.ok(split);
    const [blobs, frame] = decodeMessage(
      Buffer.concat([encodeFrame(split.blobs), encodeFrame(split.frame)]),
    ) as [BlobsFrame, BlobCarrier];
    assert.deepEqual(blobs, split.blobs);
    assert.deepEqual(frame.args, [null, 'y']);
    assert.equal(checkBlobs(blobs, frame, 1 << 20), undefined);
  });
});

describe('checkBlobs refuses what a peer must not send', () => {
  const spec = (args: number[], lengths: number[]): BlobsFrame => ({ type: FrameType.Blobs, args, lengths });
  const cases: [string, BlobsFrame, Frame, RegExp][] = [
    [
      'a frame that is not a POST or CALL',
      spec([0], [10]),
      { type: FrameType.Ping, sentAt: 1 },
      /not frame type 16/,
    ],
    ['no blobs', spec([], []), post([null]), /0 blobs/],
    [
      'too many blobs',
      spec(
        Array.from({ length: MAX_BLOBS + 1 }, (_, i) => i),
        Array.from({ length: MAX_BLOBS + 1 }, () => 10),
      ),
      post(Array.from({ length: MAX_BLOBS + 1 }, () => null)),
      /17 blobs/,
    ],
    [
      'lengths that do not match the positions',
      spec([0, 1], [10]),
      post([null, null]),
      /2 positions but 1 lengths/,
    ],
    ['a repeated position', spec([0, 0], [10, 10]), post([null, null]), /ascending/],
    ['a position past the arguments', spec([2], [10]), post([null]), /position 2 is not a nil/],
    ['a position that holds a value', spec([0], [10]), post(['x']), /position 0 is not a nil/],
    ['an empty blob', spec([0], [0]), post([null]), /a blob of 0 bytes/],
    ['a blob over the limit', spec([0], [1001]), post([null]), /a blob of 1001 bytes; 1 to 1000/],
  ];
  for (const [what, blobs, frame, message] of cases) {
    it(what, () => {
      assert.match(checkBlobs(blobs, frame, 1000) ?? 'accepted', message);
    });
  }
});
