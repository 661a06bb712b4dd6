/**
 * Every tunable of the mesh in one place, each with its unit. startKernel() and attach()
 * take overrides under `mesh` in their options; docs/api.md lists them.
 */
export interface MeshTuning {
  /** A handshake not finished by then is cut (milliseconds). */
  handshakeTimeoutMs: number;
  /** A call with no timeout of its own fails after this long (milliseconds). */
  callTimeoutMs: number;
  /** How often an idle link sends PING, which also measures round-trip time (milliseconds). */
  pingIntervalMs: number;
  /** A link that hears nothing for this long is declared dead and closed (milliseconds). */
  deadAfterMs: number;
  /** First delay before redialing a seed after a drop (milliseconds); doubles each try. */
  reconnectMinMs: number;
  /** Longest delay between redials (milliseconds). A random 0-50% is added as jitter. */
  reconnectMaxMs: number;
  /** Calls a peer may have in flight on one link before more are refused with IKC_ERR_OVERLOADED (calls). */
  maxInflightCalls: number;
  /** Proxies kept for remote senders that are not otherwise known, oldest dropped first (proxies). */
  maxSenderProxies: number;
}

export function defaultTuning(): MeshTuning {
  return {
    handshakeTimeoutMs: 5_000,
    callTimeoutMs: 30_000,
    pingIntervalMs: 2_000,
    deadAfterMs: 10_000,
    reconnectMinMs: 100,
    reconnectMaxMs: 5_000,
    maxInflightCalls: 10_000,
    maxSenderProxies: 10_000,
  };
}

/** The port a kernel listens on for other kernels when none is configured. */
export const DEFAULT_PORT = 6603;
