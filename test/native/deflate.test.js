// Binding-level tests of permessage-deflate (RFC 7692 §7.2): the §7.2.3 examples byte for byte,
// round trips at every window size checked by Node's zlib both ways, connections taking turns on
// the per-thread stream pool, the inflate limit against a 1 GiB decompression bomb, corrupt input,
// the memory a connection holds (history only between messages), and the threadpool variants.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { makeRandom } from '../helpers/random.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const binding = require(path.join(ROOT, 'lib', 'binding.js'));

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MESSAGE_TOO_BIG = 9;
const INFLATE_FAILED = 13;
const HELLO = Buffer.from('Hello');
const HELLO_COMPRESSED = Buffer.from([
  0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00
]);
const HELLO_AGAIN = Buffer.from([0xf2, 0x00, 0x11, 0x00, 0x00]);

/**
 * Text-like bytes with repeats reaching up to 600 bytes back, so small windows matter.
 *
 * @param {function(): number} random
 * @param {number} length
 * @return {Buffer}
 */
function textLike(random, length) {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    bytes[i] =
      i > 600 && random() % 3 !== 0
        ? bytes[i - 300 - (random() % 300)]
        : 0x61 + (random() % 26);
  }
  return bytes;
}

/**
 * Byte equality without vitest's element-by-element diff, which is slow on large Buffers; the
 * full diff still runs when they differ.
 *
 * @param {*} actual
 * @param {Buffer} expected
 */
function expectBytes(actual, expected) {
  if (!Buffer.isBuffer(actual) || !actual.equals(expected)) {
    expect(actual).toEqual(expected);
  }
}

/**
 * Promisified compressAsync.
 *
 * @param {Object} deflater
 * @param {Buffer} data
 * @param {boolean} fin
 * @return {Promise<Buffer>}
 */
function compressAsync(deflater, data, fin) {
  return new Promise((resolve, reject) => {
    deflater.compressAsync(data, fin, (error, result) => {
      if (error) reject(error);
      else resolve(result);
    });
  });
}

/**
 * Promisified inflateAsync: resolves with the Buffer, or with the status number on failure.
 *
 * @param {Object} inflater
 * @param {Buffer} data
 * @param {boolean} fin
 * @param {number} maxPayload
 * @return {Promise<Buffer|number>}
 */
function inflateAsync(inflater, data, fin, maxPayload) {
  return new Promise((resolve) => {
    inflater.inflateAsync(data, fin, maxPayload, (status, result) => {
      resolve(status === 0 ? result : status);
    });
  });
}

/**
 * Compresses messages with a Node zlib stream as ws does: a sync flush per message, tail removed.
 *
 * @param {Buffer[]} messages
 * @param {Object} options zlib options (windowBits)
 * @param {boolean} noContextTakeover a new stream per message
 * @return {Promise<Buffer[]>}
 */
async function nodeDeflateMessages(messages, options, noContextTakeover) {
  const results = [];
  let stream = null;
  for (const message of messages) {
    if (!stream) stream = zlib.createDeflateRaw(options);
    const chunks = [];
    const onData = (chunk) => chunks.push(chunk);
    stream.on('data', onData);
    stream.write(message);
    await new Promise((resolve) =>
      stream.flush(zlib.constants.Z_SYNC_FLUSH, resolve)
    );
    stream.off('data', onData);
    const bytes = Buffer.concat(chunks);
    results.push(bytes.subarray(0, bytes.length - 4));
    if (noContextTakeover) {
      stream.close();
      stream = null;
    }
  }
  if (stream) stream.close();
  return results;
}

describe('Deflater and Inflater: RFC 7692 §7.2.3 examples', () => {
  it('compresses "Hello" to f2 48 cd c9 c9 07 00 (§7.2.3.1)', () => {
    const deflater = new binding.Deflater({});
    expect(deflater.compress(HELLO, true)).toEqual(HELLO_COMPRESSED);
  });

  it('compresses a second "Hello" to f2 00 11 00 00 with context takeover (§7.2.3.2)', () => {
    const deflater = new binding.Deflater({ noContextTakeover: false });
    expect(deflater.compress(HELLO, true)).toEqual(HELLO_COMPRESSED);
    expect(deflater.compress(HELLO, true)).toEqual(HELLO_AGAIN);

    const inflater = new binding.Inflater(15, false);
    expect(inflater.inflate(HELLO_COMPRESSED, true, 0)).toEqual(HELLO);
    expect(inflater.inflate(HELLO_AGAIN, true, 0)).toEqual(HELLO);
  });

  it('compresses every message alike without context takeover (§7.1.1)', () => {
    const deflater = new binding.Deflater({ noContextTakeover: true });
    for (let i = 0; i < 3; i++) {
      expect(deflater.compress(HELLO, true)).toEqual(HELLO_COMPRESSED);
    }
  });

  it('inflates the stored-block example 00 05 00 fa ff 48 65 6c 6c 6f 00 (§7.2.3.3)', () => {
    const inflater = new binding.Inflater(15, false);
    const stored = Buffer.from([
      0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00
    ]);
    expect(inflater.inflate(stored, true, 0)).toEqual(HELLO);
  });

  it('inflates the fragmented example f2 48 cd | c9 c9 07 00 (§7.2.3.1)', () => {
    const inflater = new binding.Inflater(15, false);
    const first = inflater.inflate(Buffer.from([0xf2, 0x48, 0xcd]), false, 0);
    const second = inflater.inflate(
      Buffer.from([0xc9, 0xc9, 0x07, 0x00]),
      true,
      0
    );
    expect(Buffer.concat([first, second])).toEqual(HELLO);
  });

  it('inflates a message whose block has BFINAL set, then a new stream (§7.2.3.4)', () => {
    const inflater = new binding.Inflater(15, false);
    const final = Buffer.from([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
    expect(inflater.inflate(final, true, 0)).toEqual(HELLO);
    expect(inflater.inflate(HELLO_COMPRESSED, true, 0)).toEqual(HELLO);
  });

  it('sends an empty message as the single byte 00 (§7.2.3.6)', () => {
    const deflater = new binding.Deflater({});
    const inflater = new binding.Inflater(15, false);
    for (let i = 0; i < 3; i++) {
      const compressed = deflater.compress(Buffer.alloc(0), true);
      expect(compressed).toEqual(Buffer.from([0x00]));
      expect(inflater.inflate(compressed, true, 0)).toEqual(Buffer.alloc(0));
    }
  });

  it('keeps the tail on a non-final fragment, as the receiver appends it once (§7.2.1)', () => {
    const deflater = new binding.Deflater({});
    const fragment = deflater.compress(Buffer.from('Hel'), false);
    expect(fragment.subarray(-4)).toEqual(TAIL);
    const last = deflater.compress(Buffer.from('lo'), true);
    expect(last.subarray(-4)).not.toEqual(TAIL);
    const whole = Buffer.concat([fragment, last, TAIL]);
    expect(
      zlib.inflateRawSync(whole, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
    ).toEqual(HELLO);
  });
});

describe('Deflater and Inflater: round trips checked by Node zlib', () => {
  for (let windowBits = 8; windowBits <= 15; windowBits++) {
    for (const noContextTakeover of [false, true]) {
      it(`windowBits ${windowBits}, ${noContextTakeover ? 'no ' : ''}context takeover`, async () => {
        const random = makeRandom(windowBits * 2 + (noContextTakeover ? 1 : 0));
        const messages = [];
        for (let i = 0; i < 5; i++) {
          messages.push(textLike(random, random() % 40000));
        }
        const deflater = new binding.Deflater({
          windowBits,
          noContextTakeover
        });
        const inflater = new binding.Inflater(windowBits, noContextTakeover);
        const wire = [];

        for (const message of messages) {
          // Fragments of random size; every fragment but the last keeps its sync-flush tail.
          const parts = [];
          let offset = 0;
          do {
            const size = Math.min(
              message.length - offset,
              1 + (random() % 15000)
            );
            const fin = offset + size === message.length;
            parts.push(
              deflater.compress(message.subarray(offset, offset + size), fin)
            );
            offset += size;
          } while (offset < message.length);
          const compressed = Buffer.concat(parts);
          wire.push(compressed);
          expectBytes(inflater.inflate(compressed, true, 0), message);
        }

        // Node's inflater with exactly this window (RFC 7692 §7.1.2: no reference beyond it).
        // With takeover the messages form one stream once each gets its tail back.
        const nodeOptions = {
          windowBits,
          finishFlush: zlib.constants.Z_SYNC_FLUSH
        };
        if (noContextTakeover) {
          for (let i = 0; i < wire.length; i++) {
            const bytes = Buffer.concat([wire[i], TAIL]);
            expectBytes(zlib.inflateRawSync(bytes, nodeOptions), messages[i]);
          }
        } else {
          const stream = Buffer.concat(wire.flatMap((bytes) => [bytes, TAIL]));
          expectBytes(
            zlib.inflateRawSync(stream, nodeOptions),
            Buffer.concat(messages)
          );
        }

        // And the other way: Node's compressed messages through our inflater.
        const fromNode = await nodeDeflateMessages(
          messages,
          { windowBits },
          noContextTakeover
        );
        const ours = new binding.Inflater(windowBits, noContextTakeover);
        for (let i = 0; i < messages.length; i++) {
          expectBytes(ours.inflate(fromNode[i], true, 0), messages[i]);
        }
      });
    }
  }
});

describe('Deflater and Inflater: connections taking turns on pooled streams', () => {
  // Each thread pools at most four idle streams per kind, so seven connections taking turns
  // make every call borrow a stream another connection used last: it is reset and given this
  // connection's history. The results must not depend on who used the stream before.
  const CONNECTIONS = 7;

  it('writes §7.2.3.1 then §7.2.3.2 for every connection, whoever used the stream before', () => {
    const deflaters = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      deflaters.push(new binding.Deflater({}));
    }
    for (const deflater of deflaters) {
      expect(deflater.compress(HELLO, true)).toEqual(HELLO_COMPRESSED);
    }
    for (const deflater of deflaters) {
      expect(deflater.compress(HELLO, true)).toEqual(HELLO_AGAIN);
    }
  });

  it("does not let a new inflater resolve a back-reference into another connection's window", () => {
    const inflaters = [];
    for (let i = 0; i < 4; i++) {
      const inflater = new binding.Inflater(15, false);
      expect(inflater.inflate(HELLO_COMPRESSED, true, 0)).toEqual(HELLO);
      inflaters.push(inflater);
    }
    expect(new binding.Inflater(15, false).inflate(HELLO_AGAIN, true, 0)).toBe(
      INFLATE_FAILED
    );
    for (const inflater of inflaters) {
      expect(inflater.inflate(HELLO_AGAIN, true, 0)).toEqual(HELLO);
    }
  });

  for (let windowBits = 9; windowBits <= 15; windowBits++) {
    it(`windowBits ${windowBits}: many messages per connection with context takeover, some larger than the window`, async () => {
      const random = makeRandom(700 + windowBits);
      const messages = [];
      for (let c = 0; c < CONNECTIONS; c++) {
        const own = [];
        for (let i = 0; i < 12; i++) {
          // Small messages refer back into earlier ones; large ones exceed the window.
          const size =
            random() % 3 === 0 ? random() % 300 : (1 << windowBits) + 500;
          own.push(textLike(random, size));
        }
        messages.push(own);
      }
      const deflaters = [];
      const inflaters = [];
      const wire = [];
      for (let c = 0; c < CONNECTIONS; c++) {
        deflaters.push(new binding.Deflater({ windowBits }));
        inflaters.push(new binding.Inflater(windowBits, false));
        wire.push([]);
      }
      for (let i = 0; i < 12; i++) {
        for (let c = 0; c < CONNECTIONS; c++) {
          const compressed = deflaters[c].compress(messages[c][i], true);
          wire[c].push(compressed);
          expectBytes(
            inflaters[c].inflate(compressed, true, 0),
            messages[c][i]
          );
        }
      }
      // Each connection's messages form one stream for a peer with exactly this window
      // (RFC 7692 §7.1.2): Node's inflater over all of them at once.
      for (let c = 0; c < CONNECTIONS; c++) {
        const stream = Buffer.concat(wire[c].flatMap((bytes) => [bytes, TAIL]));
        expectBytes(
          zlib.inflateRawSync(stream, {
            windowBits,
            finishFlush: zlib.constants.Z_SYNC_FLUSH
          }),
          Buffer.concat(messages[c])
        );
      }

      // Node's deflate streams, one per connection across all its messages, inflated by our
      // inflaters taking turns.
      const fromNode = [];
      for (let c = 0; c < CONNECTIONS; c++) {
        fromNode.push(
          await nodeDeflateMessages(messages[c], { windowBits }, false)
        );
      }
      const ours = [];
      for (let c = 0; c < CONNECTIONS; c++) {
        ours.push(new binding.Inflater(windowBits, false));
      }
      for (let i = 0; i < 12; i++) {
        for (let c = 0; c < CONNECTIONS; c++) {
          expectBytes(ours[c].inflate(fromNode[c][i], true, 0), messages[c][i]);
        }
      }
    });
  }

  it('keeps a message inflated over several calls intact while other connections take turns', async () => {
    const random = makeRandom(77);
    const messages = [];
    for (let c = 0; c < CONNECTIONS; c++) {
      messages.push([textLike(random, 50000), textLike(random, 3000)]);
    }
    const fromNode = [];
    for (let c = 0; c < CONNECTIONS; c++) {
      fromNode.push(await nodeDeflateMessages(messages[c], {}, false));
    }
    const inflaters = messages.map(() => new binding.Inflater(15, false));
    for (let i = 0; i < 2; i++) {
      // Fragments of every connection's message interleaved: each inflater keeps its stream
      // until its message ends.
      const parts = inflaters.map(() => []);
      for (let offset = 0; ; offset += 1000) {
        let active = false;
        for (let c = 0; c < CONNECTIONS; c++) {
          const bytes = fromNode[c][i];
          if (offset >= bytes.length) continue;
          active = true;
          const fin = offset + 1000 >= bytes.length;
          parts[c].push(
            inflaters[c].inflate(bytes.subarray(offset, offset + 1000), fin, 0)
          );
        }
        if (!active) break;
      }
      for (let c = 0; c < CONNECTIONS; c++) {
        expectBytes(Buffer.concat(parts[c]), messages[c][i]);
      }
    }
  });
});

describe('Inflater: the limit is enforced while inflating', () => {
  it('stops a 1 GiB bomb with MessageTooBig at maxPayload 1 MiB, RSS growth < 64 MiB', async () => {
    // 1 GiB of zeros, deflated in chunks by Node's zlib: about 1 MB on the wire.
    const deflate = zlib.createDeflateRaw();
    const chunks = [];
    deflate.on('data', (chunk) => chunks.push(chunk));
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 1024; i++) deflate.write(zeros);
    await new Promise((resolve) =>
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, resolve)
    );
    deflate.close();
    const flushed = Buffer.concat(chunks);
    const bomb = flushed.subarray(0, flushed.length - 4);
    expect(bomb.length).toBeGreaterThan(500 * 1024);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);

    const before = process.memoryUsage().rss;
    const inflater = new binding.Inflater(15, false);
    expect(inflater.inflate(bomb, true, 1 << 20)).toBe(MESSAGE_TOO_BIG);
    // The message was abandoned: no zlib state is kept.
    expect(inflater.memoryBytes).toBe(0);
    // Fragment by fragment the limit still counts the whole message.
    const fragmented = new binding.Inflater(15, false);
    let status = 0;
    for (let offset = 0; offset < bomb.length && status === 0; offset += 4096) {
      const result = fragmented.inflate(
        bomb.subarray(offset, offset + 4096),
        offset + 4096 >= bomb.length,
        1 << 20
      );
      if (typeof result === 'number') status = result;
    }
    expect(status).toBe(MESSAGE_TOO_BIG);
    expect(
      await inflateAsync(new binding.Inflater(15, false), bomb, true, 1 << 20)
    ).toBe(MESSAGE_TOO_BIG);
    const growth = process.memoryUsage().rss - before;
    expect(growth).toBeLessThan(64 * 1024 * 1024);
  });

  it('accepts a message of exactly maxPayload bytes and rejects one byte more', () => {
    const message = Buffer.alloc(100000, 0x61);
    const compressed = new binding.Deflater({}).compress(message, true);
    expect(
      new binding.Inflater(15, false).inflate(compressed, true, 100000)
    ).toEqual(message);
    expect(
      new binding.Inflater(15, false).inflate(compressed, true, 99999)
    ).toBe(MESSAGE_TOO_BIG);
  });

  it('starts a new stream after a failure', () => {
    const inflater = new binding.Inflater(15, false);
    const big = new binding.Deflater({}).compress(Buffer.alloc(5000), true);
    expect(inflater.inflate(big, true, 10)).toBe(MESSAGE_TOO_BIG);
    expect(inflater.inflate(HELLO_COMPRESSED, true, 10)).toEqual(HELLO);
  });
});

describe('Inflater: corrupt data', () => {
  it('returns InflateFailed for a reserved block type', () => {
    const inflater = new binding.Inflater(15, false);
    expect(inflater.inflate(Buffer.from([0xff, 0xff, 0xff]), true, 0)).toBe(
      INFLATE_FAILED
    );
  });

  it('returns InflateFailed for a stored block whose NLEN does not match', () => {
    const inflater = new binding.Inflater(15, false);
    const bad = Buffer.from([
      0x00, 0x05, 0x00, 0x00, 0x00, 0x48, 0x65, 0x6c, 0x6c, 0x6f
    ]);
    expect(inflater.inflate(bad, true, 0)).toBe(INFLATE_FAILED);
  });

  it('returns InflateFailed for a back-reference before the start of the window', () => {
    // §7.2.3.2's second message needs the first one's window.
    const inflater = new binding.Inflater(15, false);
    expect(inflater.inflate(HELLO_AGAIN, true, 0)).toBe(INFLATE_FAILED);
  });

  it('returns InflateFailed from inflateAsync too', async () => {
    const inflater = new binding.Inflater(15, false);
    expect(
      await inflateAsync(inflater, Buffer.from([0xff, 0xff]), true, 0)
    ).toBe(INFLATE_FAILED);
    expect(await inflateAsync(inflater, HELLO_COMPRESSED, true, 0)).toEqual(
      HELLO
    );
  });

  it('never throws on random bytes', () => {
    const random = makeRandom(1009);
    let failures = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.alloc(1 + (random() % 64));
      for (let j = 0; j < bytes.length; j++) bytes[j] = random() & 0xff;
      const result = new binding.Inflater(15, false).inflate(
        bytes,
        true,
        1 << 16
      );
      if (typeof result === 'number') {
        expect([MESSAGE_TOO_BIG, INFLATE_FAILED]).toContain(result);
        failures++;
      } else {
        expect(result.length).toBeLessThanOrEqual(1 << 16);
      }
    }
    expect(failures).toBeGreaterThan(0);
  });
});

describe('Deflater and Inflater: zlib memory', () => {
  it('holds no zlib memory when idle without context takeover', () => {
    const deflater = new binding.Deflater({ noContextTakeover: true });
    const inflater = new binding.Inflater(15, true);
    expect(deflater.memoryBytes).toBe(0);
    expect(inflater.memoryBytes).toBe(0);
    const compressed = deflater.compress(HELLO, true);
    expect(inflater.inflate(compressed, true, 0)).toEqual(HELLO);
    expect(deflater.memoryBytes).toBe(0);
    expect(inflater.memoryBytes).toBe(0);
    // Mid-message the state lives until the last fragment.
    deflater.compress(HELLO, false);
    expect(deflater.memoryBytes).toBeGreaterThan(0);
    deflater.compress(HELLO, true);
    expect(deflater.memoryBytes).toBe(0);
  });

  it('holds only history between messages with context takeover', () => {
    const deflater = new binding.Deflater({});
    const inflater = new binding.Inflater(15, false);
    expect(deflater.memoryBytes).toBe(0);
    expect(inflater.memoryBytes).toBe(0);
    const small = textLike(makeRandom(32), 32);
    expectBytes(
      inflater.inflate(deflater.compress(small, true), true, 0),
      small
    );
    // The 32 bytes the next message may refer back to, and no zlib stream.
    expect(deflater.memoryBytes).toBe(32);
    expect(inflater.memoryBytes).toBe(32);
    const large = textLike(makeRandom(64), 64 * 1024);
    expectBytes(
      inflater.inflate(deflater.compress(large, true), true, 0),
      large
    );
    // The deflater keeps 4 KiB of history; the inflater the whole 32 KiB window the peer
    // may refer into (RFC 7692 §7.1.2.2).
    expect(deflater.memoryBytes).toBe(4 * 1024);
    expect(inflater.memoryBytes).toBe(32 * 1024);
  });

  it('holds the borrowed stream, not a second copy of the history, in the middle of a message', () => {
    const deflater = new binding.Deflater({});
    const inflater = new binding.Inflater(15, false);
    const first = textLike(makeRandom(5), 40000);
    inflater.inflate(deflater.compress(first, true), true, 0);
    const compressed = deflater.compress(first, true);
    const head = inflater.inflate(compressed.subarray(0, 10), false, 0);
    // zlib's inflate window (1 << 15) plus its state.
    expect(inflater.memoryBytes).toBeGreaterThanOrEqual(32 * 1024);
    expect(inflater.memoryBytes).toBeLessThan(48 * 1024);
    const rest = inflater.inflate(compressed.subarray(10), true, 0);
    expectBytes(Buffer.concat([head, rest]), first);
    expect(inflater.memoryBytes).toBe(32 * 1024);
  });

  it('deflates with less history under smaller windows; inflates with the full window', () => {
    const large = textLike(makeRandom(9), 64 * 1024);
    const small = new binding.Deflater({ windowBits: 9, memLevel: 1 });
    const smallInflater = new binding.Inflater(9, false);
    expectBytes(
      smallInflater.inflate(small.compress(large, true), true, 0),
      large
    );
    // zlib's deflater uses at most the window minus 262 bytes of a dictionary. The inflater
    // keeps zlib's full 15-bit window whatever was negotiated, so a corrupt stream reaching past
    // a small window fails the same way for every socket split (see inflateWindowBitsFor).
    expect(small.memoryBytes).toBe(512 - 262);
    expect(smallInflater.memoryBytes).toBe(32 * 1024);
    // Window 8 is written as stored blocks, which never refer back: no history at all.
    const stored = new binding.Deflater({ windowBits: 8 });
    stored.compress(large, true);
    expect(stored.memoryBytes).toBe(0);
  });
});

describe('Deflater and Inflater: threadpool variants', () => {
  it('compressAsync runs calls one at a time in call order, as one stream', async () => {
    const random = makeRandom(42);
    const messages = [];
    for (let i = 0; i < 6; i++)
      messages.push(textLike(random, random() % 100000));

    // All queued at once: they must run one at a time, in order, continuing one stream even
    // when consecutive calls land on different threads of the pool.
    const asyncDeflater = new binding.Deflater({});
    const order = [];
    const results = await Promise.all(
      messages.map((message, i) =>
        compressAsync(asyncDeflater, message, true).then((result) => {
          order.push(i);
          return result;
        })
      )
    );
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    const stream = Buffer.concat(results.flatMap((bytes) => [bytes, TAIL]));
    expectBytes(
      zlib.inflateRawSync(stream, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
      Buffer.concat(messages)
    );
  });

  it('continues one stream when synchronous and threadpool calls alternate', async () => {
    // The JS thread's pool keeps the stream of the last synchronous call; after a threadpool
    // call has moved the connection on, that stream must not be resumed.
    const random = makeRandom(44);
    const deflater = new binding.Deflater({});
    const inflater = new binding.Inflater(15, false);
    const messages = [];
    const wire = [];
    for (let i = 0; i < 10; i++) {
      const message = textLike(random, 2000 + (random() % 3000));
      messages.push(message);
      const compressed =
        i % 2 === 0
          ? deflater.compress(message, true)
          : await compressAsync(deflater, message, true);
      wire.push(compressed);
      const inflated =
        i % 3 === 0
          ? inflater.inflate(compressed, true, 0)
          : await inflateAsync(inflater, compressed, true, 0);
      expectBytes(inflated, message);
    }
    const stream = Buffer.concat(wire.flatMap((bytes) => [bytes, TAIL]));
    expectBytes(
      zlib.inflateRawSync(stream, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
      Buffer.concat(messages)
    );
  });

  it('inflateAsync gives the bytes inflate gives', async () => {
    const random = makeRandom(43);
    const deflater = new binding.Deflater({});
    const messages = [];
    for (let i = 0; i < 4; i++)
      messages.push(textLike(random, 1 + (random() % 200000)));
    const compressed = messages.map((message) =>
      deflater.compress(message, true)
    );
    const inflater = new binding.Inflater(15, false);
    const results = await Promise.all(
      compressed.map((bytes) => inflateAsync(inflater, bytes, true, 0))
    );
    results.forEach((result, i) => expectBytes(result, messages[i]));
  });

  it('copies the input, so the caller may reuse its buffer at once', async () => {
    const input = Buffer.from('Hello');
    const deflater = new binding.Deflater({});
    const pending = compressAsync(deflater, input, true);
    input.fill(0);
    expect(await pending).toEqual(HELLO_COMPRESSED);
  });

  it('rejects a synchronous call while an asynchronous one runs', async () => {
    const deflater = new binding.Deflater({});
    const inflater = new binding.Inflater(15, false);
    const pending = compressAsync(deflater, HELLO, true);
    expect(() => deflater.compress(HELLO, true)).toThrow(/still running/);
    const pendingInflate = inflateAsync(inflater, HELLO_COMPRESSED, true, 0);
    expect(() => inflater.inflate(HELLO_COMPRESSED, true, 0)).toThrow(
      /still running/
    );
    expect(await pending).toEqual(HELLO_COMPRESSED);
    expect(await pendingInflate).toEqual(HELLO);
    expect(deflater.compress(HELLO, true)).toEqual(HELLO_AGAIN);
  });
  it('keeps an unreferenced object alive until its callback, also in a worker thread', () => {
    // A child with --expose-gc: the objects are dropped and collected while their calls run.
    const script = `
      const { Worker, isMainThread, parentPort } = require('worker_threads');
      const binding = require(${JSON.stringify(path.join(ROOT, 'lib', 'binding.js'))});
      function run(done) {
        const results = [];
        const data = Buffer.alloc(1 << 20, 0x61);
        new binding.Deflater({}).compressAsync(data, true, (error, compressed) => {
          results.push(error ? 'error' : compressed.length);
          new binding.Inflater(15, false).inflateAsync(compressed, true, 0, (status, out) => {
            results.push(status, out.equals(data));
            done(results.join(','));
          });
          global.gc();
        });
        global.gc();
      }
      if (isMainThread) {
        run((main) => {
          const worker = new Worker(process.argv[1], { eval: true });
          worker.on('message', (inWorker) => console.log(main + '|' + inWorker));
        });
      } else {
        run((result) => parentPort.postMessage(result));
      }
    `;
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '-e', script, script],
      {
        encoding: 'utf8',
        env: process.env
      }
    );
    expect(child.stderr).toBe('');
    const [main, inWorker] = child.stdout.trim().split('|');
    expect(main).toMatch(/^\d+,0,true$/);
    expect(inWorker).toBe(main);
  });
});

describe('Deflater and Inflater: argument checks', () => {
  it('throws TypeError or RangeError on a wrong call', () => {
    expect(() => new binding.Deflater()).toThrow(TypeError);
    expect(() => new binding.Deflater({ windowBits: 16 })).toThrow(RangeError);
    expect(() => new binding.Deflater({ windowBits: 7 })).toThrow(RangeError);
    expect(() => new binding.Deflater({ level: 10 })).toThrow(RangeError);
    expect(() => new binding.Deflater({ memLevel: 0 })).toThrow(RangeError);
    expect(() => new binding.Deflater({ strategy: 5 })).toThrow(RangeError);
    expect(() => new binding.Deflater({ level: '1' })).toThrow(TypeError);
    expect(() => new binding.Inflater(16, false)).toThrow(RangeError);
    expect(() => new binding.Inflater(15)).toThrow(TypeError);
    expect(() => new binding.Inflater('15', false)).toThrow(TypeError);

    const deflater = new binding.Deflater({});
    const inflater = new binding.Inflater(15, false);
    expect(() => deflater.compress('Hello', true)).toThrow(TypeError);
    expect(() => deflater.compress(new Uint16Array(2), true)).toThrow(
      TypeError
    );
    expect(() => deflater.compress(HELLO)).toThrow(TypeError);
    expect(() => deflater.compressAsync(HELLO, true)).toThrow(TypeError);
    expect(() => inflater.inflate(HELLO_COMPRESSED, true)).toThrow(TypeError);
    expect(() => inflater.inflate(HELLO_COMPRESSED, true, -1)).toThrow(
      RangeError
    );
    expect(() => inflater.inflate(HELLO_COMPRESSED, true, NaN)).toThrow(
      RangeError
    );
    expect(() => inflater.inflateAsync(HELLO_COMPRESSED, true, 0)).toThrow(
      TypeError
    );
    // Still usable after the bad calls.
    expect(deflater.compress(HELLO, true)).toEqual(HELLO_COMPRESSED);
    expect(inflater.inflate(HELLO_COMPRESSED, true, Infinity)).toEqual(HELLO);
  });

  it('accepts any Uint8Array view, not only Buffers', () => {
    const backing = new Uint8Array(16);
    backing.set(HELLO, 3);
    const view = backing.subarray(3, 8);
    expect(new binding.Deflater({}).compress(view, true)).toEqual(
      HELLO_COMPRESSED
    );
  });
});
