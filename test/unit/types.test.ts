// Type-level tests of index.d.ts, checked by `tsc --noEmit` (test/unit/exports.test.js runs it;
// vitest does not execute this file). Each block is code as written against @types/ws; each line
// marked as an expected error is misuse the types must reject, so a too-loose declaration fails.

import * as http from 'http';
import { Duplex } from 'stream';
import * as net from 'net';
import WebSocket = require('../..');
import { WebSocketServer, createWebSocketStream } from '../..';

// Server in each mode, with the hooks and events people use.
const wss = new WebSocket.Server({
  port: 0,
  perMessageDeflate: { threshold: 1024, zlibDeflateOptions: { level: 3 } },
  maxPayload: 1024,
  clientTracking: true,
  handleProtocols: (protocols: Set<string>, request: http.IncomingMessage) =>
    protocols.has('chat') ? 'chat' : false,
  verifyClient: (info, done) => {
    const origin: string = info.origin;
    const secure: boolean = info.secure;
    done(origin === 'x' && secure, 403, 'Forbidden', { 'X-Reason': 'origin' });
  }
});
wss.on('connection', (ws, request) => {
  const remote: string | undefined = request.socket.remoteAddress;
  ws.on('message', (data, isBinary) => {
    const raw: WebSocket.RawData = data;
    const binary: boolean = isBinary;
    ws.send(raw, { binary, compress: false, fin: true });
    void remote;
  });
  ws.on('close', (code: number, reason: Buffer) => void [code, reason]);
  ws.on('ping', (payload: Buffer) => ws.pong(payload));
  ws.on('error', (error: Error) => void error);
  ws.send('text', (err?: Error) => void err);
  ws.binaryType = 'arraybuffer';
  ws.binaryType = 'blob';
  const state: 0 | 1 | 2 | 3 = ws.readyState;
  if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'bye');
  void state;
  // @ts-expect-error binaryType is one of four names
  ws.binaryType = 'text';
});
wss.on('headers', (headers: string[], request: http.IncomingMessage) => {
  headers.push('X-Extra: 1');
  void request;
});
wss.on('wsClientError', (error: Error, socket: Duplex) => {
  socket.end(`HTTP/1.1 400 Bad Request\r\n\r\n${error.message}`);
});
wss.on('listening', () => {
  const address = wss.address();
  if (address !== null && typeof address !== 'string') {
    const port: number = address.port;
    void port;
  }
});
wss.close((err?: Error) => void err);
for (const client of wss.clients) client.terminate();

const server = http.createServer();
const attached = new WebSocketServer({ server, path: '/ws' });
const detached = new WebSocket.WebSocketServer({ noServer: true });
server.on(
  'upgrade',
  (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    detached.handleUpgrade(request, socket, head, (ws) => {
      detached.emit('connection', ws, request);
    });
  }
);
void attached;
// @ts-expect-error verifyClient must be a function
new WebSocketServer({ noServer: true, verifyClient: true });
// @ts-expect-error maxPayload is a number
new WebSocketServer({ noServer: true, maxPayload: '1mb' });

// A subclass as the server's WebSocket class.
class TaggedSocket extends WebSocket {
  tag = 'tagged';
}
const tagged = new WebSocket.Server<typeof TaggedSocket>({
  noServer: true,
  WebSocket: TaggedSocket
});
tagged.on('connection', (ws) => {
  const tag: string = ws.tag;
  void tag;
});

// Client.
const client = new WebSocket('ws://localhost:8080', ['chat', 'superchat'], {
  perMessageDeflate: false,
  handshakeTimeout: 1000,
  headers: { Authorization: 'token' },
  followRedirects: true
});
client.on('open', () => client.send(Buffer.from([1, 2, 3])));
client.on(
  'unexpected-response',
  (request: http.ClientRequest, response: http.IncomingMessage) => {
    void [request, response.statusCode];
  }
);
client.on('upgrade', (response: http.IncomingMessage) => void response.headers);
client.onmessage = (event: WebSocket.MessageEvent) => void event.data;
client.onclose = (event: WebSocket.CloseEvent) =>
  void [event.code, event.reason, event.wasClean];
client.addEventListener('error', (event) => void event.message, { once: true });
client.addEventListener('message', { handleEvent: (event) => void event.data });
client.ping();
client.ping('x', true, (err: Error) => void err);
const clientUrl: string = client.url;
const amount: number = client.bufferedAmount;
void [clientUrl, amount];
// @ts-expect-error send needs data
client.send();
// @ts-expect-error no such event for addEventListener
client.addEventListener('ping', () => undefined);
new WebSocket(new URL('wss://example.org'), { rejectUnauthorized: false });
new WebSocket(null);

// Streams.
const duplex: Duplex = createWebSocketStream(client, { encoding: 'utf8' });
duplex.pipe(process.stdout);
WebSocket.createWebSocketStream(client);

// ws-native addition: wrap() over any connected stream.
const socket = net.connect(8080, 'localhost');
const peer: WebSocket = WebSocket.wrap(socket, {
  isServer: false,
  protocol: 'chat',
  perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 10 }
});
peer.send('hello');
// @ts-expect-error wrap() needs a stream
WebSocket.wrap('localhost:8080');

// Internals exported as ws does.
const offers = WebSocket.extension.parse(
  'permessage-deflate; client_max_window_bits'
);
const header: string = WebSocket.extension.format({
  'permessage-deflate': { server_no_context_takeover: true }
});
const protocols: Set<string> = WebSocket.subprotocol.parse('chat, superchat');
const frames: Buffer[] = WebSocket.Sender.frame(Buffer.from('x'), {
  opcode: 1,
  fin: true,
  mask: true,
  readOnly: false
});
const name: 'permessage-deflate' = WebSocket.PerMessageDeflate.extensionName;
const receiver = new WebSocket.Receiver({ isServer: true, maxPayload: 1024 });
receiver.write(Buffer.from([0x81, 0x80, 0, 0, 0, 0]));
void [offers, header, protocols, frames, name];
