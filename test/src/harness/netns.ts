// A lab of hosts for multi-host tests: each host is a Linux network namespace with its own
// eth0 on a shared bridge (which lives in a namespace of its own, so nothing touches the
// machine's real network). Kernels run inside the hosts; nft rules in the hosts' namespaces
// partition, cut and heal the network. Needs root, `ip` (iproute2) and `nft` (nftables):
// tests ask labSkipReason() first and skip, saying why, when those are missing.
//
//   ns ikc-br-ID:   br0 ──┬── v0 ═══ eth0  ns ikc-h0-ID  10.213.X.1/24
//                         ├── v1 ═══ eth0  ns ikc-h1-ID  10.213.X.2/24
//                         └── v2 ═══ eth0  ns ikc-h2-ID  10.213.X.3/24
//
// Cleanup: every lab writes what it made (namespaces, folders, and the pid and start time
// of the process that made it) to /tmp/ikc-netns-labs/; Lab.create() first removes what
// labs of dead processes left behind, and destroy() (or process exit) removes a lab's own.
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KernelProc, watchKernel } from './kernels.js';

export { eventually } from './kernels.js';

const MAIN = fileURLToPath(new URL('../fixtures/kernel-main.js', import.meta.url));
/** Where labs record what they made, one file per lab. */
export const REGISTRY = '/tmp/ikc-netns-labs';
/** The port kernels in a lab listen on by default (each host has its own port space). */
export const LAB_PORT = 6603;

// ---------------------------------------------------------------------------------------
// Prerequisites

function which(cmd: string): string | undefined {
  // Root's PATH has the sbin folders; a user's often has not, so look there too.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, cmd);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

const IP = which('ip');
const NFT = which('nft');

/**
 * Why lab tests cannot run here (for node:test's `skip` option, which prints it), or
 * undefined when they can: they need root, `ip` (iproute2) and `nft` (nftables).
 */
export function labSkipReason(): string | undefined {
  const reasons: string[] = [];
  if (process.platform !== 'linux')
    reasons.push(`needs Linux network namespaces (this is ${process.platform})`);
  if (process.getuid?.() !== 0) {
    reasons.push(`needs root: creates network namespaces (uid is ${process.getuid?.() ?? 'unknown'})`);
  }
  const missing = [IP ? '' : 'ip (iproute2)', NFT ? '' : 'nft (nftables)'].filter(Boolean);
  if (missing.length > 0)
    reasons.push(`needs ${missing.join(' and ')}: not found on PATH or in /usr/sbin, /sbin`);
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

// ---------------------------------------------------------------------------------------
// Running commands

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr: e && typeof e.code === 'string' ? `${stderr}${e.message}` : stderr,
        });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs a command and throws (with its stderr) unless it exits with 0. */
async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

function ip(...args: string[]): Promise<string> {
  return must(IP ?? 'ip', args);
}

// ---------------------------------------------------------------------------------------
// The registry of labs, and cleaning up after dead ones

interface LabRecord {
  pid: number;
  /** /proc/PID/stat's start time: a pid reused by another process does not count as alive. */
  start: string;
  namespaces: string[];
  dirs: string[];
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name (which may hold spaces) in parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(record: LabRecord): boolean {
  return startTimeOf(record.pid) === record.start;
}

/** Kills whatever still runs inside a namespace, then deletes it (synchronously; errors ignored). */
function removeNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync(IP ?? 'ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: 'pipe' });
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {}
    }
  } catch {}
  try {
    execFileSync(IP ?? 'ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  } catch {}
}

function removeRecordSync(file: string, record: LabRecord): void {
  for (const ns of record.namespaces) removeNamespaceSync(ns);
  for (const dir of record.dirs) rmSync(dir, { recursive: true, force: true });
  rmSync(file, { force: true });
}

/**
 * Removes the namespaces, processes and folders of labs whose process is gone (killed, or
 * crashed before destroy()). Returns the namespaces it removed. Lab.create() calls it.
 */
export function cleanupLeftovers(): string[] {
  const removed: string[] = [];
  let files: string[];
  try {
    files = readdirSync(REGISTRY);
  } catch {
    return removed;
  }
  for (const name of files) {
    const file = join(REGISTRY, name);
    let record: LabRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as LabRecord;
    } catch {
      continue; // being written, or not ours
    }
    if (alive(record)) continue;
    removeRecordSync(file, record);
    removed.push(...record.namespaces);
  }
  return removed;
}

/** Namespaces `ip netns list` shows now. */
export async function listNamespaces(): Promise<string[]> {
  const out = await must(IP ?? 'ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

// Labs this process has not destroyed yet are removed when it exits normally.
const live = new Set<Lab>();
process.once('exit', () => {
  for (const lab of live) lab.destroySync();
});

// ---------------------------------------------------------------------------------------
// The lab

export interface Host {
  index: number;
  /** The network namespace: `ip netns exec NS ...` runs a command on this host. */
  ns: string;
  /** eth0's IPv4 address. */
  address: string;
  /** Runs a command on this host to its end. */
  exec(cmd: string, args?: string[], options?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Starts a command on this host; the lab kills it on destroy(). */
  spawn(cmd: string, args?: string[], options?: SpawnOptions): ChildProcess;
}

/** A kernel process on a lab host: the shape startKernelProc() returns, plus its host. */
export interface LabKernel extends KernelProc {
  host: Host;
}

export type Frozen = ChildProcess | { child: ChildProcess };

let labSeq = 0;

export class Lab {
  readonly id: string;
  readonly hosts: Host[] = [];
  /** The namespace holding the bridge br0. */
  readonly bridgeNs: string;
  /** A folder for this lab's UNIX sockets and files (shared by every host: one filesystem). */
  readonly dir: string;
  private readonly file: string;
  private readonly record: LabRecord;
  private readonly children = new Set<ChildProcess>();
  /** Per host, the addresses its nft rules drop. */
  private readonly blocked: Set<string>[] = [];
  private destroyed: Promise<void> | undefined;

  private constructor(readonly size: number) {
    const seq = labSeq++;
    this.id = `${process.pid.toString(36)}${seq.toString(36)}`;
    this.bridgeNs = `ikc-br-${this.id}`;
    this.dir = mkdtempSync('/tmp/ikc-lab-');
    this.file = join(REGISTRY, `${process.pid}-${this.id}.json`);
    this.record = {
      pid: process.pid,
      start: startTimeOf(process.pid) ?? '',
      namespaces: [],
      dirs: [this.dir],
    };
    // One /24 per lab. Labs never share a bridge, so even equal subnets could not clash;
    // different ones keep captures and logs of parallel labs apart.
    const subnet = `10.213.${((process.pid * 7 + seq) % 250) + 1}`;
    for (let i = 0; i < size; i++) {
      const ns = `ikc-h${i}-${this.id}`;
      const host: Host = {
        index: i,
        ns,
        address: `${subnet}.${i + 1}`,
        exec: (cmd, args = [], options = {}) =>
          run(IP ?? 'ip', ['netns', 'exec', ns, cmd, ...args], options.input, options.timeoutMs),
        spawn: (cmd, args = [], options = {}) =>
          this.track(spawn(IP ?? 'ip', ['netns', 'exec', ns, cmd, ...args], options)),
      };
      this.hosts.push(host);
      this.blocked.push(new Set());
    }
  }

  /**
   * Makes a lab of `n` hosts (after removing the leftovers of dead labs). Rejects, having
   * removed what it made, when a step fails.
   */
  static async create(n: number): Promise<Lab> {
    const reason = labSkipReason();
    if (reason) throw new Error(`Lab.create: ${reason}`);
    cleanupLeftovers();
    const lab = new Lab(n);
    live.add(lab);
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private save(): void {
    mkdirSync(REGISTRY, { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.record));
    // Written whole, then renamed: cleanupLeftovers() never reads half a record.
    renameSync(`${this.file}.tmp`, this.file);
  }

  private async addNamespace(ns: string): Promise<void> {
    // Registered before it exists: if this process dies right after, the next lab removes it.
    this.record.namespaces.push(ns);
    this.save();
    await ip('netns', 'add', ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  private async build(): Promise<void> {
    this.save();
    const br = this.bridgeNs;
    await this.addNamespace(br);
    await ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', br, 'link', 'set', 'br0', 'up');
    await Promise.all(
      this.hosts.map(async (host) => {
        await this.addNamespace(host.ns);
        const port = `v${host.index}`;
        // Made in the bridge's namespace, its peer straight in the host's: nothing ever
        // appears in the machine's own namespace, so parallel labs cannot clash on names.
        await ip('-n', br, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns);
        await ip('-n', br, 'link', 'set', port, 'master', 'br0');
        await ip('-n', br, 'link', 'set', port, 'up');
        await ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
        await ip('-n', host.ns, 'link', 'set', 'eth0', 'multicast', 'on');
        await ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
        // No default route in a host: multicast (mDNS: 224.0.0.251) needs a route of its own,
        // or sending to the group fails with ENETUNREACH and joins pick no interface.
        await ip('-n', host.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
      }),
    );
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Starts `test/dist/fixtures/kernel-main.js` on host `i` and waits for its READY line, as
   * startKernelProc() does. Defaults: kernel.name "h<i>", kernel.listen "<address>:6603",
   * kernel.socket a UNIX socket in the lab's folder (reachable from the test process: UNIX
   * sockets on the filesystem cross network namespaces), so a test can attach() to it.
   */
  async startKernel(i: number, config: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<LabKernel> {
    const host = this.host(i);
    const kernel = (config.kernel ?? {}) as Record<string, unknown>;
    const name = (kernel.name as string | undefined) ?? `h${i}`;
    const full = {
      ...config,
      kernel: {
        name,
        listen: `${host.address}:${LAB_PORT}`,
        socket: join(this.dir, `${name}.sock`),
        ...kernel,
      },
    };
    const child = host.spawn(process.execPath, [MAIN, JSON.stringify(full)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POE_LOG: process.env.POE_LOG ?? 'info' },
    });
    return { ...(await watchKernel(child, timeoutMs)), host };
  }

  host(i: number): Host {
    const host = this.hosts[i];
    if (!host) throw new Error(`the lab has hosts 0..${this.size - 1}, not ${i}`);
    return host;
  }

  /** Drops all traffic between every host of `a` and every host of `b` (both directions). */
  async partition(a: number[], b: number[]): Promise<void> {
    for (const i of a) for (const j of b) this.block(i, j);
    await this.apply([...a, ...b]);
  }

  /** Drops all traffic between hosts i and j only. */
  async cut(i: number, j: number): Promise<void> {
    this.block(i, j);
    await this.apply([i, j]);
  }

  /** Removes every partition and cut. */
  async heal(): Promise<void> {
    const hosts = this.hosts.map((h) => h.index).filter((i) => this.blocked[i]?.size);
    for (const set of this.blocked) set.clear();
    await this.apply(hosts);
  }

  /** What host i's rules drop now (the addresses of the hosts it is cut from). */
  blockedFrom(i: number): string[] {
    return [...(this.blocked[i] ?? [])];
  }

  private block(i: number, j: number): void {
    if (i === j) throw new Error(`cannot cut host ${i} from itself`);
    this.blocked[i]?.add(this.host(j).address);
    this.blocked[j]?.add(this.host(i).address);
  }

  /** Rewrites the `inet ikc` table of these hosts from their blocked sets, atomically each. */
  private async apply(indexes: number[]): Promise<void> {
    await Promise.all(
      [...new Set(indexes)].map((i) => {
        const host = this.host(i);
        const addrs = [...(this.blocked[i] ?? [])];
        let script = 'add table inet ikc\ndelete table inet ikc\n';
        if (addrs.length > 0) {
          const set = `{ ${addrs.join(', ')} }`;
          // drop, not reject: a cut network is silent; a reject would look like a dead process.
          script +=
            'table inet ikc {\n' +
            `  chain input { type filter hook input priority 0; policy accept; ip saddr ${set} drop; }\n` +
            `  chain output { type filter hook output priority 0; policy accept; ip daddr ${set} drop; }\n` +
            '}\n';
        }
        return must(IP ?? 'ip', ['netns', 'exec', host.ns, NFT ?? 'nft', '-f', '-'], script);
      }),
    );
  }

  /** Stops a process (SIGSTOP): it holds its sockets but answers nothing, like a hung host. */
  freeze(proc: Frozen): void {
    childOf(proc).kill('SIGSTOP');
  }

  /** Lets a frozen process go on (SIGCONT). */
  thaw(proc: Frozen): void {
    childOf(proc).kill('SIGCONT');
  }

  /**
   * Whether host `from` reaches host `to` on a TCP port: 'open' (something listens),
   * 'refused' (reached, nothing listens) or 'timeout' (no answer: cut off).
   */
  async probe(
    from: number,
    to: number,
    port = 9,
    timeoutMs = 1_000,
  ): Promise<'open' | 'refused' | 'timeout'> {
    const script =
      "const s = require('node:net').connect(+process.argv[2], process.argv[1]);" +
      'const done = (w) => { console.log(w); s.destroy(); process.exit(0); };' +
      "s.on('connect', () => done('open'));" +
      "s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code));" +
      "setTimeout(() => done('timeout'), +process.argv[3]);";
    const r = await this.host(from).exec(process.execPath, [
      '-e',
      script,
      this.host(to).address,
      String(port),
      String(timeoutMs),
    ]);
    return r.stdout.trim() as 'open' | 'refused' | 'timeout';
  }

  /** Kills every process the lab started, deletes its namespaces and its folder. */
  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      const exits = [...this.children].map(
        (c) =>
          new Promise<void>((r) =>
            c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()),
          ),
      );
      for (const c of this.children) c.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(exits), new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
      this.destroySync();
    })();
    return this.destroyed;
  }

  /** destroy()'s synchronous part (also run at process exit). */
  destroySync(): void {
    for (const c of this.children) c.kill('SIGKILL');
    removeRecordSync(this.file, this.record);
    live.delete(this);
  }
}

function childOf(proc: Frozen): ChildProcess {
  return 'child' in proc && typeof proc.child === 'object' ? proc.child : (proc as ChildProcess);
}
