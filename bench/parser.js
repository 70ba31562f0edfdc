'use strict';

// How fast is the frame parser? Three questions, all measured in this run:
//
// 1. Receiving: masked frames of 16 B, 1 KiB and 64 KiB (server role), binary and text, sent
//    back to back and cut into 64 KiB socket chunks. The native FrameParser (execute, read the
//    result area, take owned payloads, make a Buffer per payload: the work lib/receiver.js cannot
//    skip), lib/receiver.js over it, and ws's own Receiver with and without bufferutil, all fed
//    the same chunks. Frames/s and payload MB/s.
// 2. One pass: a masked 64 KiB text frame parsed natively (unmask a 16 KiB block, validate it
//    while it is in L1) against two passes: bufferutil.unmask then buffer.isUtf8 (what ws does),
//    and our own unmask then isValidUtf8.
// 3. Owned payloads: what handing a reassembled message to JS costs per size (takeOwned copies
//    below a threshold and hands over the malloc'd block above it).
//
//   taskset -c 1 node bench/parser.js            about a minute
//   taskset -c 1 node bench/parser.js --quick    about 15 seconds
//
// Parsing unmasks in place, so text chunks are restored from a pristine copy before they are fed
// again (binary chunks need no restore: unmasking twice gives the masked bytes back, and their
// content is never inspected).

const { isUtf8 } = require('buffer');
const os = require('os');
const path = require('path');
const { setImmediate: tick } = require('timers/promises');

const binding = require('../lib/binding');
const bufferUtil = require('bufferutil');
const { makeRandom } = require('./loadgen/random');

const QUICK = process.argv.includes('--quick');
// Many short samples, best kept: on a shared machine a short sample is more likely to fall in a
// quiet moment than a long one is to avoid every interruption.
const SAMPLE_NS = QUICK ? 10e6 : 20e6;
const SAMPLES = QUICK ? 8 : 25;
const CHUNK_BYTES = 64 * 1024;
const STREAM_BYTES = QUICK ? 1 << 21 : 1 << 22;
const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const FastBuffer = Buffer[Symbol.species];

const SERVER_OPTIONS = {
  isServer: true,
  maxPayload: 0,
  maxFragments: 0,
  maxBufferedChunks: 0,
  skipUTF8Validation: false,
  perMessageDeflate: false
};

/**
 * Valid UTF-8 of exactly `size` bytes: 'ascii', or 'mixed' (a third ASCII, a third 2-byte, a
 * sixth 3-byte, a sixth 4-byte characters at random).
 *
 * @param {'ascii'|'mixed'} kind
 * @param {number} size
 * @return {Buffer}
 */
function makeText(kind, size) {
  const next = makeRandom(size + 1);
  if (kind === 'ascii') {
    const text = Buffer.alloc(size);
    for (let i = 0; i < size; i++) text[i] = 0x20 + (next() % 95);
    return text;
  }
  const parts = [];
  let length = 0;
  while (length < size) {
    const pick = next() % 6;
    let char;
    if (pick < 2) char = String.fromCharCode(0x20 + (next() % 95));
    else if (pick < 4) char = String.fromCharCode(0x410 + (next() % 64));
    else if (pick < 5) char = String.fromCharCode(0x4e00 + (next() % 0x5000));
    else char = String.fromCodePoint(0x1f600 + (next() % 80));
    const bytes = Buffer.from(char);
    const room = size - length;
    const piece = bytes.length <= room ? bytes : Buffer.alloc(room, 0x20);
    parts.push(piece);
    length += piece.length;
  }
  return Buffer.concat(parts);
}

/**
 * Loads a fresh copy of ws, with or without bufferutil (ws reads WS_NO_BUFFER_UTIL when its
 * buffer-util module loads).
 *
 * @param {boolean} withBufferUtil
 * @return {Object} the ws module
 */
function loadWs(withBufferUtil) {
  const wsRoot = path.dirname(require.resolve('ws/package.json')) + path.sep;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(wsRoot)) delete require.cache[key];
  }
  const saved = process.env.WS_NO_BUFFER_UTIL;
  if (withBufferUtil) delete process.env.WS_NO_BUFFER_UTIL;
  else process.env.WS_NO_BUFFER_UTIL = '1';
  try {
    return require('ws');
  } finally {
    if (saved === undefined) delete process.env.WS_NO_BUFFER_UTIL;
    else process.env.WS_NO_BUFFER_UTIL = saved;
  }
}

/**
 * Times `pass` (sync or async), calibrated to about SAMPLE_NS per sample. `prepare`, when given,
 * runs before every pass outside the timing (to restore input that parsing changed).
 *
 * @param {Function} pass one unit of work
 * @param {Function} [prepare]
 * @return {Promise<{ run: function(): Promise<number> }>} run() gives nanoseconds per pass
 */
async function calibrate(pass, prepare) {
  const timed = async (iterations) => {
    let elapsed = 0;
    for (let i = 0; i < iterations; i++) {
      if (prepare) prepare();
      const start = process.hrtime.bigint();
      await pass();
      elapsed += Number(process.hrtime.bigint() - start);
    }
    return elapsed;
  };
  let iterations = 1;
  for (;;) {
    const elapsed = await timed(iterations);
    if (elapsed > SAMPLE_NS / 10) {
      iterations = Math.max(1, Math.ceil((iterations * SAMPLE_NS) / elapsed));
      break;
    }
    iterations *= 2;
  }
  return { run: async () => (await timed(iterations)) / iterations };
}

/**
 * Runs candidates in interleaved samples, so they share the machine's mood; returns the best
 * nanoseconds per pass of each. A candidate is a pass function or { pass, prepare }.
 *
 * @param {Object<string, (Function|Object)>} candidates
 * @return {Promise<Object<string, number>>}
 */
async function race(candidates) {
  const runners = {};
  const best = {};
  for (const [name, candidate] of Object.entries(candidates)) {
    runners[name] =
      typeof candidate === 'function'
        ? await calibrate(candidate)
        : await calibrate(candidate.pass, candidate.prepare);
    best[name] = Infinity;
  }
  for (let sample = 0; sample < SAMPLES; sample++) {
    for (const name of Object.keys(runners)) {
      best[name] = Math.min(best[name], await runners[name].run());
    }
  }
  return best;
}

/**
 * Cuts a byte stream into socket-sized chunks.
 *
 * @param {Buffer} stream
 * @return {Buffer[]}
 */
function toChunks(stream) {
  const chunks = [];
  for (let offset = 0; offset < stream.length; offset += CHUNK_BYTES) {
    chunks.push(Buffer.from(stream.subarray(offset, offset + CHUNK_BYTES)));
  }
  return chunks;
}

/**
 * `count` copies of `unit` in chunks of as many whole units as fit in CHUNK_BYTES (at least one),
 * so no unit is cut by a chunk boundary.
 *
 * @param {Buffer} unit
 * @param {number} count
 * @return {Buffer[]}
 */
function packChunks(unit, count) {
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / unit.length));
  const chunks = [];
  for (let left = count; left > 0; left -= perChunk) {
    chunks.push(Buffer.concat(Array(Math.min(perChunk, left)).fill(unit)));
  }
  return chunks;
}

/**
 * Feeds one chunk to a native parser the way a receiver must: result words copied out, owned
 * payloads taken, a Buffer per payload. Returns the number of messages.
 *
 * @param {binding.FrameParser} parser
 * @param {Buffer} chunk
 * @param {Function} sink receives each payload
 * @return {number}
 */
function nativeFeed(parser, chunk, sink) {
  const area = binding.parserEvents;
  let start = 0;
  let messages = 0;
  while (start < chunk.length) {
    const count = parser.execute(chunk, start);
    const consumed = area[1];
    if (area[2] !== 0) throw new Error(`parse failed: status ${area[2]}`);
    let owned = null;
    for (let i = 0, base = 4; i < count; i++, base += 4) {
      const word = area[base];
      if (word & 0x100) {
        if (owned === null) owned = parser.takeOwned();
        sink(owned[area[base + 1]]);
      } else {
        sink(
          new FastBuffer(
            chunk.buffer,
            chunk.byteOffset + area[base + 1],
            area[base + 2]
          )
        );
      }
    }
    messages += count;
    start += consumed;
  }
  return messages;
}

/**
 * Section 1: frames per second through each receiver.
 */
async function receiving() {
  let nativeReceiver = null;
  try {
    nativeReceiver = require('../lib/receiver');
  } catch (error) {
    console.log(
      `(lib/receiver.js not loadable: ${error.message}; its column is skipped)`
    );
  }
  const wsBu = loadWs(true);
  const wsJs = loadWs(false);

  const rows = [];
  for (const opcode of [2, 1]) {
    for (const size of [16, 1024, 65536]) {
      const payload =
        opcode === 1 ? makeText('mixed', size) : makeText('ascii', size);
      const frameBytes = binding.frame(
        payload,
        opcode,
        binding.FIN | binding.MASK,
        KEY
      );
      const frameCount = Math.max(
        4,
        Math.floor(STREAM_BYTES / frameBytes.length)
      );
      const stream = Buffer.concat(Array(frameCount).fill(frameBytes));
      const pristine = toChunks(stream);
      const chunks = pristine.map((chunk) => Buffer.from(chunk));
      // Text must be valid again on every pass: restore what unmasking changed, untimed. Binary
      // content is never looked at, so unmasking it twice does no harm.
      const prepare =
        opcode === 1
          ? () => {
              for (let i = 0; i < chunks.length; i++)
                chunks[i].set(pristine[i]);
            }
          : undefined;

      let sunk = 0;
      const sink = (data) => {
        sunk += data.length;
      };
      const check = (name, messages) => {
        if (messages !== frameCount) {
          throw new Error(
            `${name}: ${messages} messages, expected ${frameCount}`
          );
        }
      };
      // One socket chunk per event-loop turn, as a server sees them: deferred work (Buffer
      // finalizers, GC) lands inside the timing of whoever caused it.
      const candidates = {};
      candidates['native parser'] = {
        prepare,
        async pass() {
          const parser = new binding.FrameParser(SERVER_OPTIONS);
          let messages = 0;
          for (let i = 0; i < chunks.length; i++) {
            messages += nativeFeed(parser, chunks[i], sink);
            await tick();
          }
          check('native parser', messages);
        }
      };
      const receiverPass = (name, Receiver) => async () => {
        const receiver = new Receiver({ isServer: true, maxPayload: 0 });
        let messages = 0;
        receiver.on('message', (data) => {
          messages++;
          sunk += data.length;
        });
        receiver.on('error', (error) => {
          throw error;
        });
        for (let i = 0; i < chunks.length; i++) {
          receiver.write(chunks[i]);
          await tick();
        }
        check(name, messages);
      };
      if (nativeReceiver) {
        candidates['ws-native Receiver'] = {
          prepare,
          pass: receiverPass('ws-native Receiver', nativeReceiver)
        };
      }
      candidates['ws+bufferutil Receiver'] = {
        prepare,
        pass: receiverPass('ws+bufferutil', wsBu.Receiver)
      };
      candidates['ws (JS) Receiver'] = {
        prepare,
        pass: receiverPass('ws (JS)', wsJs.Receiver)
      };

      const best = await race(candidates);
      const result = {
        kind: opcode === 1 ? 'text' : 'binary',
        size,
        frameCount,
        best: {}
      };
      for (const [name, ns] of Object.entries(best)) {
        result.best[name] = {
          framesPerSecond: (frameCount / ns) * 1e9,
          megabytesPerSecond: ((frameCount * size) / ns) * 1e3
        };
      }
      rows.push(result);
      if (sunk === 0) throw new Error('nothing received');
    }
  }

  console.log(
    `\n1. Receiving masked frames (server role), ${CHUNK_BYTES / 1024} KiB chunks, one per ` +
      `event-loop turn, ${STREAM_BYTES >> 20} MiB per pass`
  );
  const names = Object.keys(rows[0].best);
  console.log(
    [
      'frames',
      ...names.map((name) => `${name} (frames/s, MB/s)`),
      'native/ws+bu'
    ].join(' | ')
  );
  for (const row of rows) {
    const cells = names.map((name) => {
      const { framesPerSecond, megabytesPerSecond } = row.best[name];
      const frames =
        framesPerSecond >= 1e6
          ? `${(framesPerSecond / 1e6).toFixed(2)}M`
          : `${(framesPerSecond / 1e3).toFixed(1)}k`;
      return `${frames}, ${megabytesPerSecond.toFixed(0)}`;
    });
    const ratio =
      row.best['native parser'].framesPerSecond /
      row.best['ws+bufferutil Receiver'].framesPerSecond;
    console.log(
      [`${row.kind} ${row.size} B`, ...cells, `${ratio.toFixed(2)}x`].join(
        ' | '
      )
    );
  }
}

/**
 * Section 2: unmask + validate in one pass against two. Each pass works through COPIES
 * restored copies of the frame (512 KiB: about one L2), restored untimed between passes.
 */
async function onePass() {
  const COPIES = 8;
  console.log(
    '\n2. A masked 64 KiB text frame: unmask + UTF-8 validation (GB/s of payload)'
  );
  console.log(
    'text | native parser (one pass) | bufferutil.unmask + isUtf8 | ' +
      'binding.unmask + isValidUtf8 | one pass / bufferutil'
  );
  for (const kind of ['ascii', 'mixed']) {
    const payload = makeText(kind, 65536);
    const pristine = binding.frame(payload, 1, binding.FIN | binding.MASK, KEY);
    const frames = Array.from({ length: COPIES }, () => Buffer.from(pristine));
    const payloads = frames.map((frame) => frame.subarray(14));
    const prepare = () => {
      for (const frame of frames) frame.set(pristine);
    };
    const parser = new binding.FrameParser(SERVER_OPTIONS);
    const best = await race({
      'native parser': {
        prepare,
        pass() {
          for (const frame of frames) {
            if (
              parser.execute(frame, 0) !== 1 ||
              binding.parserEvents[2] !== 0
            ) {
              throw new Error('native parse failed');
            }
          }
        }
      },
      bufferutil: {
        prepare,
        pass() {
          for (const text of payloads) {
            bufferUtil.unmask(text, KEY);
            if (!isUtf8(text)) throw new Error('bufferutil path: invalid');
          }
        }
      },
      'binding two-pass': {
        prepare,
        pass() {
          for (const text of payloads) {
            binding.unmask(text, KEY);
            if (!binding.isValidUtf8(text))
              throw new Error('binding path: invalid');
          }
        }
      }
    });
    const gbps = (ns) => ((65536 * COPIES) / ns).toFixed(2);
    console.log(
      [
        kind,
        gbps(best['native parser']),
        gbps(best.bufferutil),
        gbps(best['binding two-pass']),
        `${(best.bufferutil / best['native parser']).toFixed(2)}x`
      ].join(' | ')
    );
  }
}

/**
 * Section 3: the cost of handing a reassembled (owned) payload to JS, by size, against the same
 * messages unfragmented (spans of the chunk).
 */
async function ownedPayloads() {
  console.log(
    '\n3. Owned payloads: 2-fragment binary messages, whole messages per chunk (up to 64 KiB), ' +
      'one chunk per turn (ns/message)'
  );
  console.log('size | owned (fragmented) | span (one frame)');
  for (const size of [64, 256, 512, 1024, 2048, 4096, 16384, 65536, 1 << 20]) {
    const half = size >> 1;
    const data = makeText('ascii', size);
    const message = Buffer.concat([
      binding.frame(data.subarray(0, half), 2, binding.MASK, KEY),
      binding.frame(data.subarray(half), 0, binding.FIN | binding.MASK, KEY)
    ]);
    const single = binding.frame(data, 2, binding.FIN | binding.MASK, KEY);
    const count = Math.max(
      4,
      Math.floor((QUICK ? 1 << 20 : 1 << 22) / message.length)
    );
    const fragmented = packChunks(message, count);
    const whole = packChunks(single, count);
    let sunk = 0;
    const sink = (payload) => {
      sunk += payload.length;
    };
    const feedAll = (chunks) => async () => {
      const parser = new binding.FrameParser(SERVER_OPTIONS);
      let messages = 0;
      for (const chunk of chunks) {
        messages += nativeFeed(parser, chunk, sink);
        await tick();
      }
      if (messages !== count)
        throw new Error(`${messages} messages, expected ${count}`);
    };
    const best = await race({
      owned: feedAll(fragmented),
      spans: feedAll(whole)
    });
    console.log(
      [
        size,
        (best.owned / count).toFixed(0),
        (best.spans / count).toFixed(0)
      ].join(' | ')
    );
    if (sunk === 0) throw new Error('nothing received');
  }
}

async function main() {
  const cpus = os.cpus();
  console.log(
    `ws-native parser bench: node ${process.version}, ` +
      `${cpus[0] ? cpus[0].model : 'unknown CPU'}, kernels ${binding.kernelInfo().isa}, ` +
      `best of ${SAMPLES} samples${QUICK ? ' (quick)' : ''}`
  );
  await receiving();
  await onePass();
  await ownedPayloads();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
