// RFC 6455 frames as bytes, built and read independently of both implementations under test, so
// conformance tests can put exact (and deliberately wrong) bytes on the wire and check what comes
// back. Frame bytes come from the shared frames.js; the decoder and zlib wrappers are here.

import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';

import { closeBody, frame, OPCODES, toBuffer } from './frames.js';

/** RFC 6455 §5.2 / §11.8 opcodes (frames.js's table). */
export const OP = OPCODES;

/**
 * Coerces a payload given as a string, Buffer or array of bytes to a Buffer.
 *
 * @param {(string|Uint8Array|number[])} [payload]
 * @return {Buffer}
 */
export const toBytes = toBuffer;

/**
 * Builds one frame with frames.js, choosing a fresh random masking key when `mask` is set and no
 * key is given (RFC 6455 §5.3: a client's keys must be unpredictable).
 *
 * @param {Object} options
 * @param {number} options.opcode 0..15
 * @param {(string|Uint8Array|number[])} [options.payload]
 * @param {boolean} [options.fin=true]
 * @param {boolean} [options.rsv1=false]
 * @param {boolean} [options.rsv2=false]
 * @param {boolean} [options.rsv3=false]
 * @param {boolean} [options.mask=false] Set the MASK bit and mask the payload
 * @param {Uint8Array} [options.maskKey] The 4-byte key (random when absent)
 * @param {number} [options.lengthBytes] Force the extended length size (0, 2 or 8), for
 *     non-minimal encodings
 * @param {(number|bigint)} [options.declaredLength] Put this length in the header instead of the
 *     payload's (the payload bytes are still appended as given)
 * @return {Buffer}
 */
export function encodeFrame(options) {
  const { lengthBytes, mask, maskKey, ...rest } = options;
  return frame({
    ...rest,
    mask: mask || maskKey ? Buffer.from(maskKey || randomBytes(4)) : false,
    lengthBits:
      lengthBytes === undefined
        ? undefined
        : { 0: 7, 2: 16, 8: 64 }[lengthBytes]
  });
}

/**
 * The payload of a close frame (RFC 6455 §5.5.1): a 2-byte code and a UTF-8 reason.
 *
 * @param {number} code
 * @param {(string|Uint8Array)} [reason]
 * @return {Buffer}
 */
export function closePayload(code, reason = '') {
  return closeBody(code, reason);
}

/**
 * XORs `data` with a 4-byte key (RFC 6455 §5.3) into a new Buffer.
 *
 * @param {Uint8Array} data
 * @param {Uint8Array} key
 * @return {Buffer}
 */
export function maskBytes(data, key) {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[i & 3];
  return out;
}

/**
 * Incremental reader of frames from a byte stream. It checks nothing: it reports what was sent,
 * so tests can assert on every bit.
 */
export class FrameDecoder {
  constructor() {
    this.chunks = [];
    this.total = 0;
    // Bytes needed before the next decode attempt: chunks are only joined once a whole frame
    // (or header) is there, so a 16 MiB frame arriving in 64 KiB pieces is copied once.
    this.need = 2;
  }

  /**
   * Appends bytes and returns the frames completed by them.
   *
   * @param {Buffer} chunk
   * @return {Object[]} frames: { fin, rsv1, rsv2, rsv3, opcode, masked, maskKey, lengthBytes,
   *     payload (unmasked), code and reason (close frames with a payload) }
   */
  push(chunk) {
    this.chunks.push(chunk);
    this.total += chunk.length;
    const frames = [];
    while (this.total >= this.need) {
      const buf =
        this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const result = decodeOne(buf);
      if (result.frame) {
        frames.push(result.frame);
        const rest = buf.subarray(result.consumed);
        this.chunks = rest.length ? [rest] : [];
        this.total = rest.length;
        this.need = 2;
      } else {
        this.chunks = [buf];
        this.need = result.need;
      }
    }
    return frames;
  }
}

/**
 * Decodes the frame at the start of `buf`.
 *
 * @param {Buffer} buf
 * @return {{ frame: Object, consumed: number } | { need: number }}
 */
function decodeOne(buf) {
  if (buf.length < 2) return { need: 2 };
  let offset = 2;
  let length = buf[1] & 0x7f;
  let lengthBytes = 0;
  if (length === 126) {
    if (buf.length < 4) return { need: 4 };
    length = buf.readUInt16BE(2);
    lengthBytes = 2;
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return { need: 10 };
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Error(`frame length ${big} is not representable`);
    }
    length = Number(big);
    lengthBytes = 8;
    offset = 10;
  }
  const masked = (buf[1] & 0x80) !== 0;
  let maskKey = null;
  if (masked) {
    if (buf.length < offset + 4) return { need: offset + 4 };
    maskKey = Buffer.from(buf.subarray(offset, offset + 4));
    offset += 4;
  }
  if (buf.length < offset + length) return { need: offset + length };

  let payload = Buffer.from(buf.subarray(offset, offset + length));
  if (masked) payload = maskBytes(payload, maskKey);

  const frame = {
    fin: (buf[0] & 0x80) !== 0,
    rsv1: (buf[0] & 0x40) !== 0,
    rsv2: (buf[0] & 0x20) !== 0,
    rsv3: (buf[0] & 0x10) !== 0,
    opcode: buf[0] & 0x0f,
    masked,
    maskKey,
    lengthBytes,
    payload
  };
  if (frame.opcode === OP.CLOSE && payload.length >= 2) {
    frame.code = payload.readUInt16BE(0);
    frame.reason = payload.subarray(2);
  }
  return { frame, consumed: offset + length };
}

/**
 * A permessage-deflate compressor for one direction (RFC 7692 §7.2.1): raw DEFLATE, each message
 * ended by a sync flush whose 00 00 ff ff tail is removed.
 */
export class MessageDeflater {
  /**
   * @param {Object} [options]
   * @param {number} [options.windowBits=15]
   * @param {boolean} [options.noContextTakeover=false] Start every message from an empty window
   */
  constructor({ windowBits = 15, noContextTakeover = false } = {}) {
    this.windowBits = windowBits;
    this.noContextTakeover = noContextTakeover;
    this.stream = null;
  }

  /**
   * Compresses one message, or one fragment of it (`fin` false: the next call continues it).
   *
   * @param {(string|Uint8Array)} data
   * @param {boolean} [fin=true]
   * @return {Promise<Buffer>}
   */
  compress(data, fin = true) {
    if (!this.stream) {
      this.stream = zlib.createDeflateRaw({ windowBits: this.windowBits });
    }
    const stream = this.stream;
    const chunks = [];
    const onData = (chunk) => chunks.push(chunk);
    stream.on('data', onData);
    stream.write(toBytes(data));
    return new Promise((resolve, reject) => {
      stream.once('error', reject);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.removeListener('data', onData);
        stream.removeListener('error', reject);
        let out = Buffer.concat(chunks);
        if (fin) {
          out = out.subarray(0, out.length - 4);
          if (this.noContextTakeover) {
            this.stream.close();
            this.stream = null;
          }
        }
        resolve(out);
      });
    });
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }
}

/**
 * A permessage-deflate decompressor for one direction (RFC 7692 §7.2.2): appends 00 00 ff ff to
 * each message before inflating.
 */
export class MessageInflater {
  /**
   * @param {Object} [options]
   * @param {number} [options.windowBits=15]
   * @param {boolean} [options.noContextTakeover=false] A fresh window for every message
   */
  constructor({ windowBits = 15, noContextTakeover = false } = {}) {
    this.windowBits = windowBits;
    this.noContextTakeover = noContextTakeover;
    this.stream = null;
  }

  /**
   * Inflates the compressed payload of a whole message.
   *
   * @param {Uint8Array} data
   * @return {Promise<Buffer>} rejects with zlib's error for data the window cannot decode
   */
  inflate(data) {
    if (!this.stream) {
      // zlib only checks a back-reference against the window when it reaches past the current
      // output chunk, so a 64-byte chunk makes "invalid distance too far back" reliable for data
      // compressed with a larger window than negotiated.
      this.stream = zlib.createInflateRaw({
        windowBits: this.windowBits,
        chunkSize: 64
      });
    }
    const stream = this.stream;
    const chunks = [];
    const onData = (chunk) => chunks.push(chunk);
    stream.on('data', onData);
    return new Promise((resolve, reject) => {
      const onError = (error) => {
        this.stream = null;
        reject(error);
      };
      stream.once('error', onError);
      stream.write(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]));
      stream.flush(() => {
        stream.removeListener('data', onData);
        stream.removeListener('error', onError);
        if (this.noContextTakeover) {
          stream.close();
          this.stream = null;
        }
        resolve(Buffer.concat(chunks));
      });
    });
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }
}
