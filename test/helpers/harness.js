// Shared plumbing for the suites that run against a real server or client of an implementation:
// starting servers on ephemeral ports, recording events, pairing an implementation with a raw
// peer in either role, and cleaning everything up after each test.

import http from 'node:http';

import { expect } from 'vitest';

import { duplexPair } from './duplex-pair.js';
import {
  connectRaw,
  destroyRawSockets,
  RawConnection,
  within
} from './raw-client.js';
import { closeRawServers, listenRaw } from './raw-server.js';

export { within };

const cleanups = [];

/**
 * Registers a function run by cleanup() (LIFO).
 *
 * @param {function(): *} fn
 */
export function track(fn) {
  cleanups.push(fn);
}

/**
 * Tears down everything the helpers opened during a test. Use as `afterEach(cleanup)`.
 */
export async function cleanup() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await within(Promise.resolve(fn()), 2000, 'a cleanup step');
    } catch {
      // A resource that is already gone is fine.
    }
  }
  destroyRawSockets();
  closeRawServers();
}

/**
 * @param {number} ms
 * @return {Promise<void>}
 */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The first emission of `event` on `emitter`, as the array of its arguments.
 *
 * @param {EventEmitter} emitter
 * @param {string} event
 * @param {number} [ms=3000]
 * @return {Promise<Array>}
 */
export function once(emitter, event, ms = 3000) {
  return within(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    ms,
    `the '${event}' event`
  );
}

/**
 * Records the events of a WebSocket in order, with an 'error' listener so errors do not throw.
 *
 * @param {EventEmitter} ws
 * @return {{ log: Array<Array>, names: function(): string[], wait: function(string, number=):
 *     Promise<Array>, of: function(string): Array<Array> }}
 */
export function recordEvents(ws) {
  const log = [];
  const waiters = [];
  // 'unexpected-response' and 'redirect' change ws's behaviour when listened to: not recorded.
  const names = [
    'open',
    'message',
    'ping',
    'pong',
    'error',
    'close',
    'upgrade'
  ];
  for (const name of names) {
    ws.on(name, (...args) => {
      log.push([name, ...args]);
      for (const waiter of waiters.slice()) waiter();
    });
  }
  const recorder = {
    log,
    /** The event names seen so far, in order. */
    names: () => log.map((entry) => entry[0]),
    /** The entries for one event name. */
    of: (name) => log.filter((entry) => entry[0] === name),
    /**
     * The first entry named `name` (already seen or still to come).
     *
     * @param {string} name
     * @param {number} [ms=3000]
     */
    wait(name, ms = 3000) {
      const find = () => log.find((entry) => entry[0] === name);
      const found = find();
      if (found) return Promise.resolve(found);
      return within(
        new Promise((resolve) => {
          const check = () => {
            const entry = find();
            if (entry) {
              waiters.splice(waiters.indexOf(check), 1);
              resolve(entry);
            }
          };
          waiters.push(check);
        }),
        ms,
        `the '${name}' event`
      );
    },
    /**
     * Waits until `count` entries named `name` have been seen.
     *
     * @param {string} name
     * @param {number} count
     * @param {number} [ms=3000]
     */
    waitCount(name, count, ms = 3000) {
      const enough = () => recorder.of(name).length >= count;
      if (enough()) return Promise.resolve(recorder.of(name));
      return within(
        new Promise((resolve) => {
          const check = () => {
            if (enough()) {
              waiters.splice(waiters.indexOf(check), 1);
              resolve(recorder.of(name));
            }
          };
          waiters.push(check);
        }),
        ms,
        `${count} '${name}' events`
      );
    }
  };
  return recorder;
}

/**
 * Starts a WebSocketServer of `impl` on an ephemeral port.
 *
 * @param {Object} impl An entry of implementations.js
 * @param {Object} [options] WebSocketServer options (port defaults to 0)
 * @return {Promise<{ wss: Object, port: number, url: string, connection: function(number=):
 *     Promise<Object> }>} connection() resolves with the next server-side WebSocket
 */
export async function startServer(impl, options = {}) {
  const { WebSocketServer } = impl;
  const queue = [];
  const waiting = [];
  const wss = await new Promise((resolve, reject) => {
    const server = new WebSocketServer(
      { port: 0, host: '127.0.0.1', ...options },
      () => resolve(server)
    );
    server.once('error', reject);
  });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    const next = waiting.shift();
    if (next) next(ws);
    else queue.push(ws);
    ws.upgradeReq = req;
  });
  track(
    () =>
      new Promise((resolve) => {
        for (const ws of wss.clients || []) ws.terminate();
        wss.close(() => resolve());
      })
  );
  const { port } = wss.address();
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    connection(ms = 3000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return within(
        new Promise((resolve) => waiting.push(resolve)),
        ms,
        "the server's 'connection' event"
      );
    }
  };
}

/**
 * Starts a plain http.Server on an ephemeral port (for `server` and `noServer` modes).
 *
 * @param {http.RequestListener} [listener]
 * @return {Promise<{ server: http.Server, port: number }>}
 */
export async function startHttpServer(listener) {
  const server = http.createServer(listener);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  track(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return { server, port: server.address().port };
}

/**
 * Creates a client of `impl` and waits for 'open' (or rejects with its 'error').
 *
 * @param {Object} impl
 * @param {string} url
 * @param {Object} [options]
 * @param {(string|string[])} [protocols]
 * @return {Promise<Object>} the open WebSocket, with `.events` (a recordEvents() recorder)
 */
export async function connectClient(impl, url, options = {}, protocols) {
  const ws =
    protocols === undefined
      ? new impl.WebSocket(url, options)
      : new impl.WebSocket(url, protocols, options);
  track(() => ws.terminate());
  const events = recordEvents(ws);
  ws.events = events;
  await within(
    new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    3000,
    "the client's 'open' event"
  );
  return ws;
}

/**
 * A server of `impl` and a connected client of `clientImpl` (the same by default).
 *
 * @param {Object} impl
 * @param {Object} [options]
 * @param {Object} [options.serverOptions]
 * @param {Object} [options.clientOptions]
 * @param {Object} [options.clientImpl]
 * @return {Promise<{ server: Object, client: Object, serverWs: Object }>} both WebSockets carry
 *     `.events`
 */
export async function openPair(impl, options = {}) {
  const server = await startServer(impl, options.serverOptions);
  const accepted = server.connection();
  const client = await connectClient(
    options.clientImpl || impl,
    options.path ? server.url + options.path : server.url,
    options.clientOptions,
    options.protocols
  );
  const serverWs = await accepted;
  serverWs.events = recordEvents(serverWs);
  return { server, client, serverWs };
}

/**
 * An implementation's WebSocket in `role`, connected to a raw peer that plays the other role.
 *
 * - role 'server': a WebSocketServer of `impl`; the peer is a raw client (masks by default).
 * - role 'client': a WebSocket client of `impl`; the peer is a raw server (does not mask).
 *
 * @param {Object} impl
 * @param {'server'|'client'} role
 * @param {Object} [options]
 * @param {Object} [options.serverOptions] WebSocketServer options (role 'server')
 * @param {Object} [options.clientOptions] WebSocket options (role 'client'); perMessageDeflate
 *     defaults to false unless `extensions` is given
 * @param {string} [options.offer] Sec-WebSocket-Extensions the raw client offers (role 'server')
 * @param {string} [options.extensions] Sec-WebSocket-Extensions the raw server answers with
 *     (role 'client')
 * @param {Object} [options.headers] Extra request headers of the raw client
 * @return {Promise<{ ws: Object, peer: RawConnection, events: Object, role: string }>}
 */
export async function openPeer(impl, role, options = {}) {
  if (role === 'server') {
    const server = await startServer(impl, options.serverOptions);
    const accepted = server.connection();
    const headers = { ...options.headers };
    if (options.offer !== undefined) {
      headers['Sec-WebSocket-Extensions'] = options.offer;
    }
    const peer = await connectRaw(server.port, { headers });
    const ws = await accepted;
    const events = recordEvents(ws);
    return { ws, peer, events, role, server };
  }

  const rawServer = await listenRaw({
    respond: () =>
      options.extensions === undefined
        ? {}
        : { 'Sec-WebSocket-Extensions': options.extensions }
  });
  const clientOptions = {
    perMessageDeflate: options.extensions !== undefined,
    ...options.clientOptions
  };
  const ws = new impl.WebSocket(rawServer.url, clientOptions);
  track(() => ws.terminate());
  const events = recordEvents(ws);
  const peer = await rawServer.accept();
  await events.wait('open');
  return { ws, peer, events, role, rawServer };
}

/** Both roles, for suites that run every rule as server and as client. */
export const ROLES = ['server', 'client'];

/**
 * The close code a raw peer read from the implementation's close frame, failing clearly when no
 * close frame came.
 *
 * @param {RawConnection} peer
 * @param {number} [ms]
 * @return {Promise<Object>} the close frame
 */
export async function expectCloseFrame(peer, ms) {
  const { close } = await peer.readUntilClose(ms);
  if (close === null) {
    throw new Error('the connection ended without a close frame');
  }
  return close;
}

/**
 * An implementation's WebSocket attached (through the peer API, `setSocket`) to one end of an
 * in-memory duplex pair; the other end is a RawConnection playing the other role. Every write
 * of the raw end reaches the WebSocket as its own chunk, so split tests are exact.
 *
 * @param {Object} impl
 * @param {'server'|'client'} role The role of the implementation's WebSocket
 * @param {Object} [options]
 * @param {Object} [options.wsOptions] constructor options (autoPong, closeTimeout)
 * @param {Object} [options.socketOptions] setSocket options (maxPayload, ...)
 * @param {Object} [options.perMessageDeflate] When given, permessage-deflate is in use with
 *     these PerMessageDeflate options and no negotiated parameters (as after an offer and answer
 *     of plain "permessage-deflate")
 * @return {{ ws: Object, peer: RawConnection, events: Object, stream: Duplex }}
 */
export function attachPeer(impl, role, options = {}) {
  const [local, remote] = duplexPair();
  const ws = new impl.WebSocket(null, undefined, {
    autoPong: true,
    closeTimeout: 1000,
    ...options.wsOptions
  });
  if (role === 'client') ws._isServer = false;
  if (options.perMessageDeflate) {
    const perMessageDeflate = new impl.lib.PerMessageDeflate({
      ...options.perMessageDeflate,
      isServer: role === 'server',
      maxPayload:
        (options.socketOptions && options.socketOptions.maxPayload) || 0
    });
    perMessageDeflate.accept([{}]);
    ws._extensions = { 'permessage-deflate': perMessageDeflate };
  }
  const events = recordEvents(ws);
  ws.setSocket(local, Buffer.alloc(0), {
    allowSynchronousEvents: true,
    maxBufferedChunks: 0,
    maxFragments: 0,
    maxPayload: 0,
    skipUTF8Validation: false,
    ...options.socketOptions
  });
  const peer = new RawConnection(
    remote,
    role === 'server' ? 'client' : 'server'
  );
  track(() => {
    local.destroy();
    remote.destroy();
  });
  return { ws, peer, events, stream: remote };
}

/**
 * Asserts that the implementation failed the connection (RFC 6455 §7.1.7): a close frame with
 * `code` on the wire, then TCP closed by the implementation, an 'error' event carrying
 * `errorCode` (and `message` when given), no 'message' event, and 'close' with 1006 (no close
 * frame was received back).
 *
 * @param {{ peer: RawConnection, events: Object }} ctx from openPeer() or attachPeer()
 * @param {Object} expected
 * @param {number} expected.code The close code on the wire
 * @param {string} [expected.errorCode] The error's `.code` (WS_ERR_*)
 * @param {string} [expected.message] The error's message
 * @param {Function} [expected.errorType] RangeError or Error
 * @param {boolean} [expected.allowMessages=false] Messages before the fault are expected
 * @return {Promise<Object>} the close frame
 */
export async function expectFailure(ctx, expected) {
  const { peer, events } = ctx;
  const close = await expectCloseFrame(peer);
  const actual = { code: close.code, reasonLength: close.reason.length };
  const [, error] = await events.wait('error');
  const [, closeCode] = await events.wait('close');
  if (expected.errorCode !== undefined) actual.errorCode = error.code;
  if (expected.message !== undefined) actual.message = error.message;
  if (expected.errorType !== undefined) {
    actual.errorType = error instanceof expected.errorType;
  }
  actual.closeEvent = closeCode;
  actual.peerEndedFirst = peer.peerEndedFirst;
  if (!expected.allowMessages) actual.messages = events.of('message').length;

  const wanted = { code: expected.code, reasonLength: 0 };
  if (expected.errorCode !== undefined) wanted.errorCode = expected.errorCode;
  if (expected.message !== undefined) wanted.message = expected.message;
  if (expected.errorType !== undefined) wanted.errorType = true;
  wanted.closeEvent = 1006;
  wanted.peerEndedFirst = true;
  if (!expected.allowMessages) wanted.messages = 0;
  expect(actual).toEqual(wanted);
  return close;
}
