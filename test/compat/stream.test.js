// ws public API, run against ws and ws-native: createWebSocketStream() as a Duplex over a socket.

import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';

import { afterEach, expect, it } from 'vitest';

import {
  cleanup,
  once,
  openPair,
  recordEvents,
  startServer,
  track
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

describeEach('createWebSocketStream', (impl) => {
  it('writes become binary messages and messages become readable data', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    duplex.write('written');
    const [, data, isBinary] = await serverWs.events.wait('message');
    expect([data.toString(), isBinary]).toEqual(['written', true]);
    serverWs.send('pushed');
    const [chunk] = await once(duplex, 'data');
    expect(Buffer.isBuffer(chunk)).toBe(true);
    expect(chunk.toString()).toBe('pushed');
    duplex.destroy();
  });

  it('readableObjectMode turns text messages into strings and keeps binary as Buffers', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client, {
      readableObjectMode: true
    });
    const got = [];
    duplex.on('data', (chunk) => got.push(chunk));
    serverWs.send('text');
    serverWs.send(Buffer.from('bin'));
    await client.events.waitCount('message', 2);
    await new Promise((resolve) => setImmediate(resolve));
    expect([typeof got[0], got[0]]).toEqual(['string', 'text']);
    expect(Buffer.isBuffer(got[1])).toBe(true);
    duplex.destroy();
  });

  it('writes made while CONNECTING are sent once open', async () => {
    const server = await startServer(impl);
    const ws = new impl.WebSocket(server.url);
    track(() => ws.terminate());
    const duplex = impl.createWebSocketStream(ws);
    duplex.write('early');
    const serverWs = await server.connection();
    const events = recordEvents(serverWs);
    const [, data] = await events.wait('message');
    expect(data.toString()).toBe('early');
    duplex.destroy();
  });

  it('end() closes the WebSocket; the peer closing ends the readable side', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    duplex.resume();
    const ended = once(duplex, 'end');
    duplex.end();
    const [, code] = await serverWs.events.wait('close');
    expect(code).toBe(1005);
    await ended;
    await client.events.wait('close');
  });

  it('destroy() terminates the WebSocket (the peer sees 1006) and emits close', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    const closed = once(duplex, 'close');
    duplex.destroy();
    await closed;
    const [, code] = await serverWs.events.wait('close');
    expect(code).toBe(1006);
  });

  it('a WebSocket error is emitted on the stream, which is destroyed', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    const failed = once(duplex, 'error');
    // A masked frame from the server: the client fails the connection (1002).
    serverWs._socket.write(Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61]));
    const [error] = await failed;
    expect(error.code).toBe('WS_ERR_UNEXPECTED_MASK');
    expect(duplex.destroyed).toBe(true);
  });

  it('pipes a megabyte through in order', async () => {
    const { client, serverWs } = await openPair(impl);
    serverWs.on('message', (data) => serverWs.send(data));
    const duplex = impl.createWebSocketStream(client);
    const pieces = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16384, i));
    const received = [];
    let total = 0;
    const sink = new Writable({
      write(chunk, encoding, callback) {
        received.push(chunk);
        total += chunk.length;
        if (total === 64 * 16384) duplex.end();
        callback();
      }
    });
    const source = Readable.from(pieces);
    source.pipe(duplex, { end: false });
    await pipeline(duplex, sink);
    expect(Buffer.concat(received).equals(Buffer.concat(pieces))).toBe(true);
  });
});
