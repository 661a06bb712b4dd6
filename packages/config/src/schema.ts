import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const hostPort = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'must be HOST:PORT, like 127.0.0.1:6603');
const seed = z
  .string()
  .regex(
    /^(wss?:\/\/(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}\/?|(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}|unix:\/\S+|\/\S+)$/,
    'must be ws://HOST:PORT, wss://HOST:PORT, HOST:PORT or unix:/PATH',
  );
// Milliseconds or counts: whole numbers above zero.
const positiveInt = z.number().int().positive();

/**
 * The configuration file's schema. Every object is strict (an unknown key is an error),
 * and every key is optional in the file: defaults.ts fills in what is left out.
 */
export const configSchema = z.strictObject({
  kernel: z
    .strictObject({
      name: z
        .string()
        .regex(/^[^\s/]+$/, 'must be a non-empty name without spaces or "/"')
        .optional(),
      listen: z.union([hostPort, z.literal(false)]).default(DEFAULTS.kernel.listen),
      socket: z.union([z.string().min(1, 'must be a path'), z.literal(false)]).optional(),
      heapGrowingPercent: z
        .number()
        .int()
        .min(0, 'must be 0 (V8 decides) or more')
        .max(10_000, 'must be at most 10000')
        .default(DEFAULTS.kernel.heapGrowingPercent),
      tls: z
        .strictObject({
          cert: z.string().min(1, "must be the path of this kernel's certificate (PEM)"),
          key: z.string().min(1, 'must be the path of its private key (PEM)'),
          ca: z
            .string()
            .min(1, "must be the path of the CA certificate that signs the cloud's kernels (PEM)"),
        })
        .optional(),
    })
    .prefault({}),
  cloud: z
    .strictObject({
      name: z.string().min(1, 'must not be empty').default(DEFAULTS.cloud.name),
      secret: z.string().default(DEFAULTS.cloud.secret),
      mdns: z.boolean().default(DEFAULTS.cloud.mdns),
      seeds: z.array(seed).default(DEFAULTS.cloud.seeds),
      balance: z.enum(['round-robin', 'least-loaded', 'local-first']).default(DEFAULTS.cloud.balance),
    })
    .prefault({}),
  sessions: z.array(z.string().min(1, 'must be a module path')).default(DEFAULTS.sessions),
  jobs: z
    .strictObject({
      allow: z.array(z.string().min(1)).default(DEFAULTS.jobs.allow),
      maxProc: z.number().int().positive().optional(),
      killOrphans: z.boolean().default(DEFAULTS.jobs.killOrphans),
    })
    .prefault({}),
  log: z
    .strictObject({ level: z.enum(LEVELS).default(DEFAULTS.log.level as (typeof LEVELS)[number]) })
    .prefault({}),
  mesh: z
    .strictObject({
      handshakeTimeoutMs: positiveInt.default(DEFAULTS.mesh.handshakeTimeoutMs),
      callTimeoutMs: positiveInt.default(DEFAULTS.mesh.callTimeoutMs),
      pingIntervalMs: positiveInt.default(DEFAULTS.mesh.pingIntervalMs),
      deadAfterMs: positiveInt.default(DEFAULTS.mesh.deadAfterMs),
      reconnectMinMs: positiveInt.default(DEFAULTS.mesh.reconnectMinMs),
      reconnectMaxMs: positiveInt.default(DEFAULTS.mesh.reconnectMaxMs),
      maxInflightCalls: positiveInt.default(DEFAULTS.mesh.maxInflightCalls),
      maxSenderProxies: positiveInt.default(DEFAULTS.mesh.maxSenderProxies),
      resumeWindowMs: positiveInt.default(DEFAULTS.mesh.resumeWindowMs),
      sendBufferBytes: positiveInt.default(DEFAULTS.mesh.sendBufferBytes),
      sendBufferHardBytes: positiveInt.default(DEFAULTS.mesh.sendBufferHardBytes),
      receiveQueueLimit: positiveInt.default(DEFAULTS.mesh.receiveQueueLimit),
      maxMessageBytes: positiveInt.default(DEFAULTS.mesh.maxMessageBytes),
    })
    .prefault({}),
});

/** What the file may hold (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;

/** A loaded configuration: every key present, computed defaults worked out, paths absolute. */
export interface Config {
  kernel: {
    name: string;
    listen: string | false;
    socket: string | false;
    heapGrowingPercent: number;
    /** Mutual TLS: absolute paths of PEM files, each checked readable and PEM at load. */
    tls?: { cert: string; key: string; ca: string };
  };
  cloud: {
    name: string;
    secret: string;
    mdns: boolean;
    seeds: string[];
    balance: 'round-robin' | 'least-loaded' | 'local-first';
  };
  sessions: string[];
  jobs: { allow: string[]; maxProc: number; killOrphans: boolean };
  log: { level: (typeof LEVELS)[number] };
  mesh: z.output<typeof configSchema>['mesh'];
}
