// The heap policy a host kernel sets for its process (heap.ts): which flag, when node was
// not told otherwise, and that startKernel() sets it (in a child process: it is process-wide).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { heapGrowthFlag } from '../src/heap.js';

const MESH = fileURLToPath(new URL('../src/index.js', import.meta.url));

/** What heapGrowthSet() says after startKernel() in a fresh node, run with `nodeArgs`. */
function setByKernel(kernel: Record<string, unknown>, nodeArgs: string[] = []): string {
  const script = `
    const { startKernel, heapGrowthSet, silentLogger } = await import(${JSON.stringify(MESH)});
    const before = heapGrowthSet();
    const k = await startKernel({ kernel: { listen: false, socket: false, ...${JSON.stringify(kernel)} },
      logger: silentLogger, processSignals: false, admin: false });
    await k.stop();
    console.log(JSON.stringify({ before: before ?? null, after: heapGrowthSet() ?? null }));`;
  return execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], {
    env: { ...process.env, NODE_OPTIONS: '' },
    encoding: 'utf8',
  }).trim();
}

describe('heap growth', () => {
  it('is a fixed --heap-growing-percent, 0 giving V8 its own policy back', () => {
    assert.equal(heapGrowthFlag(400, []), '--heap-growing-percent=400');
    assert.equal(heapGrowthFlag(0, []), '--heap-growing-percent=0');
  });

  it("leaves node's own --heap-growing-percent on its command line alone", () => {
    assert.equal(heapGrowthFlag(400, ['--heap-growing-percent=150']), undefined);
    assert.equal(heapGrowthFlag(400, ['--heap_growing_percent=150']), undefined);
    assert.equal(heapGrowthFlag(400, ['--max-old-space-size=512']), '--heap-growing-percent=400');
  });

  it('is set by startKernel(): 400 by default, or as configured', () => {
    assert.equal(setByKernel({}), '{"before":null,"after":"--heap-growing-percent=400"}');
    assert.equal(
      setByKernel({ heapGrowingPercent: 0 }),
      '{"before":null,"after":"--heap-growing-percent=0"}',
    );
    assert.equal(setByKernel({}, ['--heap-growing-percent=150']), '{"before":null,"after":null}');
  });

  it('refuses a bad kernel.heapGrowingPercent given to startKernel(), naming it', () => {
    assert.throws(
      () => setByKernel({ heapGrowingPercent: -5 }),
      (err: Error & { stderr?: string }) =>
        /kernel\.heapGrowingPercent must be a whole number >= 0, got -5/.test(String(err.stderr)),
    );
  });
});
