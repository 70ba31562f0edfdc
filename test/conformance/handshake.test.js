// RFC 6455 §4 (opening handshake), checked with raw requests against each server and a raw
// server against each client: what each side MUST send and what it MUST refuse.

import { afterEach, describe, expect, it } from 'vitest';

import {
  cleanup,
  recordEvents,
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
  rawRequest,
  readHead,
  RawConnection
} from '../helpers/raw-client.js';
import { listenRaw } from '../helpers/raw-server.js';
import { encodeFrame, OP } from '../helpers/wire.js';

afterEach(cleanup);

/** A client of `impl` against a raw server answering `respond`; resolves with its first outcome. */
async function clientAgainst(impl, respond, protocols, options = {}) {
  const raw = await listenRaw({ respond });
  const ws =
    protocols === undefined
      ? new impl.WebSocket(raw.url + '/chat?room=1', options)
      : new impl.WebSocket(raw.url + '/chat?room=1', protocols, options);
  track(() => ws.terminate());
  const events = recordEvents(ws);
  const outcome = await Promise.race([
    events.wait('open'),
    events.wait('error')
  ]);
  return { raw, ws, events, outcome };
}

describeEach('RFC 6455 §4 opening handshake', (impl) => {
  describe('server', () => {
    it('§4.2.2: answers 101 with Upgrade, Connection and the Sec-WebSocket-Accept of the §1.3 example', async () => {
      const server = await startServer(impl);
      const socket = await openSocket(server.port);
      socket.write(handshakeRequest({ key: 'dGhlIHNhbXBsZSBub25jZQ==' }).text);
      const { head } = await readHead(socket);
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim()
        ])
      );
      expect(statusLine).toBe('HTTP/1.1 101 Switching Protocols');
      expect(headers.upgrade.toLowerCase()).toBe('websocket');
      expect(headers.connection.toLowerCase()).toBe('upgrade');
      expect(headers['sec-websocket-accept']).toBe(
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
      );
      expect(headers['sec-websocket-protocol']).toBe(undefined);
      expect(headers['sec-websocket-extensions']).toBe(undefined);
    });

    it('§4.2.1: the Upgrade value is matched case-insensitively and Connection may list other tokens', async () => {
      const server = await startServer(impl);
      const peer = await connectRaw(server.port, {
        headers: { Upgrade: 'WebSocket', Connection: 'keep-alive, Upgrade' }
      });
      expect(peer.response.statusCode).toBe(101);
    });

    it('§4.2.1: a request that is not GET is refused (405)', async () => {
      const server = await startServer(impl);
      const response = await rawRequest(
        server.port,
        handshakeRequest({ method: 'PUT' }).text
      );
      expect(response.statusCode).toBe(405);
    });

    it('§4.4: an unsupported version is refused with 400 and the supported versions in Sec-WebSocket-Version', async () => {
      const server = await startServer(impl);
      const response = await rawRequest(
        server.port,
        handshakeRequest({ headers: { 'Sec-WebSocket-Version': '14' } }).text
      );
      expect([
        response.statusCode,
        response.headers['sec-websocket-version']
      ]).toEqual([400, '13, 8']);
    });

    it('§4.2.1: a Sec-WebSocket-Key that is not 16 bytes in base64 is refused (400)', async () => {
      const server = await startServer(impl);
      for (const key of [
        'c2hvcnQ=',
        'AAAAAAAAAAAAAAAAAAAAAAAA',
        'dGhlIHNhbXBsZSBub25jZQ',
        ''
      ]) {
        const response = await rawRequest(
          server.port,
          handshakeRequest({ key }).text
        );
        expect([key, response.statusCode]).toEqual([key, 400]);
      }
    });

    it('§4.2.2: frames sent in the same segment as the request are read once the connection is open', async () => {
      const server = await startServer(impl);
      // Listen from the 'connection' event on: the message may come in the same tick.
      const order = [];
      const received = new Promise((resolve) =>
        server.wss.once('connection', (ws) => {
          order.push(`connection, readyState ${ws.readyState}`);
          ws.once('message', (data) => {
            order.push('message');
            resolve(data);
          });
        })
      );
      const socket = await openSocket(server.port);
      const frame = encodeFrame({
        opcode: OP.TEXT,
        payload: 'early bird',
        mask: true
      });
      socket.write(
        Buffer.concat([Buffer.from(handshakeRequest().text), frame])
      );
      const data = await within(received, 3000, 'the early message');
      expect(data.toString()).toBe('early bird');
      expect(order).toEqual(['connection, readyState 1', 'message']);
    });

    it('§4.2.2: the chosen subprotocol is one the client offered, sent back in Sec-WebSocket-Protocol', async () => {
      const server = await startServer(impl);
      const peer = await connectRaw(server.port, {
        headers: { 'Sec-WebSocket-Protocol': 'soap, wamp' }
      });
      expect(peer.response.headers['sec-websocket-protocol']).toBe('soap');
    });
  });

  describe('client', () => {
    it('§4.1: sends GET with the path and query, Host, Upgrade, Connection, a 16-byte base64 key and version 13', async () => {
      const { raw } = await clientAgainst(impl, () => ({}));
      const [request] = raw.requests;
      expect(request.method).toBe('GET');
      expect(request.path).toBe('/chat?room=1');
      expect(request.headers.host).toBe(`127.0.0.1:${raw.port}`);
      expect(request.headers.upgrade.toLowerCase()).toBe('websocket');
      expect(request.headers.connection.toLowerCase()).toContain('upgrade');
      expect(request.headers['sec-websocket-version']).toBe('13');
      const key = request.headers['sec-websocket-key'];
      expect(key).toMatch(/^[+/0-9A-Za-z]{22}==$/);
      expect(Buffer.from(key, 'base64').length).toBe(16);
    });

    it('§4.1: the key is fresh for every connection', async () => {
      const raw = await listenRaw();
      const keys = new Set();
      for (let i = 0; i < 5; i++) {
        const ws = new impl.WebSocket(raw.url);
        track(() => ws.terminate());
        ws.on('error', () => {});
        await raw.accept();
        keys.add(raw.requests[i].headers['sec-websocket-key']);
      }
      expect(keys.size).toBe(5);
    });

    it('§4.1: offered subprotocols are sent in Sec-WebSocket-Protocol and the chosen one is kept', async () => {
      const { raw, ws, outcome } = await clientAgainst(
        impl,
        () => ({ 'Sec-WebSocket-Protocol': 'wamp' }),
        ['soap', 'wamp']
      );
      expect(raw.requests[0].headers['sec-websocket-protocol']).toBe(
        'soap,wamp'
      );
      expect(outcome[0]).toBe('open');
      expect(ws.protocol).toBe('wamp');
    });

    const REFUSALS = [
      [
        'a wrong Sec-WebSocket-Accept',
        () =>
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
        undefined,
        'Invalid Sec-WebSocket-Accept header'
      ],
      [
        'a 101 without Upgrade: websocket',
        (request) =>
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(request.headers['sec-websocket-key'])}\r\n\r\n`,
        undefined,
        'Invalid Upgrade header'
      ],
      [
        'a 200 answer',
        () =>
          'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
        undefined,
        'Unexpected server response: 200'
      ],
      [
        'a subprotocol that was not offered',
        () => ({ 'Sec-WebSocket-Protocol': 'other' }),
        ['mine'],
        'Server sent an invalid subprotocol'
      ],
      [
        'a subprotocol when none was offered',
        () => ({ 'Sec-WebSocket-Protocol': 'unasked' }),
        undefined,
        'Server sent a subprotocol but none was requested'
      ],
      [
        'no subprotocol when some were offered',
        () => ({}),
        ['mine'],
        'Server sent no subprotocol'
      ]
    ];
    for (const [name, respond, protocols, message] of REFUSALS) {
      it(`§4.1: the client MUST fail the connection on ${name}`, async () => {
        const { events, outcome, ws } = await clientAgainst(
          impl,
          respond,
          protocols
        );
        expect([outcome[0], outcome[1].message]).toEqual(['error', message]);
        const [, code] = await events.wait('close');
        expect(code).toBe(1006);
        expect(ws.readyState).toBe(3);
        expect(events.of('open')).toEqual([]);
      });
    }

    it('§4.1: frames sent in the same segment as the 101 answer are delivered after open', async () => {
      const raw = await listenRaw({ respond: () => ({}) });
      const ws = new impl.WebSocket(raw.url);
      track(() => ws.terminate());
      const events = recordEvents(ws);
      const peer = await raw.accept();
      expect(peer).toBeInstanceOf(RawConnection);
      peer.sendText('right after');
      const [, data] = await events.wait('message');
      expect(data.toString()).toBe('right after');
      expect(events.names().indexOf('open')).toBeLessThan(
        events.names().indexOf('message')
      );
    });
  });
});
