/**
 * The mesh's tunables. Their defaults, with units, live with every other default in
 * @ikc/config (one table, checked against poe.conf.example).
 */
export { defaultTuning, type MeshTuning } from '@ikc/config';

/** The port a kernel listens on for other kernels when none is configured. */
export const DEFAULT_PORT = 6603;
