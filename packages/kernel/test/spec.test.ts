import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSpec, isSpec, parseSpec } from '../src/index.js';
import { specTarget } from '../src/targets.js';

describe('specifiers', () => {
  it('parse poe://KERNEL/SESSION and poe://KERNEL/SESSION/EVENT', () => {
    assert.deepEqual(parseSpec('poe://beta/calc/add'), { kernel: 'beta', session: 'calc', event: 'add' });
    assert.deepEqual(parseSpec('poe://beta/calc'), { kernel: 'beta', session: 'calc' });
    assert.deepEqual(parseSpec('poe:///calc/add'), { kernel: '', session: 'calc', event: 'add' });
    assert.deepEqual(parseSpec('poe://*/calc/add'), { kernel: '*', session: 'calc', event: 'add' });
    assert.deepEqual(parseSpec('poe://k/a%20b/e'), { kernel: 'k', session: 'a b', event: 'e' });
  });

  it('format back to the same text', () => {
    for (const text of [
      'poe://beta/calc/add',
      'poe://beta/calc',
      'poe:///calc/add',
      'poe://*/calc/add',
      'poe://k/a%20b/e',
    ]) {
      assert.equal(formatSpec(parseSpec(text)), text);
    }
  });

  it('specTarget: a specifier parsed once, with poe://KERNEL/SESSION encoded again', () => {
    for (const [text, base] of [
      ['poe://beta/calc/add', 'poe://beta/calc'],
      ['poe://beta/calc', 'poe://beta/calc'],
      ['poe://*/calc/add', 'poe://*/calc'],
      ['poe://k%2Fx/a%20b/e', 'poe://k%2Fx/a%20b'],
    ] as const) {
      const t = specTarget(text);
      assert.equal(t.base, base);
      assert.deepEqual(t.spec, parseSpec(text));
      assert.equal(t.routed.spec, t.spec);
      assert.equal(specTarget(text), t, 'kept: the same the second time');
    }
    assert.throws(() => specTarget('poe://beta'), { code: 'IKC_ERR_BAD_SPEC' });
  });

  it('refuse malformed specifiers with IKC_ERR_BAD_SPEC and say what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['http://beta/calc', /must start with poe:\/\//],
      ['poe://beta', /expected poe:\/\/KERNEL\/SESSION/],
      ['poe://beta/calc/add/extra', /expected/],
      ['poe://beta//add', /session is empty/],
      ['poe://beta/calc/', /event is empty/],
      ['poe://beta/%E0%A4%A/x', /percent-encoding/],
    ];
    for (const [text, why] of bad) {
      assert.throws(
        () => parseSpec(text),
        (err: { code: string; message: string }) => {
          assert.equal(err.code, 'IKC_ERR_BAD_SPEC', text);
          assert.match(err.message, why);
          return true;
        },
      );
    }
    assert.equal(isSpec('calc'), false);
    assert.equal(isSpec('poe://x/y'), true);
  });
});
