import { FakeClock, Kernel, type KernelOptions, type MonitorEvent } from '../src/index.js';

/** A kernel for tests: fake clock, no process signal handlers, unhandled errors collected. */
export function testKernel(options: KernelOptions = {}): {
  kernel: Kernel;
  clock: FakeClock;
  unhandled: MonitorEvent[];
} {
  const clock = new FakeClock();
  const unhandled: MonitorEvent[] = [];
  const kernel = new Kernel({
    name: 'test',
    clock,
    processSignals: false,
    onUnhandledError: (e) => unhandled.push(e),
    ...options,
  });
  return { kernel, clock, unhandled };
}
