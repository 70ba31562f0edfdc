// Replays every fuzzer input kept in the repository -- native/fuzz/regressions/<target>/ (inputs
// that once broke an invariant) and native/fuzz/seeds/<target>/ -- through the Node binding,
// decoded exactly as the libFuzzer target decodes it. Each must run without a crash or a thrown
// error and give a clean result: the target's invariants (events inside the chunk, payloads
// within maxPayload, sticky errors, split invariance, inflate limits, agreement with the
// references) hold at the binding level too.

import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const binding = require('../../lib/binding.js');
const wsExtension = require('ws').extension;

const FUZZ_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../native/fuzz'
);

// binding.d.ts ParserStatus values used here.
const STATUS_MESSAGE_TOO_BIG = 9;
const STATUS_INFLATE_FAILED = 13;
const STATUS_LAST_FAULT = 14;
const STATUS_INFLATE_PENDING = 15;

/** xorshift32, as the fuzz targets' Chunker: the same input gives the same cuts. */
function makeChunker(high, low, largest) {
  let state = ((Math.imul((high << 8) | low, 0x9e3779b1) | 1) >>> 0) >>> 0;
  return {
    largest,
    next() {
      state = (state ^ (state << 13)) >>> 0;
      state = (state ^ (state >>> 17)) >>> 0;
      state = (state ^ (state << 5)) >>> 0;
      return state;
    }
  };
}

// ---- frame_parser_fuzz ------------------------------------------------------------------------

const MAX_PAYLOAD_CHOICES = [
  0,
  1,
  2,
  125,
  126,
  127,
  1000,
  65535,
  65536,
  1 << 20
];
const MAX_FRAGMENT_CHOICES = [0, 1, 2, 3, 8, 131072];
const MAX_CHUNK_CHOICES = [0, 1, 2, 3, 16, 1048576];
const LARGEST_CHUNK_CHOICES = [1, 2, 3, 7, 16, 64, 1024, Infinity];

/** Feeds `stream` in the chunker's cuts; checks each call; returns what a user would see. */
function runParser(options, stream, chunker) {
  const parser = new binding.FrameParser(options);
  const words = binding.parserEvents;
  const seen = [];
  let position = 0;
  while (position < stream.length) {
    const left = stream.length - position;
    const size =
      chunker.largest === Infinity
        ? left
        : Math.min(left, 1 + (chunker.next() % chunker.largest));
    // A private copy: the parser unmasks in place.
    const chunk = Buffer.from(stream.subarray(position, position + size));
    let start = 0;
    let pausedWithoutProgress = false;
    for (;;) {
      const count = parser.execute(chunk, start);
      const [eventCount, consumed, status, detail] = words;
      const owned = parser.takeOwned();
      expect(eventCount).toBe(count);
      expect(consumed).toBeLessThanOrEqual(chunk.length - start);
      for (let i = 0; i < count; i++) {
        const base = 4 + 4 * i;
        const opcode = words[base] & 0xff;
        const isOwned = (words[base] & 0x100) !== 0;
        const where = words[base + 1];
        const length = words[base + 2];
        expect([1, 2, 8, 9, 10]).toContain(opcode);
        let payload;
        if (isOwned) {
          expect(where).toBeLessThan(owned.length);
          payload = owned[where];
          expect(payload.length).toBe(length);
        } else {
          expect(where).toBeGreaterThanOrEqual(start);
          expect(where + length).toBeLessThanOrEqual(start + consumed);
          payload = chunk.subarray(where, where + length);
        }
        if (opcode >= 8) expect(length).toBeLessThanOrEqual(125);
        else if (options.maxPayload !== 0)
          expect(length).toBeLessThanOrEqual(options.maxPayload);
        seen.push({
          opcode,
          closeCode: words[base + 3],
          hex: Buffer.from(payload).toString('hex')
        });
      }
      if (status === STATUS_INFLATE_PENDING) {
        // Not a fault: input is left, and the next call (full budget) makes progress.
        expect(consumed).toBeLessThan(chunk.length - start);
        const progress = consumed !== 0 || count !== 0;
        expect(progress || !pausedWithoutProgress).toBe(true);
        pausedWithoutProgress = !progress;
        start += consumed;
        continue;
      }
      pausedWithoutProgress = false;
      if (status !== 0) {
        expect(status).toBeLessThanOrEqual(STATUS_LAST_FAULT);
        // Sticky: the same error, nothing consumed, no events.
        expect(parser.execute(Buffer.from([0x81, 0x00]), 0)).toBe(0);
        expect([words[1], words[2], words[3]]).toEqual([0, status, detail]);
        expect(parser.bufferedBytes).toBe(0);
        return { seen, status, detail };
      }
      start += consumed;
      if (start === chunk.length) break;
      expect(count).toBe(1024); // stopped early only with the event area full
    }
    position += size;
  }
  return { seen, status: 0, detail: 0 };
}

function replayFrameParser(data) {
  if (data.length < 8) return;
  const options = {
    isServer: (data[0] & 1) === 0,
    perMessageDeflate: (data[0] & 2) !== 0,
    skipUTF8Validation: (data[0] & 4) !== 0,
    inflateNoContextTakeover: (data[0] & 8) !== 0,
    inflateWindowBits: 8 + ((data[0] >> 4) & 7),
    maxPayload: MAX_PAYLOAD_CHOICES[data[1] % MAX_PAYLOAD_CHOICES.length],
    maxFragments: MAX_FRAGMENT_CHOICES[data[2] % MAX_FRAGMENT_CHOICES.length],
    maxBufferedChunks: MAX_CHUNK_CHOICES[data[3] % MAX_CHUNK_CHOICES.length]
  };
  const largest = LARGEST_CHUNK_CHOICES[data[7] % LARGEST_CHUNK_CHOICES.length];
  const stream = data.subarray(8);
  const split = runParser(
    options,
    stream,
    makeChunker(data[5], data[6], largest)
  );
  const whole = runParser(options, stream, makeChunker(0, 0, Infinity));
  if (options.maxBufferedChunks !== 0) return; // piece counts depend on the cuts by design
  expect(split).toEqual(whole);
}

// ---- utf8_fuzz ----------------------------------------------------------------------------------

/** RFC 3629: the kernel contract's answer (length, last boundary if truncated, -1 if invalid). */
function referencePrefix(bytes) {
  let boundary = 0;
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i];
    let needed;
    let low = 0x80;
    let high = 0xbf;
    if (lead < 0x80) needed = 0;
    else if (lead >= 0xc2 && lead <= 0xdf) needed = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      needed = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      needed = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return -1;
    for (let k = 1; k <= needed; k++) {
      if (i + k >= bytes.length) return boundary;
      const next = bytes[i + k];
      if (next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf))
        return -1;
    }
    i += needed + 1;
    boundary = i;
  }
  return boundary;
}

function replayUtf8(data) {
  if (data.length < 1) return;
  const splitCount = data[0] % 8;
  if (data.length < 1 + splitCount) return;
  const text = Buffer.from(data.subarray(1 + splitCount));
  const valid = referencePrefix(text) === text.length;
  expect(isUtf8(text)).toBe(valid);
  expect(binding.isValidUtf8(text)).toBe(valid);
  for (const isa of binding.kernelInfo().available) {
    expect(binding.isValidUtf8With(isa, text)).toBe(valid);
  }
  const cuts = [];
  for (let i = 0; i < splitCount; i++) {
    cuts.push(text.length === 0 ? 0 : data[1 + i] % (text.length + 1));
  }
  cuts.sort((a, b) => a - b).push(text.length);
  const stream = new binding.Utf8Stream();
  let from = 0;
  let alive = true;
  for (const cut of cuts) {
    const accepted = stream.feed(text.subarray(from, cut));
    expect(accepted).toBe(
      alive && referencePrefix(text.subarray(0, cut)) !== -1
    );
    alive = accepted;
    from = cut;
  }
  expect(stream.finish()).toBe(valid);
}

// ---- inflate_fuzz ------------------------------------------------------------------------------

const LIMIT_CHOICES = [1, 2, 100, 1024, 4096, 65536, 1 << 20];
const INFLATE_LARGEST_CHOICES = [1, 2, 5, 16, 100, 4096];
const LEVEL_CHOICES = [-1, 0, 1, 6, 9, 9, 1, -1];
const MAX_ZLIB_STATE_BYTES = 64 * 1024;

function cutFrames(bytes, chunker) {
  const frames = [];
  let position = 0;
  do {
    const left = bytes.length - position;
    const take =
      left === 0 ? 0 : Math.min(left, 1 + (chunker.next() % chunker.largest));
    frames.push(bytes.subarray(position, position + take));
    position += take;
  } while (position < bytes.length);
  return frames;
}

/** Inflates one message; returns the output Buffer or the failure status. */
function inflateMessage(inflater, frames, limit) {
  const parts = [];
  let total = 0;
  for (let i = 0; i < frames.length; i++) {
    const result = inflater.inflate(frames[i], i === frames.length - 1, limit);
    expect(inflater.memoryBytes).toBeLessThanOrEqual(MAX_ZLIB_STATE_BYTES);
    if (typeof result === 'number') {
      expect([STATUS_MESSAGE_TOO_BIG, STATUS_INFLATE_FAILED]).toContain(result);
      expect(inflater.memoryBytes).toBe(0);
      return result;
    }
    total += result.length;
    expect(total).toBeLessThanOrEqual(limit);
    parts.push(result);
  }
  return Buffer.concat(parts);
}

function replayInflate(data) {
  if (data.length < 5) return;
  const roundTrip = (data[0] & 1) !== 0;
  const noContextTakeover = (data[0] & 2) !== 0;
  const windowBits = 8 + ((data[0] >> 2) & 7);
  const level = LEVEL_CHOICES[(data[0] >> 5) & 7];
  const limit = LIMIT_CHOICES[data[1] % LIMIT_CHOICES.length];
  const chunker = makeChunker(
    data[2],
    data[3],
    INFLATE_LARGEST_CHOICES[data[4] % INFLATE_LARGEST_CHOICES.length]
  );
  const body = data.subarray(5);
  const inflater = new binding.Inflater(windowBits, noContextTakeover);
  let position = 0;
  if (!roundTrip) {
    while (position < body.length) {
      const size = Math.min(
        body.length - position,
        1 + (chunker.next() % (4 * chunker.largest))
      );
      const result = inflateMessage(
        inflater,
        cutFrames(body.subarray(position, position + size), chunker),
        limit
      );
      if (typeof result !== 'number' && noContextTakeover)
        expect(inflater.memoryBytes).toBe(0);
      position += size;
    }
    return;
  }
  const deflater = new binding.Deflater({
    windowBits,
    level,
    noContextTakeover
  });
  for (let message = 0; message < 256 && position < body.length; message++) {
    const size = Math.min(
      body.length - position,
      chunker.next() % (4 * chunker.largest + 1)
    );
    const plain = body.subarray(position, position + size);
    const parts = cutFrames(plain, chunker);
    const frames = parts.map((part, i) =>
      deflater.compress(part, i === parts.length - 1)
    );
    const result = inflateMessage(inflater, frames, limit);
    if (size > limit) {
      expect(result).toBe(STATUS_MESSAGE_TOO_BIG);
      return;
    }
    expect(Buffer.isBuffer(result) && result.equals(plain)).toBe(true);
    position += size;
  }
}

// ---- extension_fuzz, handshake_fuzz ------------------------------------------------------------

function outcome(fn) {
  try {
    return { value: fn() };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

function replayExtension(data) {
  // Each byte one character, as Node's HTTP parser hands header values over.
  const header = data.toString('latin1');
  const ours = outcome(() => binding.parseExtensions(header));
  expect(ours).toEqual(outcome(() => wsExtension.parse(header)));
}

function replayHandshake(data) {
  const key = data.toString('latin1');
  expect(binding.isValidKey(key)).toBe(/^[+/0-9A-Za-z]{22}==$/.test(key));
  if (data.length <= 64) {
    const expected = crypto
      .createHash('sha1')
      .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
      .digest('base64');
    expect(binding.acceptKey(key)).toBe(expected);
  }
}

// ---- the corpus ---------------------------------------------------------------------------------

const REPLAYERS = {
  frame_parser_fuzz: replayFrameParser,
  utf8_fuzz: replayUtf8,
  inflate_fuzz: replayInflate,
  extension_fuzz: replayExtension,
  handshake_fuzz: replayHandshake
};

function inputsOf(kind, target) {
  const dir = path.join(FUZZ_DIR, kind, target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => path.join(dir, name))
    .filter((file) => fs.statSync(file).isFile());
}

describe('fuzz corpus replayed through the binding', () => {
  it('every fuzz target has a replayer and a seed corpus', () => {
    const targets = fs
      .readdirSync(FUZZ_DIR)
      .filter((name) => name.endsWith('_fuzz.cc'))
      .map((name) => name.slice(0, -3))
      .sort();
    expect(targets).toEqual(Object.keys(REPLAYERS).sort());
    for (const target of targets)
      expect(inputsOf('seeds', target).length).toBeGreaterThan(0);
    // A regression is filed under a known target.
    const regressionsDir = path.join(FUZZ_DIR, 'regressions');
    const filed = fs.existsSync(regressionsDir)
      ? fs.readdirSync(regressionsDir)
      : [];
    for (const target of filed)
      expect(Object.keys(REPLAYERS)).toContain(target);
  });

  for (const [target, replay] of Object.entries(REPLAYERS)) {
    describe(target, () => {
      for (const kind of ['regressions', 'seeds']) {
        for (const file of inputsOf(kind, target)) {
          it(`${kind}/${path.basename(file)}`, () => {
            replay(fs.readFileSync(file));
          });
        }
      }
    });
  }
});
