/**
 * The one msgpackr configuration ikc uses, for both directions. The options are chosen so
 * that what we write is exactly what a peer's decoder accepts, and so that a peer's bytes
 * can only ever produce plain data (the structural scan in scan.ts enforces the rest).
 */
import { Packr, Unpackr } from 'msgpackr';
// Registers the SessionRef and Error extensions before any packing happens.
import './values.js';

const shared = {
  // Records (msgpackr's shared-key structures) are refused from peers, so never write them,
  // and never learn them: a peer must not be able to define structures in our decoder.
  useRecords: false,
  // Plain objects, not Maps: the fastest shape, and map keys become property names, which
  // is why scan.ts refuses a "__proto__" key.
  mapsAsObjects: true,
  // No structured-clone references (cycles, shared identity); the unpacker also refuses them.
  structuredClone: false,
  // Sets, RegExps and typed arrays are written as plain arrays and binary, never as
  // msgpackr's own extension types, which peers may not send.
  moreTypes: false,
  // Bundled strings move the decoder's read position around; keep the format linear.
  bundleStrings: false,
} as const;

/** Encodes frames. Its buffers are views into msgpackr's shared slab; see codec.ts. */
export const packr = new Packr({
  ...shared,
  // Keep `undefined` distinct from null (ext type 0, one msgpack byte pair), so an event
  // argument that is undefined arrives as undefined.
  encodeUndefinedAsNil: false,
  // Size each map header to its object (one byte for up to 15 keys) and list keys with
  // Object.keys. msgpackr's default writes a 16-bit header always and throws past 65535
  // keys, below our maxCollectionEntries.
  variableMapSize: true,
});

/** Decodes a peer's bytes, after scan.ts has checked them. */
export const unpackr = new Unpackr({
  ...shared,
  // Binary values are copied out of the message, so holding on to one does not pin the
  // whole message and a transport may reuse its receive buffer.
  copyBuffers: true,
});

/**
 * Decodes a message nobody else holds (a chunked message once assembled): binary values are
 * views into it rather than copies, so a large argument is not copied a second time.
 */
export const unpackrViews = new Unpackr({
  ...shared,
  copyBuffers: false,
});
