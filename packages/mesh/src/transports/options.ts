/**
 * The defaults every transport shares, each with its unit, and the check that turns a
 * caller's TransportOptions into the numbers a conn runs with.
 */
import { IkcError, MAX_MESSAGE_BYTES } from '@ikc/wire';
import type { TransportOptions } from '../transport.js';

/** send() returns false past this many buffered bytes (bytes): 1 MiB. */
export const DEFAULT_HIGH_WATER_MARK_BYTES = 1024 * 1024;

export interface ResolvedTransportOptions {
  /** Largest message accepted (bytes). */
  readonly maxMessageBytes: number;
  /** send() returns false past this many buffered bytes (bytes). */
  readonly highWaterMarkBytes: number;
}

/** The defaults overridden by `options`; a bad value is the caller's mistake (IKC_ERR_INVALID_ARG). */
export function resolveTransportOptions(options: TransportOptions = {}): ResolvedTransportOptions {
  return {
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes ?? MAX_MESSAGE_BYTES),
    highWaterMarkBytes: positive(
      'highWaterMarkBytes',
      options.highWaterMarkBytes ?? DEFAULT_HIGH_WATER_MARK_BYTES,
    ),
  };
}

function positive(key: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new IkcError(
      'IKC_ERR_INVALID_ARG',
      `transport option ${key} must be a positive integer, got ${value}`,
      {
        details: { key, value },
      },
    );
  }
  return value;
}
