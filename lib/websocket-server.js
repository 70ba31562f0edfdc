'use strict';

const EventEmitter = require('events');
const http = require('http');

const binding = require('./binding');
const extension = require('./extension');
const PerMessageDeflate = require('./permessage-deflate');
const subprotocol = require('./subprotocol');
const WebSocket = require('./websocket');
const { CLOSE_TIMEOUT, kWebSocket } = require('./constants');

// Server life cycle: accepting upgrades, close() called, 'close' emitted.
const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/**
 * Class representing a WebSocket server.
 *
 * @extends EventEmitter
 */
class WebSocketServer extends EventEmitter {
  /**
   * Create a `WebSocketServer` instance.
   *
   * @param {Object} options Configuration options
   * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
   *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
   *     multiple times in the same tick
   * @param {Boolean} [options.autoPong=true] Specifies whether or not to
   *     automatically send a pong in response to a ping
   * @param {Number} [options.backlog=511] The maximum length of the queue of
   *     pending connections
   * @param {Boolean} [options.clientTracking=true] Specifies whether or not to
   *     track clients
   * @param {Number} [options.closeTimeout=30000] Duration in milliseconds to
   *     wait for the closing handshake to finish after `websocket.close()` is
   *     called
   * @param {Function} [options.handleProtocols] A hook to choose the
   *     subprotocol: `(protocols: Set<string>, request) => string | false`
   * @param {String} [options.host] The hostname where to bind the server
   * @param {Number} [options.maxBufferedChunks=1048576] The maximum number of
   *     buffered data chunks per message (0: no limit)
   * @param {Number} [options.maxFragments=131072] The maximum number of
   *     fragments per message (0: no limit)
   * @param {Number} [options.maxPayload=104857600] The maximum allowed message
   *     size in bytes (0: no limit)
   * @param {Boolean} [options.noServer=false] Enable no server mode: upgrades
   *     are fed in with `handleUpgrade()`
   * @param {String} [options.path] Accept only connections matching this path
   * @param {(Boolean|Object)} [options.perMessageDeflate=false] Enable/disable
   *     permessage-deflate, or its options
   * @param {Number} [options.port] The port where to bind the server
   * @param {(http.Server|https.Server)} [options.server] A pre-created HTTP/S
   *     server to use
   * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
   *     not to skip UTF-8 validation for text and close messages
   * @param {Function} [options.verifyClient] A hook to reject connections:
   *     `(info) => boolean` or `(info, callback) => void`
   * @param {Function} [options.WebSocket=WebSocket] Specifies the `WebSocket`
   *     class to use. It must be the `WebSocket` class or class that extends it
   * @param {Function} [callback] A listener for the `listening` event
   */
  constructor(options, callback) {
    super();

    options = {
      allowSynchronousEvents: true,
      autoPong: true,
      maxBufferedChunks: 1024 * 1024,
      maxFragments: 128 * 1024,
      maxPayload: 100 * 1024 * 1024,
      skipUTF8Validation: false,
      perMessageDeflate: false,
      handleProtocols: null,
      clientTracking: true,
      closeTimeout: CLOSE_TIMEOUT,
      verifyClient: null,
      noServer: false,
      backlog: null,
      server: null,
      host: null,
      path: null,
      port: null,
      WebSocket,
      ...options
    };

    const modes =
      (options.port != null ? 1 : 0) +
      (options.server ? 1 : 0) +
      (options.noServer ? 1 : 0);
    if (modes !== 1) {
      throw new TypeError(
        'One and only one of the "port", "server", or "noServer" options ' +
          'must be specified'
      );
    }

    if (options.port != null) {
      // Plain HTTP requests to a port we own get 426 (RFC 7231 §6.5.15).
      this._server = http.createServer(answerUpgradeRequired);
      this._server.listen(
        options.port,
        options.host,
        options.backlog,
        callback
      );
    } else if (options.server) {
      this._server = options.server;
    }

    if (this._server) {
      const emitConnection = this.emit.bind(this, 'connection');
      this._removeListeners = attachListeners(this._server, {
        listening: this.emit.bind(this, 'listening'),
        error: this.emit.bind(this, 'error'),
        upgrade: (req, socket, head) => {
          this.handleUpgrade(req, socket, head, emitConnection);
        }
      });
    }

    if (options.perMessageDeflate === true) options.perMessageDeflate = {};
    if (options.clientTracking) {
      this.clients = new Set();
      this._shouldEmitClose = false;
      // One listener for all the clients (`this` is the WebSocket): a
      // closure per connection would be about 100 bytes each.
      this._onClientClose = untrackOnClose(this);
    }

    this.options = options;
    this._state = RUNNING;
  }

  /**
   * Returns the bound address, the address family name, and port of the server
   * as reported by the operating system if listening on an IP socket.
   * If the server is listening on a pipe or UNIX domain socket, the name is
   * returned as a string.
   *
   * @return {(Object|String|null)} The address of the server
   * @throws {Error} In noServer mode
   * @public
   */
  address() {
    if (this.options.noServer) {
      throw new Error('The server is operating in "noServer" mode');
    }
    return this._server ? this._server.address() : null;
  }

  /**
   * Stop the server from accepting new connections and emit the `'close'` event
   * when all existing connections are closed. Existing connections are left
   * open. An internally created HTTP server is closed.
   *
   * @param {Function} [cb] A one-time listener for the `'close'` event; given
   *     an error if the server was already closed
   * @public
   */
  close(cb) {
    if (this._state === CLOSED) {
      if (cb) {
        this.once('close', () => cb(new Error('The server is not running')));
      }
      process.nextTick(emitClose, this);
      return;
    }

    if (cb) this.once('close', cb);
    if (this._state === CLOSING) return;
    this._state = CLOSING;

    const server = this._server;
    if (server) {
      this._removeListeners();
      this._removeListeners = this._server = null;
    }

    if (this.options.port != null) {
      // We created the HTTP server, so its own 'close' (after its connections
      // end) tells when we are done.
      server.close(() => emitClose(this));
    } else if (this.clients && this.clients.size) {
      this._shouldEmitClose = true;
    } else {
      process.nextTick(emitClose, this);
    }
  }

  /**
   * See if a given request should be handled by this server instance. The
   * default checks the `path` option against the request's pathname.
   *
   * @param {http.IncomingMessage} req Request object to inspect
   * @return {Boolean} `true` if the request is valid, else `false`
   * @public
   */
  shouldHandle(req) {
    if (this.options.path) {
      const query = req.url.indexOf('?');
      const pathname = query === -1 ? req.url : req.url.slice(0, query);
      if (pathname !== this.options.path) return false;
    }
    return true;
  }

  /**
   * Handle a HTTP Upgrade request: validate it (RFC 6455 §4.2.1), negotiate
   * the subprotocol and extensions, run `verifyClient`, then answer 101 and
   * hand the connection to `cb`, or answer with a 4xx/5xx.
   *
   * @param {http.IncomingMessage} req The request object
   * @param {Duplex} socket The network socket between the server and client,
   *     or any duplex stream
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Function} cb Called with `(websocket, req)` on success
   * @public
   */
  handleUpgrade(req, socket, head, cb) {
    socket.on('error', destroySocket);

    const headers = req.headers;
    const key = headers['sec-websocket-key'];
    const upgrade = headers.upgrade;
    const version = +headers['sec-websocket-version'];

    if (req.method !== 'GET') {
      rejectOrReport(this, req, socket, 405, 'Invalid HTTP method');
      return;
    }

    // `upgrade` is undefined also when the header was dropped because of the
    // HTTP server's maxHeadersCount.
    if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
      rejectOrReport(this, req, socket, 400, 'Invalid Upgrade header');
      return;
    }

    if (typeof key !== 'string' || !binding.isValidKey(key)) {
      const message = 'Missing or invalid Sec-WebSocket-Key header';
      rejectOrReport(this, req, socket, 400, message);
      return;
    }

    // RFC 6455 §4.4: tell the client which versions we speak.
    if (version !== 13 && version !== 8) {
      const message = 'Missing or invalid Sec-WebSocket-Version header';
      rejectOrReport(this, req, socket, 400, message, {
        'Sec-WebSocket-Version': '13, 8'
      });
      return;
    }

    if (!this.shouldHandle(req)) {
      writeRejection(socket, 400);
      return;
    }

    let protocols = new Set();
    const protocolHeader = headers['sec-websocket-protocol'];
    if (protocolHeader !== undefined) {
      try {
        protocols = subprotocol.parse(protocolHeader);
      } catch {
        const message = 'Invalid Sec-WebSocket-Protocol header';
        rejectOrReport(this, req, socket, 400, message);
        return;
      }
    }

    const extensions = {};
    const extensionsHeader = headers['sec-websocket-extensions'];
    if (this.options.perMessageDeflate && extensionsHeader !== undefined) {
      try {
        const offers = extension.parse(extensionsHeader);
        const deflateOffers = offers[PerMessageDeflate.extensionName];
        if (deflateOffers) {
          const perMessageDeflate = new PerMessageDeflate({
            ...this.options.perMessageDeflate,
            isServer: true,
            maxPayload: this.options.maxPayload
          });
          perMessageDeflate.accept(deflateOffers);
          extensions[PerMessageDeflate.extensionName] = perMessageDeflate;
        }
      } catch {
        const message =
          'Invalid or unacceptable Sec-WebSocket-Extensions header';
        rejectOrReport(this, req, socket, 400, message);
        return;
      }
    }

    if (!this.options.verifyClient) {
      this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
      return;
    }

    // RFC 6455 §4.1: version 8 clients (hybi drafts) sent Sec-WebSocket-Origin.
    const transport = req.socket;
    const info = {
      origin: headers[version === 8 ? 'sec-websocket-origin' : 'origin'],
      secure: !!(transport && (transport.authorized || transport.encrypted)),
      req
    };

    if (this.options.verifyClient.length === 2) {
      this.options.verifyClient(info, (verified, code, message, extra) => {
        if (!verified) {
          writeRejection(socket, code || 401, message, extra);
          return;
        }
        this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
      });
      return;
    }

    if (!this.options.verifyClient(info)) {
      writeRejection(socket, 401);
      return;
    }
    this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);
  }

  /**
   * Upgrade the connection to WebSocket: write the 101 response and attach a
   * new WebSocket to the socket.
   *
   * @param {Object} extensions The accepted extensions
   * @param {String} key The value of the `Sec-WebSocket-Key` header
   * @param {Set} protocols The subprotocols
   * @param {http.IncomingMessage} req The request object
   * @param {Duplex} socket The network socket between the server and client
   * @param {Buffer} head The first packet of the upgraded stream
   * @param {Function} cb Callback
   * @throws {Error} If called more than once with the same socket
   * @private
   */
  completeUpgrade(extensions, key, protocols, req, socket, head, cb) {
    // First, because a socket taken over by native I/O is already closed.
    if (socket[kWebSocket]) {
      throw new Error(
        'server.handleUpgrade() was called more than once with the same ' +
          'socket, possibly due to a misconfiguration'
      );
    }

    // The client may have sent its FIN (or the stream died) while verifyClient
    // ran: there is nobody to answer.
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }

    if (this._state !== RUNNING) {
      writeRejection(socket, 503);
      return;
    }

    const responseHeaders = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${binding.acceptKey(key)}`
    ];

    const ws = new this.options.WebSocket(null, undefined, this.options);

    if (protocols.size) {
      const protocol = this.options.handleProtocols
        ? this.options.handleProtocols(protocols, req)
        : protocols.values().next().value;

      // A falsy choice means: no subprotocol (RFC 6455 §4.2.2 /subprotocol/).
      if (protocol) {
        responseHeaders.push(`Sec-WebSocket-Protocol: ${protocol}`);
        ws._protocol = protocol;
      }
    }

    const perMessageDeflate = extensions[PerMessageDeflate.extensionName];
    if (perMessageDeflate) {
      const value = extension.format({
        [PerMessageDeflate.extensionName]: [perMessageDeflate.params]
      });
      responseHeaders.push(`Sec-WebSocket-Extensions: ${value}`);
      ws._extensions = extensions;
    }

    // Listeners may inspect and edit the response headers in place.
    this.emit('headers', responseHeaders, req);

    socket.write(responseHeaders.concat('\r\n').join('\r\n'));
    socket.removeListener('error', destroySocket);

    ws.setSocket(socket, head, {
      allowSynchronousEvents: this.options.allowSynchronousEvents,
      maxBufferedChunks: this.options.maxBufferedChunks,
      maxFragments: this.options.maxFragments,
      maxPayload: this.options.maxPayload,
      skipUTF8Validation: this.options.skipUTF8Validation
    });

    if (this.clients) {
      this.clients.add(ws);
      ws.on('close', this._onClientClose);
    }

    cb(ws, req);
  }
}

module.exports = WebSocketServer;

/**
 * The request listener of an internally created HTTP server: every plain HTTP
 * request is answered 426 Upgrade Required.
 *
 * @param {http.IncomingMessage} req The request
 * @param {http.ServerResponse} res The response
 * @private
 */
function answerUpgradeRequired(req, res) {
  const body = http.STATUS_CODES[426];
  res.writeHead(426, {
    'Content-Length': body.length,
    'Content-Type': 'text/plain'
  });
  res.end(body);
}

/**
 * Adds listeners to an emitter.
 *
 * @param {EventEmitter} emitter The emitter
 * @param {Object.<String, Function>} listeners Event names mapped to listeners
 * @return {Function} Removes exactly these listeners
 * @private
 */
function attachListeners(emitter, listeners) {
  const events = Object.keys(listeners);
  for (const event of events) emitter.on(event, listeners[event]);
  return () => {
    for (const event of events) emitter.removeListener(event, listeners[event]);
  };
}

/**
 * Makes the `'close'` listener that removes a client from `server.clients`.
 *
 * @param {WebSocketServer} server The server
 * @return {Function} The listener, called with `this` set to the WebSocket
 * @private
 */
function untrackOnClose(server) {
  return function onClientClose() {
    server.clients.delete(this);
    if (server._shouldEmitClose && !server.clients.size) {
      process.nextTick(emitClose, server);
    }
  };
}

/**
 * Marks the server closed and emits `'close'`.
 *
 * @param {WebSocketServer} server The server
 * @private
 */
function emitClose(server) {
  server._state = CLOSED;
  server.emit('close');
}

/**
 * The `'error'` listener of a socket during the handshake.
 *
 * @private
 */
function destroySocket() {
  this.destroy();
}

/**
 * Answers a failed handshake with an HTTP error response and closes the
 * socket once it is written.
 *
 * @param {Duplex} socket The socket of the upgrade request
 * @param {Number} code The HTTP response status code
 * @param {String} [message] The response body (default: the status text)
 * @param {Object} [headers] Additional response headers, which may override
 *     the defaults
 * @private
 */
function writeRejection(socket, code, message, headers) {
  // An unregistered code gets an empty reason phrase (RFC 7230 §3.1.2 allows
  // it) rather than a crash.
  const reason = http.STATUS_CODES[code] || '';
  const body = message || reason;
  const allHeaders = {
    Connection: 'close',
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(body),
    ...headers
  };

  let response = `HTTP/1.1 ${code} ${reason}\r\n`;
  for (const name of Object.keys(allHeaders)) {
    response += `${name}: ${allHeaders[name]}\r\n`;
  }
  response += '\r\n' + body;

  socket.once('finish', socket.destroy);
  socket.end(response);
}

/**
 * Hands a malformed handshake to the `'wsClientError'` listeners, which then
 * own the socket, or answers it with an HTTP error when there are none.
 *
 * @param {WebSocketServer} server The WebSocket server
 * @param {http.IncomingMessage} req The request object
 * @param {Duplex} socket The socket of the upgrade request
 * @param {Number} code The HTTP response status code
 * @param {String} message The error message and response body
 * @param {Object} [headers] Additional response headers
 * @private
 */
function rejectOrReport(server, req, socket, code, message, headers) {
  if (server.listenerCount('wsClientError') === 0) {
    writeRejection(socket, code, message, headers);
    return;
  }

  const error = new Error(message);
  Error.captureStackTrace(error, rejectOrReport);
  server.emit('wsClientError', error, socket, req);
}
