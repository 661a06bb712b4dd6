/**
 * Wire codec throughput: a typical POST frame (a session id, an alias, an event name and
 * three small arguments) encoded and decoded by @ikc/wire, one frame per message and in
 * batches of BATCH, each next to JSON.stringify / JSON.parse of the same frames in the
 * same run.
 *
 * The comparison favours JSON: it builds a string (no bytes), checks nothing on parse,
 * and has no limits, whereas the codec produces a Buffer, scans the peer's bytes against
 * every limit before decoding and checks each field's type after. Our encode also scans
 * its own output, so a frame the peer would refuse fails at the sender.
 *
 * Every figure is the median of RUNS runs after a warm-up (IKC_BENCH_RUNS, default 5).
 */
import { Codec, FrameBatcher, FrameType, type PostFrame } from '@ikc/wire';
import { medianOf, opsPerSec, type Row, report } from './harness.js';

/** Frames per measurement (each row). */
const FRAMES = 1_000_000;
/** Frames per message in the batched rows. */
const BATCH = 64;
/** The later end-to-end target (remote posts per second) this codec must leave room for. */
const E2E_TARGET = '500k posts/s end to end (later)';

function postFrame(seq: number): PostFrame {
  return {
    type: FrameType.Post,
    seq,
    from: 'V1StGXR8_Z5jdHi6B-myT', // a nanoid session id
    to: 'calc',
    event: 'add',
    args: [seq & 0xff, 'forty-two', { reply: 'sum' }],
  };
}

// Distinct frames, so nothing can be cached across iterations.
const frames = Array.from({ length: BATCH }, (_, i) => postFrame(1000 + i));
const codec = new Codec();

// Checked after each run so no body can be optimised away.
let sink = 0;

function check(decoded: unknown): void {
  if (decoded === undefined) throw new Error('nothing decoded');
}

// ---- one frame per message ---------------------------------------------------------------

const encodedOne = frames.map((f) => codec.encode(f));
const jsonOne = frames.map((f) => JSON.stringify(f));

const wireRoundTrip = () =>
  opsPerSec(FRAMES, (i) => {
    const frame = codec.decode(codec.encode(frames[i & (BATCH - 1)]!))[0] as PostFrame;
    sink += frame.seq;
  });
const jsonRoundTrip = () =>
  opsPerSec(FRAMES, (i) => {
    const frame = JSON.parse(JSON.stringify(frames[i & (BATCH - 1)])) as PostFrame;
    sink += frame.seq;
  });
const wireEncode = () => opsPerSec(FRAMES, (i) => (sink += codec.encode(frames[i & (BATCH - 1)]!).length));
const jsonEncode = () => opsPerSec(FRAMES, (i) => (sink += JSON.stringify(frames[i & (BATCH - 1)]).length));
const wireDecode = () =>
  opsPerSec(FRAMES, (i) => (sink += (codec.decode(encodedOne[i & (BATCH - 1)]!)[0] as PostFrame).seq));
const jsonDecode = () =>
  opsPerSec(FRAMES, (i) => (sink += (JSON.parse(jsonOne[i & (BATCH - 1)]!) as PostFrame).seq));

// ---- batches of BATCH frames per message -------------------------------------------------

let message: Buffer = Buffer.alloc(0);
const batcher = new FrameBatcher(
  (m) => {
    message = m;
  },
  codec,
  { maxFrames: BATCH },
);
for (const f of frames) batcher.add(f); // fills `message` (sent on the BATCH-th frame)
const encodedBatch = message;
const jsonBatch = JSON.stringify(frames);
check(codec.decode(encodedBatch));

const batches = FRAMES / BATCH;
const wireBatchRoundTrip = () =>
  BATCH *
  opsPerSec(batches, () => {
    for (let j = 0; j < BATCH; j++) batcher.add(frames[j]!);
    const decoded = codec.decode(message);
    sink += decoded.length;
  });
const jsonBatchRoundTrip = () =>
  BATCH * opsPerSec(batches, () => (sink += (JSON.parse(JSON.stringify(frames)) as unknown[]).length));
const wireBatchEncode = () =>
  BATCH *
  opsPerSec(batches, () => {
    for (let j = 0; j < BATCH; j++) batcher.add(frames[j]!);
    sink += message.length;
  });
const jsonBatchEncode = () => BATCH * opsPerSec(batches, () => (sink += JSON.stringify(frames).length));
const wireBatchDecode = () => BATCH * opsPerSec(batches, () => (sink += codec.decode(encodedBatch).length));
const jsonBatchDecode = () =>
  BATCH * opsPerSec(batches, () => (sink += (JSON.parse(jsonBatch) as unknown[]).length));

// ---- run ------------------------------------------------------------------------------------

const rows: Row[] = [];
async function pair(name: string, wire: () => number, json: () => number, target?: string): Promise<void> {
  const w = await medianOf(wire);
  const j = await medianOf(json);
  rows.push({ name: `${name}: @ikc/wire`, value: w, unit: 'frames/s', baseline: `${name}: JSON`, target });
  rows.push({ name: `${name}: JSON`, value: j, unit: 'frames/s' });
}

await pair('encode+decode, 1 frame/message', wireRoundTrip, jsonRoundTrip, E2E_TARGET);
await pair(`encode+decode, ${BATCH} frames/message`, wireBatchRoundTrip, jsonBatchRoundTrip, E2E_TARGET);
await pair('encode, 1 frame/message', wireEncode, jsonEncode);
await pair('decode, 1 frame/message', wireDecode, jsonDecode);
await pair(`encode, ${BATCH} frames/message`, wireBatchEncode, jsonBatchEncode);
await pair(`decode, ${BATCH} frames/message`, wireBatchDecode, jsonBatchDecode);
rows.push({
  name: 'size of one frame: @ikc/wire',
  value: encodedOne[0]!.length,
  unit: 'bytes',
  baseline: 'size of one frame: JSON',
});
rows.push({ name: 'size of one frame: JSON', value: Buffer.byteLength(jsonOne[0]!), unit: 'bytes' });

if (sink === 0) throw new Error('benchmark bodies did not run');
report('@ikc/wire codec: typical POST frame', rows);
