import { IkcError } from '@ikc/wire';

/**
 * The global event naming scheme: poe://KERNEL/SESSION[/EVENT].
 * KERNEL is a kernel name or id, `*` (any kernel that publishes SESSION) or empty (this one).
 */
export interface Spec {
  kernel: string;
  session: string;
  event?: string;
}

const PREFIX = 'poe://';

export function isSpec(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

function decode(part: string, spec: string): string {
  try {
    return decodeURIComponent(part);
  } catch (cause) {
    throw new IkcError(
      'IKC_ERR_BAD_SPEC',
      `bad specifier "${spec}": "${part}" is not valid percent-encoding`,
      {
        cause,
      },
    );
  }
}

/** Parsed specifiers, by text: a program posts to the same few over and over. */
const cache = new Map<string, Spec>();
const CACHE_MAX = 4_096;

/** Parses poe://KERNEL/SESSION[/EVENT]. The result is frozen (and may be shared). */
export function parseSpec(spec: string): Spec {
  const hit = cache.get(spec);
  if (hit) return hit;
  const parsed = Object.freeze(parseSpecUncached(spec));
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(spec, parsed);
  return parsed;
}

function parseSpecUncached(spec: string): Spec {
  if (!isSpec(spec)) {
    throw new IkcError('IKC_ERR_BAD_SPEC', `bad specifier "${spec}": it must start with ${PREFIX}`);
  }
  const parts = spec.slice(PREFIX.length).split('/');
  if (parts.length < 2 || parts.length > 3) {
    throw new IkcError(
      'IKC_ERR_BAD_SPEC',
      `bad specifier "${spec}": expected poe://KERNEL/SESSION or poe://KERNEL/SESSION/EVENT`,
    );
  }
  const [kernel, session, event] = parts.map((p) => decode(p, spec)) as [string, string, string | undefined];
  if (session === '') throw new IkcError('IKC_ERR_BAD_SPEC', `bad specifier "${spec}": the session is empty`);
  if (event === '') throw new IkcError('IKC_ERR_BAD_SPEC', `bad specifier "${spec}": the event is empty`);
  return event === undefined ? { kernel, session } : { kernel, session, event };
}

export function formatSpec(spec: Spec): string {
  const enc = (s: string) => (s === '*' ? s : encodeURIComponent(s));
  const base = `${PREFIX}${enc(spec.kernel)}/${enc(spec.session)}`;
  return spec.event === undefined ? base : `${base}/${enc(spec.event)}`;
}
