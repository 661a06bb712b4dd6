// The network-namespace lab itself (harness/netns.ts): hosts reach each other over the
// bridge, multicast crosses it (mDNS discovery relies on that), partitions, cuts and heals
// do what they say, freeze/thaw stop and continue a process, and no namespace outlives its
// lab, not even when the process that made it is killed. Needs root, ip and nft.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, type Host, Lab, labSkipReason, listNamespaces, REGISTRY } from './harness/netns.js';

const skip = labSkipReason();
const labs: Lab[] = [];
after(async () => {
  for (const lab of labs) await lab.destroy();
});

async function newLab(n: number): Promise<Lab> {
  const t0 = Date.now();
  const lab = await Lab.create(n);
  labs.push(lab);
  console.log(
    `# lab ${lab.id}: ${n} hosts (${lab.hosts.map((h) => h.address).join(', ')}) in ${Date.now() - t0} ms`,
  );
  return lab;
}

/** Collects a child's stdout; resolves `line(text)` once a line contains it. */
function output(child: ChildProcess) {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  return {
    text: () => out,
    line: (text: string, ms = 5_000) =>
      eventually(() => out.includes(text), ms, `"${text}" from pid ${child.pid}; got:\n${out}`),
  };
}

const ECHO_SERVER =
  "const net = require('node:net');" +
  "net.createServer((s) => s.on('data', (d) => s.end(process.argv[2] + ' got ' + d)))" +
  ".listen(7000, process.argv[1], () => console.log('LISTENING'));";

const ECHO_CLIENT =
  "const s = require('node:net').connect(7000, process.argv[1], () => s.write(process.argv[2]));" +
  "let got = ''; s.on('data', (d) => (got += d)).on('end', () => console.log(got));" +
  "s.on('error', (e) => console.log('ERROR ' + e.code)); setTimeout(() => process.exit(1), 3000).unref();";

// Joins 224.0.0.251:5353 (mDNS) on the interface of the address given, or with none given
// (the kernel picks it by route), and prints every datagram with its source until killed.
const MCAST_RECEIVER =
  "const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });" +
  "s.on('message', (m, r) => console.log('GOT ' + m + ' FROM ' + r.address));" +
  "s.bind(5353, () => { s.addMembership('224.0.0.251', process.argv[1]); console.log('JOINED'); });";

// Sends a few datagrams to the mDNS group: TAG [INTERFACE-ADDRESS] (none: by route).
const MCAST_SENDER =
  "const s = require('node:dgram').createSocket('udp4'); let i = 0;" +
  's.bind(0, () => { if (process.argv[2]) s.setMulticastInterface(process.argv[2]);' +
  "const t = setInterval(() => { s.send(process.argv[1] + '#' + i, 5353, '224.0.0.251');" +
  'if (++i === 5) { clearInterval(t); setTimeout(() => s.close(), 50); } }, 40); });';

function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined; // gone
  }
}

describe('the network-namespace lab', () => {
  let lab: Lab;
  before(async () => {
    if (!skip) lab = await newLab(3);
  });

  /** Every ordered pair's probe result, as "i>j": result. */
  async function matrix(): Promise<Record<string, string>> {
    const pairs: [number, number][] = [];
    for (const a of lab.hosts) for (const b of lab.hosts) if (a !== b) pairs.push([a.index, b.index]);
    const results = await Promise.all(pairs.map(([i, j]) => lab.probe(i, j, 9, 700)));
    return Object.fromEntries(pairs.map(([i, j], k) => [`${i}>${j}`, results[k] as string]));
  }

  it('gives each host its own namespace, with lo and eth0 up and its own address', { skip }, async () => {
    const names = await listNamespaces();
    for (const ns of [lab.bridgeNs, ...lab.hosts.map((h) => h.ns)]) assert.ok(names.includes(ns), ns);
    for (const host of lab.hosts) {
      const r = await host.exec('ip', ['-o', '-4', 'addr', 'show']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\blo\b.*inet 127\.0\.0\.1\/8/);
      assert.match(r.stdout, new RegExp(`eth0.*inet ${host.address.replaceAll('.', '\\.')}/24`));
      const link = await host.exec('ip', ['-o', 'link', 'show', 'eth0']);
      assert.match(link.stdout, /MULTICAST.*UP|UP.*MULTICAST/);
    }
  });

  it('lets three hosts talk TCP to each other over the bridge', { skip }, async () => {
    const servers = lab.hosts.map((h) =>
      h.spawn(process.execPath, ['-e', ECHO_SERVER, h.address, `h${h.index}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    try {
      await Promise.all(servers.map((s) => output(s).line('LISTENING')));
      const t0 = Date.now();
      const talks: Promise<void>[] = [];
      for (const from of lab.hosts) {
        for (const to of lab.hosts) {
          if (from === to) continue;
          talks.push(
            from
              .exec(process.execPath, ['-e', ECHO_CLIENT, to.address, `hello from h${from.index}`])
              .then((r) => {
                assert.equal(r.stdout.trim(), `h${to.index} got hello from h${from.index}`, r.stderr);
              }),
          );
        }
      }
      await Promise.all(talks);
      console.log(`# 6 TCP round trips between 3 namespaces in ${Date.now() - t0} ms`);
      assert.equal(await lab.probe(0, 1, 7000), 'open');
      assert.equal(await lab.probe(2, 0, 7001), 'refused', 'a closed port answers: the host is reached');
    } finally {
      for (const s of servers) s.kill('SIGKILL');
    }
  });

  it('carries UDP multicast to the mDNS group across the bridge, and a partition stops it', {
    skip,
  }, async () => {
    // h1 joins by route, h2 on its eth0 address (as bonjour-service bound to an interface does).
    const receive = (host: Host, iface?: string) => {
      const child = host.spawn(process.execPath, ['-e', MCAST_RECEIVER, ...(iface ? [iface] : [])], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return { child, out: output(child) };
    };
    const send = async (host: Host, tag: string, iface?: string) => {
      const r = await host.exec(process.execPath, ['-e', MCAST_SENDER, tag, ...(iface ? [iface] : [])]);
      assert.equal(r.code, 0, `multicast send from ${host.ns}: ${r.stderr}`);
    };
    const [h0, h1, h2] = lab.hosts as [Host, Host, Host];
    const r1 = receive(h1);
    const r2 = receive(h2, h2.address);
    try {
      await Promise.all([r1.out.line('JOINED'), r2.out.line('JOINED')]);
      await send(h0, 'h0-first');
      await r1.out.line(`GOT h0-first#0 FROM ${h0.address}`);
      await r2.out.line(`GOT h0-first#0 FROM ${h0.address}`);

      await lab.partition([0], [1, 2]);
      await send(h0, 'h0-cut');
      await send(h1, 'h1-within');
      await r2.out.line(`GOT h1-within#4 FROM ${h1.address}`); // same side: still flows
      await new Promise((r) => setTimeout(r, 200));
      assert.doesNotMatch(r1.out.text() + r2.out.text(), /h0-cut/, 'nothing crossed the partition');

      await lab.heal();
      await send(h0, 'h0-healed', h0.address);
      await r1.out.line(`GOT h0-healed#0 FROM ${h0.address}`);
      await r2.out.line(`GOT h0-healed#0 FROM ${h0.address}`);
    } finally {
      r1.child.kill('SIGKILL');
      r2.child.kill('SIGKILL');
      await lab.heal();
    }
  });

  it('partitions two groups (traffic between them is dropped, within them it flows) and heals', {
    skip,
  }, async () => {
    assert.deepEqual(await matrix(), {
      '0>1': 'refused',
      '0>2': 'refused',
      '1>0': 'refused',
      '1>2': 'refused',
      '2>0': 'refused',
      '2>1': 'refused',
    });
    await lab.partition([0], [1, 2]);
    assert.deepEqual(lab.blockedFrom(0).sort(), [lab.hosts[1]?.address, lab.hosts[2]?.address].sort());
    assert.deepEqual(await matrix(), {
      '0>1': 'timeout',
      '0>2': 'timeout',
      '1>0': 'timeout',
      '1>2': 'refused',
      '2>0': 'timeout',
      '2>1': 'refused',
    });
    const rules = await lab.hosts[0]?.exec('nft', ['list', 'table', 'inet', 'ikc']);
    assert.match(rules?.stdout ?? '', /ip daddr .* drop/);
    await lab.heal();
    assert.deepEqual(Object.values(await matrix()), Array(6).fill('refused'));
    const gone = await lab.hosts[0]?.exec('nft', ['list', 'table', 'inet', 'ikc']);
    assert.notEqual(gone?.code, 0, 'heal removed the table');
  });

  it('cuts one pair only, and heals it', { skip }, async () => {
    await lab.cut(1, 2);
    assert.deepEqual(await matrix(), {
      '0>1': 'refused',
      '0>2': 'refused',
      '1>0': 'refused',
      '1>2': 'timeout',
      '2>0': 'refused',
      '2>1': 'timeout',
    });
    await lab.heal();
    assert.deepEqual(Object.values(await matrix()), Array(6).fill('refused'));
  });

  it('freezes a process (SIGSTOP) and thaws it (SIGCONT)', { skip }, async () => {
    const child = lab.hosts[0]?.spawn('sleep', ['30'], { stdio: 'ignore' }) as ChildProcess;
    const pid = child.pid as number;
    await eventually(() => stateOf(pid) === 'S', 2_000, 'sleep to be sleeping');
    lab.freeze(child);
    await eventually(() => stateOf(pid) === 'T', 2_000, 'the process to be stopped');
    lab.thaw(child);
    await eventually(() => stateOf(pid) === 'S', 2_000, 'the process to run again');
    child.kill('SIGKILL');
  });
});

describe('cleaning up labs', () => {
  it('destroy() kills what the lab started and leaves no namespace, folder or record behind', {
    skip,
  }, async () => {
    const lab = await newLab(2);
    const names = [lab.bridgeNs, ...lab.hosts.map((h) => h.ns)];
    const sleeper = lab.hosts[1]?.spawn('sleep', ['300'], { stdio: 'ignore' }) as ChildProcess;
    const exited = new Promise((r) => sleeper.once('exit', r));
    assert.ok(existsSync(join(REGISTRY, `${process.pid}-${lab.id}.json`)), 'the lab is registered');
    const t0 = Date.now();
    await lab.destroy();
    console.log(`# destroyed a 2-host lab in ${Date.now() - t0} ms`);
    await exited;
    const left = await listNamespaces();
    assert.deepEqual(
      names.filter((n) => left.includes(n)),
      [],
    );
    assert.equal(existsSync(lab.dir), false);
    assert.equal(existsSync(join(REGISTRY, `${process.pid}-${lab.id}.json`)), false);
  });

  it('Lab.create() removes the namespaces and processes of a lab whose process was killed', {
    skip,
  }, async () => {
    const url = new URL('./harness/netns.js', import.meta.url).href;
    const script =
      `const { Lab } = await import(${JSON.stringify(url)});` +
      'const lab = await Lab.create(2);' +
      "const s = lab.hosts[1].spawn('sleep', ['300'], { stdio: 'ignore' });" +
      'console.log(JSON.stringify({ names: [lab.bridgeNs, ...lab.hosts.map((h) => h.ns)], dir: lab.dir, sleeper: s.pid }));' +
      'setInterval(() => {}, 1000);';
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out = output(child);
    await out.line('"names"', 10_000);
    const made = JSON.parse(out.text().trim()) as { names: string[]; dir: string; sleeper: number };
    child.kill('SIGKILL'); // no exit handler, no after(): only the registry knows
    await new Promise((r) => child.once('exit', r));
    let left = await listNamespaces();
    assert.deepEqual(
      made.names.filter((n) => !left.includes(n)),
      [],
      'the dead lab left its namespaces',
    );
    assert.ok(['S', 'R'].includes(stateOf(made.sleeper) ?? ''), 'and a process inside them');

    const t0 = Date.now();
    const lab = await newLab(1);
    console.log(`# Lab.create() with a dead lab's leftovers to remove took ${Date.now() - t0} ms`);
    left = await listNamespaces();
    assert.deepEqual(
      made.names.filter((n) => left.includes(n)),
      [],
      'its namespaces are gone',
    );
    assert.ok(left.includes(lab.hosts[0]?.ns as string), 'the new lab is there');
    await eventually(
      () => ['Z', undefined].includes(stateOf(made.sleeper)),
      2_000,
      'the sleeper to be killed',
    );
    assert.equal(existsSync(made.dir), false, 'its folder is gone');
    await lab.destroy();
  });
});
