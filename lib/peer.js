'use strict';

const PerMessageDeflate = require('./permessage-deflate');
const WebSocket = require('./websocket');
const { CLOSE_TIMEOUT, EMPTY_BUFFER, kWebSocket } = require('./constants');

// permessage-deflate parameters that both ends must agree on (RFC 7692 §7.1),
// by option name and wire name.
const AGREED_FLAGS = [
  ['serverNoContextTakeover', 'server_no_context_takeover'],
  ['clientNoContextTakeover', 'client_no_context_takeover']
];
const AGREED_WINDOW_BITS = [
  ['serverMaxWindowBits', 'server_max_window_bits'],
  ['clientMaxWindowBits', 'client_max_window_bits']
];

/**
 * Builds the permessage-deflate extension from parameters agreed out of band,
 * as if they had been negotiated (RFC 7692 §5, §7.1).
 *
 * @param {(Boolean|Object)} config `true` for the defaults, or the parameters
 * @param {Boolean} isServer The local role
 * @param {Number} maxPayload The inflated message limit
 * @return {PerMessageDeflate} The accepted extension
 * @private
 */
function agreedDeflate(config, isServer, maxPayload) {
  const options = config === true ? {} : config;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      'The "perMessageDeflate" option must be a boolean or an object'
    );
  }

  // The response form PerMessageDeflate#accept() takes: each parameter maps
  // to its list of values.
  const params = {};
  for (const [name, wireName] of AGREED_FLAGS) {
    if (options[name]) params[wireName] = [true];
  }
  for (const [name, wireName] of AGREED_WINDOW_BITS) {
    const bits = options[name];
    if (bits === undefined || bits === false) continue;
    if (!Number.isInteger(bits) || bits < 8 || bits > 15) {
      throw new RangeError(
        `The "perMessageDeflate.${name}" option must be an integer ` +
          'between 8 and 15'
      );
    }
    params[wireName] = [String(bits)];
  }

  // Only the local tuning reaches the constructor: with no negotiation
  // preferences, accept() takes the agreed parameters as they are.
  const perMessageDeflate = new PerMessageDeflate({
    concurrencyLimit: options.concurrencyLimit,
    isServer,
    maxPayload,
    threshold: options.threshold,
    zlibDeflateOptions: options.zlibDeflateOptions,
    zlibInflateOptions: options.zlibInflateOptions
  });
  perMessageDeflate.accept([params]);
  return perMessageDeflate;
}

/**
 * Opens a WebSocket directly over an already-connected stream, with no HTTP
 * opening handshake: both ends call `wrap()` on their side of the connection
 * (a `net.Socket`, a `tls.TLSSocket` or any `Duplex`, such as one end of an
 * in-memory pair), one with `isServer: true` and the other with
 * `isServer: false`. The returned WebSocket is already `OPEN` (its `'open'`
 * event was emitted before `wrap()` returned) and behaves like one from a
 * handshake: `send()`, `ping()`, `close()`, events, `createWebSocketStream()`.
 *
 * Whatever the HTTP handshake would have agreed on, the two ends must agree on
 * beforehand and pass the same values: the roles, the subprotocol and the
 * permessage-deflate parameters. Mismatched roles fail on the first frame
 * with a protocol error (close code 1002), since a server requires masked
 * frames and a client unmasked ones (RFC 6455 §5.1).
 *
 * @example
 * // Side A (accepted a TCP connection):
 * const ws = WebSocket.wrap(socket, { isServer: true });
 * // Side B (connected to A):
 * const ws = WebSocket.wrap(net.connect(port, host), { isServer: false });
 *
 * @param {Duplex} stream The connected stream. It must not be used for
 *     anything else afterwards
 * @param {Object} [options] Options
 * @param {Boolean} [options.isServer=false] `true`: the server role (sends
 *     unmasked frames, requires masked frames); `false`: the client role
 *     (masks every frame it sends)
 * @param {String} [options.protocol=''] The subprotocol agreed on, reported
 *     by `websocket.protocol`
 * @param {Buffer} [options.head] Bytes already read from the stream that
 *     belong to the WebSocket connection; they are parsed first
 * @param {(Boolean|Object)} [options.perMessageDeflate=false] `true` or an
 *     object to use permessage-deflate. Both ends must give the same
 *     `serverNoContextTakeover`, `clientNoContextTakeover`,
 *     `serverMaxWindowBits` and `clientMaxWindowBits` (integers 8..15; absent
 *     means 15); `threshold`, `concurrencyLimit`, `zlibDeflateOptions` and
 *     `zlibInflateOptions` are local tuning, as for the server
 * @param {Boolean} [options.allowSynchronousEvents=true] Specifies whether
 *     any of the `'message'`, `'ping'`, and `'pong'` events can be emitted
 *     multiple times in the same tick
 * @param {Boolean} [options.autoPong=true] Specifies whether or not to
 *     automatically send a pong in response to a ping
 * @param {Number} [options.closeTimeout=30000] Duration in milliseconds to
 *     wait for the closing handshake to finish after `websocket.close()`
 * @param {Function} [options.generateMask] The client role's function to
 *     fill each 4-byte masking key (default: CSPRNG)
 * @param {Number} [options.maxBufferedChunks=1048576] The maximum number of
 *     buffered data chunks per message (0: no limit)
 * @param {Number} [options.maxFragments=131072] The maximum number of
 *     fragments per message (0: no limit)
 * @param {Number} [options.maxPayload=104857600] The maximum allowed message
 *     size in bytes (0: no limit)
 * @param {Boolean} [options.skipUTF8Validation=false] Specifies whether or
 *     not to skip UTF-8 validation for text and close messages
 * @param {Function} [options.WebSocket=WebSocket] The `WebSocket` class (or a
 *     subclass) to instantiate
 * @return {WebSocket} The open WebSocket
 * @throws {TypeError} If `stream` is not a duplex stream or an option has the
 *     wrong type
 * @throws {RangeError} If a window size is out of range
 * @throws {Error} If the stream is destroyed or already used by a WebSocket
 * @public
 */
function wrap(stream, options) {
  if (
    stream === null ||
    typeof stream !== 'object' ||
    typeof stream.on !== 'function' ||
    typeof stream.write !== 'function' ||
    typeof stream.end !== 'function' ||
    typeof stream.destroy !== 'function'
  ) {
    throw new TypeError('The "stream" argument must be a Duplex stream');
  }
  if (stream.destroyed) throw new Error('The stream is destroyed');
  if (stream[kWebSocket]) {
    throw new Error('The stream is already used by a WebSocket');
  }

  const opts = {
    allowSynchronousEvents: true,
    autoPong: true,
    closeTimeout: CLOSE_TIMEOUT,
    generateMask: undefined,
    head: EMPTY_BUFFER,
    isServer: false,
    maxBufferedChunks: 1024 * 1024,
    maxFragments: 128 * 1024,
    maxPayload: 100 * 1024 * 1024,
    perMessageDeflate: false,
    protocol: '',
    skipUTF8Validation: false,
    WebSocket,
    ...options
  };

  if (typeof opts.protocol !== 'string') {
    throw new TypeError('The "protocol" option must be a string');
  }
  if (!Buffer.isBuffer(opts.head)) {
    throw new TypeError('The "head" option must be a Buffer');
  }
  if (
    opts.generateMask !== undefined &&
    typeof opts.generateMask !== 'function'
  ) {
    throw new TypeError('The "generateMask" option must be a function');
  }

  const isServer = !!opts.isServer;
  const extensions = {};
  if (opts.perMessageDeflate) {
    extensions[PerMessageDeflate.extensionName] = agreedDeflate(
      opts.perMessageDeflate,
      isServer,
      opts.maxPayload
    );
  }

  // A WebSocket built with a null address waits for setSocket(), as on the
  // server side; the role, subprotocol and extensions are read from it then.
  const ws = new opts.WebSocket(null, undefined, opts);
  ws._isServer = isServer;
  ws._protocol = opts.protocol;
  if (opts.perMessageDeflate) ws._extensions = extensions;

  ws.setSocket(stream, opts.head, {
    allowSynchronousEvents: opts.allowSynchronousEvents,
    generateMask: isServer ? undefined : opts.generateMask,
    maxBufferedChunks: opts.maxBufferedChunks,
    maxFragments: opts.maxFragments,
    maxPayload: opts.maxPayload,
    skipUTF8Validation: opts.skipUTF8Validation
  });
  return ws;
}

module.exports = { wrap };
