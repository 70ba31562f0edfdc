// WebSocketServer: handshake answers byte for byte (RFC 6455 §4.2), every option and event, the
// noServer/handleUpgrade path over any Duplex, and close() semantics. Each suite runs against ws
// (the reference) and ws-native.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Duplex } from 'node:stream';

import { afterEach, beforeAll, expect, it } from 'vitest';

import { selfSignedCertificate } from '../helpers/certificate.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import {
  cleanup,
  once,
  recordEvents,
  sleep,
  startHttpServer,
  startServer,
  track,
  within
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import {
  acceptFor,
  connectRaw,
  handshakeRequest,
  openSocket,
  parseHead,
  RawConnection,
  readHead
} from '../helpers/raw-client.js';
import { encodeFrame, MessageInflater, OP } from '../helpers/wire.js';

afterEach(cleanup);

// The RFC 6455 §1.3 example key and its accept value.
const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/**
 * Writes `request` on a new connection and returns every byte the server sent until it closed.
 *
 * @param {number} port
 * @param {string} request
 * @param {number} [ms=3000]
 * @return {Promise<string>} the raw response (latin1)
 */
async function exchange(port, request, ms = 3000) {
  const socket = await openSocket(port);
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.on('end', () => socket.end());
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.write(request);
  await within(closed, ms, 'the server to answer and close');
  return Buffer.concat(chunks).toString('latin1');
}

/**
 * Writes an upgrade request and resolves with the raw response head once the blank line came
 * (for 101 answers, after which the connection stays open).
 *
 * @param {number} port
 * @param {string} request
 * @return {Promise<{ head: string, socket: net.Socket, leftover: Buffer }>}
 */
async function upgradeHead(port, request) {
  const socket = await openSocket(port);
  const reading = readHead(socket);
  socket.write(request);
  const { head, leftover } = await reading;
  return { head, socket, leftover };
}

/** An HTTP error response exactly as the server must write it. */
function rejection(statusLine, body, extraHeaders = '') {
  return (
    `HTTP/1.1 ${statusLine}\r\nConnection: close\r\nContent-Type: text/html\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`
  );
}

/** Header lines of a handshake request, for a request object handed to handleUpgrade. */
function requestHeaders(overrides = {}) {
  return {
    host: 'localhost',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': SAMPLE_KEY,
    'sec-websocket-version': '13',
    ...overrides
  };
}

/** Collects everything a stream receives. */
function collect(stream) {
  const chunks = [];
  stream.on('data', (chunk) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('latin1');
}

let tlsFiles = null;

beforeAll(() => {
  // A throwaway self-signed certificate for the https case.
  tlsFiles = selfSignedCertificate('localhost');
});

describeEach('WebSocketServer constructor', (impl) => {
  it('requires exactly one of port, server and noServer', () => {
    const message =
      'One and only one of the "port", "server", or "noServer" options must be specified';
    const server = http.createServer();
    for (const options of [
      {},
      { port: 0, noServer: true },
      { port: 0, server },
      { server, noServer: true },
      { port: null, server: null, noServer: false }
    ]) {
      expect(() => new impl.WebSocketServer(options)).toThrow(
        new TypeError(message)
      );
    }
    expect(() => new impl.WebSocketServer()).toThrow(TypeError);
  });

  it('listens on port and host, then calls back and emits listening', async () => {
    const events = [];
    const wss = new impl.WebSocketServer(
      { port: 0, host: '127.0.0.1', backlog: 8 },
      () => events.push('callback')
    );
    track(() => new Promise((resolve) => wss.close(resolve)));
    wss.on('listening', () => events.push('listening'));
    await once(wss, 'listening');
    expect(events.sort()).toEqual(['callback', 'listening']);
    const address = wss.address();
    expect(address.address).toBe('127.0.0.1');
    expect(address.family).toBe('IPv4');
    expect(address.port).toBeGreaterThan(0);
  });

  it('keeps the options with their defaults', () => {
    const wss = new impl.WebSocketServer({
      noServer: true,
      perMessageDeflate: true
    });
    expect(wss.options).toMatchObject({
      allowSynchronousEvents: true,
      autoPong: true,
      clientTracking: true,
      closeTimeout: 30000,
      maxBufferedChunks: 1048576,
      maxFragments: 131072,
      maxPayload: 104857600,
      noServer: true,
      perMessageDeflate: {},
      skipUTF8Validation: false,
      WebSocket: impl.WebSocket
    });
    expect(wss.clients).toBeInstanceOf(Set);
    expect(
      new impl.WebSocketServer({ noServer: true, clientTracking: false })
        .clients
    ).toBe(undefined);
  });

  it('emits error when the port is taken', async () => {
    const { port } = await startHttpServer();
    const wss = new impl.WebSocketServer({ port, host: '127.0.0.1' });
    const [error] = await once(wss, 'error');
    expect(error.code).toBe('EADDRINUSE');
  });

  it('forwards listening and error of a given server', async () => {
    const server = http.createServer();
    track(() => new Promise((resolve) => server.close(resolve)));
    const wss = new impl.WebSocketServer({ server });
    const listening = once(wss, 'listening');
    server.listen(0, '127.0.0.1');
    await listening;
    expect(wss.address()).toEqual(server.address());
    const boom = new Error('boom');
    const errored = once(wss, 'error');
    server.emit('error', boom);
    expect(await errored).toEqual([boom]);
  });

  it('address() throws in noServer mode and is null once closed', async () => {
    const detached = new impl.WebSocketServer({ noServer: true });
    expect(() => detached.address()).toThrow(
      new Error('The server is operating in "noServer" mode')
    );
    const { wss } = await startServer(impl);
    await new Promise((resolve) => wss.close(resolve));
    expect(wss.address()).toBe(null);
  });
});

describeEach('WebSocketServer handshake answers', (impl) => {
  it('answers 101 with exactly the RFC 6455 §4.2.2 headers', async () => {
    const { port } = await startServer(impl);
    const { text } = handshakeRequest({ key: SAMPLE_KEY });
    const { head, leftover } = await upgradeHead(port, text);
    expect(head + '\r\n\r\n').toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n\r\n`
    );
    expect(leftover.length).toBe(0);
  });

  it('accepts version 8 as well as 13', async () => {
    const { port } = await startServer(impl);
    const { text, key } = handshakeRequest({
      headers: { 'Sec-WebSocket-Version': '8' }
    });
    const { head } = await upgradeHead(port, text);
    expect(parseHead(head).headers['sec-websocket-accept']).toBe(
      acceptFor(key)
    );
  });

  it('answers 405 to a method other than GET', async () => {
    const { port } = await startServer(impl);
    const { text } = handshakeRequest({ method: 'POST' });
    expect(await exchange(port, text)).toBe(
      rejection('405 Method Not Allowed', 'Invalid HTTP method')
    );
  });

  it('answers 400 to an Upgrade header other than websocket', async () => {
    const { port } = await startServer(impl);
    const { text } = handshakeRequest({ headers: { Upgrade: 'h2c' } });
    expect(await exchange(port, text)).toBe(
      rejection('400 Bad Request', 'Invalid Upgrade header')
    );
    const mixedCase = handshakeRequest({ headers: { Upgrade: 'WebSocket' } });
    expect((await upgradeHead(port, mixedCase.text)).head).toMatch(
      /^HTTP\/1.1 101 /
    );
  });

  it('answers 400 when maxHeadersCount dropped the Upgrade header', async () => {
    const { server, port } = await startHttpServer();
    server.maxHeadersCount = 1;
    new impl.WebSocketServer({ server });
    const { text } = handshakeRequest();
    expect(await exchange(port, text)).toBe(
      rejection('400 Bad Request', 'Invalid Upgrade header')
    );
  });

  it('answers 400 to a missing or malformed Sec-WebSocket-Key', async () => {
    const { port } = await startServer(impl);
    const expected = rejection(
      '400 Bad Request',
      'Missing or invalid Sec-WebSocket-Key header'
    );
    for (const key of [
      null,
      '',
      'abc',
      'dGhlIHNhbXBsZSBub25jZQ=',
      'dGhlIHNhbXBsZSBub25jZQ=A',
      'dGhlIHNhbXBsZSBub25jZ*==',
      'dGhlIHNhbXBsZSBub25jZQ==='
    ]) {
      const { text } = handshakeRequest({
        headers: { 'Sec-WebSocket-Key': key }
      });
      expect(await exchange(port, text), String(key)).toBe(expected);
    }
  });

  it('answers 400 with the versions it speaks to another Sec-WebSocket-Version', async () => {
    const { port } = await startServer(impl);
    const expected = rejection(
      '400 Bad Request',
      'Missing or invalid Sec-WebSocket-Version header',
      'Sec-WebSocket-Version: 13, 8\r\n'
    );
    for (const version of [null, '12', '14', 'abc']) {
      const { text } = handshakeRequest({
        headers: { 'Sec-WebSocket-Version': version }
      });
      expect(await exchange(port, text), String(version)).toBe(expected);
    }
  });

  it('answers 400 outside the path option and accepts it with a query', async () => {
    const { port } = await startServer(impl, { path: '/chat' });
    const wrong = handshakeRequest({ path: '/other' });
    expect(await exchange(port, wrong.text)).toBe(
      rejection('400 Bad Request', 'Bad Request')
    );
    const right = handshakeRequest({ path: '/chat?room=1' });
    expect((await upgradeHead(port, right.text)).head).toMatch(
      /^HTTP\/1.1 101 /
    );
  });

  it('answers 400 to a malformed or duplicated Sec-WebSocket-Protocol', async () => {
    const { port } = await startServer(impl);
    const expected = rejection(
      '400 Bad Request',
      'Invalid Sec-WebSocket-Protocol header'
    );
    for (const value of ['chat,,x', 'chat, chat', 'ch@t', 'chat,']) {
      const { text } = handshakeRequest({
        headers: { 'Sec-WebSocket-Protocol': value }
      });
      expect(await exchange(port, text), value).toBe(expected);
    }
  });

  it('answers 400 to a malformed or unacceptable Sec-WebSocket-Extensions', async () => {
    const { port } = await startServer(impl, { perMessageDeflate: true });
    const expected = rejection(
      '400 Bad Request',
      'Invalid or unacceptable Sec-WebSocket-Extensions header'
    );
    for (const value of [
      'permessage-deflate; =',
      'permessage-deflate;',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; client_max_window_bits=16',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; foo',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=11'
    ]) {
      const { text } = handshakeRequest({
        headers: { 'Sec-WebSocket-Extensions': value }
      });
      expect(await exchange(port, text), value).toBe(expected);
    }
  });

  it('ignores Sec-WebSocket-Extensions when perMessageDeflate is off', async () => {
    const { port } = await startServer(impl);
    const { text } = handshakeRequest({
      headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; =' }
    });
    const { head } = await upgradeHead(port, text);
    expect(head).toMatch(/^HTTP\/1.1 101 /);
    expect(parseHead(head).headers['sec-websocket-extensions']).toBe(undefined);
  });

  it('answers 401 when verifyClient returns false', async () => {
    const { port } = await startServer(impl, { verifyClient: () => false });
    expect(await exchange(port, handshakeRequest().text)).toBe(
      rejection('401 Unauthorized', 'Unauthorized')
    );
  });

  it('answers with the code, message and headers of an async verifyClient', async () => {
    const { port } = await startServer(impl, {
      verifyClient: (info, done) =>
        setTimeout(() => done(false, 403, 'Go away', { 'X-Why': 'test' }), 10)
    });
    expect(await exchange(port, handshakeRequest().text)).toBe(
      rejection('403 Forbidden', 'Go away', 'X-Why: test\r\n')
    );
  });

  it('lets verifyClient headers replace the defaults in place', async () => {
    const { port } = await startServer(impl, {
      verifyClient: (info, done) =>
        done(false, 400, 'no', { 'Content-Type': 'text/plain' })
    });
    expect(await exchange(port, handshakeRequest().text)).toBe(
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
        'Content-Length: 2\r\n\r\nno'
    );
  });

  it('answers 401 to an async verifyClient rejection without a code', async () => {
    const { port } = await startServer(impl, {
      verifyClient: (info, done) => done(false)
    });
    expect(await exchange(port, handshakeRequest().text)).toBe(
      rejection('401 Unauthorized', 'Unauthorized')
    );
  });

  it('answers 503 to an upgrade that completes after close()', async () => {
    let wss;
    const verified = new Promise((resolve) => {
      wss = new impl.WebSocketServer({
        noServer: true,
        verifyClient: (info, done) => resolve(done)
      });
    });
    const { server, port } = await startHttpServer();
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, () => {
        throw new Error('must not connect');
      });
    });
    const answer = exchange(port, handshakeRequest().text);
    const done = await verified;
    wss.close();
    done(true);
    expect(await answer).toBe(
      rejection('503 Service Unavailable', 'Service Unavailable')
    );
  });

  it('answers 426 to plain HTTP on its own port', async () => {
    const { port } = await startServer(impl);
    const raw = await exchange(
      port,
      'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
    );
    const end = raw.indexOf('\r\n\r\n');
    const { startLine, rawHeaders } = parseHead(raw.slice(0, end));
    expect(startLine).toBe('HTTP/1.1 426 Upgrade Required');
    expect(rawHeaders.filter(([name]) => name !== 'Date')).toEqual([
      ['Content-Length', '16'],
      ['Content-Type', 'text/plain'],
      ['Connection', 'close']
    ]);
    expect(raw.slice(end + 4)).toBe('Upgrade Required');
  });
});

describeEach('WebSocketServer negotiation and events', (impl) => {
  it('selects the first subprotocol by default', async () => {
    const server = await startServer(impl);
    const accepted = server.connection();
    const { text } = handshakeRequest({
      key: SAMPLE_KEY,
      headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' }
    });
    const { head } = await upgradeHead(server.port, text);
    expect(head).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\nSec-WebSocket-Protocol: chat`
    );
    expect((await accepted).protocol).toBe('chat');
  });

  it('asks handleProtocols with the Set and the request', async () => {
    const calls = [];
    const server = await startServer(impl, {
      handleProtocols: (protocols, req) => {
        calls.push([[...protocols], req.url]);
        return protocols.has('b') ? 'b' : false;
      }
    });
    const first = server.connection();
    const chosen = handshakeRequest({
      path: '/x',
      headers: { 'Sec-WebSocket-Protocol': 'a,b' }
    });
    expect(
      parseHead((await upgradeHead(server.port, chosen.text)).head).headers
    ).toMatchObject({
      'sec-websocket-protocol': 'b'
    });
    expect((await first).protocol).toBe('b');

    const second = server.connection();
    const none = handshakeRequest({
      headers: { 'Sec-WebSocket-Protocol': 'c' }
    });
    const { head } = await upgradeHead(server.port, none.text);
    expect(parseHead(head).headers['sec-websocket-protocol']).toBe(undefined);
    expect((await second).protocol).toBe('');
    expect(calls).toEqual([
      [['a', 'b'], '/x'],
      [['c'], '/']
    ]);
  });

  it('accepts permessage-deflate and compresses above the threshold (RFC 7692)', async () => {
    // The threshold applies without context takeover, when each message stands alone.
    const server = await startServer(impl, {
      perMessageDeflate: { threshold: 100, serverNoContextTakeover: true }
    });
    const accepted = server.connection();
    const peer = await connectRaw(server.port, {
      headers: {
        'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits'
      }
    });
    expect(peer.response.headers['sec-websocket-extensions']).toBe(
      'permessage-deflate; server_no_context_takeover'
    );
    const ws = await accepted;
    expect(ws.extensions).toBe('permessage-deflate');

    const big = 'x'.repeat(2000);
    ws.send('hi');
    ws.send(big);
    const small = await peer.nextFrame();
    expect([small.rsv1, small.payload.toString()]).toEqual([false, 'hi']);
    const compressed = await peer.nextFrame();
    expect(compressed.rsv1).toBe(true);
    expect(compressed.payload.length).toBeLessThan(100);
    const inflater = new MessageInflater({ noContextTakeover: true });
    expect((await inflater.inflate(compressed.payload)).toString()).toBe(big);
    inflater.close();
  });

  it('answers the negotiated permessage-deflate parameters', async () => {
    const server = await startServer(impl, {
      perMessageDeflate: {
        serverNoContextTakeover: true,
        clientMaxWindowBits: 10
      }
    });
    const peer = await connectRaw(server.port, {
      headers: {
        'Sec-WebSocket-Extensions':
          'permessage-deflate; client_max_window_bits; server_max_window_bits=12, x-other'
      }
    });
    expect(peer.response.headers['sec-websocket-extensions']).toBe(
      'permessage-deflate; client_max_window_bits=10; server_max_window_bits=12; ' +
        'server_no_context_takeover'
    );
  });

  it('lets headers listeners edit the response', async () => {
    const server = await startServer(impl);
    const seen = [];
    server.wss.on('headers', (headers, req) => {
      seen.push([headers.slice(), req.url]);
      headers.push('X-Powered-By: test');
      headers[2] = 'connection: upgrade';
    });
    const { text } = handshakeRequest({ key: SAMPLE_KEY, path: '/h' });
    const { head } = await upgradeHead(server.port, text);
    expect(head).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nconnection: upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\nX-Powered-By: test`
    );
    expect(seen).toEqual([
      [
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`
        ],
        '/h'
      ]
    ]);
  });

  it('hands malformed handshakes to wsClientError listeners, which own the socket', async () => {
    const server = await startServer(impl);
    const reports = [];
    server.wss.on('wsClientError', (error, socket, req) => {
      reports.push([
        error.constructor.name,
        error.message,
        socket instanceof net.Socket,
        req.url
      ]);
      socket.end("HTTP/1.1 418 I'm a Teapot\r\n\r\n");
    });
    const badUpgrade = handshakeRequest({
      path: '/a',
      headers: { Upgrade: 'nope' }
    });
    expect(await exchange(server.port, badUpgrade.text)).toBe(
      "HTTP/1.1 418 I'm a Teapot\r\n\r\n"
    );
    const badKey = handshakeRequest({
      path: '/b',
      headers: { 'Sec-WebSocket-Key': 'x' }
    });
    await exchange(server.port, badKey.text);
    const badVersion = handshakeRequest({
      path: '/c',
      headers: { 'Sec-WebSocket-Version': '1' }
    });
    await exchange(server.port, badVersion.text);
    const badMethod = handshakeRequest({ path: '/d', method: 'PUT' });
    await exchange(server.port, badMethod.text);
    expect(reports).toEqual([
      ['Error', 'Invalid Upgrade header', true, '/a'],
      ['Error', 'Missing or invalid Sec-WebSocket-Key header', true, '/b'],
      ['Error', 'Missing or invalid Sec-WebSocket-Version header', true, '/c'],
      ['Error', 'Invalid HTTP method', true, '/d']
    ]);
  });

  it('answers path and verifyClient rejections itself even with wsClientError listeners', async () => {
    const server = await startServer(impl, {
      path: '/ok',
      verifyClient: () => false
    });
    let reported = 0;
    server.wss.on('wsClientError', () => reported++);
    expect(
      await exchange(server.port, handshakeRequest({ path: '/no' }).text)
    ).toBe(rejection('400 Bad Request', 'Bad Request'));
    expect(
      await exchange(server.port, handshakeRequest({ path: '/ok' }).text)
    ).toBe(rejection('401 Unauthorized', 'Unauthorized'));
    expect(reported).toBe(0);
  });

  it('gives verifyClient the origin, the request and whether it is secure', async () => {
    const infos = [];
    const server = await startServer(impl, {
      verifyClient: (info) => {
        infos.push([info.origin, info.secure, info.req.url]);
        return true;
      }
    });
    await upgradeHead(
      server.port,
      handshakeRequest({
        path: '/13',
        headers: { Origin: 'https://a.example' }
      }).text
    );
    await upgradeHead(
      server.port,
      handshakeRequest({
        path: '/8',
        headers: {
          'Sec-WebSocket-Version': '8',
          'Sec-WebSocket-Origin': 'https://b.example',
          Origin: 'https://ignored.example'
        }
      }).text
    );
    expect(infos).toEqual([
      ['https://a.example', false, '/13'],
      ['https://b.example', false, '/8']
    ]);
  });

  it('works on an https server and reports it secure', async () => {
    const server = https.createServer({
      key: tlsFiles.key,
      cert: tlsFiles.cert
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    track(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    let secure;
    const wss = new impl.WebSocketServer({
      server,
      verifyClient: (info) => {
        secure = info.secure;
        return true;
      }
    });
    wss.on('connection', (ws) =>
      ws.on('message', (data) => ws.send(`tls:${data}`))
    );
    const client = new impl.WebSocket(
      `wss://localhost:${server.address().port}`,
      {
        rejectUnauthorized: false
      }
    );
    track(() => client.terminate());
    const events = recordEvents(client);
    await events.wait('open');
    client.send('hi');
    const [, data] = await events.wait('message');
    expect(data.toString()).toBe('tls:hi');
    expect(secure).toBe(true);
  });

  it('emits connection with the WebSocket and the request, and tracks clients', async () => {
    const server = await startServer(impl);
    const seen = [];
    server.wss.on('connection', (ws, req) => seen.push([ws, req.url]));
    const peer = await connectRaw(server.port, { path: '/room?id=3' });
    const ws = await server.connection();
    expect(seen).toEqual([[ws, '/room?id=3']]);
    expect(ws).toBeInstanceOf(impl.WebSocket);
    expect(ws.readyState).toBe(impl.WebSocket.OPEN);
    expect([...server.wss.clients]).toEqual([ws]);
    peer.sendClose(1000);
    await once(ws, 'close');
    expect(server.wss.clients.size).toBe(0);
  });

  it('does not track clients with clientTracking false', async () => {
    const server = await startServer(impl, { clientTracking: false });
    await connectRaw(server.port);
    const ws = await server.connection();
    track(() => ws.terminate());
    expect(server.wss.clients).toBe(undefined);
  });

  it('instantiates the WebSocket option', async () => {
    class Tagged extends impl.WebSocket {
      get tag() {
        return 'tagged';
      }
    }
    const server = await startServer(impl, { WebSocket: Tagged });
    await connectRaw(server.port);
    const ws = await server.connection();
    expect(ws).toBeInstanceOf(Tagged);
    expect(ws.tag).toBe('tagged');
  });
});

describeEach('WebSocketServer connection options', (impl) => {
  async function serverPeer(options) {
    const server = await startServer(impl, options);
    const accepted = server.connection();
    const peer = await connectRaw(server.port);
    const ws = await accepted;
    return { ws, peer, events: recordEvents(ws) };
  }

  it('passes maxPayload on (1009 above it, RFC 6455 §7.4.1)', async () => {
    const { peer, events } = await serverPeer({ maxPayload: 10 });
    peer.sendText('0123456789');
    peer.sendText('0123456789A');
    const close = await peer.readUntilClose();
    expect(close.before.map((frame) => frame.opcode)).toEqual([]);
    expect(close.close.code).toBe(1009);
    const [, error] = await events.wait('error');
    expect(error.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect(events.of('message').map(([, data]) => data.toString())).toEqual([
      '0123456789'
    ]);
  });

  it('coerces maxPayload to int32 as ws does', async () => {
    const { peer, events } = await serverPeer({ maxPayload: 2 ** 32 + 10 });
    peer.sendText('0123456789A');
    expect((await peer.readUntilClose()).close.code).toBe(1009);
    expect((await events.wait('error'))[1].code).toBe(
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
    );
  });

  it('passes maxFragments on (1008 past it)', async () => {
    const { peer, events } = await serverPeer({ maxFragments: 2 });
    peer.sendText('a', { fin: false });
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'b', fin: false });
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'c', fin: true });
    expect((await peer.readUntilClose()).close.code).toBe(1008);
    const [, error] = await events.wait('error');
    expect([error.code, error.message]).toEqual([
      'WS_ERR_TOO_MANY_BUFFERED_PARTS',
      'Too many message fragments'
    ]);
  });

  it('passes maxBufferedChunks on (1008 when a frame arrives in too many pieces)', async () => {
    const outcomes = [];
    for (const maxBufferedChunks of [0, 3]) {
      const wss = new impl.WebSocketServer({
        noServer: true,
        maxBufferedChunks
      });
      const [local, remote] = duplexPair();
      track(() => {
        local.destroy();
        remote.destroy();
      });
      const connected = new Promise((resolve) =>
        wss.handleUpgrade(
          { method: 'GET', url: '/', headers: requestHeaders(), socket: local },
          local,
          Buffer.alloc(0),
          resolve
        )
      );
      const { leftover } = await readHead(remote);
      const peer = new RawConnection(remote, 'client', leftover);
      remote.resume();
      const events = recordEvents(await connected);
      // Every write of the pair arrives as its own chunk: the header, then the payload in ten
      // one-byte pieces.
      const frame = encodeFrame({
        opcode: OP.TEXT,
        payload: 'abcdefghij',
        mask: true
      });
      peer.send(frame.subarray(0, 6));
      for (let i = 6; i < frame.length; i++)
        peer.send(frame.subarray(i, i + 1));
      const first = await Promise.race([
        events.wait('message'),
        events.wait('error')
      ]);
      outcomes.push(
        first[0] === 'message'
          ? ['message', first[1].toString()]
          : [
              'error',
              first[1].code,
              first[1].message,
              (await peer.readUntilClose()).close.code
            ]
      );
    }
    expect(outcomes).toEqual([
      ['message', 'abcdefghij'],
      [
        'error',
        'WS_ERR_TOO_MANY_BUFFERED_PARTS',
        'Too many buffered chunks',
        1008
      ]
    ]);
  });

  it('accepts invalid UTF-8 only with skipUTF8Validation', async () => {
    const lax = await serverPeer({ skipUTF8Validation: true });
    lax.peer.sendFrame({ opcode: OP.TEXT, payload: [0xff, 0xfe], mask: true });
    const [, data, isBinary] = await lax.events.wait('message');
    expect([Buffer.from(data), isBinary]).toEqual([
      Buffer.from([0xff, 0xfe]),
      false
    ]);

    const strict = await serverPeer({});
    strict.peer.sendFrame({
      opcode: OP.TEXT,
      payload: [0xff, 0xfe],
      mask: true
    });
    expect((await strict.peer.readUntilClose()).close.code).toBe(1007);
  });

  it('answers pings unless autoPong is false', async () => {
    const auto = await serverPeer({});
    auto.peer.sendFrame({ opcode: OP.PING, payload: 'p1' });
    const pong = await auto.peer.nextFrame();
    expect([pong.opcode, pong.payload.toString()]).toEqual([OP.PONG, 'p1']);

    const manual = await serverPeer({ autoPong: false });
    manual.peer.sendFrame({ opcode: OP.PING, payload: 'p2' });
    const [, data] = await manual.events.wait('ping');
    expect(data.toString()).toBe('p2');
    expect(await manual.peer.framesWithin(100)).toEqual([]);
  });

  it('closes the socket after closeTimeout when the peer never answers the close', async () => {
    const { ws, peer, events } = await serverPeer({ closeTimeout: 150 });
    const start = Date.now();
    ws.close(1000);
    const frame = await peer.nextFrame();
    expect([frame.opcode, frame.code]).toEqual([OP.CLOSE, 1000]);
    const [, code] = await events.wait('close', 2000);
    const elapsed = Date.now() - start;
    expect(code).toBe(1006);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1500);
  });

  it('emits messages of one chunk in separate ticks with allowSynchronousEvents false', async () => {
    const orders = [];
    for (const allowSynchronousEvents of [true, false]) {
      const { ws, peer } = await serverPeer({ allowSynchronousEvents });
      const order = [];
      ws.on('message', (data) => {
        order.push(data.toString());
        process.nextTick(() => order.push(`tick-${data}`));
      });
      peer.send(
        Buffer.concat([
          peer.encode({ opcode: OP.TEXT, payload: 'a' }),
          peer.encode({ opcode: OP.TEXT, payload: 'b' })
        ])
      );
      await within(
        new Promise((resolve) => {
          const poll = () =>
            order.length === 4 ? resolve() : setTimeout(poll, 5);
          poll();
        }),
        2000,
        'both messages'
      );
      orders.push(order);
    }
    expect(orders).toEqual([
      ['a', 'b', 'tick-a', 'tick-b'],
      ['a', 'tick-a', 'b', 'tick-b']
    ]);
  });
});

describeEach('WebSocketServer#handleUpgrade', (impl) => {
  it('completes an upgrade over any Duplex and then speaks WebSocket on it', async () => {
    const wss = new impl.WebSocketServer({ noServer: true });
    const [local, remote] = duplexPair();
    track(() => {
      local.destroy();
      remote.destroy();
    });
    const req = { method: 'GET', url: '/', headers: requestHeaders() };
    const head = encodeFrame({
      opcode: OP.TEXT,
      payload: 'from head',
      mask: true
    });
    const connected = new Promise((resolve) =>
      wss.handleUpgrade(req, local, head, (ws, request) =>
        resolve([ws, request])
      )
    );
    const response = readHead(remote);
    const [ws, request] = await connected;
    expect(request).toBe(req);
    const events = recordEvents(ws);
    const { head: responseHead, leftover } = await response;
    expect(responseHead).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`
    );
    const peer = new RawConnection(remote, 'client', leftover);
    remote.resume();

    const [, first] = await events.wait('message');
    expect(first.toString()).toBe('from head');
    peer.sendText('from stream');
    await events.waitCount('message', 2);
    expect(events.of('message')[1][1].toString()).toBe('from stream');
    ws.send('reply');
    const frame = await peer.nextFrame();
    expect([frame.opcode, frame.masked, frame.payload.toString()]).toEqual([
      OP.TEXT,
      false,
      'reply'
    ]);
    expect(wss.clients.has(ws)).toBe(true);
  });

  it('throws when called twice for the same socket', async () => {
    const wss = new impl.WebSocketServer({ noServer: true });
    const [local, remote] = duplexPair();
    track(() => {
      local.destroy();
      remote.destroy();
    });
    const req = { method: 'GET', url: '/', headers: requestHeaders() };
    let connections = 0;
    wss.handleUpgrade(req, local, Buffer.alloc(0), () => connections++);
    expect(() =>
      wss.handleUpgrade(req, local, Buffer.alloc(0), () => connections++)
    ).toThrow(
      new Error(
        'server.handleUpgrade() was called more than once with the same socket, possibly due ' +
          'to a misconfiguration'
      )
    );
    expect(connections).toBe(1);
  });

  it('destroys a socket whose peer already ended without answering', async () => {
    const wss = new impl.WebSocketServer({ noServer: true });
    const [local, remote] = duplexPair();
    const received = collect(remote);
    remote.end();
    local.resume();
    await once(local, 'end');
    let connected = false;
    wss.handleUpgrade(
      { method: 'GET', url: '/', headers: requestHeaders() },
      local,
      Buffer.alloc(0),
      () => (connected = true)
    );
    expect(local.destroyed).toBe(true);
    await sleep(10);
    expect([connected, received()]).toEqual([false, '']);
  });

  it('answers a bad request written to a Duplex and destroys it once written', async () => {
    const wss = new impl.WebSocketServer({ noServer: true });
    const [local, remote] = duplexPair();
    const received = collect(remote);
    const closed = once(local, 'close');
    wss.handleUpgrade(
      {
        method: 'GET',
        url: '/',
        headers: requestHeaders({ 'sec-websocket-version': '7' })
      },
      local,
      Buffer.alloc(0),
      () => {}
    );
    await closed;
    expect(received()).toBe(
      rejection(
        '400 Bad Request',
        'Missing or invalid Sec-WebSocket-Version header',
        'Sec-WebSocket-Version: 13, 8\r\n'
      )
    );
  });

  it('destroys the socket when it errors during the handshake', async () => {
    let done;
    const wss = new impl.WebSocketServer({
      noServer: true,
      verifyClient: (info, callback) => (done = callback)
    });
    const socket = new Duplex({
      read() {},
      write(chunk, encoding, callback) {
        callback();
      }
    });
    wss.handleUpgrade(
      { method: 'GET', url: '/', headers: requestHeaders(), socket },
      socket,
      Buffer.alloc(0),
      () => {}
    );
    socket.emit('error', new Error('reset'));
    expect(socket.destroyed).toBe(true);
    expect(typeof done).toBe('function');
  });

  it('feeds upgrades from a shared http server in noServer mode', async () => {
    const { server, port } = await startHttpServer((req, res) =>
      res.end('plain')
    );
    const wss = new impl.WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/ws') {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) =>
        wss.emit('connection', ws, req, 'extra')
      );
    });
    const connected = once(wss, 'connection');
    const peer = await connectRaw(port, { path: '/ws' });
    const [ws, req, extra] = await connected;
    track(() => ws.terminate());
    expect([req.url, extra]).toEqual(['/ws', 'extra']);
    ws.send('over noServer');
    expect((await peer.nextFrame()).payload.toString()).toBe('over noServer');
  });
});

describeEach('WebSocketServer#close', (impl) => {
  it('closes its own HTTP server once the connections are gone, leaving them open', async () => {
    const server = await startServer(impl);
    const peer = await connectRaw(server.port);
    const ws = await server.connection();
    let closedWith = 'pending';
    server.wss.close((error) => (closedWith = error));
    await sleep(50);
    expect(closedWith).toBe('pending');
    await expect(openSocket(server.port)).rejects.toThrow(/ECONNREFUSED/);
    ws.send('still open');
    expect((await peer.nextFrame()).payload.toString()).toBe('still open');
    peer.sendClose(1000);
    await within(
      new Promise((resolve) => {
        const poll = () =>
          closedWith !== 'pending' ? resolve() : setTimeout(poll, 5);
        poll();
      }),
      3000,
      'the close callback'
    );
    expect(closedWith).toBe(undefined);
  });

  it('calls back with an error when already closed, and emits close again', async () => {
    const wss = new impl.WebSocketServer({ noServer: true });
    await new Promise((resolve) => wss.close(resolve));
    let closes = 0;
    wss.on('close', () => closes++);
    const [error] = await new Promise((resolve) =>
      wss.close((...args) => resolve(args))
    );
    expect(error).toEqual(new Error('The server is not running'));
    expect(closes).toBe(1);
  });

  it('emits close on the next tick in noServer mode without clients', async () => {
    const wss = new impl.WebSocketServer({ noServer: true });
    let closed = false;
    wss.close(() => (closed = true));
    expect(closed).toBe(false);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(closed).toBe(true);
  });

  it('waits for tracked clients in server mode and keeps the HTTP server', async () => {
    const { server, port } = await startHttpServer();
    const wss = new impl.WebSocketServer({ server });
    const connected = once(wss, 'connection');
    const peer = await connectRaw(port);
    const [ws] = await connected;
    expect(server.listenerCount('upgrade')).toBe(1);
    let closed = false;
    wss.close(() => (closed = true));
    expect(server.listenerCount('upgrade')).toBe(0);
    expect(server.listenerCount('error')).toBe(0);
    await sleep(30);
    expect(closed).toBe(false);
    peer.sendClose(1000);
    await once(ws, 'close');
    await sleep(10);
    expect(closed).toBe(true);
    expect(server.listening).toBe(true);
  });

  it('does not wait for connections when clientTracking is false', async () => {
    const { server, port } = await startHttpServer();
    const wss = new impl.WebSocketServer({ server, clientTracking: false });
    const connected = once(wss, 'connection');
    await connectRaw(port);
    const [ws] = await connected;
    track(() => ws.terminate());
    await new Promise((resolve) => wss.close(resolve));
    expect(ws.readyState).toBe(impl.WebSocket.OPEN);
  });
});
