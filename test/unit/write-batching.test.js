// lib/websocket.js + lib/sender.js: the replies caused by one socket chunk (echoes, pongs, the
// close frame) leave in one write when the chunk is done, and nothing a handler does can lose
// them or leave the socket corked: terminate() writes held frames first, a throwing handler
// still releases them, a chunk emitted from inside a handler joins the open batch.

import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';

import { describe, expect, it } from 'vitest';

import {
  closePayload,
  encodeFrame,
  FrameDecoder,
  OP
} from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../lib/websocket.js');

const SOCKET_OPTIONS = {
  allowSynchronousEvents: true,
  maxBufferedChunks: 0,
  maxFragments: 0,
  maxPayload: 0,
  skipUTF8Validation: false
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A socket that keeps every _write / _writev call (as its list of chunks) and the order in which
 * writes and destroy() happened.
 */
function recordingSocket() {
  const socket = new Duplex({
    read() {},
    write(chunk, encoding, callback) {
      socket.calls.push([chunk]);
      socket.log.push('write');
      callback();
    },
    writev(chunks, callback) {
      socket.calls.push(chunks.map(({ chunk }) => chunk));
      socket.log.push('write');
      callback();
    },
    destroy(error, callback) {
      socket.log.push('destroy');
      callback(error);
    }
  });
  socket.calls = [];
  socket.log = [];
  socket.frames = () =>
    new FrameDecoder().push(Buffer.concat(socket.calls.flat()));
  return socket;
}

/**
 * A server-side WebSocket on a recording socket, once the socket is flowing (from then on a
 * push() emits 'data' synchronously, as a TCP read does).
 */
async function serverOn(socket) {
  const ws = new WebSocket(null, undefined, { closeTimeout: 1000 });
  ws.setSocket(socket, Buffer.alloc(0), SOCKET_OPTIONS);
  await tick();
  return ws;
}

/** A masked client frame, as a client must send it (RFC 6455 §5.3). */
function clientFrame(opcode, payload) {
  return encodeFrame({ opcode, payload, mask: true });
}

describe('WebSocket: replies to one socket chunk leave in one write', () => {
  it('echoes of three messages read in one chunk go out in one writev, in order', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));

    socket.push(
      Buffer.concat([
        clientFrame(OP.TEXT, 'one'),
        clientFrame(OP.BINARY, Buffer.from([1, 2, 3])),
        clientFrame(OP.TEXT, 'three')
      ])
    );

    // Written when the chunk is done, before any later turn of the loop.
    expect(socket.calls).toHaveLength(1);
    expect(socket.calls[0]).toHaveLength(3);
    const frames = socket.frames();
    expect(
      frames.map((f) => [f.opcode, f.masked, f.payload.toString('hex')])
    ).toEqual([
      [OP.TEXT, false, Buffer.from('one').toString('hex')],
      [OP.BINARY, false, '010203'],
      [OP.TEXT, false, Buffer.from('three').toString('hex')]
    ]);
    expect(socket.writableCorked).toBe(0);
    expect(ws.bufferedAmount).toBe(0);
    await tick();
    expect(socket.calls).toHaveLength(1);
  });

  it('automatic pongs to pings in one chunk share one write with the echoes', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    ws.on('message', (data) => ws.send(data));

    socket.push(
      Buffer.concat([
        clientFrame(OP.PING, 'p1'),
        clientFrame(OP.BINARY, Buffer.from('m')),
        clientFrame(OP.PING, 'p2')
      ])
    );

    expect(socket.calls).toHaveLength(1);
    expect(
      socket.frames().map((f) => [f.opcode, f.payload.toString()])
    ).toEqual([
      [OP.PONG, 'p1'],
      [OP.BINARY, 'm'],
      [OP.PONG, 'p2']
    ]);
  });

  it('a large reply (header and payload as two chunks) is in the same writev', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    const large = Buffer.alloc(5000, 7);
    ws.on('message', () => {
      ws.send('a');
      ws.send(large);
    });

    socket.push(clientFrame(OP.TEXT, 'go'));

    expect(socket.calls).toHaveLength(1);
    expect(socket.calls[0]).toHaveLength(3);
    const frames = socket.frames();
    expect(frames).toHaveLength(2);
    expect(frames[1].payload.equals(large)).toBe(true);
  });

  it('the echoed close frame leaves with the chunk, and the callback-driven end follows', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    const closed = new Promise((resolve) =>
      ws.on('close', (code) => resolve(code))
    );

    socket.push(clientFrame(OP.CLOSE, closePayload(4001, 'bye')));

    expect(socket.calls).toHaveLength(1);
    const [close] = socket.frames();
    expect(close.opcode).toBe(OP.CLOSE);
    expect(close.code).toBe(4001);
    socket.push(null);
    expect(await closed).toBe(4001);
  });

  it('sends outside a socket chunk still go out at once when alone', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    ws.send('lone');
    expect(socket.calls).toHaveLength(1);
  });
});

describe('WebSocket: held replies are never lost or stuck', () => {
  it('terminate() inside a handler writes the replies sent before it, then destroys', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    ws.on('error', () => {});
    ws.on('message', (data) => {
      ws.send(data);
      ws.send('last words');
      ws.terminate();
    });

    socket.push(clientFrame(OP.TEXT, 'hello'));

    expect(socket.log).toEqual(['write', 'destroy']);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual([
      'hello',
      'last words'
    ]);
    await tick();
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('terminate() after several sends in one tick outside a chunk writes them all first', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    ws.send('a');
    ws.send('b');
    ws.send('c');
    ws.terminate();
    expect(socket.log).toEqual(['write', 'write', 'destroy']);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual([
      'a',
      'b',
      'c'
    ]);
  });

  it('a handler that throws still releases the replies and leaves the socket uncorked', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    ws.on('message', (data) => {
      ws.send(data);
      throw new Error('handler failed');
    });

    expect(() => socket.push(clientFrame(OP.TEXT, 'boom'))).toThrow(
      'handler failed'
    );
    expect(socket.writableCorked).toBe(0);
    expect(socket.calls).toHaveLength(1);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual(['boom']);
  });

  it('a chunk emitted from inside a handler joins the open batch', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    let nested = false;
    ws.on('message', (data) => {
      ws.send(data);
      if (!nested) {
        nested = true;
        socket.emit('data', clientFrame(OP.TEXT, 'inner'));
      }
    });

    socket.push(clientFrame(OP.TEXT, 'outer'));

    expect(socket.calls).toHaveLength(1);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual([
      'outer',
      'inner'
    ]);
    expect(socket.writableCorked).toBe(0);
  });

  it('send() callbacks of batched replies run once each, in order, after the write', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    const order = [];
    ws.on('message', (data) => {
      const text = data.toString();
      ws.send(text, (err) =>
        order.push([text, err === undefined || err === null])
      );
    });

    socket.push(
      Buffer.concat([clientFrame(OP.TEXT, 'x'), clientFrame(OP.TEXT, 'y')])
    );
    expect(socket.calls).toHaveLength(1);
    await tick();
    expect(order).toEqual([
      ['x', true],
      ['y', true]
    ]);
  });

  it('bufferedAmount counts a held reply inside the handler and is 0 once the chunk is done', async () => {
    const socket = recordingSocket();
    const ws = await serverOn(socket);
    const seen = [];
    ws.on('message', (data) => {
      ws.send(data);
      seen.push(ws.bufferedAmount);
    });

    socket.push(clientFrame(OP.BINARY, Buffer.alloc(10)));

    expect(seen).toEqual([2 + 10]);
    expect(ws.bufferedAmount).toBe(0);
  });
});
