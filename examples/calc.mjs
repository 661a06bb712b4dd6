// A session module: what `sessions:` in ~/.poe.conf (or `ikc kernel --session`) starts.
// Its default export is a session definition; `publish` lists what other kernels may reach.
export default {
  alias: 'calc',
  publish: ['add', 'mul', 'ping', 'fail'],
  events: {
    add: (_ctx, a, b) => a + b,
    mul: (_ctx, a, b) => a * b,
    // Replies to whoever posted: ctx.sender is a proxy when the sender is on another kernel.
    ping: (ctx, n) => ctx.post(ctx.sender, 'pong', n),
    fail: (_ctx, why) => {
      throw Object.assign(new Error(`failed on purpose: ${why}`), { code: 'E_DEMO' });
    },
  },
};
