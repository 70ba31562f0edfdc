// RFC 6455 §5.6 / §8.1: text messages and close reasons are UTF-8 (RFC 3629); "When an endpoint
// is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in fact, a valid
// UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_" (1007, §7.4.1).

import { afterEach, describe, expect, it } from 'vitest';

import {
  attachPeer,
  cleanup,
  expectFailure,
  openPeer,
  ROLES
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { feed, splitAt } from '../helpers/split-feeder.js';
import { closePayload, OP } from '../helpers/wire.js';

afterEach(cleanup);

const hex = (text) => Buffer.from(text.replace(/ /g, ''), 'hex');

const VALID = [
  ['Greek kosme (2-byte sequences)', hex('ce ba e1 bd b9 cf 83 ce bc ce b5')],
  ['U+0000', hex('00')],
  ['U+007F / U+0080', hex('7f c2 80')],
  ['U+07FF / U+0800', hex('df bf e0 a0 80')],
  ['U+D7FF / U+E000 (around the surrogates)', hex('ed 9f bf ee 80 80')],
  ['U+FEFF (BOM) and U+FFFF', hex('ef bb bf ef bf bf')],
  ['U+10000 and U+10FFFF', hex('f0 90 80 80 f4 8f bf bf')],
  ['emoji and euro', Buffer.from('€ 𝄞 😀 ok')]
];

const INVALID = [
  ['a lone continuation byte', hex('80')],
  ['overlong NUL (C0 80)', hex('c0 80')],
  ['overlong 2-byte (C1 BF)', hex('c1 bf')],
  ['overlong 3-byte (E0 9F BF)', hex('e0 9f bf')],
  ['overlong 4-byte (F0 8F BF BF)', hex('f0 8f bf bf')],
  ['a high surrogate (ED A0 80)', hex('ed a0 80')],
  ['a low surrogate (ED BF BF)', hex('ed bf bf')],
  ['a code point above U+10FFFF (F4 90 80 80)', hex('f4 90 80 80')],
  ['lead byte F5', hex('f5 80 80 80')],
  ['bytes FE and FF', hex('fe ff')],
  ['a truncated 2-byte sequence at the end', hex('41 ce')],
  ['a truncated 4-byte sequence at the end', hex('f0 9f 98')],
  [
    'a surrogate after valid text (Autobahn 6.3.1)',
    hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64')
  ]
];

const UTF8_ERROR = {
  code: 1007,
  errorCode: 'WS_ERR_INVALID_UTF8',
  message: 'Invalid WebSocket frame: invalid UTF-8 sequence'
};

describeEach('RFC 6455 §8.1 UTF-8 handling', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      it('§5.6: valid UTF-8 text of every sequence length is delivered byte for byte', async () => {
        const ctx = await openPeer(impl, role);
        for (const [, bytes] of VALID) {
          ctx.peer.sendFrame({ opcode: OP.TEXT, payload: bytes });
        }
        const messages = await ctx.events.waitCount('message', VALID.length);
        expect(messages.map(([, data]) => data.toString('hex'))).toEqual(
          VALID.map(([, bytes]) => bytes.toString('hex'))
        );
        expect(ctx.events.of('error')).toEqual([]);
      });

      for (const [name, bytes] of INVALID) {
        it(`§8.1: a text frame with ${name} MUST fail the connection (1007)`, async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame({ opcode: OP.TEXT, payload: bytes });
          await expectFailure(ctx, UTF8_ERROR);
        });
      }

      it('§8.1: binary frames are not validated as UTF-8', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({
          opcode: OP.BINARY,
          payload: hex('c0 80 ed a0 80 ff')
        });
        const [, data, isBinary] = await ctx.events.wait('message');
        expect([data.toString('hex'), isBinary]).toEqual([
          'c080eda080ff',
          true
        ]);
      });

      it('§5.4 + §8.1: valid text split between fragments at every byte offset is delivered intact', async () => {
        const ctx = attachPeer(impl, role);
        const text = Buffer.from('κόσμε €𝄞 done');
        const frames = [];
        for (let cut = 1; cut < text.length; cut++) {
          const [head, tail] = splitAt(text, [cut]);
          frames.push(
            ctx.peer.encode({ opcode: OP.TEXT, payload: head, fin: false })
          );
          frames.push(
            ctx.peer.encode({ opcode: OP.CONTINUATION, payload: tail })
          );
        }
        ctx.stream.write(Buffer.concat(frames));
        const messages = await ctx.events.waitCount('message', text.length - 1);
        const wrong = messages
          .map(([, data], i) => (data.equals(text) ? null : i + 1))
          .filter((cut) => cut !== null);
        expect(wrong).toEqual([]);
        expect(ctx.events.of('error')).toEqual([]);
      });

      it('§8.1: one text frame arriving in two chunks, cut at every byte (inside code points), is validated the same', async () => {
        const valid = Buffer.from('ab κόσμε € 𝄞 😀 end');
        const invalid = Buffer.concat([
          Buffer.from('ab κό'),
          hex('f0 9f 98'),
          Buffer.from('x')
        ]);
        const probe = attachPeer(impl, role);
        const validFrame = probe.peer.encode({
          opcode: OP.TEXT,
          payload: valid
        });
        const invalidFrame = probe.peer.encode({
          opcode: OP.TEXT,
          payload: invalid
        });
        const results = [];
        for (let cut = 1; cut < validFrame.length; cut++) {
          const ctx = attachPeer(impl, role);
          await feed(ctx.stream, splitAt(validFrame, [cut]));
          const [, data] = await ctx.events.wait('message');
          if (!data.equals(valid) || ctx.events.of('error').length)
            results.push(`valid, cut ${cut}`);
        }
        for (let cut = 1; cut < invalidFrame.length; cut++) {
          const ctx = attachPeer(impl, role);
          await feed(ctx.stream, splitAt(invalidFrame, [cut]));
          const { close } = await ctx.peer.readUntilClose();
          if (
            !close ||
            close.code !== 1007 ||
            ctx.events.of('message').length
          ) {
            results.push(`invalid, cut ${cut}`);
          }
        }
        expect(results).toEqual([]);
      });

      it('§8.1: invalid text split between fragments at every byte offset fails with 1007 every time', async () => {
        const bytes = hex('68 69 ce ba ed a0 80 21');
        const results = [];
        for (let cut = 1; cut < bytes.length; cut++) {
          const ctx = attachPeer(impl, role);
          const [head, tail] = splitAt(bytes, [cut]);
          ctx.peer.sendFrame({ opcode: OP.TEXT, payload: head, fin: false });
          ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: tail });
          const { close } = await ctx.peer.readUntilClose();
          const [, error] = await ctx.events.wait('error');
          results.push([
            cut,
            close && close.code,
            error.code,
            ctx.events.of('message').length
          ]);
        }
        expect(results).toEqual(
          results.map(([cut]) => [cut, 1007, 'WS_ERR_INVALID_UTF8', 0])
        );
      });

      it('§8.1: an invalid first fragment followed by a valid final fragment fails the message (1007)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: hex('ff'), fin: false });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'fine' });
        await expectFailure(ctx, UTF8_ERROR);
      });

      it('§8.1: a code point cut by the end of the final fragment fails (1007)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'ok', fin: false });
        ctx.peer.sendFrame({ opcode: OP.CONTINUATION, payload: hex('e2 82') });
        await expectFailure(ctx, UTF8_ERROR);
      });

      // ws validates a text message only once it is complete, so it waits for the final fragment;
      // the RFC's "MUST Fail" applies as soon as the bytes seen cannot be valid (Autobahn 6.4.x
      // "fail fast"), and ws-native's streaming validator does that. ws-native only.
      if (impl.name !== 'ws') {
        it('§8.1 (fail fast): an invalid first fragment fails at once, before the message ends (1007)', async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame({
            opcode: OP.TEXT,
            payload: hex('ce ba ed a0 80'),
            fin: false
          });
          await expectFailure(ctx, UTF8_ERROR);
        });

        it('§8.1 (fail fast): a valid first fragment then an invalid middle fragment fails on that fragment (1007)', async () => {
          const ctx = await openPeer(impl, role);
          ctx.peer.sendFrame({
            opcode: OP.TEXT,
            payload: 'all good ',
            fin: false
          });
          ctx.peer.sendFrame({
            opcode: OP.CONTINUATION,
            payload: hex('f4 90'),
            fin: false
          });
          await expectFailure(ctx, UTF8_ERROR);
        });
      }

      it('§5.5.1 + §8.1: a close reason that is not valid UTF-8 fails the connection (1007)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({
          opcode: OP.CLOSE,
          payload: closePayload(1000, hex('ce ba ff'))
        });
        await expectFailure(ctx, UTF8_ERROR);
      });

      it('§5.5.1: a close reason in multi-byte UTF-8 is reported and echoed intact', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendClose(1000, 'ciao 👋 κόσμε');
        const { close } = await ctx.peer.readUntilClose();
        expect(close.reason.toString()).toBe('ciao 👋 κόσμε');
        const [, code, reason] = await ctx.events.wait('close');
        expect([code, reason.toString()]).toEqual([1000, 'ciao 👋 κόσμε']);
      });

      it('skipUTF8Validation: an invalid close reason is reported as received and the close is answered, without a crash', async () => {
        const options =
          role === 'server'
            ? { serverOptions: { skipUTF8Validation: true } }
            : { clientOptions: { skipUTF8Validation: true } };
        const ctx = await openPeer(impl, role, options);
        ctx.peer.sendFrame({
          opcode: OP.CLOSE,
          payload: closePayload(1000, hex('ff fe 41'))
        });
        const { close } = await ctx.peer.readUntilClose();
        expect(close.code).toBe(1000);
        const [, code, reason] = await ctx.events.wait('close');
        expect([code, reason.toString('hex')]).toEqual([1000, 'fffe41']);
        expect(ctx.events.of('error')).toEqual([]);
      });

      // ws echoes the invalid reason bytes back; a reason on the wire is UTF-8 (§5.5.1), so
      // ws-native answers with the code alone. ws-native only.
      if (impl.name !== 'ws') {
        it('§5.5.1: with skipUTF8Validation an invalid reason is not sent back: the answer carries the code only', async () => {
          const options =
            role === 'server'
              ? { serverOptions: { skipUTF8Validation: true } }
              : { clientOptions: { skipUTF8Validation: true } };
          const ctx = await openPeer(impl, role, options);
          ctx.peer.sendFrame({
            opcode: OP.CLOSE,
            payload: closePayload(1000, hex('ff fe 41'))
          });
          const { close } = await ctx.peer.readUntilClose();
          expect(close.payload.toString('hex')).toBe('03e8');
        });
      }

      it('skipUTF8Validation: invalid text is delivered as is', async () => {
        const options =
          role === 'server'
            ? { serverOptions: { skipUTF8Validation: true } }
            : { clientOptions: { skipUTF8Validation: true } };
        const ctx = await openPeer(impl, role, options);
        ctx.peer.sendFrame({ opcode: OP.TEXT, payload: hex('ed a0 80 ff') });
        const [, data, isBinary] = await ctx.events.wait('message');
        expect([data.toString('hex'), isBinary]).toEqual(['eda080ff', false]);
        expect(ctx.events.of('error')).toEqual([]);
      });
    });
  }
});
