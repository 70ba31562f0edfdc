// createWebSocketStream: a Duplex over a WebSocket with ws's semantics (messages in, writes out,
// backpressure through pause/resume, end -> close, destroy -> terminate, errors propagated).
// Runs against ws and ws-native.

import { afterEach, expect, it } from 'vitest';

import {
  cleanup,
  once,
  openPair,
  openPeer,
  recordEvents,
  startServer,
  track,
  within
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

/** Resolves when `predicate()` holds, polling every 5 ms. */
function until(predicate, what, ms = 3000) {
  return within(
    new Promise((resolve) => {
      const poll = () => (predicate() ? resolve() : setTimeout(poll, 5));
      poll();
    }),
    ms,
    what
  );
}

describeEach('createWebSocketStream', (impl) => {
  it('reads messages as chunks and sends each write as a message', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    const chunks = [];
    duplex.on('data', (chunk) => chunks.push(chunk));
    serverWs.send('text');
    serverWs.send(Buffer.from([9, 8]));
    await until(() => chunks.length === 2, 'two chunks');
    expect(chunks).toEqual([Buffer.from('text'), Buffer.from([9, 8])]);

    duplex.write('written');
    const [, data, isBinary] = await serverWs.events.wait('message');
    expect([data.toString(), isBinary]).toEqual(['written', true]);
  });

  it('gives text as strings only in readable object mode', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client, {
      readableObjectMode: true
    });
    const chunks = [];
    duplex.on('data', (chunk) => chunks.push(chunk));
    serverWs.send('text');
    serverWs.send(Buffer.from('bin'));
    await until(() => chunks.length === 2, 'two chunks');
    expect(chunks).toEqual(['text', Buffer.from('bin')]);
  });

  it('forces autoDestroy, emitClose and objectMode off', async () => {
    const { client } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client, {
      objectMode: true,
      writableObjectMode: true,
      autoDestroy: true,
      emitClose: true
    });
    expect([duplex.readableObjectMode, duplex.writableObjectMode]).toEqual([
      false,
      false
    ]);
    expect([
      duplex._readableState.autoDestroy,
      duplex._readableState.emitClose
    ]).toEqual([false, false]);
  });

  it('holds writes until a connecting client opens', async () => {
    const server = await startServer(impl);
    const accepted = server.connection();
    const client = new impl.WebSocket(server.url);
    track(() => client.terminate());
    const duplex = impl.createWebSocketStream(client);
    let written = false;
    duplex.write('early', () => (written = true));
    expect(client.readyState).toBe(impl.WebSocket.CONNECTING);
    const serverWs = await accepted;
    const [data] = await once(serverWs, 'message');
    expect(data.toString()).toBe('early');
    await until(() => written, 'the write callback');
  });

  it('pauses the WebSocket when the readable buffer is full and resumes on read', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client, {
      readableHighWaterMark: 8
    });
    serverWs.send(Buffer.alloc(16, 1));
    serverWs.send(Buffer.alloc(16, 2));
    await until(() => client.isPaused, 'the WebSocket to pause');
    expect(duplex.readableLength).toBeGreaterThanOrEqual(16);
    const received = [];
    duplex.on('data', (chunk) => received.push(chunk[0]));
    await until(() => received.length === 2, 'both chunks');
    expect(received).toEqual([1, 2]);
    await until(() => !client.isPaused, 'the WebSocket to resume');
  });

  it('closes the WebSocket on end() and ends when it is closed', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    const order = [];
    duplex.on('finish', () => order.push('finish'));
    duplex.on('end', () => order.push('end'));
    duplex.on('close', () => order.push('close'));
    duplex.resume();
    duplex.end('last');
    const [, data] = await serverWs.events.wait('message');
    expect(data.toString()).toBe('last');
    const [, code] = await serverWs.events.wait('close');
    expect(code).toBe(1005);
    await until(() => order.includes('close'), "the duplex's close");
    expect(order).toEqual(['finish', 'end', 'close']);
    expect(duplex.destroyed).toBe(true);
    expect(client.readyState).toBe(impl.WebSocket.CLOSED);
  });

  it('terminates the WebSocket when destroyed', async () => {
    const { client, serverWs } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    const closed = once(duplex, 'close');
    duplex.destroy();
    const [, code] = await serverWs.events.wait('close');
    expect(code).toBe(1006);
    await closed;
    expect(client.readyState).toBe(impl.WebSocket.CLOSED);
  });

  it('emits close after destroy() of a stream whose WebSocket is closed', async () => {
    const { client } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    client.terminate();
    await once(client, 'close');
    const closed = once(duplex, 'close');
    duplex.destroy();
    await closed;
  });

  it('passes WebSocket errors on and still sends the close frame', async () => {
    const { ws, peer } = await openPeer(impl, 'server');
    const duplex = impl.createWebSocketStream(ws);
    const errors = [];
    duplex.on('error', (error) => errors.push(error));
    const closed = once(duplex, 'close');
    peer.sendFrame({ opcode: 0x3, payload: 'reserved opcode' });
    const { close } = await peer.readUntilClose();
    expect(close.code).toBe(1002);
    await closed;
    expect(errors.map((error) => error.code)).toEqual([
      'WS_ERR_INVALID_OPCODE'
    ]);
    expect(duplex.destroyed).toBe(true);
  });

  it('fails writes after the WebSocket closed', async () => {
    const { client } = await openPair(impl);
    const duplex = impl.createWebSocketStream(client);
    duplex.on('error', () => {});
    client.close();
    await once(client, 'close');
    const error = await new Promise((resolve) => duplex.write('late', resolve));
    expect(error).toBeInstanceOf(Error);
  });

  it('wraps a server-side WebSocket as well', async () => {
    const { client, serverWs } = await openPair(impl);
    const other = recordEvents(client);
    const duplex = impl.createWebSocketStream(serverWs);
    duplex.write(Buffer.from('to client'));
    const [, data] = await other.wait('message');
    expect(data.toString()).toBe('to client');
    client.send('to stream');
    const [chunk] = await once(duplex, 'data');
    expect(chunk.toString()).toBe('to stream');
  });
});
