'use strict';

const { getDefaultHighWaterMark } = require('stream');

// Values and module-private symbols shared across lib/. The symbols are the same *kind* ws uses
// (user code never sees them), so error objects and listeners behave as ws's do.

const BINARY_TYPES = ['nodebuffer', 'arraybuffer', 'fragments'];
const hasBlob = typeof Blob !== 'undefined';
if (hasBlob) BINARY_TYPES.push('blob');

module.exports = {
  BINARY_TYPES,
  CLOSE_TIMEOUT: 30000,
  // A byte stream's default high-water mark (16 KiB on Node 20), read once:
  // net.Socket's and ws's Writable Receiver's, so NativeSocket and
  // FrameReader push back where they would.
  DEFAULT_HIGH_WATER_MARK: getDefaultHighWaterMark(false),
  EMPTY_BUFFER: Buffer.alloc(0),
  // RFC 6455 §1.3: appended to Sec-WebSocket-Key before hashing.
  GUID: '258EAFA5-E914-47DA-95CA-C5AB0DC85B11',
  hasBlob,
  kForOnEventAttribute: Symbol('kIsForOnEventAttribute'),
  kListener: Symbol('kListener'),
  kStatusCode: Symbol('status-code'),
  kWebSocket: Symbol('websocket'),
  // The negotiated extensions of a connection that has none, shared (an
  // empty object per connection is 56 bytes); frozen, so a write into it
  // fails loudly instead of leaking into every other connection.
  NO_EXTENSIONS: Object.freeze({}),
  NOOP: () => {}
};
