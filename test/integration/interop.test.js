// Interoperability: a ws-native server with a ws client and a ws server with a ws-native client
// (plus the ws/ws pair as the control), with and without permessage-deflate: messages of every
// size class, fragments, ping/pong, negotiation, and every way a connection can end.

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, openPair } from '../helpers/harness.js';
import {
  implementations,
  native,
  reference
} from '../helpers/implementations.js';

afterEach(cleanup);

// ws is always the counterpart; WSN_IMPLEMENTATIONS picks the ws/ws control, the ws-native pairs,
// or (by default) all three.
const included = (impl) => implementations.includes(impl);
const PAIRS = [
  included(reference) && [reference, reference],
  included(native) && [native, reference],
  included(native) && [reference, native]
].filter(Boolean);

const MiB = 1024 * 1024;

function bytes(size, seed) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + seed + (i >>> 11)) & 0xff;
  return out;
}

for (const [serverImpl, clientImpl] of PAIRS) {
  describe(`${serverImpl.name} server <-> ${clientImpl.name} client`, () => {
    for (const compress of [false, true]) {
      describe(
        compress ? 'with permessage-deflate' : 'without compression',
        () => {
          const open = (extra = {}) =>
            openPair(serverImpl, {
              clientImpl,
              serverOptions: {
                perMessageDeflate: compress,
                ...extra.serverOptions
              },
              clientOptions: {
                perMessageDeflate: compress,
                ...extra.clientOptions
              },
              protocols: extra.protocols
            });

          for (const size of [0, 125, 126, 65535, 65536, 16 * MiB]) {
            it(`${size} B text and binary messages cross both ways`, async () => {
              const { client, serverWs } = await open();
              expect(client.extensions).toBe(
                compress ? 'permessage-deflate' : ''
              );
              serverWs.on('message', (data, isBinary) =>
                serverWs.send(data, { binary: isBinary })
              );
              const text =
                'x'.repeat(Math.max(0, size - 2)) +
                (size >= 2 ? 'é' : 'y'.repeat(size));
              const binary = bytes(size, 7);
              client.send(text);
              client.send(binary);
              const [[, first, firstBinary], [, second, secondBinary]] =
                await client.events.waitCount('message', 2, 20000);
              expect([firstBinary, secondBinary]).toEqual([false, true]);
              expect(first.toString() === text).toBe(true);
              expect(second.equals(binary)).toBe(true);
            }, 40000);
          }

          it('fragmented messages cross both ways, with a ping between fragments', async () => {
            const { client, serverWs } = await open();
            client.send('client ', { fin: false });
            client.ping('mid');
            client.send('fragments');
            serverWs.send(Buffer.from([1, 2]), { fin: false });
            serverWs.send(Buffer.from([3]), { fin: false });
            serverWs.send(Buffer.from([]), { fin: true });
            const [, toServer] = await serverWs.events.wait('message');
            const [, toClient, isBinary] = await client.events.wait('message');
            expect(toServer.toString()).toBe('client fragments');
            expect([toClient.toString('hex'), isBinary]).toEqual([
              '010203',
              true
            ]);
            await client.events.wait('pong');
          });

          it('a 16 MiB message sent in 1 MiB fragments is reassembled', async () => {
            const { client, serverWs } = await open();
            const whole = bytes(16 * MiB, 3);
            for (let offset = 0; offset < whole.length; offset += MiB) {
              client.send(whole.subarray(offset, offset + MiB), {
                fin: offset + MiB >= whole.length
              });
            }
            const [, data] = await serverWs.events.wait('message', 20000);
            expect(data.equals(whole)).toBe(true);
          }, 40000);

          it('pings are answered both ways', async () => {
            const { client, serverWs } = await open();
            client.ping('c');
            serverWs.ping('s');
            const [, fromServer] = await client.events.wait('pong');
            const [, fromClient] = await serverWs.events.wait('pong');
            expect([fromServer.toString(), fromClient.toString()]).toEqual([
              'c',
              's'
            ]);
          });

          it('client close(code, reason): both report it', async () => {
            const { client, serverWs } = await open();
            client.close(4100, 'client bye');
            const [, serverCode, serverReason] =
              await serverWs.events.wait('close');
            const [, clientCode, clientReason] =
              await client.events.wait('close');
            expect([
              serverCode,
              serverReason.toString(),
              clientCode,
              clientReason.toString()
            ]).toEqual([4100, 'client bye', 4100, 'client bye']);
          });

          it('server close(code, reason): both report it', async () => {
            const { client, serverWs } = await open();
            serverWs.close(1001, 'server bye');
            const [, clientCode, clientReason] =
              await client.events.wait('close');
            const [, serverCode] = await serverWs.events.wait('close');
            expect([clientCode, clientReason.toString(), serverCode]).toEqual([
              1001,
              'server bye',
              1001
            ]);
          });

          it('close() without a code: both report 1005', async () => {
            const { client, serverWs } = await open();
            serverWs.close();
            const [, clientCode] = await client.events.wait('close');
            const [, serverCode] = await serverWs.events.wait('close');
            expect([clientCode, serverCode]).toEqual([1005, 1005]);
          });

          it('terminate() on either side: the other reports 1006', async () => {
            const first = await open();
            first.client.terminate();
            const [, serverCode] = await first.serverWs.events.wait('close');
            expect(serverCode).toBe(1006);
            const second = await open();
            second.serverWs.terminate();
            const [, clientCode] = await second.client.events.wait('close');
            expect(clientCode).toBe(1006);
          });

          it("a message over the client's maxPayload: the client fails with 1009 and the server sees 1009", async () => {
            const { client, serverWs } = await open({
              clientOptions: { maxPayload: 1000 }
            });
            serverWs.send(Buffer.alloc(1001));
            const [, error] = await client.events.wait('error');
            expect(error.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
            const [, serverCode] = await serverWs.events.wait('close');
            expect(serverCode).toBe(1009);
            const [, clientCode] = await client.events.wait('close');
            expect(clientCode).toBe(1006);
          });

          it("a message over the server's maxPayload: the server fails with 1009 and the client sees 1009", async () => {
            const { client, serverWs } = await open({
              serverOptions: { maxPayload: 1000 }
            });
            client.send(Buffer.alloc(1001));
            const [, error] = await serverWs.events.wait('error');
            expect(error.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
            const [, clientCode] = await client.events.wait('close');
            expect(clientCode).toBe(1009);
          });

          it('a subprotocol is negotiated', async () => {
            const { client, serverWs } = await open({
              protocols: ['v2', 'v1']
            });
            expect([client.protocol, serverWs.protocol]).toEqual(['v2', 'v2']);
          });
        }
      );
    }

    it('permessage-deflate parameters negotiated across: no context takeover and small windows both ways', async () => {
      const pmd = {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
        threshold: 0
      };
      const { client, serverWs } = await openPair(serverImpl, {
        clientImpl,
        serverOptions: { perMessageDeflate: pmd },
        clientOptions: { perMessageDeflate: pmd }
      });
      serverWs.on('message', (data, isBinary) =>
        serverWs.send(data, { binary: isBinary })
      );
      const text = 'window '.repeat(3000);
      for (let i = 0; i < 3; i++) client.send(text);
      const messages = await client.events.waitCount('message', 3);
      expect(messages.map(([, data]) => data.toString() === text)).toEqual([
        true,
        true,
        true
      ]);
    });
  });
}
