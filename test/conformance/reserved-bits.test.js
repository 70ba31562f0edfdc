// RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them; otherwise the receiver MUST
// fail the connection. Checked on the wire in both roles, with no extension negotiated.

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, expectFailure, openPeer, ROLES } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { OP } from '../helpers/wire.js';

afterEach(cleanup);

const RSV1 = {
  errorCode: 'WS_ERR_UNEXPECTED_RSV_1',
  message: 'Invalid WebSocket frame: RSV1 must be clear'
};
const RSV23 = {
  errorCode: 'WS_ERR_UNEXPECTED_RSV_2_3',
  message: 'Invalid WebSocket frame: RSV2 and RSV3 must be clear'
};

const CASES = [
  ['RSV1 on a text frame', { opcode: OP.TEXT, payload: 'x', rsv1: true }, RSV1],
  [
    'RSV1 on a binary frame',
    { opcode: OP.BINARY, payload: 'x', rsv1: true },
    RSV1
  ],
  ['RSV1 on a ping', { opcode: OP.PING, payload: 'x', rsv1: true }, RSV1],
  [
    'RSV2 on a text frame',
    { opcode: OP.TEXT, payload: 'x', rsv2: true },
    RSV23
  ],
  [
    'RSV3 on a text frame',
    { opcode: OP.TEXT, payload: 'x', rsv3: true },
    RSV23
  ],
  [
    'RSV2 and RSV3 on a binary frame',
    { opcode: OP.BINARY, rsv2: true, rsv3: true },
    RSV23
  ],
  ['RSV2 on a ping', { opcode: OP.PING, rsv2: true }, RSV23],
  ['RSV3 on a close frame', { opcode: OP.CLOSE, rsv3: true }, RSV23],
  [
    'all three bits on a pong',
    { opcode: OP.PONG, rsv1: true, rsv2: true, rsv3: true },
    RSV23
  ]
];

describeEach('RFC 6455 §5.2 reserved bits', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      for (const [name, frame, expected] of CASES) {
        it(`§5.2: ${name} without a negotiated extension MUST fail the connection (1002)`, async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame(frame);
          await expectFailure(ctx, {
            code: 1002,
            errorType: RangeError,
            ...expected
          });
        });
      }

      it('§5.2: RSV2 on a continuation frame MUST fail the connection (1002)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'start', fin: false });
        ctx.peer.sendFrame({
          opcode: OP.CONTINUATION,
          payload: 'end',
          rsv2: true
        });
        await expectFailure(ctx, { code: 1002, ...RSV23 });
      });

      it('§5.2: a valid message before the bad frame is still delivered', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'good' });
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'bad', rsv3: true });
        await expectFailure(ctx, { code: 1002, allowMessages: true, ...RSV23 });
        expect(
          ctx.events.of('message').map(([, data]) => data.toString())
        ).toEqual(['good']);
      });

      it('§5.2: the implementation itself never sets a reserved bit without an extension', async () => {
        const ctx = await openPeer(impl, role);
        ctx.ws.send('text');
        ctx.ws.send(Buffer.alloc(2000, 7), { compress: true });
        ctx.ws.ping('p');
        ctx.ws.close(1000, 'done');
        const frames = [];
        for (let i = 0; i < 4; i++) frames.push(await ctx.peer.nextFrame());
        expect(frames.map((f) => [f.opcode, f.rsv1, f.rsv2, f.rsv3])).toEqual([
          [OP.TEXT, false, false, false],
          [OP.BINARY, false, false, false],
          [OP.PING, false, false, false],
          [OP.CLOSE, false, false, false]
        ]);
      });
    });
  }
});
