// Binding-level tests of the masking kernels (RFC 6455 §5.3), ISA dispatch and the CSPRNG
// pool: every ISA the CPU runs against a JS reference, and mask/unmask against bufferutil.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const binding = require(path.join(ROOT, 'lib', 'binding.js'));
const bufferUtil = require('bufferutil');

const ALL_ISAS = ['scalar', 'sse2', 'avx2'];
const { available } = binding.kernelInfo();

/**
 * A seeded PRNG (mulberry32), so a failure reproduces.
 *
 * @param {number} seed
 * @return {function(): number} the next 32-bit unsigned value
 */
function makeRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

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
