/**
 * The WebSocket close codes (RFC 6455 section 7.4) the transports use, and the check on a
 * caller's close(code, reason). The in-memory transport uses the same codes, so the mesh
 * above sees one vocabulary whatever carries the link.
 */
import { IkcError } from '@ikc/wire';

/** A graceful close asked for by either side. */
export const CLOSE_NORMAL = 1000;
/** The peer sent something this side does not accept (a text message). */
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** The conn ended without a close handshake (terminate, a reset, a crash). Never sent on the wire. */
export const CLOSE_ABNORMAL = 1006;
/** The peer sent a message larger than maxMessageBytes. */
export const CLOSE_TOO_BIG = 1009;

/** A close reason is at most this long (UTF-8 bytes), so that it fits in a control frame. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Checks a close code a caller may send (1000-1014 less the reserved 1004-1006, or
 * 3000-4999) and cuts the reason to what a close frame holds. A bad code is a programming
 * error; a long reason is not, since callers often pass an error's message.
 */
export function closeArgs(code: number, reason: string): { code: number; reason: string } {
  const sendable =
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999));
  if (!sendable) {
    throw new IkcError('IKC_ERR_INVALID_ARG', `close code ${code} cannot be sent`, { details: { code } });
  }
  return { code, reason: truncateUtf8(reason, MAX_CLOSE_REASON_BYTES) };
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
