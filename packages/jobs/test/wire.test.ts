import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type JobOptions, type JobSpec, normalize } from '../src/options.js';
import { fromWire, toWire } from '../src/wire.js';

/** What the serving kernel makes of a spec that crossed the wire. */
function across(spec: JobSpec): JobSpec {
  const { id, options } = fromWire(structuredClone(toWire('k1.j7', spec)));
  assert.equal(id, 'k1.j7');
  return normalize(options);
}

/** The parts of a spec the serving kernel runs by (the forking kernel keeps the rest). */
function served(spec: JobSpec): Partial<JobSpec> {
  const { startAt: _s, dependsOn: _d, dependsStart: _ds, event: _e, ...rest } = spec;
  return {
    ...rest,
    // A command's args are already in its argv.
    args: spec.kind === 'cmd' ? [] : spec.args,
    // Channels are bytes on the wire: the forking kernel decodes text itself.
    channels: { ...spec.channels, named: spec.channels.named.map((c) => ({ ...c, mode: 'binary' })) },
  };
}

const CASES: [string, JobOptions][] = [
  ['a plain command', { cmd: ['/bin/echo', 'x'] }],
  ['a program name and args', { cmd: 'ls', args: ['-l', 3] }],
  [
    'every option a command takes',
    {
      cmd: ['sh', '-c', 'cat'],
      name: 'cat it',
      timeout: 1.5,
      expiration: 1_900_000_000_000,
      priority: -2,
      env: { A: 'a', GONE: undefined },
      cwd: '/tmp',
      retries: 3,
      capture: true,
      stdin: 'hello',
      onBusy: 'fail',
      channels: ['join', { name: 'ctl', dir: '<>', mode: 'text' }, { name: 'in', dir: '>' }],
      delay: 5,
      event: 'done',
    },
  ],
  ['bytes on stdin, quiet', { cmd: ['true'], stdin: new Uint8Array([1, 2, 3]), channels: 'quiet' }],
  ['a module function', { module: 'file:///srv/tasks.js', export: 'add', args: [2, { n: 40 }] }],
  ['a module function, renamed', { module: 'file:///srv/tasks.js', export: 'add', name: 'adder' }],
];

describe('a fork on the wire (WireSpec)', () => {
  for (const [label, options] of CASES) {
    it(`is run there as it was asked here: ${label}`, () => {
      const spec = normalize(options);
      assert.deepEqual(served(across(spec)), served(spec));
    });
  }

  it('leaves out what holds its default: a plain command is its id and argv', () => {
    assert.deepEqual(toWire('k1.j1', normalize({ cmd: ['/bin/echo', 'x'] })), {
      id: 'k1.j1',
      argv: ['/bin/echo', 'x'],
    });
    const renamed = toWire('k1.j2', normalize({ cmd: ['/bin/echo'], name: 'shout', priority: 1 }));
    assert.deepEqual(renamed, { id: 'k1.j2', argv: ['/bin/echo'], name: 'shout', priority: 1 });
  });

  it('takes a spec with every field written out, as kernels before the compact form sent it', () => {
    const { options } = fromWire({
      id: 'k0.j1',
      kind: 'cmd',
      argv: ['/bin/echo', 'x'],
      module: '',
      export: '',
      args: [],
      name: 'echo',
      timeoutMs: null,
      expiresAt: null,
      priority: 0,
      env: {},
      cwd: null,
      retries: 0,
      capture: false,
      stdin: null,
      onBusy: 'queue',
      std: 'normal',
      named: [],
    });
    assert.deepEqual(served(normalize(options)), served(normalize({ cmd: ['/bin/echo', 'x'] })));
  });

  it('refuses what is not a spec, naming the field', () => {
    const refused: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{ id: 'a b' }, /job id/],
      [{ id: 'k.j1', kind: 'shell' }, /kind/],
      [{ id: 'k.j1', argv: ['x'], env: 'A=1' }, /env must be an object/],
      [{ id: 'k.j1', argv: ['x'], env: { A: 1 } }, /env A must be a string/],
      [{ id: 'k.j1', argv: ['x'], named: 'ctl' }, /named channels must be a list/],
    ];
    for (const [value, message] of refused) {
      assert.throws(() => fromWire(value), { code: 'IKC_ERR_INVALID_ARG', message }, String(message));
    }
    // What fromWire lets through, normalize() checks as it would a local fork's options.
    assert.throws(() => normalize(fromWire({ id: 'k.j1' }).options), { code: 'IKC_ERR_INVALID_ARG' });
    assert.throws(() => normalize(fromWire({ id: 'k.j1', argv: ['x'], priority: 'high' }).options), {
      message: /priority/,
    });
  });
});
