'use strict';

const binding = require('./binding');
const PerMessageDeflate = require('./permessage-deflate');
const {
  EMPTY_BUFFER,
  kWebSocket,
  NO_EXTENSIONS,
  NOOP
} = require('./constants');
const { isBlob, isValidStatusCode } = require('./validation');

const FastBuffer = Buffer[Symbol.species];

const kByteLength = Symbol('kByteLength');
const sharedMaskBuffer = Buffer.alloc(4);

//
// Frames are built in JS into a Buffer from Node's pool, with the native
// kernel doing the masking. Creating a Buffer in the addon costs far more than
// the work: binding.frame() took 600-1400 ns for a 64-byte payload and
// binding.frameHeader() about 1100 ns, against 60-140 ns for allocUnsafe(),
// the header bytes in JS and a copy (Node 20, x86-64, loaded 2-core VM).
//
// Masking: a JS loop costs ~2.2 ns per byte (26 ns at 8 bytes, 72 ns at 32,
// 108 ns at 48), the native kernel ~95 ns flat up to 256 bytes: native from
// 40 bytes on.
//
const NATIVE_MASK_MIN_BYTES = 40;

//
// Payloads up to this size are copied behind their header into one Buffer;
// above it the header and the caller's payload go to the socket as two chunks
// of one writev, without a copy. Loopback TCP, ns per message, copy / two
// chunks: 1 KiB 3140 / 3230, 2 KiB 5440 / 4620, 4 KiB 9220 / 7630 (one core,
// best of six runs; the machine was shared, so only the ratios count).
//
const FRAME_COPY_MAX_BYTES = 1024;

//
// RFC 6455 §5.3: masking keys must be unpredictable. They are taken 4 bytes at
// a time from a pool that the native CSPRNG (OpenSSL RAND_bytes) refills, so a
// frame costs no native call. Allocated on first use: servers never mask.
//
const RANDOM_POOL_BYTES = 8 * 1024;
let randomPool;
let randomPoolOffset = RANDOM_POOL_BYTES;

const DEFAULT = 0;
const DEFLATING = 1;
const GET_BLOB_DATA = 2;

//
// Who holds the cork this Sender put on its socket: nobody, the end of the
// tick (endTick()), or the end of a batch (endBatch()).
//
const UNCORKED = 0;
const CORKED_TICK = 1;
const CORKED_BATCH = 2;

/**
 * HyBi Sender implementation: frames messages (RFC 6455 §5.2), masks them with
 * the native kernel and owns the send queue, its byte accounting and the
 * batching of writes.
 */
class Sender {
  /**
   * Creates a Sender instance.
   *
   * @param {Duplex} socket The connection socket
   * @param {Object} [extensions] An object containing the negotiated extensions
   * @param {Function} [generateMask] The function used to generate the
   *     masking key
   */
  constructor(socket, extensions, generateMask) {
    this._extensions = extensions || NO_EXTENSIONS;

    if (generateMask) {
      this._generateMask = generateMask;
      this._maskBuffer = Buffer.alloc(4);
    }

    this._socket = socket;

    this._firstFragment = true;
    this._compress = false;

    this._bufferedBytes = 0;
    // Sends waiting for a compression or a Blob; null while there are none,
    // as on most idle connections.
    this._queue = null;
    this._state = DEFAULT;

    this._wroteThisTick = false;
    this._cork = UNCORKED;
    this._batching = false;

    this.onerror = NOOP;
    this[kWebSocket] = undefined;
  }

  /**
   * Frames a piece of data according to RFC 6455 §5.2, in the shapes ws's
   * `Sender.frame()` returns, which hand-rolled broadcasts index: `[header,
   * payload]`, or one Buffer for a masked `readOnly` payload. Unlike ws, a
   * payload is never masked in place: without `readOnly` the second element
   * is a masked copy.
   *
   * @param {(Buffer|String)} data The data to frame
   * @param {Object} options Options object
   * @param {Boolean} [options.fin=false] Specifies whether or not to set the
   *     FIN bit
   * @param {Function} [options.generateMask] The function used to generate the
   *     masking key
   * @param {Boolean} [options.mask=false] Specifies whether or not to mask
   *     `data`
   * @param {Buffer} [options.maskBuffer] The buffer used to store the masking
   *     key
   * @param {Number} options.opcode The opcode
   * @param {Boolean} [options.readOnly=false] Specifies whether `data` can be
   *     modified (it never is)
   * @param {Boolean} [options.rsv1=false] Specifies whether or not to set the
   *     RSV1 bit
   * @return {Buffer[]} The framed data
   * @public
   */
  static frame(data, options) {
    data = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);

    const length = data.length;
    const masked = !!options.mask;
    const offset = payloadOffset(length);
    const header = Buffer.allocUnsafe(masked ? offset + 4 : offset);

    writeHeader(header, length, options);
    if (!masked) return [header, data];

    header[1] |= 0x80;
    const key = maskKey(options, header, offset);

    if (key === undefined) return [header, data];

    if (options.readOnly) {
      const target = Buffer.allocUnsafe(header.length + length);

      header.copy(target, 0);
      applyMask(data, key, target, header.length, length);
      return [target];
    }

    const payload = Buffer.allocUnsafe(length);

    applyMask(data, key, payload, 0, length);
    return [header, payload];
  }

  /**
   * Sends a close message to the other peer.
   *
   * @param {Number} [code] The status code component of the body
   * @param {(String|Buffer)} [data] The message component of the body
   * @param {Boolean} [mask=false] Specifies whether or not to mask the message
   * @param {Function} [cb] Callback
   * @public
   */
  close(code, data, mask, cb) {
    let payload;

    if (code === undefined) {
      payload = EMPTY_BUFFER;
    } else if (typeof code !== 'number' || !isValidStatusCode(code)) {
      throw new TypeError('First argument must be a valid error code number');
    } else if (data === undefined || !data.length) {
      payload = binding.closePayload(code, EMPTY_BUFFER);
    } else {
      const length = Buffer.byteLength(data);

      if (length > 123) {
        throw new RangeError('The message must not be greater than 123 bytes');
      }

      let reason;

      if (typeof data === 'string') {
        reason = Buffer.from(data);
      } else if (data instanceof Uint8Array) {
        reason = data;
      } else {
        throw new TypeError('Second argument must be a string or a Uint8Array');
      }

      //
      // RFC 6455 §5.5.1: the reason must be UTF-8; the native writer refuses
      // to put anything else on the wire.
      //
      payload = binding.closePayload(code, reason);
    }

    const options = {
      [kByteLength]: payload.length,
      fin: true,
      generateMask: this._generateMask,
      mask,
      maskBuffer: this._maskBuffer,
      opcode: 0x08,
      readOnly: false,
      rsv1: false
    };

    if (this._state !== DEFAULT) {
      this.enqueue([this.dispatch, payload, false, options, cb]);
    } else {
      this.sendFrame(frameMessage(payload, options), cb);
    }
  }

  /**
   * Sends a ping message to the other peer.
   *
   * @param {*} data The message to send
   * @param {Boolean} [mask=false] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback
   * @public
   */
  ping(data, mask, cb) {
    this.control(0x09, data, mask, cb);
  }

  /**
   * Sends a pong message to the other peer.
   *
   * @param {*} data The message to send
   * @param {Boolean} [mask=false] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback
   * @public
   */
  pong(data, mask, cb) {
    this.control(0x0a, data, mask, cb);
  }

  /**
   * Sends a ping or pong (RFC 6455 §5.5: at most 125 bytes of payload).
   *
   * @param {Number} opcode 0x09 or 0x0a
   * @param {*} data The message to send
   * @param {Boolean} [mask=false] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback
   * @private
   */
  control(opcode, data, mask, cb) {
    let byteLength;

    if (typeof data === 'string') {
      byteLength = Buffer.byteLength(data);
    } else if (isBlob(data)) {
      byteLength = data.size;
    } else {
      data = toBuffer(data);
      byteLength = data.length;
    }

    if (byteLength > 125) {
      throw new RangeError('The data size must not be greater than 125 bytes');
    }

    const options = {
      [kByteLength]: byteLength,
      fin: true,
      generateMask: this._generateMask,
      mask,
      maskBuffer: this._maskBuffer,
      opcode,
      readOnly: false,
      rsv1: false
    };

    if (isBlob(data)) {
      if (this._state !== DEFAULT) {
        this.enqueue([this.getBlobData, data, false, options, cb]);
      } else {
        this.getBlobData(data, false, options, cb);
      }
    } else if (this._state !== DEFAULT) {
      this.enqueue([this.dispatch, data, false, options, cb]);
    } else {
      this.sendFrame(frameMessage(data, options), cb);
    }
  }

  /**
   * Sends a data message to the other peer.
   *
   * @param {*} data The message to send
   * @param {Object} options Options object (not modified)
   * @param {Boolean} [options.binary=false] Specifies whether `data` is binary
   *     or text
   * @param {Boolean} [options.compress=false] Specifies whether or not to
   *     compress `data`
   * @param {Boolean} [options.fin=false] Specifies whether the fragment is the
   *     last one
   * @param {Boolean} [options.mask=false] Specifies whether or not to mask
   *     `data`
   * @param {Function} [cb] Callback
   * @public
   */
  send(data, options, cb) {
    const perMessageDeflate = this._extensions[PerMessageDeflate.extensionName];
    let opcode = options.binary ? 2 : 1;
    let rsv1 = !!options.compress && perMessageDeflate !== undefined;
    let byteLength;

    if (typeof data === 'string') {
      byteLength = Buffer.byteLength(data);
    } else if (isBlob(data)) {
      byteLength = data.size;
    } else {
      data = toBuffer(data);
      byteLength = data.length;
    }

    if (this._firstFragment) {
      this._firstFragment = false;

      //
      // Without context takeover a short message gains nothing from deflate
      // (no history to refer back to), so below the threshold it goes out
      // plain. With context takeover ws compresses every message; so do we.
      //
      if (
        rsv1 &&
        perMessageDeflate &&
        perMessageDeflate.params[
          perMessageDeflate._isServer
            ? 'server_no_context_takeover'
            : 'client_no_context_takeover'
        ]
      ) {
        rsv1 = byteLength >= perMessageDeflate._threshold;
      }
      this._compress = rsv1;
    } else {
      //
      // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message
      // only; continuation frames carry opcode 0 (RFC 6455 §5.4).
      //
      rsv1 = false;
      opcode = 0;
    }

    if (options.fin) this._firstFragment = true;

    const opts = {
      [kByteLength]: byteLength,
      fin: options.fin,
      generateMask: this._generateMask,
      mask: options.mask,
      maskBuffer: this._maskBuffer,
      opcode,
      readOnly: false,
      rsv1
    };

    if (isBlob(data)) {
      if (this._state !== DEFAULT) {
        this.enqueue([this.getBlobData, data, this._compress, opts, cb]);
      } else {
        this.getBlobData(data, this._compress, opts, cb);
      }
    } else if (this._state !== DEFAULT) {
      this.enqueue([this.dispatch, data, this._compress, opts, cb]);
    } else {
      this.dispatch(data, this._compress, opts, cb);
    }
  }

  /**
   * Sends data framed once by `Sender.frame()`; the same list may be given to
   * the senders of many sockets (broadcast). Keeps the order of this socket's
   * queue.
   *
   * @param {Buffer[]} list The framed data
   * @param {Function} [cb] Callback
   * @public
   */
  sendFramed(list, cb) {
    if (this._state !== DEFAULT) {
      let byteLength = 0;

      for (let i = 0; i < list.length; i++) byteLength += list[i].length;
      this.enqueue([
        this.sendList,
        list,
        false,
        { [kByteLength]: byteLength },
        cb
      ]);
    } else {
      this.sendFrame(list, cb);
    }
  }

  /**
   * Gets the contents of a blob as binary data.
   *
   * @param {Blob} blob The blob
   * @param {Boolean} [compress=false] Specifies whether or not to compress
   *     the data
   * @param {Object} options The frame options (see `Sender.frame()`)
   * @param {Function} [cb] Callback
   * @private
   */
  getBlobData(blob, compress, options, cb) {
    this._bufferedBytes += options[kByteLength];
    this._state = GET_BLOB_DATA;

    let counted = true;

    blob
      .arrayBuffer()
      .then((arrayBuffer) => {
        if (this._socket.destroyed) {
          const err = new Error(
            'The socket was closed while the blob was being read'
          );

          //
          // On the next tick so that a throwing callback is not turned into
          // a rejection of this promise chain.
          //
          process.nextTick(failQueue, this, err, cb, options);
          return;
        }

        counted = false;
        this._bufferedBytes -= options[kByteLength];
        this._state = DEFAULT;
        this.dispatch(new FastBuffer(arrayBuffer), compress, options, cb);
        this.dequeue();
      })
      .catch((err) => {
        process.nextTick(onError, this, err, cb, counted ? options : null);
      });
  }

  /**
   * Frames and writes a message, compressing it first when asked.
   *
   * @param {Buffer} data The message to send
   * @param {Boolean} [compress=false] Specifies whether or not to compress
   *     `data`
   * @param {Object} options The frame options (see `Sender.frame()`)
   * @param {Function} [cb] Callback
   * @private
   */
  dispatch(data, compress, options, cb) {
    if (!compress) {
      this.sendFrame(frameMessage(data, options), cb);
      return;
    }

    const perMessageDeflate = this._extensions[PerMessageDeflate.extensionName];

    //
    // Small parts are compressed at once so they leave in this call like
    // uncompressed ones; nothing is queued behind them.
    //
    if (typeof perMessageDeflate._compressNow === 'function') {
      const compressed = perMessageDeflate._compressNow(data, options.fin);

      if (compressed !== null) {
        this.sendFrame(frameMessage(compressed, options), cb);
        return;
      }
    }

    this._bufferedBytes += options[kByteLength];
    this._state = DEFLATING;
    perMessageDeflate.compress(data, options.fin, (err, compressed) => {
      if (this._socket.destroyed) {
        failQueue(
          this,
          new Error('The socket was closed while data was being compressed'),
          cb,
          options
        );
        return;
      }

      if (err) {
        failQueue(this, err, cb, options);
        this.onerror(err);
        return;
      }

      this._bufferedBytes -= options[kByteLength];
      this._state = DEFAULT;
      this.sendFrame(frameMessage(compressed, options), cb);
      this.dequeue();
    });
  }

  /**
   * Executes queued send operations.
   *
   * @private
   */
  dequeue() {
    while (this._state === DEFAULT && this._queue !== null) {
      const params = this._queue.shift();

      if (this._queue.length === 0) this._queue = null;

      this._bufferedBytes -= params[3][kByteLength];
      params[0].call(this, params[1], params[2], params[3], params[4]);
    }
  }

  /**
   * Enqueues a send operation.
   *
   * @param {Array} params [method, data, compress, options, cb]
   * @private
   */
  enqueue(params) {
    this._bufferedBytes += params[3][kByteLength];
    if (this._queue === null) this._queue = [params];
    else this._queue.push(params);
  }

  /**
   * The queued form of `sendFramed()`.
   *
   * @param {Buffer[]} list The framed data
   * @param {Boolean} compress Unused
   * @param {Object} options Unused
   * @param {Function} [cb] Callback
   * @private
   */
  sendList(list, compress, options, cb) {
    this.sendFrame(list, cb);
  }

  /**
   * Starts a batch: every frame written until `endBatch()` is held and then
   * leaves in one writev. The WebSocket wraps each socket chunk it reads in
   * a batch, so all the replies that chunk's messages cause cost one system
   * call: on loopback a write charges the writer the TCP path of both ends.
   * Measured with bench/loadgen (32-byte echoes, 100 connections, 4 in
   * flight, about 4 messages per chunk; server on one core, shared machine):
   * 4.6-4.8 us of server CPU per message writing the first reply at once and
   * the rest at the end of the tick, 3.2-3.7 us with the batch.
   *
   * @public
   */
  startBatch() {
    this._batching = true;
  }

  /**
   * Ends a batch and writes what it held.
   *
   * @public
   */
  endBatch() {
    this._batching = false;

    if (this._cork === CORKED_BATCH) {
      this._cork = UNCORKED;
      this._socket.uncork();
    }
  }

  /**
   * Writes at once the frames held for the end of the tick or batch, e.g.
   * before the socket is destroyed.
   *
   * @public
   */
  flush() {
    if (this._cork !== UNCORKED) {
      this._cork = UNCORKED;
      this._socket.uncork();
    }
  }

  /**
   * Writes a frame. Within a batch (see `startBatch()`) every frame is held
   * until the batch ends. Otherwise, frames written in the same tick after
   * the first are held (cork) and leave together in one writev on the next
   * tick; the first one leaves at once, so a lone message gains no latency.
   * Measured on loopback TCP (bursts of 16 frames of 64 bytes per tick, one
   * core): 10700 ns per message writing each frame at once, 2900-4100 ns with
   * this scheme, 2300-3900 ns corking even the first; round trip of a lone
   * frame to an echo peer 17.8-19.2 us p50 in all three.
   *
   * @param {Buffer[]} list The frame to send
   * @param {Function} [cb] Callback
   * @private
   */
  sendFrame(list, cb) {
    const socket = this._socket;

    if (this._cork === UNCORKED) {
      if (this._batching) {
        this._cork = CORKED_BATCH;
        socket.cork();
      } else if (!this._wroteThisTick) {
        this._wroteThisTick = true;
        process.nextTick(endTick, this);
      } else {
        this._cork = CORKED_TICK;
        socket.cork();
      }
    }

    if (list.length === 2) {
      if (this._cork !== UNCORKED) {
        socket.write(list[0]);
        socket.write(list[1], cb);
      } else {
        socket.cork();
        socket.write(list[0]);
        socket.write(list[1], cb);
        socket.uncork();
      }
    } else {
      socket.write(list[0], cb);
    }
  }
}

module.exports = Sender;

/**
 * Ends a tick of writes: releases the frames held since the second write.
 *
 * @param {Sender} sender The `Sender` instance
 * @private
 */
function endTick(sender) {
  sender._wroteThisTick = false;

  if (sender._cork === CORKED_TICK) {
    sender._cork = UNCORKED;
    sender._socket.uncork();
  }
}

/**
 * How the Sender frames its own messages: like `Sender.frame()`, but a payload
 * of up to FRAME_COPY_MAX_BYTES, and every masked one, is copied behind its
 * header into one Buffer, and a string goes unconverted behind its header
 * when `options[kByteLength]` holds its byte length.
 *
 * @param {(Buffer|String)} data The data to frame
 * @param {Object} options The frame options (see `Sender.frame()`)
 * @return {(Buffer|String)[]} One Buffer, or a header followed by the
 *     unchanged payload
 * @private
 */
function frameMessage(data, options) {
  let length;

  if (typeof data === 'string') {
    length =
      options[kByteLength] !== undefined
        ? options[kByteLength]
        : Buffer.byteLength(data);
  } else {
    data = toBuffer(data);
    length = data.length;
  }

  const masked = !!options.mask;
  let offset = payloadOffset(length);
  const headerBytes = masked ? offset + 4 : offset;
  const merge = masked || length <= FRAME_COPY_MAX_BYTES;
  const target = Buffer.allocUnsafe(merge ? headerBytes + length : headerBytes);

  writeHeader(target, length, options);

  if (!merge) return [target, data];

  let key;

  if (masked) {
    target[1] |= 0x80;
    key = maskKey(options, target, offset);
    offset += 4;
  }

  if (typeof data === 'string') {
    target.write(data, offset, length);
    if (key !== undefined) maskInPlace(target, key, offset, length);
  } else if (key !== undefined) {
    applyMask(data, key, target, offset, length);
  } else {
    target.set(data, offset);
  }

  return [target];
}

/**
 * The length of a frame header before its masking key (RFC 6455 §5.2).
 *
 * @param {Number} length The payload length
 * @return {Number}
 * @private
 */
function payloadOffset(length) {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Writes the first bytes of a frame header: FIN, RSV1, opcode and the
 * payload length (without the MASK bit).
 *
 * @param {Buffer} target Where to write, at offset 0
 * @param {Number} length The payload length
 * @param {Object} options The frame options (see `Sender.frame()`)
 * @private
 */
function writeHeader(target, length, options) {
  target[0] = (options.fin ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0);
  target[0] |= options.opcode;

  if (length < 126) {
    target[1] = length;
  } else if (length < 65536) {
    target[1] = 126;
    target[2] = length >>> 8;
    target[3] = length & 0xff;
  } else {
    target[1] = 127;
    target[2] = target[3] = 0;
    target.writeUIntBE(length, 4, 6);
  }
}

/**
 * Writes the masking key of a frame into `target` at `offset` and returns it:
 * from `options.generateMask` when given, else from the CSPRNG pool. A given
 * `maskBuffer` receives the key, as in ws.
 *
 * @param {Object} options The frame options
 * @param {Buffer} target The frame
 * @param {Number} offset Where the key goes
 * @return {(Buffer|undefined)} The key, or `undefined` when it is all zeros
 *     (masking is then the identity)
 * @private
 */
function maskKey(options, target, offset) {
  let key;

  if (options.generateMask) {
    key = options.maskBuffer || sharedMaskBuffer;
    options.generateMask(key);
    target[offset] = key[0];
    target[offset + 1] = key[1];
    target[offset + 2] = key[2];
    target[offset + 3] = key[3];
  } else {
    if (randomPoolOffset === RANDOM_POOL_BYTES) {
      if (randomPool === undefined)
        randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
      binding.randomFill(randomPool);
      randomPoolOffset = 0;
    }

    target[offset] = randomPool[randomPoolOffset++];
    target[offset + 1] = randomPool[randomPoolOffset++];
    target[offset + 2] = randomPool[randomPoolOffset++];
    target[offset + 3] = randomPool[randomPoolOffset++];

    key = options.maskBuffer || sharedMaskBuffer;
    key[0] = target[offset];
    key[1] = target[offset + 1];
    key[2] = target[offset + 2];
    key[3] = target[offset + 3];
  }

  return (key[0] | key[1] | key[2] | key[3]) === 0 ? undefined : key;
}

/**
 * Masks `length` bytes of `source` into `output` from `offset` (RFC 6455
 * §5.3).
 *
 * @param {Buffer} source The payload
 * @param {Buffer} key The 4-byte masking key
 * @param {Buffer} output The frame
 * @param {Number} offset Where the payload starts in `output`
 * @param {Number} length The payload length
 * @private
 */
function applyMask(source, key, output, offset, length) {
  if (length < NATIVE_MASK_MIN_BYTES) {
    for (let i = 0; i < length; i++) {
      output[offset + i] = source[i] ^ key[i & 3];
    }
  } else {
    binding.mask(source, key, output, offset, length);
  }
}

/**
 * Masks the `length` bytes of `buffer` from `offset` in place.
 *
 * @param {Buffer} buffer The frame
 * @param {Buffer} key The 4-byte masking key
 * @param {Number} offset Where the payload starts
 * @param {Number} length The payload length
 * @private
 */
function maskInPlace(buffer, key, offset, length) {
  if (length < NATIVE_MASK_MIN_BYTES) {
    for (let i = 0; i < length; i++) buffer[offset + i] ^= key[i & 3];
  } else {
    binding.unmask(
      new FastBuffer(buffer.buffer, buffer.byteOffset + offset, length),
      key
    );
  }
}

/**
 * Converts `data` to a `Buffer` without copying when it is a view already.
 *
 * @param {*} data The data to convert
 * @return {Buffer} The buffer
 * @throws {TypeError} If `data` cannot be converted
 * @private
 */
function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return new FastBuffer(data);
  if (ArrayBuffer.isView(data)) {
    return new FastBuffer(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.from(data);
}

/**
 * Calls the callback of a failed operation and of every queued one with
 * `err`, exactly once each, and empties the queue. Later sends go straight
 * to the (closed) socket, which fails them in turn.
 *
 * @param {Sender} sender The `Sender` instance
 * @param {Error} err The error
 * @param {Function} [cb] The callback of the failed operation
 * @param {Object} [options] The frame options of the failed operation, if
 *     its bytes are still counted in `_bufferedBytes`
 * @private
 */
function failQueue(sender, err, cb, options) {
  const queue = sender._queue || [];

  sender._queue = null;
  sender._state = DEFAULT;
  if (options) sender._bufferedBytes -= options[kByteLength];

  for (let i = 0; i < queue.length; i++) {
    sender._bufferedBytes -= queue[i][3][kByteLength];
  }

  if (typeof cb === 'function') cb(err);

  for (let i = 0; i < queue.length; i++) {
    const callback = queue[i][4];

    if (typeof callback === 'function') callback(err);
  }
}

/**
 * Handles an asynchronous failure (a Blob that could not be read).
 *
 * @param {Sender} sender The `Sender` instance
 * @param {Error} err The error
 * @param {Function} [cb] The callback of the failed operation
 * @param {Object} [options] Its frame options while its bytes are counted
 * @private
 */
function onError(sender, err, cb, options) {
  failQueue(sender, err, cb, options);
  sender.onerror(err);
}
