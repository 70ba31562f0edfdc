'use strict';

// After the upgrade, a plain TCP or Unix-domain net.Socket is swapped for a
// NativeSocket: the same descriptor, polled on Node's loop by the addon, which
// reads into Buffers and writes straight to the kernel. This skips the stream
// machinery of net.Socket on every read and write (see bench/README.md for
// what it saves) and frees the net.Socket's memory while the connection is
// idle. TLS sockets and other Duplex streams keep the stream path.
//
// NativeSocket implements the part of net.Socket that lib/ and ws-style user
// code reach (`ws._socket`): data/end/error/close/finish/drain/pause/resume
// events, write with callbacks, cork, end, destroy, resetAndDestroy,
// pause/resume, push, the stream state properties, addresses, keep-alive,
// ref/unref and timeouts. WSN_NATIVE_IO=0 turns it off.
//
// Once its Receiver has seen a chunk of 16 KiB or more, the rest of a large
// uncompressed frame is read straight into the parser's message buffer while
// the Receiver is caught up (FrameReader#attachNativeReads), and an empty 'data'
// chunk announces the completed frame. WSN_DIRECT_READS=0 turns that off.

const EventEmitter = require('events');
const net = require('net');
const { getSystemErrorName } = require('util');

const binding = require('./binding');
const { DEFAULT_HIGH_WATER_MARK } = require('./constants');
const { useCompactListeners } = require('./listener-table');

const EVENT_END = 0;
const EVENT_ERROR = 1;
const EVENT_FLUSHED = 2;

// net.Socket's: write() returns false above it.
const HIGH_WATER_MARK = DEFAULT_HIGH_WATER_MARK;

const available = typeof binding.NativeSocket === 'function';

if (available) binding.setSocketCallbacks(onNativeData, onNativeEvent);

// Node builds a new address string for every socket. The local address is
// nearly always the one of the connection before, and so is the remote one
// behind a proxy or in a benchmark: keeping the previous string instead of an
// equal copy saves 64 bytes per idle connection. The local end as a whole
// (address, family, port) is shared the same way.
const lastRemote = { address: undefined };
let lastLocal = { address: undefined, family: undefined, port: undefined };

/**
 * Returns `address`, or the equal string last seen in `last`.
 *
 * @param {(String|undefined)} address An address as net.Socket reports it
 * @param {{ address: (String|undefined) }} last The previous one
 * @return {(String|undefined)}
 * @private
 */
function shareAddress(address, last) {
  if (address === last.address) return last.address;
  if (typeof address === 'string') last.address = address;
  return address;
}

/**
 * Returns the local end of `socket`, as the object of the connection before
 * when it is the same.
 *
 * @param {net.Socket} socket The socket
 * @return {{ address: (String|undefined), family: (String|undefined),
 *     port: (Number|undefined) }}
 * @private
 */
function shareLocalEnd(socket) {
  const address = socket.localAddress;
  const family = socket.localFamily;
  const port = socket.localPort;
  if (
    address !== lastLocal.address ||
    family !== lastLocal.family ||
    port !== lastLocal.port
  ) {
    lastLocal = { address, family, port };
  }
  return lastLocal;
}

// The booleans of a NativeSocket, in one small integer: an idle connection
// keeps a dozen of them, and each field is 8 bytes.
const DESTROYED = 1 << 0;
const READABLE = 1 << 1;
const WRITABLE = 1 << 2;
const END_EMITTED = 1 << 3; // the peer's FIN was read and 'end' emitted
const ENDING = 1 << 4; // end() was called
const FINISHED = 1 << 5; // the FIN was sent and 'finish' emitted
const NEED_DRAIN = 1 << 6; // write() returned false; 'drain' is owed
const FLOWING = 1 << 7; // readableFlowing === true
const PAUSED = 1 << 8; // readableFlowing === false
const RESUME_SCHEDULED = 1 << 9;
const SHUT_DOWN = 1 << 10; // shutdown(2) was called
const UNSHIFTED = 1 << 11; // bytes were put back before the parser's
const PUSHED_END = 1 << 12; // push(null): the stream ends after _pending
const RESUME_OWED = 1 << 13; // resume() began the flow: 'resume' comes first
const CLOSE_EMITTED = 1 << 14;

// The error a socket was destroyed with (`errored`), off the socket's own
// fields: it is rare.
const destroyErrors = new WeakMap();

/**
 * A connected socket whose reads and writes the addon does.
 *
 * @extends EventEmitter
 */
class NativeSocket extends EventEmitter {
  /**
   * @param {net.Socket} socket The socket to take over; destroyed here
   * @param {Buffer} [head] Bytes already read from it
   */
  constructor(socket, head) {
    super();
    useCompactListeners(this);

    this._flags = READABLE | WRITABLE;

    // Read the addresses now: net.Socket caches them, so `req.socket`
    // keeps answering after its descriptor is closed below.
    this.remoteAddress = shareAddress(socket.remoteAddress, lastRemote);
    this.remotePort = socket.remotePort;
    this.remoteFamily = socket.remoteFamily;
    this._localEnd = shareLocalEnd(socket);
    this.bytesRead = 0;
    this.bytesWritten = 0;

    // The lists below are null while empty, which they are for most of an
    // idle connection's life: four arrays are 128 bytes per connection.
    // (`bytesWritten` counts what write() accepted, and `timeout` is an own
    // property only once setTimeout() was called.)
    this._pending = head && head.length > 0 ? [head] : null;
    this._writeLength = 0; // accepted by write() and not yet flushed
    this._corked = 0;
    this._corkedWrites = null; // { chunks, callbacks } while corked
    this._callbacks = null;
    this._timeout = null;

    // First, while nothing is changed: this throws if the descriptor cannot
    // be duplicated (EMFILE), and the caller then keeps `socket`.
    this._handle = new binding.NativeSocket(socket._handle.fd, this);

    // A net.Server counts its connections until they close, and its close()
    // waits for them: keep that count right across the swap.
    this._server = socket._server || null;
    socket._server = null;

    if (socket._readableState.length > 0) {
      this._pending ??= [];
      this._pending.push(socket.read(socket._readableState.length));
    }

    // A destroyed net.Socket forgets its local address (not the peer's):
    // keep `req.socket.localPort` and the like answering with the one read
    // above.
    const sockname = socket._sockname;
    socket.destroy();
    if (sockname) socket._getsockname = () => sockname;
  }

  get destroyed() {
    return (this._flags & DESTROYED) !== 0;
  }

  get readable() {
    return (this._flags & READABLE) !== 0;
  }

  get writable() {
    return (this._flags & WRITABLE) !== 0;
  }

  get connecting() {
    return false;
  }

  get localAddress() {
    return this._localEnd.address;
  }

  get localFamily() {
    return this._localEnd.family;
  }

  get localPort() {
    return this._localEnd.port;
  }

  get bufferSize() {
    return this._writeLength;
  }

  get writableLength() {
    return this._writeLength;
  }

  get writableEnded() {
    return (this._flags & ENDING) !== 0;
  }

  get writableFinished() {
    return (this._flags & FINISHED) !== 0;
  }

  get writableNeedDrain() {
    return (this._flags & NEED_DRAIN) !== 0;
  }

  get readableLength() {
    return this._pending === null ? 0 : byteLength(this._pending);
  }

  get readableEnded() {
    return (this._flags & END_EMITTED) !== 0;
  }

  get readableFlowing() {
    if (this._flags & FLOWING) return true;
    return this._flags & PAUSED ? false : null;
  }

  // The rest of a connected net.Socket's stream properties.
  get pending() {
    return this.destroyed;
  }

  get closed() {
    return (this._flags & CLOSE_EMITTED) !== 0;
  }

  get errored() {
    return destroyErrors.get(this) ?? null;
  }

  get writableHighWaterMark() {
    return HIGH_WATER_MARK;
  }

  get readableHighWaterMark() {
    return HIGH_WATER_MARK;
  }

  get writableObjectMode() {
    return false;
  }

  get readableObjectMode() {
    return false;
  }

  get writableCorked() {
    return this._corked;
  }

  get readableEncoding() {
    return null;
  }

  // Copies of net.Socket's stream states, for code that peeks at them (as ws
  // does for `bufferedAmount`); the socket keeps these fields itself.
  get _readableState() {
    return {
      length: this.readableLength,
      ended: this.readableEnded,
      endEmitted: this.readableEnded,
      flowing: this.readableFlowing
    };
  }

  get _writableState() {
    return {
      length: this._writeLength,
      ending: this.writableEnded,
      finished: this.writableFinished,
      needDrain: this.writableNeedDrain
    };
  }

  get readyState() {
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  address() {
    return {
      address: this.localAddress,
      family: this.localFamily,
      port: this.localPort
    };
  }

  on(event, listener) {
    super.on(event, listener);
    // As a Readable: a 'data' listener starts the flow unless paused.
    if (event === 'data' && (this._flags & PAUSED) === 0) this.resume();
    return this;
  }

  isPaused() {
    return (this._flags & PAUSED) !== 0;
  }

  pause() {
    if ((this._flags & PAUSED) === 0) {
      this._flags = (this._flags & ~FLOWING) | PAUSED;
      if (!this.destroyed) this._handle.readStop();
      this.emit('pause');
    }
    return this;
  }

  resume() {
    if ((this._flags & FLOWING) === 0) {
      this._flags = (this._flags & ~PAUSED) | FLOWING | RESUME_OWED;
      // As a Readable, 'resume' and then the data come on the next tick,
      // after the caller has attached its listeners.
      scheduleFlow(this);
    }
    return this;
  }

  /**
   * Creates the frame parser of this connection's Receiver, held by the
   * addon's handle (one wrapped object per connection instead of two).
   *
   * @param {Object} options The options of binding.FrameParser
   * @return {Object} The handle, with FrameParser's methods
   * @private
   */
  createParser(options) {
    return this._handle.createParser(options);
  }

  /**
   * Lets the addon read large frame payloads straight into the parser made
   * by createParser() while `idle[0]` is 1 (see FrameReader#attachNativeReads).
   *
   * @param {Int32Array} idle The Receiver's caught-up word
   * @private
   */
  linkParser(idle) {
    if ((this._flags & (DESTROYED | UNSHIFTED)) === 0) {
      this._handle.linkParser(idle);
    }
  }

  unshift(chunk) {
    if (chunk && chunk.length > 0) {
      // Bytes the parser has not seen now come first: no reads into it.
      this._flags |= UNSHIFTED;
      if (!this.destroyed) this._handle.linkParser(null);
      this._pending ??= [];
      this._pending.unshift(chunk);
    }
  }

  /**
   * As Readable#push(): `chunk` arrives as if the peer had sent it, after
   * anything still pending (and is counted in `bytesRead` like read bytes);
   * `null` ends the readable side once the pending bytes are delivered.
   *
   * @param {(Buffer|Uint8Array|String|null)} chunk
   * @param {String} [encoding] The encoding of a string chunk
   * @return {Boolean} false after push(null), on a destroyed socket or when
   *     the chunk was refused; true otherwise (no high-water mark applies)
   */
  push(chunk, encoding) {
    if (this.destroyed) return false;
    if ((this._flags & (END_EMITTED | PUSHED_END)) !== 0) {
      this.destroy(
        streamError('ERR_STREAM_PUSH_AFTER_EOF', 'stream.push() after EOF')
      );
      return false;
    }
    if (chunk === null) {
      this._flags |= PUSHED_END;
      this._handle.readStop();
      if (this._pending === null) {
        process.nextTick(endReadable, this);
      } else if ((this._flags & FLOWING) !== 0) {
        scheduleFlow(this);
      }
      return false;
    }
    let data;
    if (typeof chunk === 'string') {
      data = Buffer.from(chunk, encoding);
    } else if (chunk instanceof Uint8Array) {
      data = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } else {
      this.destroy(
        streamError(
          'ERR_INVALID_ARG_TYPE',
          'The "chunk" argument must be of type string or an instance of ' +
            'Buffer or Uint8Array',
          TypeError
        )
      );
      return false;
    }
    if (data.length === 0) return true;
    if (
      this._pending === null &&
      (this._flags & (FLOWING | RESUME_SCHEDULED)) === FLOWING
    ) {
      this.bytesRead += data.length;
      this.emit('data', data);
    } else {
      this._pending ??= [];
      this._pending.push(data);
      if ((this._flags & FLOWING) !== 0) scheduleFlow(this);
    }
    return true;
  }

  read() {
    if (this._pending === null) return null;
    const data =
      this._pending.length === 1
        ? this._pending[0]
        : Buffer.concat(this._pending);
    this._pending = null;
    return data;
  }

  setNoDelay(noDelay = true) {
    if (!this.destroyed) this._handle.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0) {
    if (!this.destroyed) {
      this._handle.setKeepAlive(enable, Math.floor(initialDelay / 1000));
    }
    return this;
  }

  setTimeout(ms, callback) {
    if (this._timeout) {
      clearTimeout(this._timeout);
      this._timeout = null;
    }
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    // An own property only once it differs from the prototype's 0 (the
    // WebSocket calls setTimeout(0) on every socket it is given).
    if (this.timeout !== ms) this.timeout = ms;
    if (ms > 0 && !this.destroyed) {
      this._timeout = setTimeout(emitTimeout, ms, this);
      this._timeout.unref();
    }
    return this;
  }

  ref() {
    if (!this.destroyed) this._handle.ref();
    return this;
  }

  unref() {
    if (!this.destroyed) this._handle.unref();
    return this;
  }

  cork() {
    this._corked++;
  }

  uncork() {
    if (this._corked === 0) return;
    if (--this._corked === 0 && this._corkedWrites !== null) {
      const { chunks, callbacks } = this._corkedWrites;
      this._corkedWrites = null;
      writeChunks(
        this,
        chunks.length === 1 ? chunks[0] : chunks,
        callbacks.length > 0 ? callbacks : null
      );
    }
  }

  /**
   * Queue bytes for the peer, as net.Socket#write does.
   *
   * @param {(Buffer|string)} chunk The data
   * @param {(string|Function)} [encoding] Encoding of a string, or `cb`
   * @param {Function} [cb] Called once the bytes reached the kernel, or with
   *     an error if the socket closed first
   * @return {Boolean} `false` once more than 16 KiB are waiting
   */
  write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (typeof chunk === 'string') chunk = Buffer.from(chunk, encoding);

    if ((this._flags & (DESTROYED | ENDING)) !== 0) {
      const err = this.destroyed
        ? streamError(
            'ERR_STREAM_DESTROYED',
            'Cannot call write after a stream was destroyed'
          )
        : streamError('ERR_STREAM_WRITE_AFTER_END', 'write after end');
      if (typeof cb === 'function') process.nextTick(cb, err);
      if (!this.destroyed) process.nextTick(emitError, this, err);
      return false;
    }

    if (this._timeout) this._timeout.refresh();

    if (this._corked > 0) {
      this._corkedWrites ??= { chunks: [], callbacks: [] };
      this._corkedWrites.chunks.push(chunk);
      if (typeof cb === 'function') {
        this._corkedWrites.callbacks.push(cb);
      }
      this._writeLength += chunk.length;
    } else {
      writeChunks(this, chunk, typeof cb === 'function' ? [cb] : null);
    }

    const below = this._writeLength < HIGH_WATER_MARK;
    if (!below) this._flags |= NEED_DRAIN;
    return below;
  }

  /**
   * Half-close: FIN goes out once everything queued is written.
   *
   * @param {(Buffer|string|Function)} [chunk] Last data, or `cb`
   * @param {(string|Function)} [encoding] Encoding, or `cb`
   * @param {Function} [cb] Called on 'finish'
   * @return {NativeSocket} this
   */
  end(chunk, encoding, cb) {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (chunk !== undefined && chunk !== null) this.write(chunk, encoding);
    if (typeof cb === 'function') {
      if (this.writableFinished) process.nextTick(cb);
      else this.once('finish', cb);
    }
    if ((this._flags & (DESTROYED | ENDING)) !== 0) return this;
    this._flags = (this._flags | ENDING) & ~WRITABLE;
    this._corked = 1;
    this.uncork();
    maybeShutdown(this);
    return this;
  }

  /**
   * Close the descriptor now (see destroySocket()).
   *
   * @param {Error} [err] Why; emitted as 'error' before 'close'
   * @return {NativeSocket} this
   */
  destroy(err) {
    return destroySocket(this, err, false);
  }

  /**
   * Close the TCP connection with a RST instead of a FIN, as
   * net.Socket#resetAndDestroy() does: the peer reads ECONNRESET.
   *
   * @return {NativeSocket} this
   * @throws {TypeError} On a Unix-domain socket (ERR_INVALID_HANDLE_TYPE)
   */
  resetAndDestroy() {
    if (this.destroyed) return this;
    if (typeof this.localPort !== 'number') {
      const err = new TypeError('This handle type cannot be sent');
      err.code = 'ERR_INVALID_HANDLE_TYPE';
      throw err;
    }
    return destroySocket(this, undefined, true);
  }

  destroySoon() {
    if (this.writableFinished) this.destroy();
    else {
      this.end();
      this.once('finish', this.destroy);
    }
  }
}

/**
 * NativeSocket#destroy() and #resetAndDestroy(): closes the descriptor now.
 * Writes still queued get an error through their callbacks; with `err`,
 * 'error' is emitted before 'close'.
 *
 * @param {NativeSocket} socket The socket
 * @param {Error} [err] Why
 * @param {Boolean} reset Whether the peer gets a RST instead of a FIN
 * @return {NativeSocket} socket
 * @private
 */
function destroySocket(socket, err, reset) {
  if (socket.destroyed) return socket;
  socket._flags = (socket._flags | DESTROYED) & ~(READABLE | WRITABLE);
  if (err) destroyErrors.set(socket, err);
  socket._handle.close(reset);
  if (socket._timeout) {
    clearTimeout(socket._timeout);
    socket._timeout = null;
  }

  const callbacks = socket._callbacks;
  const corked =
    socket._corkedWrites === null ? null : socket._corkedWrites.callbacks;
  socket._callbacks = null;
  socket._corkedWrites = null;
  socket._writeLength = 0;
  if (callbacks !== null || (corked !== null && corked.length > 0)) {
    const lost = streamError(
      'ERR_STREAM_DESTROYED',
      'The socket was closed before the data was written'
    );
    if (callbacks !== null) {
      for (const entry of callbacks) process.nextTick(entry.cb, lost);
    }
    if (corked !== null) {
      for (const cb of corked) process.nextTick(cb, lost);
    }
  }

  const server = socket._server;
  socket._server = null;
  if (server) {
    server._connections--;
    if (typeof server._emitCloseIfDrained === 'function') {
      server._emitCloseIfDrained();
    }
  }

  // After the loop turns, as net.Socket's 'error' and 'close' (which wait for
  // its handle's close callback): work begun before destroy(), such as a Blob
  // read for a send, then settles before the WebSocket's 'close', as in ws.
  setImmediate(emitDestroyed, socket, err);
  return socket;
}

/**
 * Take over `socket` if it is a plain TCP or Unix-domain socket with nothing
 * buffered to write, and native I/O is built and not turned off.
 *
 * @param {Duplex} socket The upgraded socket
 * @param {Buffer} [head] Bytes already read past the handshake
 * @return {(NativeSocket|null)} The replacement, or `null` to keep `socket`
 */
function adoptSocket(socket, head) {
  if (!available || process.env.WSN_NATIVE_IO === '0') return null;
  // Exactly net.Socket: not TLS, not a subclass that may override writes.
  if (!socket || socket.constructor !== net.Socket) return null;
  const handle = socket._handle;
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0) return null;
  if (
    socket.connecting ||
    socket.destroyed ||
    !socket.readable ||
    !socket.writable ||
    socket._readableState.ended ||
    socket.writableLength !== 0 ||
    socket.listenerCount('data') !== 0
  ) {
    return null;
  }
  try {
    return new NativeSocket(socket, head);
  } catch {
    // No descriptor to spare (or no event loop): the stream path works.
    return null;
  }
}

/**
 * The addon's read callback (`this` is the handle; its `owner`, the
 * NativeSocket).
 *
 * @param {Buffer} chunk Bytes read; empty after bytes were read straight
 *     into the linked parser (see FrameReader#attachNativeReads)
 * @param {Number} directBytes Bytes read straight into the parser since the
 *     last call
 * @private
 */
function onNativeData(chunk, directBytes) {
  const socket = this.owner;

  socket.bytesRead += chunk.length + directBytes;
  if (socket._timeout) socket._timeout.refresh();
  socket.emit('data', chunk);
}

/**
 * The addon's other callback: end of stream, an error, or writes flushed
 * (`this` is the handle, as for onNativeData()).
 *
 * @param {Number} kind EVENT_*
 * @param {Number} value errno, or bytes flushed so far
 * @private
 */
function onNativeEvent(kind, value) {
  const socket = this.owner;

  if (socket.destroyed) return;
  if (kind === EVENT_FLUSHED) {
    onFlushed(socket, value);
  } else if (kind === EVENT_END) {
    endReadable(socket);
  } else if (kind === EVENT_ERROR) {
    socket.destroy(errnoError(value, 'read'));
  }
}

/**
 * The readable side ended: the peer's FIN, or push(null) once the bytes
 * before it were delivered.
 *
 * @param {NativeSocket} socket
 * @private
 */
function endReadable(socket) {
  if ((socket._flags & (DESTROYED | END_EMITTED)) !== 0) return;
  socket._flags = (socket._flags | END_EMITTED) & ~READABLE;
  socket.emit('end');
  if (socket.writableFinished) socket.destroy();
}

function writeChunks(socket, data, callbacks) {
  const queued = socket._handle.write(data);
  if (queued < 0) {
    const err = errnoError(-queued, 'write');
    // destroy() reports these as lost, with the corked ones.
    if (callbacks) {
      socket._corkedWrites ??= { chunks: [], callbacks: [] };
      socket._corkedWrites.callbacks.push(...callbacks);
    }
    socket.destroy(err);
    return;
  }
  const bytes = Array.isArray(data) ? byteLength(data) : data.length;
  socket.bytesWritten += bytes;
  // Nothing is corked here: uncork() hands over the whole corked list.
  socket._writeLength = queued;
  if (queued === 0) {
    if (callbacks) {
      for (const cb of callbacks) process.nextTick(cb, null);
    }
  } else if (callbacks) {
    socket._callbacks ??= [];
    for (const cb of callbacks) {
      socket._callbacks.push({ end: socket.bytesWritten, cb });
    }
  }
}

function onFlushed(socket, flushed) {
  const callbacks = socket._callbacks;
  let ready = null;
  if (callbacks !== null) {
    let done = 0;
    while (done < callbacks.length && callbacks[done].end <= flushed) done++;
    if (done === callbacks.length) {
      ready = callbacks;
      socket._callbacks = null;
    } else if (done > 0) {
      ready = callbacks.splice(0, done);
    }
  }
  socket._writeLength = socket.bytesWritten - flushed + corkedBytes(socket);
  if (ready) {
    for (const entry of ready) entry.cb(null);
  }
  if (socket.destroyed) return;
  if (socket.bytesWritten === flushed) {
    if (socket._flags & NEED_DRAIN) {
      socket._flags &= ~NEED_DRAIN;
      socket.emit('drain');
    }
    maybeShutdown(socket);
  }
}

function maybeShutdown(socket) {
  if (
    (socket._flags & (ENDING | SHUT_DOWN | DESTROYED)) !== ENDING ||
    socket._writeLength !== 0
  ) {
    return;
  }
  socket._flags |= SHUT_DOWN;
  const error = socket._handle.shutdown();
  // ENOTCONN: the peer already reset the connection; 'close' follows.
  if (error !== 0 && getSystemErrorName(-error) !== 'ENOTCONN') {
    socket.destroy(errnoError(error, 'shutdown'));
    return;
  }
  process.nextTick(emitFinish, socket);
}

function emitFinish(socket) {
  if (socket.destroyed) return;
  socket._flags |= FINISHED;
  socket.emit('finish');
  if (socket.readableEnded) socket.destroy();
}

function scheduleFlow(socket) {
  if ((socket._flags & RESUME_SCHEDULED) === 0) {
    socket._flags |= RESUME_SCHEDULED;
    process.nextTick(startFlowing, socket);
  }
}

function startFlowing(socket) {
  const owed = (socket._flags & RESUME_OWED) !== 0;
  socket._flags &= ~(RESUME_SCHEDULED | RESUME_OWED);
  // A Readable emits the 'resume' its resume() owes even if pause() came in
  // between.
  if (owed && (socket._flags & DESTROYED) === 0) socket.emit('resume');
  if ((socket._flags & (DESTROYED | FLOWING)) !== FLOWING) return;
  while (socket._pending !== null && (socket._flags & FLOWING) !== 0) {
    const chunk = socket._pending.shift();
    if (socket._pending.length === 0) socket._pending = null;
    socket.bytesRead += chunk.length;
    socket.emit('data', chunk);
    if (socket.destroyed) return;
  }
  if ((socket._flags & PUSHED_END) !== 0) {
    if (socket._pending === null) endReadable(socket);
  } else if ((socket._flags & FLOWING) !== 0) {
    socket._handle.readStart();
  }
}

function emitDestroyed(socket, err) {
  if (err) socket.emit('error', err);
  socket._flags |= CLOSE_EMITTED;
  socket.emit('close', !!err);
}

function emitError(socket, err) {
  socket.emit('error', err);
}

function emitTimeout(socket) {
  // The timer stays set, as net.Socket's does: activity after a 'timeout'
  // refreshes it, which arms it again.
  socket.emit('timeout');
}

function corkedBytes(socket) {
  return socket._corkedWrites === null
    ? 0
    : byteLength(socket._corkedWrites.chunks);
}

function byteLength(list) {
  let total = 0;
  for (let i = 0; i < list.length; i++) total += list[i].length;
  return total;
}

function errnoError(errno, syscall) {
  const code = getSystemErrorName(-errno);
  const err = new Error(`${syscall} ${code}`);
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

function streamError(code, message, ErrorCtor = Error) {
  const err = new ErrorCtor(message);
  err.code = code;
  return err;
}

// net.Socket's, until setTimeout() sets one.
NativeSocket.prototype.timeout = 0;

module.exports = { NativeSocket, adoptSocket, available };
