'use strict';

const binding = require('./binding');
const PerMessageDeflate = require('./permessage-deflate');
const { EMPTY_BUFFER, kWebSocket, NOOP } = require('./constants');
const { isBlob, isValidStatusCode } = require('./validation');

const FastBuffer = Buffer[Symbol.species];

const { FIN, MASK, RSV1 } = binding;

const kByteLength = Symbol('kByteLength');
const sharedMaskBuffer = Buffer.alloc(4);

//
// Payloads up to this size are copied behind their header into one Buffer by
// one native call; above it the header and the caller's payload are written as
// two chunks (one writev, no copy). Measured on a loopback TCP socket (Node 20,
// one core, ns per message, copy / two chunks): 1 KiB 2600 / 2850-3240,
// 2 KiB 3600-4100 / 3700-4160, 3 KiB 5530-5640 / 3680-5510, 4 KiB 5070-6160 /
// 4770-5600, 16 KiB 14750 / 11490, 64 KiB 82260 / 47510. The crossover is
// near 2 KiB.
//
const FRAME_COPY_MAX_BYTES = 2 * 1024;

const DEFAULT = 0;
const DEFLATING = 1;
const GET_BLOB_DATA = 2;

/**
 * HyBi Sender implementation: frames messages (RFC 6455 §5.2) with the native
 * writer and owns the send queue, its byte accounting and the batching of
 * writes.
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
    this._extensions = extensions || {};

    if (generateMask) {
      this._generateMask = generateMask;
      this._maskBuffer = Buffer.alloc(4);
    }

    this._socket = socket;

    this._firstFragment = true;
    this._compress = false;

    this._bufferedBytes = 0;
    this._queue = [];
    this._state = DEFAULT;

    this._wroteThisTick = false;
    this._corked = false;

    this.onerror = NOOP;
    this[kWebSocket] = undefined;
  }

  /**
   * Frames a piece of data according to RFC 6455 §5.2.
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
   *     modified (it never is: masking writes into a new Buffer)
   * @param {Boolean} [options.rsv1=false] Specifies whether or not to set the
   *     RSV1 bit
   * @return {Buffer[]} The framed data: one Buffer, or a header followed by
   *     the unchanged payload
   * @public
   */
  static frame(data, options) {
    const bytes = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
    let flags = options.fin ? FIN : 0;

    if (options.rsv1) flags |= RSV1;

    if (options.mask) {
      let maskKey;

      //
      // RFC 6455 §5.3: a fresh, unpredictable key per frame. Without a
      // user-supplied generator the native writer draws it from its CSPRNG
      // pool; a given `maskBuffer` receives the key, as in ws.
      //
      if (options.generateMask) {
        maskKey = options.maskBuffer || sharedMaskBuffer;
        options.generateMask(maskKey);
      } else if (options.maskBuffer) {
        maskKey = options.maskBuffer;
        binding.randomFill(maskKey);
      }

      return [binding.frame(bytes, options.opcode, flags | MASK, maskKey)];
    }

    if (bytes.length <= FRAME_COPY_MAX_BYTES) {
      return [binding.frame(bytes, options.opcode, flags)];
    }

    return [binding.frameHeader(bytes.length, options.opcode, flags), bytes];
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
      this.sendFrame(Sender.frame(payload, options), cb);
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
      data = Buffer.from(data);
      byteLength = data.length;
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
      this.sendFrame(Sender.frame(data, options), cb);
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
      data = Buffer.from(data);
      byteLength = data.length;
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
      this.sendFrame(Sender.frame(data, options), cb);
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
        this.sendFrame(Sender.frame(compressed, options), cb);
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
      this.sendFrame(Sender.frame(compressed, options), cb);
      this.dequeue();
    });
  }

  /**
   * Executes queued send operations.
   *
   * @private
   */
  dequeue() {
    while (this._state === DEFAULT && this._queue.length) {
      const params = this._queue.shift();

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
    this._queue.push(params);
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
   * Writes a frame. Frames written in the same tick after the first are held
   * (cork) and leave together in one writev on the next tick; the first one
   * leaves at once, so a lone message gains no latency and a `terminate()`
   * right after one `send()` still delivers it, as with ws. Measured on
   * loopback TCP (bursts of 16 frames of 64 bytes per tick, one core): 10700
   * ns per message writing each frame at once, 2900-4100 ns with this scheme,
   * 2300-3900 ns corking even the first; round trip of a lone frame to an
   * echo peer 17.8-19.2 us p50 in all three.
   *
   * @param {Buffer[]} list The frame to send
   * @param {Function} [cb] Callback
   * @private
   */
  sendFrame(list, cb) {
    const socket = this._socket;

    if (!this._wroteThisTick) {
      this._wroteThisTick = true;
      process.nextTick(endTick, this);
    } else if (!this._corked) {
      this._corked = true;
      socket.cork();
    }

    if (list.length === 2) {
      if (this._corked) {
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

  if (sender._corked) {
    sender._corked = false;
    sender._socket.uncork();
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
  const queue = sender._queue;

  sender._queue = [];
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
