// Raw RFC 6455 frames built in plain JavaScript for tests: any FIN/RSV/opcode combination, masked
// or not, any length encoding (minimal or forced 7/16/64-bit, or a declared length that differs
// from the payload), plus close bodies, permessage-deflate payloads and the ways to cut a byte
// sequence into chunks. Independent of ws and of the native addon, so both can be checked with it.

import zlib from 'node:zlib';

/** RFC 6455 §5.2 / §11.8 opcodes. */
export const OPCODES = Object.freeze({
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa
});

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_MASK_KEY = Object.freeze([0x37, 0xfa, 0x21, 0x3d]);

/**
 * Coerces a payload to a Buffer (a copy): strings as UTF-8, arrays of byte values, typed arrays.
 *
 * @param {(string|Uint8Array|number[])} [payload]
 * @return {Buffer}
 */
export function toBuffer(payload) {
  if (payload === undefined) return Buffer.alloc(0);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.from(payload);
}

/**
 * Builds one frame.
 *
 * @param {Object} options
 * @param {number} options.opcode 0..15 (reserved ones too)
 * @param {(string|Uint8Array|number[])} [options.payload] The unmasked payload
 * @param {boolean} [options.fin=true]
 * @param {boolean} [options.rsv1=false]
 * @param {boolean} [options.rsv2=false]
 * @param {boolean} [options.rsv3=false]
 * @param {(boolean|Uint8Array|number[])} [options.mask=false] `true` masks with RFC_MASK_KEY; a
 *     4-byte key masks with that key; `false` leaves the MASK bit clear
 * @param {(7|16|64)} [options.lengthBits] Force the length encoding (7 only fits lengths < 126);
 *     the default is the minimal one of §5.2
 * @param {(number|bigint)} [options.declaredLength] Put this length in the header instead of the
 *     payload's; the payload bytes are still appended as given (for truncated or lying frames)
 * @return {Buffer}
 */
export function frame(options) {
  const payload = toBuffer(options.payload);
  const length = BigInt(
    options.declaredLength !== undefined
      ? options.declaredLength
      : payload.length
  );
  let lengthBits = options.lengthBits;
  if (lengthBits === undefined) {
    lengthBits = length < 126n ? 7 : length <= 0xffffn ? 16 : 64;
  }
  if (lengthBits === 7 && length >= 126n) {
    throw new RangeError('A 7-bit length holds at most 125');
  }
  if (lengthBits === 16 && length > 0xffffn) {
    throw new RangeError('A 16-bit length holds at most 65535');
  }

  let key = null;
  if (options.mask === true) key = Buffer.from(RFC_MASK_KEY);
  else if (options.mask) key = Buffer.from(options.mask);
  if (key !== null && key.length !== 4)
    throw new RangeError('A mask key has 4 bytes');

  const extended = lengthBits === 7 ? 0 : lengthBits === 16 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (key ? 4 : 0));
  header[0] =
    (options.fin === false ? 0 : 0x80) |
    (options.rsv1 ? 0x40 : 0) |
    (options.rsv2 ? 0x20 : 0) |
    (options.rsv3 ? 0x10 : 0) |
    (options.opcode & 0x0f);
  header[1] =
    (key ? 0x80 : 0) |
    (lengthBits === 7 ? Number(length) : lengthBits === 16 ? 126 : 127);
  if (lengthBits === 16) header.writeUInt16BE(Number(length), 2);
  else if (lengthBits === 64) header.writeBigUInt64BE(length, 2);

  const body = Buffer.from(payload);
  if (key) {
    key.copy(header, 2 + extended);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([header, body]);
}

/**
 * A close frame body (§5.5.1): the code big-endian, then the reason.
 *
 * @param {number} code
 * @param {(string|Uint8Array|number[])} [reason]
 * @return {Buffer}
 */
export function closeBody(code, reason) {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, toBuffer(reason)]);
}

/**
 * Compresses a message payload as permessage-deflate sends it (RFC 7692 §7.2.1): raw deflate,
 * sync flush, the trailing 00 00 ff ff removed.
 *
 * @param {(string|Uint8Array|number[])} payload
 * @param {number} [windowBits=15]
 * @return {Buffer}
 */
export function deflatePayload(payload, windowBits = 15) {
  const out = zlib.deflateRawSync(toBuffer(payload), {
    windowBits,
    finishFlush: zlib.constants.Z_SYNC_FLUSH
  });
  return out.subarray(0, out.length - 4);
}

/**
 * Concatenates frames (or any byte sequences) into one Buffer.
 *
 * @param {...Uint8Array} parts
 * @return {Buffer}
 */
export function concatFrames(...parts) {
  return Buffer.concat(parts);
}

/**
 * Cuts `buffer` at ascending offsets into fresh Buffers (each its own copy, so in-place unmasking
 * of one does not alter the source).
 *
 * @param {Uint8Array} buffer
 * @param {number[]} offsets
 * @return {Buffer[]}
 */
export function cutAt(buffer, offsets) {
  const pieces = [];
  let start = 0;
  for (const offset of offsets) {
    pieces.push(Buffer.from(buffer.subarray(start, offset)));
    start = offset;
  }
  pieces.push(Buffer.from(buffer.subarray(start)));
  return pieces;
}

/**
 * Every way the split-invariance rule asks a reader to see `buffer`: whole, cut in two at each
 * offset 1..length-1, and one byte at a time. Yields [label, chunks].
 *
 * @param {Uint8Array} buffer
 * @param {Object} [options]
 * @param {number} [options.stride=1] Step between two-chunk cut points (long inputs)
 * @return {Generator<[string, Buffer[]]>}
 */
export function* splits(buffer, options = {}) {
  const stride = options.stride || 1;
  yield ['whole', cutAt(buffer, [])];
  for (let cut = 1; cut < buffer.length; cut += stride) {
    yield [`cut at ${cut}`, cutAt(buffer, [cut])];
  }
  const everyByte = [];
  for (let i = 1; i < buffer.length; i++) everyByte.push(i);
  yield ['byte by byte', cutAt(buffer, everyByte)];
}
