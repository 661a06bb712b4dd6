/**
 * @ikc/kernel — the local kernel: sessions, events, timers, signals and aliases, with POE's
 * semantics. No sockets.
 */
export { Kernel, TERMINAL_SIGNALS, type KernelOptions, type Target } from './kernel.js';
export { Session, type SessionDefinition, type SessionInfo, type Handler, type Events } from './session.js';
export { Context } from './context.js';
export { type Clock, systemClock, FakeClock } from './clock.js';
export { Monitor, type MonitorEvent, type MonitorCallback, MONITOR_BUFFER_EVENTS } from './monitor.js';
export { type Spec, parseSpec, formatSpec, isSpec } from './spec.js';
export { IkcError } from '@ikc/wire';
