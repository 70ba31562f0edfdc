// ws public API, run against ws and ws-native: what misuse throws (type and exact message) and
// what it reports through callbacks instead.

import { afterEach, describe, expect, it } from 'vitest';

import {
  cleanup,
  openPair,
  openPeer,
  startServer,
  track
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

const NOT_OPEN = 'WebSocket is not open: readyState 0 (CONNECTING)';
const BAD_CODE = 'First argument must be a valid error code number';
const BAD_REASON = 'Second argument must be a string or a Uint8Array';

describeEach('misuse', (impl) => {
  describe('while CONNECTING', () => {
    for (const method of ['send', 'ping', 'pong']) {
      it(`${method}() throws "${NOT_OPEN}"`, async () => {
        const server = await startServer(impl);
        const ws = new impl.WebSocket(server.url);
        track(() => ws.terminate());
        ws.on('error', () => {});
        expect(() => ws[method]('data')).toThrow(new Error(NOT_OPEN));
      });
    }
  });

  describe('close() arguments', () => {
    const INVALID_CODES = [
      ['999', 999],
      ['1004', 1004],
      ['1005', 1005],
      ['1006', 1006],
      ['1015', 1015],
      ['2999', 2999],
      ['5000', 5000],
      ['0', 0],
      ['-1', -1],
      ['NaN', NaN],
      ['the string "1000"', '1000'],
      ['null', null],
      ['an object', {}],
      ['true', true]
    ];
    for (const [name, code] of INVALID_CODES) {
      it(`close(${name}) throws TypeError "${BAD_CODE}"`, async () => {
        const { client } = await openPair(impl);
        expect(() => client.close(code)).toThrow(new TypeError(BAD_CODE));
      });
    }

    it('a reason over 123 bytes throws RangeError, counted in UTF-8 bytes', async () => {
      const { client } = await openPair(impl);
      const message = 'The message must not be greater than 123 bytes';
      expect(() => client.close(1000, 'x'.repeat(124))).toThrow(
        new RangeError(message)
      );
      const second = await openPair(impl);
      expect(() => second.client.close(1000, 'é'.repeat(62))).toThrow(
        new RangeError(message)
      );
      const third = await openPair(impl);
      expect(() => third.client.close(1000, Buffer.alloc(124))).toThrow(
        new RangeError(message)
      );
    });

    const INVALID_REASONS = [
      ['a Uint16Array', () => new Uint16Array(2)],
      ['an Int8Array', () => new Int8Array(3)],
      ['a Float64Array', () => new Float64Array(1)],
      ['a Uint8ClampedArray', () => new Uint8ClampedArray(2)]
    ];
    for (const [name, make] of INVALID_REASONS) {
      it(`close(1000, ${name}) throws TypeError "${BAD_REASON}" and sends nothing`, async () => {
        const ctx = await openPeer(impl, 'server');
        expect(() => ctx.ws.close(1000, make())).toThrow(
          new TypeError(BAD_REASON)
        );
        expect(await ctx.peer.framesWithin(30)).toEqual([]);
      });
    }

    for (const [name, make] of [
      ['an array of numbers', () => [104, 105]],
      ['an object with a length', () => ({ length: 3 })]
    ]) {
      it(`close(1000, ${name}) throws a TypeError and sends nothing`, async () => {
        const ctx = await openPeer(impl, 'server');
        expect(() => ctx.ws.close(1000, make())).toThrow(TypeError);
        expect(await ctx.peer.framesWithin(30)).toEqual([]);
      });
    }

    // ws 8.21 treats a reason whose `length` is absent or 0 as no reason at all: the close frame
    // carries the code only. ws-native must do the same (never bytes from such a value).
    for (const [name, make] of [
      ['a number', () => 42],
      ['an ArrayBuffer', () => new ArrayBuffer(8)],
      ['a DataView', () => new DataView(new ArrayBuffer(4))],
      ['a plain object', () => ({ toString: () => 'x' })],
      ['an empty string', () => '']
    ]) {
      it(`close(1000, ${name}) sends the code without a reason`, async () => {
        const ctx = await openPeer(impl, 'server');
        ctx.ws.close(1000, make());
        const frame = await ctx.peer.nextFrame();
        expect(frame.payload.toString('hex')).toBe('03e8');
      });
    }

    it('close(undefined, reason) sends an empty close frame (the reason needs a code)', async () => {
      const ctx = await openPeer(impl, 'server');
      ctx.ws.close(undefined, 'ignored');
      const frame = await ctx.peer.nextFrame();
      expect(frame.payload.length).toBe(0);
    });
  });

  describe('ping() and pong()', () => {
    for (const method of ['ping', 'pong']) {
      it(`${method}() with more than 125 bytes throws RangeError`, async () => {
        const { client } = await openPair(impl);
        const message = 'The data size must not be greater than 125 bytes';
        expect(() => client[method](Buffer.alloc(126))).toThrow(
          new RangeError(message)
        );
        expect(() => client[method]('x'.repeat(126))).toThrow(
          new RangeError(message)
        );
        expect(() => client[method]('é'.repeat(63))).toThrow(
          new RangeError(message)
        );
      });

      it(`${method}() after close reports "not open" through the callback, without throwing`, async () => {
        const { client } = await openPair(impl);
        client.close();
        const error = await new Promise((resolve) =>
          client[method]('x', undefined, resolve)
        );
        expect(error.message).toBe(
          'WebSocket is not open: readyState 2 (CLOSING)'
        );
      });

      it(`${method}() turns numbers into text and accepts (data, cb) and (cb) forms`, async () => {
        const { client, serverWs } = await openPair(impl, {
          serverOptions: { autoPong: false }
        });
        const event = method;
        const done = [];
        client[method](12345, () => done.push('number'));
        client[method](() => done.push('no data'));
        client[method]('text', () => done.push('text'));
        const got = await serverWs.events.waitCount(event, 3);
        expect(got.map(([, data]) => data.toString())).toEqual([
          '12345',
          '',
          'text'
        ]);
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect(done).toEqual(['number', 'no data', 'text']);
      });
    }
  });

  describe('constructors', () => {
    it('WebSocketServer without port, server or noServer throws TypeError', () => {
      const message =
        'One and only one of the "port", "server", or "noServer" options must be specified';
      expect(() => new impl.WebSocketServer({})).toThrow(
        new TypeError(message)
      );
      expect(
        () => new impl.WebSocketServer({ port: 0, noServer: true })
      ).toThrow(new TypeError(message));
    });

    it('an unsupported protocolVersion throws RangeError', () => {
      expect(
        () => new impl.WebSocket('ws://127.0.0.1:1', { protocolVersion: 1000 })
      ).toThrow(
        new RangeError(
          'Unsupported protocol version: 1000 (supported versions: 8, 13)'
        )
      );
    });

    it('an invalid URL throws SyntaxError', () => {
      expect(() => new impl.WebSocket('not a url')).toThrow(
        new SyntaxError('Invalid URL: not a url')
      );
    });

    it('a URL with another scheme throws SyntaxError', () => {
      expect(() => new impl.WebSocket('ftp://example.com')).toThrow(
        new SyntaxError(
          'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"'
        )
      );
    });

    it('a URL with a fragment throws SyntaxError', () => {
      expect(() => new impl.WebSocket('ws://example.com/#frag')).toThrow(
        new SyntaxError('The URL contains a fragment identifier')
      );
    });

    it('an invalid or duplicated subprotocol throws SyntaxError', () => {
      const message = 'An invalid or duplicated subprotocol was specified';
      expect(() => new impl.WebSocket('ws://127.0.0.1:1', ['a', 'a'])).toThrow(
        new SyntaxError(message)
      );
      expect(
        () => new impl.WebSocket('ws://127.0.0.1:1', 'with space')
      ).toThrow(new SyntaxError(message));
      expect(() => new impl.WebSocket('ws://127.0.0.1:1', [''])).toThrow(
        new SyntaxError(message)
      );
    });

    it('http: and https: URLs are rewritten to ws: and wss:', async () => {
      const server = await startServer(impl);
      const ws = new impl.WebSocket(`http://127.0.0.1:${server.port}/path?q=1`);
      track(() => ws.terminate());
      expect(ws.url).toBe(`ws://127.0.0.1:${server.port}/path?q=1`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
    });

    it('a refused connection emits error (ECONNREFUSED) then close 1006', async () => {
      const server = await startServer(impl);
      const port = server.port;
      await new Promise((resolve) => server.wss.close(resolve));
      const ws = new impl.WebSocket(`ws://127.0.0.1:${port}`);
      track(() => ws.terminate());
      const order = [];
      const closed = new Promise((resolve) => {
        ws.on('error', (error) => order.push(['error', error.code]));
        ws.on('close', (code) => {
          order.push(['close', code]);
          resolve();
        });
      });
      await closed;
      expect(order).toEqual([
        ['error', 'ECONNREFUSED'],
        ['close', 1006]
      ]);
    });
  });
});
