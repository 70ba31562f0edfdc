// Binding-level tests of UTF-8 validation (RFC 3629): fixed vectors, every ISA against Node's
// buffer.isUtf8 on random and randomly corrupted text, and the streaming validator's split
// invariance and fail-fast behaviour.

import { isUtf8 } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { makeRandom } from '../helpers/random.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const BINDING_PATH = path.join(ROOT, 'lib', 'binding.js');
const binding = require(BINDING_PATH);

const { available } = binding.kernelInfo();

const hex = (text) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// RFC 3629 §4 boundary cases in the style of Markus Kuhn's UTF-8 decoder stress test.
const VALID = {
  empty: '',
  'U+0000': '00',
  'U+007F': '7f',
  'U+0080 (first 2-byte)': 'c2 80',
  'U+07FF (last 2-byte)': 'df bf',
  'U+0800 (first 3-byte)': 'e0 a0 80',
  'U+D7FF (before surrogates)': 'ed 9f bf',
  'U+E000 (after surrogates)': 'ee 80 80',
  'U+FFFD': 'ef bf bd',
  'U+FFFE, U+FFFF (noncharacters are valid UTF-8)': 'ef bf be ef bf bf',
  'U+10000 (first 4-byte)': 'f0 90 80 80',
  'U+10FFFF (last code point)': 'f4 8f bf bf',
  'Greek kosme': 'ce ba e1 bd b9 cf 83 ce bc ce b5',
  'mixed 1-4 bytes': '41 c3 a9 e2 82 ac f0 9f 98 80 7a'
};

const INVALID = {
  'overlong U+0000 in 2 bytes': 'c0 80',
  'overlong U+007F in 2 bytes': 'c1 bf',
  'overlong U+0000 in 3 bytes': 'e0 80 80',
  'overlong U+07FF in 3 bytes': 'e0 9f bf',
  'overlong U+0000 in 4 bytes': 'f0 80 80 80',
  'overlong U+FFFF in 4 bytes': 'f0 8f bf bf',
  'overlong slash (c0 af)': 'c0 af',
  'overlong slash in 3 bytes': 'e0 80 af',
  'surrogate U+D800': 'ed a0 80',
  'surrogate U+DB7F': 'ed ad bf',
  'surrogate U+DC00': 'ed b0 80',
  'surrogate U+DFFF': 'ed bf bf',
  'surrogate pair U+D800 U+DC00': 'ed a0 80 ed b0 80',
  'U+110000': 'f4 90 80 80',
  'U+13FFFF': 'f4 bf bf bf',
  'f5 lead': 'f5 80 80 80',
  'f7 lead (U+1FFFFF)': 'f7 bf bf bf',
  '5-byte form': 'f8 88 80 80 80',
  '6-byte form': 'fc 84 80 80 80 80',
  fe: 'fe',
  ff: 'ff',
  'lone continuation 80': '80',
  'lone continuation bf': 'bf',
  'two continuations': '80 bf',
  'continuation after ASCII': '41 80',
  'one continuation too many': 'e2 82 ac 80',
  'lonely 2-byte lead then space': 'c3 20',
  'lonely 3-byte lead then space': 'e2 20',
  'lonely 4-byte lead then space': 'f0 20',
  '3-byte sequence missing its last byte, then ASCII': 'e2 82 41',
  '4-byte sequence missing its last byte, then ASCII': 'f0 9f 98 41',
  'lead after lead': 'c2 c2 80',
  'truncated 2-byte at end': 'c2',
  'truncated 3-byte at end': 'e2 82',
  'truncated 4-byte at end': 'f0 9f 98',
  'all truncated sequences concatenated': 'c2 e0 a0 f0 90 80 df ef bf f4 8f bf'
};

function checkEveryIsa(bytes, expected) {
  expect(binding.isValidUtf8(bytes)).toBe(expected);
  for (const isa of available) {
    expect([isa, binding.isValidUtf8With(isa, bytes)]).toEqual([isa, expected]);
  }
}

describe('UTF-8 vectors (RFC 3629), every ISA', () => {
  for (const [name, text] of Object.entries(VALID)) {
    it(`valid: ${name}, at every position of a 64-byte block`, () => {
      const bytes = hex(text);
      expect(isUtf8(bytes)).toBe(true);
      for (let lead = 0; lead <= 70; lead++) {
        const padded = Buffer.concat([
          Buffer.alloc(lead, 0x61),
          bytes,
          Buffer.from('z')
        ]);
        checkEveryIsa(padded, true);
        checkEveryIsa(Buffer.concat([Buffer.alloc(lead, 0x61), bytes]), true);
      }
    });
  }

  for (const [name, text] of Object.entries(INVALID)) {
    it(`invalid: ${name}, at every position of a 64-byte block`, () => {
      const bytes = hex(text);
      expect(isUtf8(bytes)).toBe(false);
      for (let lead = 0; lead <= 70; lead++) {
        const padded = Buffer.concat([
          Buffer.alloc(lead, 0x61),
          bytes,
          Buffer.from('z')
        ]);
        checkEveryIsa(padded, false);
        checkEveryIsa(Buffer.concat([Buffer.alloc(lead, 0x61), bytes]), false);
        // Between multi-byte text, too, so the vector paths run instead of ASCII skips.
        const around = Buffer.from('é€'.repeat(lead % 23));
        checkEveryIsa(Buffer.concat([around, bytes, around]), false);
      }
    });
  }

  it('every multi-byte sequence truncated at every position is invalid', () => {
    for (const text of Object.values(VALID)) {
      const bytes = hex(text);
      for (let cut = 0; cut < bytes.length; cut++) {
        const prefix = bytes.subarray(0, cut);
        checkEveryIsa(prefix, isUtf8(prefix));
      }
    }
    for (const char of ['é', '€', '😀', '\u{10ffff}', '\u0800']) {
      const bytes = Buffer.from(char);
      for (let cut = 1; cut < bytes.length; cut++) {
        checkEveryIsa(bytes.subarray(0, cut), false);
        checkEveryIsa(
          Buffer.concat([Buffer.from('abc'), bytes.subarray(0, cut)]),
          false
        );
      }
    }
  });

  it('every 2-byte value: lead in c0..ff with each continuation class agrees with isUtf8', () => {
    for (let first = 0x80; first <= 0xff; first++) {
      for (let second = 0; second <= 0xff; second++) {
        for (const third of [0x80, 0x9f, 0xa0, 0xbf, 0x41]) {
          const bytes = Buffer.from([0x41, first, second, third, 0x80, 0x80]);
          const expected = isUtf8(bytes);
          for (const isa of available) {
            if (binding.isValidUtf8With(isa, bytes) !== expected) {
              throw new Error(`${isa} disagrees on ${bytes.toString('hex')}`);
            }
          }
        }
      }
    }
  });
});

// Random text of 1- to 4-byte sequences: code points drawn per length class, boundary values
// often, surrogates never.
function randomText(next, byteLength) {
  const parts = [];
  let size = 0;
  while (size < byteLength) {
    let codePoint;
    switch (next() % 6) {
      case 0:
      case 1:
        codePoint = next() % 0x80;
        break;
      case 2:
        codePoint = 0x80 + (next() % 0x780);
        break;
      case 3:
        codePoint = 0x800 + (next() % 0xf800);
        if (codePoint >= 0xd800 && codePoint <= 0xdfff) codePoint -= 0x800;
        break;
      case 4:
        codePoint = 0x10000 + (next() % 0x100000);
        break;
      default:
        codePoint = [
          0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xffff, 0x10000, 0x10ffff
        ][next() % 9];
    }
    const bytes = Buffer.from(String.fromCodePoint(codePoint));
    parts.push(bytes);
    size += bytes.length;
  }
  return Buffer.concat(parts);
}

const INTERESTING = [
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2
];
INTERESTING.push(0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xf8, 0xfe, 0xff);

function corrupt(next, bytes) {
  const copy = Buffer.from(bytes);
  if (copy.length === 0) return copy;
  const edits = 1 + (next() % 3);
  for (let i = 0; i < edits; i++) {
    const at = next() % copy.length;
    copy[at] =
      next() % 2 ? INTERESTING[next() % INTERESTING.length] : next() & 0xff;
  }
  return copy;
}

describe('every ISA against buffer.isUtf8 on random text', () => {
  for (const isa of available) {
    it(`${isa}: random and corrupted text of lengths 0-300`, () => {
      const next = makeRandom(0xbeef + isa.length);
      const disagreements = [];
      let invalidSeen = 0;
      for (let length = 0; length <= 300; length++) {
        for (let round = 0; round < 12; round++) {
          const text = randomText(next, length);
          const cut = text.subarray(0, Math.min(length, text.length));
          const corrupted = corrupt(next, cut);
          for (const sample of [text, cut, corrupted]) {
            const expected = isUtf8(sample);
            if (!expected) invalidSeen++;
            if (binding.isValidUtf8With(isa, sample) !== expected) {
              disagreements.push(sample.toString('hex'));
            }
          }
        }
      }
      expect(disagreements.slice(0, 3)).toEqual([]);
      // The corruption really produced invalid text, often.
      expect(invalidSeen).toBeGreaterThan(2000);
    });

    it(`${isa}: large ASCII and mixed text, one bad byte anywhere`, () => {
      const next = makeRandom(0xcafe + isa.length);
      for (const length of [4096, 65536, 65537, 1048576 + 7]) {
        const ascii = Buffer.alloc(length, 0x61);
        const mixed = randomText(next, length);
        for (const text of [ascii, mixed]) {
          expect(binding.isValidUtf8With(isa, text)).toBe(true);
          for (const at of [
            0,
            1,
            63,
            64,
            text.length >> 1,
            text.length - 2,
            text.length - 1
          ]) {
            for (const bad of [0x80, 0xc0, 0xff, 0xed]) {
              const copy = Buffer.from(text);
              copy[at] = bad;
              expect(binding.isValidUtf8With(isa, copy)).toBe(isUtf8(copy));
            }
          }
          const corrupted = corrupt(next, text);
          expect(binding.isValidUtf8With(isa, corrupted)).toBe(
            isUtf8(corrupted)
          );
        }
      }
    });
  }

  it('accepts any Uint8Array view, not only Buffers', () => {
    const bytes = Buffer.from('zé€😀');
    const backing = new Uint8Array(bytes.length + 10);
    backing.set(bytes, 5);
    const view = backing.subarray(5, 5 + bytes.length);
    checkEveryIsa(view, true);
    // Starting inside "é": a stray continuation.
    checkEveryIsa(backing.subarray(7, 5 + bytes.length), false);
  });
});

// The index of the first byte after which `bytes` can no longer begin valid UTF-8, or -1.
// Decided with isUtf8 alone: a prefix is still possible when it, or it followed by some
// continuation bytes, is valid (only the classes 80..8f, 90..9f and a0..bf matter).
function firstImpossibleByte(bytes) {
  const fills = [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf];
  const completions = [[]];
  for (const a of fills) completions.push([a]);
  for (const a of fills) for (const b of fills) completions.push([a, b]);
  for (const a of fills)
    for (const b of fills) for (const c of fills) completions.push([a, b, c]);
  for (let end = 1; end <= bytes.length; end++) {
    const prefix = bytes.subarray(0, end);
    const possible = completions.some((tail) =>
      isUtf8(Buffer.concat([prefix, Buffer.from(tail)]))
    );
    if (!possible) return end - 1;
  }
  return -1;
}

describe('Utf8Stream', () => {
  const TEXTS = [
    'aé€😀z',
    'κόσμε',
    '\u0080\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}',
    '日本語のテキスト',
    `${'x'.repeat(61)}😀${'y'.repeat(30)}€`
  ];

  it('accepts every valid multi-byte text split at every byte position', () => {
    const next = makeRandom(21);
    const texts = TEXTS.map((text) => Buffer.from(text));
    for (let i = 0; i < 20; i++)
      texts.push(randomText(next, 1 + (next() % 150)));
    for (const bytes of texts) {
      for (let split = 0; split <= bytes.length; split++) {
        const stream = new binding.Utf8Stream();
        expect(stream.feed(bytes.subarray(0, split))).toBe(true);
        expect(stream.feed(bytes.subarray(split))).toBe(true);
        expect(stream.finish()).toBe(true);
      }
      const byteByByte = new binding.Utf8Stream();
      for (let i = 0; i < bytes.length; i++) {
        expect(byteByByte.feed(bytes.subarray(i, i + 1))).toBe(true);
      }
      expect(byteByByte.finish()).toBe(true);
    }
  });

  it('fails on the feed() holding the first bad byte, even when that chunk ends mid-sequence', () => {
    const stream = new binding.Utf8Stream();
    expect(stream.feed(Buffer.from([0x41, 0xe2]))).toBe(true);
    expect(stream.feed(Buffer.from([0x82]))).toBe(true);
    // ED A0 (a surrogate) is certain at once; the unfinished f0 9f after it does not help.
    expect(stream.feed(Buffer.from([0xac, 0xed, 0xa0, 0x80, 0xf0, 0x9f]))).toBe(
      false
    );
    // Sticky until reset().
    expect(stream.feed(Buffer.from('ok'))).toBe(false);
    expect(stream.finish()).toBe(false);
    stream.reset();
    expect(stream.feed(Buffer.from('ok é'))).toBe(true);
    expect(stream.finish()).toBe(true);

    // A bad second byte arriving alone fails that very feed.
    for (const [lead, second] of [
      [0xe0, 0x80],
      [0xed, 0xa0],
      [0xf0, 0x8f],
      [0xf4, 0x90],
      [0xc2, 0x41]
    ]) {
      const split = new binding.Utf8Stream();
      expect(split.feed(Buffer.from([lead]))).toBe(true);
      expect(split.feed(Buffer.from([second]))).toBe(false);
    }
    // Bytes that can never start anything fail alone.
    for (const byte of [0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff]) {
      expect(new binding.Utf8Stream().feed(Buffer.from([byte]))).toBe(false);
    }
  });

  it('random corrupted text in random pieces: fails exactly on the piece with the first bad byte', () => {
    const next = makeRandom(22);
    let failures = 0;
    for (let round = 0; round < 300; round++) {
      const text = corrupt(next, randomText(next, 1 + (next() % 120)));
      const firstBad = firstImpossibleByte(text);
      const stream = new binding.Utf8Stream();
      let failedOn = -1;
      const pieces = [];
      for (let at = 0; at < text.length;) {
        const size = Math.min(1 + (next() % 9), text.length - at);
        pieces.push([at, size]);
        at += size;
      }
      for (const [at, size] of pieces) {
        if (!stream.feed(text.subarray(at, at + size))) {
          failedOn = at;
          break;
        }
      }
      if (firstBad === -1) {
        expect(failedOn).toBe(-1);
        expect(stream.finish()).toBe(isUtf8(text));
      } else {
        failures++;
        const [at, size] = pieces.find(
          ([start, length]) => firstBad < start + length
        );
        expect([firstBad, failedOn]).toEqual([firstBad, at]);
        expect(firstBad - at).toBeLessThan(size);
        expect(stream.finish()).toBe(false);
      }
    }
    expect(failures).toBeGreaterThan(100);
  });

  it('a truncated end passes feed() and fails finish()', () => {
    for (const text of ['é', '€', '😀', 'abc😀']) {
      const bytes = Buffer.from(text);
      const lastCharBytes = Buffer.from([...text].pop()).length;
      for (let cut = 1; cut < lastCharBytes; cut++) {
        const stream = new binding.Utf8Stream();
        expect(stream.feed(bytes.subarray(0, bytes.length - cut))).toBe(true);
        expect(stream.finish()).toBe(false);
        // The rest arrives: the text is whole again.
        expect(stream.feed(bytes.subarray(bytes.length - cut))).toBe(true);
        expect(stream.finish()).toBe(true);
      }
    }
    const empty = new binding.Utf8Stream();
    expect(empty.feed(Buffer.alloc(0))).toBe(true);
    expect(empty.finish()).toBe(true);
  });

  it('feed() throws TypeError for a non-buffer and keeps its state', () => {
    const stream = new binding.Utf8Stream();
    expect(stream.feed(Buffer.from([0xe2, 0x82]))).toBe(true);
    expect(() => stream.feed('ac')).toThrow(TypeError);
    expect(() => stream.feed()).toThrow(TypeError);
    expect(stream.feed(Buffer.from([0xac]))).toBe(true);
    expect(stream.finish()).toBe(true);
  });

  it('misuse throws TypeError: a call without new, methods on other objects', () => {
    expect(() => binding.Utf8Stream()).toThrow(TypeError);
    const { feed, finish, reset } = binding.Utf8Stream.prototype;
    expect(() => feed.call({}, Buffer.from('a'))).toThrow(TypeError);
    expect(() => finish.call(null)).toThrow(TypeError);
    expect(() => reset.call(Buffer.alloc(4))).toThrow(TypeError);
    expect(() =>
      new binding.Utf8Stream().feed(new DataView(new ArrayBuffer(2)))
    ).toThrow(TypeError);
  });

  it('behaves the same under every forced ISA (WSN_FORCE_ISA)', () => {
    // The stream uses the dispatched kernel, chosen once per process.
    const code = `
      const b = require(${JSON.stringify(BINDING_PATH)});
      const { isUtf8 } = require('buffer');
      let state = 99;
      const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8;
      const chars = ['a', 'é', '€', '😀', '\\u{10ffff}', 'z'];
      let problems = 0;
      for (let round = 0; round < 300; round++) {
        let text = '';
        for (let n = next() % 60; n > 0; n--) text += chars[next() % chars.length];
        const bytes = Buffer.from(text);
        if (round % 2 && bytes.length) bytes[next() % bytes.length] = [0x80, 0xc0, 0xed, 0xff][next() % 4];
        const stream = new b.Utf8Stream();
        let ok = true;
        for (let at = 0; at < bytes.length && ok; at += 3) ok = stream.feed(bytes.subarray(at, at + 3));
        if ((ok && stream.finish()) !== isUtf8(bytes)) problems++;
      }
      process.stdout.write(JSON.stringify([b.kernelInfo().isa, problems]));`;
    for (const isa of available) {
      const result = spawnSync(process.execPath, ['-e', code], {
        env: { ...process.env, WSN_FORCE_ISA: isa },
        encoding: 'utf8'
      });
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual([isa, 0]);
    }
  });
});
