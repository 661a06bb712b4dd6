import { Command, CommanderError } from 'commander';
import type { GlobalOptions } from './connect.js';
import { describeError, EXIT, exitCodeFor } from './exit.js';
import { call } from './verbs/call.js';
import { type ForkOptions, fork } from './verbs/fork.js';
import { type KernelOptions, kernel } from './verbs/kernel.js';
import { jobs, ls, peers } from './verbs/listings.js';
import { monitor } from './verbs/monitor.js';
import { post } from './verbs/post.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The `ikc` command, as a commander program whose actions set `result.code`; `argv` as given. */
function program(result: { code: number }, argv: string[]): Command {
  const run = (work: () => Promise<number>) => async () => {
    result.code = await work();
  };
  const ikc = new Command('ikc')
    .description(
      "ikc: a cloud of POE-style kernels. Exit codes: 0 ok, 1 the event or job failed, 2 bad usage or configuration, 3 no kernel reachable or timed out (ikc fork: the job's own exit code).",
    )
    .option('--config <file>', 'configuration file (else $POE_CONF, ~/.poe.conf, /etc/poe.conf)')
    .option(
      '--kernel <url>',
      "the host kernel to attach to: a UNIX socket path, ws://HOST:PORT or wss://HOST:PORT (wss needs kernel.tls) (default: the config's kernel.socket)",
    )
    .option('--timeout <seconds>', 'give up on the kernel after this long (default: mesh.callTimeoutMs)')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  const globals = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions;

  ikc
    .command('kernel')
    .description("run this host's kernel until SIGINT/SIGTERM")
    .option('--name <name>', 'kernel name (overrides kernel.name)')
    .option('--listen <host:port>', 'ws endpoint for other kernels (overrides kernel.listen)')
    .option('--session <module>', 'start this session module too (repeatable)', collect)
    .action((_opts, cmd: Command) => run(() => kernel(cmd.optsWithGlobals() as KernelOptions))());

  ikc
    .command('post')
    .description('post an event; ARGs are JSON where they parse as JSON, else strings')
    .argument(
      '<spec>',
      'poe://KERNEL/SESSION/EVENT (empty KERNEL: the host kernel; *: any that publishes SESSION)',
    )
    .argument('[args...]', 'event arguments')
    .action((spec: string, args: string[], _opts, cmd: Command) =>
      run(() => post(spec, args, globals(cmd)))(),
    );

  ikc
    .command('call')
    .description('call an event and print its result as JSON')
    .argument('<spec>', 'poe://KERNEL/SESSION/EVENT')
    .argument('[args...]', 'event arguments: JSON where they parse as JSON, else strings')
    .action((spec: string, args: string[], _opts, cmd: Command) =>
      run(() => call(spec, args, globals(cmd)))(),
    );

  ikc
    .command('peers')
    .description('kernels in the cloud: name, id, address, state, rtt')
    .option('--json', 'print JSON')
    .action((_opts, cmd: Command) => run(() => peers(globals(cmd)))());

  ikc
    .command('ls')
    .description('sessions of a kernel (default: the host kernel): id, aliases, published events')
    .argument('[kernel]', 'kernel name or id')
    .option('--json', 'print JSON')
    .action((k: string | undefined, _opts, cmd: Command) => run(() => ls(k, globals(cmd)))());

  ikc
    .command('jobs')
    .description(
      'the job queue of a kernel (default: the host kernel): id, name, state, pid, kernel, started, ended',
    )
    .argument('[kernel]', 'kernel name or id')
    .option('--json', 'print JSON')
    .action((k: string | undefined, _opts, cmd: Command) => run(() => jobs(k, globals(cmd)))());

  ikc
    .command('fork')
    .description(
      "run a command as a job on a kernel (default: the host kernel); its stdin, stdout and stderr are this command's, SIGINT and SIGTERM go to it, and this command exits with its exit code (128+N for signal N)",
    )
    .usage('[options] -- CMD [ARG...]')
    .option(
      '--on <kernel>',
      'run it there: a kernel name or id, or * for the least-loaded kernel that allows it',
    )
    .option('--env <name=value>', "set a variable over the kernel's environment (repeatable)", collect)
    .option('--cwd <dir>', "the job's working directory (default: the kernel's)")
    .option('-n, --no-stdin', 'do not read stdin: the job sees EOF at once (for background use)')
    .argument('[command...]', 'the command and its arguments, after --')
    .addHelpText(
      'after',
      "\nThe global --timeout S is the job's timeout: after S seconds it is killed (SIGTERM, then SIGKILL) and ikc exits 3 with IKC_ERR_JOB_TIMEOUT.",
    )
    .action((command: string[], _opts, cmd: Command) => {
      // The command must follow `--`, so that its options are never taken for ikc's.
      const dash = argv.indexOf('--');
      if (dash < 0 || command.length === 0 || command.length !== argv.length - dash - 1) {
        cmd.error(
          `error: ikc fork takes the command after --: ikc fork [--on KERNEL|*] [--timeout S] -- CMD [ARG...]`,
          { exitCode: EXIT.USAGE, code: 'ikc.usage' },
        );
      }
      return run(() => fork(command, cmd.optsWithGlobals() as ForkOptions))();
    });

  ikc
    .command('monitor')
    .description('cloud events as they happen, one per line, until Ctrl-C')
    .option('--json', 'print JSON lines')
    .action((_opts, cmd: Command) => run(() => monitor(globals(cmd)))());

  return ikc;
}

/** Runs `ikc` with these arguments (without node and script); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const result = { code: EXIT.OK as number };
  try {
    await program(result, argv).parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with code 0; anything else commander refuses is bad usage.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    process.stderr.write(`${describeError(err)}\n`);
    return exitCodeFor(err);
  }
}
