import { IkcError } from '@ikc/wire';

/**
 * Every tunable of the protocol, with its unit in its name (Ms: milliseconds) or in its
 * comment. Defaults are memberlist's LAN profile where memberlist has the same knob.
 */
export interface MembershipOptions {
  /** Time between two probes of one member by this member, before awareness scaling. */
  probeIntervalMs: number;
  /** Wait for a direct ack before asking others to probe indirectly, before awareness scaling. */
  probeTimeoutMs: number;
  /** Members asked to probe a silent member on our behalf (SWIM's k). */
  indirectChecks: number;
  /** More direct pings of a silent member, sent with the ping-reqs and spread over the rest of the period. */
  directRetries: number;
  /** Suspicion timeout floor: suspicionMult × max(1, log10(N)) × probeIntervalMs. */
  suspicionMult: number;
  /** Suspicion timeout ceiling, as a multiple of the floor. */
  suspicionMaxTimeoutMult: number;
  /** Independent confirmations that drive a suspicion timeout from its ceiling to its floor. */
  suspicionConfirmations: number;
  /** Lifeguard health score ceiling: timeouts are multiplied by (score + 1) ≤ this. */
  awarenessMax: number;
  /** Each update is sent retransmitMult × ceil(log10(N + 1)) times by each member that learns it. */
  retransmitMult: number;
  /** Time between two gossip rounds (only sent when updates are pending). */
  gossipIntervalMs: number;
  /** Members sent one gossip message each per round (the fanout). */
  gossipNodes: number;
  /** How long a member declared dead still receives gossip, so it can learn of it and refute. */
  gossipToTheDeadMs: number;
  /** Time between two full state exchanges with one random member, for clusters up to pushPullScaleThreshold. */
  pushPullIntervalMs: number;
  /** Members above which the push-pull and reconnect intervals grow in proportion to N. */
  pushPullScaleThreshold: number;
  /** Time between two attempts to exchange state with one random dead member (heals partitions). */
  reconnectIntervalMs: number;
  /** How long dead members are kept, tried by reconnects and reported; then forgotten. */
  reconnectTimeoutMs: number;
  /** How long members that left are kept (so stale gossip cannot revive them); then forgotten. */
  tombstoneTimeoutMs: number;
  /** Size budget of one probe or gossip message, in bytes (estimated msgpack size). */
  packetBytes: number;
  /** How long join() waits for seeds to answer. */
  joinTimeoutMs: number;
  /** How long leave() keeps gossiping the departure at most before it stops. */
  leaveTimeoutMs: number;
}

/** memberlist's LAN profile: probe 1 s, probe timeout 500 ms, gossip 200 ms to 3 members. */
export function defaultOptions(): MembershipOptions {
  return {
    probeIntervalMs: 1_000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    directRetries: 3,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    suspicionConfirmations: 2,
    awarenessMax: 8,
    retransmitMult: 4,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadMs: 30_000,
    pushPullIntervalMs: 30_000,
    pushPullScaleThreshold: 32,
    reconnectIntervalMs: 30_000,
    reconnectTimeoutMs: 24 * 3_600_000,
    tombstoneTimeoutMs: 24 * 3_600_000,
    packetBytes: 1_400,
    joinTimeoutMs: 5_000,
    leaveTimeoutMs: 5_000,
  };
}

/** Defaults overridden by `partial`; throws IKC_ERR_INVALID_ARG naming the first bad key. */
export function resolveOptions(partial: Partial<MembershipOptions> = {}): MembershipOptions {
  const options = { ...defaultOptions(), ...partial };
  for (const [key, value] of Object.entries(options)) {
    if (!(key in defaultOptions())) {
      throw new IkcError('IKC_ERR_INVALID_ARG', `unknown membership option "${key}"`, { details: { key } });
    }
    const zeroOk = key === 'suspicionConfirmations' || key === 'indirectChecks' || key === 'directRetries';
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `membership option "${key}" must be a ${zeroOk ? 'non-negative' : 'positive'} number, got ${String(value)}`,
        { details: { key, value } },
      );
    }
  }
  if (options.probeTimeoutMs >= options.probeIntervalMs) {
    throw new IkcError(
      'IKC_ERR_INVALID_ARG',
      'membership option "probeTimeoutMs" must be below "probeIntervalMs"',
      {
        details: { key: 'probeTimeoutMs', value: options.probeTimeoutMs },
      },
    );
  }
  return options;
}

/** Suspicion timeout floor for a cluster of `n` members, as memberlist computes it. */
export function suspicionTimeoutMs(options: MembershipOptions, n: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(options.suspicionMult * scale * options.probeIntervalMs);
}

/**
 * How much longer push-pull and reconnect intervals get with `n` members: 1 up to the
 * threshold, then n / threshold. Linear (memberlist's is logarithmic) because each exchange
 * carries all n records: the per-member cost of anti-entropy then stays flat as N grows,
 * and the whole cluster still runs about threshold / interval exchanges per second.
 */
export function pushPullScale(options: MembershipOptions, n: number): number {
  return Math.max(1, n / options.pushPullScaleThreshold);
}
