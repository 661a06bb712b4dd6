// The hand-written fast paths for hot frames must agree with the schema-driven reference:
// on any input they either return exactly what the reference returns, or decline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Frame } from '../src/frames.js';
import { FAST_PATHS, frameFromWire, fromWireGeneric, toWireGeneric } from '../src/positional.js';
import { sampleFrames } from './samples.js';

const ODD_VALUES: unknown[] = [
  undefined,
  null,
  'x',
  '',
  -1,
  1.5,
  2 ** 60,
  Number.NaN,
  [],
  {},
  true,
  7n,
  Buffer.alloc(1),
];

function attempt<T>(fn: () => T): T | 'threw' {
  try {
    return fn();
  } catch {
    return 'threw';
  }
}

/** Valid wire arrays for `frame`, and variants: each field odd, cut short, extended. */
function wireVariants(frame: Frame): unknown[][] {
  const wire = toWireGeneric(frame);
  const out: unknown[][] = [wire];
  for (let i = 1; i < wire.length; i++) {
    for (const odd of ODD_VALUES) {
      const v = [...wire];
      v[i] = odd;
      out.push(v);
    }
  }
  for (let n = 1; n < wire.length; n++) out.push(wire.slice(0, n));
  out.push([...wire, 'a newer field'], [...wire, undefined, null]);
  return out;
}

describe('fast paths', () => {
  const hot = sampleFrames().filter((f) => FAST_PATHS[f.type] !== undefined);

  it('exist for the hot messaging frames', () => {
    assert.deepEqual(
      hot.map((f) => f.type),
      [18, 32, 33, 34],
    );
  });

  for (const frame of hot) {
    const fast = FAST_PATHS[frame.type]!;

    it(`decode frame type ${frame.type} exactly as the reference, or decline`, () => {
      assert.notEqual(fast.fromWire(toWireGeneric(frame)), undefined, 'the fast path declined a valid frame');
      for (const v of wireVariants(frame)) {
        const reference = attempt(() => fromWireGeneric(v, 1));
        const quick = fast.fromWire(v);
        if (quick === undefined) continue;
        assert.notEqual(reference, 'threw', `fast path accepted ${String(v)}, the reference refused it`);
        assert.deepEqual(quick, reference);
        assert.deepEqual(frameFromWire(v, 1), reference);
      }
    });

    it(`encode frame type ${frame.type} exactly as the reference, or decline`, () => {
      assert.notEqual(fast.toWire(frame), undefined, 'the fast path declined a valid frame');
      const fields = Object.keys(frame).filter((k) => k !== 'type');
      const variants: Frame[] = [frame];
      for (const key of fields) {
        for (const odd of ODD_VALUES) variants.push({ ...frame, [key]: odd } as Frame);
        const without = { ...frame } as Record<string, unknown>;
        delete without[key];
        variants.push(without as unknown as Frame);
      }
      for (const v of variants) {
        const reference = attempt(() => toWireGeneric(v));
        const quick = fast.toWire(v);
        if (quick === undefined) continue;
        assert.notEqual(reference, 'threw', `fast path encoded ${JSON.stringify(v, (_, x) => String(x))}`);
        assert.deepEqual(quick, reference);
      }
    });
  }

  it("hand frames without the routing fields (an older peer's) to the reference, which fills in ''", () => {
    // [the wire array, the dest it decodes to]; origin is missing from all of them.
    const older: [unknown[], string][] = [
      [[32, 1, 'a', 'b', 'e', []], ''],
      [[32, 1, 'a', 'b', 'e', [], 'k2'], 'k2'],
      [[33, 1, 2, 'a', 'b', 'e', [], 0], ''],
      [[33, 1, 2, 'a', 'b', 'e', [], 0, 'k2'], 'k2'],
      [[34, 1, 2, 'v'], ''],
      [[34, 1, 2, 'v', 'k2'], 'k2'],
    ];
    for (const [wire, dest] of older) {
      const fast = FAST_PATHS[wire[0] as Frame['type']]!;
      assert.equal(fast.fromWire(wire), undefined, `the fast path took the short frame ${String(wire)}`);
      const frame = frameFromWire(wire, 1) as { dest?: string; origin?: string };
      assert.deepEqual(frame, fromWireGeneric(wire, 1));
      assert.equal(frame.dest, dest);
      assert.equal(frame.origin, '');
    }
  });

  it('take full-length frames, routing fields included', () => {
    const full: unknown[][] = [
      [32, 1, 'a', 'b', 'e', [], 'k2', 'k1'],
      [33, 1, 2, 'a', 'b', 'e', [], 0, 'k2', 'k1'],
      [34, 1, 2, 'v', 'k2', 'k1'],
    ];
    for (const wire of full) {
      const frame = FAST_PATHS[wire[0] as Frame['type']]!.fromWire(wire);
      assert.ok(frame !== undefined, `the fast path declined ${String(wire)}`);
      assert.deepEqual(frame, fromWireGeneric(wire, 1));
      assert.deepEqual(
        [(frame as { dest: string }).dest, (frame as { origin: string }).origin],
        ['k2', 'k1'],
      );
    }
  });

  it('never index the table with a peer-chosen string', () => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.throws(() => frameFromWire([type, 1], 1), {
        name: 'WireError',
        code: 'IKC_ERR_FRAME_MALFORMED',
      });
    }
  });
});
