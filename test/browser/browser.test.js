// A real browser against ws-native: headless Debian Chromium loads a page from a test HTTP(S)
// server and the page's own WebSocket talks to a ws-native WebSocketServer on the same server.
// Text, ArrayBuffer, typed-array and Blob messages from 0 B to 16 MiB both ways, the browser's
// permessage-deflate offer (RFC 7692) accepted and used on the wire, server pings (RFC 6455
// §5.5.2), close codes and reasons both ways (§7.4), subprotocol selection (§4.2.2), and the
// same over wss: with a certificate made at test time by `openssl req` and trusted by its SPKI
// hash. Run with `npm run test:browser` (its own vitest config; `npm test` leaves it out).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it
} from 'vitest';

import { selfSignedCertificate } from '../helpers/certificate.js';

import { launchChromium, requireChromium } from './chromium.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../index.js');
const { WebSocketServer } = WebSocket;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const SIZES = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB];

/** The page's pattern (page.js): byte i is (seed + i % 251) & 0xff. */
function pattern(size, seed) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (seed + (i % 251)) & 0xff;
  return out;
}

/** The page's text: exactly `size` UTF-8 bytes, ending in a 2-byte character. */
function textOf(size, seed) {
  const letter = String.fromCharCode(97 + (seed % 26));
  return size >= 2 ? letter.repeat(size - 2) + 'é' : 'y'.repeat(size);
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function summary(kind, data) {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return { kind, size: bytes.length, sha256: sha256(bytes) };
}

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(emitter, event, ms = 10000) {
  return within(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    ms,
    `"${event}"`
  );
}

// ---- the servers ---------------------------------------------------------------------------

const PAGE_HTML =
  '<!doctype html><meta charset="utf-8"><title>ws-native</title>' +
  '<script src="/page.js"></script>';

function serveFiles(request, response) {
  if (request.url === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(PAGE_HTML);
  } else if (request.url === '/page.js') {
    response.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8'
    });
    response.end(fs.readFileSync(path.join(HERE, 'page.js')));
  } else {
    response.writeHead(404);
    response.end();
  }
}

// Server-side connections, handed to tests in accept order.
const accepted = [];
const acceptWaiters = [];
function nextConnection(ms = 10000) {
  if (accepted.length) return Promise.resolve(accepted.shift());
  return within(
    new Promise((resolve) => acceptWaiters.push(resolve)),
    ms,
    'a connection'
  );
}

const serverOptions = {
  noServer: true,
  maxPayload: 64 * MiB,
  handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false)
};
const routes = {
  '/plain': new WebSocketServer({ ...serverOptions, perMessageDeflate: false }),
  '/deflate': new WebSocketServer({ ...serverOptions, perMessageDeflate: true })
};
for (const wss of Object.values(routes)) {
  wss.on('connection', (ws, request) => {
    const connection = { ws, request, messages: [], waiters: [] };
    ws.on('message', (data, isBinary) => {
      const item = { data, isBinary };
      if (connection.waiters.length) connection.waiters.shift()(item);
      else connection.messages.push(item);
    });
    connection.next = (ms = 30000) =>
      connection.messages.length
        ? Promise.resolve(connection.messages.shift())
        : within(
            new Promise((resolve) => connection.waiters.push(resolve)),
            ms,
            'a message'
          );
    connection.echo = () => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    };
    if (acceptWaiters.length) acceptWaiters.shift()(connection);
    else accepted.push(connection);
  });
}

function routeUpgrade(request, socket, head) {
  const wss = routes[request.url];
  if (!wss) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) =>
    wss.emit('connection', ws, request)
  );
}

function listen(server) {
  server.on('upgrade', routeUpgrade);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  );
}

// ---- the browser ---------------------------------------------------------------------------

let browser;
let page;
let securePage;
let httpServer;
let httpsServer;
let httpPort;
let httpsPort;

let setupError;

beforeAll(async () => {
  try {
    await setUp();
  } catch (error) {
    setupError = error;
  }
}, 60000);

// A missing browser fails every test with the reason (a failed beforeAll would only skip them).
beforeEach(() => {
  if (setupError) throw setupError;
});

async function setUp() {
  requireChromium();
  const certificate = selfSignedCertificate('127.0.0.1', {
    ipAddress: '127.0.0.1'
  });
  httpServer = http.createServer(serveFiles);
  httpsServer = https.createServer(
    { key: certificate.key, cert: certificate.cert },
    serveFiles
  );
  httpPort = await listen(httpServer);
  httpsPort = await listen(httpsServer);
  browser = await launchChromium({ spkiHash: certificate.spkiHash });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${httpPort}/`);
  securePage = await browser.newPage();
  await securePage.goto(`https://127.0.0.1:${httpsPort}/`);
}

afterAll(async () => {
  if (browser) await browser.close();
  for (const wss of Object.values(routes)) {
    for (const client of wss.clients) client.terminate();
  }
  await Promise.all(
    [httpServer, httpsServer]
      .filter(Boolean)
      .map((server) => new Promise((resolve) => server.close(resolve)))
  );
});

// Anything a test leaves open is closed so the next test's connection is its own.
afterEach(() => {
  for (const wss of Object.values(routes)) {
    for (const client of wss.clients) client.terminate();
  }
  accepted.length = 0;
});

/** Opens a page WebSocket to `route` and returns both ends. */
async function connect(
  route,
  { protocols = null, binaryType = 'arraybuffer', secure = false } = {}
) {
  const target = secure ? securePage : page;
  const url = secure
    ? `wss://127.0.0.1:${httpsPort}${route}`
    : `ws://127.0.0.1:${httpPort}${route}`;
  const serverSide = nextConnection();
  const opened = await target.evaluate(
    `harness.open(${JSON.stringify(url)}, ${JSON.stringify(protocols)}, ${JSON.stringify(binaryType)})`
  );
  const server = await serverSide;
  const call = (method, ...args) =>
    target.evaluate(
      `harness.${method}(${[opened.id, ...args].map((a) => JSON.stringify(a)).join(', ')})`
    );
  return { opened, server, call };
}

describe('Chromium page <-> ws-native server', () => {
  for (const route of ['/plain', '/deflate']) {
    it(`${route}: text and ArrayBuffer messages of 0 B to 16 MiB echo back unchanged`, async () => {
      const { server, call } = await connect(route);
      server.echo();
      for (const size of SIZES) {
        await call('send', 'text', size, size % 26);
        await call('send', 'arraybuffer', size, size % 7);
        expect(await call('next')).toEqual(
          summary('text', textOf(size, size % 26))
        );
        expect(await call('next')).toEqual(
          summary('arraybuffer', pattern(size, size % 7))
        );
      }
    }, 120000);

    it(`${route}: the server's own text and binary messages of 0 B to 16 MiB arrive intact`, async () => {
      const { server, call } = await connect(route);
      for (const size of SIZES) {
        server.ws.send(textOf(size, 3));
        server.ws.send(pattern(size, 4));
        expect(await call('next')).toEqual(summary('text', textOf(size, 3)));
        expect(await call('next')).toEqual(
          summary('arraybuffer', pattern(size, 4))
        );
      }
    }, 120000);
  }

  it('Blob and typed-array sends arrive as binary; binaryType "blob" receives Blobs', async () => {
    const { server, call } = await connect('/deflate', { binaryType: 'blob' });
    for (const size of [0, 1000, 16 * MiB]) {
      await call('send', 'blob', size, 1);
      const blob = await server.next();
      expect(blob.isBinary).toBe(true);
      expect(blob.data.equals(pattern(size, 1))).toBe(true);
      await call('send', 'view', size, 2);
      const view = await server.next();
      expect(view.isBinary).toBe(true);
      expect(view.data.equals(pattern(size, 2))).toBe(true);
      server.ws.send(pattern(size, 5));
      expect(await call('next')).toEqual(summary('blob', pattern(size, 5)));
    }
    // The page's text stays text.
    await call('send', 'text', 10, 0);
    const text = await server.next();
    expect([text.isBinary, text.data.toString()]).toEqual([
      false,
      textOf(10, 0)
    ]);
  }, 60000);

  it("accepts the browser's permessage-deflate offer and compresses both directions (RFC 7692)", async () => {
    const { opened, server, call } = await connect('/deflate');
    expect(server.request.headers['sec-websocket-extensions']).toMatch(
      /permessage-deflate/
    );
    expect(server.ws.extensions).toBe('permessage-deflate');
    expect(opened.extensions).toMatch(/^permessage-deflate/);
    const socket = server.ws._socket;

    const readBefore = socket.bytesRead;
    await call('send', 'text', MiB, 0);
    const received = await server.next();
    expect(received.data.toString() === textOf(MiB, 0)).toBe(true);
    // 1 MiB of one letter deflates to a few KiB.
    expect(socket.bytesRead - readBefore).toBeLessThan(64 * 1024);

    const writtenBefore = socket.bytesWritten;
    server.ws.send(pattern(16 * MiB, 8));
    expect(await call('next')).toEqual(
      summary('arraybuffer', pattern(16 * MiB, 8))
    );
    expect(socket.bytesWritten - writtenBefore).toBeLessThan(MiB);
  }, 60000);

  it('without perMessageDeflate the offer is declined and messages cross uncompressed', async () => {
    const { opened, server, call } = await connect('/plain');
    expect(server.request.headers['sec-websocket-extensions']).toMatch(
      /permessage-deflate/
    );
    expect(server.ws.extensions).toBe('');
    expect(opened.extensions).toBe('');
    const readBefore = server.ws._socket.bytesRead;
    await call('send', 'text', MiB, 0);
    await server.next();
    expect(server.ws._socket.bytesRead - readBefore).toBeGreaterThan(MiB);
  });

  it('server pings are answered with pongs carrying the same payload (RFC 6455 §5.5.3)', async () => {
    const { server } = await connect('/deflate');
    for (const payload of ['heartbeat', '', 'x'.repeat(125)]) {
      const pong = once(server.ws, 'pong');
      server.ws.ping(payload);
      const [data] = await pong;
      expect(data.toString()).toBe(payload);
    }
  });

  it('a close code and reason from the page reach the server, and the page closes cleanly', async () => {
    const { server, call } = await connect('/plain');
    const closed = once(server.ws, 'close');
    await call('close', 4000, 'page bye ✓');
    const [code, reason] = await closed;
    expect([code, reason.toString()]).toEqual([4000, 'page bye ✓']);
    expect(await call('closed')).toEqual({
      code: 4000,
      reason: 'page bye ✓',
      wasClean: true
    });
  });

  it('a close code and the longest reason (123 bytes) from the server reach the page', async () => {
    const { server, call } = await connect('/deflate');
    const reason = 'r'.repeat(121) + 'é';
    const closed = once(server.ws, 'close');
    server.ws.close(4001, reason);
    expect(await call('closed')).toEqual({
      code: 4001,
      reason,
      wasClean: true
    });
    const [code] = await closed;
    expect(code).toBe(4001);
  });

  it('close() without a code is 1005 on the other side, both ways (RFC 6455 §7.1.5)', async () => {
    const first = await connect('/plain');
    first.server.ws.close();
    expect(await first.call('closed')).toEqual({
      code: 1005,
      reason: '',
      wasClean: true
    });
    const second = await connect('/plain');
    const closed = once(second.server.ws, 'close');
    await second.call('close');
    const [code, reason] = await closed;
    expect([code, reason.length]).toEqual([1005, 0]);
  });

  it('terminate() is an unclean close (1006) for the page', async () => {
    const { server, call } = await connect('/plain');
    server.ws.terminate();
    expect(await call('closed')).toEqual({
      code: 1006,
      reason: '',
      wasClean: false
    });
  });

  it('selects the subprotocol the server prefers among those offered (RFC 6455 §4.2.2)', async () => {
    const { opened, server } = await connect('/plain', {
      protocols: ['chat.v1', 'chat.v2']
    });
    expect(opened.protocol).toBe('chat.v2');
    expect(server.ws.protocol).toBe('chat.v2');
  });

  it('when the server selects none of the offered subprotocols, Chromium fails the connection', async () => {
    const serverSide = nextConnection();
    await expect(
      page.evaluate(
        `harness.open('ws://127.0.0.1:${httpPort}/plain', ['other'])`
      )
    ).rejects.toThrow(/closed before open: 1006/);
    // The server did accept the upgrade (with no Sec-WebSocket-Protocol): ws's behaviour.
    const server = await serverSide;
    expect(server.ws.protocol).toBe('');
  });
});

describe('Chromium page <-> ws-native server over wss: (certificate trusted by SPKI hash)', () => {
  it('negotiates permessage-deflate and echoes text and binary up to 16 MiB', async () => {
    const { opened, server, call } = await connect('/deflate', {
      secure: true
    });
    expect(server.request.socket.encrypted).toBe(true);
    expect(opened.extensions).toMatch(/^permessage-deflate/);
    expect(server.ws.extensions).toBe('permessage-deflate');
    server.echo();
    for (const size of [0, 126, 65536, 16 * MiB]) {
      await call('send', 'text', size, 2);
      await call('send', 'arraybuffer', size, 6);
      expect(await call('next')).toEqual(summary('text', textOf(size, 2)));
      expect(await call('next')).toEqual(
        summary('arraybuffer', pattern(size, 6))
      );
    }
  }, 60000);

  it('carries pings and close codes over TLS', async () => {
    const { server, call } = await connect('/plain', { secure: true });
    const pong = once(server.ws, 'pong');
    server.ws.ping('tls');
    expect((await pong)[0].toString()).toBe('tls');
    server.ws.close(4002, 'tls bye');
    expect(await call('closed')).toEqual({
      code: 4002,
      reason: 'tls bye',
      wasClean: true
    });
  });
});
