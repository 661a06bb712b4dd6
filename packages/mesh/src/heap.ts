/**
 * The heap policy a host kernel sets for its process. A kernel's live heap is small (tens of
 * MiB) while bulk data goes through it as Buffers: 64 KiB ArrayBuffers by the thousand per
 * second, dead within milliseconds. With V8's adaptive growth factor the old generation's
 * limit stays a few tens of MiB above that small live size, and after a while of such traffic
 * V8 starts incremental marking again as soon as each full GC ends: 50-90 mark-compacts per
 * GiB moved, half the kernel's CPU (measured in docs/performance.md; a raw ws client in the
 * same process suffers the same). A fixed growing factor of 5 (400 percent) keeps the limit
 * far enough above the live heap that those collections stop, at the cost of letting the old
 * generation reach five times what survived the last full GC before the next.
 *
 * V8 reads --heap-growing-percent whenever it recomputes its limits, so setting it once the
 * process runs takes effect from the next full GC on. It is process-wide: the last kernel to
 * start sets it.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flag that fixes the old generation's growth factor. */
const FLAG = '--heap-growing-percent';

/**
 * The flag to set for `percent`, or undefined to leave V8 alone: when node was started with
 * its own --heap-growing-percent, that choice stands (node refuses it in NODE_OPTIONS, so the
 * command line is the only place it can be).
 */
export function heapGrowthFlag(
  percent: number,
  execArgv: readonly string[] = process.execArgv,
): string | undefined {
  if (execArgv.some((arg) => arg.replace(/_/g, '-').startsWith(FLAG))) return undefined;
  return `${FLAG}=${Math.round(percent)}`;
}

let lastSet: string | undefined;

/** Sets the process's heap growth (0: V8's own adaptive policy). Returns the flag set, if any. */
export function setHeapGrowth(percent: number): string | undefined {
  const flag = heapGrowthFlag(percent);
  if (flag) {
    setFlagsFromString(flag);
    lastSet = flag;
  }
  return flag;
}

/** The heap-growth flag a kernel last set in this process, if any. */
export function heapGrowthSet(): string | undefined {
  return lastSet;
}
