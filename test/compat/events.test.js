// ws public API, run against ws and ws-native: event order, readyState, bufferedAmount,
// binaryType, the EventTarget interface (on* attributes, addEventListener) and flow control.

import { afterEach, describe, expect, it } from 'vitest';

import {
  cleanup,
  connectClient,
  once,
  openPair,
  recordEvents,
  startServer,
  track
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

describeEach('events and state', (impl) => {
  describe('order and readyState', () => {
    it('the ready-state constants are on the class and on instances', () => {
      const { WebSocket } = impl;
      expect([
        WebSocket.CONNECTING,
        WebSocket.OPEN,
        WebSocket.CLOSING,
        WebSocket.CLOSED
      ]).toEqual([0, 1, 2, 3]);
      expect([
        WebSocket.prototype.CONNECTING,
        WebSocket.prototype.OPEN,
        WebSocket.prototype.CLOSING,
        WebSocket.prototype.CLOSED
      ]).toEqual([0, 1, 2, 3]);
    });

    it('a client goes CONNECTING -> OPEN -> CLOSING -> CLOSED, with upgrade, open, message, close in order', async () => {
      const server = await startServer(impl);
      const serverOrder = [];
      server.wss.on('headers', () => serverOrder.push('headers'));
      server.wss.on('connection', (ws) => {
        serverOrder.push('connection');
        ws.send('welcome');
      });
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      const states = [['constructed', ws.readyState]];
      const events = recordEvents(ws);
      ws.on('upgrade', () => states.push(['upgrade', ws.readyState]));
      ws.on('open', () => states.push(['open', ws.readyState]));
      ws.on('message', () => {
        states.push(['message', ws.readyState]);
        ws.close(1000);
        states.push(['after close()', ws.readyState]);
      });
      ws.on('close', () => states.push(['close', ws.readyState]));
      await events.wait('close');
      expect(events.names()).toEqual(['upgrade', 'open', 'message', 'close']);
      expect(states).toEqual([
        ['constructed', 0],
        ['upgrade', 0],
        ['open', 1],
        ['message', 1],
        ['after close()', 2],
        ['close', 3]
      ]);
      expect(serverOrder).toEqual(['headers', 'connection']);
    });

    it("url, protocol, extensions and isPaused read as ws's", async () => {
      const { client, serverWs, server } = await openPair(impl, {
        serverOptions: { perMessageDeflate: true },
        protocols: ['chat']
      });
      expect(client.url).toBe(server.url + '/');
      expect([client.protocol, serverWs.protocol]).toEqual(['chat', 'chat']);
      expect([client.extensions, serverWs.extensions]).toEqual([
        'permessage-deflate',
        'permessage-deflate'
      ]);
      expect(client.isPaused).toBe(false);
      expect(typeof client.binaryType).toBe('string');
    });

    it('a server-side socket is OPEN in the connection listener and reports CLOSED in close', async () => {
      const server = await startServer(impl);
      const seen = [];
      server.wss.on('connection', (ws) => {
        seen.push(ws.readyState);
        ws.on('close', () => seen.push(ws.readyState));
      });
      const client = await connectClient(impl, server.url);
      client.close();
      await client.events.wait('close');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen).toEqual([1, 3]);
    });
  });

  describe('bufferedAmount', () => {
    it('is 0 while connecting and when idle', async () => {
      const server = await startServer(impl);
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      expect(ws.bufferedAmount).toBe(0);
      await once(ws, 'open');
      expect(ws.bufferedAmount).toBe(0);
    });

    it('counts a large message until it is written, then drops to 0', async () => {
      const { client } = await openPair(impl);
      const data = Buffer.alloc(8 * 1024 * 1024, 1);
      const written = new Promise((resolve) => client.send(data, resolve));
      const right = client.bufferedAmount;
      await written;
      expect(right).toBeGreaterThan(0);
      expect(right).toBeLessThanOrEqual(data.length + 14);
      expect(client.bufferedAmount).toBe(0);
    });

    it('grows by the data length for each send() after close, and the callback gets an error', async () => {
      const { client } = await openPair(impl);
      client.close();
      const before = client.bufferedAmount;
      const errors = [];
      client.send('12345', (error) => errors.push(error.message));
      client.send(Buffer.alloc(10), (error) => errors.push(error.message));
      expect(client.bufferedAmount - before).toBe(15);
      await client.events.wait('close');
      client.send('abc', (error) => errors.push(error.message));
      // The callbacks run on a later tick, never synchronously.
      expect(errors.length).toBe(2);
      await new Promise((resolve) => setImmediate(resolve));
      expect(errors).toEqual([
        'WebSocket is not open: readyState 2 (CLOSING)',
        'WebSocket is not open: readyState 2 (CLOSING)',
        'WebSocket is not open: readyState 3 (CLOSED)'
      ]);
    });

    it('after a failed handshake, send() still adds to bufferedAmount', async () => {
      const server = await startServer(impl, { verifyClient: () => false });
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      const events = recordEvents(ws);
      await events.wait('close');
      ws.send('hello');
      expect(ws.bufferedAmount).toBe(5);
    });
  });

  describe('binaryType', () => {
    it("defaults to 'nodebuffer'; 'arraybuffer', 'fragments' and 'blob' change what binary messages are", async () => {
      const { client, serverWs } = await openPair(impl);
      expect(client.binaryType).toBe('nodebuffer');
      const got = [];
      client.on('message', (data, isBinary) => got.push([data, isBinary]));
      const next = () =>
        new Promise((resolve) =>
          client.once('message', (data, isBinary) => resolve([data, isBinary]))
        );

      let pending = next();
      serverWs.send(Buffer.from('nb'));
      let [data] = await pending;
      expect(Buffer.isBuffer(data)).toBe(true);

      client.binaryType = 'arraybuffer';
      pending = next();
      serverWs.send(Buffer.from('ab'));
      [data] = await pending;
      expect(data).toBeInstanceOf(ArrayBuffer);
      expect(Buffer.from(data).toString()).toBe('ab');

      client.binaryType = 'fragments';
      pending = next();
      serverWs.send(Buffer.from('fr'));
      [data] = await pending;
      expect(Array.isArray(data)).toBe(true);
      expect(Buffer.concat(data).toString()).toBe('fr');

      client.binaryType = 'blob';
      pending = next();
      serverWs.send(Buffer.from('bl'));
      [data] = await pending;
      expect(data).toBeInstanceOf(Blob);
      expect(await data.text()).toBe('bl');

      // Text messages are Buffers whatever the binaryType.
      pending = next();
      serverWs.send('text');
      const [text, isBinary] = await pending;
      expect([Buffer.isBuffer(text), isBinary]).toEqual([true, false]);
    });

    it('an unknown binaryType is ignored', async () => {
      const { client } = await openPair(impl);
      client.binaryType = 'arraybuffer';
      client.binaryType = 'string';
      client.binaryType = undefined;
      expect(client.binaryType).toBe('arraybuffer');
    });

    it('can change between two messages of one chunk (in the first message listener)', async () => {
      const { client, serverWs } = await openPair(impl);
      const types = [];
      client.on('message', (data) => {
        types.push(data instanceof ArrayBuffer ? 'arraybuffer' : 'nodebuffer');
        client.binaryType = 'arraybuffer';
      });
      serverWs._socket.cork();
      serverWs.send(Buffer.from('1'));
      serverWs.send(Buffer.from('2'));
      serverWs._socket.uncork();
      await client.events.waitCount('message', 2);
      expect(types).toEqual(['nodebuffer', 'arraybuffer']);
    });
  });

  describe('EventTarget interface', () => {
    it('on* attributes receive Event, MessageEvent, CloseEvent; getters return the handler', async () => {
      const server = await startServer(impl);
      server.wss.on('connection', (ws) => {
        ws.send('text');
        ws.send(Buffer.from([1, 2]));
        ws.close(4321, 'reason');
      });
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      const seen = [];
      const onopen = (event) =>
        seen.push(['open', event.type, event.target === ws]);
      ws.onopen = onopen;
      ws.onmessage = (event) =>
        seen.push([
          'message',
          event.type,
          Buffer.isBuffer(event.data) ? 'buffer' : event.data
        ]);
      const closed = new Promise((resolve) => {
        ws.onclose = (event) => {
          seen.push([
            'close',
            event.type,
            event.code,
            event.reason,
            event.wasClean
          ]);
          resolve();
        };
      });
      expect(ws.onopen).toBe(onopen);
      expect(ws.onerror).toBe(null);
      await closed;
      expect(seen).toEqual([
        ['open', 'open', true],
        ['message', 'message', 'text'],
        ['message', 'message', 'buffer'],
        ['close', 'close', 4321, 'reason', true]
      ]);
    });

    it('setting an on* attribute replaces the previous handler; a non-function clears it', async () => {
      const { client } = await openPair(impl);
      const a = () => {};
      const b = () => {};
      client.onmessage = a;
      client.onmessage = b;
      expect(client.onmessage).toBe(b);
      expect(client.listenerCount('message')).toBe(2); // b plus the recorder
      client.onmessage = 'not a function';
      expect(client.onmessage).toBe(null);
      expect(client.listenerCount('message')).toBe(1);
    });

    it('onerror receives an ErrorEvent with error and message', async () => {
      const server = await startServer(impl, { verifyClient: () => false });
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      const event = await new Promise((resolve) => {
        ws.onerror = resolve;
      });
      expect(event.type).toBe('error');
      expect(event.target).toBe(ws);
      expect(event.error).toBeInstanceOf(Error);
      expect(event.message).toBe('Unexpected server response: 401');
      expect(event.error.message).toBe(event.message);
    });

    it('addEventListener: once, handleEvent objects, duplicates ignored, unknown types ignored', async () => {
      const { client, serverWs } = await openPair(impl);
      const calls = [];
      const listener = (event) => calls.push(['fn', event.data]);
      client.addEventListener('message', listener);
      client.addEventListener('message', listener);
      client.addEventListener(
        'message',
        (event) => calls.push(['once', event.data]),
        {
          once: true
        }
      );
      client.addEventListener('message', {
        handleEvent(event) {
          calls.push([
            'object',
            event.data,
            this === undefined ? 'no this' : 'this'
          ]);
        }
      });
      client.addEventListener('ping', () => calls.push(['ping']));
      serverWs.send('one');
      serverWs.send('two');
      serverWs.ping();
      await client.events.waitCount('message', 2);
      await client.events.wait('ping');
      expect(calls).toEqual([
        ['fn', 'one'],
        ['once', 'one'],
        ['object', 'one', 'this'],
        ['fn', 'two'],
        ['object', 'two', 'this']
      ]);
    });

    it('removeEventListener removes a listener added by addEventListener, not one added with on()', async () => {
      const { client, serverWs } = await openPair(impl);
      const calls = [];
      const viaTarget = () => calls.push('target');
      const viaOn = () => calls.push('on');
      client.addEventListener('message', viaTarget);
      client.on('message', viaOn);
      client.removeEventListener('message', viaTarget);
      client.removeEventListener('message', viaOn);
      serverWs.send('x');
      await client.events.wait('message');
      expect(calls).toEqual(['on']);
    });

    it('a MessageEvent carries binary data as the binaryType says', async () => {
      const { client, serverWs } = await openPair(impl);
      client.binaryType = 'arraybuffer';
      const data = await new Promise((resolve) => {
        client.addEventListener('message', (event) => resolve(event.data));
        serverWs.send(Buffer.from([7]));
      });
      expect(data).toBeInstanceOf(ArrayBuffer);
    });
  });

  describe('flow control', () => {
    it('pause() holds messages back and resume() delivers them; isPaused follows', async () => {
      const { client, serverWs } = await openPair(impl);
      client.pause();
      expect(client.isPaused).toBe(true);
      serverWs.send('held');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(client.events.of('message')).toEqual([]);
      client.resume();
      expect(client.isPaused).toBe(false);
      const [, data] = await client.events.wait('message');
      expect(data.toString()).toBe('held');
    });

    it('a paused client pushes back on the sender: nothing is delivered, the server buffers, and resume() drains all in order', async () => {
      const { client, serverWs } = await openPair(impl);
      client.pause();
      for (let i = 0; i < 24; i++) serverWs.send(Buffer.alloc(1024 * 1024, i));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.events.of('message')).toEqual([]);
      // The kernel's buffers hold a few MiB at most; the rest waits in the server's socket.
      expect(serverWs.bufferedAmount).toBeGreaterThan(0);
      client.resume();
      const messages = await client.events.waitCount('message', 24, 10000);
      expect(messages.map(([, data]) => data[0])).toEqual(
        Array.from({ length: 24 }, (_, i) => i)
      );
      expect(messages.every(([, data]) => data.length === 1024 * 1024)).toBe(
        true
      );
    });

    it('pause() and resume() do nothing while CONNECTING', async () => {
      const server = await startServer(impl);
      const ws = new impl.WebSocket(server.url);
      track(() => ws.terminate());
      ws.pause();
      expect(ws.isPaused).toBe(false);
      ws.resume();
      await once(ws, 'open');
    });

    it('allowSynchronousEvents true (default): messages of one chunk are emitted in the same tick', async () => {
      const { client, serverWs } = await openPair(impl);
      const order = [];
      client.on('message', (data) => {
        order.push(data.toString());
        process.nextTick(() => order.push(`tick after ${data}`));
      });
      serverWs._socket.cork();
      serverWs.send('a');
      serverWs.send('b');
      serverWs._socket.uncork();
      await client.events.waitCount('message', 2);
      await new Promise((resolve) => setImmediate(resolve));
      expect(order).toEqual(['a', 'b', 'tick after a', 'tick after b']);
    });

    it('allowSynchronousEvents false: each message waits for its own turn of the event loop', async () => {
      const { client, serverWs } = await openPair(impl, {
        clientOptions: { allowSynchronousEvents: false }
      });
      const order = [];
      client.on('message', (data) => {
        order.push(data.toString());
        process.nextTick(() => order.push(`tick after ${data}`));
      });
      serverWs._socket.cork();
      serverWs.send(Buffer.from('a'));
      serverWs.send(Buffer.from('b'));
      serverWs._socket.uncork();
      await client.events.waitCount('message', 2);
      await new Promise((resolve) => setImmediate(resolve));
      expect(order).toEqual(['a', 'tick after a', 'b', 'tick after b']);
    });
  });
});
