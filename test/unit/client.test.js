// lib/client.js through the WebSocket constructor: argument checks, the bytes
// of the upgrade request, every response check, redirects (with credential
// stripping across hosts, schemes and unix sockets), timeouts and aborts.
// Servers here are plain Node http/https servers answering the upgrade by
// hand, so each test controls the exact response.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { selfSignedCertificate } from '../helpers/certificate.js';

import {
  acceptFor,
  destroyRawSockets,
  RawConnection,
  readHead
} from '../helpers/raw-client.js';
import { OP, encodeFrame } from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../lib/websocket.js');

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsn-client-test-'));
let tlsCredentials;
let socketCounter = 0;
const cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  destroyRawSockets();
});

afterAll(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

/** A fresh unix socket path in the test's temporary directory. */
function socketPath() {
  return path.join(tmpDir, `s${++socketCounter}.sock`);
}

/** A self-signed certificate for localhost, made once per file. */
function credentials() {
  if (!tlsCredentials) tlsCredentials = selfSignedCertificate('localhost');
  return tlsCredentials;
}

/**
 * An http (or https) server whose upgrade requests go to `onUpgrade(req,
 * socket, head)`. Listens on 127.0.0.1 or on a unix socket path.
 */
async function listen(onUpgrade, { secure = false, ipc } = {}) {
  const server = secure
    ? https.createServer(credentials())
    : http.createServer();
  const sockets = new Set();
  server.on(secure ? 'secureConnection' : 'connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', onUpgrade);
  server.on('request', (req, res) => {
    res.statusCode = 400;
    res.end();
  });
  await new Promise((resolve) => {
    if (ipc) server.listen(ipc, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { server, port: ipc ? undefined : server.address().port };
}

/**
 * Answers an upgrade with 101 (plus `headers`) and returns the raw peer.
 */
function complete(req, socket, head, headers = {}) {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'])}`
  ];
  for (const [name, value] of Object.entries(headers)) {
    lines.push(`${name}: ${value}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return new RawConnection(socket, 'server', head);
}

/** Writes a whole raw HTTP response and ends the socket. */
function answer(socket, text) {
  socket.end(text);
}

function redirect(socket, location, status = 302) {
  answer(
    socket,
    `HTTP/1.1 ${status} Found\r\nLocation: ${location}\r\n` +
      'Content-Length: 0\r\nConnection: close\r\n\r\n'
  );
}

/**
 * Resolves with what the WebSocket did until 'close': the events in order,
 * the error, the close code and reason.
 */
function outcome(ws) {
  return new Promise((resolve) => {
    const events = [];
    let error = null;
    ws.on('open', () => events.push('open'));
    ws.on('upgrade', () => events.push('upgrade'));
    ws.on('error', (err) => {
      events.push('error');
      error = err;
    });
    ws.on('close', (code, reason) => {
      events.push('close');
      resolve({ events, error, code, reason, readyState: ws.readyState });
    });
  });
}

function once(emitter, event) {
  return new Promise((resolve) => {
    emitter.once(event, (...args) => resolve(args));
  });
}

/** A server that records each upgrade request and completes it. */
async function recordingServer(options = {}, headers = {}) {
  const requests = [];
  const { port } = await listen((req, socket, head) => {
    requests.push(req);
    complete(req, socket, head, headers);
  }, options);
  return { port, requests };
}

describe('constructor argument checks', () => {
  it('throws SyntaxError for an unparsable URL', () => {
    expect(() => new WebSocket('foo')).toThrow(
      new SyntaxError('Invalid URL: foo')
    );
    expect(() => new WebSocket('')).toThrow(new SyntaxError('Invalid URL: '));
  });

  it('throws SyntaxError for a scheme other than ws, wss, http, https, ws+unix', () => {
    for (const url of ['ftp://localhost', 'file:///tmp/x', 'wss+unix:/x']) {
      expect(() => new WebSocket(url)).toThrow(
        new SyntaxError(
          'The URL\'s protocol must be one of "ws:", "wss:", "http:", ' +
            '"https:", or "ws+unix:"'
        )
      );
    }
  });

  it('throws SyntaxError for a fragment identifier', () => {
    expect(() => new WebSocket('ws://localhost/#frag')).toThrow(
      new SyntaxError('The URL contains a fragment identifier')
    );
    expect(() => new WebSocket(new URL('ws://localhost/#x'))).toThrow(
      SyntaxError
    );
  });

  it('throws SyntaxError for a ws+unix URL without a path', () => {
    expect(() => new WebSocket('ws+unix:')).toThrow(
      new SyntaxError("The URL's pathname is empty")
    );
  });

  it('throws SyntaxError for invalid or duplicated subprotocols', () => {
    const message = 'An invalid or duplicated subprotocol was specified';
    for (const protocols of [
      '',
      'a b',
      'a,b',
      ['chat', 'chat'],
      ['ok', 'bad"quote'],
      [1],
      [null],
      null,
      'é'
    ]) {
      expect(() => new WebSocket('ws://localhost:1', protocols)).toThrow(
        new SyntaxError(message)
      );
    }
  });

  it('throws RangeError for a protocolVersion other than 8 or 13', () => {
    for (const protocolVersion of [0, 7, 12, 14, '13']) {
      expect(
        () => new WebSocket('ws://localhost:1', { protocolVersion })
      ).toThrow(
        new RangeError(
          `Unsupported protocol version: ${protocolVersion} ` +
            '(supported versions: 8, 13)'
        )
      );
    }
  });

  it('checks protocolVersion before the URL', () => {
    expect(() => new WebSocket('nope', { protocolVersion: 1 })).toThrow(
      RangeError
    );
  });

  it('is CONNECTING with the url, constants and default attributes', async () => {
    const { port } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/a?b=c`);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/a?b=c`);
    expect(ws.protocol).toBe('');
    expect(ws.extensions).toBe('');
    expect(ws.binaryType).toBe('nodebuffer');
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.isPaused).toBe(false);
    await once(ws, 'open');
    ws.terminate();
    await once(ws, 'close');
  });

  it('rewrites http: to ws: and https: to wss: (also in a URL object)', async () => {
    const { port } = await recordingServer();
    const address = new URL(`http://127.0.0.1:${port}/x`);
    const ws = new WebSocket(address);
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/x`);
    await once(ws, 'open');
    ws.terminate();
    await once(ws, 'close');

    const secure = new WebSocket('https://127.0.0.1:1/', {
      perMessageDeflate: false
    });
    expect(secure.url).toBe('wss://127.0.0.1:1/');
    const result = outcome(secure);
    expect((await result).error.code).toBe('ECONNREFUSED');
  });

  it('accepts the options in place of the protocols', async () => {
    const { port, requests } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      headers: { 'X-Test': 'yes' }
    });
    await once(ws, 'open');
    expect(requests[0].headers['x-test']).toBe('yes');
    expect(requests[0].headers['sec-websocket-protocol']).toBe(undefined);
    ws.terminate();
  });
});

describe('the upgrade request', () => {
  it('is a GET with the RFC 6455 §4.1 headers and a fresh 16-byte key', async () => {
    const { port, requests } = await recordingServer();
    const first = new WebSocket(`ws://127.0.0.1:${port}/chat?room=1`);
    await once(first, 'open');
    const second = new WebSocket(`ws://127.0.0.1:${port}/`);
    await once(second, 'open');

    const [req] = requests;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/chat?room=1');
    expect(req.headers.host).toBe(`127.0.0.1:${port}`);
    expect(req.headers.connection).toBe('Upgrade');
    expect(req.headers.upgrade).toBe('websocket');
    expect(req.headers['sec-websocket-version']).toBe('13');
    const key = req.headers['sec-websocket-key'];
    expect(key).toMatch(/^[+/0-9A-Za-z]{22}==$/);
    expect(Buffer.from(key, 'base64')).toHaveLength(16);
    expect(requests[1].headers['sec-websocket-key']).not.toBe(key);
    expect(req.headers.origin).toBe(undefined);
    first.terminate();
    second.terminate();
  });

  it('offers permessage-deflate by default and not when disabled', async () => {
    const { port, requests } = await recordingServer();
    const withDeflate = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(withDeflate, 'open');
    const without = new WebSocket(`ws://127.0.0.1:${port}`, {
      perMessageDeflate: false
    });
    await once(without, 'open');
    expect(requests[0].headers['sec-websocket-extensions']).toMatch(
      /^permessage-deflate(;|$)/
    );
    expect(requests[0].headers['sec-websocket-extensions']).toContain(
      'client_max_window_bits'
    );
    expect(requests[1].headers['sec-websocket-extensions']).toBe(undefined);
    // No extension in the response: none is in use.
    expect(withDeflate.extensions).toBe('');
    withDeflate.terminate();
    without.terminate();
  });

  it('sends the subprotocols comma-separated', async () => {
    const { port, requests } = await recordingServer(
      {},
      { 'Sec-WebSocket-Protocol': 'b' }
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, ['a', 'b', 'c.d']);
    await once(ws, 'open');
    expect(requests[0].headers['sec-websocket-protocol']).toBe('a,b,c.d');
    expect(ws.protocol).toBe('b');
    ws.terminate();
  });

  it('accepts a single subprotocol as a string', async () => {
    const { port, requests } = await recordingServer(
      {},
      { 'Sec-WebSocket-Protocol': 'chat' }
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, 'chat');
    await once(ws, 'open');
    expect(requests[0].headers['sec-websocket-protocol']).toBe('chat');
    expect(ws.protocol).toBe('chat');
    ws.terminate();
  });

  it('sends origin as Origin (v13) or Sec-WebSocket-Origin (v8)', async () => {
    const { port, requests } = await recordingServer();
    const v13 = new WebSocket(`ws://127.0.0.1:${port}`, {
      origin: 'https://example.com'
    });
    await once(v13, 'open');
    const v8 = new WebSocket(`ws://127.0.0.1:${port}`, {
      origin: 'https://example.org',
      protocolVersion: 8
    });
    await once(v8, 'open');
    expect(requests[0].headers.origin).toBe('https://example.com');
    expect(requests[0].headers['sec-websocket-origin']).toBe(undefined);
    expect(requests[1].headers['sec-websocket-origin']).toBe(
      'https://example.org'
    );
    expect(requests[1].headers.origin).toBe(undefined);
    expect(requests[1].headers['sec-websocket-version']).toBe('8');
    v13.terminate();
    v8.terminate();
  });

  it('sends URL credentials as Basic authorization', async () => {
    const { port, requests } = await recordingServer();
    const ws = new WebSocket(`ws://alice:s3cret@127.0.0.1:${port}`);
    await once(ws, 'open');
    expect(requests[0].headers.authorization).toBe(
      'Basic ' + Buffer.from('alice:s3cret').toString('base64')
    );
    ws.terminate();
  });

  it('lets user headers through but never over the handshake headers', async () => {
    const { port, requests } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      headers: {
        Cookie: 'a=1',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        Upgrade: 'nope'
      }
    });
    await once(ws, 'open');
    expect(requests[0].headers.cookie).toBe('a=1');
    expect(requests[0].headers.upgrade).toBe('websocket');
    expect(requests[0].headers['sec-websocket-key']).not.toBe(
      'dGhlIHNhbXBsZSBub25jZQ=='
    );
    ws.terminate();
  });

  it('ignores the request-target options a user passes (they come from the URL)', async () => {
    const { port, requests } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/right`, {
      path: '/wrong',
      method: 'POST',
      host: 'example.invalid',
      port: 1
    });
    await once(ws, 'open');
    expect(requests[0].url).toBe('/right');
    expect(requests[0].method).toBe('GET');
    ws.terminate();
  });

  it('lets finishRequest edit and send the request', async () => {
    const { port, requests } = await recordingServer();
    let args;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      finishRequest(request, websocket) {
        args = [request, websocket];
        request.setHeader('X-Finished', '1');
        request.end();
      }
    });
    expect(args[0]).toBeInstanceOf(http.ClientRequest);
    expect(args[1]).toBe(ws);
    await once(ws, 'open');
    expect(requests[0].headers['x-finished']).toBe('1');
    ws.terminate();
  });

  it('uses createConnection to open the socket', async () => {
    const { port } = await recordingServer();
    const calls = [];
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      createConnection(options) {
        calls.push({ host: options.host, port: options.port });
        return net.connect(options.port, options.host);
      }
    });
    await once(ws, 'open');
    expect(calls).toEqual([{ host: '127.0.0.1', port: String(port) }]);
    ws.terminate();
  });

  it('uses the agent option', async () => {
    const { port } = await recordingServer();
    let added = 0;
    class CountingAgent extends http.Agent {
      addRequest(req, options) {
        added++;
        return super.addRequest(req, options);
      }
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      agent: new CountingAgent()
    });
    await once(ws, 'open');
    expect(added).toBe(1);
    ws.terminate();
  });

  it('connects over a unix socket with ws+unix:', async () => {
    const ipc = socketPath();
    const { requests } = await recordingServer({ ipc });
    const ws = new WebSocket(`ws+unix:${ipc}:/over/ipc?x=1`);
    await once(ws, 'open');
    expect(requests[0].url).toBe('/over/ipc?x=1');
    ws.terminate();
  });

  it('defaults the request path to / for ws+unix: without a path part', async () => {
    const ipc = socketPath();
    const { requests } = await recordingServer({ ipc });
    const ws = new WebSocket(`ws+unix:${ipc}`);
    await once(ws, 'open');
    expect(requests[0].url).toBe('/');
    ws.terminate();
  });
});

describe('wss: and TLS options', () => {
  let secure;
  const servernames = [];

  beforeAll(async () => {
    secure = await listen(
      (req, socket, head) => {
        servernames.push(socket.servername);
        complete(req, socket, head);
      },
      { secure: true }
    );
    // listen() registered the server for per-test cleanup; keep it.
    secure.cleanup = cleanups.pop();
  });

  afterAll(() => secure.cleanup());

  it('fails on an untrusted certificate, with error then close 1006', async () => {
    const ws = new WebSocket(`wss://localhost:${secure.port}`);
    const result = await outcome(ws);
    expect(result.events).toEqual(['error', 'close']);
    expect(result.error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(result.code).toBe(1006);
    expect(result.readyState).toBe(WebSocket.CLOSED);
  });

  it('passes TLS options through and sends SNI for host names only', async () => {
    const byName = new WebSocket(`wss://localhost:${secure.port}`, {
      rejectUnauthorized: false
    });
    await once(byName, 'open');
    const byAddress = new WebSocket(`wss://127.0.0.1:${secure.port}`, {
      ca: credentials().cert,
      checkServerIdentity: () => undefined
    });
    await once(byAddress, 'open');
    expect(servernames.slice(-2)).toEqual(['localhost', false]);
    byName.terminate();
    byAddress.terminate();
  });
});

describe('response checks', () => {
  async function failWith(respond, options = {}, protocols) {
    const { port } = await listen((req, socket, head) => {
      const key = req.headers['sec-websocket-key'];
      respond({ req, socket, head, accept: acceptFor(key) });
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, protocols, options);
    return outcome(ws);
  }

  function upgradeResponse(lines) {
    return `HTTP/1.1 101 Switching Protocols\r\n${lines.join('\r\n')}\r\n\r\n`;
  }

  it('fails when the Upgrade header cannot be read (CVE-2024-37890)', async () => {
    // Node still upgrades (the parser saw the header) but, past
    // maxHeadersCount, res.headers lacks it.
    const { port } = await listen((req, socket) => {
      const accept = acceptFor(req.headers['sec-websocket-key']);
      socket.write(
        upgradeResponse([
          'Connection: Upgrade',
          'Upgrade: websocket',
          `Sec-WebSocket-Accept: ${accept}`
        ])
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws._req.maxHeadersCount = 1;
    let headers;
    ws.on('upgrade', (res) => {
      headers = res.headers;
    });
    const result = await outcome(ws);
    expect(headers).toEqual({ connection: 'Upgrade' });
    expect(result.events).toEqual(['upgrade', 'error', 'close']);
    expect(result.error.message).toBe('Invalid Upgrade header');
    expect(result.code).toBe(1006);
  });

  it('fails when the Upgrade header is not websocket', async () => {
    const result = await failWith(({ socket, accept }) => {
      socket.write(
        upgradeResponse([
          'Upgrade: h2c',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${accept}`
        ])
      );
    });
    expect(result.error.message).toBe('Invalid Upgrade header');
  });

  it('accepts the Upgrade token in any case', async () => {
    const { port } = await listen((req, socket, head) => {
      const accept = acceptFor(req.headers['sec-websocket-key']);
      socket.write(
        upgradeResponse([
          'Upgrade: WebSocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${accept}`
        ])
      );
      return new RawConnection(socket, 'server', head);
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(ws, 'open');
    ws.terminate();
  });

  it('fails on a missing or wrong Sec-WebSocket-Accept', async () => {
    const missing = await failWith(({ socket }) => {
      socket.write(
        upgradeResponse(['Upgrade: websocket', 'Connection: Upgrade'])
      );
    });
    expect(missing.error.message).toBe('Invalid Sec-WebSocket-Accept header');
    const wrong = await failWith(({ socket }) => {
      socket.write(
        upgradeResponse([
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${acceptFor('dGhlIHNhbXBsZSBub25jZQ==')}`
        ])
      );
    });
    expect(wrong.error.message).toBe('Invalid Sec-WebSocket-Accept header');
    expect(wrong.events).toEqual(['upgrade', 'error', 'close']);
  });

  it('fails on a subprotocol when none was requested', async () => {
    const result = await failWith(({ req, socket, head }) => {
      complete(req, socket, head, { 'Sec-WebSocket-Protocol': 'chat' });
    });
    expect(result.error.message).toBe(
      'Server sent a subprotocol but none was requested'
    );
  });

  it('fails on a subprotocol that was not offered', async () => {
    const result = await failWith(
      ({ req, socket, head }) => {
        complete(req, socket, head, { 'Sec-WebSocket-Protocol': 'other' });
      },
      {},
      ['chat', 'superchat']
    );
    expect(result.error.message).toBe('Server sent an invalid subprotocol');
  });

  it('fails when no subprotocol comes back for an offer', async () => {
    const result = await failWith(
      ({ req, socket, head }) => {
        complete(req, socket, head);
      },
      {},
      ['chat']
    );
    expect(result.error.message).toBe('Server sent no subprotocol');
  });

  it('fails on an extension header when none was offered', async () => {
    const result = await failWith(
      ({ req, socket, head }) => {
        complete(req, socket, head, {
          'Sec-WebSocket-Extensions': 'permessage-deflate'
        });
      },
      { perMessageDeflate: false }
    );
    expect(result.error.message).toBe(
      'Server sent a Sec-WebSocket-Extensions header but no extension was ' +
        'requested'
    );
  });

  it('fails on an unparsable extension header', async () => {
    const result = await failWith(({ req, socket, head }) => {
      complete(req, socket, head, {
        'Sec-WebSocket-Extensions': 'permessage-deflate; ='
      });
    });
    expect(result.error.message).toBe(
      'Invalid Sec-WebSocket-Extensions header'
    );
  });

  it('fails on an extension that was not offered', async () => {
    const result = await failWith(({ req, socket, head }) => {
      complete(req, socket, head, {
        'Sec-WebSocket-Extensions': 'permessage-deflate, x-foo'
      });
    });
    expect(result.error.message).toBe(
      'Server indicated an extension that was not requested'
    );
  });

  it('fails on unacceptable permessage-deflate parameters', async () => {
    const result = await failWith(({ req, socket, head }) => {
      complete(req, socket, head, {
        'Sec-WebSocket-Extensions':
          'permessage-deflate; server_max_window_bits=4'
      });
    });
    expect(result.error.message).toBe(
      'Invalid Sec-WebSocket-Extensions header'
    );
  });

  it('records the negotiated permessage-deflate', async () => {
    const { port } = await recordingServer(
      {},
      {
        'Sec-WebSocket-Extensions':
          'permessage-deflate; server_no_context_takeover'
      }
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(ws, 'open');
    expect(ws.extensions).toBe('permessage-deflate');
    expect(ws._extensions['permessage-deflate'].params).toMatchObject({
      server_no_context_takeover: true
    });
    ws.terminate();
  });

  it('fails with "Unexpected server response: N" for a non-101 answer', async () => {
    const result = await failWith(({ socket }) => {
      answer(
        socket,
        'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
      );
    });
    expect(result.events).toEqual(['error', 'close']);
    expect(result.error.message).toBe('Unexpected server response: 403');
    expect(result.code).toBe(1006);
    expect(result.reason).toEqual(Buffer.alloc(0));
    expect(result.readyState).toBe(WebSocket.CLOSED);
  });

  it('hands a non-101 answer to an unexpected-response listener instead', async () => {
    const { port } = await listen((req, socket) => {
      answer(
        socket,
        'HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\nX-Why: token\r\n\r\nnope'
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const errors = [];
    ws.on('error', (err) => errors.push(err.message));
    const [req, res] = await once(ws, 'unexpected-response');
    expect(req).toBeInstanceOf(http.ClientRequest);
    expect(res).toBeInstanceOf(http.IncomingMessage);
    expect(res.statusCode).toBe(401);
    expect(res.headers['x-why']).toBe('token');
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toEqual([]);
    // Giving up is the listener's call.
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const [code] = await once(ws, 'close');
    expect(errors).toEqual([
      'WebSocket was closed before the connection was established'
    ]);
    expect(code).toBe(1006);
  });

  it("emits 'upgrade' with the response before 'open'", async () => {
    const { port } = await recordingServer({}, { 'X-Extra': 'here' });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const events = [];
    ws.on('upgrade', (res) => {
      events.push(['upgrade', res.statusCode, res.headers['x-extra']]);
      expect(ws.readyState).toBe(WebSocket.CONNECTING);
    });
    ws.on('open', () => events.push(['open', ws.readyState]));
    await once(ws, 'open');
    expect(events).toEqual([
      ['upgrade', 101, 'here'],
      ['open', WebSocket.OPEN]
    ]);
    ws.terminate();
  });

  it("stops if an 'upgrade' listener closes the WebSocket", async () => {
    const { port } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.on('upgrade', () => ws.close());
    const result = await outcome(ws);
    expect(result.events).toEqual(['upgrade', 'error', 'close']);
    expect(result.error.message).toBe(
      'WebSocket was closed before the connection was established'
    );
    expect(result.code).toBe(1006);
  });

  it('delivers frames that arrive in the same packet as the 101', async () => {
    const { port } = await listen((req, socket) => {
      const accept = acceptFor(req.headers['sec-websocket-key']);
      socket.write(
        Buffer.concat([
          Buffer.from(
            upgradeResponse([
              'Upgrade: websocket',
              'Connection: Upgrade',
              `Sec-WebSocket-Accept: ${accept}`
            ])
          ),
          encodeFrame({ opcode: OP.TEXT, payload: 'early' }),
          encodeFrame({ opcode: OP.BINARY, payload: [1, 2] })
        ])
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const messages = [];
    const received = new Promise((resolve) => {
      ws.on('message', (data, isBinary) => {
        messages.push([data, isBinary]);
        if (messages.length === 2) resolve();
      });
    });
    await received;
    expect(messages).toEqual([
      [Buffer.from('early'), false],
      [Buffer.from([1, 2]), true]
    ]);
    ws.terminate();
  });
});

describe('aborting the handshake', () => {
  it('close() while connecting: error then close 1006, nothing sent after', async () => {
    const { port, requests } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const result = outcome(ws);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const { events, error, code } = await result;
    expect(events).toEqual(['error', 'close']);
    expect(error.message).toBe(
      'WebSocket was closed before the connection was established'
    );
    expect(code).toBe(1006);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    expect(requests).toHaveLength(0);
  });

  it('terminate() while connecting behaves like close()', async () => {
    const { port } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const result = outcome(ws);
    ws.terminate();
    const { events, error } = await result;
    expect(events).toEqual(['error', 'close']);
    expect(error.message).toBe(
      'WebSocket was closed before the connection was established'
    );
    // Both are no-ops once closed.
    ws.close();
    ws.terminate();
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('send, ping and pong throw while connecting', async () => {
    const { port } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const message = 'WebSocket is not open: readyState 0 (CONNECTING)';
    expect(() => ws.send('x')).toThrow(new Error(message));
    expect(() => ws.ping()).toThrow(new Error(message));
    expect(() => ws.pong()).toThrow(new Error(message));
    // pause() and resume() are no-ops.
    ws.pause();
    ws.resume();
    expect(ws.isPaused).toBe(false);
    await once(ws, 'open');
    ws.terminate();
  });

  it('times out per handshakeTimeout when the server never answers', async () => {
    const sockets = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const started = Date.now();
    const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}`, {
      handshakeTimeout: 150
    });
    const { events, error, code } = await outcome(ws);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(events).toEqual(['error', 'close']);
    expect(error.message).toBe('Opening handshake has timed out');
    expect(code).toBe(1006);
  });

  it('reports a connection error, then close 1006', async () => {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const { events, error, code, reason } = await outcome(ws);
    expect(events).toEqual(['error', 'close']);
    expect(error.code).toBe('ECONNREFUSED');
    expect(code).toBe(1006);
    expect(reason).toEqual(Buffer.alloc(0));
  });

  it('counts data sent after a failed handshake in bufferedAmount', async () => {
    const { port } = await recordingServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.on('error', () => {});
    ws.close();
    const errors = [];
    ws.send('héllo', (err) => errors.push(err.message));
    ws.send(new Uint8Array(10));
    ws.ping(Buffer.alloc(3), (err) => errors.push(err.message));
    expect(ws.bufferedAmount).toBe(6 + 10 + 3);
    await once(ws, 'close');
    ws.pong('ab', true, (err) => errors.push(err.message));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ws.bufferedAmount).toBe(21);
    expect(errors).toEqual([
      'WebSocket is not open: readyState 2 (CLOSING)',
      'WebSocket is not open: readyState 2 (CLOSING)',
      'WebSocket is not open: readyState 3 (CLOSED)'
    ]);
  });
});

describe('redirects', () => {
  /**
   * A server that answers the first `count` requests with a redirect to
   * `target()` and completes the rest. Records every request.
   */
  async function redirectingServer(target, { count = 1, ipc } = {}) {
    const requests = [];
    const server = await listen(
      (req, socket, head) => {
        requests.push(req);
        if (requests.length <= count) redirect(socket, target(req));
        else complete(req, socket, head);
      },
      { ipc }
    );
    return { ...server, requests };
  }

  it('treats a 3xx as an unexpected response unless followRedirects is set', async () => {
    const { port } = await redirectingServer(() => '/elsewhere');
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const { error } = await outcome(ws);
    expect(error.message).toBe('Unexpected server response: 302');
  });

  it('follows a relative Location and updates url', async () => {
    const { port, requests } = await redirectingServer(() => '/next?x=1');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/first`, {
      followRedirects: true
    });
    await once(ws, 'open');
    expect(requests.map((req) => req.url)).toEqual(['/first', '/next?x=1']);
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/next?x=1`);
    ws.terminate();
  });

  it('follows http(s) Locations as ws(s)', async () => {
    const target = await recordingServer();
    const { port } = await redirectingServer(
      () => `http://127.0.0.1:${target.port}/plain`
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      followRedirects: true
    });
    await once(ws, 'open');
    expect(ws.url).toBe(`ws://127.0.0.1:${target.port}/plain`);
    expect(target.requests[0].url).toBe('/plain');
    ws.terminate();
  });

  it('fails with "Maximum redirects exceeded" past maxRedirects', async () => {
    const { port, requests } = await redirectingServer(() => '/again', {
      count: Infinity
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      followRedirects: true,
      maxRedirects: 2
    });
    const { events, error, code } = await outcome(ws);
    expect(requests).toHaveLength(3);
    expect(events).toEqual(['error', 'close']);
    expect(error.message).toBe('Maximum redirects exceeded');
    expect(code).toBe(1006);
  });

  it('emits (not throws) SyntaxError for a bad redirect target', async () => {
    const cases = [
      [
        'ftp://127.0.0.1/',
        'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"'
      ],
      ['/with#fragment', 'The URL contains a fragment identifier'],
      ['ws://', 'Invalid URL: ws://']
    ];
    for (const [location, message] of cases) {
      const { port } = await redirectingServer(() => location);
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
        followRedirects: true
      });
      const { events, error, code } = await outcome(ws);
      expect(events).toEqual(['error', 'close']);
      expect(error).toBeInstanceOf(SyntaxError);
      expect(error.message).toBe(message);
      expect(code).toBe(1006);
    }
  });

  it("emits 'redirect' with the new url and request before sending it", async () => {
    const { port } = await redirectingServer(() => '/moved');
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      followRedirects: true
    });
    const seen = [];
    ws.on('redirect', (url, req) => {
      seen.push([url, req instanceof http.ClientRequest, req.headersSent]);
      req.setHeader('X-From-Listener', 'yes');
    });
    await once(ws, 'open');
    expect(seen).toEqual([[`ws://127.0.0.1:${port}/moved`, true, false]]);
    ws.terminate();
  });

  describe('credential stripping', () => {
    const secrets = {
      Authorization: 'Bearer token',
      Cookie: 'session=1',
      'X-Keep': 'kept'
    };

    function credentialsOf(req) {
      return {
        authorization: req.headers.authorization,
        cookie: req.headers.cookie,
        keep: req.headers['x-keep']
      };
    }

    it('keeps Authorization and Cookie on the same host and port', async () => {
      const { port, requests } = await redirectingServer(() => '/same');
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
        followRedirects: true,
        headers: secrets
      });
      await once(ws, 'open');
      expect(credentialsOf(requests[1])).toEqual({
        authorization: 'Bearer token',
        cookie: 'session=1',
        keep: 'kept'
      });
      ws.terminate();
    });

    it('drops them (and Host) for another host', async () => {
      const target = await recordingServer();
      const { port } = await redirectingServer(
        () => `ws://localhost:${target.port}/`
      );
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
        followRedirects: true,
        headers: { ...secrets, host: 'custom.example' }
      });
      await once(ws, 'open');
      expect(credentialsOf(target.requests[0])).toEqual({
        authorization: undefined,
        cookie: undefined,
        keep: 'kept'
      });
      expect(target.requests[0].headers.host).toBe(`localhost:${target.port}`);
      ws.terminate();
    });

    it('drops them for the same host name on another port', async () => {
      const target = await recordingServer();
      const { port } = await redirectingServer(
        () => `ws://127.0.0.1:${target.port}/`
      );
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
        followRedirects: true,
        headers: secrets
      });
      await once(ws, 'open');
      expect(credentialsOf(target.requests[0]).authorization).toBe(undefined);
      expect(credentialsOf(target.requests[0]).cookie).toBe(undefined);
      ws.terminate();
    });

    it('keeps them for another host when a redirect listener exists', async () => {
      const target = await recordingServer();
      const { port } = await redirectingServer(
        () => `ws://localhost:${target.port}/`
      );
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
        followRedirects: true,
        headers: secrets
      });
      ws.on('redirect', () => {});
      await once(ws, 'open');
      expect(credentialsOf(target.requests[0])).toEqual({
        authorization: 'Bearer token',
        cookie: 'session=1',
        keep: 'kept'
      });
      ws.terminate();
    });

    it('matches header names in any case', async () => {
      const target = await recordingServer();
      const { port } = await redirectingServer(
        () => `ws://localhost:${target.port}/`
      );
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
        followRedirects: true,
        headers: { AUTHORIZATION: 'Bearer x', cOoKiE: 'c=1' }
      });
      await once(ws, 'open');
      expect(target.requests[0].headers.authorization).toBe(undefined);
      expect(target.requests[0].headers.cookie).toBe(undefined);
      ws.terminate();
    });

    it('carries URL credentials to the same host, not to another', async () => {
      const basic = 'Basic ' + Buffer.from('u:p').toString('base64');
      const same = await redirectingServer(() => '/same');
      const ws = new WebSocket(`ws://u:p@127.0.0.1:${same.port}`, {
        followRedirects: true
      });
      await once(ws, 'open');
      expect(same.requests.map((req) => req.headers.authorization)).toEqual([
        basic,
        basic
      ]);
      ws.terminate();

      const target = await recordingServer();
      const other = await redirectingServer(
        () => `ws://localhost:${target.port}/`
      );
      const ws2 = new WebSocket(`ws://u:p@127.0.0.1:${other.port}`, {
        followRedirects: true
      });
      await once(ws2, 'open');
      expect(other.requests[0].headers.authorization).toBe(basic);
      expect(target.requests[0].headers.authorization).toBe(undefined);
      ws2.terminate();
    });

    it('lets the first Authorization win over URL credentials', async () => {
      const { port, requests } = await redirectingServer(() => '/same');
      const ws = new WebSocket(`ws://u:p@127.0.0.1:${port}`, {
        followRedirects: true,
        headers: { Authorization: 'Bearer mine' }
      });
      await once(ws, 'open');
      expect(requests.map((req) => req.headers.authorization)).toEqual([
        'Bearer mine',
        'Bearer mine'
      ]);
      ws.terminate();
    });

    it('drops them from unix socket to TCP and from TCP to a unix socket', async () => {
      const tcpTarget = await recordingServer();
      const ipc = socketPath();
      const fromIpc = await redirectingServer(
        () => `ws://127.0.0.1:${tcpTarget.port}/`,
        { ipc }
      );
      const ws = new WebSocket(`ws+unix:${ipc}:/`, {
        followRedirects: true,
        headers: secrets
      });
      await once(ws, 'open');
      expect(fromIpc.requests[0].headers.authorization).toBe('Bearer token');
      expect(tcpTarget.requests[0].headers.authorization).toBe(undefined);
      expect(tcpTarget.requests[0].headers.cookie).toBe(undefined);
      ws.terminate();

      const ipcTarget = socketPath();
      const target = await recordingServer({ ipc: ipcTarget });
      const fromTcp = await redirectingServer(() => `ws+unix:${ipcTarget}:/`);
      const ws2 = new WebSocket(`ws://127.0.0.1:${fromTcp.port}`, {
        followRedirects: true,
        headers: secrets
      });
      await once(ws2, 'open');
      expect(target.requests[0].headers.authorization).toBe(undefined);
      expect(target.requests[0].headers.cookie).toBe(undefined);
      ws2.terminate();
    });

    it('keeps them on the same unix socket, drops them on another', async () => {
      const ipc = socketPath();
      const same = await redirectingServer(() => `ws+unix:${ipc}:/two`, {
        ipc
      });
      const ws = new WebSocket(`ws+unix:${ipc}:/one`, {
        followRedirects: true,
        headers: secrets
      });
      await once(ws, 'open');
      expect(same.requests[1].url).toBe('/two');
      expect(same.requests[1].headers.authorization).toBe('Bearer token');
      ws.terminate();

      const otherIpc = socketPath();
      const target = await recordingServer({ ipc: otherIpc });
      const first = socketPath();
      await redirectingServer(() => `ws+unix:${otherIpc}:/`, { ipc: first });
      const ws2 = new WebSocket(`ws+unix:${first}:/`, {
        followRedirects: true,
        headers: secrets
      });
      await once(ws2, 'open');
      expect(target.requests[0].headers.authorization).toBe(undefined);
      ws2.terminate();
    });

    it('drops them on a downgrade from wss: to ws: on the same host and port', async () => {
      // One port speaking both TLS and plain HTTP: the first byte decides.
      const requests = [];
      const onUpgrade = (req, socket, head) => {
        requests.push([req.socket.encrypted === true, req]);
        if (requests.length === 1) {
          redirect(socket, `ws://localhost:${port}/plain`);
        } else {
          complete(req, socket, head);
        }
      };
      const plain = http.createServer().on('upgrade', onUpgrade);
      const secure = https.createServer(credentials()).on('upgrade', onUpgrade);
      const sockets = new Set();
      const front = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => {});
        socket.once('readable', () => {
          const first = socket.read(1);
          if (first === null) return;
          socket.unshift(first);
          (first[0] === 0x16 ? secure : plain).emit('connection', socket);
        });
      });
      await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
      const { port } = front.address();
      cleanups.push(() => {
        for (const socket of sockets) socket.destroy();
        return new Promise((resolve) => front.close(resolve));
      });

      const ws = new WebSocket(`wss://localhost:${port}/tls`, {
        followRedirects: true,
        rejectUnauthorized: false,
        headers: secrets
      });
      await once(ws, 'open');
      expect(requests.map(([encrypted, req]) => [encrypted, req.url])).toEqual([
        [true, '/tls'],
        [false, '/plain']
      ]);
      expect(requests[0][1].headers.authorization).toBe('Bearer token');
      expect(requests[1][1].headers.authorization).toBe(undefined);
      expect(requests[1][1].headers.cookie).toBe(undefined);
      // Same host: Host is recomputed from the URL either way.
      expect(requests[1][1].headers.host).toBe(`localhost:${port}`);
      ws.terminate();
    });
  });
});

describe('connection options', () => {
  /** Opens a client with `options` against a raw peer; returns both. */
  async function open(options) {
    let peer;
    const { port } = await listen((req, socket, head) => {
      peer = complete(req, socket, head);
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      perMessageDeflate: false,
      ...options
    });
    await once(ws, 'open');
    return { ws, peer };
  }

  it('generateMask fills the masking key of every frame', async () => {
    let calls = 0;
    const { ws, peer } = await open({
      generateMask(mask) {
        calls++;
        mask.set([1, 2, 3, 4]);
      }
    });
    ws.send('abc');
    ws.ping();
    const frames = [await peer.nextFrame(), await peer.nextFrame()];
    expect(frames.map((f) => [...f.maskKey])).toEqual([
      [1, 2, 3, 4],
      [1, 2, 3, 4]
    ]);
    expect(`${frames[0].payload}`).toBe('abc');
    expect(calls).toBe(2);
    ws.terminate();
  });

  it('maxPayload limits incoming messages (close 1009)', async () => {
    const { ws, peer } = await open({ maxPayload: 10 });
    const result = outcome(ws);
    peer.sendBinary(Buffer.alloc(10));
    peer.sendBinary(Buffer.alloc(11));
    const close = await peer.readUntilClose();
    expect(close.before).toEqual([]);
    expect(close.close.code).toBe(1009);
    peer.end();
    const { error, code } = await result;
    expect(error.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect(code).toBe(1006);
  });

  it('maxFragments limits the frames of a message (close 1008)', async () => {
    const { ws, peer } = await open({ maxFragments: 2 });
    const result = outcome(ws);
    peer.sendFrame({ opcode: OP.TEXT, payload: 'a', fin: false });
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'b', fin: false });
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'c', fin: true });
    expect((await peer.readUntilClose()).close.code).toBe(1008);
    peer.end();
    expect((await result).error.code).toBe('WS_ERR_TOO_MANY_BUFFERED_PARTS');
  });

  it('skipUTF8Validation lets invalid text through', async () => {
    const { ws, peer } = await open({ skipUTF8Validation: true });
    const message = once(ws, 'message');
    peer.sendFrame({ opcode: OP.TEXT, payload: [0xff, 0xfe] });
    expect(await message).toEqual([Buffer.from([0xff, 0xfe]), false]);
    ws.terminate();
  });

  it('autoPong: false leaves pings unanswered', async () => {
    const { ws, peer } = await open({ autoPong: false });
    const ping = once(ws, 'ping');
    peer.sendFrame({ opcode: OP.PING, payload: 'hi' });
    expect(await ping).toEqual([Buffer.from('hi')]);
    expect(await peer.framesWithin(30)).toEqual([]);
    ws.terminate();
  });

  it('closeTimeout bounds the wait for the closing handshake', async () => {
    const { ws, peer } = await open({ closeTimeout: 50 });
    const started = Date.now();
    ws.close(1000);
    expect((await peer.nextFrame()).code).toBe(1000);
    const [code] = await once(ws, 'close');
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('allowSynchronousEvents: false emits one message per tick', async () => {
    const { ws, peer } = await open({ allowSynchronousEvents: false });
    const order = [];
    const done = new Promise((resolve) => {
      ws.on('message', (data) => {
        order.push(`${data}`);
        // Queued before the next message: runs in between when deferred.
        process.nextTick(() => order.push('tick'));
        if (order.length === 5) resolve();
      });
    });
    peer.send(
      Buffer.concat([
        peer.encode({ opcode: OP.TEXT, payload: '1' }),
        peer.encode({ opcode: OP.TEXT, payload: '2' }),
        peer.encode({ opcode: OP.TEXT, payload: '3' })
      ])
    );
    await done;
    expect(order.slice(0, 5)).toEqual(['1', 'tick', '2', 'tick', '3']);
    ws.terminate();
  });
});

describe('a server that closes without answering', () => {
  it("reports 'socket hang up', then close 1006", async () => {
    const received = [];
    const server = net.createServer(async (socket) => {
      socket.on('error', () => {});
      const { head } = await readHead(socket);
      received.push(head.split('\r\n')[0]);
      socket.destroy();
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}/p`);
    const { events, error, code } = await outcome(ws);
    expect(events).toEqual(['error', 'close']);
    expect(error.message).toBe('socket hang up');
    expect(code).toBe(1006);
    expect(received).toEqual(['GET /p HTTP/1.1']);
  });
});
