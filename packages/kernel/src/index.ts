/**
 * @ikc/kernel — the local kernel: sessions, events, timers, signals and aliases, with POE's
 * semantics. No sockets.
 */

export { IkcError } from '@ikc/wire';
export { type Clock, FakeClock, systemClock } from './clock.js';
export { Context } from './context.js';
export { withDeadline } from './deadline.js';
export type { ForkedJob, ForkedPool, Forker, ForkOptions, PoolOptions } from './fork.js';
export { Kernel, type KernelOptions, type Router, type Target, TERMINAL_SIGNALS } from './kernel.js';
export {
  MONITOR_BUFFER_EVENTS,
  Monitor,
  type MonitorCallback,
  type MonitorEvent,
  type MonitorOptions,
} from './monitor.js';
export {
  type CallOptions,
  type Events,
  type Handler,
  type RemoteEndpoint,
  Session,
  type SessionDefinition,
  type SessionInfo,
} from './session.js';
export { formatSpec, isSpec, parseSpec, type Spec } from './spec.js';
