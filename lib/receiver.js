'use strict';

const { Writable } = require('stream');

const binding = require('./binding');
const PerMessageDeflate = require('./permessage-deflate');
const { protocolError, status } = require('./errors');
const {
  BINARY_TYPES,
  EMPTY_BUFFER,
  kWebSocket,
  NO_EXTENSIONS
} = require('./constants');

const FastBuffer = Buffer[Symbol.species];

const OWNED = 0x100;
const WORDS_PER_EVENT = 4;
const HEADER_WORDS = 4;

//
// The chunk size from which a Receiver on a NativeSocket links its parser for
// direct payload reads (the addon reads directly from 16 KiB left in a frame).
//
const LINK_MIN_CHUNK = 16 * 1024;

//
// The arrays execute() copies a chunk's results into, lent to a receiver from
// its first execute() on a chunk until the chunk is done. An idle connection
// then holds none (an array that has held a few events is about 190 bytes);
// more than one is out only while a handler makes another receiver parse.
//
const spareWordArrays = [];
const MAX_SPARE_WORD_ARRAYS = 16;

//
// Not a Status of native/core/status.h: the engine returned without progress,
// which would otherwise loop forever. lib/errors.js reports it as an internal
// error (1011).
//
const NO_PROGRESS = 255;
const { INFLATE_PENDING } = status;

/**
 * HyBi Receiver: a Writable over the native frame parser. Each socket chunk
 * is parsed by one native call; the events it reports are then emitted from
 * JS, so ws's event order, pausing and `allowSynchronousEvents` pacing are
 * kept and no user code ever runs in the middle of a parse. A large
 * compressed message is inflated in slices (256 KiB of output each, about a
 * millisecond of zlib) with a turn of the event loop between two slices, so
 * the loop stays free as with ws's asynchronous zlib; later socket chunks
 * wait in the Writable's buffer meanwhile.
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

    this._allowSynchronousEvents =
      options.allowSynchronousEvents !== undefined
        ? options.allowSynchronousEvents
        : true;
    this._binaryType = options.binaryType || BINARY_TYPES[0];
    this._extensions = options.extensions || NO_EXTENSIONS;
    this._isServer = !!options.isServer;
    this._maxBufferedChunks = options.maxBufferedChunks | 0;
    this._maxFragments = options.maxFragments | 0;
    this._maxPayload = options.maxPayload | 0;
    this._skipUTF8Validation = !!options.skipUTF8Validation;
    this[kWebSocket] = undefined;

    //
    // Created on the first write, when the extensions are surely negotiated.
    //
    this._parser = null;
    this._concluded = false;

    //
    // The chunk being parsed and what the last execute() reported about it,
    // kept across a deferred ('allowSynchronousEvents: false') emit.
    //
    this._chunk = null;
    this._offset = 0;
    this._cb = null;
    this._parseWords = null;
    this._eventCount = 0;
    this._eventIndex = 0;
    this._owned = null;
    this._status = 0;
    this._detail = 0;

    //
    // Direct payload reads (attachNativeReads()): the NativeSocket until the
    // first large chunk links it, then a word kept at 1 while every byte
    // delivered here has been parsed and no event is held back, so the socket
    // may read a large frame's payload straight into the parser.
    //
    this._nativeSocket = null;
    this._idle = null;
  }

  /**
   * Lets a NativeSocket read the rest of large uncompressed frames straight
   * into this receiver's parser while the receiver is caught up; the socket
   * then delivers an empty chunk when such a frame is complete. The link is
   * made on the first chunk of 16 KiB or more, so connections that only see
   * small messages pay nothing for it.
   *
   * @param {NativeSocket} socket The socket feeding this receiver
   * @private
   */
  attachNativeReads(socket) {
    this._nativeSocket = socket;
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
    //
    // RFC 6455 §5.5.1: nothing after the close frame is read.
    //
    if (this._concluded) {
      cb();
      return;
    }

    if (this._parser === null) this._parser = createParser(this);
    if (this._idle !== null) {
      this._idle[0] = 0;
    } else if (this._nativeSocket !== null && chunk.length >= LINK_MIN_CHUNK) {
      this._idle = new Int32Array(new ArrayBuffer(4));
      this._nativeSocket.linkParser(this._parser, this._idle);
      this._nativeSocket = null;
    }

    this._chunk = chunk;
    this._offset = 0;
    this._cb = cb;
    this._eventCount = 0;
    this._eventIndex = 0;
    this._status = 0;

    //
    // An empty chunk comes from the native socket after it read a frame's
    // payload straight into the parser: the parser reports that frame now.
    //
    if (chunk.length === 0) this.execute(false);
    this.processChunk();
  }

  /**
   * Implements `Writable.prototype._destroy()`: drops the parser (and the
   * zlib state it may hold) at once. Events already parsed from the current
   * chunk are still emitted, as ws does.
   *
   * @param {Error} err The error, if any
   * @param {Function} callback Callback
   * @private
   */
  _destroy(err, callback) {
    this._parser = null;
    if (this._idle !== null) this._idle[0] = 0;
    callback(err);
  }

  /**
   * Emits the pending events of the current chunk and parses the rest of it,
   * until the chunk is done, an event must wait for the next tick, or the
   * stream failed or concluded.
   *
   * @private
   */
  processChunk() {
    for (;;) {
      while (this._eventIndex < this._eventCount) {
        const base = this._eventIndex * WORDS_PER_EVENT;

        this._eventIndex++;
        if (!this.dispatchEvent(base)) return;
      }

      if (this._status === INFLATE_PENDING) {
        //
        // The engine used up its inflate budget: timers and other sockets
        // get a turn before it goes on from where it stopped.
        //
        this._status = 0;
        setImmediate(resumeChunk, this);
        return;
      }

      if (this._status !== 0) {
        this.fail();
        return;
      }

      if (this._offset >= this._chunk.length || this._parser === null) {
        this.finishChunk();
        return;
      }

      this.execute(false);
    }
  }

  /**
   * Parses the current chunk from `_offset` and copies the results out of the
   * shared event area at once: any other parser's execute(), which a user
   * handler may trigger, overwrites it.
   *
   * @param {Boolean} resumed `true` if the last call ended in
   *     `INFLATE_PENDING`
   * @private
   */
  execute(resumed) {
    const area = binding.parserEvents;
    const count = this._parser.execute(this._chunk, this._offset);
    const consumed = area[1];

    if (this._parseWords === null) {
      this._parseWords =
        spareWordArrays.length > 0 ? spareWordArrays.pop() : [];
    }

    const events = this._parseWords;
    const words = count * WORDS_PER_EVENT;
    let owned = false;

    this._status = area[2];
    this._detail = area[3];

    for (let i = 0; i < words; i++) events[i] = area[HEADER_WORDS + i];
    for (let i = 0; i < words; i += WORDS_PER_EVENT) {
      if (events[i] & OWNED) {
        owned = true;
        break;
      }
    }

    this._owned = owned ? this._parser.takeOwned() : null;
    this._eventCount = count;
    this._eventIndex = 0;
    this._offset += consumed;

    //
    // A call that does nothing while bytes are left would loop forever; so
    // would one that stops again at once right after a pause, although its
    // inflate budget is full again. (An empty call, start === chunk.length,
    // may only drain what the engine held back; it is not judged here.)
    //
    if (
      count === 0 &&
      consumed === 0 &&
      this._offset < this._chunk.length &&
      (this._status === 0 || (this._status === INFLATE_PENDING && resumed))
    ) {
      this._status = NO_PROGRESS;
    }
  }

  /**
   * Emits one event.
   *
   * @param {Number} base The index of its first word in `_parseWords`
   * @return {Boolean} `true` if the next event may follow at once
   * @private
   */
  dispatchEvent(base) {
    const events = this._parseWords;
    const opcode = events[base] & 0xff;
    const length = events[base + 2];
    let payload;

    if (length === 0) {
      payload = EMPTY_BUFFER;
    } else if (events[base] & OWNED) {
      payload = this._owned[events[base + 1]];
    } else {
      const chunk = this._chunk;

      payload = new FastBuffer(
        chunk.buffer,
        chunk.byteOffset + events[base + 1],
        length
      );
    }

    if (opcode === 0x08) {
      this.conclude(events[base + 3], payload);
      return false;
    }

    if (this._allowSynchronousEvents) {
      this.emitEvent(opcode, payload);
      return true;
    }

    //
    // One message, ping or pong per tick, as ws does when asked: the other
    // connections get a turn between two events of a busy one.
    //
    setImmediate(emitDeferred, this, opcode, payload);
    return false;
  }

  /**
   * Emits a `'message'`, `'ping'` or `'pong'` event.
   *
   * @param {Number} opcode The opcode
   * @param {Buffer} payload The payload
   * @private
   */
  emitEvent(opcode, payload) {
    if (opcode === 0x01) {
      this.emit('message', payload, false);
    } else if (opcode === 0x02) {
      this.emit('message', toBinaryType(payload, this._binaryType), true);
    } else {
      this.emit(opcode === 0x09 ? 'ping' : 'pong', payload);
    }
  }

  /**
   * Handles the close frame: `'conclude'`, then the end of the stream.
   *
   * @param {Number} code The close code (1005 when absent)
   * @param {Buffer} reason The reason
   * @private
   */
  conclude(code, reason) {
    this._concluded = true;
    this._parser = null;
    this.emit('conclude', code, reason);
    this.end();
    this.finishChunk();
  }

  /**
   * Fails the stream with the error the engine reported.
   *
   * @private
   */
  fail() {
    const cb = this._cb;

    this._parser = null;
    this._chunk = null;
    this._owned = null;
    this._cb = null;
    cb(protocolError(this._status, this._detail));
  }

  /**
   * Releases the current chunk and asks for the next.
   *
   * @private
   */
  finishChunk() {
    const cb = this._cb;

    this._chunk = null;
    this._owned = null;
    this._cb = null;

    //
    // Given back before cb(), which may start the next chunk at once.
    //
    if (this._parseWords !== null) {
      if (spareWordArrays.length < MAX_SPARE_WORD_ARRAYS) {
        spareWordArrays.push(this._parseWords);
      }
      this._parseWords = null;
    }

    cb();

    //
    // cb() may have started the next buffered chunk; caught up only when
    // none is in progress or waiting.
    //
    if (this._idle !== null) {
      this._idle[0] =
        this._parser !== null &&
        this._chunk === null &&
        this.writableLength === 0
          ? 1
          : 0;
    }
  }
}

module.exports = Receiver;

/**
 * Creates the native parser, configured for the negotiated extensions.
 *
 * @param {Receiver} receiver The receiver
 * @return {Object} The native FrameParser
 * @private
 */
function createParser(receiver) {
  const perMessageDeflate =
    receiver._extensions[PerMessageDeflate.extensionName];
  const options = {
    isServer: receiver._isServer,
    maxPayload: Math.max(receiver._maxPayload, 0),
    maxFragments: Math.max(receiver._maxFragments, 0),
    maxBufferedChunks: Math.max(receiver._maxBufferedChunks, 0),
    skipUTF8Validation: receiver._skipUTF8Validation,
    perMessageDeflate: !!perMessageDeflate
  };

  if (perMessageDeflate) {
    //
    // We inflate what the peer compressed: its window and its context
    // takeover (RFC 7692 §7.1.1, §7.1.2).
    //
    const peer = receiver._isServer ? 'client' : 'server';
    const params = perMessageDeflate.params || {};
    const windowBits = params[`${peer}_max_window_bits`];

    if (typeof windowBits === 'number') options.inflateWindowBits = windowBits;
    options.inflateNoContextTakeover = !!params[`${peer}_no_context_takeover`];
  }

  return new binding.FrameParser(options);
}

/**
 * Carries on with a chunk whose inflation the engine paused, unless the
 * receiver was destroyed meanwhile.
 *
 * @param {Receiver} receiver The receiver
 * @private
 */
function resumeChunk(receiver) {
  if (receiver._parser !== null) receiver.execute(true);
  receiver.processChunk();
}

/**
 * Emits an event held back for one tick, then carries on with the chunk.
 *
 * @param {Receiver} receiver The receiver
 * @param {Number} opcode The opcode
 * @param {Buffer} payload The payload
 * @private
 */
function emitDeferred(receiver, opcode, payload) {
  receiver.emitEvent(opcode, payload);
  receiver.processChunk();
}

/**
 * Converts a binary message to the type asked for by `binaryType`.
 *
 * @param {Buffer} payload The message
 * @param {String} binaryType 'nodebuffer', 'arraybuffer', 'fragments' or
 *     'blob'
 * @return {(Buffer|ArrayBuffer|Buffer[]|Blob)} The message
 * @private
 */
function toBinaryType(payload, binaryType) {
  if (binaryType === 'nodebuffer') return payload;

  if (binaryType === 'arraybuffer') {
    //
    // A view of part of a larger buffer (the socket chunk, or spare capacity)
    // must be copied out; a buffer of its own is handed over as is.
    //
    if (
      payload.byteOffset === 0 &&
      payload.length === payload.buffer.byteLength
    ) {
      return payload.buffer;
    }

    return payload.buffer.slice(
      payload.byteOffset,
      payload.byteOffset + payload.length
    );
  }

  if (binaryType === 'blob') return new Blob([payload]);

  //
  // 'fragments': the engine reassembles a message into one buffer, so the
  // list holds it whole (empty for an empty message, as in ws).
  //
  return payload.length === 0 ? [] : [payload];
}
