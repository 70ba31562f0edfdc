// A WebSocket peer made of a bare TCP socket: it performs the opening handshake by hand and then
// sends and reads frame bytes, so conformance tests see exactly what an implementation puts on the
// wire. Depends only on Node core and ./wire.js.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

import { closePayload, encodeFrame, FrameDecoder, OP } from './wire.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DEFAULT_WAIT_MS = 2000;

/** Every raw socket opened by this module, so a test's afterEach can destroy leftovers. */
const openSockets = new Set();

/**
 * Destroys every raw socket still open (call from afterEach).
 */
export function destroyRawSockets() {
  for (const socket of openSockets) socket.destroy();
  openSockets.clear();
}

/**
 * The Sec-WebSocket-Accept value for a key (RFC 6455 §4.2.2).
 *
 * @param {string} key
 * @return {string}
 */
export function acceptFor(key) {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/**
 * Splits an HTTP head ("start line\r\nName: value\r\n...") into its start line and a map of
 * lower-cased header names to values (repeated headers joined with ', ').
 *
 * @param {string} head
 * @return {{ startLine: string, headers: Object<string, string>, rawHeaders: string[][] }}
 */
export function parseHead(head) {
  const lines = head.split('\r\n');
  const headers = Object.create(null);
  const rawHeaders = [];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { startLine: lines[0], headers, rawHeaders };
}

/**
 * Resolves with `promise`, or rejects after `ms` with a message naming what was awaited.
 *
 * @param {Promise} promise
 * @param {number} ms
 * @param {string} what
 * @return {Promise}
 */
export function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
      ms
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One end of an established WebSocket connection driven byte by byte. `role` says which end it
 * plays: a 'client' masks what it sends by default (RFC 6455 §5.3), a 'server' does not.
 */
export class RawConnection {
  /**
   * @param {net.Socket} socket
   * @param {'client'|'server'} role
   * @param {Buffer} [leftover] Bytes read past the handshake
   */
  constructor(socket, role, leftover) {
    this.socket = socket;
    this.role = role;
    this.decoder = new FrameDecoder();
    this.frames = [];
    this.waiters = [];
    this.peerEnded = false;
    this.peerEndedFirst = null;
    this.localEnded = false;
    this.isClosed = false;
    this.bytesReceived = 0;
    this.decodeError = null;

    this.closed = new Promise((resolve) => {
      socket.on('close', (hadError) => {
        this.isClosed = true;
        openSockets.delete(socket);
        this.wake();
        resolve({ hadError });
      });
    });
    socket.on('error', (error) => {
      this.socketError = error;
    });
    socket.on('end', () => {
      this.peerEnded = true;
      if (this.peerEndedFirst === null) this.peerEndedFirst = !this.localEnded;
      this.wake();
      // Answer the peer's FIN so its socket can finish closing; tests read peerEndedFirst.
      this.end();
    });
    socket.on('data', (chunk) => this.receive(chunk));
    if (leftover && leftover.length) this.receive(leftover);
  }

  receive(chunk) {
    this.bytesReceived += chunk.length;
    try {
      this.frames.push(...this.decoder.push(chunk));
    } catch (error) {
      this.decodeError = error;
    }
    this.wake();
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Writes raw bytes. */
  send(bytes) {
    if (!this.socket.destroyed && !this.localEnded) this.socket.write(bytes);
  }

  /**
   * Writes one frame; masked by default when playing the client (see encodeFrame()).
   *
   * @param {Object} options encodeFrame() options
   */
  sendFrame(options) {
    this.send(this.encode(options));
  }

  /** The bytes of a frame as this end would send it. */
  encode(options) {
    return encodeFrame({ mask: this.role === 'client', ...options });
  }

  sendText(text, options = {}) {
    this.sendFrame({ opcode: OP.TEXT, payload: text, ...options });
  }

  sendBinary(data, options = {}) {
    this.sendFrame({ opcode: OP.BINARY, payload: data, ...options });
  }

  sendClose(code, reason, options = {}) {
    const payload = code === undefined ? undefined : closePayload(code, reason);
    this.sendFrame({ opcode: OP.CLOSE, payload, ...options });
  }

  /** Half-closes the TCP connection (FIN). */
  end() {
    if (this.localEnded) return;
    this.localEnded = true;
    if (this.peerEndedFirst === null && !this.peerEnded) {
      this.peerEndedFirst = false;
    }
    this.socket.end();
  }

  /** Resets the TCP connection. */
  destroy() {
    this.socket.destroy();
  }

  /** Aborts with RST, as a crashed peer would. */
  reset() {
    if (typeof this.socket.resetAndDestroy === 'function') {
      this.socket.resetAndDestroy();
    } else {
      this.socket.destroy();
    }
  }

  /**
   * The next frame the peer sent, or null when the connection ended before one arrived.
   *
   * @param {number} [ms]
   * @return {Promise<(Object|null)>}
   */
  async nextFrame(ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.decodeError) throw this.decodeError;
      if (this.frames.length) return this.frames.shift();
      if (this.peerEnded || this.isClosed) return null;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${ms} ms waiting for a frame`);
      }
      await within(
        new Promise((resolve) => this.waiters.push(resolve)),
        left,
        'a frame'
      );
    }
  }

  /**
   * Reads frames until a close frame; returns it with the frames before it.
   *
   * @param {number} [ms]
   * @return {Promise<{ close: (Object|null), before: Object[] }>}
   */
  async readUntilClose(ms = DEFAULT_WAIT_MS) {
    const before = [];
    for (;;) {
      const frame = await this.nextFrame(ms);
      if (frame === null || frame.opcode === OP.CLOSE) {
        return { close: frame, before };
      }
      before.push(frame);
    }
  }

  /**
   * Resolves when the peer has sent FIN (or the socket closed).
   *
   * @param {number} [ms]
   */
  async waitForEnd(ms = DEFAULT_WAIT_MS) {
    while (!this.peerEnded && !this.isClosed) {
      await within(
        new Promise((resolve) => this.waiters.push(resolve)),
        ms,
        'the peer to close TCP'
      );
    }
  }

  /**
   * Resolves when the TCP socket is fully closed.
   *
   * @param {number} [ms]
   */
  waitForClose(ms = DEFAULT_WAIT_MS) {
    return within(this.closed, ms, 'the TCP connection to close');
  }

  /**
   * Frames that arrive within `ms` (for asserting that nothing more is sent).
   *
   * @param {number} ms
   * @return {Promise<Object[]>}
   */
  async framesWithin(ms) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const frames = this.frames;
    this.frames = [];
    return frames;
  }
}

/**
 * Opens a TCP connection and resolves once it is connected.
 *
 * @param {number} port
 * @param {string} [host]
 * @return {Promise<net.Socket>}
 */
export function openSocket(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, allowHalfOpen: true });
    openSockets.add(socket);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Reads an HTTP head (up to the blank line) from a socket.
 *
 * @param {net.Socket} socket
 * @param {number} [ms]
 * @return {Promise<{ head: string, leftover: Buffer, ended: boolean }>} `head` is null when the
 *     socket ended first (`received` holds what came)
 */
export function readHead(socket, ms = DEFAULT_WAIT_MS) {
  return within(
    new Promise((resolve) => {
      let buffered = Buffer.alloc(0);
      const finish = (result) => {
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.removeListener('close', onEnd);
        resolve(result);
      };
      const onData = (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.pause();
        finish({
          head: buffered.subarray(0, end).toString('latin1'),
          leftover: buffered.subarray(end + 4),
          ended: false
        });
      };
      const onEnd = () =>
        finish({ head: null, leftover: buffered, ended: true });
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
    }),
    ms,
    'an HTTP head'
  );
}

/**
 * Sends arbitrary request bytes and reads the HTTP response head and whatever body follows until
 * the server closes (or `ms` passes). For handshake-rejection tests.
 *
 * @param {number} port
 * @param {(string|Buffer)} request
 * @param {Object} [options]
 * @param {number} [options.ms=2000] How long to wait for the server to close
 * @param {boolean} [options.waitForClose=true] false: return as soon as a whole response (head,
 *     plus Content-Length bytes of body; a 101 has none) is in, for answers that keep the
 *     connection open
 * @return {Promise<{ statusCode: number, headers: Object, body: string, closed: boolean }>}
 */
export async function rawRequest(
  port,
  request,
  { ms = DEFAULT_WAIT_MS, waitForClose = true } = {}
) {
  const socket = await openSocket(port);
  const chunks = [];
  let complete;
  const whole = new Promise((resolve) => {
    complete = resolve;
  });
  const closed = new Promise((resolve) => {
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (!waitForClose && responseComplete(Buffer.concat(chunks)))
        complete(false);
    });
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(true));
  });
  socket.write(request);
  let didClose;
  try {
    didClose = await within(
      Promise.race([closed, whole]),
      ms,
      'the server to answer and close'
    );
  } catch {
    didClose = false;
  }
  socket.destroy();
  const text = Buffer.concat(chunks).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) {
    return { statusCode: 0, headers: {}, body: text, closed: didClose };
  }
  const { startLine, headers } = parseHead(text.slice(0, end));
  return {
    statusCode: Number(startLine.split(' ')[1]),
    statusLine: startLine,
    headers,
    body: text.slice(end + 4),
    closed: didClose
  };
}

/** Whether `bytes` hold a whole HTTP response: a head and its Content-Length body. */
function responseComplete(bytes) {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const { startLine, headers } = parseHead(text.slice(0, end));
  if (startLine.split(' ')[1] === '101') return true;
  const length = Number(headers['content-length'] || 0);
  return Buffer.byteLength(text.slice(end + 4), 'latin1') >= length;
}

/**
 * Builds the text of an opening-handshake request (RFC 6455 §4.1).
 *
 * @param {Object} [options]
 * @param {string} [options.path='/']
 * @param {string} [options.key] Sec-WebSocket-Key (random when absent)
 * @param {Object<string, (string|null)>} [options.headers] Extra or replacement headers; a null
 *     value removes a default header
 * @param {string} [options.method='GET']
 * @return {{ text: string, key: string }}
 */
export function handshakeRequest({
  path = '/',
  key = randomBytes(16).toString('base64'),
  headers = {},
  method = 'GET'
} = {}) {
  const all = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...headers
  };
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value === null || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      text += `${name}: ${one}\r\n`;
    }
  }
  return { text: `${text}\r\n`, key };
}

/**
 * Connects, performs the opening handshake and returns the connection (role 'client').
 *
 * @param {number} port
 * @param {Object} [options] handshakeRequest() options
 * @return {Promise<RawConnection>} with `.response` ({ statusCode, headers })
 * @throws when the server does not answer 101 with a valid Sec-WebSocket-Accept
 */
export async function connectRaw(port, options = {}) {
  const socket = await openSocket(port);
  const { text, key } = handshakeRequest(options);
  const head = readHead(socket);
  socket.write(text);
  const { head: responseHead, leftover } = await head;
  if (responseHead === null) {
    socket.destroy();
    throw new Error('the server closed the connection during the handshake');
  }
  const { startLine, headers } = parseHead(responseHead);
  const statusCode = Number(startLine.split(' ')[1]);
  if (statusCode !== 101) {
    socket.destroy();
    const error = new Error(`handshake failed: ${startLine}`);
    error.statusCode = statusCode;
    throw error;
  }
  if (headers['sec-websocket-accept'] !== acceptFor(key)) {
    socket.destroy();
    throw new Error('wrong Sec-WebSocket-Accept');
  }
  const connection = new RawConnection(socket, 'client', leftover);
  connection.response = { statusCode, headers };
  socket.resume();
  return connection;
}
