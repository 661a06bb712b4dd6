/**
 * One run of the large-argument measure, in a fresh process so that its peak RSS is its
 * own: `node big-sender.js SYSTEM ADDRESS BYTES CALLS`. Connects to the receiver at
 * ADDRESS, makes one untimed call of `big(buffer of BYTES)` (warm-up), then CALLS more one
 * at a time, and prints `{"ready":{...}}` with the throughput, its memory, and the error if
 * the system refused the argument. Stays up (serving mem/gc) until stdin closes.
 */
import { clientFor } from './clients.js';
import { errorInfo, mem, type System, send, serveControl } from './common.js';

const [system, address, bytesArg, callsArg] = process.argv.slice(2);
const bytes = Number(bytesArg);
const calls = Number(callsArg);
const memReady = mem();
const client = await clientFor(system as System, address as string);
const memConnected = mem();
// Not all zeros, so nothing along the way can treat it as sparse or compress it.
const data = Buffer.alloc(bytes, 'ikc-bench ');

let result: object;
try {
  const check = (got: number) => {
    if (got !== bytes) throw new Error(`the receiver saw ${got} bytes, not ${bytes}`);
  };
  check(await client.big(data));
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) check(await client.big(data));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  result = { bytesPerSec: (bytes * calls) / seconds, callsPerSec: calls / seconds, seconds };
} catch (err) {
  result = { error: errorInfo(err) };
}
serveControl({}, () => client.close().catch(() => {}));
send({ ready: { ...result, memReady, memConnected, mem: mem() } });
