'use strict';

// FrameReader: the receiving half of a WebSocket (see below). lib/receiver.js
// wraps it in ws's Writable Receiver.

const EventEmitter = require('events');

const binding = require('./binding');
const PerMessageDeflate = require('./permessage-deflate');
const { protocolError, status } = require('./errors');
const {
  BINARY_TYPES,
  DEFAULT_HIGH_WATER_MARK,
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

/**
 * What a reader keeps while it parses a chunk: the chunk, what the last
 * execute() reported about it (copied out of the shared event area), and how
 * far the events were dispatched. Lent to a reader for the length of a chunk,
 * which may span ticks (a deferred event, a paused inflation): an idle
 * connection then holds none of it (nine fields, and an array that has held
 * a few events is about 190 bytes); more than one is out only while handlers
 * make other readers parse or wait.
 *
 * @private
 */
class ParseJob {
  constructor() {
    this.chunk = null;
    this.offset = 0;
    this.cb = null;
    this.words = [];
    this.eventCount = 0;
    this.eventIndex = 0;
    this.owned = null;
    this.status = 0;
    this.detail = 0;
  }
}

const spareJobs = [];
const MAX_SPARE_JOBS = 16;

//
// Not a Status of native/core/status.h: the engine returned without progress,
// which would otherwise loop forever. lib/errors.js reports it as an internal
// error (1011).
//
const NO_PROGRESS = 255;
const { INFLATE_PENDING } = status;

// The states of a FrameReader, in one small integer.
const SYNCHRONOUS_EVENTS = 1 << 0; // allowSynchronousEvents
const ENDING = 1 << 1; // end() was called; 'finish' follows the last chunk
const FINISHED = 1 << 2;
const ERRORED = 1 << 3; // the peer broke the protocol
const ERROR_EMITTED = 1 << 4;
const DESTROYED = 1 << 5;
const NEED_DRAIN = 1 << 6; // write() returned false; the sink's drain is owed
const DRAINING_QUEUE = 1 << 7; // drainQueue() is running

// FrameReader#write() returns false once this many bytes wait behind the
// chunk in progress, as a Writable (ws's Receiver) does.
const HIGH_WATER_MARK = DEFAULT_HIGH_WATER_MARK;

/**
 * The receiving half of a connection: feeds socket chunks to the native frame
 * parser and hands what it reports to a sink, a table of functions called
 * with the owner first (see lib/websocket.js). Each chunk is parsed by one
 * native call; the events it reports are then dispatched from JS, so ws's
 * event order, pausing and `allowSynchronousEvents` pacing are kept and no
 * user code ever runs in the middle of a parse. A large compressed message is
 * inflated in slices (256 KiB of output each, about a millisecond of zlib)
 * with a turn of the event loop between two slices, so the loop stays free as
 * with ws's asynchronous zlib; later chunks wait in a queue meanwhile.
 *
 * It is not a stream, unlike ws's Receiver (lib/receiver.js): a Writable
 * and its listeners cost about 400 bytes per idle connection, and an event
 * per message.
 *
 * The sink's functions: `conclude(owner, code, reason)`, `message(owner,
 * data, isBinary)`, `ping(owner, data)`, `pong(owner, data)`, `error(owner,
 * err)` (on the next tick after the fault, as a stream's 'error'),
 * `drain(owner)` after write() returned false, `finish(owner)` on the next
 * tick after end() once every chunk is parsed.
 *
 * @private
 */
class FrameReader {
  /**
   * @param {Object} sink The functions events are reported to
   * @param {*} owner Their first argument, kept as `this[kWebSocket]`
   * @param {Object} options The options of `Receiver` (lib/receiver.js)
   * @param {NativeSocket} [socket] The socket the chunks come from, if native:
   *     its handle then holds the parser
   */
  constructor(sink, owner, options, socket) {
    this[kWebSocket] = owner;
    this._sink = sink;
    this._flags =
      options.allowSynchronousEvents !== false ? SYNCHRONOUS_EVENTS : 0;
    this._binaryType = options.binaryType || BINARY_TYPES[0];
    this._parser = createParser(options, socket);

    //
    // The chunk being parsed (a ParseJob, null between chunks), kept across a
    // deferred ('allowSynchronousEvents: false') event, and the chunks
    // written meanwhile.
    //
    this._job = null;
    this._queue = null;
    this._queuedBytes = 0;

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
   * `true` once the error was handed to the sink.
   *
   * @type {Boolean}
   */
  get errorEmitted() {
    return (this._flags & ERROR_EMITTED) !== 0;
  }

  /**
   * `true` once the sink's finish was called.
   *
   * @type {Boolean}
   */
  get finished() {
    return (this._flags & FINISHED) !== 0;
  }

  /**
   * `true` while a write() has returned false and the drain is owed.
   *
   * @type {Boolean}
   */
  get needDrain() {
    return (this._flags & NEED_DRAIN) !== 0;
  }

  /**
   * The negotiated extensions, as ws's Receiver has them (its owner's).
   *
   * @type {Object}
   * @private
   */
  get _extensions() {
    return this[kWebSocket]._extensions;
  }

  /**
   * The message size limit (0 = none), as ws's Receiver has it. It is read
   * from the parser, so a reader that is done with its parser reports 0.
   *
   * @type {Number}
   * @private
   */
  get _maxPayload() {
    return this._parser === null ? 0 : this._parser.maxPayload;
  }

  /**
   * Lets a NativeSocket read the rest of large uncompressed frames straight
   * into this reader's parser while the reader is caught up; the socket
   * then delivers an empty chunk when such a frame is complete. The link is
   * made on the first chunk of 16 KiB or more, so connections that only see
   * small messages pay nothing for it.
   *
   * @param {NativeSocket} socket The socket feeding this reader
   */
  attachNativeReads(socket) {
    this._nativeSocket = socket;
  }

  /**
   * Adds a listener for one of the events ws's Receiver emits (`'conclude'`,
   * `'message'`, `'ping'`, `'pong'`, `'error'`, `'drain'`, `'finish'`), for
   * code that listens to `ws._receiver`. It is called after the owner's own
   * handling, as a listener added after the WebSocket's would be in ws. Only
   * a reader that is listened to pays for an emitter.
   *
   * @param {String} event The event
   * @param {Function} listener The listener
   * @return {FrameReader} this
   */
  on(event, listener) {
    this.observe().on(event, listener);
    return this;
  }

  /**
   * As `on()`, for one event.
   *
   * @param {String} event The event
   * @param {Function} listener The listener
   * @return {FrameReader} this
   */
  once(event, listener) {
    this.observe().once(event, listener);
    return this;
  }

  /**
   * Removes a listener added with `on()` or `once()`.
   *
   * @param {String} event The event
   * @param {Function} listener The listener
   * @return {FrameReader} this
   */
  removeListener(event, listener) {
    if (this._sink instanceof ObservedSink) {
      this._sink.emitter.removeListener(event, listener);
    }
    return this;
  }

  off(event, listener) {
    return this.removeListener(event, listener);
  }

  /**
   * @param {String} event The event
   * @return {Number} The listeners added with `on()` or `once()`
   */
  listenerCount(event) {
    return this._sink instanceof ObservedSink
      ? this._sink.emitter.listenerCount(event)
      : 0;
  }

  /**
   * The emitter of the listeners added from outside, put between this reader
   * and its sink on first use.
   *
   * @return {EventEmitter}
   * @private
   */
  observe() {
    if (!(this._sink instanceof ObservedSink)) {
      this._sink = new ObservedSink(this._sink);
    }
    return this._sink.emitter;
  }

  /**
   * Stops reporting to the sink and parsing (the owner is closed).
   */
  detach() {
    this._sink = DETACHED;
    this.destroy();
  }

  /**
   * Parses a chunk, or queues it while another is in progress.
   *
   * @param {Buffer} chunk The bytes
   * @return {Boolean} `false` if the source should pause until the sink's
   *     drain (or if the reader takes no more data)
   */
  write(chunk) {
    if (this._flags & (ENDING | ERRORED | DESTROYED)) return false;

    if (this._job !== null) {
      if (this._queue === null) this._queue = [];
      this._queue.push(chunk);
      this._queuedBytes += chunk.length;
    } else {
      this.startChunk(chunk, null);
      if (this._job === null) return true;
    }

    //
    // As a Writable counts: the chunk in progress, whole, and those queued.
    //
    if (this._job.chunk.length + this._queuedBytes < HIGH_WATER_MARK) {
      return true;
    }
    this._flags |= NEED_DRAIN;
    return false;
  }

  /**
   * No more chunks: the sink's finish follows the last one.
   */
  end() {
    if (this._flags & ENDING) return;
    this._flags |= ENDING;
    if (this._job === null) process.nextTick(finishReader, this);
  }

  /**
   * Drops the parser (and the zlib state it may hold) at once. Events already
   * parsed from the current chunk are still dispatched, as ws does.
   */
  destroy() {
    this._flags |= DESTROYED;
    this.dropParser();
    this.dropQueue();
  }

  /**
   * Frees the parser and any zlib state it holds now, rather than when it is
   * collected.
   *
   * @private
   */
  dropParser() {
    if (this._parser !== null) {
      this._parser.releaseParser();
      this._parser = null;
    }
  }

  /**
   * Forgets the chunks waiting: nothing more is parsed.
   *
   * @private
   */
  dropQueue() {
    this._queue = null;
    this._queuedBytes = 0;
    if (this._idle !== null) this._idle[0] = 0;
  }

  /**
   * Starts on a chunk.
   *
   * @param {Buffer} chunk The bytes
   * @param {Function} cb Called when the chunk is done, with the error if the
   *     peer broke the protocol; `null` to report that to the sink instead
   * @private
   */
  startChunk(chunk, cb) {
    //
    // RFC 6455 §5.5.1: nothing after the close frame is read.
    //
    if (this._parser === null) {
      if (cb !== null) cb();
      return;
    }

    if (this._idle !== null) {
      this._idle[0] = 0;
    } else if (this._nativeSocket !== null && chunk.length >= LINK_MIN_CHUNK) {
      this._idle = new Int32Array(new ArrayBuffer(4));
      this._nativeSocket.linkParser(this._idle);
      this._nativeSocket = null;
    }

    const job = spareJobs.length > 0 ? spareJobs.pop() : new ParseJob();

    job.chunk = chunk;
    job.offset = 0;
    job.cb = cb;
    job.eventCount = 0;
    job.eventIndex = 0;
    job.status = 0;
    this._job = job;

    //
    // An empty chunk comes from the native socket after it read a frame's
    // payload straight into the parser: the parser reports that frame now.
    //
    if (chunk.length === 0) this.execute(false);
    this.processChunk();
  }

  /**
   * Dispatches the pending events of the current chunk and parses the rest of
   * it, until the chunk is done, an event must wait for the next tick, or the
   * peer broke the protocol or closed.
   *
   * @private
   */
  processChunk() {
    const job = this._job;

    for (;;) {
      while (job.eventIndex < job.eventCount) {
        const base = job.eventIndex * WORDS_PER_EVENT;

        job.eventIndex++;
        if (!this.dispatchEvent(job, base)) return;
      }

      if (job.status === INFLATE_PENDING) {
        //
        // The engine used up its inflate budget: timers and other sockets
        // get a turn before it goes on from where it stopped.
        //
        job.status = 0;
        setImmediate(resumeChunk, this);
        return;
      }

      if (job.status !== 0) {
        this.fail();
        return;
      }

      if (job.offset >= job.chunk.length || this._parser === null) {
        this.finishChunk();
        return;
      }

      this.execute(false);
    }
  }

  /**
   * Parses the current chunk from `job.offset` and copies the results out of the
   * shared event area at once: any other parser's execute(), which a user
   * handler may trigger, overwrites it.
   *
   * @param {Boolean} resumed `true` if the last call ended in
   *     `INFLATE_PENDING`
   * @private
   */
  execute(resumed) {
    const job = this._job;
    const area = binding.parserEvents;
    const count = this._parser.execute(job.chunk, job.offset);
    const consumed = area[1];
    const events = job.words;
    const words = count * WORDS_PER_EVENT;
    let owned = false;

    job.status = area[2];
    job.detail = area[3];

    for (let i = 0; i < words; i++) events[i] = area[HEADER_WORDS + i];
    for (let i = 0; i < words; i += WORDS_PER_EVENT) {
      if (events[i] & OWNED) {
        owned = true;
        break;
      }
    }

    job.owned = owned ? this._parser.takeOwned() : null;
    job.eventCount = count;
    job.eventIndex = 0;
    job.offset += consumed;

    //
    // A call that does nothing while bytes are left would loop forever; so
    // would one that stops again at once right after a pause, although its
    // inflate budget is full again. (An empty call, start === chunk.length,
    // may only drain what the engine held back; it is not judged here.)
    //
    if (
      count === 0 &&
      consumed === 0 &&
      job.offset < job.chunk.length &&
      (job.status === 0 || (job.status === INFLATE_PENDING && resumed))
    ) {
      job.status = NO_PROGRESS;
    }
  }

  /**
   * Dispatches one event.
   *
   * @param {ParseJob} job The chunk's job
   * @param {Number} base The index of its first word in `job.words`
   * @return {Boolean} `true` if the next event may follow at once
   * @private
   */
  dispatchEvent(job, base) {
    const events = job.words;
    const opcode = events[base] & 0xff;
    const length = events[base + 2];
    let payload;

    if (length === 0) {
      payload = EMPTY_BUFFER;
    } else if (events[base] & OWNED) {
      payload = job.owned[events[base + 1]];
    } else {
      const chunk = job.chunk;

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

    if (this._flags & SYNCHRONOUS_EVENTS) {
      this.dispatchData(opcode, payload);
      return true;
    }

    //
    // One message, ping or pong per tick, as ws does when asked: the other
    // connections get a turn between two events of a busy one.
    //
    setImmediate(dispatchDeferred, this, opcode, payload);
    return false;
  }

  /**
   * Reports a message, ping or pong.
   *
   * @param {Number} opcode The opcode
   * @param {Buffer} payload The payload
   * @private
   */
  dispatchData(opcode, payload) {
    if (opcode === 0x01) {
      this._sink.message(this[kWebSocket], payload, false);
    } else if (opcode === 0x02) {
      this._sink.message(
        this[kWebSocket],
        toBinaryType(payload, this._binaryType),
        true
      );
    } else if (opcode === 0x09) {
      this._sink.ping(this[kWebSocket], payload);
    } else {
      this._sink.pong(this[kWebSocket], payload);
    }
  }

  /**
   * Handles the close frame: reports it, then ends.
   *
   * @param {Number} code The close code (1005 when absent)
   * @param {Buffer} reason The reason
   * @private
   */
  conclude(code, reason) {
    // Without a parser, nothing after the close frame is read.
    this.dropParser();
    this.dropQueue();
    this._sink.conclude(this[kWebSocket], code, reason);
    this.end();
    this.finishChunk();
  }

  /**
   * Fails with the error the engine reported.
   *
   * @private
   */
  fail() {
    const job = this._job;
    const cb = job.cb;
    const err = protocolError(job.status, job.detail);

    this._flags |= ERRORED;
    this.dropParser();
    this.releaseJob();
    this.dropQueue();
    if (cb !== null) cb(err);
    else process.nextTick(reportError, this, err);
  }

  /**
   * Releases the current chunk and goes on with the next one queued.
   *
   * @private
   */
  finishChunk() {
    const cb = this._job.cb;

    //
    // Given back before the next chunk, which may borrow it.
    //
    this.releaseJob();

    if (cb !== null) {
      cb();
    } else {
      if (this._flags & DRAINING_QUEUE) return;
      if (this._queue !== null && !this.drainQueue()) return;
      if (this._flags & (ERRORED | DESTROYED)) return;

      if (this._flags & ENDING) {
        process.nextTick(finishReader, this);
      } else if (this._flags & NEED_DRAIN) {
        this._flags &= ~NEED_DRAIN;
        this._sink.drain(this[kWebSocket]);
      }
    }

    //
    // cb() may have started the next chunk; caught up only when none is in
    // progress or waiting.
    //
    if (this._idle !== null && this._job === null) {
      this._idle[0] = this._parser !== null && this._queue === null ? 1 : 0;
    }
  }

  /**
   * Gives the chunk's job back to the pool.
   *
   * @private
   */
  releaseJob() {
    const job = this._job;

    this._job = null;
    job.chunk = null;
    job.owned = null;
    job.cb = null;
    if (spareJobs.length < MAX_SPARE_JOBS) spareJobs.push(job);
  }

  /**
   * Parses the chunks queued while another was in progress, in a loop rather
   * than by recursion: a peer may have sent thousands of tiny ones.
   *
   * @return {Boolean} `true` when all are done, `false` when one waits for a
   *     later tick (its finishChunk() goes on from there)
   * @private
   */
  drainQueue() {
    this._flags |= DRAINING_QUEUE;
    while (this._queue !== null && this._job === null) {
      const next = this._queue.shift();

      this._queuedBytes -= next.length;
      if (this._queue.length === 0) this._queue = null;
      this.startChunk(next, null);
    }
    this._flags &= ~DRAINING_QUEUE;
    return this._job === null;
  }
}

/**
 * A sink that reports to another, then emits the event (without the owner)
 * on an EventEmitter: see FrameReader#on().
 *
 * @private
 */
class ObservedSink {
  /**
   * @param {Object} sink The sink reported to first
   */
  constructor(sink) {
    this.sink = sink;
    this.emitter = new EventEmitter();
  }

  conclude(owner, code, reason) {
    this.sink.conclude(owner, code, reason);
    this.emitter.emit('conclude', code, reason);
  }

  drain(owner) {
    this.sink.drain(owner);
    this.emitter.emit('drain');
  }

  error(owner, err) {
    this.sink.error(owner, err);
    // An 'error' nobody listens to here was handled by the sink.
    if (this.emitter.listenerCount('error') > 0) {
      this.emitter.emit('error', err);
    }
  }

  finish(owner) {
    this.sink.finish(owner);
    this.emitter.emit('finish');
  }

  message(owner, data, isBinary) {
    this.sink.message(owner, data, isBinary);
    this.emitter.emit('message', data, isBinary);
  }

  ping(owner, data) {
    this.sink.ping(owner, data);
    this.emitter.emit('ping', data);
  }

  pong(owner, data) {
    this.sink.pong(owner, data);
    this.emitter.emit('pong', data);
  }
}

// The sink of a reader whose owner is gone.
const DETACHED = Object.freeze({
  conclude() {},
  drain() {},
  error() {},
  finish() {},
  message() {},
  ping() {},
  pong() {}
});

/**
 * Calls the sink's finish, unless the reader failed meanwhile.
 *
 * @param {FrameReader} reader The reader
 * @private
 */
function finishReader(reader) {
  if (reader._flags & (ERRORED | FINISHED)) return;
  reader._flags |= FINISHED;
  reader.dropParser();
  reader._sink.finish(reader[kWebSocket]);
}

/**
 * Hands a protocol error to the sink, on the tick after the fault.
 *
 * @param {FrameReader} reader The reader
 * @param {Error} err The error
 * @private
 */
function reportError(reader, err) {
  reader._flags |= ERROR_EMITTED;
  reader._sink.error(reader[kWebSocket], err);
}

/**
 * A limit option as the parser takes it: a whole number, 0 (no limit) when
 * missing or negative.
 *
 * @param {*} value The option
 * @return {Number}
 * @private
 */
function limitOf(value) {
  return Math.max(value | 0, 0);
}

// The Receiver reports its limit as the parser it makes would hold it.
FrameReader.limitOf = limitOf;

module.exports = FrameReader;

/**
 * Creates the native parser, configured for the negotiated extensions.
 *
 * @param {Object} options The options of `Receiver`
 * @param {NativeSocket} [socket] The native socket, whose handle then holds
 *     the parser
 * @return {Object} The native FrameParser, or the socket's handle
 * @private
 */
function createParser(options, socket) {
  const extensions = options.extensions || NO_EXTENSIONS;
  const perMessageDeflate = extensions[PerMessageDeflate.extensionName];
  const isServer = !!options.isServer;
  const parserOptions = {
    isServer,
    maxPayload: limitOf(options.maxPayload),
    maxFragments: limitOf(options.maxFragments),
    maxBufferedChunks: limitOf(options.maxBufferedChunks),
    skipUTF8Validation: !!options.skipUTF8Validation,
    perMessageDeflate: !!perMessageDeflate
  };

  if (perMessageDeflate) {
    //
    // We inflate what the peer compressed: its window and its context
    // takeover (RFC 7692 §7.1.1, §7.1.2).
    //
    const peer = isServer ? 'client' : 'server';
    const params = perMessageDeflate.params || {};
    const windowBits = params[`${peer}_max_window_bits`];

    if (typeof windowBits === 'number') {
      parserOptions.inflateWindowBits = windowBits;
    }
    parserOptions.inflateNoContextTakeover =
      !!params[`${peer}_no_context_takeover`];
  }

  return socket
    ? socket.createParser(parserOptions)
    : new binding.FrameParser(parserOptions);
}

/**
 * Carries on with a chunk whose inflation the engine paused, unless the
 * reader was destroyed meanwhile.
 *
 * @param {FrameReader} reader The reader
 * @private
 */
function resumeChunk(reader) {
  if (reader._parser !== null) reader.execute(true);
  reader.processChunk();
}

/**
 * Dispatches an event held back for one tick, then carries on with the chunk.
 *
 * @param {FrameReader} reader The reader
 * @param {Number} opcode The opcode
 * @param {Buffer} payload The payload
 * @private
 */
function dispatchDeferred(reader, opcode, payload) {
  reader.dispatchData(opcode, payload);
  reader.processChunk();
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
