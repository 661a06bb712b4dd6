import assert from 'node:assert/strict';
import type { Duplex, Readable, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import { parseChannelsEnv } from '../src/index.js';
import { closeAll, fixture, nodeScript, readAll, setup, sleep } from './helpers.js';

after(closeAll);

const NAMED = [
  { name: 'in', dir: '>', mode: 'text' },
  { name: 'out', dir: '<', mode: 'text' },
  { name: 'ctl', dir: '<>', mode: 'text' },
] as const;

/** Lines read from a text duplex until `count` have come (the stream stays open). */
async function lines(stream: Readable, count: number): Promise<string[]> {
  let text = '';
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    text += chunk;
    if (text.split('\n').length > count) break;
  }
  return text.split('\n').slice(0, count);
}

describe('presets', () => {
  it('normal: stdout and stderr apart', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sh', '-c', 'echo a; echo b >&2'], channels: 'normal' });
    const [out, err] = await Promise.all([readAll(job.stdout), readAll(job.stderr), job.wait()]);
    assert.equal(out, 'a\n');
    assert.equal(err, 'b\n');
  });

  it('join: stderr goes into stdout, in the order written', async () => {
    const { jobs } = setup();
    const job = jobs.fork({
      cmd: ['sh', '-c', 'echo 1; echo 2 >&2; echo 3; echo 4 >&2'],
      channels: 'join',
      capture: true,
    });
    const [out, err] = await Promise.all([readAll(job.stdout), readAll(job.stderr), job.wait()]);
    assert.equal(out, '1\n2\n3\n4\n');
    assert.equal(err, '');
    assert.equal(job.stdoutText, '1\n2\n3\n4\n');
    assert.equal(job.stderrText, '');
  });

  it('join works for module jobs', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ module: fixture('tasks'), export: 'talk', channels: 'join', capture: true });
    const outcome = await job.wait();
    assert.equal(outcome.result, 'ok');
    assert.equal(job.stdoutText, 'out1\nerr1\nout2\n');
  });

  it('quiet: output goes to /dev/null, the streams end at once', async () => {
    const { jobs } = setup();
    const job = jobs.fork({
      cmd: ['sh', '-c', 'echo a; echo b >&2; exit 2'],
      channels: 'quiet',
      capture: true,
    });
    assert.equal(await readAll(job.stdout), '');
    assert.equal(await readAll(job.stderr), '');
    assert.equal((await job.wait()).exitCode, 2);
    assert.equal(job.stdoutText, '');
  });
});

describe('named channels', () => {
  it('cmd job: `>`, `<` and `<>` channels on fds 3, 4, 5 (IKC_CHANNELS)', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: nodeScript('channel-child'), channels: [...NAMED], capture: true });
    const input = job.channel<Writable>('in');
    const out = job.channel<Readable>('out');
    const ctl = job.channel<Duplex>('ctl');
    assert.equal(job.channel('stdout'), job.stdout);
    assert.throws(
      () => job.channel('nope'),
      (err: unknown) => IkcError.is(err, 'IKC_ERR_INVALID_ARG'),
    );
    input.write('hello ');
    input.end('channels');
    assert.equal(await readAll(out), 'HELLO CHANNELS');
    ctl.write('one\ntwo\n');
    assert.deepEqual(await lines(ctl, 2), ['ack one', 'ack two']);
    ctl.end('three\n');
    const outcome = await job.wait();
    assert.equal(outcome.exitCode, 0, job.stderrText);
  });

  it('module job: ctx.channels, both directions, with the result', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ module: fixture('tasks'), export: 'channels', channels: [...NAMED] });
    const input = job.channel<Writable>('in');
    const out = job.channel<Readable>('out');
    const ctl = job.channel<Duplex>('ctl');
    const upper = readAll(out);
    input.end('quiet please');
    assert.equal(await upper, 'QUIET PLEASE');
    ctl.write('a\n');
    assert.deepEqual(await lines(ctl, 1), ['ack a']);
    ctl.end('b\nc\n');
    const rest = await readAll(ctl);
    assert.equal(rest, 'ack b\nack c\n');
    assert.equal((await job.wait()).result, 3);
  });

  it('binary channels carry Buffers; text channels strings', async () => {
    const { jobs } = setup();
    const job = jobs.fork({
      cmd: ['sh', '-c', 'printf "\\001\\002" >&3; printf "t" >&4'],
      channels: [
        { name: 'bin', dir: '<' },
        { name: 'txt', dir: '<', mode: 'text' },
      ],
    });
    const chunks: unknown[] = [];
    const texts: unknown[] = [];
    job.channel<Readable>('bin').on('data', (c) => chunks.push(c));
    job.channel<Readable>('txt').on('data', (c) => texts.push(c));
    await job.wait();
    await Promise.all([readAll(job.channel<Readable>('bin')), readAll(job.channel<Readable>('txt'))]);
    assert.ok(Buffer.isBuffer(chunks[0]));
    assert.deepEqual([...Buffer.concat(chunks as Buffer[])], [1, 2]);
    assert.deepEqual(texts, ['t']);
  });

  it('IKC_CHANNELS lists name=fd pairs', () => {
    assert.deepEqual(
      [...parseChannelsEnv('in=3,out=4,ctl=5')],
      [
        ['in', 3],
        ['out', 4],
        ['ctl', 5],
      ],
    );
    assert.equal(parseChannelsEnv(undefined).size, 0);
  });
});

describe('backpressure', () => {
  it('a job whose stdout is not read blocks, and ends once it is', async () => {
    const { jobs } = setup();
    const bytes = 8 * 1024 * 1024;
    const job = jobs.fork({ cmd: nodeScript('flood', String(bytes)) });
    await new Promise((resolve) => job.once('start', resolve));
    await sleep(400);
    assert.equal(job.state, 'active', 'the child waits for the reader');
    // Bounded by the PassThrough's buffers plus one pipe read (64 KiB), whatever the child writes.
    const stdout = job.stdout as unknown as { readableLength: number; writableLength: number };
    const buffered = stdout.readableLength + stdout.writableLength;
    assert.ok(buffered > 0 && buffered <= 256 * 1024, `${buffered} bytes buffered in the parent`);
    let got = 0;
    job.stdout.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    const ended = new Promise((resolve) => job.stdout.once('end', resolve));
    await Promise.all([job.wait(), ended]);
    assert.equal(got, bytes);
  });

  it('writes to stdin wait for the child to read', async () => {
    const { jobs } = setup();
    // `sleep` never reads its stdin: the pipe fills and write() starts returning false.
    const job = jobs.fork({ cmd: ['sh', '-c', 'sleep 0.3; cat > /dev/null'] });
    const chunk = Buffer.alloc(64 * 1024);
    let writes = 0;
    while (job.stdin.write(chunk) && writes < 1000) writes++;
    assert.ok(writes < 1000, 'write() returned false');
    await new Promise((resolve) => job.stdin.once('drain', resolve));
    job.stdin.end();
    assert.equal((await job.wait()).exitCode, 0);
  });
});
