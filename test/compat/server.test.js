// ws public API, run against ws and ws-native: WebSocketServer modes and hooks (verifyClient,
// handleProtocols, path, noServer + handleUpgrade, server option), its events and its HTTP answers.

import http from 'node:http';

import { afterEach, describe, expect, it } from 'vitest';

import {
  cleanup,
  connectClient,
  once,
  openPair,
  recordEvents,
  startHttpServer,
  startServer,
  track
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { handshakeRequest, rawRequest } from '../helpers/raw-client.js';

afterEach(cleanup);

/** A client that reports how its handshake ended: ['open'] or ['error', message, statusCode]. */
async function attempt(impl, url, protocols, options = {}) {
  const ws =
    protocols === undefined
      ? new impl.WebSocket(url, options)
      : new impl.WebSocket(url, protocols, options);
  track(() => ws.terminate());
  const events = recordEvents(ws);
  let response = null;
  ws.on('unexpected-response', (request, res) => {
    response = res;
    let body = '';
    res.on('data', (chunk) => {
      body += chunk;
    });
    res.on('end', () => {
      res.body = body;
      ws.emit(
        'error',
        new Error(`Unexpected server response: ${res.statusCode}`)
      );
      ws.terminate();
    });
  });
  const first = await Promise.race([events.wait('open'), events.wait('error')]);
  return { ws, events, first, response };
}

describeEach('WebSocketServer', (impl) => {
  describe('verifyClient', () => {
    it('sync false -> 401 and no connection; sync true -> connected; info has origin, secure, req', async () => {
      let allow = false;
      const infos = [];
      const server = await startServer(impl, {
        verifyClient: (info) => {
          infos.push(info);
          return allow;
        }
      });
      let connections = 0;
      server.wss.on('connection', () => connections++);
      const refused = await attempt(impl, server.url, undefined, {
        origin: 'https://a.example'
      });
      expect(refused.first[0]).toBe('error');
      expect(refused.response.statusCode).toBe(401);
      allow = true;
      const accepted = await attempt(impl, server.url);
      expect(accepted.first[0]).toBe('open');
      expect(connections).toBe(1);
      expect(infos[0].origin).toBe('https://a.example');
      expect(infos[0].secure).toBe(false);
      expect(infos[0].req.headers.upgrade).toBe('websocket');
    });

    it('async (info, cb): cb(false, code, message, headers) answers with them', async () => {
      const server = await startServer(impl, {
        verifyClient: (info, cb) => {
          setTimeout(
            () => cb(false, 403, 'Go away', { 'X-Why': 'testing' }),
            5
          );
        }
      });
      const { first, response } = await attempt(impl, server.url);
      expect(first[0]).toBe('error');
      expect(response.statusCode).toBe(403);
      expect(response.headers['x-why']).toBe('testing');
      await new Promise((resolve) =>
        response.body !== undefined ? resolve() : response.on('end', resolve)
      );
      expect(response.body).toBe('Go away');
    });

    it('async (info, cb): cb(true) accepts; cb(false) without a code answers 401', async () => {
      let allow = true;
      const server = await startServer(impl, {
        verifyClient: (info, cb) => setImmediate(() => cb(allow))
      });
      expect((await attempt(impl, server.url)).first[0]).toBe('open');
      allow = false;
      const refused = await attempt(impl, server.url);
      expect(refused.response.statusCode).toBe(401);
    });
  });

  describe('handleProtocols and subprotocols', () => {
    it('handleProtocols gets the offered Set and the request; its answer becomes the protocol', async () => {
      let seen;
      const server = await startServer(impl, {
        handleProtocols: (protocols, req) => {
          seen = [protocols instanceof Set, [...protocols], typeof req.headers];
          return 'b';
        }
      });
      const client = await connectClient(impl, server.url, {}, ['a', 'b', 'c']);
      const serverWs = await server.connection();
      expect(seen).toEqual([true, ['a', 'b', 'c'], 'object']);
      expect([client.protocol, serverWs.protocol]).toEqual(['b', 'b']);
    });

    it('without handleProtocols the first offered protocol is chosen', async () => {
      const server = await startServer(impl);
      const client = await connectClient(impl, server.url, {}, [
        'first',
        'second'
      ]);
      expect(client.protocol).toBe('first');
    });

    it('handleProtocols returning false sends no protocol and the client fails: "Server sent no subprotocol"', async () => {
      const server = await startServer(impl, { handleProtocols: () => false });
      const { first, events } = await attempt(impl, server.url, ['x']);
      expect([first[0], first[1].message]).toEqual([
        'error',
        'Server sent no subprotocol'
      ]);
      const [, code] = await events.wait('close');
      expect(code).toBe(1006);
    });

    it('an invalid Sec-WebSocket-Protocol header gets 400', async () => {
      const server = await startServer(impl);
      const response = await rawRequest(
        server.port,
        handshakeRequest({ headers: { 'Sec-WebSocket-Protocol': 'a,,b' } }).text
      );
      expect([response.statusCode, response.body]).toEqual([
        400,
        'Invalid Sec-WebSocket-Protocol header'
      ]);
    });
  });

  describe('path, server and noServer modes', () => {
    it('path: only that path is upgraded (query strings ignored); others get 400', async () => {
      const server = await startServer(impl, { path: '/chat' });
      expect((await attempt(impl, `${server.url}/chat?room=1`)).first[0]).toBe(
        'open'
      );
      const other = await attempt(impl, `${server.url}/other`);
      expect(other.response.statusCode).toBe(400);
    });

    it('server: shares an http.Server that keeps answering plain requests', async () => {
      const { server, port } = await startHttpServer((req, res) =>
        res.end('plain http')
      );
      const wss = new impl.WebSocketServer({ server });
      track(() => new Promise((resolve) => wss.close(resolve)));
      const connected = once(wss, 'connection');
      const client = await connectClient(impl, `ws://127.0.0.1:${port}`);
      await connected;
      expect(client.readyState).toBe(1);
      const body = await new Promise((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${port}/`, (res) => {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      expect(body).toBe('plain http');
    });

    it('noServer + handleUpgrade: the callback gets the socket and request; handling the same socket twice throws', async () => {
      const wss = new impl.WebSocketServer({ noServer: true });
      track(() => new Promise((resolve) => wss.close(resolve)));
      expect(() => wss.address()).toThrow(
        new Error('The server is operating in "noServer" mode')
      );
      let secondCall;
      const { port, server } = await startHttpServer();
      server.on('upgrade', (req, socket, head) => {
        wss.handleUpgrade(req, socket, head, (ws, request) => {
          expect(request).toBe(req);
          try {
            wss.handleUpgrade(req, socket, head, () => {});
          } catch (error) {
            secondCall = error;
          }
          wss.emit('connection', ws, request);
        });
      });
      const connected = once(wss, 'connection');
      const client = await connectClient(impl, `ws://127.0.0.1:${port}/any`);
      const [serverWs] = await connected;
      expect(secondCall).toBeInstanceOf(Error);
      expect(secondCall.message).toBe(
        'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration'
      );
      serverWs.send('through handleUpgrade');
      const [, data] = await client.events.wait('message');
      expect(data.toString()).toBe('through handleUpgrade');
    });

    it('shouldHandle can be overridden', async () => {
      const server = await startServer(impl);
      server.wss.shouldHandle = (req) => req.url === '/yes';
      expect((await attempt(impl, `${server.url}/yes`)).first[0]).toBe('open');
      expect(
        (await attempt(impl, `${server.url}/no`)).response.statusCode
      ).toBe(400);
    });

    it('the WebSocket option picks the class of server-side sockets', async () => {
      class Custom extends impl.WebSocket {}
      const server = await startServer(impl, { WebSocket: Custom });
      await connectClient(impl, server.url);
      const ws = await server.connection();
      expect(ws).toBeInstanceOf(Custom);
    });
  });

  describe('events, tracking and lifecycle', () => {
    it("'headers' lets the listener add response headers before they are written", async () => {
      const server = await startServer(impl);
      server.wss.on('headers', (headers, req) => {
        expect(headers[0]).toBe('HTTP/1.1 101 Switching Protocols');
        expect(typeof req.url).toBe('string');
        headers.push('X-Added: yes');
      });
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      const [response] = await once(ws, 'upgrade');
      expect(response.headers['x-added']).toBe('yes');
    });

    it("'connection' passes the request", async () => {
      const server = await startServer(impl);
      const connected = once(server.wss, 'connection');
      await connectClient(impl, `${server.url}/where?x=1`);
      const [, req] = await connected;
      expect(req.url).toBe('/where?x=1');
    });

    it('clients tracks open sockets; clientTracking: false leaves it undefined', async () => {
      const { server, client, serverWs } = await openPair(impl);
      expect([...server.wss.clients]).toEqual([serverWs]);
      client.close();
      await serverWs.events.wait('close');
      expect(server.wss.clients.size).toBe(0);
      const untracked = await startServer(impl, { clientTracking: false });
      expect(untracked.wss.clients).toBe(undefined);
    });

    it("'wsClientError' receives a bad handshake's error and socket instead of the default 400", async () => {
      const server = await startServer(impl);
      const seen = [];
      server.wss.on('wsClientError', (error, socket, req) => {
        seen.push([error.message, typeof socket.write, req.method]);
        socket.end("HTTP/1.1 418 I'm a Teapot\r\nConnection: close\r\n\r\n");
      });
      const response = await rawRequest(
        server.port,
        handshakeRequest({ key: 'not a valid key' }).text
      );
      expect(response.statusCode).toBe(418);
      expect(seen).toEqual([
        ['Missing or invalid Sec-WebSocket-Key header', 'function', 'GET']
      ]);
    });

    it('close(cb) calls cb once closed; a second close(cb) gets "The server is not running"', async () => {
      const wss = new impl.WebSocketServer({ noServer: true });
      await new Promise((resolve) => wss.close(resolve));
      const error = await new Promise((resolve) => wss.close(resolve));
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe('The server is not running');
    });

    it('a server that is closing answers new upgrades with 503 (handleUpgrade after close)', async () => {
      const wss = new impl.WebSocketServer({ noServer: true });
      const { port, server } = await startHttpServer();
      server.on('upgrade', (req, socket, head) => {
        wss.handleUpgrade(req, socket, head, () => {});
      });
      await new Promise((resolve) => wss.close(resolve));
      const response = await rawRequest(port, handshakeRequest().text);
      expect(response.statusCode).toBe(503);
    });

    it('plain HTTP requests to a port-mode server get 426', async () => {
      const server = await startServer(impl);
      const response = await rawRequest(
        server.port,
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
      );
      expect([response.statusCode, response.body]).toEqual([
        426,
        'Upgrade Required'
      ]);
    });

    it("the server options are exposed as wss.options with ws's defaults", async () => {
      const server = await startServer(impl);
      const { options } = server.wss;
      expect({
        maxPayload: options.maxPayload,
        maxFragments: options.maxFragments,
        maxBufferedChunks: options.maxBufferedChunks,
        perMessageDeflate: options.perMessageDeflate,
        clientTracking: options.clientTracking,
        closeTimeout: options.closeTimeout,
        autoPong: options.autoPong,
        allowSynchronousEvents: options.allowSynchronousEvents,
        skipUTF8Validation: options.skipUTF8Validation
      }).toEqual({
        maxPayload: 100 * 1024 * 1024,
        maxFragments: 128 * 1024,
        maxBufferedChunks: 1024 * 1024,
        perMessageDeflate: false,
        clientTracking: true,
        closeTimeout: 30000,
        autoPong: true,
        allowSynchronousEvents: true,
        skipUTF8Validation: false
      });
    });

    it('ws._receiver reports the maxPayload and extensions a connection got (read by code written for ws)', async () => {
      const maxPayload = 20480;
      const { client, serverWs } = await openPair(impl, {
        serverOptions: { maxPayload, perMessageDeflate: true },
        clientOptions: { maxPayload: 4096, perMessageDeflate: true }
      });
      const pmd = 'permessage-deflate';
      expect([
        serverWs._receiver._maxPayload,
        serverWs._receiver._extensions[pmd]._maxPayload,
        client._receiver._maxPayload,
        client._receiver._extensions[pmd]._maxPayload
      ]).toEqual([maxPayload, maxPayload, 4096, 4096]);
      expect(serverWs._receiver._extensions).toBe(serverWs._extensions);
    });
  });
});
