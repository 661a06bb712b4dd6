import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { IkcError } from '@ikc/wire';

/**
 * A channel's direction, as Forks::Super writes it: `<` the child writes and the parent
 * reads, `>` the parent writes and the child reads, `<>` both.
 */
export type ChannelDir = '<' | '>' | '<>';

/** `text` channels read as utf-8 strings, `binary` ones as Buffers (default). */
export type ChannelMode = 'text' | 'binary';

export interface ChannelSpec {
  /** A word (letters, digits, `_`); stdin, stdout and stderr are the standard three. */
  name: string;
  dir: ChannelDir;
  mode?: ChannelMode;
}

/**
 * The standard three: `normal` (stdin, stdout, stderr as pipes), `join` (stderr goes into
 * stdout; job.stderr ends at once), `quiet` (stdout and stderr go to /dev/null).
 */
export type ChannelPreset = 'normal' | 'join' | 'quiet';

/** A preset, or a list of named channels with at most one preset among them. */
export type ChannelOption = ChannelPreset | readonly (ChannelPreset | ChannelSpec)[];

export interface ChannelLayout {
  std: ChannelPreset;
  named: Required<ChannelSpec>[];
}

const PRESETS: ReadonlySet<string> = new Set(['normal', 'join', 'quiet']);
const STANDARD: ReadonlySet<string> = new Set(['stdin', 'stdout', 'stderr']);
const NAME = /^\w+$/;

function bad(message: string): IkcError {
  return new IkcError('IKC_ERR_INVALID_ARG', message);
}

/** Checks the `channels` option of a fork. */
export function parseChannels(option: ChannelOption | undefined): ChannelLayout {
  const layout: ChannelLayout = { std: 'normal', named: [] };
  if (option === undefined) return layout;
  const list = typeof option === 'string' ? [option] : option;
  if (!Array.isArray(list))
    throw bad(`job option channels must be a preset or an array, got ${typeof option}`);
  let presets = 0;
  const seen = new Set<string>();
  for (const item of list as (ChannelPreset | ChannelSpec)[]) {
    if (typeof item === 'string') {
      if (!PRESETS.has(item)) throw bad(`unknown channel preset "${item}" (normal, join or quiet)`);
      if (++presets > 1) throw bad('job option channels takes at most one preset');
      layout.std = item;
      continue;
    }
    if (typeof item !== 'object' || item === null) throw bad('a channel is { name, dir, mode? }');
    const { name, dir, mode = 'binary' } = item;
    if (typeof name !== 'string' || !NAME.test(name))
      throw bad(`a channel name must be a word, got ${String(name)}`);
    if (STANDARD.has(name))
      throw bad(`channel "${name}" is one of the standard three; choose a preset instead`);
    if (seen.has(name)) throw bad(`channel "${name}" is named twice`);
    if (dir !== '<' && dir !== '>' && dir !== '<>')
      throw bad(`channel "${name}": dir must be '<', '>' or '<>'`);
    if (mode !== 'text' && mode !== 'binary') throw bad(`channel "${name}": mode must be 'text' or 'binary'`);
    seen.add(name);
    layout.named.push({ name, dir, mode });
  }
  return layout;
}

/**
 * One channel on the parent's side. `fromChild` is what an execution writes the child's
 * output into (the parent reads it); `toChild` is what the parent writes and an execution
 * reads. Both exist from fork() on, so a caller can attach before the job starts; each is a
 * PassThrough with its usual buffer, so backpressure reaches the child's pipe.
 */
export class Channel {
  readonly fromChild: PassThrough | undefined;
  readonly toChild: PassThrough | undefined;
  /** What the parent is given: Readable for `<`, Writable for `>`, Duplex for `<>`. */
  readonly stream: Readable | Writable;
  /** Sources (one per attempt) still writing into fromChild. */
  private open = 0;
  private final = false;

  constructor(
    readonly name: string,
    readonly dir: ChannelDir,
    readonly mode: ChannelMode,
  ) {
    if (dir !== '>') {
      this.fromChild = new PassThrough();
      if (mode === 'text') this.fromChild.setEncoding('utf8');
    }
    if (dir !== '<') this.toChild = new PassThrough();
    if (this.fromChild && this.toChild) {
      const both = Duplex.from({ readable: this.fromChild, writable: this.toChild });
      if (mode === 'text') both.setEncoding('utf8');
      this.stream = both;
    } else {
      this.stream = (this.fromChild ?? this.toChild) as PassThrough;
    }
  }

  /**
   * An execution starts writing into fromChild; call the returned function when its source
   * closed. When no attempt can follow this one (`last`), that ends fromChild; otherwise a
   * retry may still write, and fromChild ends with the job.
   */
  source(last: boolean): () => void {
    this.open++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.open--;
      if (last) this.final = true;
      this.maybeEnd();
    };
  }

  /** No attempt will follow: end fromChild once the last source closed; drop what is written to toChild. */
  finish(): void {
    this.final = true;
    this.maybeEnd();
    // Nobody will read what the parent writes from now on; let its writes complete.
    this.toChild?.resume();
  }

  private maybeEnd(): void {
    if (this.final && this.open === 0 && this.fromChild && !this.fromChild.writableEnded)
      this.fromChild.end();
  }
}

/** Every channel of a job: the standard three and the named ones. */
export class JobChannels {
  readonly stdin: Channel;
  readonly stdout: Channel;
  readonly stderr: Channel;
  readonly named: Channel[];
  private readonly byName = new Map<string, Channel>();

  constructor(readonly layout: ChannelLayout) {
    this.stdin = new Channel('stdin', '>', 'binary');
    this.stdout = new Channel('stdout', '<', 'binary');
    this.stderr = new Channel('stderr', '<', 'binary');
    this.named = layout.named.map((c) => new Channel(c.name, c.dir, c.mode));
    for (const c of [this.stdin, this.stdout, this.stderr, ...this.named]) this.byName.set(c.name, c);
    // Nothing will ever come through these: end them now rather than when the job ends.
    if (layout.std !== 'normal') this.stderr.finish();
    if (layout.std === 'quiet') this.stdout.finish();
  }

  get(name: string): Channel | undefined {
    return this.byName.get(name);
  }

  /** Every channel: stdin, stdout, stderr, then the named ones. */
  all(): Channel[] {
    return [...this.byName.values()];
  }

  /** Ends every channel once its sources are done (the job will not run again). */
  finish(): void {
    for (const c of this.byName.values()) c.finish();
  }
}
