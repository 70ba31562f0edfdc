// RFC 6455 §5.2 / §11.8: opcodes 3-7 and 0xB-0xF are reserved; "If an unknown opcode is received,
// the receiving endpoint MUST _Fail the WebSocket Connection_." Both roles, on the wire.

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, expectFailure, openPeer, ROLES } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { OP } from '../helpers/wire.js';

afterEach(cleanup);

const RESERVED = [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf];

describeEach('RFC 6455 §5.2 opcodes', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      for (const opcode of RESERVED) {
        const kind = opcode < 8 ? 'non-control' : 'control';
        it(`§5.2: reserved ${kind} opcode 0x${opcode.toString(16)} MUST fail the connection (1002)`, async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame({ opcode, payload: 'x' });
          await expectFailure(ctx, {
            code: 1002,
            errorCode: 'WS_ERR_INVALID_OPCODE',
            message: `Invalid WebSocket frame: invalid opcode ${opcode}`,
            errorType: RangeError
          });
        });
      }

      it('§5.2: an empty frame with a reserved opcode MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: 0xb });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_OPCODE'
        });
      });

      it('§5.2: a reserved opcode inside a fragmented message MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'part', fin: false });
        ctx.peer.sendFrame({ opcode: 5, payload: 'odd' });
        await expectFailure(ctx, {
          code: 1002,
          errorCode: 'WS_ERR_INVALID_OPCODE',
          message: 'Invalid WebSocket frame: invalid opcode 5'
        });
      });

      it('§5.6: text (0x1) and binary (0x2) data frames are reported with isBinary', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'text' });
        ctx.peer.sendFrame({ opcode: OP.BINARY, payload: [1, 2, 3] });
        const messages = await ctx.events.waitCount('message', 2);
        expect(
          messages.map(([, data, isBinary]) => [data.toString('hex'), isBinary])
        ).toEqual([
          [Buffer.from('text').toString('hex'), false],
          ['010203', true]
        ]);
      });
    });
  }
});
