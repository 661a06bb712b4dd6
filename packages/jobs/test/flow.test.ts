import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { CHANNEL_WINDOW, CHUNKS_PER_POST, Inflow, MAX_CHANNEL_WINDOW, Outflow } from '../src/flow.js';

const CHUNK = 64 * 1024;

/**
 * A writer that sends CHUNK-sized pieces while it has credit, a burst per turn of the event
 * loop (as chunks come off a link), into an Inflow whose sink `read` drains. Returns the most
 * bytes that were ever sent and not yet taken, and the widest window the writer was given.
 */
async function stream(total: number, read: (sink: PassThrough, took: (n: number) => void) => Promise<void>) {
  const sink = new PassThrough();
  let credit = CHANNEL_WINDOW;
  let granted = 0;
  let sent = 0;
  let taken = 0;
  let inFlight = 0;
  /** The widest window the writer was given: its credit in all, less what the reader took. */
  let window = CHANNEL_WINDOW;
  const inflow = new Inflow(sink, (n) => {
    credit += n;
    granted += n;
    window = Math.max(window, CHANNEL_WINDOW + granted - taken);
  });
  const reading = read(sink, (n) => {
    taken += n;
  });
  while (sent < total) {
    while (credit > 0 && sent < total) {
      inflow.data(Buffer.alloc(CHUNK));
      credit -= CHUNK;
      sent += CHUNK;
      inFlight = Math.max(inFlight, sent - taken);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  inflow.eof();
  await reading;
  return { inFlight, window, taken };
}

describe('channel flow control (Inflow)', () => {
  it('widens the window, up to MAX_CHANNEL_WINDOW, while the reader keeps up', async () => {
    const total = 64 * 1024 * 1024;
    const { window, taken } = await stream(total, async (sink, took) => {
      sink.on('data', (chunk: Buffer) => took(chunk.length));
      await new Promise((resolve) => sink.once('end', resolve));
    });
    assert.equal(taken, total);
    assert.equal(window, MAX_CHANNEL_WINDOW);
  });

  it('keeps a slow reader at CHANNEL_WINDOW', async () => {
    const total = 16 * 1024 * 1024;
    const { window, taken, inFlight } = await stream(total, async (sink, took) => {
      // Takes half a chunk now and then: data always finds something still waiting for it.
      let ended = false;
      sink.once('end', () => {
        ended = true;
      });
      while (!ended) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        const chunk = sink.read(CHUNK / 2) as Buffer | null;
        if (chunk) took(chunk.length);
        else if (sink.readableLength > 0)
          took((sink.read() as Buffer).length); // the tail
        else sink.read(); // lets 'end' come once the writer is done
      }
    });
    assert.equal(taken, total);
    // (Measured against what this reader took, the window looks up to the sink's buffer
    // wider than it is; a widening would double it.)
    assert.ok(window < CHANNEL_WINDOW + CHUNK, `the window widened to ${window} bytes for a slow reader`);
    assert.ok(inFlight <= CHANNEL_WINDOW, `${inFlight} bytes in flight, over the window`);
    assert.ok(
      inFlight > CHANNEL_WINDOW / 2,
      `only ${inFlight} bytes in flight: the writer never filled the window`,
    );
  });
});

describe('channel flow control (Outflow)', () => {
  it('sends the chunks read in one turn as one post (the first at once), in order, and the end after them', async () => {
    const source = new PassThrough();
    const posts: Buffer[][] = [];
    const seen: string[] = [];
    new Outflow(source, {
      data: (chunks) => {
        posts.push(chunks);
        seen.push(`data ${chunks.length}`);
      },
      eof: () => seen.push('eof'),
      ready: () => Promise.resolve(),
    });
    // One turn: more chunks than a post takes.
    for (let i = 0; i < CHUNKS_PER_POST + 3; i++) source.write(Buffer.from([i]));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // The next turn: two more, then the end, which first sends what is pending.
    source.write(Buffer.from([100]));
    source.write(Buffer.from([101]));
    source.end();
    await new Promise((resolve) => source.once('end', resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // The first chunk found the channel quiet and went at once; the turn read more, so the
    // next turn's chunks all wait for its end.
    assert.deepEqual(seen, ['data 1', `data ${CHUNKS_PER_POST}`, 'data 2', 'data 2', 'eof']);
    const bytes = posts.flat().map((b) => b[0]);
    assert.deepEqual(bytes, [...Array.from({ length: CHUNKS_PER_POST + 3 }, (_, i) => i), 100, 101]);
  });

  it('sends a chunk that finds the channel quiet at once, and batches while a stream flows', async () => {
    const source = new PassThrough();
    const seen: string[] = [];
    new Outflow(source, {
      data: (chunks) => void seen.push(chunks.map((c) => c.toString()).join('+')),
      eof: () => {},
      ready: () => Promise.resolve(),
    });
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    source.write('a');
    assert.deepEqual(seen, ['a'], 'a lone chunk is not held to the end of the turn');
    await turn();
    source.write('b');
    source.write('c');
    assert.deepEqual(seen, ['a', 'b'], 'the channel was quiet: b went at once, c waits');
    await turn();
    assert.deepEqual(seen, ['a', 'b', 'c']);
    // The last turn read two chunks: the stream flows, and this turn's go together.
    source.write('d');
    source.write('e');
    assert.deepEqual(seen, ['a', 'b', 'c']);
    await turn();
    assert.deepEqual(seen, ['a', 'b', 'c', 'd+e']);
    // A turn of one chunk ends the stream: the next chunk goes at once again.
    source.write('f');
    await turn();
    assert.deepEqual(seen, ['a', 'b', 'c', 'd+e', 'f']);
    source.write('g');
    assert.deepEqual(seen, ['a', 'b', 'c', 'd+e', 'f', 'g']);
  });

  it('sends nothing after stop(), not even what was pending', async () => {
    const source = new PassThrough();
    const seen: number[] = [];
    const out = new Outflow(source, {
      data: (chunks) => seen.push(chunks.length),
      eof: () => seen.push(-1),
      ready: () => Promise.resolve(),
    });
    source.write(Buffer.from('a')); // the channel is quiet: it goes at once
    source.write(Buffer.from('b')); // waits for the end of the turn
    await new Promise((resolve) => process.nextTick(resolve));
    out.stop();
    source.end('c');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [1]);
  });
});
