import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { negotiateVersion, PROTOCOL_MAX, PROTOCOL_MIN, PROTOCOL_RANGE } from '../src/version.js';
import { assertWireError } from './samples.js';

describe('negotiateVersion', () => {
  it('picks the highest version both ranges contain', () => {
    assert.equal(negotiateVersion({ min: 1, max: 3 }, { min: 2, max: 5 }), 3);
    assert.equal(negotiateVersion({ min: 2, max: 5 }, { min: 1, max: 3 }), 3);
    assert.equal(negotiateVersion({ min: 1, max: 1 }, { min: 1, max: 9 }), 1);
    assert.equal(negotiateVersion({ min: 4, max: 4 }, { min: 4, max: 4 }), 4);
  });

  it('agrees with itself: both sides compute the same version', () => {
    const ranges = [
      { min: 1, max: 2 },
      { min: 2, max: 6 },
      { min: 1, max: 9 },
      { min: 5, max: 7 },
    ];
    for (const a of ranges) {
      for (const b of ranges) {
        let ab: unknown;
        let ba: unknown;
        try {
          ab = negotiateVersion(a, b);
        } catch (err) {
          ab = (err as { code: string }).code;
        }
        try {
          ba = negotiateVersion(b, a);
        } catch (err) {
          ba = (err as { code: string }).code;
        }
        assert.equal(ab, ba);
      }
    }
  });

  it('throws IKC_ERR_VERSION when the ranges do not overlap', () => {
    const err = assertWireError(
      () => negotiateVersion({ min: 1, max: 2 }, { min: 3, max: 4 }),
      'IKC_ERR_VERSION',
    );
    assert.match(err.message, /1\.\.2.*3\.\.4/);
    assertWireError(() => negotiateVersion({ min: 3, max: 4 }, { min: 1, max: 2 }), 'IKC_ERR_VERSION');
  });

  it('throws IKC_ERR_VERSION for an empty or invalid peer range', () => {
    assertWireError(() => negotiateVersion(PROTOCOL_RANGE, { min: 2, max: 1 }), 'IKC_ERR_VERSION');
    assertWireError(() => negotiateVersion(PROTOCOL_RANGE, { min: 0, max: 1 }), 'IKC_ERR_VERSION');
    assertWireError(() => negotiateVersion(PROTOCOL_RANGE, { min: 1.5, max: 2 }), 'IKC_ERR_VERSION');
  });

  it('has this build speak a non-empty range starting at 1 or later', () => {
    assert.ok(PROTOCOL_MIN >= 1 && PROTOCOL_MIN <= PROTOCOL_MAX);
    assert.equal(negotiateVersion(PROTOCOL_RANGE, PROTOCOL_RANGE), PROTOCOL_MAX);
  });
});
