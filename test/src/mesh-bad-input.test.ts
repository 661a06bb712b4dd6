// A real kernel process fed bad and hostile input on one link: each case must close (or,
// for a flood of calls, throttle) only the offending link, with a clear error logged, while
// the kernel and its other links go on. Two well-behaved connections watch throughout: a
// leaf kernel attached over the UNIX socket and a raw host peer over TCP; after every case
// both still get correct answers from poe://victim/calc/add, and the process is still up.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attach, type MeshKernel, silentLogger } from '@ikc/mesh';
import {
  CHUNK_BYTES,
  type ErrorFrame,
  encodeChunk,
  encodeFrame,
  FrameType,
  helloFrame,
  MAX_MESSAGE_BYTES,
} from '@ikc/wire';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';
import { type LogLine, logLines, nestedArrays, RawPeer, spliceRaw } from './harness/raw-peer.js';

const cloud = { name: 'bad-input', secret: 'bad-input cloud secret' };
const NAME = 'victim';
/** What a raw peer needs to pass the handshake. */
const member = { cloud: cloud.name, secret: cloud.secret };
/** pino's level number for warn: a link closed for bad input is at least a warning. */
const WARN = 40;
const MAX_INFLIGHT = 50;
/** The victim's mesh.maxMessageBytes: the largest chunked message it takes. */
const MAX_CHUNKED = 32 * 1024 * 1024;

describe('a kernel process fed bad input closes only the offending link', () => {
  let kernel: KernelProc;
  let leaf: MeshKernel;
  let bystander: RawPeer;
  const dir = socketDir();
  const peers: RawPeer[] = [];

  /** A raw ws to the kernel, closed by after(). */
  async function open(): Promise<RawPeer> {
    const peer = await RawPeer.open(kernel.listen);
    peers.push(peer);
    return peer;
  }

  /** A raw peer that has done a full, correct handshake (a host kernel of the cloud). */
  async function linked(): Promise<RawPeer> {
    const peer = await RawPeer.connect(kernel.listen, member);
    peers.push(peer);
    return peer;
  }

  /** Where the kernel's log is now: lines after this mark are the case's. */
  const mark = () => kernel.stderr().length;
  const logsSince = (at: number): LogLine[] => logLines(kernel.stderr().slice(at));

  /** Waits for the kernel to log a warning (or worse) with err.code `code` after `at`. */
  async function loggedError(at: number, code: string): Promise<LogLine> {
    let line: LogLine | undefined;
    await eventually(
      () => (line = logsSince(at).find((l) => l.err?.code === code && l.level >= WARN)) !== undefined,
      3_000,
      `a logged ${code} from the kernel; its log since the case began:\n${kernel.stderr().slice(at)}`,
    );
    return line as LogLine;
  }

  /**
   * The offending link was refused with `code` (REFUSE frame) and closed with the documented
   * ws close code (docs/protocol.md, Link lifetime): 1002 for codec errors, 1008 otherwise.
   */
  async function refusedAndClosed(peer: RawPeer, code: string, closeCode: 1002 | 1008): Promise<void> {
    const closed = await peer.waitClose(3_000);
    assert.equal(peer.refuse?.code, code, `REFUSE code (frames: ${peer.frames.map((r) => r.frame.type)})`);
    assert.ok(peer.refuse?.message, 'the REFUSE says why');
    assert.equal(closed.code, closeCode, `ws close code (reason "${closed.reason}")`);
    assert.equal(closed.reason, code, 'the close reason is the error code');
  }

  /** The kernel is up and both good connections still get correct answers. */
  async function stillServing(): Promise<void> {
    assert.equal(kernel.child.exitCode, null, `the kernel process exited; stderr:\n${kernel.stderr()}`);
    assert.equal(kernel.child.signalCode, null);
    assert.equal(await leaf.callWith({ timeoutMs: 3_000 }, `poe://${NAME}/calc/add`, 20, 22), 42);
    assert.ok(bystander.isOpen, 'the bystander raw peer is still linked');
    assert.equal(await bystander.callAndWait('calc', 'add', [1, 2], 3_000), 3);
  }

  before(async () => {
    kernel = await startKernelProc({
      kernel: { name: NAME, listen: '127.0.0.1:0', socket: join(dir, 'v.sock') },
      cloud,
      sessions: ['./calc.js'],
      mesh: { maxInflightCalls: MAX_INFLIGHT, maxMessageBytes: MAX_CHUNKED },
    });
    leaf = await attach({
      socket: kernel.socket,
      name: 'good-leaf',
      cloud,
      logger: silentLogger,
      processSignals: false,
    });
    bystander = await RawPeer.connect(kernel.listen, { ...member, kernelName: 'bystander' });
    await stillServing();
  });

  after(async () => {
    await Promise.all([...peers, bystander].filter(Boolean).map((p) => p.close()));
    await leaf?.stop();
    await kernel?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('garbage bytes (not msgpack) before the handshake: IKC_ERR_FRAME_MALFORMED, link closed', async () => {
    const at = mark();
    const peer = await open();
    peer.send(Buffer.from('GET / HTTP/1.1\r\n\r\n not msgpack at all \xc1\xc1'));
    await refusedAndClosed(peer, 'IKC_ERR_FRAME_MALFORMED', 1002);
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_FRAME_MALFORMED');
    assert.match(line.msg, /link closed/);
  });

  it('truncated msgpack after a valid handshake: IKC_ERR_FRAME_TRUNCATED, link closed', async () => {
    const at = mark();
    const peer = await linked();
    // A POST that promises 8 fields and stops after two.
    peer.send(Buffer.from([0x98, FrameType.Post, 0x01]));
    await refusedAndClosed(peer, 'IKC_ERR_FRAME_TRUNCATED', 1002);
    await stillServing();
    await loggedError(at, 'IKC_ERR_FRAME_TRUNCATED');
  });

  it('an unknown frame type number: IKC_ERR_FRAME_TYPE, link closed', async () => {
    const at = mark();
    const peer = await linked();
    peer.send(Buffer.from([0x92, 99, 0x00])); // [99, 0]: 99 is no frame type
    await refusedAndClosed(peer, 'IKC_ERR_FRAME_TYPE', 1002);
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_FRAME_TYPE');
    assert.match(line.err?.message ?? '', /99/, 'the log names the unknown type');
  });

  it('a message over maxMessageBytes before the handshake: closed with 1009 and logged', async () => {
    const at = mark();
    const peer = await open();
    peer.send(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x90));
    const closed = await peer.waitClose(5_000);
    assert.equal(closed.code, 1009, `close code (reason "${closed.reason}")`);
    await stillServing();
    // The kernel must say, in its log, that it cut a link for an oversized message.
    await eventually(
      () =>
        logsSince(at).some(
          (l) =>
            l.level >= WARN &&
            (l.err?.code === 'IKC_ERR_FRAME_TOO_LARGE' || /1009|exceeds|too large/i.test(JSON.stringify(l))),
        ),
      3_000,
      `a logged warning about the oversized message; log since the case began:\n${kernel.stderr().slice(at)}`,
    );
  });

  it('a message over maxMessageBytes after a valid handshake: 1009, logged as a warning, not as a drop', async () => {
    const at = mark();
    const peer = await linked();
    peer.send(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x90));
    const closed = await peer.waitClose(5_000);
    assert.equal(closed.code, 1009, `close code (reason "${closed.reason}")`);
    await stillServing();
    // A peer that breaks the size limit is not a network blip: the log must be a warning
    // (like every other bad-input close), not the info-level "link down" of an ordinary drop.
    await eventually(
      () => logsSince(at).some((l) => l.msg === 'link down'),
      3_000,
      'the link to go down in the log',
    );
    const warned = logsSince(at).filter(
      (l) =>
        l.level >= WARN &&
        (l.err?.code === 'IKC_ERR_FRAME_TOO_LARGE' || /1009|exceeds|too large/i.test(JSON.stringify(l))),
    );
    assert.ok(
      warned.length > 0,
      `no warning about the oversized message; log since the case began:\n${kernel.stderr().slice(at)}`,
    );
  });

  it('a text ws message: closed with 1003 and logged', async () => {
    const at = mark();
    const peer = await open();
    peer.send('{"type":"HELLO"}');
    const closed = await peer.waitClose(3_000);
    assert.equal(closed.code, 1003, `close code (reason "${closed.reason}")`);
    await stillServing();
    await eventually(
      () => logsSince(at).some((l) => l.level >= WARN && /1003|text message/i.test(JSON.stringify(l))),
      3_000,
      `a logged warning about the text message; log since the case began:\n${kernel.stderr().slice(at)}`,
    );
  });

  it('a POST as the first frame, before any handshake: IKC_ERR_PROTOCOL', async () => {
    const at = mark();
    const peer = await open();
    peer.send({
      type: FrameType.Post,
      seq: 1,
      from: 'intruder.1',
      to: 'calc',
      event: 'add',
      args: [1, 2],
      dest: '',
      origin: '',
    });
    await refusedAndClosed(peer, 'IKC_ERR_PROTOCOL', 1008);
    assert.equal(peer.framesOf(FrameType.Reply).length, 0, 'the POST was not delivered');
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_PROTOCOL');
    assert.match(line.err?.message ?? '', /POST before the handshake/);
  });

  it('a CALL before the handshake is not answered: IKC_ERR_PROTOCOL', async () => {
    const at = mark();
    const peer = await open();
    peer.call('calc', 'add', [1, 2]);
    await refusedAndClosed(peer, 'IKC_ERR_PROTOCOL', 1008);
    assert.equal(peer.framesOf(FrameType.Reply).length, 0, 'an unauthenticated CALL got a REPLY');
    await stillServing();
    await loggedError(at, 'IKC_ERR_PROTOCOL');
  });

  it('a second HELLO after the handshake: IKC_ERR_PROTOCOL', async () => {
    const at = mark();
    const peer = await linked();
    peer.send(helloFrame({ cloud: cloud.name, kernelId: peer.kernelId, kernelName: peer.kernelName }));
    await refusedAndClosed(peer, 'IKC_ERR_PROTOCOL', 1008);
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_PROTOCOL');
    assert.match(line.err?.message ?? '', /HELLO after the handshake/);
  });

  it('deeply nested args in a POST after a valid handshake: IKC_ERR_FRAME_TOO_DEEP, link closed', async () => {
    const at = mark();
    const peer = await linked();
    const valid = encodeFrame({
      type: FrameType.Post,
      seq: 1,
      from: peer.sessionId,
      to: 'calc',
      event: 'record',
      args: ['@@DEEP@@'],
      dest: '',
      origin: '',
    });
    // 5000 levels: far past MAX_DEPTH (64) and HARD_MAX_DEPTH (512); a recursive decoder would blow its stack.
    peer.send(spliceRaw(valid, '@@DEEP@@', nestedArrays(5_000)));
    await refusedAndClosed(peer, 'IKC_ERR_FRAME_TOO_DEEP', 1002);
    await stillServing();
    await loggedError(at, 'IKC_ERR_FRAME_TOO_DEEP');
  });

  it('chunks out of order (a gap): IKC_ERR_PROTOCOL, link closed', async () => {
    const at = mark();
    const peer = await linked();
    const piece = Buffer.alloc(CHUNK_BYTES, 1);
    peer.send(encodeChunk(1, 3 * CHUNK_BYTES, 0, piece));
    peer.send(encodeChunk(1, 3 * CHUNK_BYTES, 2 * CHUNK_BYTES, piece));
    await refusedAndClosed(peer, 'IKC_ERR_PROTOCOL', 1002);
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_PROTOCOL');
    assert.match(line.err?.message ?? '', /CHUNK: message 1 piece at offset 2097152, expected 1048576/);
  });

  it('a POST between the pieces of a chunked message: IKC_ERR_PROTOCOL, link closed', async () => {
    const peer = await linked();
    peer.send(encodeChunk(1, 2 * CHUNK_BYTES, 0, Buffer.alloc(CHUNK_BYTES, 1)));
    peer.post('calc', 'record', [1]);
    await refusedAndClosed(peer, 'IKC_ERR_PROTOCOL', 1008);
    await stillServing();
  });

  it('a chunked message announced over mesh.maxMessageBytes: IKC_ERR_MESSAGE_TOO_LARGE at its first piece', async () => {
    const at = mark();
    const peer = await linked();
    // 4 GiB announced: refused before anything is allocated for it.
    peer.send(encodeChunk(1, 2 ** 32, 0, Buffer.alloc(16, 1)));
    await refusedAndClosed(peer, 'IKC_ERR_MESSAGE_TOO_LARGE', 1002);
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_MESSAGE_TOO_LARGE');
    assert.match(line.err?.message ?? '', new RegExp(`exceeds maxMessageBytes \\(${MAX_CHUNKED}\\)`));
  });

  it('a chunked message that is not a valid frame once whole: IKC_ERR_FRAME_MALFORMED, link closed', async () => {
    const peer = await linked();
    const garbage = Buffer.alloc(CHUNK_BYTES + 10, 0xc1);
    peer.send(encodeChunk(1, garbage.length, 0, garbage.subarray(0, CHUNK_BYTES)));
    peer.send(encodeChunk(1, garbage.length, CHUNK_BYTES, garbage.subarray(CHUNK_BYTES)));
    await refusedAndClosed(peer, 'IKC_ERR_FRAME_MALFORMED', 1002);
    await stillServing();
  });

  it('a REGISTRY with malformed sessions: IKC_ERR_PROTOCOL, link closed, nothing registered', async () => {
    const at = mark();
    const peer = await linked();
    peer.send({
      type: FrameType.Registry,
      kernelId: peer.kernelId,
      kernelName: peer.kernelName,
      version: 1,
      state: 'up',
      sessions: [
        [`${peer.kernelId}.1`, ['evil'], ['x']],
        [42, 'not-a-list', null],
      ],
      role: 'host',
    });
    await refusedAndClosed(peer, 'IKC_ERR_PROTOCOL', 1008);
    await stillServing();
    const line = await loggedError(at, 'IKC_ERR_PROTOCOL');
    assert.match(line.err?.message ?? '', /REGISTRY/);
    // Not even the well-formed first entry was taken: the kernel never saw the peer as a kernel.
    assert.ok(
      !kernel.stdout().includes(`"kernel":"${peer.kernelName}"`),
      `the bad registry was applied:\n${kernel.stdout()}`,
    );
    await assert.rejects(leaf.callWith({ timeoutMs: 1_000 }, `poe://${peer.kernelName}/evil/x`), {
      code: 'IKC_ERR_UNREACHABLE',
    });
  });

  it(`a flood of calls is throttled: ${MAX_INFLIGHT} in flight, the rest IKC_ERR_OVERLOADED at once; others unaffected`, async () => {
    const peer = await linked();
    const total = 500;
    const slowMs = 800;
    const sentAt = peer.elapsed();
    const ids: number[] = [];
    for (let i = 0; i < total; i++) ids.push(peer.call('calc', 'slow', [slowMs, i]));

    // The good connections are answered during the flood, long before the slow calls end.
    const t0 = Date.now();
    assert.equal(await leaf.callWith({ timeoutMs: 3_000 }, `poe://${NAME}/calc/add`, 2, 3), 5);
    assert.equal(await bystander.callAndWait('calc', 'add', [3, 4], 3_000), 7);
    assert.ok(Date.now() - t0 < slowMs, `other links waited ${Date.now() - t0} ms during the flood`);

    const answers = await Promise.all(ids.map((id) => peer.answer(id, 5_000)));
    const at = (callId: number) =>
      peer.frames.find(
        (r) =>
          (r.frame.type === FrameType.Reply || r.frame.type === FrameType.Error) && r.frame.callId === callId,
      )?.at as number;
    const replies = answers.filter((a) => a.type === FrameType.Reply);
    const refused = answers.filter((a): a is ErrorFrame => a.type === FrameType.Error);
    assert.equal(replies.length, MAX_INFLIGHT, 'replies');
    assert.equal(refused.length, total - MAX_INFLIGHT, 'refusals');
    // The first MAX_INFLIGHT calls were admitted and answered with their own value.
    for (const a of replies) {
      assert.ok(a.type === FrameType.Reply && a.callId <= MAX_INFLIGHT, `call ${a.callId} was admitted`);
      assert.equal(a.value, a.callId - 1);
    }
    for (const e of refused) {
      assert.equal(e.error.code, 'IKC_ERR_OVERLOADED');
      assert.match(e.error.message, new RegExp(`${MAX_INFLIGHT} calls in flight`));
    }
    // Refusals come at once, not after the admitted calls finish.
    const lastRefusal = Math.max(...refused.map((e) => at(e.callId)));
    const firstReply = Math.min(...replies.map((r) => at(r.callId)));
    assert.ok(
      lastRefusal - sentAt < slowMs,
      `the last refusal came ${lastRefusal - sentAt} ms after the flood`,
    );
    assert.ok(lastRefusal < firstReply, 'every refusal came before the first slow reply');
    assert.ok(firstReply - sentAt >= slowMs - 50, 'slow calls really ran');

    // Throttled, not closed: once the admitted calls are done, the same link is served again.
    assert.ok(peer.isOpen, 'the flooding link is still open');
    assert.equal(peer.refuse, undefined);
    assert.equal(await peer.callAndWait('calc', 'add', [40, 2], 3_000), 42);
    await stillServing();
  });

  it('a flood is logged by the kernel (once or a few times, not once per refused call)', async () => {
    const at = mark();
    const peer = await linked();
    const ids: number[] = [];
    for (let i = 0; i < MAX_INFLIGHT * 3; i++) ids.push(peer.call('calc', 'slow', [200, i]));
    await Promise.all(ids.map((id) => peer.answer(id, 5_000)));
    await stillServing();
    const lines = logsSince(at).filter(
      (l) => l.level >= WARN && /OVERLOADED|in flight/.test(JSON.stringify(l)),
    );
    assert.ok(lines.length >= 1, `the kernel logged nothing about ${MAX_INFLIGHT * 2} refused calls`);
    assert.ok(lines.length <= 10, `the kernel logged ${lines.length} lines for one flood`);
  });
});
