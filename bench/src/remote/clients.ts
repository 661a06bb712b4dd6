/**
 * The sending side of each system, behind one interface, so every measure drives ikc, raw
 * ws and Moleculer with the same loop.
 */
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { ServiceBroker } from 'moleculer';
import { Packr, Unpackr } from 'msgpackr';
import { WebSocket } from 'ws';
import {
  CLOUD,
  MOLECULER_MAX_PACKET,
  RAW_CALL,
  RAW_ERROR,
  RAW_MAX_PAYLOAD,
  RAW_POST,
  RAW_REPLY,
  RECEIVER,
  type System,
} from './common.js';

export interface Client {
  /** One-way events `hit(i)` for i = from .. from + n - 1, sent now (no waiting). */
  post(from: number, n: number): void;
  /** Resolves with the receiver's count once it has counted n hits since the last reset. */
  until(n: number): Promise<number>;
  /** Zeroes the receiver's count. */
  reset(): Promise<number>;
  /**
   * The system's own flow control, if it has any: resolves when the sender may go on
   * posting. The post loop awaits it after every burst.
   */
  ready?(): Promise<void>;
  echo(x: number): Promise<unknown>;
  /** Resolves with the byte length the receiver saw. */
  big(data: Buffer): Promise<number>;
  close(): Promise<void>;
}

// ---- ikc --------------------------------------------------------------------------------

/**
 * Two ways of naming the remote session: a `poe://receiver/sink/EVENT` specifier on every
 * post and call (parsed each time), or a proxy resolved once (`k.resolve('poe://receiver/sink')`).
 */
export type IkcTarget = 'specifier' | 'proxy';

export interface IkcSender {
  kernel: MeshKernel;
  client(target: IkcTarget): Promise<Client>;
  close(): Promise<void>;
}

export async function ikcSender(address: string, name = 'sender'): Promise<IkcSender> {
  const kernel = await startKernel({
    kernel: { name, listen: '127.0.0.1:0', socket: false },
    cloud: { name: CLOUD.name, secret: CLOUD.secret, seeds: [address] },
    logger: silentLogger,
    processSignals: false,
    admin: false,
  });
  const base = `poe://${RECEIVER}/sink`;
  // The mesh's send buffer: `kernel.ready(target)` resolves once the unacknowledged bytes
  // to that kernel are below mesh.sendBufferBytes. Looked up by name, so the benchmark still
  // builds against a kernel without it (then posts are not paced).
  const ready = (kernel as unknown as { ready?: (target: unknown) => Promise<void> }).ready;
  return {
    kernel,
    async client(target: IkcTarget): Promise<Client> {
      const close = async () => {};
      if (target === 'proxy') {
        const sink = await kernel.resolve(base);
        return {
          ...(ready ? { ready: () => ready.call(kernel, sink) } : {}),
          post(from, n) {
            for (let i = from; i < from + n; i++) kernel.post(sink, 'hit', i);
          },
          until: (n) => kernel.call(sink, 'until', n),
          reset: () => kernel.call(sink, 'reset'),
          echo: (x) => kernel.call(sink, 'echo', x),
          big: (data) => kernel.call(sink, 'big', data),
          close,
        };
      }
      const hit = `${base}/hit`;
      const echo = `${base}/echo`;
      return {
        ...(ready ? { ready: () => ready.call(kernel, base) } : {}),
        post(from, n) {
          for (let i = from; i < from + n; i++) kernel.post(hit, i);
        },
        until: (n) => kernel.call(`${base}/until`, n),
        reset: () => kernel.call(`${base}/reset`),
        echo: (x) => kernel.call(echo, x),
        big: (data) => kernel.call(`${base}/big`, data),
        close,
      };
    },
    async close() {
      // Let the receiver's last ACKs arrive (it sends them within 10 ms), so stopping does
      // not report delivered posts as undelivered.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await kernel.stop();
    },
  };
}

// ---- raw ws + msgpackr --------------------------------------------------------------------

/**
 * `single`: one frame per ws message. `batched`: posts go out RAW_BATCH frames per message
 * (msgpackr frames concatenated), and calls made in one turn of the event loop leave together
 * at the next microtask, as the ikc link batches them.
 */
export type WsMode = 'single' | 'batched';

/** Frames per ws message when the raw baseline batches posts. */
export const RAW_BATCH = 64;

export async function wsClient(address: string, mode: WsMode): Promise<Client> {
  const packr = new Packr({ useRecords: false });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
  const ws = new WebSocket(`ws://${address}`, { perMessageDeflate: false, maxPayload: RAW_MAX_PAYLOAD });
  ws.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on('message', (data: Buffer) => {
    for (const f of unpackr.unpackMultiple(data) as unknown[][]) {
      const p = pending.get(f[2] as number);
      if (!p) continue;
      pending.delete(f[2] as number);
      if (f[0] === RAW_REPLY) p.resolve(f[3]);
      else if (f[0] === RAW_ERROR) p.reject(new Error((f[4] as { message: string }).message));
    }
  });
  ws.on('close', () => {
    for (const p of pending.values()) p.reject(new Error('raw ws connection closed'));
    pending.clear();
  });

  let seq = 0;
  let callId = 0;
  let queued: Buffer[] = [];
  const flush = () => {
    const parts = queued;
    queued = [];
    ws.send(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
  };
  const sendFrame =
    mode === 'single'
      ? (frame: unknown[]) => ws.send(packr.pack(frame))
      : (frame: unknown[]) => {
          if (queued.push(packr.pack(frame)) === 1) queueMicrotask(flush);
        };
  const call = <T>(event: string, args: unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++callId;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      sendFrame([RAW_CALL, ++seq, id, 'bench', 'sink', event, args, 0]);
    });

  return {
    post:
      mode === 'single'
        ? (from, n) => {
            for (let i = from; i < from + n; i++)
              ws.send(packr.pack([RAW_POST, ++seq, 'bench', 'sink', 'hit', [i]]));
          }
        : (from, n) => {
            const end = from + n;
            for (let i = from; i < end; ) {
              const stop = Math.min(end, i + RAW_BATCH);
              const parts: Buffer[] = [];
              for (; i < stop; i++) parts.push(packr.pack([RAW_POST, ++seq, 'bench', 'sink', 'hit', [i]]));
              ws.send(Buffer.concat(parts));
            }
          },
    until: (n) => call('until', [n]),
    reset: () => call('reset', []),
    echo: (x) => call('echo', [x]),
    big: (data) => call('big', [data]),
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
}

// ---- Moleculer ----------------------------------------------------------------------------

export async function moleculerClient(address: string, nodeID = 'sender'): Promise<Client> {
  const broker = new ServiceBroker({
    nodeID,
    transporter: {
      type: 'TCP',
      options: {
        udpDiscovery: false,
        urls: `${address}/${RECEIVER}`,
        maxPacketSize: MOLECULER_MAX_PACKET,
      },
    },
    logger: false,
    metrics: false,
    tracing: false,
  });
  await broker.start();
  await broker.waitForServices('sink', 30_000);
  return {
    post(from, n) {
      for (let i = from; i < from + n; i++) void broker.emit('sink.hit', { i });
    },
    until: (n) => broker.call('sink.until', { n }),
    reset: () => broker.call('sink.reset'),
    echo: (x) => broker.call('sink.echo', { x }),
    big: (data) => broker.call('sink.big', { data }),
    close: () => broker.stop(),
  };
}

/** A client of `system` (ikc by specifier, raw ws one frame per message). */
export async function clientFor(system: System, address: string): Promise<Client> {
  if (system === 'ws') return wsClient(address, 'single');
  if (system === 'moleculer') return moleculerClient(address);
  const sender = await ikcSender(address);
  const client = await sender.client('specifier');
  return { ...client, close: () => sender.close() };
}
