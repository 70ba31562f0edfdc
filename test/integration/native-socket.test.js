// Native socket I/O (lib/native-socket.js): after the upgrade a plain TCP or Unix-domain net.Socket
// is swapped for a NativeSocket over a dup of its descriptor, polled by the addon. These tests
// check what a user can observe: which sockets are taken over (and which are not), that addresses,
// server connection counts and server.close() behave as with a net.Socket, that bytes pipelined
// behind the handshake, large messages and a stalled peer's backlog all arrive intact and in
// order, that resets, destroy(), timeouts and a throwing handler end as they do on the stream
// path, and that a worker thread with native connections open ends cleanly. Every expectation
// that depends on adoption reads WSN_NATIVE_IO at the time of the connection, so the file passes
// with native I/O on and with WSN_NATIVE_IO=0.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { getDefaultHighWaterMark } from 'node:stream';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { selfSignedCertificate } from '../helpers/certificate.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import {
  cleanup,
  connectClient,
  once,
  openPair,
  sleep,
  startHttpServer,
  startServer,
  track
} from '../helpers/harness.js';
import { native, reference, setNativeIo } from '../helpers/implementations.js';
import { UNLIMITED_SERVER_PARSER } from '../helpers/parser-options.js';
import {
  acceptFor,
  connectRaw,
  handshakeRequest,
  openSocket,
  parseHead,
  RawConnection,
  readHead
} from '../helpers/raw-client.js';
import { encodeFrame, OP } from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../index.js');
const { NativeSocket, available } = require('../../lib/native-socket.js');

const KIB = 1024;
const MIB = 1024 * KIB;
// net.Socket's default writableHighWaterMark (16 KiB on Node 20), which NativeSocket#write() also
// uses.
const HIGH_WATER_MARK = getDefaultHighWaterMark(false);

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsn-native-socket-'));
let socketCounter = 0;
let credentials;

afterEach(cleanup);

afterAll(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

/**
 * Whether a connection made now is taken over: the addon has native sockets and WSN_NATIVE_IO
 * (read per connection) does not turn them off.
 *
 * @return {boolean}
 */
function nativeExpected() {
  return available && process.env.WSN_NATIVE_IO !== '0';
}

/**
 * Asserts that `socket` is a NativeSocket when `native` is true, else exactly a net.Socket.
 *
 * @param {Object} socket A WebSocket's `_socket`
 * @param {boolean} native
 */
function expectTcpSocket(socket, native) {
  if (native) {
    expect(socket).toBeInstanceOf(NativeSocket);
  } else {
    expect(socket).not.toBeInstanceOf(NativeSocket);
    expect(socket.constructor).toBe(net.Socket);
  }
}

/**
 * Resolves once `predicate()` is true, polling every 5 ms.
 *
 * @param {function(): boolean} predicate
 * @param {number} ms
 * @param {string} what
 * @return {Promise<void>}
 */
async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await sleep(5);
  }
}

/**
 * Sends `data` from `from` and resolves with the [data, isBinary] of the next message `to` gets.
 *
 * @param {Object} from
 * @param {Object} to
 * @param {*} data
 * @return {Promise<Array>}
 */
function roundTrip(from, to, data) {
  const received = once(to, 'message', 10000);
  from.send(data);
  return received;
}

/**
 * Sends `text` from `client` to `server`, then 'and back' from `server` to `client`, and
 * asserts that each arrives as sent.
 *
 * @param {Object} client
 * @param {Object} server
 * @param {string} text
 * @return {Promise<void>}
 */
async function expectTextBothWays(client, server, text) {
  const [data] = await roundTrip(client, server, text);
  expect(data.toString()).toBe(text);
  const [back] = await roundTrip(server, client, 'and back');
  expect(back.toString()).toBe('and back');
}

/**
 * Replaces the process's 'uncaughtException' listeners (vitest's among them) with one that
 * records, until restore() puts the old ones back.
 *
 * @return {{ caught: Error[], restore: function(): void }}
 */
function captureUncaught() {
  const saved = process.listeners('uncaughtException');
  const caught = [];
  const record = (error) => caught.push(error);
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', record);
  return {
    caught,
    restore() {
      process.removeListener('uncaughtException', record);
      for (const listener of saved) process.on('uncaughtException', listener);
    }
  };
}

/**
 * A WebSocketServer on an ephemeral port with no listener of its own on the WebSockets (the
 * harness's startServer() adds an 'error' listener to each).
 *
 * @return {Promise<{ wss: Object, port: number, connection: function(): Promise<Array> }>}
 */
async function bareServer() {
  const wss = new WebSocket.WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  track(
    () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      })
  );
  return {
    wss,
    port: wss.address().port,
    connection: () => once(wss, 'connection')
  };
}

/**
 * Sends 64 KiB binary messages numbered from `ledger.sent` until bufferedAmount stays above
 * `pendingBytes` across several polls: the peer's kernel takes nothing more.
 *
 * @param {Object} ws
 * @param {{ sent: number, calls: Array<Array> }} ledger each send() callback's calls, by number
 * @param {number} pendingBytes
 */
async function fillUntilStalled(ws, ledger, pendingBytes) {
  let stablePolls = 0;
  for (let round = 0; round < 400; round++) {
    while (ws.bufferedAmount < pendingBytes) {
      const n = ledger.sent++;
      const record = [];
      ledger.calls.push(record);
      ws.send(numberedChunk(n), (error) => record.push(error));
      if (ledger.sent > 1024) throw new Error('64 MiB sent without stalling');
    }
    const before = ws.bufferedAmount;
    await sleep(10);
    if (ws.bufferedAmount === before) {
      if (++stablePolls === 4) return;
    } else {
      stablePolls = 0;
    }
  }
  throw new Error('bufferedAmount never stopped draining');
}

const CHUNK_BYTES = 64 * KIB;

/**
 * Message `n` of a backlog: 64 KiB, its number in the first 4 bytes, then bytes that depend on
 * it, so a lost, duplicated or reordered message (or part of one) is seen.
 *
 * @param {number} n
 * @return {Buffer}
 */
function numberedChunk(n) {
  const chunk = Buffer.alloc(CHUNK_BYTES, n & 0xff);
  chunk.writeUInt32BE(n, 0);
  chunk.writeUInt32BE(n * 7919, CHUNK_BYTES - 4);
  return chunk;
}

/**
 * Attaches a ws-native WebSocketServer to a listening http(s).Server, closed with everything on it
 * after the test.
 *
 * @param {http.Server} server
 * @return {Promise<[WebSocket, http.IncomingMessage]>} The first 'connection'
 */
function acceptOn(server) {
  const wss = new WebSocket.WebSocketServer({ server });
  track(
    () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      })
  );
  return once(wss, 'connection');
}

/**
 * A ws-native server on an http.Server listening on a Unix-domain socket, and a connected
 * ws+unix: client (path '/unix').
 *
 * @return {Promise<{ client: WebSocket, serverWs: WebSocket, req: http.IncomingMessage }>}
 */
async function openUnixPair() {
  const ipc = path.join(tmpDir, `s${++socketCounter}.sock`);
  const server = http.createServer();
  await new Promise((resolve) => server.listen(ipc, resolve));
  const accepted = acceptOn(server);
  const client = await connectClient(native, `ws+unix:${ipc}:/unix`);
  const [serverWs, req] = await accepted;
  return { client, serverWs, req };
}

describe('which sockets native I/O takes over', () => {
  it('over TCP: the server-side and client-side sockets (a net.Socket with WSN_NATIVE_IO=0)', async () => {
    const { client, serverWs } = await openPair(native);
    expectTcpSocket(serverWs._socket, nativeExpected());
    expectTcpSocket(client._socket, nativeExpected());

    const [data, isBinary] = await roundTrip(client, serverWs, 'to server');
    expect([data.toString(), isBinary]).toEqual(['to server', false]);
    const [back] = await roundTrip(serverWs, client, Buffer.from([1, 2, 3]));
    expect([...back]).toEqual([1, 2, 3]);
  });

  it('over a Unix-domain socket: server.listen(path) and a ws+unix: client', async () => {
    const { client, serverWs, req } = await openUnixPair();
    expect(req.url).toBe('/unix');
    expectTcpSocket(serverWs._socket, nativeExpected());
    expectTcpSocket(client._socket, nativeExpected());

    await expectTextBothWays(client, serverWs, 'over unix');
  });

  it('not over TLS: both ends keep their tls.TLSSocket', async () => {
    if (!credentials) credentials = selfSignedCertificate('localhost');
    const server = https.createServer({
      key: credentials.key,
      cert: credentials.cert
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = acceptOn(server);

    const client = await connectClient(
      native,
      `wss://127.0.0.1:${server.address().port}`,
      { rejectUnauthorized: false }
    );
    const [serverWs] = await accepted;
    for (const socket of [serverWs._socket, client._socket]) {
      expect(socket).toBeInstanceOf(tls.TLSSocket);
      expect(socket).not.toBeInstanceOf(NativeSocket);
    }

    await expectTextBothWays(client, serverWs, 'over tls');
  });

  it('not over a plain Duplex: WebSocket.wrap() keeps the stream it was given', async () => {
    const [left, right] = duplexPair();
    track(() => {
      left.destroy();
      right.destroy();
    });
    const server = WebSocket.wrap(left, { isServer: true });
    const client = WebSocket.wrap(right, { isServer: false });
    expect(server._socket).toBe(left);
    expect(client._socket).toBe(right);

    await expectTextBothWays(client, server, 'wrapped');
  });

  it('not over a plain Duplex: handleUpgrade() keeps the stream it was given', async () => {
    const [local, remote] = duplexPair();
    track(() => {
      local.destroy();
      remote.destroy();
    });
    const wss = new WebSocket.WebSocketServer({ noServer: true });
    const { key } = handshakeRequest();
    const req = {
      method: 'GET',
      url: '/',
      headers: {
        host: 'localhost',
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': key,
        'sec-websocket-version': '13'
      }
    };
    const response = readHead(remote);
    let ws = null;
    wss.handleUpgrade(req, local, Buffer.alloc(0), (upgraded) => {
      ws = upgraded;
    });
    expect(ws).not.toBeNull();
    expect(ws._socket).toBe(local);

    const { head, leftover } = await response;
    const { startLine, headers } = parseHead(head);
    expect(startLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(headers['sec-websocket-accept']).toBe(acceptFor(key));

    const peer = new RawConnection(remote, 'client', leftover);
    remote.resume();
    const received = once(ws, 'message');
    peer.sendText('over a duplex');
    const [data] = await received;
    expect(data.toString()).toBe('over a duplex');
    ws.send('reply');
    const frame = await peer.nextFrame();
    expect([frame.opcode, frame.payload.toString()]).toEqual([
      OP.TEXT,
      'reply'
    ]);
  });

  it('not when WSN_NATIVE_IO is 0 (read per connection)', async () => {
    const restore = setNativeIo('0');
    let pair;
    try {
      pair = await openPair(native);
    } finally {
      restore();
    }
    const { client, serverWs } = pair;
    expectTcpSocket(serverWs._socket, false);
    expectTcpSocket(client._socket, false);

    await expectTextBothWays(client, serverWs, 'stream path');

    // The variable was restored: the next connection follows the outer setting again.
    const second = await connectClient(
      native,
      `ws://127.0.0.1:${pair.server.port}`
    );
    expectTcpSocket(second._socket, nativeExpected());
  });

  it('not when the descriptor cannot be duplicated (EMFILE): the connection stays on the stream path and works', async () => {
    const binding = require('../../lib/binding.js');
    const original = binding.NativeSocket;
    let attempts = 0;
    binding.NativeSocket = function failingDup() {
      attempts++;
      const err = new Error('ws-native: dup failed: Too many open files');
      err.code = 'EMFILE';
      throw err;
    };
    let pair;
    try {
      pair = await openPair(native);
    } finally {
      binding.NativeSocket = original;
    }
    const { client, serverWs } = pair;
    // Both ends tried (when native I/O is on) and both fell back.
    expect(attempts).toBe(nativeExpected() ? 2 : 0);
    expectTcpSocket(serverWs._socket, false);
    expectTcpSocket(client._socket, false);
    expect(pair.server.wss.clients.size).toBe(1);

    const [data] = await roundTrip(client, serverWs, 'after a failed dup');
    expect(data.toString()).toBe('after a failed dup');
    const closed = once(serverWs, 'close');
    client.close(1000, 'done');
    const [code, reason] = await closed;
    expect(code).toBe(1000);
    expect(reason.toString()).toBe('done');
  });
});

describe('the parser a NativeSocket holds', () => {
  it("a native connection's Receiver parses with its socket's handle, which frees the parser once the connection is closed", async () => {
    const { client, serverWs } = await openPair(native);
    const parser = serverWs._receiver._parser;
    if (nativeExpected()) {
      expect(parser).toBe(serverWs._socket._handle);
    } else {
      expect(parser.constructor.name).toBe('FrameParser');
    }
    await expectTextBothWays(client, serverWs, 'through the handle');

    client.close(1000);
    await once(serverWs, 'close');
    expect(serverWs._receiver._parser).toBe(null);
    expect(() => parser.execute(Buffer.alloc(2), 0)).toThrow(
      nativeExpected() ? /No parser/ : /The parser was released/
    );
  });

  it('createParser() returns the handle, which parses as a FrameParser does, also after close()', async () => {
    const binding = require('../../lib/binding.js');
    const server = net.createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    track(() => new Promise((resolve) => server.close(() => resolve())));
    const accepted = once(server, 'connection');
    const peer = net.connect(server.address().port, '127.0.0.1');
    track(() => peer.destroy());
    const [socket] = await accepted;

    const nativeSocket = new NativeSocket(socket);
    const handle = nativeSocket.createParser({
      ...UNLIMITED_SERVER_PARSER,
      maxPayload: 1000
    });
    expect(handle).toBe(nativeSocket._handle);
    expect(handle.maxPayload).toBe(1000);

    const ping = encodeFrame({
      opcode: OP.PING,
      payload: Buffer.from('abc'),
      mask: true,
      maskKey: [1, 2, 3, 4]
    });
    expect(handle.execute(ping, 0)).toBe(1);
    expect(Array.from(binding.parserEvents.subarray(0, 7))).toEqual([
      1,
      ping.length,
      0,
      0,
      OP.PING,
      ping.length - 3,
      3
    ]);

    nativeSocket.destroy();
    expect(handle.execute(ping, 0)).toBe(1);

    handle.releaseParser();
    expect(() => handle.execute(ping, 0)).toThrow(/No parser/);
    expect(() => handle.takeOwned()).toThrow(/No parser/);
    expect(() => handle.maxPayload).toThrow(/No parser/);
  });
});

describe('resetAndDestroy()', () => {
  it('over TCP: the peer reads ECONNRESET instead of an end of stream, and both WebSockets close with 1006', async () => {
    const { client, serverWs } = await openPair(native);
    const clientSocketEvents = [];
    client._socket.on('error', (err) => clientSocketEvents.push(err.code));
    client._socket.on('end', () => clientSocketEvents.push('end'));
    expect(serverWs._socket.resetAndDestroy()).toBe(serverWs._socket);
    expect(serverWs._socket.destroyed).toBe(true);
    const [, clientCode] = await client.events.wait('close');
    const [, serverCode] = await serverWs.events.wait('close');
    expect([clientCode, serverCode]).toEqual([1006, 1006]);
    expect(clientSocketEvents).toEqual(['ECONNRESET']);
    expect(client.events.of('error')).toEqual([]);
    // Once destroyed, it does nothing.
    expect(serverWs._socket.resetAndDestroy()).toBe(serverWs._socket);
  });

  it("a peer's RST: the server's socket reports read ECONNRESET (not libuv's EBADF for EPOLLERR)", async () => {
    const { client, serverWs } = await openPair(native, {
      clientImpl: reference
    });
    const serverSocketErrors = [];
    serverWs._socket.on('error', (err) =>
      serverSocketErrors.push([err.code, err.syscall])
    );
    client._socket.resetAndDestroy();
    const [, serverCode] = await serverWs.events.wait('close');
    expect(serverCode).toBe(1006);
    expect(serverSocketErrors).toEqual([['ECONNRESET', 'read']]);
    expect(serverWs.events.of('error')).toEqual([]);
  });

  it('over a Unix-domain socket: throws ERR_INVALID_HANDLE_TYPE, as net.Socket does', async () => {
    const { client, serverWs } = await openUnixPair();
    expect(() => serverWs._socket.resetAndDestroy()).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_HANDLE_TYPE' })
    );
    expect(serverWs._socket.destroyed).toBe(false);
    await expectTextBothWays(client, serverWs, 'still open');
  });
});

describe('addresses', () => {
  it("in 'connection', req.socket and ws._socket report the client's address and port", async () => {
    const server = await startServer(native);
    const seen = [];
    server.wss.on('connection', (ws, req) => {
      seen.push({
        reqRemoteAddress: req.socket.remoteAddress,
        reqRemotePort: req.socket.remotePort,
        reqLocalAddress: req.socket.localAddress,
        reqLocalPort: req.socket.localPort,
        reqAddress: req.socket.address(),
        remoteAddress: ws._socket.remoteAddress,
        remotePort: ws._socket.remotePort,
        remoteFamily: ws._socket.remoteFamily,
        localPort: ws._socket.localPort,
        address: ws._socket.address()
      });
    });

    const raw = await connectRaw(server.port);
    const client = await connectClient(native, server.url);
    await until(() => seen.length === 2, 3000, 'two connections');

    const ports = [raw.socket.localPort, client._socket.localPort];
    expect(seen).toEqual(
      ports.map((port) => ({
        reqRemoteAddress: '127.0.0.1',
        reqRemotePort: port,
        reqLocalAddress: '127.0.0.1',
        reqLocalPort: server.port,
        reqAddress: { address: '127.0.0.1', family: 'IPv4', port: server.port },
        remoteAddress: '127.0.0.1',
        remotePort: port,
        remoteFamily: 'IPv4',
        localPort: server.port,
        address: { address: '127.0.0.1', family: 'IPv4', port: server.port }
      }))
    );
    // The client's own socket, taken over or not, keeps both ends too.
    expect(client._socket.remoteAddress).toBe('127.0.0.1');
    expect(client._socket.remotePort).toBe(server.port);
  });
});

describe("the server's close() waits for native connections", () => {
  it('server.close(cb) and wss.close(cb) fire only once every WebSocket closed; getConnections() counts them', async () => {
    const { server, port } = await startHttpServer();
    const wss = new WebSocket.WebSocketServer({ server });
    const accepted = [];
    wss.on('connection', (ws) => accepted.push(ws));
    const url = `ws://127.0.0.1:${port}`;
    const first = await connectClient(native, url);
    const second = await connectClient(native, url);
    await until(() => accepted.length === 2, 3000, 'two connections');
    expectTcpSocket(accepted[0]._socket, nativeExpected());

    const count = () =>
      new Promise((resolve, reject) =>
        server.getConnections((error, n) =>
          error ? reject(error) : resolve(n)
        )
      );
    expect(await count()).toBe(2);

    let serverClosed = 0;
    let wssClosed = 0;
    server.close(() => serverClosed++);
    wss.close(() => wssClosed++);
    await sleep(150);
    expect([serverClosed, wssClosed]).toEqual([0, 0]);

    first.close(1000);
    await first.events.wait('close');
    await until(() => accepted[0].readyState === 3, 3000, 'the first to close');
    await sleep(50);
    expect(await count()).toBe(1);
    expect([serverClosed, wssClosed]).toEqual([0, 0]);

    second.close(1000);
    await until(
      () => serverClosed === 1 && wssClosed === 1,
      3000,
      'both close callbacks'
    );
    expect(await count()).toBe(0);
    await sleep(20);
    expect([serverClosed, wssClosed]).toEqual([1, 1]);
  });

  it('wss.close(cb) on its own port waits for an open WebSocket', async () => {
    const { wss, port } = await bareServer();
    const accepted = once(wss, 'connection');
    const client = await connectClient(native, `ws://127.0.0.1:${port}`);
    const [serverWs] = await accepted;
    expectTcpSocket(serverWs._socket, nativeExpected());

    let closed = 0;
    wss.close(() => closed++);
    await sleep(150);
    expect(closed).toBe(0);
    // Still working while the server waits.
    const [data] = await roundTrip(client, serverWs, 'still open');
    expect(data.toString()).toBe('still open');

    client.close(1000, 'done');
    await until(() => closed === 1, 3000, "wss.close()'s callback");
    const [, code, reason] = await client.events.wait('close');
    expect([code, reason.toString()]).toEqual([1000, 'done']);
  });
});

describe('bytes sent right behind the handshake', () => {
  it('frames written in the same write as the HTTP request are all delivered in order', async () => {
    const { server, port } = await startHttpServer();
    const wss = new WebSocket.WebSocketServer({ noServer: true });
    const received = [];
    let headBytes = -1;
    let closed = null;
    let serverWs = null;
    server.on('upgrade', (req, socket, head) => {
      headBytes = head.length;
      wss.handleUpgrade(req, socket, head, (ws) => {
        serverWs = ws;
        track(() => ws.terminate());
        ws.on('message', (data, isBinary) =>
          received.push(isBinary ? Buffer.from(data) : data.toString())
        );
        ws.on('close', (code, reason) => {
          closed = [code, reason.toString()];
        });
      });
    });

    // Small texts, a binary message larger than one 64 KiB read, more texts, then a close.
    const big = randomBytes(200 * KIB);
    const expected = [];
    const frames = [];
    for (let i = 0; i < 10; i++) expected.push(`early ${i}`);
    expected.push(big);
    for (let i = 10; i < 20; i++) expected.push(`late ${i}`);
    for (const message of expected) {
      frames.push(
        typeof message === 'string'
          ? encodeFrame({ opcode: OP.TEXT, payload: message, mask: true })
          : encodeFrame({ opcode: OP.BINARY, payload: message, mask: true })
      );
    }
    frames.push(
      encodeFrame({
        opcode: OP.CLOSE,
        payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]),
        mask: true
      })
    );

    const socket = await openSocket(port);
    const { text, key } = handshakeRequest();
    const response = readHead(socket);
    // One write: the request and every frame.
    socket.write(Buffer.concat([Buffer.from(text, 'latin1'), ...frames]));
    const { head, leftover } = await response;
    const { startLine, headers } = parseHead(head);
    expect(startLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(headers['sec-websocket-accept']).toBe(acceptFor(key));
    const peer = new RawConnection(socket, 'client', leftover);
    socket.resume();

    const { close, before } = await peer.readUntilClose(5000);
    expect(before).toEqual([]);
    expect([close.code, close.reason.toString()]).toEqual([1000, 'bye']);
    await until(() => closed !== null, 3000, "the server's 'close'");

    // Some frames came in the upgrade's `head`, the rest in the first reads.
    expect(headBytes).toBeGreaterThan(0);
    expectTcpSocket(serverWs._socket, nativeExpected());
    expect(received).toEqual(expected);
    expect(closed).toEqual([1000, 'bye']);
  });
});

describe('backpressure', () => {
  it('a peer that stops reading: write() returns false above the high-water mark (16 KiB on Node 20), then every byte and callback arrives in order and the socket drains', async () => {
    const server = await startServer(native);
    const accepted = server.connection();
    const raw = await connectRaw(server.port);
    raw.socket.pause();
    const ws = await accepted;
    const socket = ws._socket;
    expectTcpSocket(socket, nativeExpected());

    const writes = [];
    const write = socket.write;
    socket.write = function (...args) {
      const result = write.apply(this, args);
      writes.push({ result, length: this.writableLength });
      return result;
    };
    let drains = 0;
    socket.on('drain', () => drains++);

    const ledger = { sent: 0, calls: [] };
    await fillUntilStalled(ws, ledger, 2 * MIB);
    expect(ws.bufferedAmount).toBeGreaterThan(2 * MIB);
    expect(socket.writableLength).toBeGreaterThan(HIGH_WATER_MARK);
    // Whatever was written while more than the high-water mark waited got `false`, and some did.
    expect(writes.some((w) => w.result === false)).toBe(true);
    expect(
      writes.filter((w) => w.length >= HIGH_WATER_MARK && w.result !== false)
    ).toEqual([]);
    // What waits behind a full kernel buffer has not reported success.
    const pending = ledger.calls.filter((record) => record.length === 0);
    expect(pending.length).toBeGreaterThan(0);
    expect(ledger.calls.at(-1)).toEqual([]);

    raw.socket.resume();
    for (let n = 0; n < ledger.sent; n++) {
      const frame = await raw.nextFrame(5000);
      expect(frame.opcode).toBe(OP.BINARY);
      expect(frame.payload.readUInt32BE(0)).toBe(n);
      expect(frame.payload.equals(numberedChunk(n))).toBe(true);
    }
    await until(
      () => ledger.calls.every((record) => record.length > 0),
      5000,
      'every send() callback'
    );
    await sleep(20);
    expect(ledger.calls.every((record) => record.length === 1)).toBe(true);
    expect(ledger.calls.every((record) => record[0] == null)).toBe(true);
    expect(drains).toBeGreaterThanOrEqual(1);
    expect(socket.writableLength).toBe(0);
    expect(ws.bufferedAmount).toBe(0);

    // Drained: a small write is below the mark again, and the connection still carries data.
    writes.length = 0;
    ws.send('after the backlog');
    const frame = await raw.nextFrame();
    expect(frame.payload.toString()).toBe('after the backlog');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((w) => w.result === true)).toBe(true);
  });

  it('send() callbacks of a backlog run in the order of the sends', async () => {
    const server = await startServer(native);
    const accepted = server.connection();
    const raw = await connectRaw(server.port);
    raw.socket.pause();
    const ws = await accepted;

    const order = [];
    const ledger = { sent: 0, calls: [] };
    await fillUntilStalled(ws, ledger, MIB);
    const from = ledger.sent;
    for (let i = 0; i < 50; i++) {
      const n = from + i;
      ws.send(Buffer.alloc(1000 + i, n & 0xff), (error) =>
        order.push([n, error == null])
      );
    }
    ws.ping('p', false, (error) => order.push(['ping', error == null]));
    ws.send('last', (error) => order.push(['last', error == null]));
    expect(order).toEqual([]);

    raw.socket.resume();
    await until(() => order.length === 52, 5000, 'the callbacks');
    await sleep(20);
    const wanted = [];
    for (let i = 0; i < 50; i++) wanted.push([from + i, true]);
    wanted.push(['ping', true], ['last', true]);
    expect(order).toEqual(wanted);
  });
});

describe('large messages', () => {
  it('replies to 64 KiB messages that arrive back to back come back intact, in order, each send() callback once; a reply sent right before terminate() still reaches the peer', async () => {
    const { client, serverWs } = await openPair(native);
    const count = 40;
    const callbacks = [];
    serverWs.on('message', (data, isBinary) => {
      const index = data.readUInt32BE(0);
      if (index === count) {
        serverWs.send(data, { binary: isBinary });
        serverWs.terminate();
        return;
      }
      serverWs.send(data, { binary: isBinary }, (err) =>
        callbacks.push([index, err ?? null])
      );
    });
    const tagged = (index) => {
      const message = randomBytes(64 * KIB);
      message.writeUInt32BE(index, 0);
      return message;
    };
    const sent = Array.from({ length: count }, (_, i) => tagged(i));
    const received = [];
    const allBack = new Promise((resolve) => {
      client.on('message', (data) => {
        received.push(data);
        if (received.length === count) resolve();
      });
    });
    for (const message of sent) client.send(message);
    await allBack;
    expect(received.map((data, i) => data.equals(sent[i]))).toEqual(
      sent.map(() => true)
    );
    await sleep(20);
    expect(callbacks).toEqual(sent.map((_, i) => [i, null]));

    const last = tagged(count);
    const events = [];
    client.on('message', (data) => events.push(['message', data.equals(last)]));
    const closed = once(client, 'close');
    client.send(last);
    const [code] = await closed;
    events.push(['close', code]);
    expect(events).toEqual([
      ['message', true],
      ['close', 1006]
    ]);
  });

  it('while 16 KiB messages arrive back to back, the replies to one chunk reach the kernel before the next chunk is read', async () => {
    // Replies held back until the wake-up's last read stall a peer that
    // keeps many messages in flight on one connection (c8c1415 did this).
    const { client, serverWs } = await openPair(native);
    const count = 32;
    const bufferedAtChunk = [];
    serverWs._socket.prependListener('data', () =>
      bufferedAtChunk.push(serverWs.bufferedAmount)
    );
    serverWs.on('message', (data, isBinary) =>
      serverWs.send(data, { binary: isBinary })
    );
    let back = 0;
    const allBack = new Promise((resolve) => {
      client.on('message', () => {
        if (++back === count) resolve();
      });
    });
    for (let i = 0; i < count; i++) client.send(randomBytes(16 * KIB));
    await allBack;
    expect(bufferedAtChunk.length).toBeGreaterThan(1);
    expect(bufferedAtChunk).toEqual(bufferedAtChunk.map(() => 0));
  });

  it('16 MiB binary and text, and 64 KiB, 64 KiB + 1 and 1 MiB, cross both directions intact', async () => {
    const { client, serverWs } = await openPair(native);
    expectTcpSocket(serverWs._socket, nativeExpected());
    expectTcpSocket(client._socket, nativeExpected());

    const text = 'ascii, é, ☃, 𝄞 — '.repeat(Math.ceil((16 * MIB) / 24));
    const cases = [
      ['64 KiB', randomBytes(64 * KIB)],
      ['64 KiB + 1', randomBytes(64 * KIB + 1)],
      ['1 MiB', randomBytes(MIB)],
      ['16 MiB binary', randomBytes(16 * MIB)],
      ['16 MiB text', text]
    ];
    expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(16 * MIB);

    for (const [name, message] of cases) {
      for (const [from, to, direction] of [
        [client, serverWs, 'to server'],
        [serverWs, client, 'to client']
      ]) {
        const [data, isBinary] = await roundTrip(from, to, message);
        const outcome =
          typeof message === 'string'
            ? [isBinary, data.toString() === message]
            : [isBinary, Buffer.from(data).equals(message)];
        expect([name, direction, ...outcome]).toEqual([
          name,
          direction,
          typeof message !== 'string',
          true
        ]);
      }
    }
  });
});

/**
 * Whether a connection made now reads large frame payloads straight into its parser.
 *
 * @return {boolean}
 */
function directExpected() {
  return nativeExpected() && process.env.WSN_DIRECT_READS !== '0';
}

/**
 * Writes `frames` to a raw client socket in slices of `sliceBytes` with a pause after each, so
 * the server reads a large frame's payload in several wake-ups: the first with the header, the
 * others (on native I/O) straight into the parser.
 *
 * @param {net.Socket} socket
 * @param {Buffer} bytes
 * @param {number} sliceBytes
 * @return {Promise<void>}
 */
async function writeInSlices(socket, bytes, sliceBytes) {
  for (let at = 0; at < bytes.length; at += sliceBytes) {
    socket.write(bytes.subarray(at, at + sliceBytes));
    await sleep(2);
  }
}

/**
 * Opens a raw client to a ws-native server and records, on the server side, the messages, the
 * empty chunks the NativeSocket emits once a frame read straight into the parser is complete,
 * and the close.
 *
 * @param {Object} [serverOptions]
 * @return {Promise<Object>} { peer, serverWs, received, emptyChunks(), closed() }
 */
async function rawToServer(serverOptions = {}) {
  const { port, connection } = await startServer(native, serverOptions);
  const peer = await connectRaw(port);
  const serverWs = await connection();
  const received = [];
  let emptyChunks = 0;
  let closed = null;
  serverWs._socket.on('data', (chunk) => {
    if (chunk.length === 0) emptyChunks++;
  });
  serverWs.on('message', (data, isBinary) =>
    received.push(isBinary ? Buffer.from(data) : data.toString())
  );
  serverWs.on('close', (code) => {
    closed = code;
  });
  return {
    peer,
    serverWs,
    received,
    emptyChunks: () => emptyChunks,
    closed: () => closed
  };
}

describe('large frame payloads read straight into the parser', () => {
  it('a 1 MiB binary and a 300 KiB text frame sent in slices arrive intact, in order with small messages; bytesRead counts every byte', async () => {
    const { peer, serverWs, received, emptyChunks } = await rawToServer();
    expectTcpSocket(serverWs._socket, nativeExpected());

    // A first message of 20 KiB: the server's receiver links its parser on a chunk that large.
    const opener = randomBytes(20 * KIB);
    peer.socket.write(
      encodeFrame({ opcode: OP.BINARY, payload: opener, mask: true })
    );
    await until(() => received.length === 1, 5000, 'the first message');
    expect(received).toEqual([opener]);
    const openerBytes = nativeExpected() ? serverWs._socket.bytesRead : 0;
    received.length = 0;

    const big = randomBytes(MIB);
    const text = 'ascii, é, ☃, 𝄞 — '.repeat(Math.ceil((300 * KIB) / 24));
    const expected = ['first', big, 'between', text, 'last'];
    const frames = expected.map((message) =>
      typeof message === 'string'
        ? encodeFrame({ opcode: OP.TEXT, payload: message, mask: true })
        : encodeFrame({ opcode: OP.BINARY, payload: message, mask: true })
    );
    const wire = Buffer.concat(frames);
    // Each large frame's header and first 1000 payload bytes go first, and the server has read
    // them before the rest follows in 40 000-byte slices (cutting UTF-8 sequences anywhere): the
    // rest is then read straight into the parser, whatever the timing.
    const cuts = [];
    let offset = 0;
    for (const frame of frames) {
      if (frame.length > 64 * KIB) cuts.push(offset + 14 + 1000);
      offset += frame.length;
    }
    let sent = 0;
    for (const cut of [...cuts, wire.length]) {
      await writeInSlices(peer.socket, wire.subarray(sent, cut), 40000);
      sent = cut;
      if (nativeExpected()) {
        await until(
          () => serverWs._socket.bytesRead === openerBytes + sent,
          5000,
          'the server to read'
        );
      } else {
        await sleep(20);
      }
    }
    await until(
      () => received.length === expected.length,
      10000,
      'all five messages'
    );

    expect(received).toEqual(expected);
    if (nativeExpected())
      expect(serverWs._socket.bytesRead).toBe(openerBytes + wire.length);
    // One empty chunk per frame completed by a direct read: exactly the two large ones.
    expect(emptyChunks()).toBe(directExpected() ? 2 : 0);
  });

  it('a fragmented message with large fragments and a ping between them: one message, one pong, in order', async () => {
    const { peer, received, serverWs } = await rawToServer();
    const pings = [];
    serverWs.on('ping', (data) =>
      pings.push([received.length, data.toString()])
    );
    const whole = randomBytes(700 * KIB);
    const wire = Buffer.concat([
      encodeFrame({
        opcode: OP.BINARY,
        payload: whole.subarray(0, 250 * KIB),
        fin: false,
        mask: true
      }),
      encodeFrame({ opcode: OP.PING, payload: 'mid', mask: true }),
      encodeFrame({
        opcode: OP.CONTINUATION,
        payload: whole.subarray(250 * KIB),
        mask: true
      }),
      encodeFrame({ opcode: OP.TEXT, payload: 'after', mask: true })
    ]);
    await writeInSlices(peer.socket, wire, 64 * KIB);
    await until(() => received.length === 2, 10000, 'both messages');

    expect(received).toEqual([whole, 'after']);
    expect(pings).toEqual([[0, 'mid']]);
    const pong = await peer.nextFrame();
    expect([pong.opcode, Buffer.from(pong.payload).toString()]).toEqual([
      OP.PONG,
      'mid'
    ]);
  });

  it('while a fragmented message is assembled, reads stay at most 124 KiB (their bytes are copied out); 4 MiB in 16 KiB fragments arrives intact', async () => {
    const { peer, serverWs, received } = await rawToServer();
    expectTcpSocket(serverWs._socket, nativeExpected());
    const chunkSizes = [];
    serverWs._socket.on('data', (chunk) => chunkSizes.push(chunk.length));

    // A first message of 20 KiB: the server's receiver links its parser on a chunk that large.
    peer.socket.write(
      encodeFrame({
        opcode: OP.BINARY,
        payload: randomBytes(20 * KIB),
        mask: true
      })
    );
    await until(() => received.length === 1, 5000, 'the first message');

    const whole = randomBytes(4 * MIB);
    const fragmentBytes = 16 * KIB;
    const frames = [];
    for (let at = 0; at < whole.length; at += fragmentBytes) {
      frames.push(
        encodeFrame({
          opcode: at === 0 ? OP.BINARY : OP.CONTINUATION,
          payload: whole.subarray(at, at + fragmentBytes),
          fin: at + fragmentBytes >= whole.length,
          mask: true
        })
      );
    }
    const before = chunkSizes.length;
    peer.socket.write(Buffer.concat(frames));
    await until(() => received.length === 2, 10000, 'the fragmented message');
    expect(received[1].equals(whole)).toBe(true);

    // The first chunk of the burst is read before the first fragment's header is parsed, so it
    // may be larger; every later one is read while the message is being assembled.
    const during = chunkSizes.slice(before + 1);
    expect(during.length).toBeGreaterThan(0);
    if (nativeExpected()) {
      expect(Math.max(...during)).toBeLessThanOrEqual(124 * KIB);
    }
  });

  it('invalid UTF-8 deep in a large text frame closes with 1007 and WS_ERR_INVALID_UTF8', async () => {
    const { peer, serverWs, received, closed } = await rawToServer();
    const errors = [];
    serverWs.on('error', (error) => errors.push(error.code));
    const payload = Buffer.from('é'.repeat(150 * KIB));
    payload[280 * KIB] = 0xff;
    const wire = Buffer.concat([
      encodeFrame({ opcode: OP.TEXT, payload: 'fine', mask: true }),
      encodeFrame({ opcode: OP.TEXT, payload, mask: true })
    ]);
    await writeInSlices(peer.socket, wire, 32 * KIB);

    const { close } = await peer.readUntilClose(5000);
    expect(close.code).toBe(1007);
    await until(() => closed() !== null, 3000, "the server's 'close'");
    expect(received).toEqual(['fine']);
    expect(errors).toEqual(['WS_ERR_INVALID_UTF8']);
  });

  it('while paused nothing is read; after resume() the large frame and the rest arrive intact', async () => {
    const { peer, serverWs, received } = await rawToServer();
    const big = randomBytes(512 * KIB);
    const frame = encodeFrame({ opcode: OP.BINARY, payload: big, mask: true });
    // Half the frame, then pause: the other half waits in the kernel.
    await writeInSlices(peer.socket, frame.subarray(0, 256 * KIB), 64 * KIB);
    await sleep(50);
    serverWs.pause();
    await writeInSlices(peer.socket, frame.subarray(256 * KIB), 64 * KIB);
    peer.socket.write(
      encodeFrame({ opcode: OP.TEXT, payload: 'next', mask: true })
    );
    await sleep(100);
    expect(received).toEqual([]);

    serverWs.resume();
    await until(() => received.length === 2, 10000, 'both messages');
    expect(received).toEqual([big, 'next']);
  });

  it('with allowSynchronousEvents: false, large frames and small messages keep their order', async () => {
    const { peer, received } = await rawToServer({
      allowSynchronousEvents: false
    });
    const expected = [];
    const frames = [];
    for (let i = 0; i < 4; i++) {
      const big = randomBytes(100 * KIB + i);
      expected.push(`small ${i}`, big);
      frames.push(
        encodeFrame({ opcode: OP.TEXT, payload: `small ${i}`, mask: true }),
        encodeFrame({ opcode: OP.BINARY, payload: big, mask: true })
      );
    }
    await writeInSlices(peer.socket, Buffer.concat(frames), 24 * KIB);
    await until(
      () => received.length === expected.length,
      10000,
      'all messages'
    );
    expect(received).toEqual(expected);
  });

  it('a peer that stops in the middle of a large frame: 1006, no message, the socket closes', async () => {
    const { peer, serverWs, received, closed } = await rawToServer();
    const opener = randomBytes(20 * KIB);
    peer.socket.write(
      encodeFrame({ opcode: OP.BINARY, payload: opener, mask: true })
    );
    await until(() => received.length === 1, 5000, 'the first message');

    // 1 MiB announced, 300 KiB sent (read straight into the parser on native I/O), then FIN.
    const frame = encodeFrame({
      opcode: OP.BINARY,
      payload: randomBytes(MIB),
      mask: true
    });
    await writeInSlices(peer.socket, frame.subarray(0, 300 * KIB), 64 * KIB);
    peer.socket.end();

    await until(() => closed() !== null, 5000, "the server's 'close'");
    expect(closed()).toBe(1006);
    expect(received).toEqual([opener]);
    // Bytes read straight into the parser are counted before the end of the stream.
    if (nativeExpected()) {
      expect(serverWs._socket.bytesRead).toBe(20 * KIB + 4 + 4 + 300 * KIB);
    }
  });

  it('a client receives a large message from a server in slices intact', async () => {
    const { port, connection } = await startServer(native);
    const client = await connectClient(native, `ws://127.0.0.1:${port}`);
    const serverWs = await connection();
    expectTcpSocket(client._socket, nativeExpected());
    const big = randomBytes(2 * MIB + 3);
    const [data, isBinary] = await roundTrip(serverWs, client, big);
    expect([isBinary, Buffer.from(data).equals(big)]).toEqual([true, true]);
  });
});

describe('peer reset with a backlog', () => {
  it("closes with 1006, runs every pending send() callback once with an Error, and leaks no 'error'", async () => {
    const { wss, port } = await bareServer();
    const accepted = once(wss, 'connection');
    const raw = await connectRaw(port);
    raw.socket.pause();
    const [ws] = await accepted;
    expectTcpSocket(ws._socket, nativeExpected());
    // No 'error' listener on `ws`: an 'error' it emitted would be thrown.
    const uncaught = captureUncaught();
    try {
      const closed = once(ws, 'close', 5000);
      const ledger = { sent: 0, calls: [] };
      await fillUntilStalled(ws, ledger, MIB);
      const pendingFrom = ledger.calls.length;
      for (let i = 0; i < 20; i++) {
        const record = [];
        ledger.calls.push(record);
        ws.send(Buffer.alloc(1000), (error) => record.push(error));
      }
      const pingRecord = [];
      ledger.calls.push(pingRecord);
      ws.ping('p', false, (error) => pingRecord.push(error));
      const pending = ledger.calls.slice(pendingFrom);
      expect(pending.every((record) => record.length === 0)).toBe(true);

      raw.reset();
      const [code] = await closed;
      expect(code).toBe(1006);
      await sleep(50);

      expect(ledger.calls.every((record) => record.length === 1)).toBe(true);
      expect(pending.every((record) => record[0] instanceof Error)).toBe(true);
      expect(ws.readyState).toBe(3);
      expect(ws._socket.destroyed).toBe(true);
      expect(uncaught.caught).toEqual([]);
    } finally {
      uncaught.restore();
    }
  });
});

describe('user code on ws._socket', () => {
  it('destroy() on the server side closes the connection: 1006 on both ends', async () => {
    const { client, serverWs } = await openPair(native);
    const socket = serverWs._socket;
    expectTcpSocket(socket, nativeExpected());
    const socketClosed = once(socket, 'close');

    socket.destroy();
    const [, serverCode] = await serverWs.events.wait('close');
    const [, clientCode] = await client.events.wait('close');
    const [hadError] = await socketClosed;
    expect([serverCode, clientCode, hadError]).toEqual([1006, 1006, false]);
    expect(serverWs.events.names()).not.toContain('error');
  });

  it('destroy() on the client side closes the connection: 1006 on both ends', async () => {
    const { client, serverWs } = await openPair(native);
    expectTcpSocket(client._socket, nativeExpected());

    client._socket.destroy();
    const [, clientCode] = await client.events.wait('close');
    const [, serverCode] = await serverWs.events.wait('close');
    expect([clientCode, serverCode]).toEqual([1006, 1006]);
  });

  it("setTimeout(ms) emits 'timeout' when idle, not while messages flow, and again after new activity", async () => {
    const { client, serverWs } = await openPair(native);
    const socket = serverWs._socket;
    expectTcpSocket(socket, nativeExpected());
    let timeouts = 0;
    socket.on('timeout', () => timeouts++);
    const TIMEOUT_MS = 200;
    // As net.Socket's: 0 before any timeout is set (the WebSocket set 0).
    expect(socket.timeout).toBe(0);
    expect(socket.setTimeout(TIMEOUT_MS)).toBe(socket);
    expect(socket.timeout).toBe(TIMEOUT_MS);

    // Reads keep it from firing...
    for (let i = 0; i < 20; i++) {
      client.send(`in ${i}`);
      await sleep(25);
    }
    expect(timeouts).toBe(0);
    expect(serverWs.events.of('message')).toHaveLength(20);
    // ...and so do writes.
    for (let i = 0; i < 20; i++) {
      serverWs.send(`out ${i}`);
      await sleep(25);
    }
    expect(timeouts).toBe(0);

    // Idle: it fires once, and the connection stays open.
    await until(() => timeouts === 1, 2000, "'timeout'");
    await sleep(2 * TIMEOUT_MS);
    expect(timeouts).toBe(1);
    expect(serverWs.readyState).toBe(1);

    // As with a net.Socket, new activity arms it again.
    client.send('wake up');
    await serverWs.events.waitCount('message', 21);
    await until(() => timeouts === 2, 2000, 'a second timeout');

    // setTimeout(0) turns it off.
    expect(socket.setTimeout(0)).toBe(socket);
    expect(socket.timeout).toBe(0);
    client.send('again');
    await sleep(2 * TIMEOUT_MS + 100);
    expect(timeouts).toBe(2);
  });

  it("pause() emits 'pause' at once and once only; resume() emits 'resume' on a later tick, then the data flows", async () => {
    const { client, serverWs } = await openPair(native);
    const socket = serverWs._socket;
    expectTcpSocket(socket, nativeExpected());
    const events = [];
    socket.on('pause', () => events.push('pause'));
    socket.on('resume', () => events.push('resume'));
    serverWs.on('message', (data) => events.push(`message ${data}`));
    socket.pause();
    socket.pause();
    expect([events, socket.isPaused()]).toEqual([['pause'], true]);
    client.send('sent while paused');
    await sleep(50);
    socket.resume();
    socket.resume();
    expect([events, socket.isPaused()]).toEqual([['pause'], false]);
    await until(() => events.length === 3, 3000, 'the message');
    expect(events).toEqual(['pause', 'resume', 'message sent while paused']);
  });

  it("the stream properties read as a connected net.Socket's; after destroy(err): pending, errored, and closed by 'close'", async () => {
    const { serverWs } = await openPair(native);
    const socket = serverWs._socket;
    expectTcpSocket(socket, nativeExpected());
    const properties = () => ({
      pending: socket.pending,
      closed: socket.closed,
      errored: socket.errored,
      writableHighWaterMark: socket.writableHighWaterMark,
      readableHighWaterMark: socket.readableHighWaterMark,
      writableObjectMode: socket.writableObjectMode,
      readableObjectMode: socket.readableObjectMode,
      writableCorked: socket.writableCorked,
      readableEncoding: socket.readableEncoding
    });
    const connected = {
      pending: false,
      closed: false,
      errored: null,
      writableHighWaterMark: HIGH_WATER_MARK,
      readableHighWaterMark: HIGH_WATER_MARK,
      writableObjectMode: false,
      readableObjectMode: false,
      writableCorked: 0,
      readableEncoding: null
    };
    expect(properties()).toEqual(connected);
    socket.cork();
    socket.cork();
    expect(socket.writableCorked).toBe(2);
    socket.uncork();
    socket.uncork();
    expect(socket.writableCorked).toBe(0);

    const error = new Error('destroyed by the test');
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    socket.destroy(error);
    expect([socket.pending, socket.errored]).toEqual([true, error]);
    await closed;
    expect(properties()).toEqual({
      ...connected,
      pending: true,
      closed: true,
      errored: error
    });
  });

  it('setKeepAlive(), setNoDelay(), ref() and unref() return the socket, which keeps working', async () => {
    const { client, serverWs } = await openPair(native);
    for (const socket of [serverWs._socket, client._socket]) {
      expectTcpSocket(socket, nativeExpected());
      expect(socket.setKeepAlive(true, 1000)).toBe(socket);
      expect(socket.setNoDelay()).toBe(socket);
      expect(socket.setNoDelay(false)).toBe(socket);
      expect(socket.setNoDelay(true)).toBe(socket);
      expect(socket.unref()).toBe(socket);
      expect(socket.ref()).toBe(socket);
      expect(socket.setKeepAlive(false)).toBe(socket);
    }
    await expectTextBothWays(client, serverWs, 'options set');
  });
});

describe('push() on ws._socket, as on a Readable', () => {
  const maskedText = (text) =>
    encodeFrame({ opcode: OP.TEXT, payload: text, mask: true });

  it('pushed frames arrive as messages, before what the peer sends next; a string chunk too', async () => {
    const { client, serverWs } = await openPair(native);
    const socket = serverWs._socket;
    expectTcpSocket(socket, nativeExpected());

    expect(socket.push(maskedText('pushed 1'))).toBe(true);
    expect(
      socket.push(maskedText('pushed 2').toString('latin1'), 'latin1')
    ).toBe(true);
    client.send('from the peer');
    await serverWs.events.waitCount('message', 3);
    expect(
      serverWs.events.of('message').map(([, data]) => data.toString())
    ).toEqual(['pushed 1', 'pushed 2', 'from the peer']);
    await expectTextBothWays(client, serverWs, 'still open');
  });

  it('a pushed frame over maxPayload: RangeError WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, then 1006', async () => {
    const maxPayload = 16 * KIB;
    const { serverWs } = await openPair(native, {
      serverOptions: { maxPayload }
    });
    expectTcpSocket(serverWs._socket, nativeExpected());

    serverWs._socket.push(
      encodeFrame({
        opcode: OP.BINARY,
        payload: Buffer.alloc(maxPayload + 1),
        mask: true
      })
    );
    const [, err] = await serverWs.events.wait('error');
    expect(err).toBeInstanceOf(RangeError);
    expect([err.code, err.message]).toEqual([
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      'Max payload size exceeded'
    ]);
    const [, code] = await serverWs.events.wait('close');
    expect(code).toBe(1006);
  });

  it("while paused, pushed bytes wait for resume(); push(null) then ends the readable side ('end') after them", async () => {
    const { client, serverWs } = await openPair(native);
    const socket = serverWs._socket;
    expectTcpSocket(socket, nativeExpected());
    const ended = once(socket, 'end');

    socket.pause();
    socket.push(maskedText('held'));
    expect(socket.push(null)).toBe(false);
    await sleep(50);
    expect(serverWs.events.of('message')).toHaveLength(0);

    socket.resume();
    await ended;
    expect(
      serverWs.events.of('message').map(([, data]) => data.toString())
    ).toEqual(['held']);
    const [, serverCode] = await serverWs.events.wait('close');
    const [, clientCode] = await client.events.wait('close');
    expect([serverCode, clientCode]).toEqual([1006, 1006]);
    expect(serverWs.events.of('message')).toHaveLength(1);
  });

  it.each([
    [
      'push() after push(null)',
      'ERR_STREAM_PUSH_AFTER_EOF',
      (socket) => {
        socket.push(null);
        return socket.push(maskedText('too late'));
      }
    ],
    [
      'a chunk that is neither a string nor bytes',
      'ERR_INVALID_ARG_TYPE',
      (socket) => socket.push(42)
    ]
  ])(
    '%s: %s, and the connection closes with 1006',
    async (_, errorCode, act) => {
      const { serverWs } = await openPair(native);
      const socket = serverWs._socket;
      expectTcpSocket(socket, nativeExpected());
      const errors = [];
      socket.on('error', (err) => errors.push(err.code));

      expect(act(socket)).toBe(false);
      const [, code] = await serverWs.events.wait('close');
      expect(code).toBe(1006);
      expect(errors).toEqual([errorCode]);
      expect(serverWs.events.of('message')).toHaveLength(0);
    }
  );
});

describe("an exception thrown by a 'message' listener", () => {
  it("reaches process 'uncaughtException' once; the socket, the server and other connections keep working", async () => {
    const server = await startServer(native);
    const accepted = server.connection();
    const client = await connectClient(native, server.url);
    const serverWs = await accepted;
    expectTcpSocket(serverWs._socket, nativeExpected());
    const thrown = new Error('thrown by a message listener');
    serverWs.on('message', (data) => {
      if (data.toString() === 'throw') throw thrown;
    });

    const uncaught = captureUncaught();
    try {
      client.send('throw');
      await until(() => uncaught.caught.length > 0, 3000, 'the exception');
      await sleep(50);
      expect(uncaught.caught).toEqual([thrown]);
      expect(uncaught.caught[0]).toBe(thrown);
    } finally {
      uncaught.restore();
    }

    // The connection is still open and its socket still writes. (What the receiver does with
    // later frames of this connection is ws's behaviour, not the socket's: not asserted here.)
    expect(serverWs.readyState).toBe(1);
    expect(serverWs._socket.destroyed).toBe(false);
    const [back] = await roundTrip(serverWs, client, 'after the throw');
    expect(back.toString()).toBe('after the throw');

    // The server and the native loop still serve a new connection both ways.
    const nextAccepted = server.connection();
    const other = await connectClient(native, server.url);
    const otherServer = await nextAccepted;
    expectTcpSocket(otherServer._socket, nativeExpected());
    const [data] = await roundTrip(other, otherServer, 'another connection');
    expect(data.toString()).toBe('another connection');
    const [reply] = await roundTrip(otherServer, other, 'answered');
    expect(reply.toString()).toBe('answered');

    // And the first connection still closes cleanly from the server's side.
    serverWs.terminate();
    const [, code] = await client.events.wait('close');
    expect(code).toBe(1006);
  });
});

describe.each([
  ['unset', undefined],
  ['0', '0']
])('the same behaviour with WSN_NATIVE_IO %s', (label, value) => {
  /** Opens a pair with the setting of this block, restoring the outer one afterwards. */
  async function pair() {
    const restore = setNativeIo(value);
    try {
      const opened = await openPair(native);
      const adopted = available && value !== '0';
      expectTcpSocket(opened.serverWs._socket, adopted);
      expectTcpSocket(opened.client._socket, adopted);
      return opened;
    } finally {
      restore();
    }
  }

  it('messages arrive in the order they were sent, both ways', async () => {
    const { client, serverWs } = await pair();
    const sent = [];
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 0) sent.push(`text ${i} ${'é'.repeat(i % 50)}`);
      else if (i % 50 === 1) sent.push(Buffer.alloc(70 * KIB + i, i & 0xff));
      else sent.push(Buffer.alloc((i * 37) % 3000, i & 0xff));
    }
    const normalize = (data, isBinary) =>
      isBinary ? Buffer.from(data) : data.toString();
    serverWs.on('message', (data, isBinary) =>
      serverWs.send(isBinary ? data : data.toString())
    );
    const atServer = [];
    serverWs.on('message', (data, isBinary) =>
      atServer.push(normalize(data, isBinary))
    );
    const atClient = [];
    client.on('message', (data, isBinary) =>
      atClient.push(normalize(data, isBinary))
    );

    for (const message of sent) client.send(message);
    await until(() => atClient.length === sent.length, 10000, 'the echoes');
    expect(atServer).toEqual(sent);
    expect(atClient).toEqual(sent);
  });

  it('the close handshake carries 1000 and the reason to both sides', async () => {
    const first = await pair();
    first.client.close(1000, 'client says bye');
    const [, serverCode, serverReason] =
      await first.serverWs.events.wait('close');
    const [, clientCode, clientReason] =
      await first.client.events.wait('close');
    expect([
      serverCode,
      serverReason.toString(),
      clientCode,
      clientReason.toString()
    ]).toEqual([1000, 'client says bye', 1000, 'client says bye']);

    const second = await pair();
    const socketClosed = once(second.serverWs._socket, 'close');
    second.serverWs.close(1000, 'server says bye');
    const [, code2, reason2] = await second.client.events.wait('close');
    const [, serverCode2, serverReason2] =
      await second.serverWs.events.wait('close');
    expect([
      code2,
      reason2.toString(),
      serverCode2,
      serverReason2.toString()
    ]).toEqual([1000, 'server says bye', 1000, 'server says bye']);
    await socketClosed;
    expect(second.serverWs._socket.destroyed).toBe(true);
    for (const ws of [
      first.client,
      first.serverWs,
      second.client,
      second.serverWs
    ]) {
      expect(ws.events.names()).not.toContain('error');
    }
  });

  it('ping and pong carry their data both ways', async () => {
    const { client, serverWs } = await pair();
    client.ping('from the client');
    const [, pingAtServer] = await serverWs.events.wait('ping');
    const [, pongAtClient] = await client.events.wait('pong');
    serverWs.ping(Buffer.from([0, 1, 2, 255]));
    const [, pingAtClient] = await client.events.wait('ping');
    const [, pongAtServer] = await serverWs.events.wait('pong');
    expect([
      pingAtServer.toString(),
      pongAtClient.toString(),
      [...pingAtClient],
      [...pongAtServer]
    ]).toEqual([
      'from the client',
      'from the client',
      [0, 1, 2, 255],
      [0, 1, 2, 255]
    ]);
  });
});

// A worker has its own copy of the addon, with its own sockets polled on the worker's own loop.
// When the worker ends, that loop is closed: every handle the addon opened must be closed by
// then, and Buffers collected afterwards must not touch what the worker freed.
describe('in a worker thread', () => {
  // Runs in the worker: a server and a client over loopback echo 64 KiB and 1 MiB messages (large
  // reads), then either wait with both connections open or call process.exit() right after
  // sending 1 MiB more. Received Buffers stay referenced until the worker ends.
  const WORKER_SOURCE = `
    const { parentPort, workerData } = require('node:worker_threads');
    const WebSocket = require(workerData.index);
    const { NativeSocket } = require(workerData.nativeSocket);
    const kept = [];
    const wss = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
      const client = new WebSocket('ws://127.0.0.1:' + wss.address().port);
      const sizes = [65536, 65536, 65536, 65536, 1048576];
      let received = 0;
      let intact = true;
      client.on('open', () => {
        sizes.forEach((size, i) => client.send(Buffer.alloc(size, i + 1)));
      });
      client.on('message', (data) => {
        const i = received++;
        intact = intact && data.length === sizes[i] && data.every((byte) => byte === i + 1);
        kept.push(data);
        if (received === sizes.length) {
          parentPort.postMessage({ native: client._socket instanceof NativeSocket, intact });
          if (workerData.exitWhileSending) {
            client.send(Buffer.alloc(1048576, 9));
            process.exit(0);
          }
        }
      });
    });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  `;

  function startWorker(exitWhileSending) {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        index: require.resolve('../../index.js'),
        nativeSocket: require.resolve('../../lib/native-socket.js'),
        exitWhileSending
      }
    });
    const errors = [];
    worker.on('error', (error) => errors.push(error));
    // Both listeners from the start: the worker may exit right after its report.
    const report = once(worker, 'message', 10000);
    const exited = once(worker, 'exit', 10000);
    return { worker, errors, report, exited };
  }

  async function expectEchoInMainThread() {
    const { client, serverWs } = await openPair(native);
    serverWs.on('message', (data) => serverWs.send(data));
    const payload = randomBytes(256 * KIB);
    const echoed = once(client, 'message');
    client.send(payload);
    const [data] = await echoed;
    expect(Buffer.compare(data, payload)).toBe(0);
  }

  it('terminate() with native connections open and large reads held: exit code 1, no error, and this thread goes on', async () => {
    const { worker, errors, report, exited } = startWorker(false);
    const [result] = await report;
    expect(result).toEqual({ native: nativeExpected(), intact: true });
    await worker.terminate();
    const [code] = await exited;
    expect(code).toBe(1);
    expect(errors).toEqual([]);
    await expectEchoInMainThread();
  });

  it('process.exit(0) in the worker right after a 1 MiB send(): exit code 0, no error', async () => {
    const { errors, report, exited } = startWorker(true);
    const [result] = await report;
    expect(result).toEqual({ native: nativeExpected(), intact: true });
    const [code] = await exited;
    expect(code).toBe(0);
    expect(errors).toEqual([]);
    await expectEchoInMainThread();
  });
});
