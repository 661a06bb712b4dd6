// Relaying through a host kernel: the routing fields appended to POST, CALL, REPLY and ERROR
// (dest, origin, and ERROR's replyTo), and the REGISTRY frame kernels publish sessions with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import { encodeBatch } from '../src/batch.js';
import { decodeMessage, encodeFrame } from '../src/codec.js';
import { IkcError } from '../src/errors.js';
import { type Frame, FrameType, frameName, frameSchema, type RegistryFrame } from '../src/frames.js';
import type { ErrorPayload } from '../src/values.js';
import { assertWireError } from './samples.js';

const HOST = 'V1StGXR8_Z5jdHi6B-myT';
const LEAF = 'Kq3vZ0_aN8mR2tYw1xLp4';
const REMOTE = 'x9Qm2LpR7vT0bN4cW8sYe';

const NO_SESSION: ErrorPayload = {
  code: 'IKC_ERR_NO_SESSION',
  message: 'no session calc',
  name: 'IkcError',
  stack: '',
  kernel: LEAF,
  session: '',
  event: 'add',
};

/** Frames with non-empty routing fields, and the positional array each must be on the wire. */
function routed(): [Frame, unknown[]][] {
  return [
    [
      {
        type: FrameType.Post,
        seq: 1,
        from: 's1',
        to: 'calc',
        event: 'add',
        args: [1],
        dest: LEAF,
        origin: REMOTE,
      },
      [32, 1, 's1', 'calc', 'add', [1], LEAF, REMOTE],
    ],
    [
      {
        type: FrameType.Call,
        seq: 2,
        callId: 7,
        from: 's1',
        to: 'calc',
        event: 'div',
        args: [1, 0],
        timeoutMs: 250,
        dest: LEAF,
        origin: REMOTE,
      },
      [33, 2, 7, 's1', 'calc', 'div', [1, 0], 250, LEAF, REMOTE],
    ],
    [
      { type: FrameType.Reply, seq: 3, callId: 7, value: 0.5, dest: REMOTE, origin: LEAF },
      [34, 3, 7, 0.5, REMOTE, LEAF],
    ],
    [
      // A POST that could not be delivered on the leaf: the poster is told through replyTo.
      {
        type: FrameType.Error,
        seq: 4,
        callId: 0,
        postSeq: 1,
        error: NO_SESSION,
        dest: REMOTE,
        origin: LEAF,
        replyTo: 's1',
      },
      [
        35,
        4,
        0,
        1,
        ['IKC_ERR_NO_SESSION', 'no session calc', 'IkcError', '', LEAF, '', 'add'],
        REMOTE,
        LEAF,
        's1',
      ],
    ],
  ];
}

/** Frames as an older peer writes them (without the routing fields), and what they decode to. */
function older(): [string, unknown[], Frame][] {
  return [
    [
      'POST',
      [32, 1, 's1', 'calc', 'add', [1]],
      { type: FrameType.Post, seq: 1, from: 's1', to: 'calc', event: 'add', args: [1], dest: '', origin: '' },
    ],
    [
      'CALL',
      [33, 2, 7, 's1', 'calc', 'div', [1, 0], 250],
      {
        type: FrameType.Call,
        seq: 2,
        callId: 7,
        from: 's1',
        to: 'calc',
        event: 'div',
        args: [1, 0],
        timeoutMs: 250,
        dest: '',
        origin: '',
      },
    ],
    [
      'CALL without timeoutMs either',
      [33, 2, 7, 's1', 'calc', 'div', [1, 0]],
      {
        type: FrameType.Call,
        seq: 2,
        callId: 7,
        from: 's1',
        to: 'calc',
        event: 'div',
        args: [1, 0],
        timeoutMs: 0,
        dest: '',
        origin: '',
      },
    ],
    [
      'REPLY',
      [34, 3, 7, 0.5],
      { type: FrameType.Reply, seq: 3, callId: 7, value: 0.5, dest: '', origin: '' },
    ],
    [
      'ERROR',
      [35, 4, 7, 0, ['IKC_ERR_HANDLER', 'boom']],
      {
        type: FrameType.Error,
        seq: 4,
        callId: 7,
        postSeq: 0,
        error: {
          code: 'IKC_ERR_HANDLER',
          message: 'boom',
          name: '',
          stack: '',
          kernel: '',
          session: '',
          event: '',
        },
        dest: '',
        origin: '',
        replyTo: '',
      },
    ],
    [
      'POST with dest but no origin',
      [32, 1, 's1', 'calc', 'add', [1], LEAF],
      {
        type: FrameType.Post,
        seq: 1,
        from: 's1',
        to: 'calc',
        event: 'add',
        args: [1],
        dest: LEAF,
        origin: '',
      },
    ],
    [
      'ERROR with dest and origin but no replyTo',
      [35, 4, 0, 1, ['IKC_ERR_NO_SESSION', 'gone'], HOST, LEAF],
      {
        type: FrameType.Error,
        seq: 4,
        callId: 0,
        postSeq: 1,
        error: {
          code: 'IKC_ERR_NO_SESSION',
          message: 'gone',
          name: '',
          stack: '',
          kernel: '',
          session: '',
          event: '',
        },
        dest: HOST,
        origin: LEAF,
        replyTo: '',
      },
    ],
  ];
}

describe('routing fields (dest, origin, replyTo)', () => {
  for (const [frame, wire] of routed()) {
    it(`${frameName(frame.type)} carries them through a round trip, after its other fields`, () => {
      const bytes = encodeFrame(frame);
      assert.deepEqual(unpack(bytes), wire);
      assert.deepEqual(decodeMessage(bytes), [frame]);
    });
  }

  it('round trip in a batch, in order', () => {
    const frames = routed().map(([frame]) => frame);
    assert.deepEqual(decodeMessage(encodeBatch(frames)), frames);
  });

  for (const [what, wire, expected] of older()) {
    it(`an older peer's ${what} (shorter, built with pack) decodes with '' defaults`, () => {
      assert.deepEqual(decodeMessage(pack(wire)), [expected]);
    });
  }

  it("accept an older peer's frames and ours in the same message", () => {
    const cases = older();
    const ours = routed().map(([frame]) => frame);
    const message = Buffer.concat([pack(cases[0]![1]), encodeFrame(ours[1]!), pack(cases[3]![1])]);
    assert.deepEqual(decodeMessage(message), [cases[0]![2], ours[1], cases[3]![2]]);
  });

  it("encode a frame without them as '' (the receiver itself, from the link's peer)", () => {
    const frames: Frame[] = [
      { type: FrameType.Post, seq: 1, from: 's1', to: 'calc', event: 'add', args: [] },
      {
        type: FrameType.Call,
        seq: 2,
        callId: 7,
        from: 's1',
        to: 'calc',
        event: 'div',
        args: [],
        timeoutMs: 0,
      },
      { type: FrameType.Reply, seq: 3, callId: 7, value: null },
      { type: FrameType.Error, seq: 4, callId: 7, postSeq: 0, error: NO_SESSION },
    ];
    const tails = frames.map((f) => (unpack(encodeFrame(f)) as unknown[]).slice(-3));
    assert.deepEqual(tails, [
      [[], '', ''],
      [0, '', ''],
      [null, '', ''],
      ['', '', ''],
    ]);
  });

  const wrongTypes: [string, unknown[], string][] = [
    ['a numeric POST dest', [32, 1, 's1', 'calc', 'add', [], 7, ''], 'dest'],
    ['a null POST origin', [32, 1, 's1', 'calc', 'add', [], '', null], 'origin'],
    ['a CALL dest that is an array', [33, 1, 2, 's1', 'calc', 'e', [], 0, [LEAF], ''], 'dest'],
    ['a binary CALL origin', [33, 1, 2, 's1', 'calc', 'e', [], 0, '', Buffer.from(LEAF)], 'origin'],
    ['a boolean REPLY dest', [34, 1, 2, 'v', true, ''], 'dest'],
    ['a numeric REPLY origin', [34, 1, 2, 'v', '', 0], 'origin'],
    ['a map as ERROR dest', [35, 1, 2, 0, ['c', 'm'], { k: LEAF }, ''], 'dest'],
    ['a numeric ERROR origin', [35, 1, 2, 0, ['c', 'm'], '', 1], 'origin'],
    ['a numeric ERROR replyTo', [35, 1, 0, 3, ['c', 'm'], '', '', 42], 'replyTo'],
  ];
  for (const [what, wire, field] of wrongTypes) {
    it(`refuse ${what} with IKC_ERR_FRAME_MALFORMED naming field '${field}'`, () => {
      const err = assertWireError(() => decodeMessage(pack(wire)), 'IKC_ERR_FRAME_MALFORMED');
      assert.equal(err.details?.field, field);
      assert.match(err.message, new RegExp(`field '${field}' must be a string`));
    });
  }

  it('are not encoded unless they are strings (IKC_ERR_ENCODE)', () => {
    for (const [frame] of routed()) {
      const keys = frame.type === FrameType.Error ? ['dest', 'origin', 'replyTo'] : ['dest', 'origin'];
      for (const key of keys) {
        for (const odd of [null, 7, [LEAF]]) {
          const bad = { ...frame, [key]: odd } as unknown as Frame;
          assert.throws(
            () => encodeFrame(bad),
            (err: unknown) => err instanceof IkcError && err.code === 'IKC_ERR_ENCODE',
            `${frameName(frame.type)} with ${key} = ${JSON.stringify(odd)}`,
          );
        }
      }
    }
  });
});

describe('REGISTRY', () => {
  const up: RegistryFrame = {
    type: FrameType.Registry,
    kernelId: LEAF,
    kernelName: 'worker-3',
    version: 12,
    state: 'up',
    sessions: [
      [`${LEAF}.1`, ['calc', 'math'], ['add', 'mul']],
      [`${LEAF}.4`, [], ['tick']],
    ],
    role: 'leaf',
  };
  const gone: RegistryFrame = {
    type: FrameType.Registry,
    kernelId: REMOTE,
    kernelName: 'gamma',
    version: 2 ** 40,
    state: 'gone',
    sessions: [],
    role: 'host',
  };

  it('is frame type 65, in the membership range', () => {
    assert.equal(FrameType.Registry, 65);
    assert.equal(frameSchema(65)?.name, 'REGISTRY');
  });

  it('round trips, up with sessions and gone without', () => {
    for (const frame of [up, gone]) assert.deepEqual(decodeMessage(encodeFrame(frame)), [frame]);
    assert.deepEqual(decodeMessage(encodeBatch([up, gone, up])), [up, gone, up]);
  });

  it('is [65, kernelId, kernelName, version, state, sessions, role] on the wire', () => {
    assert.deepEqual(unpack(encodeFrame(up)), [
      65,
      LEAF,
      'worker-3',
      12,
      'up',
      [
        [`${LEAF}.1`, ['calc', 'math'], ['add', 'mul']],
        [`${LEAF}.4`, [], ['tick']],
      ],
      'leaf',
    ]);
  });

  it("defaults role to 'host', on decode and on encode", () => {
    assert.deepEqual(decodeMessage(pack([65, REMOTE, 'gamma', 3, 'up', []])), [
      {
        type: FrameType.Registry,
        kernelId: REMOTE,
        kernelName: 'gamma',
        version: 3,
        state: 'up',
        sessions: [],
        role: 'host',
      },
    ]);
    const { role: _, ...withoutRole } = up;
    assert.equal((unpack(encodeFrame(withoutRole as unknown as Frame)) as unknown[])[6], 'host');
  });

  it('leaves the entries of sessions to the receiver: the wire checks only that it is an array', () => {
    const odd = [7, 'x', [null], { a: 1 }];
    const [frame] = decodeMessage(pack([65, LEAF, 'n', 1, 'up', odd, 'leaf'])) as [RegistryFrame];
    assert.deepEqual(frame.sessions, odd);
  });

  it('ignores fields after role (a newer peer appended them)', () => {
    assert.deepEqual(decodeMessage(pack([65, REMOTE, 'gamma', 0, 'gone', [], 'host', 'later', 1])), [
      { ...gone, version: 0 },
    ]);
  });

  const wrongTypes: [string, unknown[], string][] = [
    ['a numeric kernelId', [65, 42, 'n', 1, 'up', [], 'host'], 'kernelId'],
    ['a null kernelName', [65, LEAF, null, 1, 'up', [], 'host'], 'kernelName'],
    ['a string version', [65, LEAF, 'n', '1', 'up', [], 'host'], 'version'],
    ['a negative version', [65, LEAF, 'n', -1, 'up', [], 'host'], 'version'],
    ['a fractional version', [65, LEAF, 'n', 1.5, 'up', [], 'host'], 'version'],
    ['a version beyond 2^53', [65, LEAF, 'n', 2 ** 60, 'up', [], 'host'], 'version'],
    ['a boolean state', [65, LEAF, 'n', 1, true, [], 'host'], 'state'],
    ['sessions that are a map', [65, LEAF, 'n', 1, 'up', { 0: ['s', [], []] }, 'host'], 'sessions'],
    ['sessions that are a string', [65, LEAF, 'n', 1, 'up', 'calc', 'host'], 'sessions'],
    ['a numeric role', [65, LEAF, 'n', 1, 'up', [], 1], 'role'],
  ];
  for (const [what, wire, field] of wrongTypes) {
    it(`refuses ${what} with IKC_ERR_FRAME_MALFORMED naming field '${field}'`, () => {
      const err = assertWireError(() => decodeMessage(pack(wire)), 'IKC_ERR_FRAME_MALFORMED');
      assert.deepEqual(err.details, { frame: 'REGISTRY', field });
      assert.match(err.message, new RegExp(`^REGISTRY frame: field '${field}' must be`));
    });
  }

  it('refuses a REGISTRY without its required fields, naming the first one missing', () => {
    const full = [65, LEAF, 'n', 1, 'up', []];
    const names = ['kernelId', 'kernelName', 'version', 'state', 'sessions'];
    for (let n = 1; n < full.length; n++) {
      const err = assertWireError(
        () => decodeMessage(pack(full.slice(0, n))),
        'IKC_ERR_FRAME_MALFORMED',
        /^REGISTRY frame: field '\w+' is missing/,
      );
      assert.equal(err.details?.field, names[n - 1]);
    }
  });

  it('is not encoded with a field a peer would refuse (IKC_ERR_ENCODE)', () => {
    const bad = [
      { version: -1 },
      { version: '1' },
      { sessions: 'calc' },
      { kernelId: undefined },
      { role: 1 },
    ];
    for (const change of bad) {
      assert.throws(
        () => encodeFrame({ ...up, ...change } as unknown as Frame),
        (err: unknown) => err instanceof IkcError && err.code === 'IKC_ERR_ENCODE',
        JSON.stringify(change),
      );
    }
  });
});
