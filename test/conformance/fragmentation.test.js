// RFC 6455 §5.4 (fragmentation): reassembly, control frames between fragments, and the
// sequencing errors a receiver MUST fail on. Both roles, on the wire.

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, expectFailure, openPeer, ROLES } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { OP } from '../helpers/wire.js';

afterEach(cleanup);

describeEach('RFC 6455 §5.4 fragmentation', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      it('§5.4: a text message in three fragments is delivered once, concatenated', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'frag', fin: false });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: 'men',
          fin: false
        });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'ted' });
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'next' });
        const messages = await ctx.events.waitCount('message', 2);
        expect(
          messages.map(([, data, isBinary]) => [data.toString(), isBinary])
        ).toEqual([
          ['fragmented', false],
          ['next', false]
        ]);
      });

      it('§5.4: a binary message in fragments keeps its opcode (isBinary)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.BINARY, payload: [1, 2], fin: false });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: [3, 4] });
        const [, data, isBinary] = await ctx.events.wait('message');
        expect([data.toString('hex'), isBinary]).toEqual(['01020304', true]);
      });

      it('§5.4: control frames injected between fragments are handled at once (a Ping is answered before the message ends)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'Hello, ', fin: false });
        ctx.peer.sendFrame({ opcode: OP.PING, payload: 'mid' });
        const pong = await ctx.peer.nextFrame();
        expect([pong.opcode, pong.payload.toString()]).toEqual([
          OP.PONG,
          'mid'
        ]);
        expect(ctx.events.of('message')).toEqual([]);
        ctx.peer.sendFrame({ opcode: OP.PONG, payload: 'unasked' });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'World!' });
        const [, data] = await ctx.events.wait('message');
        expect(data.toString()).toBe('Hello, World!');
        expect(
          ctx.events.names().filter((n) => n !== 'open' && n !== 'upgrade')
        ).toEqual(['ping', 'pong', 'message']);
      });

      it('§5.4: 200 one-byte fragments are reassembled', async () => {
        const ctx = await openPeer(impl, role);
        const text = 'abcdefghij'.repeat(20);
        const frames = [];
        for (let i = 0; i < text.length; i++) {
          frames.push(
            ctx.peer.encode({
              opcode: i === 0 ? OP.TEXT : OP.CONTINUATION,
              payload: text[i],
              fin: i === text.length - 1
            })
          );
        }
        ctx.peer.send(Buffer.concat(frames));
        const [, data] = await ctx.events.wait('message');
        expect(data.toString()).toBe(text);
      });

      it('§5.4: empty fragments (first, middle and last) are allowed', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: '', fin: false });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: 'a',
          fin: false
        });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: '',
          fin: false
        });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: 'b',
          fin: false
        });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: '' });
        const [, data] = await ctx.events.wait('message');
        expect(data.toString()).toBe('ab');
      });

      it('§5.4: a continuation frame with no message in progress MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'orphan' });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_OPCODE',
          message: 'Invalid WebSocket frame: invalid opcode 0',
          errorType: RangeError
        });
      });

      it('§5.4: a continuation after a complete message MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'a', fin: false });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'b' });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'c' });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_OPCODE',
          allowMessages: true
        });
        expect(
          ctx.events.of('message').map(([, data]) => data.toString())
        ).toEqual(['ab']);
      });

      for (const [name, opcode] of [
        ['text', OP.TEXT],
        ['binary', OP.BINARY]
      ]) {
        it(`§5.4: a new ${name} frame inside a fragmented message MUST fail the connection (1002)`, async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'open', fin: false });
          ctx.peer.sendFrame({ opcode, payload: 'intruder' });
          await expectFailure(ctx, {
            code: 1002,
            errorCode: 'WS_ERR_INVALID_OPCODE',
            message: `Invalid WebSocket frame: invalid opcode ${opcode}`
          });
        });
      }

      it('§5.4: a close frame between fragments closes the connection and drops the partial message', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'never', fin: false });
        ctx.peer.sendClose(1000, 'bye');
        const { close } = await ctx.peer.readUntilClose();
        expect([close.code, close.reason.toString()]).toEqual([1000, 'bye']);
        const [, code, reason] = await ctx.events.wait('close');
        expect([code, reason.toString()]).toEqual([1000, 'bye']);
        expect(ctx.events.of('message')).toEqual([]);
        expect(ctx.events.of('error')).toEqual([]);
      });

      it('§5.4: send() with fin: false emits a first frame and continuation frames with FIN on the last', async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.send('one', { fin: false });
        ctx.ws.send('two', { fin: false });
        ctx.ws.send('three', { fin: true });
        ctx.ws.send(Buffer.from([9]), { fin: false });
        ctx.ws.send(Buffer.from([8]));
        const frames = [];
        for (let i = 0; i < 5; i++) frames.push(await ctx.peer.nextFrame());
        expect(
          frames.map((f) => [
            f.opcode,
            f.fin,
            f.payload.toString('hex'),
            f.masked
          ])
        ).toEqual([
          [
            OP.TEXT,
            false,
            Buffer.from('one').toString('hex'),
            role === 'client'
          ],
          [
            OP.CONTINUATION,
            false,
            Buffer.from('two').toString('hex'),
            role === 'client'
          ],
          [
            OP.CONTINUATION,
            true,
            Buffer.from('three').toString('hex'),
            role === 'client'
          ],
          [OP.BINARY, false, '09', role === 'client'],
          [OP.CONTINUATION, true, '08', role === 'client']
        ]);
      });
    });
  }
});
