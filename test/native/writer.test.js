// Binding-level tests of the frame writer (RFC 6455 §5.2): the §5.7 example frames byte for byte,
// length encodings, masking with a given or a fresh CSPRNG key, argument checks, close payloads
// with ws's error messages, and differential checks against ws's own Sender.

import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { RFC_MASK_KEY, frame as referenceFrame } from '../helpers/frames.js';
import { UNLIMITED_SERVER_PARSER } from '../helpers/parser-options.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const binding = require(path.join(ROOT, 'lib', 'binding.js'));
const {
  FIN,
  RSV1,
  MASK,
  frame,
  frameHeader,
  closePayload,
  FrameParser,
  parserEvents
} = binding;
const { Sender } = require('ws');

const KEY = Buffer.from(RFC_MASK_KEY);
const bytes = (...values) => Buffer.from(values);
const maskedHex = (data, key) =>
  Buffer.from(data.map((byte, i) => byte ^ key[i & 3])).toString('hex');

/**
 * Expects two byte sequences to be equal; cheaper than a deep toEqual on large Buffers, and names
 * the first differing offset.
 *
 * @param {Uint8Array} actual
 * @param {Uint8Array} expected
 */
function expectBytes(actual, expected) {
  expect(actual.length).toBe(expected.length);
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.length);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.length);
  if (!a.equals(b)) {
    let i = 0;
    while (a[i] === b[i]) i++;
    expect(a[i], `first difference at byte ${i}`).toBe(b[i]);
  }
}

/**
 * ws's Sender.frame() output for the same frame, joined into one Buffer.
 *
 * @param {Buffer} data
 * @param {Object} options
 * @return {Buffer}
 */
function wsFrame(data, { opcode, fin, rsv1, maskKey }) {
  const parts = Sender.frame(Buffer.from(data), {
    fin,
    rsv1,
    opcode,
    mask: maskKey !== undefined,
    maskBuffer: maskKey !== undefined ? Buffer.from(maskKey) : undefined,
    generateMask: () => {},
    readOnly: false
  });
  return Buffer.concat(parts);
}

describe('flags', () => {
  it('exports FIN, RSV1 and MASK as binding.d.ts declares', () => {
    expect([FIN, RSV1, MASK]).toEqual([1, 2, 4]);
  });
});

describe('RFC 6455 §5.7 examples, byte for byte', () => {
  it('unmasked and masked "Hello"', () => {
    expect(frame(Buffer.from('Hello'), 1, FIN)).toEqual(
      bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f)
    );
    expect(frame(Buffer.from('Hello'), 1, FIN | MASK, KEY)).toEqual(
      bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58)
    );
  });

  it('a fragmented "Hel" + "lo"', () => {
    expect(frame(Buffer.from('Hel'), 1, 0)).toEqual(
      bytes(0x01, 0x03, 0x48, 0x65, 0x6c)
    );
    expect(frame(Buffer.from('lo'), 0, FIN)).toEqual(
      bytes(0x80, 0x02, 0x6c, 0x6f)
    );
  });

  it('an unmasked ping and a masked pong', () => {
    expect(frame(Buffer.from('Hello'), 9, FIN)).toEqual(
      bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f)
    );
    expect(frame(Buffer.from('Hello'), 10, FIN | MASK, KEY)).toEqual(
      bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58)
    );
  });

  it('256 bytes (16-bit length) and 65536 bytes (64-bit length)', () => {
    const data256 = Buffer.alloc(256, 0xab);
    const out256 = frame(data256, 2, FIN);
    expect(out256.subarray(0, 4)).toEqual(bytes(0x82, 0x7e, 0x01, 0x00));
    expect(out256.subarray(4)).toEqual(data256);
    const data64k = Buffer.alloc(65536).map((_, i) => i);
    const out64k = frame(data64k, 2, FIN);
    expect(out64k.subarray(0, 10)).toEqual(
      bytes(0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00)
    );
    expectBytes(out64k.subarray(10), data64k);
    expect(frameHeader(256, 2, FIN)).toEqual(bytes(0x82, 0x7e, 0x01, 0x00));
    expect(frameHeader(65536, 2, FIN)).toEqual(
      bytes(0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00)
    );
  });
});

describe('frame() against ws Sender.frame() and the reference builder', () => {
  const sizes = [0, 1, 5, 125, 126, 127, 1000, 65535, 65536, 70000];
  for (const size of sizes) {
    it(`${size} bytes, every opcode/flag combination, masked and not`, () => {
      const data = Buffer.alloc(size).map((_, i) => (i * 17 + 3) & 0xff);
      for (const opcode of [0, 1, 2, 8, 9, 10]) {
        if (opcode >= 8 && size > 125) continue;
        for (const flags of [0, FIN, RSV1, FIN | RSV1]) {
          const fin = (flags & FIN) !== 0;
          const rsv1 = (flags & RSV1) !== 0;
          const key = [size & 0xff, 0x11, 0x80, 0xfe];
          const plain = frame(data, opcode, flags);
          expectBytes(plain, wsFrame(data, { opcode, fin, rsv1 }));
          expectBytes(
            plain,
            referenceFrame({ opcode, fin, rsv1, payload: data })
          );
          const masked = frame(data, opcode, flags | MASK, Buffer.from(key));
          expectBytes(
            masked,
            wsFrame(data, { opcode, fin, rsv1, maskKey: key })
          );
          expectBytes(
            masked,
            referenceFrame({ opcode, fin, rsv1, payload: data, mask: key })
          );
          const header = frameHeader(
            size,
            opcode,
            flags | MASK,
            Buffer.from(key)
          );
          expectBytes(header, masked.subarray(0, header.length));
        }
      }
    });
  }

  it('never changes its input and always returns a new Buffer', () => {
    const data = Buffer.from('unchanged');
    const out = frame(data, 1, FIN | MASK, KEY);
    expect(data.toString()).toBe('unchanged');
    // A new Buffer (small ones may share Node's allocation pool, as Buffer.allocUnsafe's do), not
    // overlapping the input: writing all of it leaves the input alone.
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out).not.toBe(data);
    out.fill(0);
    expect(data.toString()).toBe('unchanged');
    const again = frame(data, 1, FIN | MASK, KEY);
    expect(again).not.toBe(out);
    expect(again.toString('hex')).toBe(
      '8189' + KEY.toString('hex') + maskedHex(data, KEY)
    );
    const empty = frame(Buffer.alloc(0), 2, FIN);
    expect(empty).toEqual(bytes(0x82, 0x00));
  });

  it('reads a Uint8Array view at its offset', () => {
    const backing = new Uint8Array([9, 9, 0x61, 0x62, 9]);
    expect(frame(backing.subarray(2, 4), 1, FIN)).toEqual(
      bytes(0x81, 0x02, 0x61, 0x62)
    );
  });
});

describe('output Buffers', () => {
  it('are allocated with the Buffer.allocUnsafe seen at load, not a replacement', () => {
    const original = Buffer.allocUnsafe;
    Buffer.allocUnsafe = () => Buffer.alloc(1);
    try {
      expect(frame(Buffer.from('Hello'), 1, FIN)).toEqual(
        bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f)
      );
      expect(frameHeader(5, 1, FIN)).toEqual(bytes(0x81, 0x05));
      expect(closePayload(1000)).toEqual(bytes(0x03, 0xe8));
    } finally {
      Buffer.allocUnsafe = original;
    }
  });
});

describe('masking with a fresh CSPRNG key (RFC 6455 §5.3)', () => {
  it('writes a key per frame and masks the payload with it', () => {
    const data = Buffer.from('a masked payload, longer than one key');
    const keys = new Set();
    for (let i = 0; i < 16; i++) {
      const out = frame(data, 1, FIN | MASK);
      expect(out.length).toBe(2 + 4 + data.length);
      expect(out[1]).toBe(0x80 | data.length);
      const key = out.subarray(2, 6);
      keys.add(key.toString('hex'));
      const unmasked = out.subarray(6).map((byte, j) => byte ^ key[j & 3]);
      expect(Buffer.from(unmasked)).toEqual(data);
    }
    // 16 draws of 32 random bits: a repeat here would mean the key is not fresh.
    expect(keys.size).toBe(16);
  });

  it('the parser reads what the writer wrote', () => {
    const parser = new FrameParser(UNLIMITED_SERVER_PARSER);
    const payloads = [0, 1, 125, 126, 65535, 65536].map((size) =>
      Buffer.alloc(size).map((_, i) => (i * 31) & 0xff)
    );
    const chunk = Buffer.concat([
      ...payloads.map((payload) => frame(payload, 2, FIN | MASK)),
      frame(closePayload(3000, Buffer.from('done')), 8, FIN | MASK)
    ]);
    const count = parser.execute(chunk, 0);
    expect(count).toBe(payloads.length + 1);
    expect(parserEvents[2]).toBe(0);
    payloads.forEach((payload, i) => {
      const [opcode, offset, length] = parserEvents.subarray(
        4 + 4 * i,
        7 + 4 * i
      );
      expect(opcode).toBe(2);
      expectBytes(chunk.subarray(offset, offset + length), payload);
    });
    const base = 4 + 4 * payloads.length;
    expect(parserEvents[base]).toBe(8);
    expect(parserEvents[base + 3]).toBe(3000);
    const reason = chunk.subarray(
      parserEvents[base + 1],
      parserEvents[base + 1] + 4
    );
    expect(reason.toString()).toBe('done');
  });
});

describe('frameHeader()', () => {
  it('encodes each length in the shortest form (§5.2)', () => {
    const cases = [
      [0, '0200'],
      [125, '027d'],
      [126, '027e007e'],
      [65535, '027effff'],
      [65536, '027f0000000000010000'],
      [2 ** 32, '027f0000000100000000'],
      [2 ** 53 - 1, '027f001fffffffffffff']
    ];
    for (const [length, expected] of cases) {
      expect(frameHeader(length, 2, 0).toString('hex')).toBe(expected);
    }
    expect(frameHeader(3, 1, FIN | RSV1 | MASK, KEY).toString('hex')).toBe(
      'c18337fa213d'
    );
  });

  it('with MASK and no key, the key it drew is in the header', () => {
    const header = frameHeader(70000, 2, FIN | MASK);
    expect(header.length).toBe(14);
    expect(header[1]).toBe(0xff);
  });

  it('rejects lengths that are not integers in 0..2^53-1', () => {
    for (const length of [-1, 0.5, 2 ** 53, Infinity, NaN]) {
      expect(() => frameHeader(length, 2, FIN)).toThrow(RangeError);
    }
    expect(() => frameHeader('1', 2, FIN)).toThrow(TypeError);
    expect(() => frameHeader(126, 9, FIN)).toThrow(
      new RangeError('The data size must not be greater than 125 bytes')
    );
  });
});

describe('argument checks', () => {
  it('rejects a bad payload, opcode, flags or mask key', () => {
    const data = Buffer.from('x');
    expect(() => frame('x', 1, FIN)).toThrow(TypeError);
    expect(() => frame([1], 1, FIN)).toThrow(TypeError);
    expect(() => frame(data, '1', FIN)).toThrow(TypeError);
    expect(() => frame(data, 16, FIN)).toThrow(RangeError);
    expect(() => frame(data, -1, FIN)).toThrow(RangeError);
    expect(() => frame(data, 1.5, FIN)).toThrow(RangeError);
    expect(() => frame(data, 1, 8)).toThrow(RangeError);
    expect(() => frame(data, 1, '1')).toThrow(TypeError);
    expect(() => frame(data, 1, FIN | MASK, Buffer.alloc(3))).toThrow(
      RangeError
    );
    expect(() => frame(data, 1, FIN | MASK, 'abcd')).toThrow(TypeError);
  });

  it("control frames carry at most 125 bytes, with ws's message", () => {
    expect(frame(Buffer.alloc(125), 9, FIN).length).toBe(127);
    for (const opcode of [8, 9, 10]) {
      expect(() => frame(Buffer.alloc(126), opcode, FIN)).toThrow(
        new RangeError('The data size must not be greater than 125 bytes')
      );
    }
  });
});

describe('closePayload() (ws Sender#close checks and messages)', () => {
  /**
   * What ws's Sender#close puts on the wire as the close body, or the error it throws.
   *
   * @param {number} code
   * @param {Buffer} reason
   * @return {(Buffer|Error)}
   */
  function wsClose(code, reason) {
    const written = [];
    const socket = {
      cork() {},
      uncork() {},
      write(chunk) {
        written.push(Buffer.from(chunk));
        return true;
      }
    };
    const sender = new Sender(socket);
    try {
      sender.close(code, reason, false);
    } catch (error) {
      return error;
    }
    const wire = Buffer.concat(written);
    return wire.subarray(2);
  }

  /**
   * Ours, in the same shape.
   *
   * @param {number} code
   * @param {Buffer} reason
   * @return {(Buffer|Error)}
   */
  function ourClose(code, reason) {
    try {
      return closePayload(code, reason);
    } catch (error) {
      return error;
    }
  }

  const reasons = [
    Buffer.alloc(0),
    Buffer.from('bye'),
    Buffer.alloc(123, 0x61),
    Buffer.alloc(124, 0x61)
  ];
  const codes = [
    0,
    999,
    1000,
    1001,
    1003,
    1004,
    1005,
    1006,
    1007,
    1011,
    1014,
    1015,
    1016,
    2999,
    3000,
    4000,
    4999,
    5000,
    65535,
    1000.5,
    NaN,
    -1000
  ];

  for (const code of codes) {
    it(`code ${code}: same bytes or same error as ws, for each reason length`, () => {
      for (const reason of reasons) {
        const expected = wsClose(code, reason);
        const actual = ourClose(code, reason);
        if (expected instanceof Error) {
          expect(actual).toBeInstanceOf(expected.constructor);
          expect(actual.message).toBe(expected.message);
        } else {
          expect(actual).toEqual(expected);
        }
      }
    });
  }

  it("a non-number code is a TypeError with ws's message", () => {
    for (const code of ['1000', null, {}, 1000n]) {
      expect(() => closePayload(code, Buffer.alloc(0))).toThrow(
        new TypeError('First argument must be a valid error code number')
      );
    }
  });

  it('the reason must be a Uint8Array of UTF-8 text (an undefined reason is empty)', () => {
    expect(closePayload(1000)).toEqual(bytes(0x03, 0xe8));
    expect(closePayload(1000, new Uint8Array([0xc3, 0xa9]))).toEqual(
      bytes(0x03, 0xe8, 0xc3, 0xa9)
    );
    expect(() => closePayload(1000, 'bye')).toThrow(TypeError);
    expect(() => closePayload(1000, Buffer.from([0xff]))).toThrow(
      new TypeError('The message must be valid UTF-8')
    );
  });
});
