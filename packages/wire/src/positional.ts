/**
 * Frames to positional arrays (`[type, ...fields]`) and back, checking every field.
 *
 * The schema-driven loop (fromWireGeneric / toWireGeneric) is the reference: it handles
 * every frame type, defaults, unknown trailing fields and precise error messages. The hot
 * messaging frames also get hand-written fast paths that build objects with fixed shapes
 * (about ten times cheaper than the loop's keyed stores); a fast path either returns
 * exactly what the reference would, or undefined to hand the case (a default to fill, an
 * error to describe) to the reference. A test holds every fast path to that.
 */
import { IkcError, WireError } from './errors.js';
import { INVALID } from './fields.js';
import { type Frame, type FrameSchema, FrameType, frameSchema } from './frames.js';

// ---- reference path ------------------------------------------------------------------------

function malformed(message: string, details: Record<string, unknown>): WireError {
  return new WireError('IKC_ERR_FRAME_MALFORMED', message, { details });
}

/** The schema of a peer's raw frame value, or a WireError. `index` is 1-based in the message. */
function schemaOf(value: unknown, index: number): FrameSchema {
  if (!Array.isArray(value) || value.length === 0) {
    throw malformed(`frame ${index}: a frame must be a non-empty array`, { frame: index });
  }
  const type = value[0];
  if (typeof type !== 'number') {
    throw malformed(`frame ${index}: the frame type must be a number, got ${typeof type}`, { frame: index });
  }
  const schema = frameSchema(type);
  if (schema === undefined) {
    throw new WireError('IKC_ERR_FRAME_TYPE', `frame ${index}: unknown frame type ${type}`, {
      details: { frame: index, type },
    });
  }
  return schema;
}

export function fromWireGeneric(value: unknown, index: number): Frame {
  const schema = schemaOf(value, index);
  const wire = value as unknown[];
  const frame: Record<string, unknown> = { type: schema.type };
  const fields = schema.fields;
  for (let i = 0; i < fields.length; i++) {
    const spec = fields[i]!;
    if (i + 1 >= wire.length) {
      if (spec.required) {
        throw malformed(`${schema.name} frame: field '${spec.name}' is missing`, {
          frame: schema.name,
          field: spec.name,
        });
      }
      frame[spec.name] = spec.default;
      continue;
    }
    const decoded = spec.kind.decode(wire[i + 1]);
    if (decoded === INVALID) {
      const got = wire[i + 1] === null ? 'null' : typeof wire[i + 1];
      throw malformed(`${schema.name} frame: field '${spec.name}' must be ${spec.kind.expects}, got ${got}`, {
        frame: schema.name,
        field: spec.name,
      });
    }
    frame[spec.name] = decoded;
  }
  // Fields past the schema's are from a newer peer; ignoring them is what lets fields grow.
  return frame as unknown as Frame;
}

export function encodeError(
  message: string,
  schema: FrameSchema | undefined,
  cause?: unknown,
  extra = {},
): IkcError {
  const name = schema?.name ?? 'frame';
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new IkcError('IKC_ERR_ENCODE', `cannot encode ${name}: ${message}${detail}`, {
    cause,
    details: { frame: name, ...extra },
  });
}

export function toWireGeneric(frame: Frame): unknown[] {
  const type = (frame as { type?: unknown } | null)?.type;
  const schema = frameSchema(type as number);
  if (schema === undefined) throw encodeError(`unknown frame type ${String(type)}`, schema);
  const fields = schema.fields;
  const wire: unknown[] = new Array(fields.length + 1);
  wire[0] = schema.type;
  const values = frame as unknown as Record<string, unknown>;
  for (let i = 0; i < fields.length; i++) {
    const spec = fields[i]!;
    let value = values[spec.name];
    if (value === undefined && !spec.required) value = spec.default;
    const encoded = spec.kind.encode(value);
    if (encoded === INVALID) {
      throw encodeError(`field '${spec.name}' must be ${spec.kind.expects}`, schema, undefined, {
        field: spec.name,
      });
    }
    wire[i + 1] = encoded;
  }
  return wire;
}

// ---- fast paths for the hot frames -----------------------------------------------------------

interface FastPath {
  fromWire(wire: unknown[]): Frame | undefined;
  toWire(frame: Frame): unknown[] | undefined;
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** The routing fields' value on encode: the schema's default ('') for undefined, else as given. */
const route = (v: unknown): unknown => (v === undefined ? '' : v);

export const FAST_PATHS: Readonly<Partial<Record<FrameType, FastPath>>> = {
  [FrameType.Post]: {
    fromWire(w) {
      if (w.length < 8) return; // dest and origin to default: the reference path does that
      const seq = w[1];
      const from = w[2];
      const to = w[3];
      const event = w[4];
      const args = w[5];
      const dest = w[6];
      const origin = w[7];
      if (!isUint(seq) || typeof from !== 'string' || typeof to !== 'string' || typeof event !== 'string')
        return;
      if (!Array.isArray(args) || typeof dest !== 'string' || typeof origin !== 'string') return;
      return { type: FrameType.Post, seq, from, to, event, args, dest, origin };
    },
    toWire(f) {
      if (f.type !== FrameType.Post) return;
      const { seq, from, to, event, args } = f;
      const dest = route(f.dest);
      const origin = route(f.origin);
      if (!isUint(seq) || typeof from !== 'string' || typeof to !== 'string' || typeof event !== 'string')
        return;
      if (!Array.isArray(args) || typeof dest !== 'string' || typeof origin !== 'string') return;
      return [FrameType.Post, seq, from, to, event, args, dest, origin];
    },
  },
  [FrameType.Call]: {
    fromWire(w) {
      if (w.length < 10) return; // optional fields to default: the reference path does that
      const seq = w[1];
      const callId = w[2];
      const from = w[3];
      const to = w[4];
      const event = w[5];
      const args = w[6];
      const timeoutMs = w[7];
      const dest = w[8];
      const origin = w[9];
      if (!isUint(seq) || !isUint(callId) || !isUint(timeoutMs)) return;
      if (typeof from !== 'string' || typeof to !== 'string' || typeof event !== 'string') return;
      if (!Array.isArray(args) || typeof dest !== 'string' || typeof origin !== 'string') return;
      return { type: FrameType.Call, seq, callId, from, to, event, args, timeoutMs, dest, origin };
    },
    toWire(f) {
      if (f.type !== FrameType.Call) return;
      const { seq, callId, from, to, event, args } = f;
      const timeoutMs = f.timeoutMs === undefined ? 0 : f.timeoutMs;
      const dest = route(f.dest);
      const origin = route(f.origin);
      if (!isUint(seq) || !isUint(callId) || !isUint(timeoutMs)) return;
      if (typeof from !== 'string' || typeof to !== 'string' || typeof event !== 'string') return;
      if (!Array.isArray(args) || typeof dest !== 'string' || typeof origin !== 'string') return;
      return [FrameType.Call, seq, callId, from, to, event, args, timeoutMs, dest, origin];
    },
  },
  [FrameType.Reply]: {
    fromWire(w) {
      if (w.length < 6) return;
      const seq = w[1];
      const callId = w[2];
      const value = w[3];
      const dest = w[4];
      const origin = w[5];
      if (!isUint(seq) || !isUint(callId) || typeof dest !== 'string' || typeof origin !== 'string') return;
      return { type: FrameType.Reply, seq, callId, value, dest, origin };
    },
    toWire(f) {
      if (f.type !== FrameType.Reply || !isUint(f.seq) || !isUint(f.callId)) return;
      const dest = route(f.dest);
      const origin = route(f.origin);
      if (typeof dest !== 'string' || typeof origin !== 'string') return;
      return [FrameType.Reply, f.seq, f.callId, f.value, dest, origin];
    },
  },
  [FrameType.Ack]: {
    fromWire(w) {
      const seq = w[1];
      return isUint(seq) ? { type: FrameType.Ack, seq } : undefined;
    },
    toWire(f) {
      return f.type === FrameType.Ack && isUint(f.seq) ? [FrameType.Ack, f.seq] : undefined;
    },
  },
};

// ---- what the codec calls --------------------------------------------------------------------

/** A peer's raw frame value (the `index`-th of its message) as a checked frame, or a WireError. */
export function frameFromWire(value: unknown, index: number): Frame {
  // Only a number indexes the table: a peer's "constructor" must not reach Object.prototype.
  if (Array.isArray(value) && typeof value[0] === 'number') {
    const frame = FAST_PATHS[value[0] as FrameType]?.fromWire(value);
    if (frame !== undefined) return frame;
  }
  return fromWireGeneric(value, index);
}

/** `frame` as its positional array, checked; or IkcError IKC_ERR_ENCODE. */
export function frameToWire(frame: Frame): unknown[] {
  const type = (frame as { type?: unknown } | null)?.type;
  const fast = typeof type === 'number' ? FAST_PATHS[type as FrameType] : undefined;
  return fast?.toWire(frame) ?? toWireGeneric(frame);
}
