/**
 * The frame table: every frame type's number, name and positional fields.
 *
 * ┌──────────────────────────────────────────────────────────────────────────────────┐
 * │ APPEND-ONLY. Kernels of different releases talk to each other through this table.  │
 * │ Never renumber, reuse or remove a type; never reorder, retype or remove a field.   │
 * │ A new field goes at the END of its frame, declared `optional` with a default, so   │
 * │ old decoders ignore it and new ones fill it in (no version bump). A new frame type │
 * │ takes a free number in its range and bumps PROTOCOL_MAX (version.ts): a peer only  │
 * │ sends it once both sides agreed on a version that has it.                          │
 * │ docs/protocol.md holds the same table; a test keeps the two in step.               │
 * └──────────────────────────────────────────────────────────────────────────────────┘
 *
 * Number ranges: 0 is never a frame (a zero type is a bug); 1-15 handshake and link
 * lifecycle; 16-31 link control; 32-63 messaging between sessions; 64-79 membership;
 * 80-127 unassigned. Types stay below 128 so the type is one byte on the wire.
 *
 * HELLO's first two fields (the version range) are read before any version is agreed,
 * so they can never change, whatever the version.
 */
import { type FieldSpec, field, type KernelRole, kinds, optional } from './fields.js';
import type { ErrorPayload } from './values.js';

export const FrameType = {
  Hello: 1,
  Auth: 2,
  Welcome: 3,
  Refuse: 4,
  Bye: 5,
  Ping: 16,
  Pong: 17,
  Ack: 18,
  Chunk: 19,
  Blobs: 20,
  Post: 32,
  Call: 33,
  Reply: 34,
  Error: 35,
  Gossip: 64,
  Registry: 65,
} as const;

export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** First message each side sends: who it is, what it speaks, and its challenge. */
export interface HelloFrame {
  type: typeof FrameType.Hello;
  minVersion: number;
  maxVersion: number;
  cloud: string;
  kernelId: string;
  kernelName: string;
  nonce: Uint8Array;
  role: KernelRole;
  features: readonly string[];
  /** Where the sender listens for other kernels (HOST:PORT); '' when it does not. */
  listen?: string;
}

/** The sender's proof that it knows the cloud secret (handshake.ts). */
export interface AuthFrame {
  type: typeof FrameType.Auth;
  proof: Uint8Array;
}

/** The peer's proof verified: the link is up at `version`. */
export interface WelcomeFrame {
  type: typeof FrameType.Welcome;
  version: number;
}

/** The handshake failed; the sender closes the link after it. */
export interface RefuseFrame {
  type: typeof FrameType.Refuse;
  code: string;
  message: string;
}

/** A graceful close: the sender leaves (reason e.g. 'shutdown', 'leave', 'idle'). */
export interface ByeFrame {
  type: typeof FrameType.Bye;
  reason: string;
  message: string;
}

export interface PingFrame {
  type: typeof FrameType.Ping;
  /** Sender's clock, in milliseconds. */
  sentAt: number;
}

export interface PongFrame {
  type: typeof FrameType.Pong;
  /** The PING's sentAt, echoed: the pinger's round-trip time is now minus this. */
  pingSentAt: number;
  /** The ponger's clock, in milliseconds. */
  sentAt: number;
}

/** Every sequenced frame (POST, CALL, REPLY, ERROR) up to `seq` has arrived. */
export interface AckFrame {
  type: typeof FrameType.Ack;
  seq: number;
}

/**
 * One piece of a message too large to go whole (protocol version 2 and up). The pieces of
 * message `id` carry its bytes in order; once `total` bytes have arrived, they are decoded
 * as one message of exactly one frame. See chunk.ts and docs/protocol.md.
 */
export interface ChunkFrame {
  type: typeof FrameType.Chunk;
  /** The chunked message's number on this link, from 1, growing with each message. */
  id: number;
  /** The whole message's size, in bytes (the same in every piece). */
  total: number;
  /** Where this piece's bytes go in the message: the bytes sent before it. */
  offset: number;
  data: Uint8Array;
}

/**
 * The next frame (a POST or a CALL) has binary arguments sent out of band (protocol version
 * 3 and up): at each position in `args` the frame holds nil, and the argument itself is the
 * next transport message, raw, of the length listed. See blobs.ts and docs/protocol.md.
 */
export interface BlobsFrame {
  type: typeof FrameType.Blobs;
  /** Positions in the next frame's args, ascending. */
  args: readonly number[];
  /** Each blob's length in bytes, in the same order. */
  lengths: readonly number[];
}

export interface PostFrame {
  type: typeof FrameType.Post;
  seq: number;
  /** Sender session id. */
  from: string;
  /** Target session: an alias or a session id on the receiving kernel. */
  to: string;
  event: string;
  args: readonly unknown[];
  /** Final kernel (id) when the receiver only relays this frame (host to leaf); '' = the receiver. */
  dest?: string;
  /** Kernel (id) the frame started from when it was relayed; '' = the link's peer. */
  origin?: string;
}

export interface CallFrame {
  type: typeof FrameType.Call;
  seq: number;
  /** Chosen by the caller, unique among its calls in flight on this link. */
  callId: number;
  from: string;
  to: string;
  event: string;
  args: readonly unknown[];
  /** How long the caller waits, in milliseconds; 0 = no limit of its own. */
  timeoutMs: number;
  /** Final kernel (id) when the receiver only relays this frame (host to leaf); '' = the receiver. */
  dest?: string;
  /** Kernel (id) the frame started from when it was relayed; '' = the link's peer. */
  origin?: string;
}

export interface ReplyFrame {
  type: typeof FrameType.Reply;
  seq: number;
  callId: number;
  value: unknown;
  /** Final kernel (id) when the receiver only relays this frame (host to leaf); '' = the receiver. */
  dest?: string;
  /** Kernel (id) the frame started from when it was relayed; '' = the link's peer. */
  origin?: string;
}

export interface ErrorFrame {
  type: typeof FrameType.Error;
  seq: number;
  /** The failed CALL's callId, or 0. */
  callId: number;
  /** The seq of the POST that could not be delivered, or 0. */
  postSeq: number;
  error: ErrorPayload;
  /** Final kernel (id) when the receiver only relays this frame (host to leaf); '' = the receiver. */
  dest?: string;
  /** Kernel (id) the frame started from when it was relayed; '' = the link's peer. */
  origin?: string;
  /** For a failed POST: the id of the session that posted it, to be told. */
  replyTo?: string;
}

/**
 * One kernel's published sessions, as a whole: each REGISTRY for a kernel replaces the last
 * one with a lower version. Host kernels relay their leaves' registries to their peers.
 */
export interface RegistryFrame {
  type: typeof FrameType.Registry;
  kernelId: string;
  kernelName: string;
  /** Grows with every change; newer replaces older. */
  version: number;
  /** 'up', or 'gone' when the kernel detached or shut down (sessions is then empty). */
  state: string;
  /** `[sessionId, aliases[], events[]]` for each session with published events. */
  sessions: readonly unknown[];
  role: string;
}

/** Membership data, opaque to the wire (bytes or any value @ikc/membership chooses). */
export interface GossipFrame {
  type: typeof FrameType.Gossip;
  payload: unknown;
}

export type Frame =
  | HelloFrame
  | AuthFrame
  | WelcomeFrame
  | RefuseFrame
  | ByeFrame
  | PingFrame
  | PongFrame
  | AckFrame
  | ChunkFrame
  | BlobsFrame
  | PostFrame
  | CallFrame
  | ReplyFrame
  | ErrorFrame
  | GossipFrame
  | RegistryFrame;

export interface FrameSchema {
  readonly type: FrameType;
  /** Upper-case name used in docs, logs and error messages. */
  readonly name: string;
  /** Which side sends it. */
  readonly sentBy: string;
  /** In wire order, after the type number. */
  readonly fields: readonly FieldSpec[];
}

const seq = field('seq', kinds.uint, "this frame's number in the sender's sequenced stream, from 1");
const from = field('from', kinds.string, 'sender session id');
const to = field('to', kinds.string, 'target session alias or id');
const event = field('event', kinds.string, 'event name');
const args = field('args', kinds.array, 'event arguments');
const callId = field('callId', kinds.uint, "the caller's id for this call");

const EMPTY_STRINGS: readonly string[] = Object.freeze([]);
// Appended to POST, CALL, REPLY and ERROR for routing through a host kernel (to its leaves).
const dest = optional(
  'dest',
  kinds.string,
  '',
  "final kernel id when the receiver only relays it; '' = the receiver",
);
const origin = optional(
  'origin',
  kinds.string,
  '',
  "kernel id it started from when relayed; '' = the link's peer",
);

const SCHEMAS: readonly FrameSchema[] = [
  {
    type: FrameType.Hello,
    name: 'HELLO',
    sentBy: 'both, first',
    fields: [
      field('minVersion', kinds.uint, 'lowest protocol version the sender speaks'),
      field('maxVersion', kinds.uint, 'highest protocol version the sender speaks'),
      field('cloud', kinds.string, 'cloud.name'),
      field('kernelId', kinds.string, 'kernel id (nanoid, new each start)'),
      field('kernelName', kinds.string, 'kernel name'),
      field('nonce', kinds.nonce, 'random challenge for the peer to sign'),
      field('role', kinds.role, '"host" or "leaf"'),
      optional('features', kinds.strings, EMPTY_STRINGS, 'optional capabilities the sender has'),
      optional('listen', kinds.string, '', "where the sender listens for kernels (HOST:PORT), or ''"),
    ],
  },
  {
    type: FrameType.Auth,
    name: 'AUTH',
    sentBy: 'both, after HELLO',
    fields: [field('proof', kinds.bytes, 'HMAC-SHA256 proof of the cloud secret')],
  },
  {
    type: FrameType.Welcome,
    name: 'WELCOME',
    sentBy: "both, after verifying the peer's AUTH",
    fields: [field('version', kinds.uint, 'the agreed protocol version')],
  },
  {
    type: FrameType.Refuse,
    name: 'REFUSE',
    sentBy: 'either, instead of WELCOME; then closes',
    fields: [
      field('code', kinds.string, 'IKC_ERR_* code'),
      field('message', kinds.string, 'human-readable reason'),
    ],
  },
  {
    type: FrameType.Bye,
    name: 'BYE',
    sentBy: 'either, before a graceful close',
    fields: [
      field('reason', kinds.string, "short reason: 'shutdown', 'leave', 'idle', ..."),
      optional('message', kinds.string, '', 'human-readable detail'),
    ],
  },
  {
    type: FrameType.Ping,
    name: 'PING',
    sentBy: 'either',
    fields: [field('sentAt', kinds.number, "sender's clock, ms")],
  },
  {
    type: FrameType.Pong,
    name: 'PONG',
    sentBy: 'the receiver of a PING',
    fields: [
      field('pingSentAt', kinds.number, "the PING's sentAt, echoed"),
      field('sentAt', kinds.number, "sender's clock, ms"),
    ],
  },
  {
    type: FrameType.Ack,
    name: 'ACK',
    sentBy: 'the receiver of sequenced frames',
    fields: [field('seq', kinds.uint, 'highest seq received with no gap (cumulative)')],
  },
  {
    type: FrameType.Chunk,
    name: 'CHUNK',
    sentBy: 'the sender of a message larger than one chunk (version 2 and up)',
    fields: [
      field('id', kinds.uint, "the chunked message's number on this link, from 1"),
      field('total', kinds.uint, "the whole message's size in bytes"),
      field('offset', kinds.uint, "where this piece's bytes go: the bytes sent before it"),
      field('data', kinds.bytes, "this piece's bytes"),
    ],
  },
  {
    type: FrameType.Blobs,
    name: 'BLOBS',
    sentBy: 'the sender of a POST or CALL with large binary arguments (version 3 and up)',
    fields: [
      field('args', kinds.uints, "positions in the next frame's args that come as raw messages"),
      field('lengths', kinds.uints, "each one's length in bytes, in the same order"),
    ],
  },
  {
    type: FrameType.Post,
    name: 'POST',
    sentBy: 'the posting kernel',
    fields: [seq, from, to, event, args, dest, origin],
  },
  {
    type: FrameType.Call,
    name: 'CALL',
    sentBy: 'the calling kernel',
    fields: [
      seq,
      callId,
      from,
      to,
      event,
      args,
      optional('timeoutMs', kinds.uint, 0, "caller's timeout in ms; 0 = none"),
      dest,
      origin,
    ],
  },
  {
    type: FrameType.Reply,
    name: 'REPLY',
    sentBy: 'the called kernel',
    fields: [seq, callId, field('value', kinds.any, "the handler's result"), dest, origin],
  },
  {
    type: FrameType.Error,
    name: 'ERROR',
    sentBy: 'the kernel where a call failed or a post could not be delivered',
    fields: [
      seq,
      field('callId', kinds.uint, 'the failed CALL, or 0'),
      field('postSeq', kinds.uint, 'the undeliverable POST, or 0'),
      field('error', kinds.error, '[code, message, name, stack, kernel, session, event]'),
      dest,
      origin,
      optional('replyTo', kinds.string, '', 'for a failed POST: the posting session, to be told'),
    ],
  },
  {
    type: FrameType.Gossip,
    name: 'GOSSIP',
    sentBy: 'host kernels',
    fields: [field('payload', kinds.any, 'membership data, opaque to the wire')],
  },
  {
    type: FrameType.Registry,
    name: 'REGISTRY',
    sentBy: "every kernel to its peers, on link up and on each change; hosts relay their leaves'",
    fields: [
      field('kernelId', kinds.string, 'whose registry this is'),
      field('kernelName', kinds.string, "that kernel's name"),
      field('version', kinds.uint, 'grows with each change; newer replaces older'),
      field('state', kinds.string, "'up', or 'gone' when it detached or shut down"),
      field('sessions', kinds.array, '[sessionId, aliases[], events[]] per session with published events'),
      optional('role', kinds.string, 'host', '"host" or "leaf"'),
    ],
  },
];

/** Schemas indexed by type number; a hole means no such type. */
export const FRAME_SCHEMAS: readonly (FrameSchema | undefined)[] = (() => {
  const table: (FrameSchema | undefined)[] = [];
  for (const schema of SCHEMAS) table[schema.type] = schema;
  return table;
})();

/** The schema of `type`, or undefined for a number this protocol does not know. */
export function frameSchema(type: number): FrameSchema | undefined {
  return type >= 0 && type < FRAME_SCHEMAS.length ? FRAME_SCHEMAS[type] : undefined;
}

/** 'POST' for FrameType.Post; 'frame type N' for an unknown number. */
export function frameName(type: number): string {
  return frameSchema(type)?.name ?? `frame type ${type}`;
}

/** Every schema, in type order (for docs, tests and tools). */
export function frameSchemas(): readonly FrameSchema[] {
  return SCHEMAS;
}
