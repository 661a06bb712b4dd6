import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MonitorEvent } from '../src/index.js';
import { testKernel } from './helpers.js';

describe('monitors', () => {
  it('report register, alias, publish, retract and unregister with a callback, in order', async () => {
    const { kernel } = testKernel();
    const seen: string[] = [];
    kernel.monitor(undefined, (e) => {
      const s = e.session as { aliases: string[] };
      seen.push(
        `${e.type} ${s.aliases.join(',')} ${(e.events as string[] | undefined)?.join(',') ?? e.alias ?? ''}`.trim(),
      );
    });
    const s = kernel.spawn({
      alias: 'calc',
      publish: ['add'],
      events: {
        more: (ctx) => {
          ctx.publish('mul', 'add');
          ctx.retract('add');
          ctx.aliasRemove('calc');
        },
      },
    });
    s.post('more');
    await kernel.run();
    assert.deepEqual(seen, [
      'alias calc calc',
      'publish calc add',
      'register calc',
      'publish calc mul',
      'retract calc add',
      'alias  calc',
      'unregister',
    ]);
  });

  it('filter by type, and close() stops delivery', async () => {
    const { kernel } = testKernel();
    const seen: string[] = [];
    const m = kernel.monitor(['unregister'], (e) => seen.push(e.type));
    kernel.spawn({ events: {} });
    await kernel.run();
    m.close();
    kernel.spawn({ events: {} });
    await kernel.run();
    assert.deepEqual(seen, ['unregister']);
  });

  it('can be read as an async iterator', async () => {
    const { kernel } = testKernel();
    const m = kernel.monitor(['register', 'error']);
    kernel.spawn({ alias: 'x', events: {} });
    kernel.post('ghost', 'e');
    const got: MonitorEvent[] = [];
    for await (const e of m) {
      got.push(e);
      if (got.length === 2) break;
    }
    assert.deepEqual(
      got.map((e) => e.type),
      ['register', 'error'],
    );
    assert.equal(got[0]?.kernel, 'test');
    await kernel.stop();
  });

  it('a throwing monitor callback does not break the kernel or hide events from other monitors', async () => {
    const { kernel } = testKernel();
    let other = 0;
    kernel.monitor('register', () => {
      throw new Error('bad monitor');
    });
    kernel.monitor('register', () => other++);
    kernel.spawn({ events: {} });
    assert.equal(other, 1);
    await kernel.run();
  });

  it('report signals', async () => {
    const { kernel } = testKernel();
    const seen: unknown[] = [];
    kernel.monitor('signal', (e) => seen.push([e.name, e.target]));
    kernel.spawn({ alias: 'a', events: {} });
    kernel.signal('a', 'HUP');
    assert.deepEqual(seen, [['HUP', 'a']]);
    await kernel.run();
  });
});
