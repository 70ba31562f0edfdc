'use strict';

// The WebSocket class: connection state, the public send/close API, and the
// wiring socket -> Receiver -> events and API -> Sender -> socket. The client
// handshake lives in client.js; framing, parsing and compression in the
// Sender, the Receiver and the native addon.

const EventEmitter = require('events');

const PerMessageDeflate = require('./permessage-deflate');
const FrameReader = require('./frame-reader');
const Sender = require('./sender');
const { useCompactListeners } = require('./listener-table');
const { adoptSocket } = require('./native-socket');
const { abortHandshake, initAsClient } = require('./client');
const { isBlob, isValidUTF8 } = require('./validation');
const {
  BINARY_TYPES,
  CLOSE_TIMEOUT,
  EMPTY_BUFFER,
  kForOnEventAttribute,
  kListener,
  kStatusCode,
  kWebSocket,
  NO_EXTENSIONS,
  NOOP
} = require('./constants');
const {
  EventTarget: { addEventListener, removeEventListener }
} = require('./event-target');

const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const NOT_ESTABLISHED =
  'WebSocket was closed before the connection was established';

// The options handed to the Sender by `send()` calls that pass none, so the
// common case allocates nothing per message: a connection keeps the
// [text, binary] pair of its role and extensions.
const kSendOptions = Symbol('kSendOptions');

//
// The options of a plain send(), by [mask][compress][binary]: frozen and
// shared by every connection rather than made for each one.
//
const SEND_OPTIONS = [false, true].map((mask) =>
  [false, true].map((compress) =>
    [false, true].map((binary) =>
      Object.freeze({ binary, compress, fin: true, mask })
    )
  )
);

/**
 * Class representing a WebSocket.
 *
 * @extends EventEmitter
 */
class WebSocket extends EventEmitter {
  /**
   * Create a new `WebSocket`.
   *
   * @param {(String|URL|null)} address The URL to which to connect, or `null`
   *     for the server side of a connection (attached later by `setSocket()`)
   * @param {(String|String[])} [protocols] The subprotocols
   * @param {Object} [options] Connection options (see `initAsClient()` in
   *     client.js); for the server side, `autoPong` and `closeTimeout`
   * @throws {SyntaxError} For an invalid URL or subprotocol
   * @throws {RangeError} For an unsupported `protocolVersion`
   */
  constructor(address, protocols, options) {
    super();
    useCompactListeners(this);

    this._binaryType = BINARY_TYPES[0];
    this._bufferedAmount = 0;
    this._closeCode = 1006;
    this._closeFrameReceived = false;
    this._closeFrameSent = false;
    this._closeMessage = EMPTY_BUFFER;
    this._closeTimer = null;
    this._errorEmitted = false;
    this._extensions = NO_EXTENSIONS;
    this._paused = false;
    this._protocol = '';
    this._readyState = CONNECTING;
    this._receiver = null;
    this._req = null;
    this._sender = null;
    this._socket = null;
    this._url = undefined;
    this[kSendOptions] = null;

    if (address !== null) {
      this._isServer = false;
      this._redirects = 0;

      // `protocols` may be omitted, with the options in its place.
      if (protocols === undefined) {
        protocols = [];
      } else if (!Array.isArray(protocols)) {
        if (typeof protocols === 'object' && protocols !== null) {
          options = protocols;
          protocols = [];
        } else {
          protocols = [protocols];
        }
      }

      initAsClient(this, address, protocols, options);
    } else {
      this._isServer = true;
      this._autoPong =
        options && options.autoPong !== undefined ? options.autoPong : true;
      this._closeTimeout =
        options && options.closeTimeout !== undefined
          ? options.closeTimeout
          : CLOSE_TIMEOUT;
    }
  }

  /**
   * How binary messages are delivered: 'nodebuffer' (the default, kept for
   * historical reasons instead of 'blob'), 'arraybuffer', 'fragments' or
   * 'blob'. Other values are ignored.
   *
   * @type {String}
   */
  get binaryType() {
    return this._binaryType;
  }

  set binaryType(type) {
    if (!BINARY_TYPES.includes(type)) return;

    this._binaryType = type;

    // The Receiver converts messages, so it must see changes on the fly.
    if (this._receiver) this._receiver._binaryType = type;
  }

  /**
   * Bytes queued but not yet written to the network, framing included.
   *
   * @type {Number}
   */
  get bufferedAmount() {
    if (!this._socket) return this._bufferedAmount;

    return this._socket.writableLength + this._sender._bufferedBytes;
  }

  /**
   * The negotiated extensions, comma-separated.
   *
   * @type {String}
   */
  get extensions() {
    return Object.keys(this._extensions).join();
  }

  /**
   * @type {Boolean}
   */
  get isPaused() {
    return this._paused;
  }

  /**
   * The negotiated subprotocol ('' if none).
   *
   * @type {String}
   */
  get protocol() {
    return this._protocol;
  }

  /**
   * @type {Number}
   */
  get readyState() {
    return this._readyState;
  }

  /**
   * The URL of a client WebSocket.
   *
   * @type {String}
   */
  get url() {
    return this._url;
  }

  /**
   * Set up the socket and the internal resources.
   *
   * `_isServer`, `_protocol` and `_extensions` are read here, so the caller
   * (the server, the client handshake, or a peer-to-peer user) sets them
   * first.
   *
   * @param {Duplex} socket The network socket between the server and client
   * @param {Buffer} [head] The first packet of the upgraded stream
   * @param {Object} [options] Options object
   * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {Function} [options.generateMask] The function used to generate the
   *     masking key
   * @param {Number} [options.maxBufferedChunks=0] The maximum number of
   *     buffered data chunks
   * @param {Number} [options.maxFragments=0] The maximum number of message
   *     fragments
   * @param {Number} [options.maxPayload=0] The maximum allowed message size
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text and close messages
   * @private
   */
  setSocket(socket, head, options = {}) {
    const adopted = adoptSocket(socket, head);

    if (adopted) {
      // The taken-over socket stays marked, so handleUpgrade() still
      // refuses it a second time.
      socket[kWebSocket] = this;
      socket = adopted;
      head = null;
    }

    const receiver = new FrameReader(
      RECEIVER_SINK,
      this,
      {
        allowSynchronousEvents: options.allowSynchronousEvents,
        binaryType: this.binaryType,
        extensions: this._extensions,
        isServer: this._isServer,
        maxBufferedChunks: options.maxBufferedChunks,
        maxFragments: options.maxFragments,
        maxPayload: options.maxPayload,
        skipUTF8Validation: options.skipUTF8Validation
      },
      adopted
    );

    const sender = new Sender(socket, this._extensions, options.generateMask);

    this._receiver = receiver;
    this._sender = sender;
    this._socket = socket;

    // RFC 6455 §5.3: clients mask every frame, servers never do.
    const mask = !this._isServer;
    const compress = !!this._extensions[PerMessageDeflate.extensionName];

    this[kSendOptions] = SEND_OPTIONS[mask ? 1 : 0][compress ? 1 : 0];

    sender[kWebSocket] = this;
    socket[kWebSocket] = this;

    sender.onerror = senderOnError;

    // A plain Duplex has neither; a net.Socket must not time out (the
    // handshake timeout is over) nor delay small frames (Nagle).
    if (socket.setTimeout) socket.setTimeout(0);
    if (socket.setNoDelay) socket.setNoDelay();

    if (head && head.length > 0) socket.unshift(head);

    if (adopted && process.env.WSN_DIRECT_READS !== '0') {
      receiver.attachNativeReads(adopted);
    }

    socket.on('close', socketOnClose);
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('error', socketOnError);

    this._readyState = OPEN;
    this.emit('open');
  }

  /**
   * Emit the `'close'` event.
   *
   * @private
   */
  emitClose() {
    if (!this._socket) {
      this._readyState = CLOSED;
      this.emit('close', this._closeCode, this._closeMessage);
      return;
    }

    const perMessageDeflate = this._extensions[PerMessageDeflate.extensionName];

    if (perMessageDeflate) perMessageDeflate.cleanup();

    this._receiver.detach();
    this._readyState = CLOSED;
    this.emit('close', this._closeCode, this._closeMessage);
  }

  /**
   * Start a closing handshake (RFC 6455 §7.1.2).
   *
   * Each side sends one close frame. The TCP connection is ended once a close
   * frame has been both sent and received (or the peer's data was invalid);
   * if the peer does not answer within `closeTimeout`, the socket is
   * destroyed.
   *
   * @param {Number} [code] Status code explaining why the connection is closing
   * @param {(String|Buffer|Uint8Array)} [data] The reason why the connection
   *     is closing (at most 123 bytes)
   * @throws {TypeError} If `code` is not a valid close code, or `data` is not
   *     a string or a Uint8Array
   * @throws {RangeError} If `data` is longer than 123 bytes
   * @public
   */
  close(code, data) {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      abortHandshake(this, this._req, NOT_ESTABLISHED);
      return;
    }

    if (this._readyState === CLOSING) {
      if (
        this._closeFrameSent &&
        (this._closeFrameReceived || this._receiver.errorEmitted)
      ) {
        this._socket.end();
      }

      return;
    }

    this._readyState = CLOSING;

    try {
      this._sender.close(code, data, !this._isServer, (err) => {
        // A write error reaches the socket's 'error' listener; here only a
        // successful write of the close frame matters.
        if (err) return;

        this._closeFrameSent = true;

        if (this._closeFrameReceived || this._receiver.errorEmitted) {
          this._socket.end();
        }
      });
    } catch (err) {
      // Invalid arguments: nothing was sent, so the connection is still
      // open. (ws stays CLOSING here, with no close frame and no timer, so a
      // corrected close() would never complete.)
      this._readyState = OPEN;
      throw err;
    }

    setCloseTimer(this);
  }

  /**
   * Pause the socket (no more `'message'` events until `resume()`).
   *
   * @public
   */
  pause() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) {
      return;
    }

    this._paused = true;
    this._socket.pause();
  }

  /**
   * Send a ping.
   *
   * @param {*} [data] The data to send (at most 125 bytes)
   * @param {Boolean} [mask] Indicates whether or not to mask `data`
   * @param {Function} [cb] Callback which is executed when the ping is sent
   * @throws {Error} If the WebSocket is connecting
   * @public
   */
  ping(data, mask, cb) {
    this._control('ping', data, mask, cb);
  }

  /**
   * Send a pong.
   *
   * @param {*} [data] The data to send (at most 125 bytes)
   * @param {Boolean} [mask] Indicates whether or not to mask `data`
   * @param {Function} [cb] Callback which is executed when the pong is sent
   * @throws {Error} If the WebSocket is connecting
   * @public
   */
  pong(data, mask, cb) {
    this._control('pong', data, mask, cb);
  }

  /**
   * Resume the socket.
   *
   * @public
   */
  resume() {
    if (this._readyState === CONNECTING || this._readyState === CLOSED) {
      return;
    }

    this._paused = false;
    // If the Receiver is full, its 'drain' resumes the socket instead.
    if (!this._receiver.needDrain) this._socket.resume();
  }

  /**
   * Send a data message.
   *
   * @param {*} data The message to send: a string, a Buffer, an ArrayBuffer,
   *     a TypedArray, a DataView, a Blob, a number (sent as text) or anything
   *     `Buffer.from()` accepts
   * @param {Object} [options] Options object
   * @param {Boolean} [options.binary] Specifies whether `data` is binary or
   *     text (default: binary unless `data` is a string)
   * @param {Boolean} [options.compress] Specifies whether or not to compress
   *     `data`
   * @param {Boolean} [options.fin=true] Specifies whether the fragment is the
   *     last one
   * @param {Boolean} [options.mask] Specifies whether or not to mask `data`
   * @param {Function} [cb] Callback which is executed when data is written out
   * @throws {Error} If the WebSocket is connecting
   * @public
   */
  send(data, options, cb) {
    if (this._readyState === CONNECTING) {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }

    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }

    if (typeof data === 'number') data = data.toString();

    if (this._readyState !== OPEN) {
      sendAfterClose(this, data, cb);
      return;
    }

    let opts;

    if (options === undefined) {
      opts = this[kSendOptions][typeof data === 'string' ? 0 : 1];
    } else {
      opts = {
        binary: typeof data !== 'string',
        mask: !this._isServer,
        compress: true,
        fin: true,
        ...options
      };

      if (!this._extensions[PerMessageDeflate.extensionName]) {
        opts.compress = false;
      }
    }

    this._sender.send(data || EMPTY_BUFFER, opts, cb);
  }

  /**
   * Forcibly close the connection (no closing handshake).
   *
   * @public
   */
  terminate() {
    if (this._readyState === CLOSED) return;
    if (this._readyState === CONNECTING) {
      abortHandshake(this, this._req, NOT_ESTABLISHED);
      return;
    }

    if (this._socket) {
      this._readyState = CLOSING;
      // Frames held for the end of the tick or of the socket chunk being
      // read go out first, as they would have with an immediate write.
      this._sender.flush();
      this._socket.destroy();
    }
  }

  /**
   * The shared body of `ping()` and `pong()`.
   *
   * @param {String} method 'ping' or 'pong'
   * @param {*} data The payload
   * @param {Boolean} mask Whether to mask
   * @param {Function} cb Callback
   * @private
   */
  _control(method, data, mask, cb) {
    if (this._readyState === CONNECTING) {
      throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    }

    if (typeof data === 'function') {
      cb = data;
      data = mask = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
      mask = undefined;
    }

    // A number used to allocate that many bytes (CVE-2016-10518); it is text.
    if (typeof data === 'number') data = data.toString();

    if (this._readyState !== OPEN) {
      sendAfterClose(this, data, cb);
      return;
    }

    if (mask === undefined) mask = !this._isServer;
    this._sender[method](data || EMPTY_BUFFER, mask, cb);
  }
}

// The ready-state constants, on the class and on instances alike.
READY_STATES.forEach((name, value) => {
  const descriptor = { enumerable: true, value };

  Object.defineProperty(WebSocket, name, descriptor);
  Object.defineProperty(WebSocket.prototype, name, descriptor);
});

// The IDL attributes are enumerable, as in the browser.
for (const property of [
  'binaryType',
  'bufferedAmount',
  'extensions',
  'isPaused',
  'protocol',
  'readyState',
  'url'
]) {
  Object.defineProperty(WebSocket.prototype, property, { enumerable: true });
}

//
// The `onopen`, `onerror`, `onclose` and `onmessage` attributes (HTML
// standard, "the WebSocket interface"): at most one handler per attribute,
// installed as a listener flagged with `kForOnEventAttribute`. Configurable,
// like every Web IDL attribute and like ws's.
//
for (const type of ['open', 'error', 'close', 'message']) {
  Object.defineProperty(WebSocket.prototype, `on${type}`, {
    configurable: true,
    enumerable: true,
    get() {
      for (const listener of this.listeners(type)) {
        if (listener[kForOnEventAttribute]) return listener[kListener];
      }

      return null;
    },
    set(handler) {
      for (const listener of this.listeners(type)) {
        if (listener[kForOnEventAttribute]) {
          this.removeListener(type, listener);
          break;
        }
      }

      if (typeof handler !== 'function') return;

      this.addEventListener(type, handler, { [kForOnEventAttribute]: true });
    }
  });
}

WebSocket.prototype.addEventListener = addEventListener;
WebSocket.prototype.removeEventListener = removeEventListener;

module.exports = WebSocket;

/**
 * The byte length `data` would have on the wire, without framing.
 *
 * @param {*} data The data
 * @return {Number}
 * @throws {TypeError} If `data` cannot be converted to bytes
 * @private
 */
function byteLengthOf(data) {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    return data.byteLength;
  }
  if (isBlob(data)) return data.size;
  return Buffer.from(data).length;
}

/**
 * Handle `ping()`, `pong()` and `send()` calls when the `readyState` is
 * `CLOSING` or `CLOSED`: the data is counted in `bufferedAmount` (as the
 * WebSocket API specifies) and the callback gets an error.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @param {*} [data] The data to send
 * @param {Function} [cb] Callback
 * @private
 */
function sendAfterClose(websocket, data, cb) {
  if (data) {
    const length = byteLengthOf(data);

    // Without a socket (a failed client handshake) there is no Sender.
    if (websocket._socket) websocket._sender._bufferedBytes += length;
    else websocket._bufferedAmount += length;
  }

  if (cb) {
    const err = new Error(
      `WebSocket is not open: readyState ${websocket._readyState} ` +
        `(${READY_STATES[websocket._readyState]})`
    );
    process.nextTick(cb, err);
  }
}

/**
 * The FrameReader's report of the peer's close frame.
 *
 * @param {WebSocket} websocket The WebSocket
 * @param {Number} code The status code
 * @param {Buffer} reason The reason for closing
 * @private
 */
function receiverOnConclude(websocket, code, reason) {
  websocket._closeFrameReceived = true;
  websocket._closeMessage = reason;
  websocket._closeCode = code;

  if (websocket._socket[kWebSocket] === undefined) return;

  // RFC 6455 §5.5.1: nothing after a close frame is data. Keep reading (so
  // the peer's FIN is seen) but stop feeding the Receiver.
  websocket._socket.removeListener('data', socketOnData);
  process.nextTick(resumeStream, websocket._socket);

  // Echo the peer's code (§5.5.1); 1005 means the frame had none. With
  // `skipUTF8Validation` the reason may be invalid UTF-8, which may not go
  // back on the wire (§5.5.1 again) and which the Sender refuses: echo the
  // code alone then.
  if (code === 1005) websocket.close();
  else if (isValidUTF8(reason)) websocket.close(code, reason);
  else websocket.close(code);
}

/**
 * The FrameReader's report that it takes data again.
 *
 * @param {WebSocket} websocket The WebSocket
 * @private
 */
function receiverOnDrain(websocket) {
  if (!websocket.isPaused) websocket._socket.resume();
}

/**
 * The FrameReader's report that the peer broke the protocol: close with the
 * code the error carries (RFC 6455 §7.1.7).
 *
 * @param {WebSocket} websocket The WebSocket
 * @param {(RangeError|Error)} err The error
 * @private
 */
function receiverOnError(websocket, err) {
  const socketClosed = websocket._socket[kWebSocket] === undefined;

  if (!socketClosed) {
    websocket._socket.removeListener('data', socketOnData);
    process.nextTick(resumeStream, websocket._socket);

    websocket.close(err[kStatusCode]);
  }

  if (!websocket._errorEmitted) {
    websocket._errorEmitted = true;
    websocket.emit('error', err);
  }

  // The socket's 'close' came first and waited for the reader.
  if (socketClosed) websocket.emitClose();
}

/**
 * The FrameReader's report that it parsed its last chunk.
 *
 * @param {WebSocket} websocket The WebSocket
 * @private
 */
function receiverOnFinish(websocket) {
  // Before the socket's 'close', that listener sees it finished instead.
  if (websocket._socket[kWebSocket] === undefined) websocket.emitClose();
}

/**
 * The FrameReader's report of a message.
 *
 * @param {WebSocket} websocket The WebSocket
 * @param {(Buffer|ArrayBuffer|Blob|Buffer[])} data The message
 * @param {Boolean} isBinary Specifies whether the message is binary or not
 * @private
 */
function receiverOnMessage(websocket, data, isBinary) {
  websocket.emit('message', data, isBinary);
}

/**
 * The FrameReader's report of a ping.
 *
 * @param {WebSocket} websocket The WebSocket
 * @param {Buffer} data The data included in the ping frame
 * @private
 */
function receiverOnPing(websocket, data) {
  // RFC 6455 §5.5.2: answer with a pong carrying the same application data.
  if (websocket._autoPong) websocket.pong(data, !websocket._isServer, NOOP);
  websocket.emit('ping', data);
}

/**
 * The FrameReader's report of a pong.
 *
 * @param {WebSocket} websocket The WebSocket
 * @param {Buffer} data The data included in the pong frame
 * @private
 */
function receiverOnPong(websocket, data) {
  websocket.emit('pong', data);
}

// Where a WebSocket's FrameReader reports (see lib/frame-reader.js).
const RECEIVER_SINK = Object.freeze({
  conclude: receiverOnConclude,
  drain: receiverOnDrain,
  error: receiverOnError,
  finish: receiverOnFinish,
  message: receiverOnMessage,
  ping: receiverOnPing,
  pong: receiverOnPong
});

/**
 * Resume a readable stream.
 *
 * @param {Readable} stream The readable stream
 * @private
 */
function resumeStream(stream) {
  stream.resume();
}

/**
 * Destroy a socket (the close timer's action).
 *
 * @param {Duplex} socket The socket
 * @private
 */
function destroySocket(socket) {
  socket.destroy();
}

/**
 * Handles an asynchronous failure of the Sender (e.g. a compression error).
 * A shared function rather than a closure per connection: `this` is the
 * Sender.
 *
 * @param {Error} err The error
 * @private
 */
function senderOnError(err) {
  const websocket = this[kWebSocket];

  if (websocket._readyState === CLOSED) return;
  if (websocket._readyState === OPEN) {
    websocket._readyState = CLOSING;
    setCloseTimer(websocket);
  }

  // `end()` rather than `destroy()` lets the peer finish sending queued data;
  // the close timer (already running when CLOSING) bounds the wait.
  websocket._socket.end();

  if (!websocket._errorEmitted) {
    websocket._errorEmitted = true;
    websocket.emit('error', err);
  }
}

/**
 * Set a timer to destroy the underlying raw socket of a WebSocket.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @private
 */
function setCloseTimer(websocket) {
  websocket._closeTimer = setTimeout(
    destroySocket,
    websocket._closeTimeout,
    websocket._socket
  );
}

/**
 * The listener of the socket `'close'` event.
 *
 * @private
 */
function socketOnClose() {
  const websocket = this[kWebSocket];
  const receiver = websocket._receiver;

  this.removeListener('close', socketOnClose);
  this.removeListener('data', socketOnData);
  this.removeListener('end', socketOnEnd);

  websocket._readyState = CLOSING;

  //
  // The socket may have closed without a close frame or an 'end' (e.g.
  // destroyed after an error). If it was paused, data may still sit in its
  // buffer: hand it to the Receiver in one piece so a close frame in it is
  // not lost. In flowing mode the buffer is empty.
  //
  if (
    !this.readableEnded &&
    !websocket._closeFrameReceived &&
    !receiver.errorEmitted &&
    this.readableLength !== 0
  ) {
    receiver.write(this.read(this.readableLength));
  }

  receiver.end();

  this[kWebSocket] = undefined;

  clearTimeout(websocket._closeTimer);

  // Otherwise the reader's finish or error closes the WebSocket.
  if (receiver.finished || receiver.errorEmitted) websocket.emitClose();
}

/**
 * The listener of the socket `'data'` event. The chunk is parsed inside a
 * Sender batch, so the replies its messages cause (echoes, pongs, the close
 * frame) leave together in one write when it is done.
 *
 * @param {Buffer} chunk A chunk of data
 * @private
 */
function socketOnData(chunk) {
  const websocket = this[kWebSocket];
  const sender = websocket._sender;
  let ok;

  // A chunk emitted from inside a handler joins the batch already open.
  if (sender._batching) {
    ok = websocket._receiver.write(chunk);
  } else {
    sender.startBatch();
    try {
      ok = websocket._receiver.write(chunk);
    } finally {
      sender.endBatch();
    }
  }

  if (!ok) this.pause();
}

/**
 * The listener of the socket `'end'` event.
 *
 * @private
 */
function socketOnEnd() {
  const websocket = this[kWebSocket];

  websocket._readyState = CLOSING;
  websocket._receiver.end();
  this.end();
}

/**
 * The listener of the socket `'error'` event.
 *
 * @private
 */
function socketOnError() {
  const websocket = this[kWebSocket];

  // Later errors of a dying socket are expected; swallow them.
  this.removeListener('error', socketOnError);
  this.on('error', NOOP);

  if (websocket) {
    websocket._readyState = CLOSING;
    this.destroy();
  }
}
