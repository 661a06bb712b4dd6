import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { IkcError } from '@ikc/wire';
import type { Channel } from './channels.js';
import { CHANNELS_ENV } from './child.js';
import { fromPlainError, howEnded } from './errors.js';
import type { AttemptExit, Execution, Launcher, LaunchRequest } from './execution.js';
import { type ReplyMessage, type RunMessage, type RunnerMessage, toPlainError } from './protocol.js';

/** The script a module job's child node runs. */
export const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));

/** Runs `cmd` with its stderr joined to its stdout by the shell, so the two keep their order. */
const JOIN_SCRIPT = 'exec "$@" 2>&1';

function ignore(): void {}

/** Errors a pipe gets when the other end has gone; the exit status says what happened. */
function quiet(stream: Readable | Writable): void {
  stream.on('error', ignore);
}

/**
 * Attempts as local child processes. Each runs in a process group of its own (spawned
 * detached: a new session), so a signal reaches the grandchildren too: `kill -pid`.
 */
export class LocalLauncher implements Launcher {
  launch(request: LaunchRequest): Execution {
    return new LocalExecution(request);
  }
}

class LocalExecution implements Execution {
  readonly pid: number | null;
  readonly done: Promise<AttemptExit>;
  private over = false;
  private readonly child: ChildProcess;
  private readonly last: boolean;

  constructor(request: LaunchRequest) {
    const { spec, channels } = request;
    this.last = request.last;
    const { std, named } = channels.layout;
    const isModule = spec.kind === 'module';
    const stdio: StdioOptions = [
      'pipe',
      std === 'quiet' ? 'ignore' : 'pipe',
      std === 'normal' ? 'pipe' : 'ignore',
      ...named.map(() => 'pipe' as const),
    ];
    // A module job's child may attach as a leaf kernel over a socket pair of its own (the
    // fd after the named channels); the IPC channel comes last.
    const leafFd = isModule && request.leafHost ? stdio.length : undefined;
    if (leafFd !== undefined) stdio.push('pipe');
    if (isModule) stdio.push('ipc');
    const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env, IKC_JOB_ID: request.id };
    if (named.length) env[CHANNELS_ENV] = named.map((c, i) => `${c.name}=${i + 3}`).join(',');
    else delete env[CHANNELS_ENV];
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];

    let file: string;
    let args: string[];
    if (isModule) {
      file = process.execPath;
      args = [RUNNER];
    } else if (std === 'join') {
      file = '/bin/sh';
      args = ['-c', JOIN_SCRIPT, 'sh', ...spec.argv];
    } else {
      file = spec.argv[0] as string;
      args = spec.argv.slice(1);
    }
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env,
      stdio,
      detached: true,
      serialization: isModule ? 'advanced' : 'json',
      windowsHide: true,
    });
    this.child = child;
    this.pid = child.pid ?? null;

    // What must happen before the attempt is over: the exit, the IPC channel's close (a
    // module job's result comes on it), the end of captured pipes.
    const waits: Promise<unknown>[] = [];
    const captured: { out?: Buffer[]; err?: Buffer[] } = {};
    let message: RunnerMessage | undefined;
    let spawnError: Error | undefined;

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => {
        // Only a failed spawn matters here; a failed kill() or send() is seen elsewhere.
        if (this.pid === null) {
          spawnError = err;
          resolve({ code: null, signal: null });
        }
      });
    });

    if (this.pid !== null) {
      this.wireStdin(channels.stdin, child.stdin as Writable, spec.stdin);
      const out = child.stdio[1] as Readable | null;
      const err = child.stdio[2] as Readable | null;
      if (out)
        waits.push(this.wireFrom(channels.stdout, out, spec.capture ? (captured.out = []) : undefined));
      if (err)
        waits.push(this.wireFrom(channels.stderr, err, spec.capture ? (captured.err = []) : undefined));
      named.forEach((c, i) => {
        const channel = channels.get(c.name) as Channel;
        const socket = child.stdio[i + 3] as unknown as Readable & Writable & { allowHalfOpen: boolean };
        socket.allowHalfOpen = true;
        if (c.dir !== '>') this.wireFrom(channel, socket, undefined);
        else socket.resume(); // the child never writes here; reading sees it close
        if (c.dir !== '<') this.wireTo(channel, socket);
        else socket.end();
      });
      if (isModule) {
        child.on('message', (m: RunnerMessage) => {
          if (m.t === 'post' || m.t === 'call') this.relay(request, m);
          else message = m;
        });
        waits.push(new Promise((resolve) => child.once('disconnect', resolve)));
        const run: RunMessage = {
          t: 'run',
          module: spec.moduleUrl,
          export: spec.exportName,
          args: spec.args,
          channels: named.map((c, i) => ({ ...c, fd: i + 3 })),
          join: std === 'join',
          id: request.id,
          name: spec.name,
        };
        if (leafFd !== undefined && request.leafHost) {
          const socket = child.stdio[leafFd] as unknown as Socket;
          quiet(socket);
          run.leaf = { ...request.leafHost(socket, request.id), fd: leafFd };
        }
        try {
          child.send(run);
        } catch (err) {
          spawnError = new IkcError(
            'IKC_ERR_INVALID_ARG',
            `the args of module job ${request.id} cannot be cloned`,
            {
              cause: err,
            },
          );
          this.signal('SIGKILL');
        }
      }
    }

    this.done = Promise.all([exited, ...waits]).then(([exit]) => {
      this.over = true;
      const { code, signal } = exit as { code: number | null; signal: NodeJS.Signals | null };
      const result: AttemptExit = { exitCode: code, signal };
      if (spawnError) result.error = spawnError;
      else if (message?.t === 'result') result.result = message.value;
      else if (message?.t === 'error') result.error = fromPlainError(message.error);
      else if (isModule) {
        result.error = new IkcError(
          'IKC_ERR_JOB_CRASHED',
          `module job ${request.id} (pid ${this.pid}) ended with ${howEnded(code, signal)} before its function returned`,
          { details: { job: request.id, pid: this.pid, exitCode: code, signal } },
        );
      }
      if (captured.out) result.stdoutText = Buffer.concat(captured.out).toString('utf8');
      if (captured.err) result.stderrText = Buffer.concat(captured.err).toString('utf8');
      return result;
    });
  }

  signal(signal: NodeJS.Signals): boolean {
    if (this.over || this.pid === null) return false;
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  }

  /** A module job's ctx.post or ctx.call: made on the kernel, as the job's owner. */
  private relay(request: LaunchRequest, m: Extract<RunnerMessage, { t: 'post' } | { t: 'call' }>): void {
    const { kernel, sender } = request;
    const target = typeof m.target === 'string' ? m.target : '';
    const rest = Array.isArray(m.rest) ? m.rest : [];
    const reply = (r: ReplyMessage) => {
      if (this.child.connected) this.child.send(r, (err) => err && undefined);
    };
    if (!kernel || !sender) {
      const error = new IkcError('IKC_ERR_INVALID_ARG', 'this job has no kernel to post or call through');
      if (m.t === 'call') reply({ t: 'reply', id: m.id, error: toPlainError(error) });
      return;
    }
    if (m.t === 'post') {
      try {
        kernel.postFrom(sender, target, rest[0], rest.slice(1));
      } catch (err) {
        kernel.reportError(sender, err as IkcError, { session: target });
      }
      return;
    }
    let pending: Promise<unknown>;
    try {
      pending = kernel.callFrom(sender, target, rest[0], rest.slice(1));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => {
        try {
          reply({ t: 'reply', id: m.id, value });
        } catch (err) {
          reply({ t: 'reply', id: m.id, error: toPlainError(err) });
        }
      },
      (err: unknown) => reply({ t: 'reply', id: m.id, error: toPlainError(err) }),
    );
  }

  /** Pipes a child's output into the channel; resolves when that pipe has closed. */
  private wireFrom(channel: Channel, source: Readable, capture: Buffer[] | undefined): Promise<void> {
    quiet(source);
    const closed = channel.source(this.last);
    if (capture) source.on('data', (chunk: Buffer) => capture.push(chunk));
    source.pipe(channel.fromChild as Writable, { end: false });
    return new Promise((resolve) => {
      source.once('close', () => {
        closed();
        resolve();
      });
    });
  }

  /** Pipes what the parent writes into the child, for as long as this attempt runs. */
  private wireTo(channel: Channel, sink: Writable): void {
    quiet(sink);
    const from = channel.toChild as Readable;
    if (from.readableEnded) {
      sink.end();
      return;
    }
    from.pipe(sink);
    this.child.once('exit', () => {
      from.unpipe(sink);
      // Not when the pipe ended it already: a second end() makes (and drops) an error, stack and all.
      if (!sink.writableEnded) sink.end();
    });
  }

  private wireStdin(channel: Channel, sink: Writable, data: string | Uint8Array | undefined): void {
    if (data === undefined) return this.wireTo(channel, sink);
    quiet(sink);
    sink.end(data);
  }
}
