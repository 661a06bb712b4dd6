// Shared by the wire tests: one sample of every frame type, a seeded PRNG, and assertions
// about errors. Not a test file itself (the runner only picks up *.test.js).
import assert from 'node:assert/strict';
import { ERROR_CODES, WireError } from '../src/errors.js';
import { type Frame, FrameType } from '../src/frames.js';
import { SessionRef } from '../src/values.js';

const nonce = (fill: number) => Buffer.alloc(32, fill);

/** One frame of every type, each with every field set, in type order. */
export function sampleFrames(): Frame[] {
  return [
    {
      type: FrameType.Hello,
      minVersion: 1,
      maxVersion: 3,
      cloud: 'lab',
      kernelId: 'V1StGXR8_Z5jdHi6B-myT',
      kernelName: 'alpha',
      nonce: nonce(7),
      role: 'leaf',
      features: ['tls', 'jobs'],
      listen: '10.0.0.5:6603',
    },
    { type: FrameType.Auth, proof: Buffer.alloc(32, 0xab) },
    { type: FrameType.Welcome, version: 1 },
    { type: FrameType.Refuse, code: 'IKC_ERR_AUTH', message: 'wrong secret' },
    { type: FrameType.Bye, reason: 'shutdown', message: 'SIGTERM' },
    { type: FrameType.Ping, sentAt: 1_732_000_000_123.25 },
    { type: FrameType.Pong, pingSentAt: 1_732_000_000_123.25, sentAt: 1_732_000_000_124 },
    { type: FrameType.Ack, seq: 2 ** 40 },
    { type: FrameType.Chunk, id: 3, total: 70_000, offset: 69_960, data: Buffer.alloc(40, 0x5a) },
    { type: FrameType.Blobs, args: [1, 4], lengths: [65_536, 16_384] },
    {
      type: FrameType.Post,
      seq: 1,
      from: 'sess-17',
      to: 'calc',
      event: 'add',
      args: [1, 'two', { three: [3, null, true] }],
      dest: '',
      origin: '',
    },
    {
      type: FrameType.Call,
      seq: 2,
      callId: 9,
      from: 'sess-17',
      to: 'calc',
      event: 'div',
      args: [new SessionRef('beta', 'sess-4'), -1.5, Buffer.from([1, 2, 3])],
      timeoutMs: 5000,
      // Routing fields (dest, origin): set, and non-empty in some samples, so they are exercised.
      dest: 'Kq3vZ0_aN8mR2tYw1xLp4',
      origin: 'V1StGXR8_Z5jdHi6B-myT',
    },
    {
      type: FrameType.Reply,
      seq: 3,
      callId: 9,
      value: { result: [1, 2], at: new Date(1_700_000_000_000) },
      dest: 'V1StGXR8_Z5jdHi6B-myT',
      origin: 'Kq3vZ0_aN8mR2tYw1xLp4',
    },
    {
      type: FrameType.Error,
      seq: 4,
      callId: 10,
      postSeq: 0,
      error: {
        code: 'IKC_ERR_HANDLER',
        message: 'division by zero',
        name: 'RangeError',
        stack: 'RangeError: division by zero\n    at div (calc.mjs:3:11)',
        kernel: 'beta',
        session: 'sess-4',
        event: 'div',
      },
      dest: '',
      origin: 'Kq3vZ0_aN8mR2tYw1xLp4',
      replyTo: '',
    },
    { type: FrameType.Gossip, payload: Buffer.from('opaque membership bytes') },
    {
      type: FrameType.Registry,
      kernelId: 'V1StGXR8_Z5jdHi6B-myT',
      kernelName: 'beta',
      version: 7,
      state: 'up',
      sessions: [['V1StGXR8_Z5jdHi6B-myT.3', ['calc'], ['add', 'mul']]],
      role: 'host',
    },
  ];
}

/** A small seeded PRNG (mulberry32), so a failing fuzz case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asserts that `fn` throws a WireError with `code` (and a code from the table). */
export function assertWireError(
  fn: () => unknown,
  code: keyof typeof ERROR_CODES,
  message?: RegExp,
): WireError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof WireError, `expected a WireError ${code}, got ${String(thrown)}`);
  assert.equal(thrown.code, code, thrown.message);
  assert.ok(thrown.code in ERROR_CODES);
  if (message) assert.match(thrown.message, message);
  return thrown;
}
