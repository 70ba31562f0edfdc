// lib/peer.js: WebSocket.wrap() opens a WebSocket over an already-connected stream with no HTTP
// handshake, in either role (RFC 6455 §5.1 masking rules), over TCP and over in-memory pairs.

import { createRequire } from 'node:module';
import net from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { duplexPair } from '../helpers/duplex-pair.js';
import { cleanup, recordEvents, track, within } from '../helpers/harness.js';
import { RawConnection } from '../helpers/raw-client.js';
import {
  encodeFrame,
  MessageDeflater,
  MessageInflater,
  OP
} from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../index.js');

afterEach(cleanup);

/** A connected pair of TCP sockets on the loopback interface. */
async function tcpPair() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  const serverSide = await accepted;
  server.close();
  track(() => {
    client.destroy();
    serverSide.destroy();
  });
  return { serverSide, clientSide: client };
}

/** An in-memory pair, destroyed after the test. */
function memoryPair() {
  const [a, b] = duplexPair();
  track(() => {
    a.destroy();
    b.destroy();
  });
  return [a, b];
}

/** Wraps both ends: the first in the server role, the second in the client role. */
function wrapBoth(serverStream, clientStream, options = {}) {
  const server = WebSocket.wrap(serverStream, { ...options, isServer: true });
  const client = WebSocket.wrap(clientStream, { ...options, isServer: false });
  track(() => {
    server.terminate();
    client.terminate();
  });
  return {
    server,
    client,
    serverEvents: recordEvents(server),
    clientEvents: recordEvents(client)
  };
}

const TRANSPORTS = [
  [
    'TCP sockets',
    async () => {
      const { serverSide, clientSide } = await tcpPair();
      return [serverSide, clientSide];
    }
  ],
  ['an in-memory duplex pair', async () => memoryPair()]
];

describe.each(TRANSPORTS)('WebSocket.wrap over %s', (name, makePair) => {
  it('opens both ends at once and exchanges text, binary, pings and a close', async () => {
    const [a, b] = await makePair();
    const { server, client, serverEvents, clientEvents } = wrapBoth(a, b);
    expect([server.readyState, client.readyState]).toEqual([
      WebSocket.OPEN,
      WebSocket.OPEN
    ]);
    expect(server).toBeInstanceOf(WebSocket);

    client.send('hello');
    client.send(Buffer.from([1, 2, 3]));
    const [, text, textIsBinary] = await serverEvents.wait('message');
    expect([text.toString(), textIsBinary]).toEqual(['hello', false]);
    const [, [, binary, binaryIsBinary]] = await serverEvents.waitCount(
      'message',
      2
    );
    expect([binary, binaryIsBinary]).toEqual([Buffer.from([1, 2, 3]), true]);

    server.send('world');
    const [, reply] = await clientEvents.wait('message');
    expect(reply.toString()).toBe('world');

    server.ping('are you there');
    const [, ping] = await clientEvents.wait('ping');
    const [, pong] = await serverEvents.wait('pong');
    expect([ping.toString(), pong.toString()]).toEqual([
      'are you there',
      'are you there'
    ]);

    client.close(4000, 'bye');
    const [, serverCode, serverReason] = await serverEvents.wait('close');
    const [, clientCode, clientReason] = await clientEvents.wait('close');
    expect([serverCode, serverReason.toString()]).toEqual([4000, 'bye']);
    expect([clientCode, clientReason.toString()]).toEqual([4000, 'bye']);
    expect(serverEvents.of('error')).toEqual([]);
    expect(clientEvents.of('error')).toEqual([]);
  });

  it('agrees on permessage-deflate parameters out of band', async () => {
    const [a, b] = await makePair();
    const perMessageDeflate = {
      serverNoContextTakeover: true,
      clientMaxWindowBits: 10,
      threshold: 0
    };
    const { server, client, serverEvents, clientEvents } = wrapBoth(a, b, {
      perMessageDeflate
    });
    expect([server.extensions, client.extensions]).toEqual([
      'permessage-deflate',
      'permessage-deflate'
    ]);
    const big = 'compress me '.repeat(1000);
    client.send(big);
    server.send(big);
    const [, atServer] = await serverEvents.wait('message');
    const [, atClient] = await clientEvents.wait('message');
    expect([atServer.toString(), atClient.toString()]).toEqual([big, big]);
  });
});

describe('WebSocket.wrap on the wire', () => {
  it('masks every frame in the client role (RFC 6455 §5.3)', async () => {
    const [local, remote] = memoryPair();
    const ws = WebSocket.wrap(local, { isServer: false });
    const peer = new RawConnection(remote, 'server');
    ws.send('masked');
    const frame = await peer.nextFrame();
    expect([frame.opcode, frame.masked, frame.payload.toString()]).toEqual([
      OP.TEXT,
      true,
      'masked'
    ]);
  });

  it('sends unmasked frames and requires masked ones in the server role', async () => {
    const [local, remote] = memoryPair();
    const ws = WebSocket.wrap(local, { isServer: true });
    const events = recordEvents(ws);
    const peer = new RawConnection(remote, 'client');
    ws.send('plain');
    const frame = await peer.nextFrame();
    expect([frame.masked, frame.payload.toString()]).toEqual([false, 'plain']);

    peer.sendFrame({ opcode: OP.TEXT, payload: 'unmasked', mask: false });
    const close = (await peer.readUntilClose()).close;
    expect(close.code).toBe(1002);
    const [, error] = await events.wait('error');
    expect(error.code).toBe('WS_ERR_EXPECTED_MASK');
  });

  it('fails when both ends take the same role', async () => {
    const [a, b] = memoryPair();
    const first = WebSocket.wrap(a, { isServer: true });
    const second = WebSocket.wrap(b, { isServer: true });
    track(() => {
      first.terminate();
      second.terminate();
    });
    const firstEvents = recordEvents(first);
    const events = recordEvents(second);
    first.send('unmasked');
    const [, error] = await events.wait('error');
    expect(error.code).toBe('WS_ERR_EXPECTED_MASK');
    const [, code] = await events.wait('close');
    expect(code).toBe(1006);
    // The close frame the second end sends back is unmasked too, so the first end fails alike.
    const [, firstError] = await firstEvents.wait('error');
    expect(firstError.code).toBe('WS_ERR_EXPECTED_MASK');
    expect(events.of('message')).toEqual([]);
  });

  it('parses the head bytes before the stream data', async () => {
    const [local, remote] = memoryPair();
    const head = encodeFrame({ opcode: OP.TEXT, payload: 'early', mask: true });
    const ws = WebSocket.wrap(local, { isServer: true, head });
    const events = recordEvents(ws);
    const peer = new RawConnection(remote, 'client');
    peer.sendText('late');
    const messages = await events.waitCount('message', 2);
    expect(messages.map(([, data]) => data.toString())).toEqual([
      'early',
      'late'
    ]);
  });

  it('reports the agreed subprotocol', () => {
    const [local] = memoryPair();
    expect(WebSocket.wrap(local, { protocol: 'chat.v2' }).protocol).toBe(
      'chat.v2'
    );
    const [other] = memoryPair();
    expect(WebSocket.wrap(other).protocol).toBe('');
  });

  it('uses the agreed window and context takeover on the wire (RFC 7692 §7.1)', async () => {
    const [local, remote] = memoryPair();
    const ws = WebSocket.wrap(local, {
      isServer: false,
      perMessageDeflate: {
        clientMaxWindowBits: 9,
        clientNoContextTakeover: true,
        threshold: 0
      }
    });
    const events = recordEvents(ws);
    const peer = new RawConnection(remote, 'server');
    const text = 'abcdefgh'.repeat(600);
    ws.send(text);
    ws.send(text);
    const first = await peer.nextFrame();
    const second = await peer.nextFrame();
    expect([first.rsv1, first.masked, second.rsv1]).toEqual([true, true, true]);
    // No context takeover: each message inflates alone, with a 2^9 window.
    for (const frame of [first, second]) {
      const inflater = new MessageInflater({
        windowBits: 9,
        noContextTakeover: true
      });
      expect((await inflater.inflate(frame.payload)).toString()).toBe(text);
      inflater.close();
    }

    const deflater = new MessageDeflater();
    peer.sendFrame({
      opcode: OP.TEXT,
      payload: await deflater.compress('from server'),
      rsv1: true
    });
    deflater.close();
    const [, data] = await events.wait('message');
    expect(data.toString()).toBe('from server');
  });

  it('fills masking keys with generateMask in the client role', async () => {
    const [local, remote] = memoryPair();
    const ws = WebSocket.wrap(local, { generateMask: (mask) => mask.fill(7) });
    const peer = new RawConnection(remote, 'server');
    ws.send('x');
    const frame = await peer.nextFrame();
    expect(frame.maskKey).toEqual(Buffer.from([7, 7, 7, 7]));
  });

  it('applies the connection limits and hooks', async () => {
    const [local, remote] = memoryPair();
    const ws = WebSocket.wrap(local, {
      isServer: true,
      maxPayload: 4,
      autoPong: false
    });
    const events = recordEvents(ws);
    const peer = new RawConnection(remote, 'client');
    peer.sendFrame({ opcode: OP.PING, payload: 'p' });
    await events.wait('ping');
    peer.sendText('12345');
    const { close, before } = await peer.readUntilClose();
    expect(before).toEqual([]);
    expect(close.code).toBe(1009);
  });

  it('instantiates the WebSocket option', () => {
    class Tagged extends WebSocket {}
    const [local] = memoryPair();
    expect(WebSocket.wrap(local, { WebSocket: Tagged })).toBeInstanceOf(Tagged);
  });

  it('closes the stream after the closing handshake', async () => {
    const [local, remote] = memoryPair();
    const ws = WebSocket.wrap(local, { isServer: true });
    const events = recordEvents(ws);
    const peer = new RawConnection(remote, 'client');
    ws.close(1001, 'going');
    const frame = await peer.nextFrame();
    expect([frame.code, frame.reason.toString()]).toEqual([1001, 'going']);
    peer.sendClose(1001);
    const [, code] = await events.wait('close');
    expect(code).toBe(1001);
    await within(
      new Promise((resolve) =>
        local.destroyed ? resolve() : local.once('close', resolve)
      ),
      2000,
      'the stream to close'
    );
  });
});

describe('WebSocket.wrap argument checks', () => {
  it('rejects what is not a stream', () => {
    for (const value of [
      null,
      undefined,
      42,
      'socket',
      {},
      { on() {}, write() {} }
    ]) {
      expect(() => WebSocket.wrap(value)).toThrow(
        new TypeError('The "stream" argument must be a Duplex stream')
      );
    }
  });

  it('rejects a destroyed stream and one already in use', () => {
    const [a, b] = memoryPair();
    a.destroy();
    expect(() => WebSocket.wrap(a)).toThrow(
      new Error('The stream is destroyed')
    );
    WebSocket.wrap(b);
    expect(() => WebSocket.wrap(b)).toThrow(
      new Error('The stream is already used by a WebSocket')
    );
  });

  it('rejects options of the wrong type or range', () => {
    const cases = [
      [
        { protocol: 1 },
        new TypeError('The "protocol" option must be a string')
      ],
      [{ head: 'abc' }, new TypeError('The "head" option must be a Buffer')],
      [
        { generateMask: true },
        new TypeError('The "generateMask" option must be a function')
      ],
      [
        { perMessageDeflate: 'yes' },
        new TypeError(
          'The "perMessageDeflate" option must be a boolean or an object'
        )
      ],
      [
        { perMessageDeflate: { serverMaxWindowBits: 7 } },
        new RangeError(
          'The "perMessageDeflate.serverMaxWindowBits" option must be an integer between 8 and 15'
        )
      ],
      [
        { perMessageDeflate: { clientMaxWindowBits: 10.5 } },
        new RangeError(
          'The "perMessageDeflate.clientMaxWindowBits" option must be an integer between 8 and 15'
        )
      ]
    ];
    for (const [options, error] of cases) {
      const [stream] = memoryPair();
      expect(
        () => WebSocket.wrap(stream, options),
        JSON.stringify(options)
      ).toThrow(error);
      expect(stream.listenerCount('data')).toBe(0);
    }
  });
});
