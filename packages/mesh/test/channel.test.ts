import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameType } from '@ikc/wire';
import { Channel, type SequencedFrame } from '../src/channel.js';
import type { Link } from '../src/link.js';

/** A link that records what it sends; each frame is `10 + i` bytes for its post argument i. */
function fakeLink(refuse: (i: number) => boolean = () => false): { link: Link; sent: number[] } {
  const sent: number[] = [];
  const link = {
    isUp: true,
    send(frame: SequencedFrame): number {
      const i = (frame as unknown as { args: number[] }).args[0] as number;
      if (refuse(i)) throw new Error(`refused ${i}`);
      sent.push(i);
      return 10 + i;
    },
  } as unknown as Link;
  return { link, sent };
}

const post = (i: number): SequencedFrame => ({
  type: FrameType.Post,
  seq: 0,
  from: 'a',
  to: 'b',
  event: 'e',
  args: [i],
  dest: '',
  origin: '',
});

const measure = () => {
  throw new Error('measured with the link up');
};

const argsOf = (frames: SequencedFrame[]) => frames.map((f) => (f as unknown as { args: number[] }).args[0]);

describe('Channel', () => {
  it('keeps what is unacknowledged in order while its ring wraps and grows, and counts its bytes', () => {
    const channel = new Channel('id', 'peer', { sendBufferBytes: 1e9, sendBufferHardBytes: 2e9 });
    const first = fakeLink();
    channel.link = first.link;
    let next = 0;
    let acked = 0;
    // Send and acknowledge at different paces, so the head goes round the ring several times
    // and the ring grows while it has wrapped.
    for (let round = 0; round < 40; round++) {
      for (let k = 0; k < 30 + round; k++) channel.send(post(next++), measure);
      acked = Math.min(next, acked + 25);
      channel.acknowledge(acked);
    }
    const left = next - acked;
    assert.ok(left > 64, `${left} frames left: more than the first ring holds`);
    assert.equal(channel.bufferedFrames, left);
    let bytes = 0;
    for (let i = acked; i < next; i++) bytes += 10 + i;
    assert.equal(channel.bufferedBytes, bytes);

    // A new link gets every unacknowledged frame, oldest first; one it refuses is dropped.
    const second = fakeLink((i) => i === acked + 3);
    const { resent, refused } = channel.resumeOn(second.link);
    const expected = Array.from({ length: left }, (_, k) => acked + k).filter((i) => i !== acked + 3);
    assert.deepEqual(second.sent, expected);
    assert.equal(resent, left - 1);
    assert.deepEqual(argsOf(refused.map((r) => r.frame)), [acked + 3]);
    assert.equal(channel.bufferedFrames, left - 1);
    assert.equal(channel.bufferedBytes, bytes - (10 + acked + 3));

    // Acknowledging past the refused frame's seq, then failing: the rest comes back in order.
    channel.acknowledge(acked + 5);
    const lost = channel.fail();
    assert.deepEqual(
      argsOf(lost),
      expected.filter((i) => i >= acked + 5),
    );
    assert.equal(channel.bufferedFrames, 0);
    assert.equal(channel.bufferedBytes, 0);
  });
});
