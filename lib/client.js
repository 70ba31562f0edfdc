'use strict';

// The client side of the opening handshake (RFC 6455 §4.1): URL checks, the
// HTTP upgrade request, redirects, and the checks on the server's response.
// Kept out of websocket.js so the connection code there stays small; it
// drives a WebSocket only through its fields, `setSocket()` and
// `emitClose()`.

const http = require('http');
const https = require('https');
const net = require('net');
const tls = require('tls');
const { randomBytes } = require('crypto');
const { URL } = require('url');

const binding = require('./binding');
const PerMessageDeflate = require('./permessage-deflate');
const { format, parse } = require('./extension');
const { tokenChars } = require('./validation');
const { CLOSE_TIMEOUT } = require('./constants');

// Ready states (the same numbers as WebSocket.CONNECTING etc.).
const CONNECTING = 0;
const CLOSING = 2;

const PROTOCOL_VERSIONS = [8, 13];

// Marks a request the handshake gave up on, so its late 'error' is ignored.
const kAborted = Symbol('kAborted');

/**
 * Tells whether `value` is a non-empty RFC 7230 token (RFC 6455 §4.1 requires
 * each subprotocol to be one).
 *
 * @param {*} value The candidate subprotocol
 * @return {Boolean}
 * @private
 */
function isToken(value) {
  if (typeof value !== 'string' || value.length === 0) return false;

  for (let i = 0; i < value.length; i++) {
    if (tokenChars[value.charCodeAt(i)] !== 1) return false;
  }

  return true;
}

/**
 * Initialize a WebSocket client: validates the arguments and starts the
 * opening handshake. Called again by itself for each followed redirect.
 *
 * @param {WebSocket} websocket The client to initialize
 * @param {(String|URL)} address The URL to which to connect
 * @param {Array} protocols The subprotocols
 * @param {Object} [options] Connection options: any `http.request()` or
 *     `https.request()` option plus the ones below
 * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether any
 *     of the `'message'`, `'ping'`, and `'pong'` events can be emitted multiple
 *     times in the same tick
 * @param {Boolean} [options.autoPong=true] Specifies whether or not to
 *     automatically send a pong in response to a ping
 * @param {Number} [options.closeTimeout=30000] Duration in milliseconds to wait
 *     for the closing handshake to finish after `websocket.close()` is called
 * @param {Function} [options.finishRequest] A function which can be used to
 *     customize the headers of each http request before it is sent; it must
 *     call `request.end()`
 * @param {Boolean} [options.followRedirects=false] Whether or not to follow
 *     redirects
 * @param {Function} [options.generateMask] The function used to generate the
 *     masking key
 * @param {Number} [options.handshakeTimeout] Timeout in milliseconds for the
 *     handshake request
 * @param {Number} [options.maxBufferedChunks=1048576] The maximum number of
 *     buffered data chunks
 * @param {Number} [options.maxFragments=131072] The maximum number of message
 *     fragments
 * @param {Number} [options.maxPayload=104857600] The maximum allowed message
 *     size
 * @param {Number} [options.maxRedirects=10] The maximum number of redirects
 *     allowed
 * @param {String} [options.origin] Value of the `Origin` or
 *     `Sec-WebSocket-Origin` header
 * @param {(Boolean|Object)} [options.perMessageDeflate=true] Enable/disable
 *     permessage-deflate
 * @param {Number} [options.protocolVersion=13] Value of the
 *     `Sec-WebSocket-Version` header
 * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
 *     not to skip UTF-8 validation for text and close messages
 * @throws {RangeError} For an unsupported `protocolVersion`
 * @throws {SyntaxError} For an invalid URL or subprotocol (first request
 *     only; on a redirect the error is emitted instead)
 * @public
 */
function initAsClient(websocket, address, protocols, options) {
  //
  // User options first, then the values the handshake owns: they are derived
  // from the URL below, and must not leak in from the user's object (or from
  // the previous hop of a redirect).
  //
  const opts = {
    allowSynchronousEvents: true,
    autoPong: true,
    closeTimeout: CLOSE_TIMEOUT,
    protocolVersion: 13,
    maxBufferedChunks: 1024 * 1024,
    maxFragments: 128 * 1024,
    maxPayload: 100 * 1024 * 1024,
    skipUTF8Validation: false,
    perMessageDeflate: true,
    followRedirects: false,
    maxRedirects: 10,
    ...options,
    socketPath: undefined,
    hostname: undefined,
    protocol: undefined,
    timeout: undefined,
    method: 'GET',
    host: undefined,
    path: undefined,
    port: undefined
  };

  websocket._autoPong = opts.autoPong;
  websocket._closeTimeout = opts.closeTimeout;

  if (!PROTOCOL_VERSIONS.includes(opts.protocolVersion)) {
    throw new RangeError(
      `Unsupported protocol version: ${opts.protocolVersion} ` +
        `(supported versions: ${PROTOCOL_VERSIONS.join(', ')})`
    );
  }

  let url;

  if (address instanceof URL) {
    url = address;
  } else {
    try {
      url = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }

  // The WebSocket API accepts http(s) URLs and means ws(s).
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';

  websocket._url = url.href;

  const isSecure = url.protocol === 'wss:';
  const isIpc = url.protocol === 'ws+unix:';
  let urlError;

  if (url.protocol !== 'ws:' && !isSecure && !isIpc) {
    urlError =
      'The URL\'s protocol must be one of "ws:", "wss:", ' +
      '"http:", "https:", or "ws+unix:"';
  } else if (isIpc && !url.pathname) {
    urlError = "The URL's pathname is empty";
  } else if (url.hash) {
    // RFC 6455 §3: fragment identifiers are meaningless in WebSocket URIs.
    urlError = 'The URL contains a fragment identifier';
  }

  if (urlError) {
    const err = new SyntaxError(urlError);

    // The constructor throws; a bad redirect target can only be reported.
    if (websocket._redirects === 0) throw err;
    emitErrorAndClose(websocket, err);
    return;
  }

  const defaultPort = isSecure ? 443 : 80;
  // RFC 6455 §4.1: a fresh random 16-byte nonce, base64-encoded, per request.
  const key = randomBytes(16).toString('base64');
  const request = isSecure ? https.request : http.request;
  const requested = new Set();
  let perMessageDeflate;

  opts.createConnection =
    opts.createConnection || (isSecure ? tlsConnect : netConnect);
  opts.defaultPort = opts.defaultPort || defaultPort;
  opts.port = url.port || defaultPort;
  // IPv6 literals come bracketed from the URL; sockets want them bare.
  opts.host = url.hostname.startsWith('[')
    ? url.hostname.slice(1, -1)
    : url.hostname;
  opts.headers = {
    ...opts.headers,
    'Sec-WebSocket-Version': opts.protocolVersion,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket'
  };
  opts.path = url.pathname + url.search;
  opts.timeout = opts.handshakeTimeout;

  if (opts.perMessageDeflate) {
    perMessageDeflate = new PerMessageDeflate({
      ...opts.perMessageDeflate,
      isServer: false,
      maxPayload: opts.maxPayload
    });
    opts.headers['Sec-WebSocket-Extensions'] = format({
      [PerMessageDeflate.extensionName]: perMessageDeflate.offer()
    });
  }

  if (protocols.length) {
    for (const protocol of protocols) {
      if (!isToken(protocol) || requested.has(protocol)) {
        throw new SyntaxError(
          'An invalid or duplicated subprotocol was specified'
        );
      }

      requested.add(protocol);
    }

    opts.headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  }

  if (opts.origin) {
    // Protocol version 8 (hybi-08..12) named the header differently.
    if (opts.protocolVersion < 13) {
      opts.headers['Sec-WebSocket-Origin'] = opts.origin;
    } else {
      opts.headers.Origin = opts.origin;
    }
  }

  if (url.username || url.password) {
    opts.auth = `${url.username}:${url.password}`;
  }

  if (isIpc) {
    // ws+unix:/path/to/socket:/request/path
    const parts = opts.path.split(':');

    opts.socketPath = parts[0];
    opts.path = parts[1];
  }

  let req;

  if (opts.followRedirects) {
    if (websocket._redirects === 0) {
      // Remember where the credentials were meant to go.
      websocket._originalIpc = isIpc;
      websocket._originalSecure = isSecure;
      websocket._originalHostOrSocketPath = isIpc ? opts.socketPath : url.host;

      // Later hops start from a copy of the user's options whose header names
      // are lowercased, so the stripping below finds them whatever their
      // original case; the user's object is never mutated.
      const headers = options && options.headers;

      options = { ...options, headers: {} };

      if (headers) {
        for (const name of Object.keys(headers)) {
          options.headers[name.toLowerCase()] = headers[name];
        }
      }
    } else if (websocket.listenerCount('redirect') === 0) {
      // Without a 'redirect' listener to decide, credentials only follow a
      // redirect to the same host (or the same socket path) without a
      // downgrade from wss: to ws:, as curl 7.77.0 does (subdomains included).
      let isSameHost;

      if (isIpc) {
        isSameHost =
          websocket._originalIpc &&
          opts.socketPath === websocket._originalHostOrSocketPath;
      } else {
        isSameHost =
          !websocket._originalIpc &&
          url.host === websocket._originalHostOrSocketPath;
      }

      if (!isSameHost || (websocket._originalSecure && !isSecure)) {
        delete opts.headers.authorization;
        delete opts.headers.cookie;

        if (!isSameHost) delete opts.headers.host;

        opts.auth = undefined;
      }
    }

    // As curl does, the first Authorization wins: credentials from the
    // original URL are carried as a header to later hops, unless the user
    // set one explicitly.
    if (opts.auth && !options.headers.authorization) {
      options.headers.authorization =
        'Basic ' + Buffer.from(opts.auth).toString('base64');
    }

    req = websocket._req = request(opts);

    if (websocket._redirects) {
      //
      // Unlike after 'upgrade', there is no early exit if a listener closes
      // the WebSocket here: the listener may also destroy `req` with an
      // error, and the 'error' listener below must be attached to catch it.
      //
      websocket.emit('redirect', websocket.url, req);
    }
  } else {
    req = websocket._req = request(opts);
  }

  if (opts.timeout) {
    req.on('timeout', () => {
      abortHandshake(websocket, req, 'Opening handshake has timed out');
    });
  }

  req.on('error', (err) => {
    if (req === null || req[kAborted]) return;

    req = websocket._req = null;
    emitErrorAndClose(websocket, err);
  });

  req.on('response', (res) => {
    const location = res.headers.location;
    const statusCode = res.statusCode;

    if (
      location &&
      opts.followRedirects &&
      statusCode >= 300 &&
      statusCode < 400
    ) {
      if (++websocket._redirects > opts.maxRedirects) {
        abortHandshake(websocket, req, 'Maximum redirects exceeded');
        return;
      }

      req.abort();

      let target;

      try {
        target = new URL(location, address);
      } catch {
        emitErrorAndClose(
          websocket,
          new SyntaxError(`Invalid URL: ${location}`)
        );
        return;
      }

      initAsClient(websocket, target, protocols, options);
    } else if (!websocket.emit('unexpected-response', req, res)) {
      abortHandshake(
        websocket,
        req,
        `Unexpected server response: ${res.statusCode}`
      );
    }
  });

  req.on('upgrade', (res, socket, head) => {
    websocket.emit('upgrade', res);

    // A listener of 'upgrade' may have closed or terminated the WebSocket.
    if (websocket.readyState !== CONNECTING) return;

    req = websocket._req = null;

    const error = checkUpgradeResponse(
      websocket,
      res.headers,
      key,
      requested,
      perMessageDeflate
    );

    if (error) {
      abortHandshake(websocket, socket, error);
      return;
    }

    websocket.setSocket(socket, head, {
      allowSynchronousEvents: opts.allowSynchronousEvents,
      generateMask: opts.generateMask,
      maxBufferedChunks: opts.maxBufferedChunks,
      maxFragments: opts.maxFragments,
      maxPayload: opts.maxPayload,
      skipUTF8Validation: opts.skipUTF8Validation
    });
  });

  if (opts.finishRequest) {
    opts.finishRequest(req, websocket);
  } else {
    req.end();
  }
}

/**
 * Checks the server's 101 response (RFC 6455 §4.1, the client's checks 1-6)
 * and, on success, records the negotiated subprotocol and extension on the
 * WebSocket.
 *
 * @param {WebSocket} websocket The client
 * @param {Object} headers The response headers (lowercase names)
 * @param {String} key The Sec-WebSocket-Key that was sent
 * @param {Set<String>} requested The subprotocols that were offered
 * @param {PerMessageDeflate} [perMessageDeflate] The extension that was
 *     offered, if any
 * @return {(String|undefined)} The error message, or `undefined` if valid
 * @private
 */
function checkUpgradeResponse(
  websocket,
  headers,
  key,
  requested,
  perMessageDeflate
) {
  // The header may be missing even though Node emitted 'upgrade', e.g. when
  // the response exceeded `maxHeadersCount` (CVE-2024-37890).
  const upgrade = headers.upgrade;

  if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket') {
    return 'Invalid Upgrade header';
  }

  if (headers['sec-websocket-accept'] !== binding.acceptKey(key)) {
    return 'Invalid Sec-WebSocket-Accept header';
  }

  const protocol = headers['sec-websocket-protocol'];

  if (protocol !== undefined) {
    if (requested.size === 0) {
      return 'Server sent a subprotocol but none was requested';
    }
    if (!requested.has(protocol)) return 'Server sent an invalid subprotocol';
  } else if (requested.size !== 0) {
    return 'Server sent no subprotocol';
  }

  // Recorded before the extension checks, so `protocol` reads the same as in
  // ws when those fail.
  if (protocol) websocket._protocol = protocol;

  const extensionsHeader = headers['sec-websocket-extensions'];

  if (extensionsHeader !== undefined) {
    if (!perMessageDeflate) {
      return (
        'Server sent a Sec-WebSocket-Extensions header but no extension ' +
        'was requested'
      );
    }

    let extensions;

    try {
      extensions = parse(extensionsHeader);
    } catch {
      return 'Invalid Sec-WebSocket-Extensions header';
    }

    const names = Object.keys(extensions);

    if (names.length !== 1 || names[0] !== PerMessageDeflate.extensionName) {
      return 'Server indicated an extension that was not requested';
    }

    try {
      perMessageDeflate.accept(extensions[PerMessageDeflate.extensionName]);
    } catch {
      return 'Invalid Sec-WebSocket-Extensions header';
    }

    websocket._extensions = {
      [PerMessageDeflate.extensionName]: perMessageDeflate
    };
  }

  return undefined;
}

/**
 * Emit the `'error'` and `'close'` events.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @param {Error} err The error to emit
 * @private
 */
function emitErrorAndClose(websocket, err) {
  websocket._readyState = CLOSING;
  websocket._errorEmitted = true;
  websocket.emit('error', err);
  websocket.emitClose();
}

/**
 * Create a `net.Socket` and initiate a connection.
 *
 * @param {Object} options Connection options
 * @return {net.Socket} The newly created socket used to start the connection
 * @private
 */
function netConnect(options) {
  // `path` is the request path for http; for net it is the IPC socket path.
  options.path = options.socketPath;
  return net.connect(options);
}

/**
 * Create a `tls.TLSSocket` and initiate a connection.
 *
 * @param {Object} options Connection options
 * @return {tls.TLSSocket} The newly created socket used to start the connection
 * @private
 */
function tlsConnect(options) {
  options.path = undefined;

  // RFC 6066 §3: SNI carries host names only, never IP literals.
  if (!options.servername && options.servername !== '') {
    options.servername = net.isIP(options.host) ? '' : options.host;
  }

  return tls.connect(options);
}

/**
 * Abort the handshake and emit an error.
 *
 * @param {WebSocket} websocket The WebSocket instance
 * @param {(http.ClientRequest|net.Socket|tls.Socket|null)} stream The request
 *     to abort or the socket to destroy
 * @param {String} message The error message
 * @public
 */
function abortHandshake(websocket, stream, message) {
  websocket._readyState = CLOSING;

  const err = new Error(message);
  Error.captureStackTrace(err, abortHandshake);

  if (!stream) {
    // No request to abort (a server-side WebSocket closed before setSocket).
    process.nextTick(emitErrorAndClose, websocket, err);
  } else if (stream.setHeader) {
    stream[kAborted] = true;
    stream.abort();

    // Once the response has arrived, `abort()` leaves the socket open.
    if (stream.socket && !stream.socket.destroyed) {
      stream.socket.destroy();
    }

    process.nextTick(emitErrorAndClose, websocket, err);
  } else {
    stream.destroy(err);
    stream.once('error', websocket.emit.bind(websocket, 'error'));
    stream.once('close', websocket.emitClose.bind(websocket));
  }
}

module.exports = { abortHandshake, initAsClient };
