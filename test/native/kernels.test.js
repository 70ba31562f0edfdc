// Binding-level tests of the masking kernels (RFC 6455 §5.3), ISA dispatch and the CSPRNG
// pool: every ISA the CPU runs against a JS reference, and mask/unmask against bufferutil.

import { isUtf8 } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { types } from 'node:util';

import { describe, expect, it } from 'vitest';

import { makeRandom } from '../helpers/random.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const binding = require(path.join(ROOT, 'lib', 'binding.js'));
const bufferUtil = require('bufferutil');

const ALL_ISAS = ['scalar', 'sse2', 'avx2'];
const { available } = binding.kernelInfo();

function randomBuffer(next, length) {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buffer[i] = next() & 0xff;
  return buffer;
}

// RFC 6455 §5.3: octet i is XORed with key octet (phase + i) mod 4.
function referenceMask(bytes, key, phase) {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) out[i] ^= key[(phase + i) & 3];
  return out;
}

// Runs `code` in a fresh Node process with the given environment (the kernel table is chosen
// once per process) and returns its stdout.
function runChild(code, env) {
  const result = spawnSync(process.execPath, ['-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8'
  });
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return result.stdout.trim();
}

describe('kernelInfo and WSN_FORCE_ISA', () => {
  it('reports the dispatched ISA among the available ones, scalar always available', () => {
    const info = binding.kernelInfo();
    expect(ALL_ISAS).toContain(info.isa);
    expect(info.available).toContain('scalar');
    expect(info.available).toContain(info.isa);
    for (const isa of info.available) expect(ALL_ISAS).toContain(isa);
    // The default is the fastest ISA the CPU has.
    expect(info.isa).toBe(info.available[info.available.length - 1]);
  });

  it('WSN_FORCE_ISA selects each available ISA, and an unknown name is ignored', () => {
    const code =
      `const b = require(${JSON.stringify(path.join(ROOT, 'lib', 'binding.js'))});` +
      'process.stdout.write(b.kernelInfo().isa);';
    for (const isa of available) {
      expect(runChild(code, { WSN_FORCE_ISA: isa })).toBe(isa);
    }
    const best = available[available.length - 1];
    expect(runChild(code, { WSN_FORCE_ISA: 'avx512' })).toBe(best);
    expect(runChild(code, { WSN_FORCE_ISA: '' })).toBe(best);
  });
});

describe('maskWith: every ISA against the JS reference', () => {
  for (const isa of available) {
    it(`${isa}: lengths 0-300 x key phases 0-3 x offsets 0-15, bytes outside untouched`, () => {
      const next = makeRandom(0x5eed + isa.length);
      const guard = 16;
      const failures = [];
      for (let length = 0; length <= 300; length++) {
        for (let phase = 0; phase < 4; phase++) {
          for (let offset = 0; offset < 16; offset++) {
            const key = randomBuffer(next, 4);
            const backing = randomBuffer(next, offset + length + guard);
            const before = Buffer.from(backing);
            const window = backing.subarray(offset, offset + length);
            const returned = binding.maskWith(isa, window, key, phase);
            const expected = Buffer.concat([
              before.subarray(0, offset),
              referenceMask(
                before.subarray(offset, offset + length),
                key,
                phase
              ),
              before.subarray(offset + length)
            ]);
            if (
              !backing.equals(expected) ||
              returned !== ((phase + length) & 3)
            ) {
              failures.push({ length, phase, offset, returned });
            }
          }
        }
      }
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }

  it('every ISA gives the same bytes on large buffers, and masking twice restores them', () => {
    const next = makeRandom(7);
    for (const length of [4096, 65536 + 3, 1048576 + 13]) {
      const original = randomBuffer(next, length);
      const key = randomBuffer(next, 4);
      const expected = referenceMask(original, key, 1);
      for (const isa of available) {
        const copy = Buffer.from(original);
        expect(binding.maskWith(isa, copy, key, 1)).toBe((1 + length) & 3);
        expect(copy.equals(expected)).toBe(true);
        binding.maskWith(isa, copy, key, 1);
        expect(copy.equals(original)).toBe(true);
      }
    }
  });

  it('a payload masked in pieces, resuming at the returned phase, equals one call', () => {
    const next = makeRandom(8);
    const payload = randomBuffer(next, 2000);
    const key = randomBuffer(next, 4);
    const expected = referenceMask(payload, key, 0);
    for (const isa of available) {
      const copy = Buffer.from(payload);
      let phase = 0;
      for (let at = 0; at < copy.length;) {
        const piece = Math.min(1 + (next() % 97), copy.length - at);
        phase = binding.maskWith(
          isa,
          copy.subarray(at, at + piece),
          key,
          phase
        );
        at += piece;
      }
      expect(phase).toBe(0);
      expect(copy.equals(expected)).toBe(true);
    }
  });

  it('uses only the first 4 bytes of a longer key', () => {
    const key = Buffer.from([1, 2, 3, 4, 0xff, 0xff]);
    for (const isa of available) {
      const data = Buffer.alloc(9);
      binding.maskWith(isa, data, key, 0);
      expect([...data]).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1]);
    }
  });
});

describe('mask and unmask: the same bytes as bufferutil', () => {
  it('mask(source, key, output, offset, length) for lengths 0-300 and offsets 0-15', () => {
    const next = makeRandom(11);
    const failures = [];
    for (let length = 0; length <= 300; length++) {
      for (let offset = 0; offset < 16; offset++) {
        const key = randomBuffer(next, 4);
        // The source is a view at an odd place in a larger buffer, not at its start.
        const sourceOffset = next() % 8;
        const source = randomBuffer(next, sourceOffset + length + 5).subarray(
          sourceOffset,
          sourceOffset + length
        );
        const sourceBefore = Buffer.from(source);
        const ours = randomBuffer(next, offset + length + 7);
        const theirs = Buffer.from(ours);
        binding.mask(source, key, ours, offset, length);
        bufferUtil.mask(source, key, theirs, offset, length);
        if (!ours.equals(theirs) || !source.equals(sourceBefore)) {
          failures.push({ length, offset });
        }
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('mask of a prefix of the source (length < source.length), as ws calls it', () => {
    const next = makeRandom(12);
    const source = randomBuffer(next, 200);
    const key = randomBuffer(next, 4);
    const ours = Buffer.alloc(110);
    const theirs = Buffer.alloc(110);
    binding.mask(source, key, ours, 10, 100);
    bufferUtil.mask(source, key, theirs, 10, 100);
    expect(ours.equals(theirs)).toBe(true);
    expect(ours.subarray(0, 10).equals(Buffer.alloc(10))).toBe(true);
  });

  it('unmask(buffer, key) for lengths 0-300 and large buffers', () => {
    const next = makeRandom(13);
    for (const length of [...Array(301).keys(), 4099, 65536, 1048577]) {
      const key = randomBuffer(next, 4);
      const offset = next() % 16;
      const backing = randomBuffer(next, offset + length + 3);
      const theirs = Buffer.from(backing);
      binding.unmask(backing.subarray(offset, offset + length), key);
      bufferUtil.unmask(theirs.subarray(offset, offset + length), key);
      expect(backing.equals(theirs)).toBe(true);
    }
  });

  it('mask in place (output is the source) equals unmask', () => {
    const next = makeRandom(14);
    const data = randomBuffer(next, 1000);
    const key = randomBuffer(next, 4);
    const copy = Buffer.from(data);
    binding.mask(data, key, data, 0, data.length);
    bufferUtil.unmask(copy, key);
    expect(data.equals(copy)).toBe(true);
  });

  it('mask between overlapping views reads every source byte before writing', () => {
    const next = makeRandom(15);
    const key = randomBuffer(next, 4);
    for (const shift of [1, 3, 4, 17, 100]) {
      const backing = randomBuffer(next, 600);
      const source = backing.subarray(0, 500);
      const expected = Buffer.from(backing);
      referenceMask(source, key, 0).copy(expected, shift);
      binding.mask(source, key, backing, shift, 500);
      expect(backing.equals(expected)).toBe(true);
    }
  });
});

describe('argument checks: a wrong call throws, never crashes, changes nothing', () => {
  const key = Buffer.from([1, 2, 3, 4]);

  it('mask: TypeError for non-byte arrays and non-numbers', () => {
    const source = Buffer.alloc(8);
    const output = Buffer.alloc(8);
    expect(() => binding.mask('abc', key, output, 0, 3)).toThrow(TypeError);
    expect(() => binding.mask(source, [1, 2, 3, 4], output, 0, 3)).toThrow(
      TypeError
    );
    expect(() => binding.mask(source, key, new Uint16Array(8), 0, 3)).toThrow(
      TypeError
    );
    expect(() =>
      binding.mask(source, key, new DataView(new ArrayBuffer(8)), 0, 3)
    ).toThrow(TypeError);
    expect(() => binding.mask(source, key, output, '0', 3)).toThrow(TypeError);
    expect(() => binding.mask(source, key, output, 0)).toThrow(TypeError);
    expect(() => binding.mask()).toThrow(TypeError);
    expect(output.equals(Buffer.alloc(8))).toBe(true);
  });

  it('mask: RangeError for a short key, bad numbers and out-of-bounds windows', () => {
    const source = Buffer.alloc(8, 0xaa);
    const output = Buffer.alloc(8);
    expect(() => binding.mask(source, Buffer.alloc(3), output, 0, 3)).toThrow(
      RangeError
    );
    expect(() => binding.mask(source, key, output, -1, 3)).toThrow(RangeError);
    expect(() => binding.mask(source, key, output, 1.5, 3)).toThrow(RangeError);
    expect(() => binding.mask(source, key, output, NaN, 3)).toThrow(RangeError);
    expect(() => binding.mask(source, key, output, Infinity, 3)).toThrow(
      RangeError
    );
    expect(() => binding.mask(source, key, output, 0, 9)).toThrow(RangeError);
    expect(() => binding.mask(source, key, output, 6, 3)).toThrow(RangeError);
    expect(() => binding.mask(source, key, output, 9, 0)).toThrow(RangeError);
    expect(() => binding.mask(source, key, output, 2 ** 53, 1)).toThrow(
      RangeError
    );
    expect(output.equals(Buffer.alloc(8))).toBe(true);
    // The exact edges are allowed.
    binding.mask(source, key, output, 5, 3);
    binding.mask(source, key, output, 8, 0);
    expect([...output]).toEqual([0, 0, 0, 0, 0, 0xab, 0xa8, 0xa9]);
  });

  it('unmask: TypeError for a non-buffer, RangeError for a short key', () => {
    const data = Buffer.alloc(8);
    expect(() => binding.unmask(null, key)).toThrow(TypeError);
    expect(() => binding.unmask(data, 'abcd')).toThrow(TypeError);
    expect(() => binding.unmask(data, new Uint8Array(2))).toThrow(RangeError);
    expect(data.equals(Buffer.alloc(8))).toBe(true);
    binding.unmask(Buffer.alloc(0), key);
    binding.unmask(new Uint8Array(new ArrayBuffer(0)), key);
  });

  it('maskWith: TypeError/RangeError for a bad ISA, key or phase', () => {
    const data = Buffer.alloc(8);
    expect(() => binding.maskWith(2, data, key, 0)).toThrow(TypeError);
    expect(() => binding.maskWith('mmx', data, key, 0)).toThrow(RangeError);
    expect(() => binding.maskWith('scalar', data, key, 4)).toThrow(RangeError);
    expect(() => binding.maskWith('scalar', data, key, -1)).toThrow(RangeError);
    expect(() => binding.maskWith('scalar', data, key, '1')).toThrow(TypeError);
    expect(() =>
      binding.maskWith('scalar', data, key.subarray(0, 3), 0)
    ).toThrow(RangeError);
    expect(() => binding.maskWith('scalar', {}, key, 0)).toThrow(TypeError);
    for (const isa of ALL_ISAS.filter((name) => !available.includes(name))) {
      expect(() => binding.maskWith(isa, data, key, 0)).toThrow(RangeError);
    }
    expect(data.equals(Buffer.alloc(8))).toBe(true);
  });

  it('isValidUtf8 and isValidUtf8With: TypeError/RangeError for bad arguments', () => {
    expect(() => binding.isValidUtf8('text')).toThrow(TypeError);
    expect(() => binding.isValidUtf8With('scalar', 'text')).toThrow(TypeError);
    expect(() => binding.isValidUtf8With('neon', Buffer.alloc(1))).toThrow(
      RangeError
    );
    expect(() => binding.isValidUtf8With(undefined, Buffer.alloc(1))).toThrow(
      TypeError
    );
  });
});

describe('worker threads', () => {
  it('each worker gets its own instance: pool, Utf8Stream class and kernels work, exit is clean', async () => {
    const { Worker } = await import('node:worker_threads');
    const code = `
      const { parentPort } = require('worker_threads');
      const b = require(${JSON.stringify(path.join(ROOT, 'lib', 'binding.js'))});
      const key = Buffer.alloc(4);
      b.randomFill(key);
      const data = Buffer.from('hello');
      b.unmask(data, key);
      b.unmask(data, key);
      const stream = new b.Utf8Stream();
      parentPort.postMessage([b.kernelInfo().isa, data.toString(), stream.feed(Buffer.from('é'))]);
    `;
    const results = await Promise.all(
      [0, 1].map(
        () =>
          new Promise((resolve, reject) => {
            const worker = new Worker(code, { eval: true });
            let message;
            worker.on('message', (value) => (message = value));
            worker.on('error', reject);
            worker.on('exit', (exitCode) => resolve([exitCode, message]));
          })
      )
    );
    for (const result of results) {
      expect(result).toEqual([0, [binding.kernelInfo().isa, 'hello', true]]);
    }
  });
});

describe('randomFill', () => {
  it('fills with CSPRNG bytes: distinct keys, every byte value, across pool refills', () => {
    const keys = new Set();
    for (let i = 0; i < 5000; i++) {
      const mask = Buffer.alloc(4);
      binding.randomFill(mask);
      keys.add(mask.readUInt32BE(0));
    }
    // 5000 draws of 32 bits: a repeat is possible but more than a few is not.
    expect(keys.size).toBeGreaterThan(4990);

    const big = Buffer.alloc(3 * 8192 + 5);
    binding.randomFill(big);
    const counts = new Array(256).fill(0);
    for (const byte of big) counts[byte]++;
    expect(counts.every((count) => count > 20)).toBe(true);

    const view = new Uint8Array(new ArrayBuffer(64), 8, 16);
    binding.randomFill(view);
    expect(view.some((byte) => byte !== 0)).toBe(true);
    expect(new Uint8Array(view.buffer, 0, 8).every((byte) => byte === 0)).toBe(
      true
    );
    expect(new Uint8Array(view.buffer, 24).every((byte) => byte === 0)).toBe(
      true
    );
    binding.randomFill(Buffer.alloc(0));
  });

  it('throws TypeError for a non-buffer', () => {
    expect(() => binding.randomFill(16)).toThrow(TypeError);
    expect(() => binding.randomFill(new Float64Array(2))).toThrow(TypeError);
  });
});

describe('hot entry points (mask, unmask, isValidUtf8): every refusal, exactly', () => {
  const key = Buffer.from([1, 2, 3, 4]);
  const bytesMessage = (name) =>
    `The "${name}" argument must be a Buffer or Uint8Array`;
  const numberMessage = (name) => `The "${name}" argument must be a number`;
  const indexMessage = (name) =>
    `The "${name}" argument must be a non-negative integer`;
  const SHORT_KEY = 'The "mask" argument must be at least 4 bytes long';
  const LENGTH_PAST_SOURCE = 'The "length" argument exceeds the source length';
  const WINDOW_PAST_OUTPUT =
    'The "offset" and "length" arguments exceed the output length';

  // Throws `type` with exactly `message`.
  function expectThrow(fn, type, message) {
    let caught;
    try {
      fn();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(type);
    expect(caught.message).toBe(message);
  }

  // Not a Uint8Array or Buffer: refused even where the bytes would be
  // readable (other typed arrays, DataView, ArrayBuffer), unlike bufferutil.
  const NOT_BYTES = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 8],
    ['a string', 'abcdefgh'],
    ['an array', [1, 2, 3, 4, 5, 6, 7, 8]],
    ['a plain object', { length: 8 }],
    ['an object faking the prototype', Object.create(Uint8Array.prototype)],
    ['an ArrayBuffer', new ArrayBuffer(8)],
    ['a DataView', new DataView(new ArrayBuffer(8))],
    ['an Int8Array', new Int8Array(8)],
    ['a Uint8ClampedArray', new Uint8ClampedArray(8)],
    ['a Uint16Array', new Uint16Array(8)],
    ['a Float64Array', new Float64Array(1)],
    ['a BigUint64Array', new BigUint64Array(1)]
  ];
  const NOT_NUMBERS = [
    ['undefined', undefined],
    ['null', null],
    ['a string', '0'],
    ['a BigInt', 0n],
    ['a boolean', false],
    ['a Number object', Object(0)]
  ];
  const NOT_INDICES = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53];

  it('mask: TypeError naming source, mask and output for each kind of non-bytes', () => {
    const source = Buffer.alloc(8, 0xaa);
    const output = Buffer.alloc(8);
    for (const [, bad] of NOT_BYTES) {
      expectThrow(
        () => binding.mask(bad, key, output, 0, 4),
        TypeError,
        bytesMessage('source')
      );
      expectThrow(
        () => binding.mask(source, bad, output, 0, 4),
        TypeError,
        bytesMessage('mask')
      );
      expectThrow(
        () => binding.mask(source, key, bad, 0, 4),
        TypeError,
        bytesMessage('output')
      );
    }
    expect(output.equals(Buffer.alloc(8))).toBe(true);
  });

  it('mask: TypeError for non-number offset/length, RangeError for non-indices', () => {
    const source = Buffer.alloc(8, 0xaa);
    const output = Buffer.alloc(8);
    for (const [, bad] of NOT_NUMBERS) {
      expectThrow(
        () => binding.mask(source, key, output, bad, 4),
        TypeError,
        numberMessage('offset')
      );
      expectThrow(
        () => binding.mask(source, key, output, 0, bad),
        TypeError,
        numberMessage('length')
      );
    }
    for (const bad of NOT_INDICES) {
      expectThrow(
        () => binding.mask(source, key, output, bad, 4),
        RangeError,
        indexMessage('offset')
      );
      expectThrow(
        () => binding.mask(source, key, output, 0, bad),
        RangeError,
        indexMessage('length')
      );
    }
    expect(output.equals(Buffer.alloc(8))).toBe(true);
    // -0 is the integer 0.
    binding.mask(source, key, output, -0, 4);
    expect([...output]).toEqual([0xab, 0xa8, 0xa9, 0xae, 0, 0, 0, 0]);
  });

  it('mask: short keys, windows past the source or the output, and the first bad argument wins', () => {
    const backing = Buffer.alloc(16, 0x55);
    const source = backing.subarray(4, 12);
    const output = Buffer.alloc(8);
    for (const short of [
      Buffer.alloc(0),
      Buffer.alloc(1),
      Buffer.alloc(3),
      Buffer.alloc(8).subarray(5),
      new Uint8Array(new ArrayBuffer(16), 13)
    ]) {
      expectThrow(
        () => binding.mask(source, short, output, 0, 4),
        RangeError,
        SHORT_KEY
      );
    }
    // The source view is 8 bytes even though its backing store has 16.
    expectThrow(
      () => binding.mask(source, key, output, 0, 9),
      RangeError,
      LENGTH_PAST_SOURCE
    );
    expectThrow(
      () => binding.mask(source, key, output, 1, 8),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    expectThrow(
      () => binding.mask(source, key, output, 9, 0),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    // offset + length would wrap around a 64-bit size_t.
    expectThrow(
      () => binding.mask(source, key, output, 2 ** 53 - 1, 1),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    expectThrow(
      () => binding.mask(source, key, output, 2 ** 53 - 1, 8),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    // Missing arguments read as undefined; the first bad one is reported.
    expectThrow(() => binding.mask(), TypeError, bytesMessage('source'));
    expectThrow(
      () => binding.mask(source, key, output, 0),
      TypeError,
      numberMessage('length')
    );
    expectThrow(
      () => binding.mask('a', 'b', 'c', 'd', 'e'),
      TypeError,
      bytesMessage('source')
    );
    expectThrow(
      () => binding.mask(source, Buffer.alloc(2), 'c', -1, 99),
      RangeError,
      SHORT_KEY
    );
    expectThrow(
      () => binding.mask(source, key, output, -1, 'x'),
      RangeError,
      indexMessage('offset')
    );
    expect(output.equals(Buffer.alloc(8))).toBe(true);
    expect(backing.equals(Buffer.alloc(16, 0x55))).toBe(true);
  });

  it('unmask and isValidUtf8: TypeError for non-bytes, RangeError for a short key', () => {
    const data = Buffer.alloc(8);
    for (const [, bad] of NOT_BYTES) {
      expectThrow(
        () => binding.unmask(bad, key),
        TypeError,
        bytesMessage('buffer')
      );
      expectThrow(
        () => binding.unmask(data, bad),
        TypeError,
        bytesMessage('mask')
      );
      expectThrow(
        () => binding.isValidUtf8(bad),
        TypeError,
        bytesMessage('buffer')
      );
    }
    for (const short of [Buffer.alloc(0), Buffer.alloc(3), key.subarray(1)]) {
      expectThrow(() => binding.unmask(data, short), RangeError, SHORT_KEY);
    }
    expectThrow(() => binding.unmask(), TypeError, bytesMessage('buffer'));
    expectThrow(() => binding.unmask(data), TypeError, bytesMessage('mask'));
    expectThrow(() => binding.isValidUtf8(), TypeError, bytesMessage('buffer'));
    expect(data.equals(Buffer.alloc(8))).toBe(true);
  });

  it('detached buffers read as empty: no crash, no write, refusals where bytes are needed', () => {
    const detached = (length) => {
      const view = new Uint8Array(length);
      structuredClone(view.buffer, { transfer: [view.buffer] });
      return view;
    };
    expect(detached(16).length).toBe(0);
    const source = Buffer.from([9, 9, 9, 9]);
    const output = Buffer.alloc(4);

    binding.unmask(detached(16), key);
    expect(binding.isValidUtf8(detached(16))).toBe(true);
    binding.mask(detached(16), key, output, 0, 0);
    binding.mask(source, key, detached(16), 0, 0);
    expectThrow(
      () => binding.mask(detached(16), key, output, 0, 1),
      RangeError,
      LENGTH_PAST_SOURCE
    );
    expectThrow(
      () => binding.mask(source, key, detached(16), 0, 1),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    expectThrow(
      () => binding.mask(source, key, detached(16), 1, 0),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    expectThrow(
      () => binding.mask(source, detached(4), output, 0, 4),
      RangeError,
      SHORT_KEY
    );
    expectThrow(
      () => binding.unmask(source, detached(4)),
      RangeError,
      SHORT_KEY
    );
    expect([...source]).toEqual([9, 9, 9, 9]);
    expect(output.equals(Buffer.alloc(4))).toBe(true);
  });

  it('zero-length buffers, including empty views at the end of a store', () => {
    const tail = Buffer.alloc(8, 0x77).subarray(8);
    expect(tail.length).toBe(0);
    binding.unmask(tail, key);
    binding.unmask(new Uint8Array(0), key);
    binding.mask(Buffer.alloc(0), key, tail, 0, 0);
    binding.mask(tail, key, Buffer.alloc(0), 0, 0);
    expectThrow(
      () => binding.mask(Buffer.alloc(0), key, tail, 1, 0),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    expectThrow(
      () => binding.mask(tail, key, Buffer.alloc(8), 0, 1),
      RangeError,
      LENGTH_PAST_SOURCE
    );
    expect(binding.isValidUtf8(tail)).toBe(true);
    expect(binding.isValidUtf8(new Uint8Array(0))).toBe(true);
    expect(binding.isValidUtf8(Buffer.alloc(0))).toBe(true);
  });

  it('a length-tracking view over a resized ArrayBuffer: only the current bytes count', () => {
    const store = new ArrayBuffer(16, { maxByteLength: 64 });
    const view = new Uint8Array(store);
    view.fill(0xff);
    store.resize(6);
    expect(view.length).toBe(6);
    binding.unmask(view, key);
    expect([...view]).toEqual([0xfe, 0xfd, 0xfc, 0xfb, 0xfe, 0xfd]);
    // An invalid byte beyond the current end is not read.
    expect(binding.isValidUtf8(view.fill(0x41))).toBe(true);
    expectThrow(
      () => binding.mask(view, key, Buffer.alloc(16), 0, 7),
      RangeError,
      LENGTH_PAST_SOURCE
    );
    expectThrow(
      () => binding.mask(Buffer.alloc(16), key, view, 2, 5),
      RangeError,
      WINDOW_PAST_OUTPUT
    );
    store.resize(32);
    expect(view.length).toBe(32);
    binding.mask(Buffer.alloc(32), key, view, 0, 32);
    expect(Buffer.from(view).equals(Buffer.alloc(32, key))).toBe(true);
  });

  it('extra arguments are ignored and `this` does not matter; names are kept', () => {
    const data = Buffer.alloc(8);
    binding.unmask.call({}, data, key, 'extra', 5);
    const output = Buffer.alloc(8);
    binding.mask.call(null, data, key, output, 0, 8, {}, []);
    expect(binding.isValidUtf8.call(42, Buffer.from('é'), 'x')).toBe(true);
    expect([...data]).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(output.equals(Buffer.alloc(8))).toBe(true);
    expect(binding.mask.name).toBe('mask');
    expect(binding.unmask.name).toBe('unmask');
    expect(binding.isValidUtf8.name).toBe('isValidUtf8');
    expect(binding.mask(data, key, output, 0, 8)).toBe(undefined);
    expect(binding.unmask(data, key)).toBe(undefined);
  });
});

describe('hot entry points: the same bytes as bufferutil on plain Uint8Array views', () => {
  it('mask and unmask with Uint8Array (not Buffer) views at odd offsets, keys longer than 4 bytes', () => {
    const next = makeRandom(21);
    for (const length of [1, 7, 8, 33, 125, 300, 4099]) {
      const store = new ArrayBuffer(length + 64);
      const bytes = new Uint8Array(store);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      const keyStore = new Uint8Array(11);
      for (let i = 0; i < keyStore.length; i++) keyStore[i] = next() & 0xff;
      // A key view that starts mid-buffer and is longer than 4 bytes: only
      // its first 4 count.
      const key = keyStore.subarray(3, 9);
      const source = new Uint8Array(store, 5, length);
      const ours = new Uint8Array(length + 9);
      const theirs = Buffer.alloc(length + 9);
      binding.mask(source, key, ours, 9, length);
      bufferUtil.mask(
        Buffer.from(source),
        Buffer.from(key.subarray(0, 4)),
        theirs,
        9,
        length
      );
      expect(Buffer.from(ours).equals(theirs)).toBe(true);

      const before = Buffer.from(bytes);
      const window = new Uint8Array(store, 3, length);
      binding.unmask(window, key);
      const expected = Buffer.from(before);
      bufferUtil.unmask(expected.subarray(3, 3 + length), key.subarray(0, 4));
      expect(Buffer.from(bytes).equals(expected)).toBe(true);
    }
  });

  it('mask between views of the same memory: exact alias, output before and after the source', () => {
    const next = makeRandom(22);
    const key = randomBuffer(next, 4);
    const store = new ArrayBuffer(900);
    const all = new Uint8Array(store);
    for (let i = 0; i < all.length; i++) all[i] = next() & 0xff;
    // Exact alias through two different view objects: in place.
    let before = Buffer.from(all);
    binding.mask(new Uint8Array(store, 40, 500), key, all, 40, 500);
    let expected = Buffer.from(before);
    referenceMask(before.subarray(40, 540), key, 0).copy(expected, 40);
    expect(Buffer.from(all).equals(expected)).toBe(true);
    // The output starts before the source (the existing test covers after).
    for (const shift of [1, 2, 3, 4, 5, 31, 32, 33, 200]) {
      before = Buffer.from(all);
      const source = new Uint8Array(store, 100 + shift, 500);
      binding.mask(source, key, all, 100, 500);
      expected = Buffer.from(before);
      referenceMask(before.subarray(100 + shift, 600 + shift), key, 0).copy(
        expected,
        100
      );
      expect(Buffer.from(all).equals(expected)).toBe(true);
    }
  });

  it('a key that is a view of the bytes being masked is read before any is written', () => {
    const next = makeRandom(23);
    for (const length of [5, 40, 300, 5000]) {
      for (const start of [0, 1, 7]) {
        // unmask(buffer, buffer.subarray(k)): the key lies inside the buffer.
        const store = randomBuffer(next, length + 16);
        const buffer = store.subarray(start, start + length);
        const keyAt = Math.min(3, length - 4);
        const before = Buffer.from(buffer);
        binding.unmask(buffer, buffer.subarray(keyAt, keyAt + 4));
        expect(
          buffer.equals(
            referenceMask(before, before.subarray(keyAt, keyAt + 4), 0)
          )
        ).toBe(true);

        // mask() whose key lies inside the output window.
        const source = randomBuffer(next, length);
        const output = randomBuffer(next, length + start);
        const outputBefore = Buffer.from(output);
        const key = output.subarray(start + 1, start + 5);
        binding.mask(source, key, output, start, length);
        const want = Buffer.from(outputBefore);
        referenceMask(
          source,
          outputBefore.subarray(start + 1, start + 5),
          0
        ).copy(want, start);
        expect(output.equals(want)).toBe(true);
      }
    }
  });

  it('isValidUtf8 reads exactly its view: invalid bytes just outside do not count', () => {
    const store = Buffer.from([0xff, 0xe2, 0x82, 0xac, 0x41, 0xc3, 0xa9, 0xff]);
    expect(binding.isValidUtf8(store)).toBe(false);
    expect(binding.isValidUtf8(store.subarray(1, 7))).toBe(true);
    expect(
      binding.isValidUtf8(new Uint8Array(store.buffer, store.byteOffset + 1, 6))
    ).toBe(true);
    expect(binding.isValidUtf8(store.subarray(1, 8))).toBe(false);
    expect(binding.isValidUtf8(store.subarray(0, 7))).toBe(false);
    // A view that cuts a sequence short is invalid: the text must be complete.
    expect(binding.isValidUtf8(store.subarray(1, 3))).toBe(false);
    expect(binding.isValidUtf8(store.subarray(1, 4))).toBe(true);
  });
});

describe('hot entry points: random calls never crash and either refuse or match the reference', () => {
  it('3000 calls drawn from valid, wrong, detached, short and out-of-range arguments', () => {
    const next = makeRandom(0xca11);
    const pick = (list) => list[next() % list.length];
    const shared = new ArrayBuffer(64);
    const detachedView = new Uint8Array(16);
    structuredClone(detachedView.buffer, { transfer: [detachedView.buffer] });
    const makeViews = () => [
      Buffer.alloc(0),
      Buffer.alloc(3),
      Buffer.alloc(4),
      Buffer.alloc(9),
      Buffer.alloc(64).subarray(7, 40),
      new Uint8Array(shared, 0, 32),
      new Uint8Array(shared, 5, 32),
      new Uint8Array(shared, 32),
      detachedView,
      new Uint16Array(4),
      new DataView(new ArrayBuffer(8)),
      'text',
      null,
      7
    ];
    const numbers = [
      0,
      1,
      3,
      4,
      5,
      8,
      31,
      32,
      33,
      64,
      -1,
      2.5,
      NaN,
      2 ** 53,
      '4'
    ];
    const isBytes = (value) => types.isUint8Array(value);
    const isIndex = (value) =>
      typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

    // The outcome the checks must give, argument by argument.
    function maskOutcome([source, key, output, offset, length]) {
      if (!isBytes(source) || !isBytes(key)) return TypeError;
      if (key.length < 4) return RangeError;
      if (!isBytes(output) || typeof offset !== 'number') return TypeError;
      if (!isIndex(offset)) return RangeError;
      if (typeof length !== 'number') return TypeError;
      if (!isIndex(length)) return RangeError;
      if (length > source.length) return RangeError;
      if (offset > output.length || length > output.length - offset) {
        return RangeError;
      }
      return null;
    }

    let succeeded = 0;
    let refused = 0;
    for (let call = 0; call < 3000; call++) {
      const views = makeViews();
      for (const view of views) {
        if (isBytes(view)) {
          for (let i = 0; i < view.length; i++) view[i] = next() & 0xff;
        }
      }
      // Copies the bytes; a detached view has none (and Buffer.from throws).
      const snapshot = (view) =>
        isBytes(view)
          ? view.length === 0
            ? Buffer.alloc(0)
            : Buffer.from(view)
          : null;
      const sharedBefore = Buffer.from(new Uint8Array(shared));
      const kind = next() % 3;
      if (kind === 0) {
        const args = [
          pick(views),
          pick(views),
          pick(views),
          pick(numbers),
          pick(numbers)
        ];
        const [source, key, output, offset, length] = args;
        const expected = maskOutcome(args);
        const sourceBefore = snapshot(source);
        const outputBefore = snapshot(output);
        const keyBefore = snapshot(key);
        let thrown = null;
        try {
          binding.mask(...args);
        } catch (error) {
          thrown = error;
        }
        if (expected) {
          expect(thrown).toBeInstanceOf(expected);
          refused++;
          if (isBytes(output)) {
            expect(snapshot(output).equals(outputBefore)).toBe(true);
          }
          expect(Buffer.from(new Uint8Array(shared)).equals(sharedBefore)).toBe(
            true
          );
        } else {
          expect(thrown).toBe(null);
          succeeded++;
          const want = Buffer.from(outputBefore);
          referenceMask(sourceBefore.subarray(0, length), keyBefore, 0).copy(
            want,
            offset
          );
          expect(snapshot(output).equals(want)).toBe(true);
        }
      } else if (kind === 1) {
        const buffer = pick(views);
        const key = pick(views);
        const expected =
          !isBytes(buffer) || !isBytes(key)
            ? TypeError
            : key.length < 4
              ? RangeError
              : null;
        const bufferBefore = snapshot(buffer);
        const keyBefore = snapshot(key);
        let thrown = null;
        try {
          binding.unmask(buffer, key);
        } catch (error) {
          thrown = error;
        }
        if (expected) {
          expect(thrown).toBeInstanceOf(expected);
          refused++;
          expect(Buffer.from(new Uint8Array(shared)).equals(sharedBefore)).toBe(
            true
          );
        } else {
          expect(thrown).toBe(null);
          succeeded++;
          // The key is read before any byte is masked, even when it is a
          // view of the buffer itself.
          expect(
            snapshot(buffer).equals(referenceMask(bufferBefore, keyBefore, 0))
          ).toBe(true);
        }
      } else {
        const buffer = pick(views);
        let result;
        let thrown = null;
        try {
          result = binding.isValidUtf8(buffer);
        } catch (error) {
          thrown = error;
        }
        if (isBytes(buffer)) {
          expect(thrown).toBe(null);
          expect(result).toBe(isUtf8(buffer));
          succeeded++;
        } else {
          expect(thrown).toBeInstanceOf(TypeError);
          refused++;
        }
      }
    }
    // Both outcomes were exercised often.
    expect(succeeded).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });
});
