// RFC 6455 §5.5.2-§5.5.3 (Ping and Pong) and the control-frame rules of §5.4-§5.5 that apply to
// them, checked on the wire in both roles.

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, expectFailure, openPeer, ROLES } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { OP } from '../helpers/wire.js';

afterEach(cleanup);

describeEach('RFC 6455 §5.5.2-§5.5.3 ping and pong', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      it("§5.5.3: a Pong MUST carry the Ping's application data; pings of 0..125 B are answered in order", async () => {
        const ctx = await openPeer(impl, role);
        const payloads = [
          Buffer.alloc(0),
          Buffer.from('a'),
          Buffer.from([0, 0xff, 0x80, 0x7f]),
          Buffer.alloc(125, 0x5a)
        ];
        for (const payload of payloads) {
          ctx.peer.sendFrame({ opcode: OP.PING, payload });
        }
        const pongs = [];
        for (let i = 0; i < payloads.length; i++) {
          pongs.push(await ctx.peer.nextFrame());
        }
        expect(pongs.map((frame) => frame.opcode)).toEqual(
          payloads.map(() => OP.PONG)
        );
        expect(pongs.map((frame) => frame.payload.toString('hex'))).toEqual(
          payloads.map((payload) => payload.toString('hex'))
        );
        expect(
          pongs.every(
            (frame) => frame.fin && frame.masked === (role === 'client')
          )
        ).toBe(true);
        const pings = await ctx.events.waitCount('ping', payloads.length);
        expect(pings.map(([, data]) => data.toString('hex'))).toEqual(
          payloads.map((payload) => payload.toString('hex'))
        );
      });

      it('§5.5.2: fifty pings in one TCP segment get fifty pongs, in order', async () => {
        const ctx = await openPeer(impl, role);
        const frames = [];
        for (let i = 0; i < 50; i++) {
          frames.push(ctx.peer.encode({ opcode: OP.PING, payload: `${i}` }));
        }
        ctx.peer.send(Buffer.concat(frames));
        const payloads = [];
        for (let i = 0; i < 50; i++) {
          payloads.push((await ctx.peer.nextFrame()).payload.toString());
        }
        expect(payloads).toEqual(Array.from({ length: 50 }, (_, i) => `${i}`));
      });

      it('§5.5: a Ping with a 126-byte payload fails the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.PING, payload: Buffer.alloc(126, 1) });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
          message: 'Invalid WebSocket frame: invalid payload length 126',
          errorType: RangeError
        });
        expect(ctx.events.of('ping')).toEqual([]);
      });

      it('§5.5: a Pong with a 64-bit length fails the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({
          opcode: OP.PONG,
          payload: Buffer.alloc(70000, 1)
        });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
        });
      });

      it('§5.4: a fragmented Ping (FIN clear) fails the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.PING, payload: 'half', fin: false });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_EXPECTED_FIN',
          message: 'Invalid WebSocket frame: FIN must be set',
          errorType: RangeError
        });
      });

      it('§5.5.3: an unsolicited Pong is not answered and the connection stays usable', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.PONG, payload: 'unasked' });
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'after' });
        await ctx.events.wait('message');
        const [, pong] = await ctx.events.wait('pong');
        expect(pong.toString()).toBe('unasked');
        expect(await ctx.peer.framesWithin(50)).toEqual([]);
        expect(ctx.events.of('error')).toEqual([]);
      });

      it("§5.5.2: ping() sends a Ping whose Pong is reported by a 'pong' event", async () => {
        const ctx = await openPeer(impl, role);
        let sent = false;
        ctx.ws.ping('are you there', undefined, (error) => {
          sent = error === null || error === undefined;
        });
        const ping = await ctx.peer.nextFrame();
        expect(ping.opcode).toBe(OP.PING);
        expect(ping.payload.toString()).toBe('are you there');
        expect(ping.masked).toBe(role === 'client');
        ctx.peer.sendFrame({ opcode: OP.PONG, payload: ping.payload });
        const [, data] = await ctx.events.wait('pong');
        expect(data.toString()).toBe('are you there');
        expect(sent).toBe(true);
      });

      it('§5.5.2: with autoPong false a Ping is reported but not answered', async () => {
        const options =
          role === 'server'
            ? { serverOptions: { autoPong: false } }
            : { clientOptions: { autoPong: false } };
        const ctx = await openPeer(impl, role, options);
        ctx.peer.sendFrame({ opcode: OP.PING, payload: 'quiet' });
        const [, data] = await ctx.events.wait('ping');
        expect(data.toString()).toBe('quiet');
        expect(await ctx.peer.framesWithin(50)).toEqual([]);
        // The application may answer by hand.
        ctx.ws.pong(data);
        const pong = await ctx.peer.nextFrame();
        expect([pong.opcode, pong.payload.toString()]).toEqual([
          OP.PONG,
          'quiet'
        ]);
      });
    });
  }
});
