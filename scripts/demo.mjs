#!/usr/bin/env node
// `npm start`: runs a local ikc kernel with two demo sessions until Ctrl-C (SIGINT) or SIGTERM,
// which reach the sessions as kernel signals, so the kernel shuts down gracefully. Until the
// host kernel (`ikc kernel`, with links to other kernels) lands, this is a local kernel only.
// `--ticks N` stops the ticker after N ticks, for a quick non-interactive run.
import { Kernel } from '@ikc/kernel';

const ticksArg = process.argv.indexOf('--ticks');
const maxTicks = ticksArg > 0 ? Number(process.argv[ticksArg + 1]) : Number.POSITIVE_INFINITY;
const kernel = new Kernel({ name: 'demo' });
const say = (line) => process.stdout.write(`${line}\n`);

kernel.spawn({
  alias: 'calc',
  publish: ['add'],
  events: {
    add: (_ctx, a, b) => a + b,
    _signal: (_ctx, name) => {
      say(`calc: got signal ${name}`);
    },
    _stop: () => say('calc: stopped'),
  },
});

kernel.spawn({
  alias: 'ticker',
  heap: { ticks: 0 },
  events: {
    _start: (ctx) => {
      ctx.delay('tick', 1000);
    },
    tick: async (ctx) => {
      ctx.heap.ticks++;
      const sum = await ctx.call('calc', 'add', ctx.heap.ticks, 100);
      say(`ticker: tick ${ctx.heap.ticks}, calc.add(${ctx.heap.ticks}, 100) = ${sum}`);
      if (ctx.heap.ticks < maxTicks) ctx.delay('tick', 1000);
      else ctx.aliasRemove('ticker');
    },
    _stop: (ctx) => say(`ticker: stopped after ${ctx.heap.ticks} ticks`),
  },
});

say(`ikc kernel "${kernel.name}" (id ${kernel.id}) is running with sessions:`);
for (const s of kernel.list())
  say(`  ${s.aliases.join(',')}  ${s.id}  published: ${s.published.join(',') || '-'}`);
say('ready: press Ctrl-C to stop it gracefully');
await kernel.run();
say('kernel: no session left, exiting');
