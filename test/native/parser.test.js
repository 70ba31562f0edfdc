// Binding-level tests of the native FrameParser (RFC 6455 §5): the §5.7 example frames, every
// protocol error with its detail, limits checked before allocation, permessage-deflate (RFC 7692),
// the shared result area, and split invariance: each input fed whole, cut in two at every offset
// and one byte at a time must give the same events and the same status.

import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { wordText } from '../helpers/word-text.js';

import {
  OPCODES,
  closeBody,
  concatFrames,
  cutAt,
  deflatePayload,
  frame,
  splits
} from '../helpers/frames.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const binding = require(path.join(ROOT, 'lib', 'binding.js'));
const { FrameParser, parserEvents } = binding;

/** native/core/status.h, in order. */
const STATUS = {
  OK: 0,
  UNEXPECTED_RSV1: 1,
  UNEXPECTED_RSV23: 2,
  INVALID_OPCODE: 3,
  EXPECTED_FIN: 4,
  INVALID_CONTROL_PAYLOAD_LENGTH: 5,
  EXPECTED_MASK: 6,
  UNEXPECTED_MASK: 7,
  UNSUPPORTED_DATA_PAYLOAD_LENGTH: 8,
  MESSAGE_TOO_BIG: 9,
  INVALID_UTF8: 10,
  INVALID_CLOSE_CODE: 11,
  TOO_MANY_BUFFERED_PARTS: 12,
  INFLATE_FAILED: 13,
  OUT_OF_MEMORY: 14,
  INFLATE_PENDING: 15
};

const EVENT_CAPACITY = 1024;

/**
 * Parser options with ws's server defaults, overridden by `overrides`.
 *
 * @param {Object} [overrides]
 * @return {Object}
 */
function options(overrides = {}) {
  return {
    isServer: true,
    maxPayload: 100 * 1024 * 1024,
    maxFragments: 131072,
    maxBufferedChunks: 1048576,
    skipUTF8Validation: false,
    perMessageDeflate: false,
    ...overrides
  };
}

const SERVER = options();
const CLIENT = options({ isServer: false });

/**
 * Runs one execute() and copies the result area out at once, as lib/receiver.js must.
 *
 * @param {FrameParser} parser
 * @param {Buffer} chunk
 * @param {number} start
 * @return {Object} { count, consumed, status, detail, events[], owned[] }
 */
function executeOnce(parser, chunk, start) {
  const count = parser.execute(chunk, start);
  const result = {
    count,
    consumed: parserEvents[1],
    status: parserEvents[2],
    detail: parserEvents[3],
    events: [],
    owned: []
  };
  expect(parserEvents[0]).toBe(count);
  let anyOwned = false;
  for (let i = 0; i < count; i++) {
    const base = 4 + 4 * i;
    const event = {
      opcode: parserEvents[base] & 0xff,
      owned: (parserEvents[base] & 0x100) !== 0,
      where: parserEvents[base + 1],
      length: parserEvents[base + 2],
      closeCode: parserEvents[base + 3]
    };
    anyOwned ||= event.owned;
    result.events.push(event);
  }
  if (anyOwned) result.owned = parser.takeOwned();
  return result;
}

/**
 * Feeds chunks to a parser, resuming from `consumed` when the result area fills up.
 *
 * @param {Object} parserOptions
 * @param {Buffer[]} chunks
 * @param {FrameParser} [parser]
 * @return {Object} { events: [{ opcode, payload, closeCode }], status, detail, calls, owned,
 *     pauses (calls that ended in INFLATE_PENDING) }
 */
function run(parserOptions, chunks, parser = new FrameParser(parserOptions)) {
  const outcome = {
    events: [],
    status: STATUS.OK,
    detail: 0,
    calls: 0,
    owned: 0,
    pauses: 0
  };
  for (const chunk of chunks) {
    let start = 0;
    do {
      outcome.calls++;
      const result = executeOnce(parser, chunk, start);
      for (const event of result.events) {
        let payload;
        if (event.owned) {
          payload = result.owned[event.where];
          expect(payload.length).toBe(event.length);
          outcome.owned++;
        } else {
          expect(event.where + event.length).toBeLessThanOrEqual(chunk.length);
          payload = chunk.subarray(event.where, event.where + event.length);
        }
        outcome.events.push({
          opcode: event.opcode,
          payload: Buffer.from(payload).toString('hex'),
          closeCode: event.closeCode
        });
      }
      if (result.status === STATUS.INFLATE_PENDING) {
        // Not an error: the inflate budget ran out with input left over; go on from there.
        expect(result.consumed).toBeLessThan(chunk.length - start);
        outcome.pauses++;
        start += result.consumed;
        continue;
      }
      if (result.status !== STATUS.OK) {
        outcome.status = result.status;
        outcome.detail = result.detail;
        return outcome;
      }
      // Progress is guaranteed: a call that consumes nothing must have filled the area.
      if (result.consumed === 0 && start < chunk.length) {
        expect(result.count).toBeGreaterThan(0);
      }
      start += result.consumed;
    } while (start < chunk.length);
  }
  return outcome;
}

/** An outcome without the counts that depend on the chunking. */
function comparableOf({ events, status, detail }) {
  return { events, status, detail };
}

/**
 * Runs `input` in every split and expects each outcome to equal the whole-input one.
 *
 * @param {Object} parserOptions
 * @param {Buffer} input
 * @return {Object} the whole-input outcome
 */
function runAllSplits(parserOptions, input) {
  const whole = run(parserOptions, [Buffer.from(input)]);
  const stride = input.length > 4096 ? 97 : 1;
  for (const [label, chunks] of splits(input, { stride })) {
    const outcome = run(parserOptions, chunks);
    // How many calls, owned payloads and pauses it took depends on the chunking by design.
    const comparable = comparableOf(outcome);
    const expected = comparableOf(whole);
    expect(comparable, label).toEqual(expected);
  }
  return whole;
}

const text = (payload, extra = {}) =>
  frame({ opcode: OPCODES.TEXT, payload, mask: true, ...extra });
const binary = (payload, extra = {}) =>
  frame({ opcode: OPCODES.BINARY, payload, mask: true, ...extra });
const continuation = (payload, extra = {}) =>
  frame({ opcode: OPCODES.CONTINUATION, payload, mask: true, ...extra });
const ping = (payload, extra = {}) =>
  frame({ opcode: OPCODES.PING, payload, mask: true, ...extra });
const pong = (payload, extra = {}) =>
  frame({ opcode: OPCODES.PONG, payload, mask: true, ...extra });
const close = (payload, extra = {}) =>
  frame({ opcode: OPCODES.CLOSE, payload, mask: true, ...extra });
const hex = (value) => Buffer.from(value).toString('hex');

describe('RFC 6455 §5.7 examples', () => {
  it('a single-frame unmasked text message', () => {
    const input = Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    const outcome = runAllSplits(CLIENT, input);
    expect(outcome.status).toBe(STATUS.OK);
    expect(outcome.events).toEqual([
      { opcode: 1, payload: hex('Hello'), closeCode: 0 }
    ]);
  });

  it('a single-frame masked text message (key 37 fa 21 3d), unmasked in place as a span', () => {
    const input = Buffer.from([
      0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    ]);
    expect(runAllSplits(SERVER, input).events).toEqual([
      { opcode: 1, payload: hex('Hello'), closeCode: 0 }
    ]);
    // Behind 3 bytes the caller skips: offsets are relative to the chunk itself.
    const chunk = Buffer.concat([Buffer.from([9, 9, 9]), input]);
    const parser = new FrameParser(SERVER);
    const result = executeOnce(parser, chunk, 3);
    expect(result).toMatchObject({
      count: 1,
      consumed: input.length,
      status: 0,
      detail: 0
    });
    expect(result.events[0]).toEqual({
      opcode: 1,
      owned: false,
      where: 9,
      length: 5,
      closeCode: 0
    });
    expect(chunk.subarray(9).toString()).toBe('Hello');
    expect(parser.bufferedBytes).toBe(0);
  });

  it('maxPayload reads back the limit it was made with; 0, negative and NaN are 0 (no limit)', () => {
    const limits = [20480, 0, -5, NaN].map(
      (maxPayload) => new FrameParser({ ...SERVER, maxPayload }).maxPayload
    );
    expect(limits).toEqual([20480, 0, 0, 0]);
  });

  it('a fragmented unmasked text message ("Hel" + "lo")', () => {
    const input = Buffer.from([
      0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f
    ]);
    const outcome = runAllSplits(CLIENT, input);
    expect(outcome.events).toEqual([
      { opcode: 1, payload: hex('Hello'), closeCode: 0 }
    ]);
    expect(outcome.owned).toBe(1);
  });

  it('an unmasked ping and a masked pong, both "Hello"', () => {
    const unmaskedPing = Buffer.from([
      0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
    ]);
    expect(runAllSplits(CLIENT, unmaskedPing).events).toEqual([
      { opcode: 9, payload: hex('Hello'), closeCode: 0 }
    ]);
    const maskedPong = Buffer.from([
      0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    ]);
    expect(runAllSplits(SERVER, maskedPong).events).toEqual([
      { opcode: 10, payload: hex('Hello'), closeCode: 0 }
    ]);
  });

  it('256 bytes with a 16-bit length and 64 KiB with a 64-bit length', () => {
    const data256 = Buffer.alloc(256, 0).map((_, i) => i);
    const header256 = Buffer.from([0x82, 0x7e, 0x01, 0x00]);
    let outcome = runAllSplits(CLIENT, Buffer.concat([header256, data256]));
    expect(outcome.events).toEqual([
      { opcode: 2, payload: hex(data256), closeCode: 0 }
    ]);

    const data64k = Buffer.alloc(65536).map((_, i) => (i * 7) & 0xff);
    const header64k = Buffer.from([
      0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00
    ]);
    outcome = runAllSplits(CLIENT, Buffer.concat([header64k, data64k]));
    expect(outcome.events).toEqual([
      { opcode: 2, payload: hex(data64k), closeCode: 0 }
    ]);
  });
});

describe('valid sequences, split invariant', () => {
  it('control frames inside a fragmented message are emitted at once, the message at its end', () => {
    const whole = Buffer.from('café € 😀');
    const input = concatFrames(
      text(whole.subarray(0, 4), { fin: false }), // cuts the 2-byte "é"
      ping('p1'),
      continuation(whole.subarray(4, 9), { fin: false }), // cuts "€"
      pong(''),
      continuation(whole.subarray(9)),
      binary([1, 2, 3]),
      text('')
    );
    const outcome = runAllSplits(SERVER, input);
    expect(outcome.status).toBe(STATUS.OK);
    expect(outcome.events).toEqual([
      { opcode: 9, payload: hex('p1'), closeCode: 0 },
      { opcode: 10, payload: '', closeCode: 0 },
      { opcode: 1, payload: hex(whole), closeCode: 0 },
      { opcode: 2, payload: '010203', closeCode: 0 },
      { opcode: 1, payload: '', closeCode: 0 }
    ]);
  });

  it('close frames give the code and the reason (1005 when empty)', () => {
    let outcome = runAllSplits(SERVER, close(closeBody(1000, 'bye é')));
    expect(outcome.events).toEqual([
      { opcode: 8, payload: hex('bye é'), closeCode: 1000 }
    ]);
    outcome = runAllSplits(SERVER, close(''));
    expect(outcome.events).toEqual([
      { opcode: 8, payload: '', closeCode: 1005 }
    ]);
    outcome = runAllSplits(
      CLIENT,
      frame({ opcode: 8, payload: closeBody(4999) })
    );
    expect(outcome.events).toEqual([
      { opcode: 8, payload: '', closeCode: 4999 }
    ]);
  });

  it('accepts non-minimal length encodings and empty fragments, as ws does', () => {
    const input = concatFrames(
      binary([9], { fin: false, lengthBits: 64 }),
      continuation([], { fin: false, lengthBits: 16 }),
      continuation([8, 7])
    );
    expect(runAllSplits(SERVER, input).events).toEqual([
      { opcode: 2, payload: '090807', closeCode: 0 }
    ]);
  });

  it('skipUTF8Validation accepts invalid text and close reasons', () => {
    const input = concatFrames(
      text([0xff, 0xfe]),
      close(closeBody(1000, [0xc0]))
    );
    const outcome = runAllSplits(options({ skipUTF8Validation: true }), input);
    expect(outcome.status).toBe(STATUS.OK);
    expect(outcome.events.map((event) => event.opcode)).toEqual([1, 8]);
  });

  it('bytes after a close frame are consumed and ignored, even invalid ones', () => {
    const input = concatFrames(
      binary([1]),
      close(closeBody(1001)),
      text('late'),
      Buffer.from([0xff, 0xff])
    );
    const outcome = runAllSplits(SERVER, input);
    expect(outcome.status).toBe(STATUS.OK);
    expect(outcome.events).toEqual([
      { opcode: 2, payload: '01', closeCode: 0 },
      { opcode: 8, payload: '', closeCode: 1001 }
    ]);
    const parser = new FrameParser(SERVER);
    const chunk = Buffer.from(input);
    expect(executeOnce(parser, chunk, 0)).toMatchObject({
      count: 2,
      consumed: chunk.length
    });
    const more = text('more');
    expect(executeOnce(parser, more, 0)).toMatchObject({
      count: 0,
      consumed: more.length,
      status: 0
    });
  });
});

describe('protocol errors (ws 8.21 receiver.js checks, in its order)', () => {
  const deflate = options({ perMessageDeflate: true });
  const cases = [
    ['RSV2 set', SERVER, text('a', { rsv2: true }), STATUS.UNEXPECTED_RSV23, 0],
    [
      'RSV3 and RSV1 set: RSV2/3 first',
      SERVER,
      text('a', { rsv3: true, rsv1: true }),
      STATUS.UNEXPECTED_RSV23,
      0
    ],
    [
      'RSV1 without permessage-deflate',
      SERVER,
      text('a', { rsv1: true }),
      STATUS.UNEXPECTED_RSV1,
      0
    ],
    [
      'RSV1 on a control frame',
      deflate,
      ping('a', { rsv1: true }),
      STATUS.UNEXPECTED_RSV1,
      0
    ],
    [
      'RSV1 on a continuation frame',
      deflate,
      concatFrames(
        binary('a', { fin: false }),
        continuation('b', { rsv1: true })
      ),
      STATUS.UNEXPECTED_RSV1,
      0
    ],
    [
      'RSV1 on a stray continuation: RSV1 first',
      deflate,
      continuation('b', { rsv1: true }),
      STATUS.UNEXPECTED_RSV1,
      0
    ],
    [
      'a continuation with no message',
      SERVER,
      continuation('a'),
      STATUS.INVALID_OPCODE,
      0
    ],
    [
      'a text frame inside a fragmented message',
      SERVER,
      concatFrames(text('a', { fin: false }), ping('x'), text('b')),
      STATUS.INVALID_OPCODE,
      1
    ],
    [
      'a binary frame inside a fragmented message',
      SERVER,
      concatFrames(binary('a', { fin: false }), binary('b')),
      STATUS.INVALID_OPCODE,
      2
    ],
    [
      'reserved opcode 3',
      SERVER,
      frame({ opcode: 3, mask: true }),
      STATUS.INVALID_OPCODE,
      3
    ],
    [
      'reserved opcode 7',
      SERVER,
      frame({ opcode: 7, mask: true }),
      STATUS.INVALID_OPCODE,
      7
    ],
    [
      'reserved opcode 0xB',
      SERVER,
      frame({ opcode: 0xb, mask: true }),
      STATUS.INVALID_OPCODE,
      11
    ],
    [
      'reserved opcode 0xF',
      SERVER,
      frame({ opcode: 0xf, mask: true }),
      STATUS.INVALID_OPCODE,
      15
    ],
    [
      'a ping without FIN',
      SERVER,
      ping('a', { fin: false }),
      STATUS.EXPECTED_FIN,
      0
    ],
    [
      'a control frame without FIN and with RSV1: FIN first',
      deflate,
      ping('a', { fin: false, rsv1: true }),
      STATUS.EXPECTED_FIN,
      0
    ],
    [
      'a 126-byte ping',
      SERVER,
      ping(Buffer.alloc(126)),
      STATUS.INVALID_CONTROL_PAYLOAD_LENGTH,
      126
    ],
    [
      'a pong with a 64-bit length',
      SERVER,
      pong('abc', { lengthBits: 64 }),
      STATUS.INVALID_CONTROL_PAYLOAD_LENGTH,
      127
    ],
    [
      'a close frame of one byte',
      SERVER,
      close([3]),
      STATUS.INVALID_CONTROL_PAYLOAD_LENGTH,
      1
    ],
    [
      'control length checked before the mask bit',
      SERVER,
      frame({ opcode: 9, payload: Buffer.alloc(126) }),
      STATUS.INVALID_CONTROL_PAYLOAD_LENGTH,
      126
    ],
    [
      'an unmasked frame to a server',
      SERVER,
      frame({ opcode: 1, payload: 'a' }),
      STATUS.EXPECTED_MASK,
      0
    ],
    [
      'a masked frame to a client',
      CLIENT,
      text('a'),
      STATUS.UNEXPECTED_MASK,
      0
    ],
    [
      'a 64-bit length with the top bit set',
      SERVER,
      binary('', { declaredLength: 1n << 63n }),
      STATUS.UNSUPPORTED_DATA_PAYLOAD_LENGTH,
      0
    ],
    [
      'a 64-bit length of 2^53',
      SERVER,
      binary('', { declaredLength: 2n ** 53n }),
      STATUS.UNSUPPORTED_DATA_PAYLOAD_LENGTH,
      0
    ],
    [
      'a frame over maxPayload',
      options({ maxPayload: 10 }),
      binary(Buffer.alloc(11)),
      STATUS.MESSAGE_TOO_BIG,
      0
    ],
    [
      'fragments summing over maxPayload',
      options({ maxPayload: 10 }),
      concatFrames(
        binary(Buffer.alloc(6), { fin: false }),
        ping(''),
        continuation(Buffer.alloc(5))
      ),
      STATUS.MESSAGE_TOO_BIG,
      0
    ],
    [
      'more frames than maxFragments (empty ones count)',
      options({ maxFragments: 3 }),
      concatFrames(
        text('a', { fin: false }),
        continuation('', { fin: false }),
        continuation('', { fin: false }),
        continuation('d')
      ),
      STATUS.TOO_MANY_BUFFERED_PARTS,
      0
    ],
    [
      'close code 1005',
      SERVER,
      close(closeBody(1005)),
      STATUS.INVALID_CLOSE_CODE,
      1005
    ],
    [
      'close code 999',
      SERVER,
      close(closeBody(999)),
      STATUS.INVALID_CLOSE_CODE,
      999
    ],
    [
      'close code 1004',
      SERVER,
      close(closeBody(1004, 'x')),
      STATUS.INVALID_CLOSE_CODE,
      1004
    ],
    [
      'close code 2999',
      SERVER,
      close(closeBody(2999)),
      STATUS.INVALID_CLOSE_CODE,
      2999
    ],
    [
      'close code 5000',
      SERVER,
      close(closeBody(5000)),
      STATUS.INVALID_CLOSE_CODE,
      5000
    ],
    [
      'a close reason that is not UTF-8',
      SERVER,
      close(closeBody(1000, [0xff])),
      STATUS.INVALID_UTF8,
      0
    ],
    [
      'an overlong encoding',
      SERVER,
      text([0x61, 0xc0, 0x80]),
      STATUS.INVALID_UTF8,
      0
    ],
    ['a surrogate', SERVER, text([0xed, 0xa0, 0x80]), STATUS.INVALID_UTF8, 0],
    [
      'text ending inside a sequence',
      SERVER,
      text([0x61, 0xe2, 0x82]),
      STATUS.INVALID_UTF8,
      0
    ],
    [
      'a sequence cut by the message end across fragments',
      SERVER,
      concatFrames(text([0x61, 0xe2], { fin: false }), continuation([0x82])),
      STATUS.INVALID_UTF8,
      0
    ],
    [
      'bad UTF-8 fails on its fragment, before a later frame error',
      SERVER,
      concatFrames(
        text([0x61, 0xff], { fin: false }),
        frame({ opcode: 5, mask: true })
      ),
      STATUS.INVALID_UTF8,
      0
    ]
  ];

  for (const [title, parserOptions, input, status, detail] of cases) {
    it(`${title} -> status ${status} (detail ${detail}), in every split`, () => {
      const outcome = runAllSplits(parserOptions, input);
      expect(outcome.status).toBe(status);
      expect(outcome.detail).toBe(detail);
    });
  }

  it('events before the error are delivered; the error is sticky', () => {
    const input = concatFrames(
      ping('a'),
      text('ok'),
      frame({ opcode: 4, mask: true }),
      ping('b')
    );
    const parser = new FrameParser(SERVER);
    const chunk = Buffer.from(input);
    const result = executeOnce(parser, chunk, 0);
    expect(result.status).toBe(STATUS.INVALID_OPCODE);
    expect(result.detail).toBe(4);
    expect(result.events.map((event) => event.opcode)).toEqual([9, 1]);
    expect(
      chunk
        .subarray(result.events[1].where, result.events[1].where + 2)
        .toString()
    ).toBe('ok');
    const again = executeOnce(parser, binary('x'), 0);
    expect(again).toMatchObject({
      count: 0,
      consumed: 0,
      status: STATUS.INVALID_OPCODE,
      detail: 4
    });
  });

  it('a long text frame with a bad byte past the first 16 KiB block', () => {
    const payload = Buffer.alloc(40000, 0x61);
    payload[30000] = 0xf5;
    const outcome = runAllSplits(SERVER, text(payload));
    expect(outcome.status).toBe(STATUS.INVALID_UTF8);
    expect(outcome.events).toEqual([]);
  });
});

describe('permessage-deflate (RFC 7692)', () => {
  const client = options({ isServer: false, perMessageDeflate: true });
  const server = options({ perMessageDeflate: true });

  it('§7.2.3.1 "Hello" in one frame and in two fragments, §7.2.3.2 with the context kept', () => {
    const one = Buffer.from([
      0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00
    ]);
    const two = Buffer.from([
      0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00
    ]);
    const again = Buffer.from([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    const hello = { opcode: 1, payload: hex('Hello'), closeCode: 0 };
    expect(runAllSplits(client, one).events).toEqual([hello]);
    expect(runAllSplits(client, two).events).toEqual([hello]);
    expect(runAllSplits(client, concatFrames(one, again)).events).toEqual([
      hello,
      hello
    ]);
    // Without context takeover the back-reference of the second message has nothing to point at.
    const reset = options({
      isServer: false,
      perMessageDeflate: true,
      inflateNoContextTakeover: true
    });
    const outcome = runAllSplits(reset, concatFrames(one, again));
    expect(outcome.events).toEqual([hello]);
    expect(outcome.status).toBe(STATUS.INFLATE_FAILED);
  });

  it('a compressed message in fragments with a ping between them', () => {
    const message = Buffer.alloc(3000).map((_, i) => 0x61 + (i % 26));
    const packed = deflatePayload(message);
    const half = packed.length >> 1;
    const input = concatFrames(
      text(packed.subarray(0, half), { fin: false, rsv1: true }),
      ping('ping'),
      continuation(packed.subarray(half))
    );
    expect(runAllSplits(server, input).events).toEqual([
      { opcode: 9, payload: hex('ping'), closeCode: 0 },
      { opcode: 1, payload: hex(message), closeCode: 0 }
    ]);
  });

  it('honours inflateWindowBits', () => {
    const message = Buffer.from('window bits '.repeat(50));
    const input = binary(deflatePayload(message, 9), { rsv1: true });
    const outcome = runAllSplits(
      options({ perMessageDeflate: true, inflateWindowBits: 9 }),
      input
    );
    expect(outcome.events).toEqual([
      { opcode: 2, payload: hex(message), closeCode: 0 }
    ]);
  });

  it('an empty compressed message', () => {
    expect(runAllSplits(server, binary([0x00], { rsv1: true })).events).toEqual(
      [{ opcode: 2, payload: '', closeCode: 0 }]
    );
  });

  it('maxPayload applies to the inflated size, while inflating', () => {
    const message = Buffer.alloc(100000, 0x61);
    const packed = deflatePayload(message);
    expect(packed.length).toBeLessThan(1000);
    const outcome = runAllSplits(
      options({ perMessageDeflate: true, maxPayload: 1000 }),
      text(packed, { rsv1: true })
    );
    expect(outcome.status).toBe(STATUS.MESSAGE_TOO_BIG);
  });

  it('invalid UTF-8 in inflated text and corrupt deflate data', () => {
    const bad = Buffer.alloc(200, 0x78);
    bad[150] = 0xff;
    let outcome = runAllSplits(
      server,
      text(deflatePayload(bad), { rsv1: true })
    );
    expect(outcome.status).toBe(STATUS.INVALID_UTF8);
    // 0xff: a final block of reserved type 3 (RFC 1951 §3.2.3).
    outcome = runAllSplits(server, binary([0xff, 0xff, 0xff], { rsv1: true }));
    expect(outcome.status).toBe(STATUS.INFLATE_FAILED);
    // The detail is zlib's code (Z_DATA_ERROR = -3) as a 32-bit word.
    expect(outcome.detail | 0).toBe(-3);
  });
});

/**
 * `bytes` cut into pieces of random sizes below `largest` (seeded), each a fresh copy.
 *
 * @param {Buffer} bytes
 * @param {number} largest
 * @param {number} seed
 * @return {Buffer[]}
 */
function randomCuts(bytes, largest, seed) {
  let state = seed >>> 0 || 1;
  const cuts = [];
  for (let at = 0; ;) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    at += 1 + ((state >>> 0) % largest);
    if (at >= bytes.length) break;
    cuts.push(at);
  }
  return cutAt(bytes, cuts);
}

describe('inflate budget: a large compressed message is inflated in slices', () => {
  const server = options({ perMessageDeflate: true });
  const client = options({ isServer: false, perMessageDeflate: true });
  const message = wordText(3 * 1024 * 1024);
  const packed = deflatePayload(message);

  it('3 MiB of text pauses with INFLATE_PENDING (input left, events kept) and arrives intact', () => {
    expect(packed.length).toBeLessThan(message.length / 2);
    const input = text(packed, { rsv1: true });
    const parser = new FrameParser(server);
    const chunk = Buffer.from(input);
    const held = [];
    let start = 0;
    let pauses = 0;
    let result;
    for (;;) {
      result = executeOnce(parser, chunk, start);
      if (result.status !== STATUS.INFLATE_PENDING) break;
      // Nothing is complete yet, some input is always left, and the next call goes on.
      expect(result.count).toBe(0);
      expect(start + result.consumed).toBeLessThan(chunk.length);
      held.push(parser.bufferedBytes);
      start += result.consumed;
      pauses++;
    }
    expect(result.status).toBe(STATUS.OK);
    expect(start + result.consumed).toBe(chunk.length);
    expect(result.count).toBe(1);
    expect(result.owned[0].equals(message)).toBe(true);
    // 256 KiB slices (the default budget), each at least the budget and at most twice it.
    expect(pauses).toBeGreaterThanOrEqual(5);
    expect(pauses).toBeLessThanOrEqual(12);
    // The message grew slice by slice: after the first, at most 512 KiB (plus growth headroom).
    expect(held[0]).toBeLessThan(1024 * 1024);
    expect(held[held.length - 1]).toBeGreaterThan(2 * 1024 * 1024);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('the budget spans calls: 64 KiB socket chunks pause as often as one big chunk', () => {
    const input = binary(packed, { rsv1: true, mask: false });
    const whole = run(client, [Buffer.from(input)]);
    const chunked = run(client, randomCuts(input, 64 * 1024, 7));
    expect(whole.events).toEqual([
      { opcode: 2, payload: hex(message), closeCode: 0 }
    ]);
    expect(chunked.events).toEqual(whole.events);
    expect(chunked.status).toBe(STATUS.OK);
    // Each 64 KiB chunk inflates to under 256 KiB: a budget per call would never pause.
    expect(whole.pauses).toBeGreaterThanOrEqual(5);
    expect(chunked.pauses).toBeGreaterThanOrEqual(5);
  });

  it('split invariance holds across pauses: random chunkings give the same events and status', () => {
    const half = packed.length >> 1;
    const input = concatFrames(
      text(packed.subarray(0, half), { fin: false, rsv1: true }),
      ping('inside'),
      continuation(packed.subarray(half)),
      pong('after'),
      text(deflatePayload('next message'), { rsv1: true }),
      binary('plain'),
      close(closeBody(1000, 'bye'))
    );
    const whole = run(server, [Buffer.from(input)]);
    expect(whole.status).toBe(STATUS.OK);
    expect(whole.pauses).toBeGreaterThan(0);
    // Control frames and later messages keep the wire order around the sliced message.
    expect(
      whole.events.map(({ opcode, payload }) =>
        payload.length > 100 ? [opcode, 'big'] : [opcode, payload]
      )
    ).toEqual([
      [9, hex('inside')],
      [1, 'big'],
      [10, hex('after')],
      [1, hex('next message')],
      [2, hex('plain')],
      [8, hex('bye')]
    ]);
    expect(whole.events[1].payload === hex(message)).toBe(true);
    for (const [largest, seed] of [
      [7, 1],
      [1000, 2],
      [64 * 1024, 3],
      [300 * 1024, 4]
    ]) {
      const outcome = run(server, randomCuts(input, largest, seed));
      expect(outcome.status).toBe(STATUS.OK);
      expect(outcome.events).toEqual(whole.events);
    }
  });

  it('a decompression bomb still fails at maxPayload, holding at most the limit meanwhile', () => {
    // 64 MiB of zeros deflate to about 64 KiB.
    const bomb = deflatePayload(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(128 * 1024);
    const limit = 4 * 1024 * 1024;
    const parser = new FrameParser(
      options({ perMessageDeflate: true, maxPayload: limit })
    );
    const chunk = Buffer.from(binary(bomb, { rsv1: true }));
    let start = 0;
    let pauses = 0;
    let result;
    for (;;) {
      result = executeOnce(parser, chunk, start);
      if (result.status !== STATUS.INFLATE_PENDING) break;
      // The limit plus one 64 KiB inflate step, never the bomb's 64 MiB.
      expect(parser.bufferedBytes).toBeLessThanOrEqual(limit + 64 * 1024 + 1);
      start += result.consumed;
      pauses++;
    }
    expect(result.status).toBe(STATUS.MESSAGE_TOO_BIG);
    expect(result.count).toBe(0);
    // Each slice makes at least the 256 KiB budget and at most 1 MiB more (what 1 KiB of input,
    // the smallest slice fed to zlib, can inflate to).
    expect(pauses).toBeGreaterThanOrEqual(2);
    expect(pauses).toBeLessThanOrEqual(16);
    expect(parser.bufferedBytes).toBe(0);
    // Sticky, as every error.
    expect(executeOnce(parser, chunk, start).status).toBe(
      STATUS.MESSAGE_TOO_BIG
    );
  });

  it('an empty call (start === chunk.length) is accepted, also between slices, and changes nothing', () => {
    const chunk = Buffer.from(text(packed, { rsv1: true }));
    const parser = new FrameParser(server);
    let result = executeOnce(parser, chunk, chunk.length);
    expect([result.count, result.consumed, result.status]).toEqual([0, 0, 0]);
    result = executeOnce(parser, chunk, 0);
    expect(result.status).toBe(STATUS.INFLATE_PENDING);
    let start = result.consumed;
    result = executeOnce(parser, chunk, chunk.length);
    expect([result.count, result.consumed, result.status]).toEqual([0, 0, 0]);
    for (;;) {
      result = executeOnce(parser, chunk, start);
      start += result.consumed;
      if (result.status !== STATUS.INFLATE_PENDING) break;
    }
    expect(result.status).toBe(STATUS.OK);
    expect(result.owned[0].equals(message)).toBe(true);
  });
});

describe('memory and limits', () => {
  it('maxPayload is checked on the header, before any allocation', () => {
    const parser = new FrameParser(options({ maxPayload: 1024 }));
    const header = binary('', { declaredLength: 2 ** 53 - 1 });
    const result = executeOnce(parser, header, 0);
    expect(result.status).toBe(STATUS.MESSAGE_TOO_BIG);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('without a limit, memory follows the bytes that arrive, not the length announced', () => {
    const parser = new FrameParser(options({ maxPayload: 0 }));
    const chunk = Buffer.concat([
      binary('', { declaredLength: 2 ** 53 - 1 }),
      Buffer.alloc(1000, 0x55)
    ]);
    expect(executeOnce(parser, chunk, 0)).toMatchObject({
      count: 0,
      consumed: chunk.length
    });
    expect(parser.bufferedBytes).toBeGreaterThanOrEqual(1000);
    expect(parser.bufferedBytes).toBeLessThan(4096);
  });

  /**
   * A message of `count` one-byte frames.
   *
   * @param {number} count
   * @return {Buffer}
   */
  function oneByteFragments(count) {
    const frames = [binary([0], { fin: false })];
    const middle = continuation([1], { fin: false });
    for (let i = 1; i < count - 1; i++) frames.push(middle);
    frames.push(continuation([2]));
    return Buffer.concat(frames);
  }

  it('131072 one-byte fragments are the default limit; one more fails', () => {
    let outcome = run(SERVER, [oneByteFragments(131072)]);
    expect(outcome.status).toBe(STATUS.OK);
    expect(outcome.events).toHaveLength(1);
    expect(outcome.events[0].payload.length).toBe(131072 * 2);
    outcome = run(SERVER, [oneByteFragments(131073)]);
    expect(outcome.status).toBe(STATUS.TOO_MANY_BUFFERED_PARTS);
    expect(outcome.detail).toBe(0);
    expect(outcome.events).toEqual([]);
  });

  it('with maxFragments 0 they are accepted, held in one buffer of about the payload size', () => {
    const input = oneByteFragments(131073);
    const parser = new FrameParser(options({ maxFragments: 0 }));
    const lastFrame = 7;
    const result = executeOnce(
      parser,
      input.subarray(0, input.length - lastFrame),
      0
    );
    expect(result).toMatchObject({ count: 0, status: 0 });
    // 131072 payload bytes; geometric growth leaves at most half again spare.
    expect(parser.bufferedBytes).toBeGreaterThanOrEqual(131072);
    expect(parser.bufferedBytes).toBeLessThanOrEqual(131072 * 1.5 + 256);
    const end = executeOnce(
      parser,
      Buffer.from(input.subarray(input.length - lastFrame)),
      0
    );
    expect(end.count).toBe(1);
    expect(end.owned[0].length).toBe(131073);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('maxBufferedChunks bounds the pieces copied into one message', () => {
    const input = binary([1, 2, 3, 4, 5, 6]);
    const limited = options({ maxBufferedChunks: 3 });
    const outcome = run(limited, cutAt(input, [7, 8, 9]));
    expect(outcome.status).toBe(STATUS.TOO_MANY_BUFFERED_PARTS);
    // Detail 1: the chunks limit (0 is the fragments limit), for ws's two messages.
    expect(outcome.detail).toBe(1);
    expect(run(limited, cutAt(input, [8, 9])).events).toEqual([
      { opcode: 2, payload: '010203040506', closeCode: 0 }
    ]);
  });
});

describe('the shared result area and owned payloads', () => {
  it('more than 1024 events in one chunk: execute stops at 1024, the caller resumes', () => {
    const frames = [];
    for (let i = 0; i < 2500; i++) frames.push(binary([i & 0xff]));
    const chunk = Buffer.concat(frames);
    const parser = new FrameParser(SERVER);
    const first = executeOnce(parser, chunk, 0);
    expect(first.count).toBe(EVENT_CAPACITY);
    expect(first.consumed).toBe(EVENT_CAPACITY * 7);
    expect(first.events[1023].where).toBe(1023 * 7 + 6);
    const second = executeOnce(parser, chunk, first.consumed);
    expect(second.count).toBe(EVENT_CAPACITY);
    expect(second.events[0].where).toBe(first.consumed + 6);
    const third = executeOnce(parser, chunk, first.consumed + second.consumed);
    expect(third.count).toBe(2500 - 2 * EVENT_CAPACITY);
    expect(first.consumed + second.consumed + third.consumed).toBe(
      chunk.length
    );

    const outcome = run(SERVER, [Buffer.concat(frames)]);
    expect(outcome.calls).toBe(3);
    expect(outcome.events.map((event) => event.payload)).toEqual(
      frames.map((_, i) => (i & 0xff).toString(16).padStart(2, '0'))
    );
  });

  it('owned payloads: empty, small (copied) and large (handed over) Buffers', () => {
    const large = Buffer.alloc(100000).map((_, i) => i * 3);
    const input = concatFrames(
      binary('', { fin: false }),
      continuation(''),
      binary('abc', { fin: false }),
      continuation('def'),
      binary(large.subarray(0, 50000), { fin: false }),
      continuation(large.subarray(50000))
    );
    const parser = new FrameParser(SERVER);
    const result = executeOnce(parser, Buffer.from(input), 0);
    expect(
      result.events.map((event) => [event.owned, event.where, event.length])
    ).toEqual([
      [true, 0, 0],
      [true, 1, 6],
      [true, 2, 100000]
    ]);
    expect(result.owned).toHaveLength(3);
    for (const buffer of result.owned)
      expect(Buffer.isBuffer(buffer)).toBe(true);
    expect(result.owned[0].length).toBe(0);
    expect(result.owned[1].toString()).toBe('abcdef');
    expect(result.owned[2].equals(large)).toBe(true);
    // They were moved out: a second takeOwned() has nothing.
    expect(parser.takeOwned()).toEqual([]);
  });

  it('releaseParser() frees the parser: every later call throws instead of parsing', () => {
    const parser = new FrameParser(SERVER);
    const frame = concatFrames(binary(Buffer.from('abc')));
    expect(parser.execute(frame, 0)).toBe(1);
    parser.releaseParser();
    expect(() => parser.execute(frame, 0)).toThrow('The parser was released');
    expect(() => parser.takeOwned()).toThrow('The parser was released');
    expect(() => parser.bufferedBytes).toThrow('The parser was released');
    parser.releaseParser();
  });

  it('owned payloads on both sides of the copy threshold (4 KiB) arrive intact', () => {
    for (const size of [4095, 4096, 4097]) {
      const data = Buffer.alloc(size).map((_, i) => (i * 11) & 0xff);
      const input = concatFrames(
        binary(data.subarray(0, 100), { fin: false }),
        continuation(data.subarray(100))
      );
      const outcome = run(SERVER, [input]);
      expect(outcome.owned).toBe(1);
      expect(outcome.events).toEqual([
        { opcode: 2, payload: hex(data), closeCode: 0 }
      ]);
    }
  });

  it('payloads split across chunks are owned; whole ones are spans', () => {
    const input = binary('spanned');
    const parser = new FrameParser(SERVER);
    const head = executeOnce(parser, Buffer.from(input.subarray(0, 8)), 0);
    expect(head).toMatchObject({ count: 0, consumed: 8 });
    expect(parser.bufferedBytes).toBeGreaterThan(0);
    const tail = executeOnce(parser, Buffer.from(input.subarray(8)), 0);
    expect(tail.events[0]).toMatchObject({ owned: true, where: 0, length: 7 });
    expect(tail.owned[0].toString()).toBe('spanned');
  });
});

describe('argument checks', () => {
  it('the constructor rejects wrong option types with TypeError', () => {
    expect(() => new FrameParser()).toThrow(TypeError);
    expect(() => new FrameParser(null)).toThrow(TypeError);
    expect(() => new FrameParser({ ...SERVER, isServer: 1 })).toThrow(
      TypeError
    );
    expect(() => new FrameParser({ ...SERVER, maxPayload: '10' })).toThrow(
      TypeError
    );
    expect(
      () => new FrameParser({ ...SERVER, maxFragments: undefined })
    ).toThrow(TypeError);
    expect(
      () => new FrameParser({ ...SERVER, skipUTF8Validation: 'no' })
    ).toThrow(TypeError);
    expect(() => new FrameParser({ ...SERVER, perMessageDeflate: {} })).toThrow(
      TypeError
    );
    expect(
      () => new FrameParser({ ...SERVER, inflateWindowBits: '15' })
    ).toThrow(TypeError);
    expect(
      () => new FrameParser({ ...SERVER, inflateNoContextTakeover: 1 })
    ).toThrow(TypeError);
    expect(() => new FrameParser({ ...SERVER, inflateWindowBits: 7 })).toThrow(
      RangeError
    );
    expect(() => new FrameParser({ ...SERVER, inflateWindowBits: 16 })).toThrow(
      RangeError
    );
    expect(
      () => new FrameParser({ ...SERVER, inflateWindowBits: 10.5 })
    ).toThrow(RangeError);
  });

  it('limits of 0, negative or NaN mean no limit, as ws treats them', () => {
    for (const maxPayload of [0, -1, NaN]) {
      const outcome = run(options({ maxPayload }), [
        binary(Buffer.alloc(70000))
      ]);
      expect(outcome.status).toBe(STATUS.OK);
    }
  });

  it('execute() rejects a non-Uint8Array chunk and an out-of-range start', () => {
    const parser = new FrameParser(SERVER);
    expect(() => parser.execute('abc', 0)).toThrow(TypeError);
    expect(() => parser.execute(new Uint16Array(4), 0)).toThrow(TypeError);
    expect(() => parser.execute(Buffer.alloc(4), '0')).toThrow(TypeError);
    expect(() => parser.execute(Buffer.alloc(4), 5)).toThrow(RangeError);
    expect(() => parser.execute(Buffer.alloc(4), -1)).toThrow(RangeError);
    expect(parser.execute(Buffer.alloc(0), 0)).toBe(0);
    expect(parserEvents[1]).toBe(0);
  });

  it('accepts a plain Uint8Array and a Buffer view with an offset', () => {
    const input = binary('view');
    const backing = new Uint8Array(input.length + 5);
    backing.set(input, 5);
    const view = backing.subarray(5);
    const parser = new FrameParser(SERVER);
    const result = executeOnce(parser, view, 0);
    expect(result.events[0]).toMatchObject({ where: 6, length: 4 });
    expect(Buffer.from(view.subarray(6, 10)).toString()).toBe('view');
  });
});
