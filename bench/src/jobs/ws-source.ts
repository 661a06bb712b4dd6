/**
 * The raw baseline of the remote job's stdout, in a process of its own: `node ws-source.js`.
 * A `ws` server (no compression): each text message on a connection is a JSON argv; the
 * server spawns it and sends its stdout's chunks, as they come, as binary messages on that
 * connection, then a text message `{"end":exitCode}`. It stops reading the pipe while more
 * than HIGH_WATER bytes wait in the connection's buffer (the ikc side's credit window), so
 * neither side holds more than a window. A text message that is a JSON number comes back as
 * it is (the raw round trip). Prints `{"ready":{"address":...}}` and serves control commands
 * (remote/common.ts; `firstByte` times a spawn of its own, from spawn() to the first chunk)
 * until stdin closes.
 */
import { type StdioOptions, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { WebSocketServer } from 'ws';
import { mem, send, serveControl } from '../remote/common.js';
import { afterIdle, ECHO_ARGV, probeCommands } from './common.js';

/** Bytes buffered on the connection before the pipe is paused (ikc's CHANNEL_WINDOW). */
const HIGH_WATER = 1024 * 1024;

/** The child's stdio, for a job of the client's and for a spawn timed here alike. */
const STDIO: StdioOptions = ['ignore', 'pipe', 'inherit'];

/** ms from spawn() of the first-byte job to its first stdout chunk here, once it has ended. */
async function firstByte(): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(ECHO_ARGV[0] as string, ECHO_ARGV.slice(1), { stdio: STDIO });
  const out = child.stdout as Readable;
  await new Promise((resolve) => out.once('data', resolve));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  out.resume();
  await new Promise((resolve) => child.once('close', resolve));
  return ms;
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await new Promise<void>((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});

server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = String(data);
    const argv = JSON.parse(text) as string[] | number;
    if (typeof argv === 'number') return ws.send(text);
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: STDIO });
    const out = child.stdout as Readable;
    const sent = () => {
      if (out.isPaused() && ws.bufferedAmount < HIGH_WATER) out.resume();
    };
    out.on('data', (chunk: Buffer) => {
      ws.send(chunk, sent);
      if (ws.bufferedAmount >= HIGH_WATER) out.pause();
    });
    let error: string | undefined;
    child.once('error', (err) => {
      error = err.message;
    });
    child.once('close', (code) => ws.send(JSON.stringify({ end: code, error })));
  });
});

const port = (server.address() as { port: number }).port;
serveControl({ ...probeCommands, firstByte: afterIdle(firstByte) }, async () => {
  for (const c of server.clients) c.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
send({ ready: { address: `127.0.0.1:${port}`, pid: process.pid, mem: mem() } });
