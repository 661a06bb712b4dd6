// End-to-end tests of `ikc fork` and `ikc jobs`: the real `ikc` binary against two `ikc kernel`
// processes, alpha (the CLI's host kernel) and beta (seeded to alpha, forking only what its
// jobs.allow lists for others). Which kernel ran a job is told by its parent process: a job is
// a child of the kernel process that forked it (`echo $PPID`).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CliSandbox, type IkcKernel, type IkcProc, kernelConfig } from './harness/cli.js';
import { eventually } from './harness/kernels.js';

interface JobRow {
  id: string;
  name: string;
  kernel: string;
  state: string;
  cmd?: string[];
  pid: number | null;
  startedAt: number | null;
  endedAt: number | null;
}

interface JobsReport {
  kernel: string;
  maxProc: number;
  active: number;
  waiting: number;
  jobs: JobRow[];
}

/** True while a process with this pid exists (a zombie counts). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Sequential: the `*` tests steer by load, which other tests' jobs would change.
describe('ikc fork and ikc jobs against ikc kernels alpha and beta', { concurrency: 1 }, () => {
  let box: CliSandbox;
  let alpha: IkcKernel;
  let beta: IkcKernel;
  const cloud = { name: 'cli-fork', secret: 'cli-fork-secret' };

  /** `ikc jobs [KERNEL] --json`, parsed. */
  async function jobsOf(kernel?: string): Promise<JobsReport> {
    const r = await box.run(['jobs', ...(kernel ? [kernel] : []), '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JobsReport;
  }

  /** A background `ikc fork ARGS -- sh -c 'echo $$; exec sleep 30'` and the job's pid, once it runs. */
  async function sleeper(args: string[] = []): Promise<{ proc: IkcProc; pid: number }> {
    const proc = box.spawn(['fork', ...args, '--', 'sh', '-c', 'echo $$; exec sleep 30']);
    await proc.waitFor(/^\d+\n/);
    return { proc, pid: Number(proc.stdout().trim()) };
  }

  before(async () => {
    box = new CliSandbox();
    const alphaConf = box.writeConfig(
      'alpha.json',
      kernelConfig(box, 'alpha', { cloud, jobs: { maxProc: 2 } }),
    );
    alpha = await box.startKernel(['--config', alphaConf]);
    const betaConf = box.writeConfig(
      'beta.json',
      kernelConfig(box, 'beta', {
        cloud: { ...cloud, seeds: [`ws://${alpha.listen}`] },
        jobs: { allow: ['sh', 'cat', 'sleep'], maxProc: 1 },
      }),
    );
    beta = await box.startKernel(['--config', betaConf]);
    box.writeConfig('.poe.conf', { kernel: { socket: alpha.socket }, cloud: { ...cloud, mdns: false } });
    await eventually(
      async () => {
        const r = await box.run(['ls', 'beta', '--json']);
        return r.code === 0 && r.stdout.includes('"ikc.jobs"');
      },
      30_000,
      'the CLI to see that beta forks jobs (ikc.jobs)',
    );
  });

  after(() => box?.cleanup());

  describe('streams and exit status', { concurrency: 1 }, () => {
    it('runs on the host kernel by default; stdout and stderr arrive, each on its own', async () => {
      const r = await box.run([
        'fork',
        '--',
        'sh',
        '-c',
        'echo "out $PPID"; echo err1 >&2; echo out2; echo err2 >&2',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `out ${alpha.child.pid}\nout2\n`, 'a child of alpha, the host kernel');
      assert.equal(r.stderr, 'err1\nerr2\n');
    });

    it("stdin is piped to the job and ended at this command's EOF", async () => {
      const r = await box.run(['fork', '--', 'tr', 'a-z', 'A-Z'], { input: 'hello world\nagain\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'HELLO WORLD\nAGAIN\n');
      // An empty stdin (/dev/null) is EOF at once: cat ends instead of waiting for input.
      const empty = await box.run(['fork', '--', 'cat'], { timeoutMs: 15_000 });
      assert.deepEqual({ code: empty.code, stdout: empty.stdout }, { code: 0, stdout: '' }, empty.stderr);
    });

    it('-n (--no-stdin) does not read stdin: the job sees EOF at once', async () => {
      const r = await box.run(['fork', '-n', '--', 'sh', '-c', 'wc -c'], { input: 'not for the job\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '0');
    });

    it('megabytes go through both ways, whole and in order, to a job on another kernel', async () => {
      // Beyond the channels' credit window (1 MiB) and every buffer on the way: leaf -> alpha -> beta.
      const input = randomBytes(3 * 1024 * 1024).toString('base64');
      const r = await box.run(['fork', '--on', 'beta', '--', 'cat'], { input, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, input.length);
      assert.ok(r.stdout === input, 'what came back is what went in');
    });

    it("exits with the job's exit code, and says nothing of its own", async () => {
      const r = await box.run(['fork', '--', 'sh', '-c', 'echo before; exit 7']);
      assert.deepEqual(
        { code: r.code, stdout: r.stdout, stderr: r.stderr },
        { code: 7, stdout: 'before\n', stderr: '' },
      );
    });

    it('a job killed by signal N exits 128+N', async () => {
      const term = await box.run(['fork', '--', 'sh', '-c', 'kill -TERM $$']);
      assert.equal(term.code, 128 + 15, term.stderr);
      const usr1 = await box.run(['fork', '--', 'sh', '-c', 'kill -USR1 $$']);
      assert.equal(usr1.code, 128 + 10, usr1.stderr);
    });

    it('a reader that goes away ends the job with SIGPIPE (exit 141)', async () => {
      const proc = box.spawn(['fork', '--', 'sh', '-c', 'while :; do echo y; done']);
      await proc.waitFor('y\n');
      proc.child.stdout?.destroy();
      const exit = await proc.exited;
      assert.equal(exit.code, 128 + 13, proc.stderr());
    });
  });

  describe('signals', { concurrency: 1 }, () => {
    it('SIGINT to ikc goes to the job: ikc exits 130 and the job is gone', async () => {
      const { proc, pid } = await sleeper();
      assert.ok(alive(pid), `job ${pid} runs`);
      proc.child.kill('SIGINT');
      const exit = await proc.exited;
      assert.deepEqual(exit, { code: 130, signal: null }, proc.stderr());
      assert.ok(!alive(pid), `job ${pid} is gone`);
    });

    it('the job gets the very signal: its traps run, and their exit code is the answer', async () => {
      for (const signal of ['INT', 'TERM'] as const) {
        const mark = box.path(`trapped-${signal}`);
        const proc = box.spawn([
          'fork',
          '--',
          'sh',
          '-c',
          `trap 'echo ${signal} > "${mark}"; exit 42' ${signal}; echo ready; while :; do sleep 0.05; done`,
        ]);
        await proc.waitFor('ready\n');
        proc.child.kill(`SIG${signal}`);
        const exit = await proc.exited;
        assert.deepEqual(exit, { code: 42, signal: null }, proc.stderr());
        assert.equal(readFileSync(mark, 'utf8'), `${signal}\n`);
      }
    });

    it('SIGTERM to ikc ends a job on another kernel with 143', async () => {
      const { proc, pid } = await sleeper(['--on', 'beta']);
      proc.child.kill('SIGTERM');
      const exit = await proc.exited;
      assert.deepEqual(exit, { code: 143, signal: null }, proc.stderr());
      assert.ok(!alive(pid), `job ${pid} on beta is gone`);
    });

    it('ikc killed outright (SIGKILL): its host kernel ends the orphaned job', async () => {
      const { proc, pid } = await sleeper();
      await proc.stop('SIGKILL');
      await eventually(() => !alive(pid), 10_000, `job ${pid} to be ended by alpha`);
    });

    it('--timeout S kills the job after S seconds: exit 3 with IKC_ERR_JOB_TIMEOUT', async () => {
      const started = Date.now();
      const r = await box.run(['fork', '--timeout', '0.5', '--', 'sh', '-c', 'echo $$; exec sleep 30']);
      const took = Date.now() - started;
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^IKC_ERR_JOB_TIMEOUT: .*timeout of 0\.5 s/m);
      assert.ok(took < 10_000, `took ${took} ms, not the job's 30 s`);
      assert.ok(!alive(Number(r.stdout.trim())), 'the job is gone');
    });
  });

  describe('where it runs', { concurrency: 1 }, () => {
    it('--on beta runs it on beta', async () => {
      const r = await box.run(['fork', '--on', 'beta', '--', 'sh', '-c', 'echo $PPID']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${beta.child.pid}\n`);
    });

    it("a command beta's jobs.allow does not list exits 1 with IKC_ERR_JOB_NOT_ALLOWED, and nothing ran", async () => {
      const marker = box.path('not-allowed');
      const r = await box.run(['fork', '--on', 'beta', '--', 'touch', marker]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^IKC_ERR_JOB_NOT_ALLOWED: .*"touch"/m);
      assert.equal(r.stdout, '');
      assert.ok(!existsSync(marker), 'touch did not run');
      // The host kernel trusts its own leaves: the same command runs there.
      const here = await box.run(['fork', '--', 'touch', marker]);
      assert.equal(here.code, 0, here.stderr);
      assert.ok(existsSync(marker));
    });

    it('a command that does not exist exits 1 with the spawn error (ENOENT)', async () => {
      const r = await box.run(['fork', '--', 'no-such-command-for-ikc']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^ENOENT: .*no-such-command-for-ikc/m);
    });

    it('--on a kernel nobody knows exits 3 (IKC_ERR_UNREACHABLE)', async () => {
      const r = await box.run(['fork', '--on', 'ghost', '--', 'true']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^IKC_ERR_UNREACHABLE: .*ghost/m);
    });

    it("--on '*' runs it on a kernel that allows it", async () => {
      // env is not in beta's jobs.allow; alpha, the host, runs anything for its own leaves.
      const r = await box.run(['fork', '--on', '*', '--', 'env', 'sh', '-c', 'echo $PPID']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${alpha.child.pid}\n`);
    });

    it("--on '*' picks the least-loaded kernel", async () => {
      const where = async () => {
        const r = await box.run(['fork', '--on', '*', '--', 'sh', '-c', 'echo $PPID']);
        assert.equal(r.code, 0, r.stderr);
        return Number(r.stdout.trim());
      };
      // beta (maxProc 1) busy: alpha.
      const onBeta = await sleeper(['--on', 'beta']);
      assert.equal(await where(), alpha.child.pid);
      await onBeta.proc.stop('SIGTERM');
      // alpha (maxProc 2) busy: beta.
      const onAlpha = [await sleeper(), await sleeper()];
      assert.equal((await jobsOf()).active, 2);
      assert.equal(await where(), beta.child.pid);
      await Promise.all(onAlpha.map((s) => s.proc.stop('SIGTERM')));
    });
  });

  describe('ikc jobs', { concurrency: 1 }, () => {
    it('--json lists a running job with its id, name, state, pid, kernel and times', async () => {
      const { proc, pid } = await sleeper();
      const report = await jobsOf();
      assert.equal(report.kernel, 'alpha');
      assert.equal(report.maxProc, 2);
      assert.equal(report.active, 1);
      const job = report.jobs.find((j) => j.pid === pid);
      assert.ok(job, `job ${pid} in ${JSON.stringify(report)}`);
      assert.equal(job.state, 'active');
      assert.equal(job.kernel, 'alpha');
      assert.equal(job.name, 'sh');
      assert.deepEqual(job.cmd, ['sh', '-c', 'echo $$; exec sleep 30']);
      assert.match(job.id, /^[\w-]{21}\.j\d+$/);
      assert.equal(typeof job.startedAt, 'number');
      assert.equal(job.endedAt, null);
      // The table shows the same job.
      const table = await box.run(['jobs']);
      assert.equal(table.code, 0, table.stderr);
      const [summary, header, ...rows] = table.stdout.trimEnd().split('\n');
      assert.equal(summary, 'alpha: 1 active, 0 waiting, maxProc 2');
      assert.match(header ?? '', /^ID\s+NAME\s+STATE\s+PID\s+KERNEL\s+STARTED\s+ENDED\s+EXIT$/);
      const row = rows.find((l) => l.startsWith(`${job.id} `))?.split(/\s+/);
      assert.deepEqual(row?.slice(1, 5), ['sh', 'active', String(pid), 'alpha'], table.stdout);
      await proc.stop('SIGINT');
      // Reaped once it ended: the listing forgets it.
      await eventually(
        async () => !(await jobsOf()).jobs.some((j) => j.id === job.id),
        10_000,
        'the job to leave the list',
      );
    });

    it('ikc jobs KERNEL lists the queue of that kernel', async () => {
      const { proc, pid } = await sleeper(['--on', 'beta']);
      const report = await jobsOf('beta');
      assert.equal(report.kernel, 'beta');
      assert.equal(report.maxProc, 1);
      const job = report.jobs.find((j) => j.pid === pid);
      assert.equal(job?.state, 'active', JSON.stringify(report));
      assert.equal(job?.kernel, 'beta');
      assert.ok(!(await jobsOf()).jobs.some((j) => j.pid === pid), 'not on alpha');
      await proc.stop('SIGTERM');
    });

    it('a kernel nobody knows exits 3', async () => {
      const r = await box.run(['jobs', 'ghost']);
      assert.equal(r.code, 3, r.stderr);
    });
  });

  describe('usage and no kernel', { concurrency: 1 }, () => {
    // A CLI whose kernel is not there: exit 2 shows the usage was refused before attaching.
    const nowhere = () =>
      box.writeConfig('nowhere.json', { kernel: { socket: box.path('none.sock') }, cloud });

    it('--help shows fork and jobs, and fork --help its usage', async () => {
      const top = await box.run(['--help']);
      assert.equal(top.code, 0, top.stderr);
      assert.match(top.stdout, /^\s+fork\b/m);
      assert.match(top.stdout, /^\s+jobs\b/m);
      const r = await box.run(['fork', '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: ikc fork \[options\] -- CMD \[ARG\.\.\.\]/);
      assert.match(r.stdout, /--on <kernel>[\s\S]*--env <name=value>[\s\S]*--cwd <dir>[\s\S]*--no-stdin/);
      assert.match(r.stdout, /--timeout S is the job's timeout/);
    });

    it("ikc kernel's banner shows fork, and not its own ikc.jobs session as one of the user's", () => {
      const banner = alpha.stdout();
      assert.match(banner, /^sessions: none$/m, banner);
      assert.match(banner, /^ {2}npx ikc --config \S+ fork -- uname -a$/m, banner);
      assert.doesNotMatch(banner, /ikc\.jobs/, banner);
    });

    it('bad usage exits 2: no --, no command, --env without =, --timeout that is no number', async () => {
      const config = nowhere();
      for (const args of [
        ['fork', 'echo', 'hi'],
        ['fork', '--'],
        ['fork'],
        ['fork', 'echo', '--', 'hi'],
        ['fork', '--env', 'NOEQUALS', '--', 'true'],
        ['fork', '--timeout', 'soon', '--', 'true'],
        ['fork', '--bogus', '--', 'true'],
      ]) {
        const r = await box.run(['--config', config, ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.notEqual(r.stderr, '', args.join(' '));
      }
    });

    it("options after -- are the command's: --env, --cwd and --timeout are ikc's before it", async () => {
      const r = await box.run([
        'fork',
        '--env',
        'IKC_TEST_A=one',
        '--cwd',
        box.dir,
        '--',
        'sh',
        '-c',
        'echo "$IKC_TEST_A $(pwd) $*"',
        'sh',
        '--timeout',
        '--on',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `one ${box.dir} --timeout --on\n`);
    });

    it('no kernel exits 3 with IKC_ERR_CONNECT', async () => {
      const marker = box.path('no-kernel');
      const r = await box.run(['--config', nowhere(), 'fork', '--', 'touch', marker]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /IKC_ERR_CONNECT/);
      assert.ok(!existsSync(marker));
    });
  });

  // Last: gamma leaves the cloud for good, and the `*` tests above must not see it.
  describe('a kernel that dies', { concurrency: 1 }, () => {
    it('a job whose kernel dies ends ikc with 1 and IKC_ERR_JOB_LOST, not a hang', async () => {
      const gammaConf = box.writeConfig(
        'gamma.json',
        kernelConfig(box, 'gamma', {
          cloud: { ...cloud, seeds: [`ws://${alpha.listen}`] },
          jobs: { allow: ['sh'] },
        }),
      );
      const gamma = await box.startKernel(['--config', gammaConf]);
      await eventually(
        async () => (await box.run(['ls', 'gamma', '--json'])).stdout.includes('"ikc.jobs"'),
        30_000,
        'the CLI to see gamma',
      );
      const { proc, pid } = await sleeper(['--on', 'gamma']);
      try {
        await gamma.stop('SIGKILL');
        const exit = await proc.exited;
        assert.deepEqual(exit, { code: 1, signal: null }, proc.stderr());
        assert.match(proc.stderr(), /^IKC_ERR_JOB_LOST: .*gamma/m);
      } finally {
        // Its kernel was killed (SIGKILL) before it could end the job: the job is ours to end.
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    });
  });
});
