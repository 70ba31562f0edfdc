// ws public API, written once and run against ws and ws-native: a server and a client of the same
// implementation echo text and binary messages of every length class, with and without
// permessage-deflate, and every data type send() accepts.

import { afterEach, describe, expect, it } from 'vitest';

import {
  cleanup,
  connectClient,
  openPair,
  startServer
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

const MiB = 1024 * 1024;
const SIZES = [0, 125, 126, 65535, 65536, 16 * MiB];

/** A text of exactly `size` UTF-8 bytes, with a multi-byte character when it fits. */
function textOf(size) {
  if (size < 3) return 'a'.repeat(size);
  return (
    '€' +
    'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(size / 26)).slice(0, size - 3)
  );
}

/** `size` bytes: a 64 KiB pseudo-random block repeated (compressible across blocks only). */
function binaryOf(size) {
  const block = Buffer.allocUnsafe(Math.min(size, 65536));
  let x = 0x12345678;
  for (let i = 0; i < block.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    block[i] = x >>> 24;
  }
  const out = Buffer.allocUnsafe(size);
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset, 0, Math.min(block.length, size - offset));
  }
  return out;
}

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

describeEach('echo', (impl) => {
  for (const compress of [false, true]) {
    describe(
      compress ? 'with permessage-deflate' : 'without compression',
      () => {
        for (const size of SIZES) {
          for (const binary of [false, true]) {
            it(`a ${size} B ${binary ? 'binary' : 'text'} message makes the round trip`, async () => {
              const { client, serverWs } = await openPair(impl, {
                serverOptions: { perMessageDeflate: compress },
                clientOptions: { perMessageDeflate: compress }
              });
              expect([client.extensions, serverWs.extensions]).toEqual(
                compress
                  ? ['permessage-deflate', 'permessage-deflate']
                  : ['', '']
              );
              echo(serverWs);
              const payload = binary ? binaryOf(size) : textOf(size);
              let sendError = 'not called';
              client.send(payload, (error) => {
                sendError = error;
              });
              const [, data, isBinary] = await client.events.wait(
                'message',
                20000
              );
              expect(isBinary).toBe(binary);
              expect(Buffer.isBuffer(data)).toBe(true);
              if (binary) {
                expect(data.length).toBe(size);
                expect(data.equals(payload)).toBe(true);
              } else {
                expect(data.length).toBe(Buffer.byteLength(payload));
                expect(data.toString() === payload).toBe(true);
              }
              // The callback ran, without an error (ws passes null or undefined).
              expect(sendError == null).toBe(true);
              const [, received] = await serverWs.events.wait('message');
              expect(received.length).toBe(
                binary ? size : Buffer.byteLength(payload)
              );
            }, 30000);
          }
        }

        it('every send() callback runs exactly once, in order, without an error', async () => {
          const { client, serverWs } = await openPair(impl, {
            serverOptions: { perMessageDeflate: compress && { threshold: 0 } },
            clientOptions: { perMessageDeflate: compress && { threshold: 0 } }
          });
          const calls = [];
          for (let i = 0; i < 200; i++) {
            client.send(
              i % 3 ? `text ${i}` : Buffer.alloc(i * 10, i),
              (error) => calls.push([i, error == null])
            );
          }
          await serverWs.events.waitCount('message', 200, 10000);
          await new Promise((resolve) => setTimeout(resolve, 20));
          expect(calls).toEqual(
            Array.from({ length: 200 }, (_, i) => [i, true])
          );
        });

        it('when the connection is torn down mid-queue, every send() callback still runs exactly once', async () => {
          const { client } = await openPair(impl, {
            serverOptions: { perMessageDeflate: compress && { threshold: 0 } },
            clientOptions: { perMessageDeflate: compress && { threshold: 0 } }
          });
          const counts = new Array(50).fill(0);
          for (let i = 0; i < 50; i++) {
            client.send(Buffer.alloc(256 * 1024, i), () => counts[i]++);
          }
          client.terminate();
          await client.events.wait('close');
          await new Promise((resolve) => setTimeout(resolve, 50));
          expect(counts).toEqual(new Array(50).fill(1));
        });

        it('fifty connections echo at once, each keeping its own order', async () => {
          const server = await startServer(impl, {
            perMessageDeflate: compress && { threshold: 0 }
          });
          server.wss.on('connection', (ws) =>
            ws.on('message', (data, isBinary) =>
              ws.send(data, { binary: isBinary })
            )
          );
          const clients = await Promise.all(
            Array.from({ length: 50 }, () =>
              connectClient(impl, server.url, {
                perMessageDeflate: compress && { threshold: 0 }
              })
            )
          );
          clients.forEach((client, c) => {
            for (let i = 0; i < 20; i++) {
              client.send(
                i % 2
                  ? `client ${c} message ${i} `.repeat(i * 20)
                  : Buffer.alloc(i * 500, c)
              );
            }
          });
          const results = await Promise.all(
            clients.map((client) =>
              client.events.waitCount('message', 20, 15000)
            )
          );
          const wrong = [];
          results.forEach((messages, c) => {
            messages.forEach(([, data], i) => {
              const expected =
                i % 2
                  ? Buffer.from(`client ${c} message ${i} `.repeat(i * 20))
                  : Buffer.alloc(i * 500, c);
              if (!data.equals(expected)) wrong.push(`${c}/${i}`);
            });
          });
          expect(wrong).toEqual([]);
        }, 30000);

        it('many messages in a burst arrive in order', async () => {
          const { client, serverWs } = await openPair(impl, {
            serverOptions: { perMessageDeflate: compress && { threshold: 0 } },
            clientOptions: { perMessageDeflate: compress && { threshold: 0 } }
          });
          echo(serverWs);
          for (let i = 0; i < 500; i++) client.send(`message ${i}`);
          const messages = await client.events.waitCount('message', 500, 10000);
          expect(messages.map(([, data]) => data.toString())).toEqual(
            Array.from({ length: 500 }, (_, i) => `message ${i}`)
          );
        });
      }
    );
  }

  it('send() accepts every data type ws accepts and frames each as ws does', async () => {
    const { client, serverWs } = await openPair(impl);
    const inputs = [
      ['string', 'text', false, 'text'],
      ['number', 42, false, '42'],
      ['Buffer', Buffer.from('buf'), true, 'buf'],
      ['ArrayBuffer', new Uint8Array([1, 2]).buffer, true, '\x01\x02'],
      ['Uint16Array', new Uint16Array([0x6261]), true, 'ab'],
      [
        'DataView',
        new DataView(Uint8Array.from(Buffer.from('xdvx')).buffer, 1, 2),
        true,
        'dv'
      ],
      [
        'Uint8Array view',
        new Uint8Array(Uint8Array.from(Buffer.from('--sub--')).buffer, 2, 3),
        true,
        'sub'
      ],
      ['array of bytes', [104, 105], true, 'hi'],
      ['Buffer with binary: false', Buffer.from('as text'), false, 'as text'],
      ['string with binary: true', 'as binary', true, 'as binary'],
      ['empty call', undefined, true, '']
    ];
    for (const [, data, binary] of inputs) {
      if (typeof data === 'string' && binary)
        client.send(data, { binary: true });
      else if (Buffer.isBuffer(data) && !binary)
        client.send(data, { binary: false });
      else client.send(data);
    }
    const messages = await serverWs.events.waitCount('message', inputs.length);
    expect(
      messages.map(([, data, isBinary], i) => [
        inputs[i][0],
        data.toString('latin1'),
        isBinary
      ])
    ).toEqual(inputs.map(([name, , binary, text]) => [name, text, binary]));
  });

  it('send() of a Blob sends its bytes as a binary message', async () => {
    const { client, serverWs } = await openPair(impl);
    let callbackError = 'not called';
    client.send(new Blob(['blob ', 'parts']), (error) => {
      callbackError = error;
    });
    const [, data, isBinary] = await serverWs.events.wait('message');
    expect([data.toString(), isBinary]).toEqual(['blob parts', true]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(callbackError == null).toBe(true);
  });

  it('send() of a value Buffer.from() cannot take throws a TypeError', async () => {
    const { client } = await openPair(impl);
    expect(() => client.send({ not: 'bufferable' })).toThrow(TypeError);
    expect(() => client.send(Symbol('s'))).toThrow(TypeError);
  });

  it('the server can send to the client first, and both sides can send at once', async () => {
    const { client, serverWs } = await openPair(impl);
    serverWs.send('from server');
    client.send('from client');
    const [, toClient] = await client.events.wait('message');
    const [, toServer] = await serverWs.events.wait('message');
    expect([toClient.toString(), toServer.toString()]).toEqual([
      'from server',
      'from client'
    ]);
  });

  it('perMessageDeflate threshold: with no context takeover, messages below it are sent uncompressed', async () => {
    const { client, serverWs } = await openPair(impl, {
      serverOptions: {
        perMessageDeflate: { threshold: 100, serverNoContextTakeover: true }
      },
      clientOptions: { perMessageDeflate: true }
    });
    const rsv1 = [];
    // Read the server's frames off the client's socket to see RSV1 on the wire.
    client._socket.prependListener('data', (chunk) =>
      rsv1.push((chunk[0] & 0x40) !== 0)
    );
    serverWs.send('x'.repeat(99));
    await client.events.waitCount('message', 1);
    serverWs.send('x'.repeat(100));
    await client.events.waitCount('message', 2);
    serverWs.send('x'.repeat(200), { compress: false });
    const messages = await client.events.waitCount('message', 3);
    expect(rsv1).toEqual([false, true, false]);
    expect(messages.map(([, data]) => data.length)).toEqual([99, 100, 200]);
  });

  it('perMessageDeflate threshold: with context takeover every message is compressed', async () => {
    const { client, serverWs } = await openPair(impl, {
      serverOptions: { perMessageDeflate: { threshold: 100 } },
      clientOptions: { perMessageDeflate: true }
    });
    const rsv1 = [];
    client._socket.prependListener('data', (chunk) =>
      rsv1.push((chunk[0] & 0x40) !== 0)
    );
    serverWs.send('x'.repeat(10));
    await client.events.waitCount('message', 1);
    serverWs.send('x'.repeat(10), { compress: false });
    await client.events.waitCount('message', 2);
    expect(rsv1).toEqual([true, false]);
  });
});
