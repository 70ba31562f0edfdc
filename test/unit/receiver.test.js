// lib/receiver.js: hand-built frames fed in every split, each run also through ws's own Receiver
// (same bytes, same options) so events, payloads, error classes, messages, codes and close
// statuses are proven identical; plus literal RFC expectations, pacing and re-entrancy checks.

import { createRequire } from 'module';
import path from 'path';
import zlib from 'zlib';
import { describe, expect, it } from 'vitest';

import { wordText } from '../helpers/word-text.js';

import { chunksOf, everySplit, splitAt } from '../helpers/split-feeder.js';
import { closePayload, encodeFrame, OP } from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const Receiver = require('../../lib/receiver');
const FrameReader = require('../../lib/frame-reader');
const PerMessageDeflate = require('../../lib/permessage-deflate');
const { kStatusCode } = require('../../lib/constants');
const { protocolError, status: STATUS } = require('../../lib/errors');
const wsLib = path.join(path.dirname(require.resolve('ws')), 'lib');
const WsReceiver = require(path.join(wsLib, 'receiver.js'));
const WsPerMessageDeflate = require(path.join(wsLib, 'permessage-deflate.js'));
// ws keys the close status with its own module-private symbol.
const wsStatusCode = require(path.join(wsLib, 'constants.js')).kStatusCode;

const IMPLS = [
  { name: 'ws-native', Receiver, PerMessageDeflate },
  { name: 'ws', Receiver: WsReceiver, PerMessageDeflate: WsPerMessageDeflate }
];
const [NATIVE, WS] = IMPLS;

/** A serializable picture of a message payload. */
function describeData(data) {
  if (Buffer.isBuffer(data)) return { Buffer: data.toString('hex') };
  if (data instanceof ArrayBuffer)
    return { ArrayBuffer: Buffer.from(data).toString('hex') };
  if (Array.isArray(data))
    return { fragments: data.map((part) => part.toString('hex')) };
  if (data instanceof Blob) return { Blob: data.size };
  return { unknown: String(data) };
}

/** A serializable picture of an error. */
function describeError(err) {
  return {
    ctor: err.constructor.name,
    message: err.message,
    code: err.code,
    status:
      err[kStatusCode] !== undefined ? err[kStatusCode] : err[wsStatusCode]
  };
}

/** Subscribes to every event of `receiver`, recording them in order. */
function record(receiver) {
  const events = [];
  receiver.on('message', (data, isBinary) =>
    events.push(['message', describeData(data), isBinary])
  );
  receiver.on('ping', (data) => events.push(['ping', data.toString('hex')]));
  receiver.on('pong', (data) => events.push(['pong', data.toString('hex')]));
  receiver.on('conclude', (code, reason) =>
    events.push(['conclude', code, reason.toString('hex')])
  );
  receiver.on('error', (err) => events.push(['error', describeError(err)]));
  receiver.on('finish', () => events.push(['finish']));
  return events;
}

/** Lets pending immediates and ticks run. */
async function settle(turns = 4) {
  for (let i = 0; i < turns; i++)
    await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Builds a receiver of `impl`, with permessage-deflate accepted from `deflate` (a response
 * string as the client would see it / an offer as the server would) when given.
 */
function makeReceiver(impl, options = {}) {
  const { deflate, ...rest } = options;
  const receiverOptions = { ...rest };

  if (deflate !== undefined) {
    const pmd = new impl.PerMessageDeflate({
      isServer: !!rest.isServer,
      maxPayload: rest.maxPayload
    });
    pmd.accept(
      [JSON.parse(JSON.stringify(deflate.params))].map(toConfiguration)
    );
    receiverOptions.extensions = { 'permessage-deflate': pmd };
  }

  return new impl.Receiver(receiverOptions);
}

/** `{ a: 1, b: true }` -> `{ a: ['1'], b: [true] }` (the shape extension.parse() gives). */
function toConfiguration(params) {
  const configuration = {};
  for (const key of Object.keys(params)) {
    configuration[key] = [params[key] === true ? true : String(params[key])];
  }
  return configuration;
}

/**
 * Feeds `pieces` (copied: receivers unmask in place) one write at a time, waiting for each write
 * to be processed, and returns the recorded events.
 */
async function run(impl, options, pieces) {
  const receiver = makeReceiver(impl, options);
  const events = record(receiver);

  for (const piece of pieces) {
    await new Promise((resolve) =>
      receiver.write(Buffer.from(piece), () => resolve())
    );
    if (receiver.destroyed) break;
  }
  await settle();
  return events;
}

/** Runs both implementations and requires identical events; returns ours. */
async function runBoth(options, pieces) {
  const ours = await run(NATIVE, options, pieces);
  const theirs = await run(WS, options, pieces);
  expect(ours).toEqual(theirs);
  return ours;
}

const CLIENT = { isServer: false };
const SERVER = { isServer: true };
const MASK_KEY = [0x37, 0xfa, 0x21, 0x3d];

/** Frames for `role`: masked when the receiver is a server (RFC 6455 §5.1). */
function frame(role, options) {
  const mask = options.mask !== undefined ? options.mask : role.isServer;
  return mask
    ? encodeFrame({ ...options, mask, maskKey: MASK_KEY })
    : encodeFrame({ ...options, mask });
}

function frames(role, list) {
  return Buffer.concat(list.map((options) => frame(role, options)));
}

const hex = (text) => Buffer.from(text).toString('hex');

describe('Receiver: messages in every split (against ws)', () => {
  const euro126 = '€'.repeat(42); // 126 bytes: 16-bit length (§5.2)

  for (const role of [CLIENT, SERVER]) {
    const name = role.isServer
      ? 'server (masked frames)'
      : 'client (unmasked frames)';

    it(`${name}: text, binary, control frames, fragments, 16-bit length, close`, async () => {
      const bytes = frames(role, [
        { opcode: OP.TEXT, payload: 'Hello' },
        { opcode: OP.BINARY, payload: [1, 2, 3] },
        { opcode: OP.PING, payload: 'p' },
        { opcode: OP.PONG },
        { opcode: OP.TEXT },
        { opcode: OP.TEXT, payload: 'Hel', fin: false },
        { opcode: OP.PING, payload: 'mid' },
        { opcode: OP.CONTINUATION, payload: 'l', fin: false },
        { opcode: OP.CONTINUATION, payload: 'o' },
        { opcode: OP.TEXT, payload: euro126 },
        { opcode: OP.CLOSE, payload: closePayload(1000, 'bye') }
      ]);
      const expected = [
        ['message', { Buffer: hex('Hello') }, false],
        ['message', { Buffer: '010203' }, true],
        ['ping', hex('p')],
        ['pong', ''],
        ['message', { Buffer: '' }, false],
        ['ping', hex('mid')],
        ['message', { Buffer: hex('Hello') }, false],
        ['message', { Buffer: hex(euro126) }, false],
        ['conclude', 1000, hex('bye')],
        ['finish']
      ];

      expect(await runBoth(role, [bytes])).toEqual(expected);
      for (const pieces of everySplit(bytes)) {
        expect(await run(NATIVE, role, pieces)).toEqual(expected);
      }
      expect(await runBoth(role, chunksOf(bytes, 1))).toEqual(expected);
      expect(await runBoth(role, chunksOf(bytes, 7))).toEqual(expected);
    });
  }

  it('a 64-bit length (70000 bytes) split at the header, mask and payload boundaries', async () => {
    const payload = Buffer.alloc(70000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const bytes = frame(SERVER, { opcode: OP.BINARY, payload });
    const expected = [['message', { Buffer: payload.toString('hex') }, true]];

    expect(await runBoth(SERVER, [bytes])).toEqual(expected);
    for (const cut of [
      [1],
      [2],
      [9],
      [10],
      [13],
      [14],
      [15],
      [5000, 60000],
      [69999 + 14]
    ]) {
      expect(await run(NATIVE, SERVER, splitAt(bytes, cut))).toEqual(expected);
    }
    expect(await runBoth(SERVER, chunksOf(bytes, 1000))).toEqual(expected);
  });

  it('an empty close frame concludes with 1005 and an empty reason; later bytes are ignored', async () => {
    const bytes = frames(CLIENT, [
      { opcode: OP.CLOSE },
      { opcode: OP.TEXT, payload: 'after close' },
      { opcode: 3 }
    ]);
    expect(await runBoth(CLIENT, [bytes])).toEqual([
      ['conclude', 1005, ''],
      ['finish']
    ]);
  });

  it('a close frame with a code only', async () => {
    const bytes = frame(CLIENT, {
      opcode: OP.CLOSE,
      payload: closePayload(4000)
    });
    expect(await runBoth(CLIENT, [bytes])).toEqual([
      ['conclude', 4000, ''],
      ['finish']
    ]);
  });

  it('more events in one chunk than the native event area holds (3000 pings, then a message)', async () => {
    const list = [];
    for (let i = 0; i < 3000; i++)
      list.push({ opcode: OP.PING, payload: [i & 0xff] });
    list.push({ opcode: OP.TEXT, payload: 'last' });
    const events = await runBoth(CLIENT, [frames(CLIENT, list)]);

    expect(events).toHaveLength(3001);
    expect(events[2999]).toEqual([
      'ping',
      (2999 & 0xff).toString(16).padStart(2, '0')
    ]);
    expect(events[3000]).toEqual(['message', { Buffer: hex('last') }, false]);
  });

  it('skipUTF8Validation lets invalid text and close reasons through', async () => {
    const options = { ...CLIENT, skipUTF8Validation: true };
    const bytes = frames(CLIENT, [
      { opcode: OP.TEXT, payload: [0xff, 0xfe] },
      {
        opcode: OP.CLOSE,
        payload: Buffer.concat([closePayload(1000), Buffer.from([0xc0])])
      }
    ]);
    expect(await runBoth(options, [bytes])).toEqual([
      ['message', { Buffer: 'fffe' }, false],
      ['conclude', 1000, 'c0'],
      ['finish']
    ]);
  });
});

describe('Receiver: the fields code written for ws reads', () => {
  it('_maxPayload and _extensions are what the options gave, as in ws', () => {
    const extensions = { 'permessage-deflate': { params: {} } };
    const read = (Impl, options) => {
      const receiver = new Impl(options);
      return [receiver._maxPayload, receiver._extensions];
    };
    for (const options of [{ maxPayload: 20480, extensions }, {}]) {
      expect(read(Receiver, options)).toEqual(read(WsReceiver, options));
    }
  });
});

describe('Receiver: binaryType', () => {
  const bytes = frames(CLIENT, [
    { opcode: OP.BINARY, payload: [1, 2, 3] },
    { opcode: OP.BINARY }
  ]);

  it('nodebuffer, arraybuffer, blob and fragments of whole messages match ws', async () => {
    expect(
      await runBoth({ ...CLIENT, binaryType: 'nodebuffer' }, [bytes])
    ).toEqual([
      ['message', { Buffer: '010203' }, true],
      ['message', { Buffer: '' }, true]
    ]);
    expect(
      await runBoth({ ...CLIENT, binaryType: 'arraybuffer' }, [bytes])
    ).toEqual([
      ['message', { ArrayBuffer: '010203' }, true],
      ['message', { ArrayBuffer: '' }, true]
    ]);
    expect(
      await runBoth({ ...CLIENT, binaryType: 'fragments' }, [bytes])
    ).toEqual([
      ['message', { fragments: ['010203'] }, true],
      ['message', { fragments: [] }, true]
    ]);
    expect(await runBoth({ ...CLIENT, binaryType: 'blob' }, [bytes])).toEqual([
      ['message', { Blob: 3 }, true],
      ['message', { Blob: 0 }, true]
    ]);
  });

  it('an arraybuffer message owns exactly its bytes, also when it was a view of the chunk', async () => {
    const receiver = new Receiver({ binaryType: 'arraybuffer' });
    const received = [];
    receiver.on('message', (data) => received.push(data));
    receiver.write(
      frames(CLIENT, [
        { opcode: OP.TEXT, payload: 'x' },
        { opcode: OP.BINARY, payload: [9, 8, 7] },
        { opcode: OP.BINARY, payload: [1], fin: false },
        { opcode: OP.CONTINUATION, payload: [2] }
      ])
    );
    await settle();
    expect(received[1]).toBeInstanceOf(ArrayBuffer);
    expect(received[1].byteLength).toBe(3);
    expect([...new Uint8Array(received[1])]).toEqual([9, 8, 7]);
    expect([...new Uint8Array(received[2])]).toEqual([1, 2]);
  });

  it('a blob holds the message bytes', async () => {
    const receiver = new Receiver({ binaryType: 'blob' });
    const received = [];
    receiver.on('message', (data) => received.push(data));
    receiver.write(frame(CLIENT, { opcode: OP.BINARY, payload: [4, 5, 6] }));
    await settle();
    expect(Buffer.from(await received[0].arrayBuffer())).toEqual(
      Buffer.from([4, 5, 6])
    );
  });

  it('a fragmented message under "fragments" arrives as one reassembled part', async () => {
    const pieces = [
      frames(CLIENT, [
        { opcode: OP.BINARY, payload: [1], fin: false },
        { opcode: OP.CONTINUATION, payload: [2, 3] }
      ])
    ];
    expect(
      await run(NATIVE, { ...CLIENT, binaryType: 'fragments' }, pieces)
    ).toEqual([['message', { fragments: ['010203'] }, true]]);
  });

  it('follows _binaryType changes between messages', async () => {
    const receiver = new Receiver();
    const received = [];
    receiver.on('message', (data) => {
      received.push(data);
      receiver._binaryType = 'arraybuffer';
    });
    receiver.write(
      frames(CLIENT, [
        { opcode: OP.BINARY, payload: [1] },
        { opcode: OP.BINARY, payload: [2] }
      ])
    );
    await settle();
    expect(Buffer.isBuffer(received[0])).toBe(true);
    expect(received[1]).toBeInstanceOf(ArrayBuffer);
  });
});

describe('Receiver: errors (class, message, code, close status identical to ws)', () => {
  const TOO_BIG_64 = Buffer.from([0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0]); // 2^53
  const CASES = [
    ['RSV2 set', CLIENT, [{ opcode: OP.TEXT, payload: 'x', rsv2: true }]],
    ['RSV3 set on a control frame', CLIENT, [{ opcode: OP.PING, rsv3: true }]],
    [
      'RSV1 without permessage-deflate',
      CLIENT,
      [{ opcode: OP.TEXT, payload: 'x', rsv1: true }]
    ],
    ['RSV1 on a ping', CLIENT, [{ opcode: OP.PING, rsv1: true }]],
    ['a reserved data opcode (3)', CLIENT, [{ opcode: 3 }]],
    ['a reserved control opcode (11)', CLIENT, [{ opcode: 11 }]],
    [
      'a continuation with nothing to continue',
      CLIENT,
      [{ opcode: OP.CONTINUATION, payload: 'x' }]
    ],
    [
      'a new text frame inside a fragmented message',
      CLIENT,
      [
        { opcode: OP.TEXT, payload: 'a', fin: false },
        { opcode: OP.TEXT, payload: 'b' }
      ]
    ],
    ['a fragmented ping', CLIENT, [{ opcode: OP.PING, fin: false }]],
    [
      'a ping of 126 bytes',
      CLIENT,
      [{ opcode: OP.PING, payload: Buffer.alloc(126) }]
    ],
    ['a close payload of 1 byte', CLIENT, [{ opcode: OP.CLOSE, payload: [3] }]],
    [
      'an unmasked frame to a server',
      SERVER,
      [{ opcode: OP.TEXT, payload: 'x', mask: false }]
    ],
    [
      'a masked frame to a client',
      CLIENT,
      [{ opcode: OP.TEXT, payload: 'x', mask: true }]
    ],
    [
      'invalid UTF-8 text',
      CLIENT,
      [{ opcode: OP.TEXT, payload: [0x68, 0xc3, 0x28] }]
    ],
    [
      'invalid UTF-8 split over fragments',
      CLIENT,
      [
        { opcode: OP.TEXT, payload: [0xe2, 0x82], fin: false },
        { opcode: OP.CONTINUATION, payload: [0x41] }
      ]
    ],
    [
      'an invalid close code (1005)',
      CLIENT,
      [{ opcode: OP.CLOSE, payload: closePayload(1005) }]
    ],
    [
      'an invalid close code (2999)',
      CLIENT,
      [{ opcode: OP.CLOSE, payload: closePayload(2999) }]
    ],
    [
      'an invalid UTF-8 close reason',
      CLIENT,
      [
        {
          opcode: OP.CLOSE,
          payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])])
        }
      ]
    ],
    [
      'a message over maxPayload',
      { ...CLIENT, maxPayload: 10 },
      [{ opcode: OP.BINARY, payload: Buffer.alloc(11) }]
    ],
    [
      'fragments adding up over maxPayload',
      { ...CLIENT, maxPayload: 10 },
      [
        { opcode: OP.BINARY, payload: Buffer.alloc(6), fin: false },
        { opcode: OP.CONTINUATION, payload: Buffer.alloc(6) }
      ]
    ],
    [
      'more fragments than maxFragments',
      { ...CLIENT, maxFragments: 2 },
      [
        { opcode: OP.BINARY, payload: [1], fin: false },
        { opcode: OP.CONTINUATION, payload: [2], fin: false },
        { opcode: OP.CONTINUATION, payload: [3] }
      ]
    ]
  ];

  for (const [title, role, list] of CASES) {
    it(title, async () => {
      const bytes = frames(role, list);
      const expected = await run(WS, role, [bytes]);
      const errors = expected.filter(([name]) => name === 'error');

      expect(errors).toHaveLength(1);
      expect(await run(NATIVE, role, [bytes])).toEqual(expected);
      // The same fault is found wherever the input is cut.
      for (const pieces of everySplit(bytes)) {
        expect(await run(NATIVE, role, pieces)).toEqual(expected);
      }
    });
  }

  it('maxBufferedChunks: a message held over too many socket chunks', async () => {
    const bytes = frame(CLIENT, {
      opcode: OP.BINARY,
      payload: Buffer.alloc(10, 1)
    });

    for (const size of [1, 2, 3, 5]) {
      const events = await runBoth(
        { ...CLIENT, maxBufferedChunks: 2 },
        chunksOf(bytes, size)
      );
      expect(events).toEqual([
        [
          'error',
          {
            ctor: 'RangeError',
            message: 'Too many buffered chunks',
            code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS',
            status: 1008
          }
        ]
      ]);
    }
    expect(
      await runBoth({ ...CLIENT, maxBufferedChunks: 3 }, chunksOf(bytes, 5))
    ).toEqual([['message', { Buffer: '01'.repeat(10) }, true]]);
  });

  it('exact messages of a few faults', async () => {
    const first = async (role, list) =>
      (await run(NATIVE, role, [frames(role, list)]))[0][1];

    expect(await first(CLIENT, [{ opcode: 3 }])).toEqual({
      ctor: 'RangeError',
      message: 'Invalid WebSocket frame: invalid opcode 3',
      code: 'WS_ERR_INVALID_OPCODE',
      status: 1002
    });
    expect(await first(CLIENT, [{ opcode: OP.TEXT, payload: [0xff] }])).toEqual(
      {
        ctor: 'Error',
        message: 'Invalid WebSocket frame: invalid UTF-8 sequence',
        code: 'WS_ERR_INVALID_UTF8',
        status: 1007
      }
    );
    expect(
      await first({ ...CLIENT, maxPayload: 1 }, [
        { opcode: OP.TEXT, payload: 'ab' }
      ])
    ).toEqual({
      ctor: 'RangeError',
      message: 'Max payload size exceeded',
      code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      status: 1009
    });
    expect(
      await first(CLIENT, [{ opcode: OP.CLOSE, payload: closePayload(1006) }])
    ).toEqual({
      ctor: 'RangeError',
      message: 'Invalid WebSocket frame: invalid status code 1006',
      code: 'WS_ERR_INVALID_CLOSE_CODE',
      status: 1002
    });
  });

  it('a 64-bit length over 2^53 - 1', async () => {
    const events = await runBoth(CLIENT, [TOO_BIG_64]);
    expect(events).toEqual([
      [
        'error',
        {
          ctor: 'RangeError',
          message: 'Unsupported WebSocket frame: payload length > 2^53 - 1',
          code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
          status: 1009
        }
      ]
    ]);
  });

  it('emits the messages before the fault and nothing after it', async () => {
    const bytes = frames(CLIENT, [
      { opcode: OP.TEXT, payload: 'before' },
      { opcode: OP.TEXT, payload: 'bad', rsv2: true },
      { opcode: OP.TEXT, payload: 'after' }
    ]);
    const events = await runBoth(CLIENT, [
      bytes,
      frame(CLIENT, { opcode: OP.TEXT, payload: 'later' })
    ]);
    expect(events.map(([name]) => name)).toEqual(['message', 'error']);
    expect(events[0][1]).toEqual({ Buffer: hex('before') });
  });

  it('sets _writableState.errorEmitted, as ws does', async () => {
    const receiver = new Receiver();
    receiver.on('error', () => {});
    receiver.write(frame(CLIENT, { opcode: 3 }));
    await settle();
    expect(receiver._writableState.errorEmitted).toBe(true);
  });
});

describe('Receiver: allowSynchronousEvents', () => {
  /** Counts the events seen after the write and after each following setImmediate turn. */
  async function pacing(impl, options, bytes) {
    const receiver = makeReceiver(impl, options);
    const events = record(receiver);
    const counts = [];
    receiver.write(Buffer.from(bytes));
    counts.push(events.length);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      counts.push(events.length);
    }
    return { counts, events };
  }

  const bytes = frames(CLIENT, [
    { opcode: OP.TEXT, payload: 'a' },
    { opcode: OP.PING },
    { opcode: OP.BINARY, payload: [1] },
    { opcode: OP.CLOSE, payload: closePayload(1000) }
  ]);

  it('false: one message/ping/pong per tick, like ws', async () => {
    const options = { ...CLIENT, allowSynchronousEvents: false };
    const ours = await pacing(NATIVE, options, bytes);
    const theirs = await pacing(WS, options, bytes);

    expect(ours).toEqual(theirs);
    expect(ours.counts).toEqual([0, 1, 2, 5, 5, 5]);
  });

  it('true (default): everything in the chunk at once', async () => {
    const ours = await pacing(NATIVE, CLIENT, bytes);
    expect(ours.counts[0]).toBe(4);
    expect(ours).toEqual(await pacing(WS, CLIENT, bytes));
  });
});

describe('Receiver: destroyed from a handler', () => {
  it('keeps emitting the events already parsed from the chunk, like ws', async () => {
    const bytes = frames(CLIENT, [
      { opcode: OP.TEXT, payload: 'one' },
      { opcode: OP.BINARY, payload: [1], fin: false },
      { opcode: OP.CONTINUATION, payload: [2] },
      { opcode: OP.PING, payload: 'p' }
    ]);
    const results = [];
    for (const impl of IMPLS) {
      const receiver = makeReceiver(impl);
      const events = record(receiver);
      receiver.once('message', () => receiver.destroy());
      receiver.write(Buffer.from(bytes));
      receiver.write(frame(CLIENT, { opcode: OP.TEXT, payload: 'later' }));
      await settle();
      results.push(events);
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0].map(([name]) => name)).toEqual([
      'message',
      'message',
      'ping'
    ]);
  });
});

describe('Receiver: the shared native event area', () => {
  it('a handler that drives another receiver does not disturb the events being emitted', async () => {
    const outer = new Receiver();
    const inner = new Receiver();
    const innerEvents = record(inner);
    const received = [];

    outer.on('message', (data) => {
      received.push(data.toString());
      // Runs the other parser's execute() while `outer` still has events to emit.
      inner.write(
        frames(CLIENT, [
          { opcode: OP.BINARY, payload: [7, 7, 7, 7, 7, 7] },
          { opcode: OP.PING, payload: 'zz' }
        ])
      );
    });

    outer.write(
      frames(CLIENT, [
        { opcode: OP.TEXT, payload: 'one' },
        { opcode: OP.TEXT, payload: 't', fin: false },
        { opcode: OP.CONTINUATION, payload: 'wo' },
        { opcode: OP.TEXT, payload: 'three' }
      ])
    );
    await settle();

    expect(received).toEqual(['one', 'two', 'three']);
    expect(innerEvents.filter(([name]) => name === 'message')).toHaveLength(3);
  });
});

describe('Receiver: permessage-deflate (RFC 7692 §7.2.3 examples, against ws)', () => {
  const CLIENT_DEFLATE = { ...CLIENT, deflate: { params: {} } };

  it('§7.2.3.1 "Hello" compressed, in every split', async () => {
    const bytes = Buffer.from('c107f248cdc9c90700', 'hex');
    const expected = [['message', { Buffer: hex('Hello') }, false]];
    expect(await runBoth(CLIENT_DEFLATE, [bytes])).toEqual(expected);
    for (const pieces of everySplit(bytes)) {
      expect(await runBoth(CLIENT_DEFLATE, pieces)).toEqual(expected);
    }
  });

  it('§7.2.3.1 a compressed message in two fragments', async () => {
    const bytes = Buffer.from('4103f248cd' + '8004c9c90700', 'hex');
    const expected = [['message', { Buffer: hex('Hello') }, false]];
    for (const pieces of [[bytes], ...everySplit(bytes)]) {
      expect(await runBoth(CLIENT_DEFLATE, pieces)).toEqual(expected);
    }
  });

  it('§7.2.3.2 the second message refers back to the first (context takeover)', async () => {
    const bytes = Buffer.from('c107f248cdc9c90700' + 'c105f200110000', 'hex');
    const expected = [
      ['message', { Buffer: hex('Hello') }, false],
      ['message', { Buffer: hex('Hello') }, false]
    ];
    expect(await runBoth(CLIENT_DEFLATE, [bytes])).toEqual(expected);
  });

  it('§7.2.3.3 a stored (uncompressed) DEFLATE block', async () => {
    const bytes = Buffer.from('c10b000500faff48656c6c6f00', 'hex');
    expect(await runBoth(CLIENT_DEFLATE, [bytes])).toEqual([
      ['message', { Buffer: hex('Hello') }, false]
    ]);
  });

  it('a compressed binary message from a server with a 9-bit window and no context takeover', async () => {
    const payload = Buffer.alloc(5000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i % 700) & 0xff;
    const raw = zlib.deflateRawSync(payload, {
      windowBits: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH
    });
    const body = raw.subarray(0, raw.length - 4);
    const bytes = Buffer.concat([
      encodeFrame({ opcode: OP.BINARY, rsv1: true, payload: body }),
      encodeFrame({ opcode: OP.BINARY, rsv1: true, payload: body })
    ]);
    const options = {
      ...CLIENT,
      deflate: {
        params: { server_max_window_bits: 9, server_no_context_takeover: true }
      }
    };
    const expected = [
      ['message', { Buffer: payload.toString('hex') }, true],
      ['message', { Buffer: payload.toString('hex') }, true]
    ];
    expect(await runBoth(options, [bytes])).toEqual(expected);
    expect(await runBoth(options, chunksOf(bytes, 100))).toEqual(expected);
  });

  it('a decompression bomb stops at maxPayload with 1009', async () => {
    const raw = zlib.deflateRawSync(Buffer.alloc(1 << 20), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH
    });
    const bytes = encodeFrame({
      opcode: OP.BINARY,
      rsv1: true,
      payload: raw.subarray(0, raw.length - 4)
    });
    const options = { ...CLIENT, maxPayload: 1000, deflate: { params: {} } };
    const events = await runBoth(options, [bytes]);
    expect(events).toEqual([
      [
        'error',
        {
          ctor: 'RangeError',
          message: 'Max payload size exceeded',
          code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
          status: 1009
        }
      ]
    ]);
  });

  it('corrupt compressed data fails with 1007 and zlib’s error code', async () => {
    const bytes = encodeFrame({
      opcode: OP.TEXT,
      rsv1: true,
      payload: [0xff, 0xff, 0xff, 0xff]
    });
    const ours = await run(NATIVE, CLIENT_DEFLATE, [bytes]);
    const theirs = await run(WS, CLIENT_DEFLATE, [bytes]);
    const strip = (events) =>
      events.map(([name, info]) => [name, info.ctor, info.code, info.status]);

    expect(strip(ours)).toEqual(strip(theirs));
    expect(strip(ours)).toEqual([['error', 'Error', 'Z_DATA_ERROR', 1007]]);
  });

  it('RSV1 on a continuation frame is a protocol error even with the extension', async () => {
    const bytes = Buffer.concat([
      encodeFrame({
        opcode: OP.TEXT,
        rsv1: true,
        fin: false,
        payload: Buffer.from('f248cd', 'hex')
      }),
      encodeFrame({
        opcode: OP.CONTINUATION,
        rsv1: true,
        payload: Buffer.from('c9c90700', 'hex')
      })
    ]);
    const events = await runBoth(CLIENT_DEFLATE, [bytes]);
    expect(events[0][1].code).toBe('WS_ERR_UNEXPECTED_RSV_1');
  });
});

/** RFC 7692 §7.2.1: raw deflate, sync flush, the 4-byte tail removed. */
function deflateMessage(data) {
  const raw = zlib.deflateRawSync(data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH
  });
  return raw.subarray(0, raw.length - 4);
}

describe('Receiver: a large compressed message is inflated in slices', () => {
  const CLIENT_DEFLATE = { ...CLIENT, deflate: { params: {} } };
  const SERVER_DEFLATE = { ...SERVER, deflate: { params: {} } };
  const big = wordText(4 * 1024 * 1024);
  const packed = deflateMessage(big);

  /**
   * Writes `pieces` all at once (as a socket delivering them back to back would), counting the
   * setImmediate turns that run until `count` events were recorded.
   */
  async function writeAndCount(impl, options, pieces, count) {
    const receiver = makeReceiver(impl, options);
    const events = record(receiver);
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const returned = pieces.map((piece) => receiver.write(Buffer.from(piece)));
    const synchronous = events.length;
    while (events.length < count) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    spinning = false;
    await settle();
    return { events, turns, synchronous, returned, receiver };
  }

  const summary = (events) =>
    events.map((event) =>
      event[0] === 'message' && event[1].Buffer.length > 200
        ? [
            event[0],
            event[1].Buffer === big.toString('hex') ? 'big' : 'corrupt'
          ]
        : event
    );

  for (const [label, options] of [
    ['client', CLIENT_DEFLATE],
    ['server', SERVER_DEFLATE]
  ]) {
    it(`as ${label}: other immediates run between slices; events and order match ws`, async () => {
      const bytes = frames(options, [
        { opcode: OP.TEXT, rsv1: true, payload: packed },
        { opcode: OP.PING, payload: 'after' },
        { opcode: OP.BINARY, payload: [1, 2, 3] }
      ]);
      const ours = await writeAndCount(NATIVE, options, [bytes], 3);
      const theirs = await writeAndCount(WS, options, [bytes], 3);
      expect(ours.events).toEqual(theirs.events);
      expect(summary(ours.events)).toEqual([
        ['message', 'big'],
        ['ping', hex('after')],
        ['message', { Buffer: '010203' }, true]
      ]);
      // Nothing was emitted inside write(); 4 MiB in 256 KiB slices left the loop about 15 times.
      expect(ours.synchronous).toBe(0);
      expect(ours.turns).toBeGreaterThanOrEqual(8);
    });
  }

  it('chunks written while a message is mid-slice wait their turn (backpressure) and keep their order', async () => {
    const second = deflateMessage(Buffer.from('second, compressed'));
    const pieces = [
      frame(CLIENT, { opcode: OP.BINARY, rsv1: true, payload: packed }),
      frames(CLIENT, [
        { opcode: OP.PONG, payload: 'p' },
        { opcode: OP.TEXT, payload: 'plain' }
      ]),
      frame(CLIENT, { opcode: OP.TEXT, rsv1: true, payload: second }),
      frame(CLIENT, { opcode: OP.CLOSE, payload: closePayload(1000, 'end') })
    ];
    const ours = await writeAndCount(NATIVE, CLIENT_DEFLATE, pieces, 5);
    const theirs = await writeAndCount(WS, CLIENT_DEFLATE, pieces, 5);
    expect(ours.events.slice(0, 5)).toEqual(theirs.events.slice(0, 5));
    expect(summary(ours.events).slice(0, 5)).toEqual([
      ['message', 'big'],
      ['pong', hex('p')],
      ['message', { Buffer: hex('plain') }, false],
      ['message', { Buffer: hex('second, compressed') }, false],
      ['conclude', 1000, hex('end')]
    ]);
    // The first chunk alone is over the Writable's highWaterMark: the socket would be paused.
    expect(ours.returned[0]).toBe(false);
    expect(ours.turns).toBeGreaterThanOrEqual(8);
  });

  it('a message arriving in 64 KiB writes is sliced too (the budget spans writes) and arrives intact', async () => {
    const bytes = frame(SERVER, {
      opcode: OP.TEXT,
      rsv1: true,
      payload: packed
    });
    const ours = await writeAndCount(
      NATIVE,
      SERVER_DEFLATE,
      chunksOf(bytes, 64 * 1024),
      1
    );
    expect(summary(ours.events)).toEqual([['message', 'big']]);
    expect(ours.synchronous).toBe(0);
    expect(ours.turns).toBeGreaterThanOrEqual(8);
  });

  it('allowSynchronousEvents: false keeps one event per tick around the slices, like ws', async () => {
    const options = { ...CLIENT_DEFLATE, allowSynchronousEvents: false };
    const bytes = frames(CLIENT, [
      { opcode: OP.PING, payload: 'before' },
      { opcode: OP.BINARY, rsv1: true, payload: packed },
      { opcode: OP.PING, payload: 'after' },
      { opcode: OP.TEXT, payload: 'last' }
    ]);
    const ours = await writeAndCount(NATIVE, options, [bytes], 4);
    const theirs = await writeAndCount(WS, options, [bytes], 4);
    expect(ours.events).toEqual(theirs.events);
    expect(summary(ours.events)).toEqual([
      ['ping', hex('before')],
      ['message', 'big'],
      ['ping', hex('after')],
      ['message', { Buffer: hex('last') }, false]
    ]);
  });

  it('destroy() between two slices stops the work: no message, no error, the write completes', async () => {
    const receiver = makeReceiver(NATIVE, CLIENT_DEFLATE);
    const events = record(receiver);
    let written = false;
    receiver.write(
      frame(CLIENT, { opcode: OP.BINARY, rsv1: true, payload: packed }),
      () => {
        written = true;
      }
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(receiver._parser).not.toBe(null);
    receiver.destroy();
    await settle(8);
    expect(events).toEqual([]);
    expect(receiver.destroyed).toBe(true);
    expect(written).toBe(true);
  });

  it('a decompression bomb still fails at maxPayload with 1009, as in ws', async () => {
    // 64 MiB of zeros in about 64 KiB; the limit is many slices away.
    const bomb = deflateMessage(Buffer.alloc(64 * 1024 * 1024));
    const options = { ...CLIENT_DEFLATE, maxPayload: 8 * 1024 * 1024 };
    const bytes = frame(CLIENT, {
      opcode: OP.BINARY,
      rsv1: true,
      payload: bomb
    });
    const events = await runBoth(options, [bytes]);
    expect(events).toEqual([
      [
        'error',
        {
          ctor: 'RangeError',
          message: 'Max payload size exceeded',
          code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
          status: 1009
        }
      ]
    ]);
  });
});

describe('errors.protocolError: statuses frames alone cannot reach here', () => {
  it('an inflate failure carries the zlib code (sent as a uint32) like Node’s zlib errors', () => {
    const dataError = protocolError(STATUS.INFLATE_FAILED, 0xfffffffd);
    expect(dataError).toBeInstanceOf(Error);
    expect([dataError.code, dataError.errno, dataError[kStatusCode]]).toEqual([
      'Z_DATA_ERROR',
      -3,
      1007
    ]);
    const bufError = protocolError(STATUS.INFLATE_FAILED, 0xfffffffb);
    expect([bufError.message, bufError.code, bufError.errno]).toEqual([
      'unexpected end of file',
      'Z_BUF_ERROR',
      -5
    ]);
    // No code reported: a data error.
    expect(protocolError(STATUS.INFLATE_FAILED, 0).code).toBe('Z_DATA_ERROR');
  });

  it('out of memory closes with 1011; an unknown status too, naming it', () => {
    const oom = protocolError(STATUS.OUT_OF_MEMORY, 0);
    expect([oom.constructor.name, oom[kStatusCode]]).toEqual([
      'RangeError',
      1011
    ]);
    const unknown = protocolError(200, 0);
    expect(unknown.message).toBe('Unknown WebSocket engine status 200');
    expect(unknown[kStatusCode]).toBe(1011);
  });

  it('the two TOO_MANY_BUFFERED_PARTS limits keep ws’s two messages', () => {
    expect(protocolError(STATUS.TOO_MANY_BUFFERED_PARTS, 0).message).toBe(
      'Too many message fragments'
    );
    expect(protocolError(STATUS.TOO_MANY_BUFFERED_PARTS, 1).message).toBe(
      'Too many buffered chunks'
    );
  });
});

describe('FrameReader (what a WebSocket reads with)', () => {
  /** A reader whose sink records every report in order. */
  function makeReader(options = {}) {
    const reports = [];
    const record =
      (name) =>
      (owner, ...args) =>
        reports.push([
          name,
          ...args.map((arg) => (Buffer.isBuffer(arg) ? arg.toString() : arg))
        ]);
    const sink = {
      conclude: record('conclude'),
      drain: record('drain'),
      error: (owner, err) => reports.push(['error', err.message]),
      finish: record('finish'),
      message: record('message'),
      ping: record('ping'),
      pong: record('pong')
    };
    const reader = new FrameReader(sink, 'owner', {
      isServer: true,
      ...options
    });
    return { reader, reports };
  }

  it('reports messages, then finish on the tick after end()', async () => {
    const { reader, reports } = makeReader();
    expect(
      reader.write(frame(SERVER, { opcode: OP.TEXT, payload: 'hi' }))
    ).toBe(true);
    reader.end();
    expect(reports).toEqual([['message', 'hi', false]]);
    expect(reader.finished).toBe(false);
    await settle(1);
    expect(reports).toEqual([['message', 'hi', false], ['finish']]);
    expect(reader.finished).toBe(true);
  });

  it('reports the close frame and finishes; later writes are refused', async () => {
    const { reader, reports } = makeReader();
    reader.write(
      frames(SERVER, [
        { opcode: OP.CLOSE, payload: closePayload(1000, 'bye') },
        { opcode: OP.TEXT, payload: 'after' }
      ])
    );
    expect(reader.write(frame(SERVER, { opcode: OP.TEXT, payload: 'x' }))).toBe(
      false
    );
    await settle();
    expect(reports).toEqual([['conclude', 1000, 'bye'], ['finish']]);
  });

  it('reports a protocol error once, on the next tick, and never finishes', async () => {
    const { reader, reports } = makeReader();
    reader.write(frame(SERVER, { opcode: 3 }));
    expect(reader.errorEmitted).toBe(false);
    expect(reader.write(frame(SERVER, { opcode: 3 }))).toBe(false);
    reader.end();
    await settle();
    expect(reports).toEqual([
      ['error', 'Invalid WebSocket frame: invalid opcode 3']
    ]);
    expect(reader.errorEmitted).toBe(true);
    expect(reader.finished).toBe(false);
  });

  it('queues chunks behind a deferred event: false at 16 KiB, then drain', async () => {
    const { reader, reports } = makeReader({ allowSynchronousEvents: false });
    const big = 'x'.repeat(10 * 1024);
    expect(
      reader.write(
        frames(SERVER, [
          { opcode: OP.TEXT, payload: 'a' },
          { opcode: OP.TEXT, payload: 'b' }
        ])
      )
    ).toBe(true);
    expect(reader.write(frame(SERVER, { opcode: OP.TEXT, payload: big }))).toBe(
      true
    );
    expect(reader.write(frame(SERVER, { opcode: OP.TEXT, payload: big }))).toBe(
      false
    );
    expect(reader.needDrain).toBe(true);
    await settle(8);
    expect(reports.map(([name, data]) => [name, data && data.length])).toEqual([
      ['message', 1],
      ['message', 1],
      ['message', big.length],
      ['message', big.length],
      ['drain', undefined]
    ]);
    expect(reader.needDrain).toBe(false);
  });

  it('parses 50 000 one-byte chunks queued behind a deferred event without recursion', async () => {
    const { reader, reports } = makeReader({ allowSynchronousEvents: false });
    reader.write(
      frames(SERVER, [
        { opcode: OP.TEXT, payload: 'a' },
        { opcode: OP.TEXT, payload: 'b' }
      ])
    );
    const payload = 'y'.repeat(50000 - 8);
    const bytes = frame(SERVER, { opcode: OP.TEXT, payload });
    expect(bytes.length).toBe(50000);
    for (let i = 0; i < bytes.length; i++)
      reader.write(bytes.subarray(i, i + 1));
    await settle(8);
    expect(reports.map(([name, data]) => [name, data && data.length])).toEqual([
      ['message', 1],
      ['message', 1],
      ['message', payload.length],
      ['drain', undefined]
    ]);
  });

  it('reports nothing after detach(), even an event held for the next tick', async () => {
    const { reader, reports } = makeReader({ allowSynchronousEvents: false });
    reader.write(
      frames(SERVER, [
        { opcode: OP.TEXT, payload: 'a' },
        { opcode: OP.TEXT, payload: 'b' }
      ])
    );
    await settle(1);
    expect(reports).toEqual([['message', 'a', false]]);
    reader.detach();
    reader.end();
    await settle();
    expect(reports).toEqual([['message', 'a', false]]);
  });
});
