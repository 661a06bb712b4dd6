import { IkcError, type RegistryFrame } from '@ikc/wire';
import type { Link } from './link.js';

/** A published session of another kernel, as its last REGISTRY said. */
export interface RemoteSessionInfo {
  id: string;
  aliases: string[];
  events: string[];
}

/** What this kernel knows of another: its published sessions and the link that leads to it. */
export interface KernelEntry {
  id: string;
  name: string;
  role: string;
  version: number;
  sessions: Map<string, RemoteSessionInfo>;
  /** The link its REGISTRY came in on (the way to reach it), or none when it was learned by
   * gossip (then it is reached directly, with a link opened on first need). */
  via: Link | undefined;
}

/** A change in what another kernel publishes, for monitors. */
export interface RegistryChange {
  type: 'register' | 'unregister' | 'publish' | 'retract';
  session: RemoteSessionInfo;
  events?: string[];
}

function strings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** The sessions of a REGISTRY frame, checked: `[id, aliases[], events[]]` each. */
export function parseSessions(frame: RegistryFrame): RemoteSessionInfo[] {
  return frame.sessions.map((entry, i) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !strings(entry[1]) || !strings(entry[2])) {
      throw new IkcError(
        'IKC_ERR_PROTOCOL',
        `REGISTRY of ${frame.kernelName}: session ${i} must be [id, aliases[], events[]]`,
      );
    }
    return { id: entry[0], aliases: entry[1], events: entry[2] };
  });
}

/**
 * The published sessions of every other kernel this one has heard of, by kernel. Each
 * REGISTRY replaces its kernel's entry when its version is newer; `apply` says what changed.
 */
export class Registry {
  private readonly kernels = new Map<string, KernelEntry>();

  get(id: string): KernelEntry | undefined {
    return this.kernels.get(id);
  }

  /** By id, or by name. */
  find(kernel: string): KernelEntry | undefined {
    const byId = this.kernels.get(kernel);
    if (byId) return byId;
    for (const entry of this.kernels.values()) if (entry.name === kernel) return entry;
    return undefined;
  }

  all(): KernelEntry[] {
    return [...this.kernels.values()];
  }

  /** Applies a REGISTRY that came in on `via`. Returns undefined for a stale one. */
  apply(
    frame: RegistryFrame,
    via: Link | undefined,
  ): { entry: KernelEntry; isNew: boolean; changes: RegistryChange[] } | undefined {
    const old = this.kernels.get(frame.kernelId);
    if (old && old.version >= frame.version) return undefined;
    const sessions = new Map(parseSessions(frame).map((s) => [s.id, s]));
    const entry: KernelEntry = {
      id: frame.kernelId,
      name: frame.kernelName,
      role: frame.role,
      version: frame.version,
      sessions,
      via,
    };
    this.kernels.set(entry.id, entry);
    return { entry, isNew: !old, changes: diff(old?.sessions ?? new Map(), sessions) };
  }

  /** Forgets a kernel; returns its entry (and, as changes, every session it had). */
  remove(id: string): { entry: KernelEntry; changes: RegistryChange[] } | undefined {
    const entry = this.kernels.get(id);
    if (!entry) return undefined;
    this.kernels.delete(id);
    return { entry, changes: diff(entry.sessions, new Map()) };
  }

  /** Kernels whose registry came through the peer `peerId` (it and what it relays). */
  reachedThrough(peerId: string): KernelEntry[] {
    return this.all().filter((e) => e.via?.peer?.id === peerId);
  }

  /** Every kernel that publishes a session with this alias (or id), with that session. */
  publishers(alias: string): { entry: KernelEntry; session: RemoteSessionInfo }[] {
    const out: { entry: KernelEntry; session: RemoteSessionInfo }[] = [];
    for (const entry of this.kernels.values()) {
      const session = sessionIn(entry, alias);
      if (session) out.push({ entry, session });
    }
    return out;
  }
}

/** The session of `entry` named by an alias or an id. */
export function sessionIn(entry: KernelEntry, name: string): RemoteSessionInfo | undefined {
  const byId = entry.sessions.get(name);
  if (byId) return byId;
  for (const s of entry.sessions.values()) if (s.aliases.includes(name)) return s;
  return undefined;
}

function diff(
  before: Map<string, RemoteSessionInfo>,
  after: Map<string, RemoteSessionInfo>,
): RegistryChange[] {
  const changes: RegistryChange[] = [];
  for (const [id, s] of after) {
    const was = before.get(id);
    if (!was) {
      changes.push({ type: 'register', session: s });
      if (s.events.length) changes.push({ type: 'publish', session: s, events: s.events });
      continue;
    }
    const added = s.events.filter((e) => !was.events.includes(e));
    const removed = was.events.filter((e) => !s.events.includes(e));
    if (added.length) changes.push({ type: 'publish', session: s, events: added });
    if (removed.length) changes.push({ type: 'retract', session: s, events: removed });
  }
  for (const [id, s] of before) if (!after.has(id)) changes.push({ type: 'unregister', session: s });
  return changes;
}
