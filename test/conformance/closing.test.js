// RFC 6455 §5.5.1 (Close), §7 (closing the connection) and §7.4 (status codes), checked on the
// wire in both roles: which codes are echoed or refused, what never appears on the wire, what
// happens to data after a close frame, the close timeout, and who closes TCP.

import { afterEach, describe, expect, it } from 'vitest';

import {
  attachPeer,
  cleanup,
  expectFailure,
  openPeer,
  ROLES,
  sleep
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { feed, splitAt } from '../helpers/split-feeder.js';
import { closePayload, OP } from '../helpers/wire.js';

afterEach(cleanup);

// §7.4.1 defined codes an endpoint may receive, plus the §7.4.2 ranges for libraries and private use.
const VALID_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
  3999, 4000, 4999
];
// 1004 is reserved; 1005, 1006 and 1015 MUST NOT be set in a close frame (§7.4.1); 0-999 are not
// used, 1016-2999 are reserved for this RFC and its extensions, and codes above 4999 do not exist.
const INVALID_CODES = [
  0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535
];

function closeTimeoutOptions(role, closeTimeout) {
  return role === 'server'
    ? { serverOptions: { closeTimeout } }
    : { clientOptions: { closeTimeout } };
}

describeEach('RFC 6455 §5.5.1 / §7 closing', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      for (const code of VALID_CODES) {
        it(`§5.5.1: a close frame with code ${code} is answered with a close frame and reported`, async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendClose(code, 'why');
          const { close } = await ctx.peer.readUntilClose();
          expect(close.code).toBe(code);
          const [, closeCode, reason] = await ctx.events.wait('close');
          expect([closeCode, reason.toString()]).toEqual([code, 'why']);
          expect(ctx.events.of('error')).toEqual([]);
        });
      }

      for (const code of INVALID_CODES) {
        it(`§7.4: a close frame with code ${code} MUST fail the connection (1002)`, async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code) });
          await expectFailure(ctx, {
            code: 1002,
            errorCode: 'WS_ERR_INVALID_CLOSE_CODE',
            message: `Invalid WebSocket frame: invalid status code ${code}`,
            errorType: RangeError
          });
        });
      }

      it('§5.5.1: a close frame with a 1-byte body MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.CLOSE, payload: [0x03] });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
          message: 'Invalid WebSocket frame: invalid payload length 1'
        });
      });

      it('§5.5: a close frame of 126 bytes MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({
          opcode: OP.CLOSE,
          payload: closePayload(1000, 'r'.repeat(124))
        });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
        });
      });

      it('§7.1.5 / §7.4.1: an empty close frame is reported as 1005 and answered without a code (1005 never on the wire)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.CLOSE });
        const { close } = await ctx.peer.readUntilClose();
        expect(close.payload.length).toBe(0);
        const [, code, reason] = await ctx.events.wait('close');
        expect([code, reason.length]).toEqual([1005, 0]);
      });

      it('§5.5.1: a close frame arriving in two chunks, cut at every byte, is read the same', async () => {
        const probe = attachPeer(impl, role);
        const bytes = probe.peer.encode({
          opcode: OP.CLOSE,
          payload: closePayload(4321, 'fin κόσμε')
        });
        const wrong = [];
        for (let cut = 1; cut < bytes.length; cut++) {
          const ctx = attachPeer(impl, role);
          await feed(ctx.stream, splitAt(bytes, [cut]));
          const { close } = await ctx.peer.readUntilClose();
          const [, code, reason] = await ctx.events.wait('close');
          if (
            !close ||
            close.code !== 4321 ||
            code !== 4321 ||
            reason.toString() !== 'fin κόσμε'
          ) {
            wrong.push(cut);
          }
        }
        expect(wrong).toEqual([]);
      });

      it('§5.5.1: a 123-byte reason is received and echoed intact', async () => {
        const ctx = await openPeer(impl, role);
        const reason = 'x'.repeat(123);
        ctx.peer.sendClose(4000, reason);
        const { close } = await ctx.peer.readUntilClose();
        expect([close.code, close.reason.toString()]).toEqual([4000, reason]);
        const [, code, got] = await ctx.events.wait('close');
        expect([code, got.toString()]).toEqual([4000, reason]);
      });

      it('§7.1.5: closing with a code and reason puts exactly those bytes on the wire', async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.close(4001, 'going');
        const frame = await ctx.peer.nextFrame();
        expect({
          opcode: frame.opcode,
          fin: frame.fin,
          masked: frame.masked,
          payload: frame.payload.toString('hex')
        }).toEqual({
          opcode: OP.CLOSE,
          fin: true,
          masked: role === 'client',
          payload: closePayload(4001, 'going').toString('hex')
        });
        expect(ctx.ws.readyState).toBe(2);
        ctx.peer.sendClose(4002, 'ok');
        const [, code, reason] = await ctx.events.wait('close');
        // The code and reason reported are the peer's (§7.1.5: "the first Close control frame
        // received").
        expect([code, reason.toString()]).toEqual([4002, 'ok']);
        expect(ctx.ws.readyState).toBe(3);
      });

      it("§7.1.5: close() without a code sends an empty close frame; the peer's empty answer reports 1005", async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.close();
        const frame = await ctx.peer.nextFrame();
        expect([frame.opcode, frame.payload.length]).toEqual([OP.CLOSE, 0]);
        ctx.peer.sendFrame({ opcode: OP.CLOSE });
        const [, code] = await ctx.events.wait('close');
        expect(code).toBe(1005);
      });

      for (const code of [1004, 1005, 1006, 1015]) {
        it(`§7.4.1: ${code} can never be sent: close(${code}) throws and nothing goes on the wire`, async () => {
          const ctx = await openPeer(impl, role);
          // A fresh connection per code: ws 8.21 moves to CLOSING before validating the code, so a
          // second close() on the same socket would return early rather than throw.
          expect(() => ctx.ws.close(code)).toThrow(
            new TypeError('First argument must be a valid error code number')
          );
          expect(await ctx.peer.framesWithin(30)).toEqual([]);
        });
      }

      it('§7.1.5: a TCP connection lost without a close frame is reported as 1006', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.destroy();
        const [, code, reason] = await ctx.events.wait('close');
        expect([code, reason.length]).toEqual([1006, 0]);
        expect(ctx.ws.readyState).toBe(3);
      });

      it('§5.5.1: data after a received close frame is ignored', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.send(
          Buffer.concat([
            ctx.peer.encode({ opcode: OP.CLOSE, payload: closePayload(1000) }),
            ctx.peer.encode({ opcode: OP.TEXT, payload: 'too late' }),
            ctx.peer.encode({ opcode: OP.PING, payload: 'late ping' })
          ])
        );
        const { close, before } = await ctx.peer.readUntilClose();
        expect(close.code).toBe(1000);
        expect(before).toEqual([]);
        await ctx.events.wait('close');
        expect(ctx.events.of('message')).toEqual([]);
        expect(ctx.events.of('ping')).toEqual([]);
        expect(ctx.peer.frames).toEqual([]);
      });

      it('§5.5.1: after sending a close frame no more data frames are sent; send() reports an error', async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.close(1000);
        const result = await new Promise((resolve) =>
          ctx.ws.send('after close', (error) => resolve(error))
        );
        expect(result).toBeInstanceOf(Error);
        expect(result.message).toBe(
          'WebSocket is not open: readyState 2 (CLOSING)'
        );
        ctx.ws.ping('p', undefined, () => {});
        const first = await ctx.peer.nextFrame();
        expect(first.opcode).toBe(OP.CLOSE);
        expect(await ctx.peer.framesWithin(50)).toEqual([]);
      });

      it("§7.1.2: messages that arrive after close() was called, before the peer's close frame, are still delivered", async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.close(1000);
        await ctx.peer.nextFrame();
        ctx.peer.sendText('in flight');
        ctx.peer.sendClose(1000);
        const [, data] = await ctx.events.wait('message');
        expect(data.toString()).toBe('in flight');
        await ctx.events.wait('close');
        expect(ctx.events.names().indexOf('message')).toBeLessThan(
          ctx.events.names().indexOf('close')
        );
      });

      it('§5.5.1: close() twice sends one close frame', async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.close(1000, 'first');
        ctx.ws.close(1001, 'second');
        const frame = await ctx.peer.nextFrame();
        expect([frame.code, frame.reason.toString()]).toEqual([1000, 'first']);
        expect(await ctx.peer.framesWithin(50)).toEqual([]);
      });

      it('§7.1.1: closeTimeout: when the peer never answers the close frame, TCP is closed after the timeout and 1006 reported', async () => {
        const ctx = await openPeer(impl, role, closeTimeoutOptions(role, 100));
        const started = Date.now();
        ctx.ws.close(1000, 'bye');
        const frame = await ctx.peer.nextFrame();
        expect(frame.code).toBe(1000);
        const [, code] = await ctx.events.wait('close', 3000);
        const elapsed = Date.now() - started;
        expect(code).toBe(1006);
        expect(elapsed).toBeGreaterThanOrEqual(90);
        expect(elapsed).toBeLessThan(2000);
        await ctx.peer.waitForClose();
      });

      it('§7.1.1: a failed connection is not kept open past closeTimeout when the peer neither answers nor closes TCP', async () => {
        const ctx = await openPeer(impl, role, closeTimeoutOptions(role, 100));
        // Keep the peer's side open even after the implementation's FIN, as a stuck peer would.
        ctx.peer.end = () => {};
        ctx.peer.sendFrame({ opcode: 0x3 });
        const [, code] = await ctx.events.wait('close', 3000);
        expect(code).toBe(1006);
      });
    });
  }

  it('§7.1.1: after a client-initiated closing handshake the server closes TCP first', async () => {
    const ctx = await openPeer(impl, 'server');
    ctx.peer.sendClose(1000, 'done');
    const { close } = await ctx.peer.readUntilClose();
    expect(close.code).toBe(1000);
    await ctx.peer.waitForEnd();
    expect(ctx.peer.peerEndedFirst).toBe(true);
    const [, code, reason] = await ctx.events.wait('close');
    expect([code, reason.toString()]).toEqual([1000, 'done']);
  });

  it('§7.1.1: after a server-initiated closing handshake the server closes TCP once the answer arrives', async () => {
    const ctx = await openPeer(impl, 'server');
    ctx.ws.close(1001, 'shutdown');
    const frame = await ctx.peer.nextFrame();
    expect([frame.code, frame.reason.toString()]).toEqual([1001, 'shutdown']);
    await sleep(20);
    expect(ctx.peer.peerEnded).toBe(false);
    ctx.peer.sendClose(1001);
    await ctx.peer.waitForEnd();
    expect(ctx.peer.peerEndedFirst).toBe(true);
    const [, code] = await ctx.events.wait('close');
    expect(code).toBe(1001);
  });

  it("§7.1.1: a client that received the server's close frame answers it and closes cleanly", async () => {
    const ctx = await openPeer(impl, 'client');
    ctx.peer.sendClose(1000, 'server done');
    const { close } = await ctx.peer.readUntilClose();
    expect([close.code, close.reason.toString(), close.masked]).toEqual([
      1000,
      'server done',
      true
    ]);
    ctx.peer.end();
    const [, code, reason] = await ctx.events.wait('close');
    expect([code, reason.toString()]).toEqual([1000, 'server done']);
  });
});
