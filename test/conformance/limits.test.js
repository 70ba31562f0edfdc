// Message limits (RFC 6455 §10.4: "implementations SHOULD impose a limit on frame sizes and the
// total message size after reassembly"): maxPayload -> 1009 (§7.4.1 "message that is too big")
// and maxFragments -> 1008 (§7.4.1 policy violation). Both roles, on the wire.

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, expectFailure, openPeer, ROLES } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { OP } from '../helpers/wire.js';

afterEach(cleanup);

const TOO_BIG = {
  code: 1009,
  errorCode: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  message: 'Max payload size exceeded',
  errorType: RangeError
};
const TOO_MANY = {
  code: 1008,
  errorCode: 'WS_ERR_TOO_MANY_BUFFERED_PARTS',
  message: 'Too many message fragments',
  errorType: RangeError
};

function withOptions(role, options) {
  return role === 'server'
    ? { serverOptions: options }
    : { clientOptions: options };
}

describeEach('message limits', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      it('maxPayload: a message of exactly maxPayload bytes is delivered', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxPayload: 1000 })
        );
        ctx.peer.sendBinary(Buffer.alloc(1000, 1));
        ctx.peer.sendText('t'.repeat(1000));
        const messages = await ctx.events.waitCount('message', 2);
        expect(messages.map(([, data]) => data.length)).toEqual([1000, 1000]);
      });

      it('§10.4: maxPayload + 1 bytes MUST fail the connection with 1009', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxPayload: 1000 })
        );
        ctx.peer.sendBinary(Buffer.alloc(1001, 1));
        await expectFailure(ctx, TOO_BIG);
      });

      it('§10.4: the limit is enforced on the declared length, before the payload arrives (1009)', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxPayload: 1000 })
        );
        // Only the header: a receiver that waited for (or allocated) the payload would hang here.
        ctx.peer.sendFrame({ opcode: OP.BINARY, declaredLength: 1001 });
        await expectFailure(ctx, TOO_BIG);
      });

      it('§10.4: the limit applies to the reassembled message: 600 + 400 B pass, 600 + 401 B fail (1009)', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxPayload: 1000 })
        );
        ctx.peer.sendFrame({
          opcode: OP.TEXT,
          payload: 'a'.repeat(600),
          fin: false
        });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: 'b'.repeat(400)
        });
        const [, data] = await ctx.events.wait('message');
        expect(data.length).toBe(1000);
        ctx.peer.sendFrame({
          opcode: OP.TEXT,
          payload: 'a'.repeat(600),
          fin: false
        });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: 'b'.repeat(401)
        });
        await expectFailure(ctx, { ...TOO_BIG, allowMessages: true });
        expect(ctx.events.of('message').length).toBe(1);
      });

      it('maxPayload does not apply to control frames (a 100 B ping with maxPayload 10 is answered)', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxPayload: 10 })
        );
        ctx.peer.sendFrame({ opcode: OP.PING, payload: Buffer.alloc(100, 2) });
        const pong = await ctx.peer.nextFrame();
        expect([pong.opcode, pong.payload.length]).toEqual([OP.PONG, 100]);
      });

      it('maxPayload 0 means no limit (a 2 MiB message is delivered)', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxPayload: 0 })
        );
        ctx.peer.sendBinary(Buffer.alloc(2 * 1024 * 1024, 3));
        const [, data] = await ctx.events.wait('message');
        expect(data.length).toBe(2 * 1024 * 1024);
      });

      it('the default maxPayload is 100 MiB: a header declaring 100 MiB + 1 fails with 1009', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({
          opcode: OP.BINARY,
          declaredLength: 100 * 1024 * 1024 + 1
        });
        await expectFailure(ctx, TOO_BIG);
      });

      it('maxFragments: a message of exactly maxFragments fragments is delivered, one more fails (1008)', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxFragments: 4 })
        );
        const send = (count) => {
          for (let i = 0; i < count; i++) {
            ctx.peer.sendFrame({
              opcode: i === 0 ? OP.TEXT : OP.CONTINUATION,
              payload: `${i}`,
              fin: i === count - 1
            });
          }
        };
        send(4);
        send(4);
        const messages = await ctx.events.waitCount('message', 2);
        expect(messages.map(([, data]) => data.toString())).toEqual([
          '0123',
          '0123'
        ]);
        send(5);
        await expectFailure(ctx, { ...TOO_MANY, allowMessages: true });
        expect(ctx.events.of('message').length).toBe(2);
      });

      it('maxFragments 0 means no limit (1000 fragments are reassembled)', async () => {
        const ctx = await openPeer(
          impl,
          role,
          withOptions(role, { maxFragments: 0 })
        );
        const frames = [];
        for (let i = 0; i < 1000; i++) {
          frames.push(
            ctx.peer.encode({
              opcode: i === 0 ? OP.BINARY : OP.CONTINUATION,
              payload: [i & 0xff],
              fin: i === 999
            })
          );
        }
        ctx.peer.send(Buffer.concat(frames));
        const [, data] = await ctx.events.wait('message');
        expect(data.length).toBe(1000);
        expect(data[999]).toBe(999 & 0xff);
      });
    });
  }
});
