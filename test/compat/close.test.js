// ws public API, run against ws and ws-native: every way a connection ends, the codes and reasons
// each side reports, and the readyState on the way.

import { afterEach, expect, it } from 'vitest';

import {
  cleanup,
  openPair,
  openPeer,
  recordEvents,
  startServer,
  track,
  within
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { OP } from '../helpers/wire.js';

afterEach(cleanup);

describeEach('closing', (impl) => {
  it("client close(code, reason): both sides report the code and reason; the client's CloseEvent is clean", async () => {
    const { client, serverWs } = await openPair(impl);
    let closeEvent;
    client.addEventListener('close', (event) => {
      closeEvent = event;
    });
    client.close(1000, 'bye');
    expect(client.readyState).toBe(impl.WebSocket.CLOSING);
    const [, serverCode, serverReason] = await serverWs.events.wait('close');
    const [, clientCode, clientReason] = await client.events.wait('close');
    expect([serverCode, serverReason.toString()]).toEqual([1000, 'bye']);
    expect([clientCode, clientReason.toString()]).toEqual([1000, 'bye']);
    expect(Buffer.isBuffer(clientReason)).toBe(true);
    expect([closeEvent.code, closeEvent.reason, closeEvent.wasClean]).toEqual([
      1000,
      'bye',
      true
    ]);
    expect([client.readyState, serverWs.readyState]).toEqual([3, 3]);
  });

  it('server close(code, reason): the client reports them', async () => {
    const { client, serverWs } = await openPair(impl);
    serverWs.close(4000, 'custom');
    const [, code, reason] = await client.events.wait('close');
    expect([code, reason.toString()]).toEqual([4000, 'custom']);
    const [, serverCode] = await serverWs.events.wait('close');
    expect(serverCode).toBe(4000);
  });

  it('close() without a code: both sides report 1005 and an empty reason', async () => {
    const { client, serverWs } = await openPair(impl);
    client.close();
    const [, serverCode, serverReason] = await serverWs.events.wait('close');
    const [, clientCode, clientReason] = await client.events.wait('close');
    expect([
      serverCode,
      serverReason.length,
      clientCode,
      clientReason.length
    ]).toEqual([1005, 0, 1005, 0]);
  });

  it('close(code) without a reason reports an empty Buffer as reason', async () => {
    const { client, serverWs } = await openPair(impl);
    serverWs.close(1001);
    const [, code, reason] = await client.events.wait('close');
    expect([code, Buffer.isBuffer(reason), reason.length]).toEqual([
      1001,
      true,
      0
    ]);
  });

  it('close(code, Buffer) and close(code, Uint8Array) send the bytes as the reason', async () => {
    const { client, serverWs } = await openPair(impl);
    client.close(3001, Buffer.from('buffer reason'));
    const [, code, reason] = await serverWs.events.wait('close');
    expect([code, reason.toString()]).toEqual([3001, 'buffer reason']);

    const second = await openPair(impl);
    second.client.close(3002, new Uint8Array([0x68, 0x69]));
    const [, code2, reason2] = await second.serverWs.events.wait('close');
    expect([code2, reason2.toString()]).toEqual([3002, 'hi']);
  });

  it('a 123-byte reason is accepted', async () => {
    const { client, serverWs } = await openPair(impl);
    client.close(1000, 'é'.repeat(61) + 'x');
    const [, , reason] = await serverWs.events.wait('close');
    expect(reason.length).toBe(123);
  });

  it('client terminate(): both sides report 1006; readyState goes CLOSING then CLOSED', async () => {
    const { client, serverWs } = await openPair(impl);
    client.terminate();
    expect(client.readyState).toBe(2);
    const [, clientCode, clientReason] = await client.events.wait('close');
    const [, serverCode] = await serverWs.events.wait('close');
    expect([clientCode, clientReason.length, serverCode]).toEqual([
      1006, 0, 1006
    ]);
    expect(client.readyState).toBe(3);
    expect(client.events.of('error')).toEqual([]);
  });

  it("terminate() while a Blob is being read: its send callback and those queued behind it get an error before 'close'", async () => {
    // In the 'open' listener, as ws's own test does: there the socket closes
    // before the Blob is read.
    const server = await startServer(impl);
    const client = new impl.WebSocket(server.url);
    track(() => client.terminate());
    const order = [];
    const record = (name) => (err) => {
      order.push([name, client.readyState, err && err.message]);
    };
    const closed = new Promise((resolve) => {
      client.on('close', () => {
        order.push(['close', client.readyState]);
        resolve();
      });
    });
    client.on('open', () => {
      client.send(new Blob(['foo']), record('blob'));
      client.send('bar', record('bar'));
      client.send('baz', record('baz'));
      client.terminate();
    });
    await within(closed, 3000, "the client's 'close' event");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const message = 'The socket was closed while the blob was being read';
    expect(order).toEqual([
      ['blob', 2, message],
      ['bar', 2, message],
      ['baz', 2, message],
      ['close', 3]
    ]);
  });

  it('server terminate(): the client reports 1006', async () => {
    const { client, serverWs } = await openPair(impl);
    let closeEvent;
    client.onclose = (event) => {
      closeEvent = event;
    };
    serverWs.terminate();
    const [, code] = await client.events.wait('close');
    expect(code).toBe(1006);
    expect([closeEvent.code, closeEvent.wasClean]).toEqual([1006, false]);
  });

  it('messages already received in the same chunk are still emitted after close() is called in a listener', async () => {
    const { client, serverWs } = await openPair(impl);
    const got = [];
    client.on('message', (data) => {
      got.push(data.toString());
      if (got.length === 1) client.close(1000);
    });
    serverWs._socket.cork();
    serverWs.send('one');
    serverWs.send('two');
    serverWs.send('three');
    serverWs._socket.uncork();
    await client.events.wait('close');
    expect(got).toEqual(['one', 'two', 'three']);
  });

  it('close() and terminate() after CLOSED do nothing', async () => {
    const { client } = await openPair(impl);
    client.close();
    await client.events.wait('close');
    client.close(1000);
    client.terminate();
    expect(client.readyState).toBe(3);
    expect(client.events.of('close').length).toBe(1);
  });

  it('close() while CONNECTING aborts with an error and 1006', async () => {
    const server = await startServer(impl);
    const ws = new impl.WebSocket(server.url);
    track(() => ws.terminate());
    const events = recordEvents(ws);
    ws.close();
    expect(ws.readyState).toBe(2);
    const [, error] = await events.wait('error');
    expect(error.message).toBe(
      'WebSocket was closed before the connection was established'
    );
    const [, code] = await events.wait('close');
    expect(code).toBe(1006);
    expect(events.names()).toEqual(['error', 'close']);
  });

  it('terminate() while CONNECTING aborts the same way', async () => {
    const server = await startServer(impl);
    const ws = new impl.WebSocket(server.url);
    track(() => ws.terminate());
    const events = recordEvents(ws);
    ws.terminate();
    const [, error] = await events.wait('error');
    expect(error.message).toBe(
      'WebSocket was closed before the connection was established'
    );
    const [, code] = await events.wait('close');
    expect(code).toBe(1006);
  });

  it('closeTimeout: a client whose server never answers the close frame gives up after the timeout (1006)', async () => {
    const ctx = await openPeer(impl, 'client', {
      clientOptions: { closeTimeout: 100 }
    });
    const started = Date.now();
    ctx.ws.close(1000);
    const [, code] = await ctx.events.wait('close', 3000);
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    const frame = await ctx.peer.nextFrame();
    expect([frame.opcode, frame.code]).toEqual([OP.CLOSE, 1000]);
  });

  it('closeTimeout: a server whose client never answers the close frame gives up after the timeout (1006)', async () => {
    const ctx = await openPeer(impl, 'server', {
      serverOptions: { closeTimeout: 100 }
    });
    const started = Date.now();
    ctx.ws.close(1000);
    const [, code] = await ctx.events.wait('close', 3000);
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('the default closeTimeout is 30 s: a silent peer keeps the socket open past 200 ms', async () => {
    const ctx = await openPeer(impl, 'server');
    ctx.ws.close(1000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ctx.events.of('close')).toEqual([]);
    expect(ctx.ws.readyState).toBe(2);
  });

  it('WebSocketServer.close() does not close open connections; its close event waits for them', async () => {
    const { client, serverWs, server } = await openPair(impl);
    let serverClosed = false;
    const closed = new Promise((resolve) =>
      server.wss.close(() => {
        serverClosed = true;
        resolve();
      })
    );
    serverWs.on('message', (data) => serverWs.send(data));
    client.send('still here');
    const [, data] = await client.events.wait('message');
    expect(data.toString()).toBe('still here');
    expect([client.readyState, serverClosed]).toEqual([1, false]);
    client.close();
    await client.events.wait('close');
    await within(closed, 3000, "the server's close callback");
    expect(serverClosed).toBe(true);
  });

  it("the server-side socket reports its client's close", async () => {
    const { client, serverWs, server } = await openPair(impl);
    expect(server.wss.clients.size).toBe(1);
    client.close(1000);
    await serverWs.events.wait('close');
    expect(server.wss.clients.size).toBe(0);
  });
});
