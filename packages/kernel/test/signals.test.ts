import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Session } from '../src/index.js';
import { testKernel } from './helpers.js';

describe('signals', () => {
  it('a terminal signal stops every session that does not handle it', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    kernel.spawn({ alias: 'plain', events: { _stop: () => void log.push('plain stop') } });
    kernel.spawn({
      alias: 'byReturn',
      // Returning true does not handle a signal: only ctx.sigHandled() does.
      events: {
        _signal: (_ctx, name: string) => {
          log.push(`byReturn got ${name}`);
          return true;
        },
        _stop: () => void log.push('byReturn stop'),
      },
    });
    kernel.spawn({
      alias: 'byCall',
      events: {
        _signal: (ctx, name: string, reason: string) => {
          log.push(`byCall got ${name} ${reason}`);
          ctx.sigHandled();
        },
      },
    });
    kernel.spawn({
      alias: 'ignores',
      events: {
        _signal: () => void log.push('ignores got TERM'),
        _stop: () => void log.push('ignores stop'),
      },
    });
    const handled = kernel.signal('*', 'TERM', 'shutdown');
    assert.equal(handled, true);
    assert.deepEqual(log.sort(), [
      'byCall got TERM shutdown',
      'byReturn got TERM',
      'byReturn stop',
      'ignores got TERM',
      'ignores stop',
      'plain stop',
    ]);
    assert.deepEqual(
      kernel.list().map((s) => s.aliases[0]),
      ['byCall'],
    );
    await kernel.stop();
  });

  it('a signal to one session reaches it and its descendants, not others', async () => {
    const { kernel } = testKernel();
    const got: string[] = [];
    const sig = (name: string) => ({ _signal: () => void got.push(name) });
    let child: Session | undefined;
    const parent = kernel.spawn({
      alias: 'parent',
      events: {
        ...sig('parent'),
        _start: (ctx) => void (child = ctx.spawn({ alias: 'child', events: sig('child') })),
      },
    });
    kernel.spawn({ alias: 'other', events: sig('other') });
    kernel.signal(parent, 'INT');
    assert.deepEqual(got, ['child', 'parent'], 'children hear it before their parent');
    assert.equal(child?.alive, false);
    assert.equal(kernel.lookup('other')?.alive, true);
    await kernel.stop();
  });

  it('a non-terminal signal stops nothing', async () => {
    const { kernel } = testKernel();
    const got: unknown[] = [];
    kernel.spawn({
      alias: 'a',
      events: { _signal: (_ctx, name: string, ...args: unknown[]) => void got.push([name, ...args]) },
    });
    assert.equal(kernel.signal('a', 'USR1', 1, 2), false);
    assert.deepEqual(got, [['USR1', 1, 2]]);
    assert.equal(kernel.size, 1);
    await kernel.stop();
  });

  it('signal to an unknown session throws IKC_ERR_NO_SESSION', () => {
    const { kernel } = testKernel();
    assert.throws(() => kernel.signal('ghost', 'TERM'), { code: 'IKC_ERR_NO_SESSION' });
  });

  it('when the event loop runs dry with only alias-held sessions, sends IDLE then ZOMBIE and run() resolves', async () => {
    const script = fileURLToPath(new URL('./fixtures/idle-child.js', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 0, `exit code 0, not 13 (an unsettled top-level await); output: ${out}`);
    assert.equal(out, 'signal IDLE\nsignal ZOMBIE\nstopped\nrun resolved\n');
  });

  it("turns the process's SIGTERM and SIGINT into kernel signals, so a kernel shuts down gracefully", async () => {
    const script = fileURLToPath(new URL('./fixtures/signal-child.js', import.meta.url));
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8');
      const ready = new Promise<void>((resolve) => {
        child.stdout.on('data', (d: string) => {
          out += d;
          if (out.includes('ready')) resolve();
        });
      });
      await ready;
      child.kill(sig);
      const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
        child.on('exit', (c, s) => r([c, s])),
      );
      assert.equal(signal, null, `the process was not killed by ${sig}`);
      assert.equal(code, 0);
      const name = sig === 'SIGTERM' ? 'TERM' : 'INT';
      assert.match(out, new RegExp(`signal ${name}`));
      assert.match(out, /stopped cleanly/);
    }
  });
});
