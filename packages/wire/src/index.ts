/**
 * @ikc/wire: the ikc protocol as bytes. Frame table, codec, batching, handshake helpers,
 * limits and the error codes every ikc package uses. No sockets: callers hand it frames
 * and bytes. docs/protocol.md describes the format this implements.
 */
export {
  BATCH_TARGET_BYTES,
  type BatcherOptions,
  encodeBatch,
  FrameBatcher,
  type MessageSink,
} from './batch.js';
export {
  BLOB_MIN_BYTES,
  type BlobCarrier,
  checkBlobs,
  joinBlobs,
  MAX_BLOBS,
  type SplitFrame,
  splitBlobs,
} from './blobs.js';
export {
  CHUNK_BYTES,
  CHUNKS_FEATURE,
  ChunkAssembler,
  chunksFeature,
  encodeChunk,
  largeLimits,
  peerChunkLimit,
  readChunk,
} from './chunk.js';
export { Codec, type CodecOptions, decodeMessage, encodeFrame, getDefaultCodec } from './codec.js';
export { ERROR_CODES, type ErrorCode, IkcError, type IkcErrorOptions, WireError } from './errors.js';
export { type KernelRole, NONCE_MAX_BYTES, NONCE_MIN_BYTES } from './fields.js';
export { FLAT_MAX_BYTES, readFlat, writeFlat } from './flat.js';
export {
  type AckFrame,
  type AuthFrame,
  type BlobsFrame,
  type ByeFrame,
  type CallFrame,
  type ChunkFrame,
  type ErrorFrame,
  type Frame,
  type FrameSchema,
  FrameType,
  frameName,
  frameSchema,
  frameSchemas,
  type GossipFrame,
  type HelloFrame,
  type PingFrame,
  type PongFrame,
  type PostFrame,
  type RefuseFrame,
  type RegistryFrame,
  type ReplyFrame,
  type WelcomeFrame,
} from './frames.js';
export {
  AUTH_LABELS,
  acceptHello,
  authFrame,
  authProof,
  type HelloOptions,
  helloFrame,
  type LinkSide,
  makeNonce,
  NONCE_BYTES,
  proof,
  proofsEqual,
  refuseFrame,
  verifyAuth,
  welcomeFrame,
} from './handshake.js';
export {
  DEFAULT_LIMITS,
  HARD_MAX_DEPTH,
  type Limits,
  MAX_BIN_BYTES,
  MAX_COLLECTION_ENTRIES,
  MAX_DEPTH,
  MAX_FRAMES_PER_BATCH,
  MAX_MESSAGE_BYTES,
  MAX_STRING_BYTES,
  MAX_VALUES_PER_MESSAGE,
  resolveLimits,
} from './limits.js';
export {
  type ErrorOrigin,
  type ErrorPayload,
  ExtType,
  errorFromPayload,
  errorToPayload,
  registerSessionClass,
  SessionRef,
  type ValueHooks,
} from './values.js';
export {
  negotiateVersion,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  PROTOCOL_RANGE,
  type VersionRange,
} from './version.js';
