/**
 * The receiving process of the remote benchmark: `node receiver.js ikc|ws|moleculer`.
 * Runs one system's server side with the sink (common.ts) behind it, then prints
 * `{"ready":{"address":...,"mem":...}}` on stdout and serves control commands (mem, gc)
 * on stdin until stdin closes.
 *
 * - ikc: a host kernel named `receiver` with a session `sink` publishing hit, echo, big,
 *   until and reset.
 * - ws: a raw `ws` server decoding msgpack (msgpackr `unpackMultiple`): POST frames
 *   `[32, seq, from, to, event, args]` run the sink's event; CALL frames
 *   `[33, seq, callId, from, to, event, args, timeoutMs]` are answered with
 *   `[34, seq, callId, value]` (or `[35, seq, callId, 0, error]`). The replies to the
 *   frames of one incoming message leave as one message.
 * - moleculer: a ServiceBroker (node `receiver`, TCP transporter, no UDP discovery) with
 *   a service `sink`: actions echo, big, until, reset, and an event handler `sink.hit`.
 */
import { silentLogger, startKernel } from '@ikc/mesh';
import { ServiceBroker } from 'moleculer';
import { Packr, Unpackr } from 'msgpackr';
import { WebSocketServer } from 'ws';
import {
  CLOUD,
  MOLECULER_MAX_PACKET,
  mem,
  RAW_CALL,
  RAW_ERROR,
  RAW_MAX_PAYLOAD,
  RAW_POST,
  RAW_REPLY,
  RECEIVER,
  SINK_EVENTS,
  Sink,
  send,
  serveControl,
} from './common.js';

const system = process.argv[2];
const sink = new Sink();

async function startIkc(): Promise<{ address: string; stop: () => Promise<void> }> {
  const kernel = await startKernel({
    kernel: { name: RECEIVER, listen: '127.0.0.1:0', socket: false },
    cloud: { name: CLOUD.name, secret: CLOUD.secret, seeds: [] },
    logger: silentLogger,
    processSignals: false,
    admin: false,
    sessions: [
      {
        alias: 'sink',
        publish: [...SINK_EVENTS],
        events: {
          hit: (_ctx, i: number) => sink.hit(i),
          echo: (_ctx, x: unknown) => sink.echo(x),
          big: (_ctx, data: unknown) => sink.big(data),
          until: (_ctx, n: number) => sink.until(n),
          reset: () => sink.reset(),
        },
      },
    ],
  });
  return { address: kernel.listenAddress as string, stop: () => kernel.stop() };
}

/**
 * IKC_BENCH_RAW_SPIN_US: microseconds of busy CPU the raw baseline's `echo` adds before it
 * answers (default 0). An experiment, not a measure: it shows how a few microseconds more
 * work per call move a pair's placement on a 2-vCPU VM (docs/performance.md, Latency).
 */
const RAW_SPIN_NS = BigInt(Math.round(Number(process.env.IKC_BENCH_RAW_SPIN_US ?? 0) * 1000));

function spin(): void {
  const until = process.hrtime.bigint() + RAW_SPIN_NS;
  while (process.hrtime.bigint() < until);
}

/** The raw baseline's dispatch: a session by name, then a handler by event name. */
const rawSessions = new Map<string, Record<string, (...args: never[]) => unknown>>([
  [
    'sink',
    {
      hit: (i: number) => sink.hit(i),
      echo: (x: unknown) => {
        if (RAW_SPIN_NS > 0n) spin();
        return sink.echo(x);
      },
      big: (data: unknown) => sink.big(data),
      until: (n: number) => sink.until(n),
      reset: () => sink.reset(),
    },
  ],
]);

function rawHandler(to: string, event: string): ((...args: unknown[]) => unknown) | undefined {
  return rawSessions.get(to)?.[event] as ((...args: unknown[]) => unknown) | undefined;
}

async function startWs(): Promise<{ address: string; stop: () => Promise<void> }> {
  const packr = new Packr({ useRecords: false });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: RAW_MAX_PAYLOAD,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  let seq = 0;
  server.on('connection', (ws) => {
    ws.binaryType = 'nodebuffer';
    const reply = (frame: unknown[]) => ws.send(packr.pack(frame));
    ws.on('message', (data: Buffer) => {
      const frames = unpackr.unpackMultiple(data) as unknown[][];
      let replies: Buffer[] | undefined;
      for (const f of frames) {
        if (f[0] === RAW_POST) {
          rawHandler(f[3] as string, f[4] as string)?.(...(f[5] as unknown[]));
          continue;
        }
        if (f[0] !== RAW_CALL) continue;
        const callId = f[2] as number;
        let value: unknown;
        try {
          const handler = rawHandler(f[4] as string, f[5] as string);
          if (!handler) throw new Error(`no handler for ${f[4]}/${f[5]}`);
          value = handler(...(f[6] as unknown[]));
        } catch (err) {
          reply([RAW_ERROR, ++seq, callId, 0, { message: String(err) }]);
          continue;
        }
        if (value instanceof Promise) {
          value.then((v) => reply([RAW_REPLY, ++seq, callId, v]));
          continue;
        }
        (replies ??= []).push(packr.pack([RAW_REPLY, ++seq, callId, value]));
      }
      if (replies === undefined) return;
      ws.send(replies.length === 1 ? (replies[0] as Buffer) : Buffer.concat(replies));
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}

async function startMoleculer(): Promise<{ address: string; stop: () => Promise<void> }> {
  const broker = new ServiceBroker({
    nodeID: RECEIVER,
    transporter: {
      type: 'TCP',
      options: { udpDiscovery: false, maxPacketSize: MOLECULER_MAX_PACKET },
    },
    logger: false,
    metrics: false,
    tracing: false,
  });
  broker.createService({
    name: 'sink',
    actions: {
      echo: (ctx) => sink.echo((ctx.params as { x: unknown }).x),
      big: (ctx) => sink.big((ctx.params as { data: unknown }).data),
      until: (ctx) => sink.until((ctx.params as { n: number }).n),
      reset: () => sink.reset(),
    },
    events: {
      'sink.hit': (ctx: { params: { i: number } }) => sink.hit(ctx.params.i),
    },
  });
  await broker.start();
  // The TCP transporter listens on a free port when given none, and keeps it in its options.
  const port = (broker.transit as unknown as { tx: { opts: { port: number } } }).tx.opts.port;
  return { address: `127.0.0.1:${port}`, stop: () => broker.stop() };
}

const starters = { ikc: startIkc, ws: startWs, moleculer: startMoleculer } as const;
const start = starters[system as keyof typeof starters];
if (!start) {
  process.stderr.write(`usage: receiver.js ikc|ws|moleculer (got ${system})\n`);
  process.exit(2);
}
const server = await start();
serveControl({ count: () => ({ count: sink.count, sum: sink.sum }) }, () => server.stop().catch(() => {}));
send({ ready: { system, address: server.address, pid: process.pid, mem: mem() } });
