// ws public API, run against ws and ws-native: messages sent in pieces with send(data, { fin }).

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, openPair } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

describeEach('fragmented sends (fin: false)', (impl) => {
  for (const compress of [false, true]) {
    describe(
      compress ? 'with permessage-deflate' : 'without compression',
      () => {
        const options = {
          serverOptions: { perMessageDeflate: compress && { threshold: 0 } },
          clientOptions: { perMessageDeflate: compress && { threshold: 0 } }
        };

        it('text fragments arrive as one text message', async () => {
          const { client, serverWs } = await openPair(impl, options);
          client.send('Hello', { fin: false });
          client.send(', ', { fin: false });
          client.send('World');
          const [, data, isBinary] = await serverWs.events.wait('message');
          expect([data.toString(), isBinary]).toEqual(['Hello, World', false]);
          expect(serverWs.events.of('message').length).toBe(1);
        });

        it('binary fragments arrive as one binary message', async () => {
          const { client, serverWs } = await openPair(impl, options);
          client.send(Buffer.from([1, 2]), { fin: false });
          client.send(Buffer.from([3]), { fin: false });
          client.send(Buffer.from([4, 5]), { fin: true });
          const [, data, isBinary] = await serverWs.events.wait('message');
          expect([data.toString('hex'), isBinary]).toEqual([
            '0102030405',
            true
          ]);
        });

        it('the server sends fragments to the client too, with an empty last fragment', async () => {
          const { client, serverWs } = await openPair(impl, options);
          serverWs.send('abc', { fin: false });
          serverWs.send('', { fin: true });
          const [, data] = await client.events.wait('message');
          expect(data.toString()).toBe('abc');
        });

        it('a ping sent between fragments is delivered before the message completes', async () => {
          const { client, serverWs } = await openPair(impl, options);
          client.send('first half ', { fin: false });
          client.ping('between');
          client.send('second half');
          await serverWs.events.wait('message');
          const order = serverWs.events
            .names()
            .filter((name) => name === 'ping' || name === 'message');
          expect(order).toEqual(['ping', 'message']);
          expect(serverWs.events.of('message')[0][1].toString()).toBe(
            'first half second half'
          );
        });

        it('a large message sent in 64 KiB fragments is reassembled', async () => {
          const { client, serverWs } = await openPair(impl, options);
          const whole = Buffer.alloc(1024 * 1024);
          for (let i = 0; i < whole.length; i++) whole[i] = (i * 7) & 0xff;
          for (let offset = 0; offset < whole.length; offset += 65536) {
            client.send(whole.subarray(offset, offset + 65536), {
              fin: offset + 65536 >= whole.length
            });
          }
          const [, data] = await serverWs.events.wait('message', 10000);
          expect(data.equals(whole)).toBe(true);
        });

        it("binaryType 'fragments' hands the message over as an array of Buffers", async () => {
          const { client, serverWs } = await openPair(impl, options);
          serverWs.binaryType = 'fragments';
          client.send(Buffer.from('frag'), { fin: false });
          client.send(Buffer.from('ments'));
          const [, data, isBinary] = await serverWs.events.wait('message');
          expect(isBinary).toBe(true);
          expect(Array.isArray(data)).toBe(true);
          expect(data.every((piece) => Buffer.isBuffer(piece))).toBe(true);
          expect(Buffer.concat(data).toString()).toBe('fragments');
        });
      }
    );
  }
});
