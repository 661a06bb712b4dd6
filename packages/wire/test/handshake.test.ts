import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, it, mock } from 'node:test';
import { Codec } from '../src/codec.js';
import { WireError } from '../src/errors.js';
import type { HelloFrame } from '../src/frames.js';
import {
  acceptHello,
  authFrame,
  authProof,
  helloFrame,
  makeNonce,
  NONCE_BYTES,
  proof,
  proofsEqual,
  refuseFrame,
  verifyAuth,
  welcomeFrame,
} from '../src/handshake.js';
import { assertWireError } from './samples.js';

const SECRET = 'correct horse battery staple';

function hellos(): { dialer: HelloFrame; listener: HelloFrame } {
  return {
    dialer: helloFrame({ cloud: 'lab', kernelId: 'id-a', kernelName: 'alpha', role: 'leaf' }),
    listener: helloFrame({ cloud: 'lab', kernelId: 'id-b', kernelName: 'beta', features: ['gossip'] }),
  };
}

describe('handshake proofs', () => {
  it('verify when both sides hold the same secret', () => {
    const { dialer, listener } = hellos();
    const fromDialer = authProof(SECRET, 'dialer', dialer, listener);
    const fromListener = authProof(SECRET, 'listener', dialer, listener);
    assert.equal(fromDialer.length, 32); // HMAC-SHA256
    assert.ok(verifyAuth(SECRET, 'dialer', dialer, listener, fromDialer));
    assert.ok(verifyAuth(SECRET, 'listener', dialer, listener, fromListener));
  });

  it('fail with a different secret', () => {
    const { dialer, listener } = hellos();
    const forged = authProof('guessed secret', 'dialer', dialer, listener);
    assert.equal(verifyAuth(SECRET, 'dialer', dialer, listener, forged), false);
    assert.equal(
      verifyAuth(SECRET, 'dialer', dialer, listener, authProof('', 'dialer', dialer, listener)),
      false,
    );
  });

  it('cannot be reflected: a side cannot pass off the other side`s proof as its own', () => {
    const { dialer, listener } = hellos();
    const fromListener = authProof(SECRET, 'listener', dialer, listener);
    assert.equal(verifyAuth(SECRET, 'dialer', dialer, listener, fromListener), false);
  });

  it('cannot be replayed on another connection (fresh nonces)', () => {
    const first = hellos();
    const second = hellos();
    const old = authProof(SECRET, 'dialer', first.dialer, first.listener);
    assert.equal(verifyAuth(SECRET, 'dialer', second.dialer, second.listener, old), false);
  });

  it('fail when a HELLO was altered in flight (e.g. a narrowed version range)', () => {
    const { dialer, listener } = hellos();
    const sent = authProof(SECRET, 'dialer', dialer, listener);
    const altered = { ...dialer, maxVersion: dialer.maxVersion + 1 };
    assert.equal(verifyAuth(SECRET, 'listener', altered, listener, sent), false);
    assert.equal(verifyAuth(SECRET, 'dialer', altered, listener, sent), false);
    assert.equal(verifyAuth(SECRET, 'dialer', { ...dialer, features: ['x'] }, listener, sent), false);
  });

  it('reject proofs of the wrong length or type without throwing', () => {
    const { dialer, listener } = hellos();
    const good = authProof(SECRET, 'dialer', dialer, listener);
    assert.equal(verifyAuth(SECRET, 'dialer', dialer, listener, good.subarray(0, 31)), false);
    assert.equal(verifyAuth(SECRET, 'dialer', dialer, listener, Buffer.alloc(0)), false);
    assert.equal(verifyAuth(SECRET, 'dialer', dialer, listener, 'text' as unknown as Uint8Array), false);
  });

  it('compare with crypto.timingSafeEqual', () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    syncBuiltinESMExports(); // make the named import in handshake.ts see the spy
    try {
      const { dialer, listener } = hellos();
      const good = authProof(SECRET, 'dialer', dialer, listener);
      assert.ok(verifyAuth(SECRET, 'dialer', dialer, listener, good));
      assert.equal(spy.mock.callCount(), 1);
      assert.ok(proofsEqual(good, Buffer.from(good)));
      assert.equal(spy.mock.callCount(), 2);
    } finally {
      spy.mock.restore();
      syncBuiltinESMExports();
    }
  });

  it('length-prefix their parts, so different part lists never collide', () => {
    const n = Buffer.alloc(16, 1);
    assert.notDeepEqual(proof('s', 'label', n, n, 'ab', 'c'), proof('s', 'label', n, n, 'a', 'bc'));
    assert.deepEqual(
      proof('s', 'label', n, n, 'ab'),
      proof(Buffer.from('s'), 'label', n, n, Buffer.from('ab')),
    );
  });

  it('never put the secret in a frame', () => {
    const codec = new Codec();
    const { dialer, listener } = hellos();
    const frames = [
      dialer,
      listener,
      authFrame(authProof(SECRET, 'dialer', dialer, listener)),
      welcomeFrame(1),
    ];
    const bytes = Buffer.concat(frames.map((f) => codec.encode(f)));
    assert.equal(bytes.indexOf(Buffer.from(SECRET)), -1);
    assert.deepEqual(codec.decode(bytes), frames);
  });
});

describe('handshake frames', () => {
  it('HELLO gets a fresh random nonce each time', () => {
    const a = helloFrame({ cloud: 'lab', kernelId: 'i', kernelName: 'n' });
    const b = helloFrame({ cloud: 'lab', kernelId: 'i', kernelName: 'n' });
    assert.equal(a.nonce.length, NONCE_BYTES);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(makeNonce(), makeNonce());
    assert.equal(a.role, 'host');
  });

  it('acceptHello returns the agreed version', () => {
    const local = helloFrame({ cloud: 'lab', kernelId: 'a', kernelName: 'a', range: { min: 1, max: 3 } });
    const remote = helloFrame({ cloud: 'lab', kernelId: 'b', kernelName: 'b', range: { min: 2, max: 7 } });
    assert.equal(acceptHello(local, remote), 3);
  });

  it('acceptHello refuses another cloud with IKC_ERR_CLOUD and a disjoint range with IKC_ERR_VERSION', () => {
    const local = helloFrame({ cloud: 'lab', kernelId: 'a', kernelName: 'a' });
    assertWireError(() => acceptHello(local, { ...local, cloud: 'prod' }), 'IKC_ERR_CLOUD', /"prod"/);
    assertWireError(
      () => acceptHello(local, { ...local, minVersion: 50, maxVersion: 60 }),
      'IKC_ERR_VERSION',
    );
  });

  it('REFUSE carries an error`s code and message', () => {
    const err = new WireError('IKC_ERR_VERSION', 'no common protocol version');
    assert.deepEqual(refuseFrame(err), {
      type: 4,
      code: 'IKC_ERR_VERSION',
      message: 'no common protocol version',
    });
    assert.deepEqual(refuseFrame('IKC_ERR_AUTH', 'bad proof'), {
      type: 4,
      code: 'IKC_ERR_AUTH',
      message: 'bad proof',
    });
  });
});
