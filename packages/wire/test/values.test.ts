import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import { encodeBatch } from '../src/batch.js';
import { Codec, decodeMessage, encodeFrame } from '../src/codec.js';
import { IkcError } from '../src/errors.js';
import { FrameType, type PostFrame, type ReplyFrame } from '../src/frames.js';
import {
  type ErrorPayload,
  ExtType,
  errorFromPayload,
  errorToPayload,
  registerSessionClass,
  SessionRef,
} from '../src/values.js';

/** A POST with every field set (as a decoded one has them), so it compares equal after a round trip. */
function postOf(args: unknown[]): PostFrame {
  return { type: FrameType.Post, seq: 1, from: 'a', to: 'b', event: 'e', args, dest: '', origin: '' };
}

function roundTripArgs(args: unknown[], codec = new Codec()): readonly unknown[] {
  return (codec.decode(codec.encode(postOf(args)))[0] as PostFrame).args;
}

// Stands in for the kernel's own session class.
class FakeSession {
  constructor(
    readonly kernelId: string,
    readonly id: string,
  ) {}
}
registerSessionClass(FakeSession, (s) => new SessionRef(s.kernelId, s.id));

describe('session references', () => {
  it('round trip as SessionRef, wherever they sit in the args', () => {
    const ref = new SessionRef('beta', 'sess-9');
    const [top, nested] = roundTripArgs([ref, { reply: [ref] }]) as [SessionRef, { reply: SessionRef[] }];
    assert.ok(top instanceof SessionRef);
    assert.deepEqual(top, ref);
    assert.deepEqual(nested.reply[0], ref);
    assert.equal(String(top), 'poe://beta/sess-9');
  });

  it('are one extension tag and a [kernel, session] array on the wire', () => {
    const bytes = encodeFrame(postOf([new SessionRef('k', 's')]));
    const tag = Buffer.from([0xd4, ExtType.SessionRef, 0x00, 0x92, 0xa1, 0x6b, 0xa1, 0x73]);
    assert.ok(bytes.includes(tag));
  });

  it('let a registered class encode as a reference', () => {
    const [ref] = roundTripArgs([new FakeSession('alpha', 'sess-1')]);
    assert.deepEqual(ref, new SessionRef('alpha', 'sess-1'));
  });

  it('decode through the fromRef hook, which maps them to local objects', () => {
    const seen: SessionRef[] = [];
    const codec = new Codec({
      fromRef: (ref) => {
        seen.push(ref);
        return `proxy:${ref.kernel}/${ref.session}`;
      },
    });
    assert.deepEqual(roundTripArgs([new SessionRef('k', 's1'), [new SessionRef('k', 's2')]], codec), [
      'proxy:k/s1',
      ['proxy:k/s2'],
    ]);
    assert.equal(seen.length, 2);
    // The hook belongs to that codec only.
    assert.ok(roundTripArgs([new SessionRef('k', 's1')])[0] instanceof SessionRef);
  });

  it('may decode another message from inside the hook (re-entrant decode)', () => {
    // Longer than the outer message, so it would overwrite what the outer decode has yet to read.
    const innerFrame = postOf(['y'.repeat(300)]);
    const inner = encodeFrame(innerFrame);
    const codec = new Codec({ fromRef: (ref) => [ref.session, decodeMessage(inner)[0]] });
    const args = [new SessionRef('k', 's1'), 'after the ref', { n: 1 }, 'x'.repeat(100)];
    assert.deepEqual(roundTripArgs(args, codec), [
      ['s1', innerFrame],
      'after the ref',
      { n: 1 },
      'x'.repeat(100),
    ]);
    const batch = encodeBatch([postOf(args), postOf(['second'])]);
    assert.deepEqual(
      codec.decode(batch).map((f) => (f as PostFrame).args),
      [[['s1', innerFrame], 'after the ref', { n: 1 }, 'x'.repeat(100)], ['second']],
    );
  });

  it('refuse a malformed reference with IKC_ERR_FRAME_MALFORMED', () => {
    // [32, 1, 'a', 'b', 'e', [<ref tag> [1, 2]]]
    const bytes = Buffer.from([
      0x96, 0x20, 0x01, 0xa1, 0x61, 0xa1, 0x62, 0xa1, 0x65, 0x91, 0xd4, 0x01, 0x00, 0x92, 0x01, 0x02,
    ]);
    assert.throws(() => decodeMessage(bytes), { name: 'WireError', code: 'IKC_ERR_FRAME_MALFORMED' });
  });
});

describe('errors as values', () => {
  it('survive as arguments with name, message, code and stack', () => {
    const thrown = new IkcError('IKC_ERR_NO_SESSION', 'no session "calc"');
    const [err] = roundTripArgs([thrown]) as [Error & { code: string }];
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'IkcError');
    assert.equal(err.message, 'no session "calc"');
    assert.equal(err.code, 'IKC_ERR_NO_SESSION');
    assert.equal(err.stack, thrown.stack);
  });

  it('decode through the fromError hook', () => {
    const codec = new Codec({ fromError: (p: ErrorPayload) => ({ remote: p.code }) });
    assert.deepEqual(roundTripArgs([new TypeError('x')], codec), [{ remote: '' }]);
  });

  it('errorToPayload copes with anything thrown', () => {
    assert.deepEqual(errorToPayload('just a string', { kernel: 'k', session: 's', event: 'e' }), {
      code: '',
      message: 'just a string',
      name: 'Error',
      stack: '',
      kernel: 'k',
      session: 's',
      event: 'e',
    });
    const hostile = {
      get message(): string {
        throw new Error('getter');
      },
    };
    assert.equal(errorToPayload(hostile).message, 'unprintable error');
    assert.equal(errorToPayload(Object.assign(new Error('x'), { code: 42 })).code, '42');
    const p = errorToPayload(new RangeError('r'), { event: 'div' });
    assert.equal(p.name, 'RangeError');
    assert.equal(p.event, 'div');
  });

  it('errorFromPayload keeps the remote facts', () => {
    const err = errorFromPayload({
      code: 'E',
      message: 'm',
      name: 'TypeError',
      stack: 'remote stack',
      kernel: 'k',
      session: 's',
      event: 'e',
    }) as Error & Record<string, string>;
    assert.deepEqual(
      [err.name, err.message, err.stack, err.code, err.kernel, err.session, err.event],
      ['TypeError', 'm', 'remote stack', 'E', 'k', 's', 'e'],
    );
  });
});

describe('other values in args', () => {
  it('carries Sets, RegExps and typed arrays as plain data, never as msgpackr extensions', () => {
    const bytes = encodeFrame(
      postOf([new Set([1, 2]), /a+b/gi, new Uint16Array([1, 2]), new Map([['k', 1]])]),
    );
    const wire = unpack(bytes) as unknown[];
    const args = wire[5] as unknown[];
    assert.deepEqual(args[0], [1, 2]);
    assert.deepEqual(args[1], ['a+b', 'gi']);
    assert.ok(args[2] instanceof Uint8Array);
    assert.deepEqual(args[3], { k: 1 });
    assert.deepEqual((decodeMessage(bytes)[0] as PostFrame).args[3], { k: 1 });
  });

  it('decodes binary values as copies, not views of the message', () => {
    const bytes = encodeFrame({ type: FrameType.Reply, seq: 1, callId: 1, value: Buffer.from('abc') });
    const [reply] = decodeMessage(bytes) as [ReplyFrame];
    bytes.fill(0);
    assert.deepEqual(reply.value, Buffer.from('abc'));
  });

  it('decodes the binaries of a message of one large frame as views of it (no second copy)', () => {
    const data = Buffer.alloc(64 * 1024, 7);
    const bytes = Buffer.from(encodeFrame({ type: FrameType.Reply, seq: 1, callId: 1, value: data }));
    const [reply] = decodeMessage(bytes) as [ReplyFrame];
    const value = reply.value as Buffer;
    assert.deepEqual(value, data);
    assert.equal(value.buffer, bytes.buffer, 'a view of the message');
  });

  it('keeps "constructor" and "toString" keys as plain own data', () => {
    const value = { constructor: 'c', toString: 't', hasOwnProperty: 1 };
    const [decoded] = roundTripArgs([value]) as [Record<string, unknown>];
    assert.deepEqual(decoded, value);
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.equal(({} as Record<string, unknown>).toString, Object.prototype.toString);
  });
});
