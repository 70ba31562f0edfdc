'use strict';

const { Writable } = require('stream');

const FrameReader = require('./frame-reader');
const { BINARY_TYPES, NO_EXTENSIONS } = require('./constants');

// The sink of a Receiver: each event of the reader is emitted by it.
const EMITTER = Object.freeze({
  conclude(receiver, code, reason) {
    receiver.emit('conclude', code, reason);
    receiver.end();
  },
  drain() {},
  error() {},
  finish() {},
  message(receiver, data, isBinary) {
    receiver.emit('message', data, isBinary);
  },
  ping(receiver, data) {
    receiver.emit('ping', data);
  },
  pong(receiver, data) {
    receiver.emit('pong', data);
  }
});

/**
 * HyBi Receiver, as ws exports it: a Writable over a FrameReader that emits
 * `'message'`, `'ping'`, `'pong'`, `'conclude'` and `'error'`. A WebSocket
 * uses a FrameReader directly.
 *
 * @extends Writable
 */
class Receiver extends Writable {
  /**
   * Creates a Receiver instance.
   *
   * @param {Object} [options] Options object
   * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {String} [options.binaryType=nodebuffer] The type for binary data
   * @param {Object} [options.extensions] An object containing the negotiated
   *     extensions
   * @param {Boolean} [options.isServer=false] Specifies whether to operate in
   *     client or server mode
   * @param {Number} [options.maxBufferedChunks=0] The maximum number of
   *     buffered data chunks
   * @param {Number} [options.maxFragments=0] The maximum number of message
   *     fragments
   * @param {Number} [options.maxPayload=0] The maximum allowed message length
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text and close messages
   */
  constructor(options = {}) {
    super();

    //
    // The reader is made on the first write, when the extensions are surely
    // negotiated.
    //
    this._options = options;
    this._reader = null;
    this._binaryTypeOption = options.binaryType || BINARY_TYPES[0];
  }

  /**
   * The negotiated extensions, as ws's Receiver has them.
   *
   * @type {Object}
   * @private
   */
  get _extensions() {
    return this._options.extensions || NO_EXTENSIONS;
  }

  /**
   * The message size limit (0 = none), as ws's Receiver has it.
   *
   * @type {Number}
   * @private
   */
  get _maxPayload() {
    return FrameReader.limitOf(this._options.maxPayload);
  }

  /**
   * The type binary messages are delivered as; may change between messages.
   *
   * @type {String}
   * @private
   */
  get _binaryType() {
    return this._binaryTypeOption;
  }

  set _binaryType(type) {
    this._binaryTypeOption = type;
    if (this._reader !== null) this._reader._binaryType = type;
  }

  /**
   * Implements `Writable.prototype._write()`.
   *
   * @param {Buffer} chunk The chunk of data to write
   * @param {String} encoding The character encoding of `chunk`
   * @param {Function} cb Callback
   * @private
   */
  _write(chunk, encoding, cb) {
    if (this._reader === null) {
      this._reader = new FrameReader(EMITTER, this, this._options);
      this._reader._binaryType = this._binaryTypeOption;
    }
    this._reader.startChunk(chunk, cb);
  }

  /**
   * Implements `Writable.prototype._destroy()`.
   *
   * @param {Error} err The error, if any
   * @param {Function} callback Callback
   * @private
   */
  _destroy(err, callback) {
    if (this._reader !== null) this._reader.destroy();
    callback(err);
  }
}

module.exports = Receiver;
