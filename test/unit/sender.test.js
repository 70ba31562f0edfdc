// lib/sender.js: the bytes put on the wire (captured from a real Writable), checked against the
// RFC 6455 §5.7 and RFC 7692 §7.2.3 examples and against ws's own Sender fed the same calls;
// callbacks exactly once, queue order while compression runs on the threadpool, byte accounting,
// and the batching of writes made in one tick.

import { createRequire } from 'module';
import path from 'path';
import { Writable } from 'stream';
import zlib from 'zlib';
import { describe, expect, it } from 'vitest';

import { FrameDecoder } from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const Sender = require('../../lib/sender');
const PerMessageDeflate = require('../../lib/permessage-deflate');
const wsLib = path.join(path.dirname(require.resolve('ws')), 'lib');
const WsSender = require(path.join(wsLib, 'sender.js'));
const WsPerMessageDeflate = require(path.join(wsLib, 'permessage-deflate.js'));

/** A Writable that records each _write / _writev call as a list of chunks. */
function captureSocket() {
  const socket = new Writable({
    write(chunk, encoding, cb) {
      socket.calls.push([chunk]);
      cb();
    },
    writev(chunks, cb) {
      socket.calls.push(chunks.map(({ chunk }) => chunk));
      cb();
    }
  });
  socket.calls = [];
  socket.bytes = () => Buffer.concat(socket.calls.flat());
  socket.frames = () => new FrameDecoder().push(socket.bytes());
  return socket;
}

// RFC 6455 §5.7's key, so its examples come out byte for byte.
function fixedMask(buffer) {
  buffer[0] = 0x37;
  buffer[1] = 0xfa;
  buffer[2] = 0x21;
  buffer[3] = 0x3d;
}

const TEXT = { binary: false, fin: true, mask: false, compress: false };
const BINARY = { binary: true, fin: true, mask: false, compress: false };
const tick = () => new Promise((resolve) => process.nextTick(resolve));
const immediate = () => new Promise((resolve) => setImmediate(resolve));

/** An accepted PerMessageDeflate of `Impl` for a server (or client) with `params`. */
function deflate(Impl, { isServer = true, params = {}, ...options } = {}) {
  const pmd = new Impl({ isServer, ...options });
  const configuration = {};
  for (const key of Object.keys(params)) {
    configuration[key] = [params[key] === true ? true : String(params[key])];
  }
  pmd.accept([configuration]);
  return pmd;
}

/** Inflates one permessage-deflate message body (RFC 7692 §7.2.2). */
function inflate(body, windowBits = 15) {
  return zlib.inflateRawSync(
    Buffer.concat([body, Buffer.from([0, 0, 0xff, 0xff])]),
    {
      windowBits,
      finishFlush: zlib.constants.Z_SYNC_FLUSH
    }
  );
}

describe('Sender: RFC 6455 §5.7 examples', () => {
  it('a single-frame unmasked text message', () => {
    const socket = captureSocket();
    new Sender(socket).send('Hello', TEXT);
    expect(socket.bytes().toString('hex')).toBe('810548656c6c6f');
  });

  it('a single-frame masked text message', () => {
    const socket = captureSocket();
    new Sender(socket, {}, fixedMask).send('Hello', { ...TEXT, mask: true });
    expect(socket.bytes().toString('hex')).toBe('818537fa213d7f9f4d5158');
  });

  it('a fragmented unmasked text message', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket);
    sender.send('Hel', { ...TEXT, fin: false });
    sender.send('lo', TEXT);
    await tick();
    expect(socket.bytes().toString('hex')).toBe('010348656c' + '80026c6f');
  });

  it('an unmasked ping and a masked pong', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket, {}, fixedMask);
    sender.ping('Hello', false);
    sender.pong('Hello', true);
    await tick();
    expect(socket.bytes().toString('hex')).toBe(
      '890548656c6c6f' + '8a8537fa213d7f9f4d5158'
    );
  });

  it('256 bytes and 65536 bytes of binary data (16- and 64-bit lengths)', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket);
    const small = Buffer.alloc(256, 1);
    const large = Buffer.alloc(65536, 2);
    sender.send(small, BINARY);
    sender.send(large, BINARY);
    await tick();
    const bytes = socket.bytes();
    expect(bytes.subarray(0, 4).toString('hex')).toBe('827e0100');
    expect(bytes.subarray(4, 260)).toEqual(small);
    expect(bytes.subarray(260, 270).toString('hex')).toBe(
      '827f0000000000010000'
    );
    expect(bytes.subarray(270)).toEqual(large);
  });
});

describe('Sender: the same calls give the same bytes as ws’s Sender', () => {
  const SIZES = [
    0, 1, 2, 3, 4, 5, 31, 125, 126, 127, 1000, 16383, 16384, 16385, 65535,
    65536, 70000
  ];

  /** Applies `calls` to a Sender of each implementation and returns both wires. */
  async function both(calls, { generateMask = fixedMask } = {}) {
    const wires = [];
    for (const Impl of [Sender, WsSender]) {
      const socket = captureSocket();
      const sender = new Impl(socket, {}, generateMask);
      for (const [method, ...args] of calls) sender[method](...args);
      await tick();
      wires.push(socket.bytes().toString('hex'));
    }
    return wires;
  }

  for (const mask of [false, true]) {
    it(`text and binary of every length class (${mask ? 'masked' : 'unmasked'})`, async () => {
      const calls = [];
      for (const size of SIZES) {
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = (i * 7 + size) & 0xff;
        calls.push(['send', data, { ...BINARY, mask }]);
        calls.push([
          'send',
          'é'.repeat(size >> 1) + 'x'.repeat(size & 1),
          { ...TEXT, mask }
        ]);
      }
      const [ours, theirs] = await both(calls);
      expect(ours).toBe(theirs);
    });
  }

  it('fragments, typed arrays, ArrayBuffers, DataViews and arrays', async () => {
    const source = new Uint16Array([1, 2, 3, 4]);
    const calls = [
      ['send', new Uint8Array([1, 2, 3]), { ...BINARY, fin: false }],
      ['send', source, { ...BINARY, fin: false }],
      ['send', source.buffer, { ...BINARY, fin: false }],
      ['send', new DataView(source.buffer, 2, 4), { ...BINARY, fin: false }],
      ['send', [5, 6, 7], BINARY],
      ['send', 'abc', { ...TEXT, fin: false, mask: true }],
      ['send', 'def', { ...TEXT, mask: true }]
    ];
    const [ours, theirs] = await both(calls);
    expect(ours).toBe(theirs);
  });

  it('control frames and close frames', async () => {
    const calls = [
      ['ping', Buffer.alloc(0), false],
      ['ping', 'x'.repeat(125), true],
      ['pong', new Uint8Array([1, 2]), false],
      ['pong', Buffer.alloc(125, 3), true],
      ['close', undefined, undefined, false],
      ['close', 1000, undefined, false],
      ['close', 1001, '', true],
      ['close', 4999, 'bye', false],
      ['close', 3000, Buffer.from('é'.repeat(61) + 'x'), true],
      ['close', 1000, 5, false]
    ];
    const [ours, theirs] = await both(calls);
    expect(ours).toBe(theirs);
  });
});

describe('Sender: argument errors match ws', () => {
  /** The error thrown by `fn(sender)` for each implementation. */
  function errors(fn) {
    return [Sender, WsSender].map((Impl) => {
      try {
        fn(new Impl(captureSocket()));
        return null;
      } catch (err) {
        return `${err.constructor.name}: ${err.message}`;
      }
    });
  }

  const CASES = [
    ['a ping over 125 bytes', (s) => s.ping(Buffer.alloc(126), false)],
    ['a pong string over 125 bytes', (s) => s.pong('é'.repeat(63), false)],
    [
      'a close code that is not a number',
      (s) => s.close('1000', undefined, false)
    ],
    ['a reserved close code (1005)', (s) => s.close(1005, undefined, false)],
    ['an unassigned close code (2000)', (s) => s.close(2000, undefined, false)],
    [
      'a close reason over 123 bytes',
      (s) => s.close(1000, 'x'.repeat(124), false)
    ],
    [
      'a close reason of the wrong type',
      (s) => s.close(1000, new Uint16Array(2), false)
    ],
    ['a close reason array', (s) => s.close(1000, [1, 2], false)]
  ];

  for (const [title, fn] of CASES) {
    it(title, () => {
      const [ours, theirs] = errors(fn);
      expect(theirs).not.toBe(null);
      expect(ours).toBe(theirs);
    });
  }

  it('literal messages', () => {
    expect(errors((s) => s.ping('x'.repeat(126), false))[0]).toBe(
      'RangeError: The data size must not be greater than 125 bytes'
    );
    expect(errors((s) => s.close(999, undefined, false))[0]).toBe(
      'TypeError: First argument must be a valid error code number'
    );
    expect(errors((s) => s.close(1000, 'x'.repeat(124), false))[0]).toBe(
      'RangeError: The message must not be greater than 123 bytes'
    );
  });
});

describe('Sender.frame', () => {
  it('returns the header and the caller’s own payload for an unmasked frame, as ws does', () => {
    for (const size of [5, 1 << 20]) {
      const data = Buffer.alloc(size, 5);
      const list = Sender.frame(data, {
        fin: true,
        opcode: 2,
        mask: false,
        readOnly: true,
        rsv1: false
      });
      expect(list).toHaveLength(2);
      expect(list[1]).toBe(data);
    }
    const [header] = Sender.frame(Buffer.alloc(1 << 20), {
      fin: true,
      opcode: 2,
      mask: false,
      rsv1: false
    });
    expect(header.toString('hex')).toBe('827f0000000000100000');
  });

  it('masked: one Buffer with readOnly, else the header and a masked copy; strings become Buffers', () => {
    const opts = {
      fin: true,
      opcode: 1,
      mask: true,
      maskBuffer: Buffer.alloc(4),
      generateMask: fixedMask,
      rsv1: false
    };
    const data = Buffer.from('Hello');
    const merged = Sender.frame(data, { ...opts, readOnly: true });
    expect(merged).toHaveLength(1);
    expect(merged[0].toString('hex')).toBe('818537fa213d7f9f4d5158');
    const parts = Sender.frame(data, { ...opts, readOnly: false });
    expect(parts).toHaveLength(2);
    expect(parts[1]).not.toBe(data);
    expect(Buffer.concat(parts).toString('hex')).toBe('818537fa213d7f9f4d5158');
    expect(data.toString()).toBe('Hello');
    const text = Sender.frame('é'.repeat(600), { ...opts, mask: false });
    expect(text[0].toString('hex')).toBe('817e04b0');
    expect(Buffer.isBuffer(text[1])).toBe(true);
  });

  it('an all-zero key from generateMask leaves the payload as it is, MASK bit set', () => {
    const data = Buffer.from('Hi');
    const list = Sender.frame(data, {
      fin: true,
      opcode: 1,
      mask: true,
      rsv1: false,
      generateMask: (key) => key.fill(0)
    });
    expect(list[1]).toBe(data);
    expect(Buffer.concat(list).toString('hex')).toBe('81820000000048' + '69');
  });

  it('sets RSV1 and leaves FIN clear when asked; accepts a string', () => {
    const list = Sender.frame('€', {
      fin: false,
      opcode: 1,
      mask: false,
      rsv1: true
    });
    expect(Buffer.concat(list).toString('hex')).toBe('4103e282ac');
  });

  it('the Sender’s own frames: up to 1 KiB copied behind the header, above it the caller’s buffer; masked always copied', async () => {
    for (const [size, mask, chunkCount] of [
      [1024, false, 1],
      [1025, false, 2],
      [1025, true, 1]
    ]) {
      const socket = captureSocket();
      const data = Buffer.alloc(size, 7);
      new Sender(socket, {}, fixedMask).send(data, { ...BINARY, mask });
      await immediate();
      const chunks = socket.calls.flat();
      expect(chunks).toHaveLength(chunkCount);
      if (chunkCount === 2) expect(chunks[1]).toBe(data);
      else expect(chunks[0]).toHaveLength(size + (mask ? 8 : 4));
      const [frame] = socket.frames();
      expect(frame.payload).toEqual(data);
    }
  });

  it('never modifies the data when masking; fills maskBuffer through generateMask', () => {
    for (const size of [5, 100000]) {
      const data = Buffer.alloc(size, 0x41);
      const maskBuffer = Buffer.alloc(4);
      const list = Sender.frame(data, {
        fin: true,
        opcode: 2,
        mask: true,
        maskBuffer,
        generateMask: fixedMask,
        readOnly: false,
        rsv1: false
      });
      expect(data.every((byte) => byte === 0x41)).toBe(true);
      expect(maskBuffer.toString('hex')).toBe('37fa213d');
      const [frame] = new FrameDecoder().push(Buffer.concat(list));
      expect(frame.maskKey.toString('hex')).toBe('37fa213d');
      expect(frame.payload).toEqual(data);
    }
  });

  it('draws a fresh CSPRNG key per masked frame when no generator is given (§5.3)', () => {
    const keys = new Set();
    for (let i = 0; i < 64; i++) {
      const list = Sender.frame('abc', {
        fin: true,
        opcode: 1,
        mask: true,
        rsv1: false
      });
      const [frame] = new FrameDecoder().push(Buffer.concat(list));
      expect(frame.payload.toString()).toBe('abc');
      keys.add(frame.maskKey.toString('hex'));
    }
    expect(keys.size).toBeGreaterThan(60);
  });
});

describe('Sender: permessage-deflate', () => {
  it('RFC 7692 §7.2.3.1/2: "Hello" twice with context takeover', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket, {
      'permessage-deflate': deflate(PerMessageDeflate)
    });
    sender.send('Hello', { ...TEXT, compress: true });
    sender.send('Hello', { ...TEXT, compress: true });
    await tick();
    expect(socket.bytes().toString('hex')).toBe(
      'c107f248cdc9c90700' + 'c105f200110000'
    );
  });

  it('a small compressed message is compressed inline and leaves in the same call', () => {
    const socket = captureSocket();
    const sender = new Sender(socket, {
      'permessage-deflate': deflate(PerMessageDeflate)
    });
    const acks = [];
    sender.send('Hello', { ...TEXT, compress: true }, () => acks.push(1));
    expect(socket.bytes().toString('hex')).toBe('c107f248cdc9c90700');
    expect(sender._bufferedBytes).toBe(0);
  });

  it('without context takeover the threshold decides, as in ws', async () => {
    const params = { server_no_context_takeover: true };
    const socket = captureSocket();
    const sender = new Sender(socket, {
      'permessage-deflate': deflate(PerMessageDeflate, { params })
    });
    sender.send('Hello', { ...TEXT, compress: true });
    expect(socket.bytes().toString('hex')).toBe('810548656c6c6f');

    const eager = captureSocket();
    const sender2 = new Sender(eager, {
      'permessage-deflate': deflate(PerMessageDeflate, { params, threshold: 0 })
    });
    sender2.send('Hello', { ...TEXT, compress: true });
    sender2.send('Hello', { ...TEXT, compress: true });
    // No context: the second message compresses like the first.
    await tick();
    expect(eager.bytes().toString('hex')).toBe(
      'c107f248cdc9c90700' + 'c107f248cdc9c90700'
    );
  });

  it('RSV1 on the first fragment only; the fragments inflate as one message', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket, {
      'permessage-deflate': deflate(PerMessageDeflate)
    });
    sender.send('Hel', { ...TEXT, compress: true, fin: false });
    sender.send('lo', { ...TEXT, compress: true, fin: false });
    sender.send('!', { ...TEXT, compress: true });
    await tick();
    const frames = socket.frames();
    expect(frames.map((f) => [f.opcode, f.rsv1, f.fin])).toEqual([
      [1, true, false],
      [0, false, false],
      [0, false, true]
    ]);
    expect(
      inflate(Buffer.concat(frames.map((f) => f.payload))).toString()
    ).toBe('Hello!');
  });

  it('a masked compressed client message inflates with ws’s PerMessageDeflate', async () => {
    const socket = captureSocket();
    const pmd = deflate(PerMessageDeflate, {
      isServer: false,
      params: { client_max_window_bits: 9 }
    });
    const sender = new Sender(socket, { 'permessage-deflate': pmd }, fixedMask);
    // A 600-byte block repeated: only a window over 512 bytes could refer back to it, so a
    // deflater ignoring client_max_window_bits=9 would make the 9-bit inflater fail.
    let seed = 1;
    let block = '';
    for (let i = 0; i < 600; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      block += String.fromCharCode(97 + (seed % 26));
    }
    const text = block.repeat(100);
    sender.send(text, { ...TEXT, compress: true, mask: true });
    await new Promise((resolve) =>
      sender.send('end', { ...TEXT, compress: true, mask: true }, resolve)
    );

    const wsServer = deflate(WsPerMessageDeflate, {
      params: { client_max_window_bits: 9 }
    });
    const frames = socket.frames();
    expect(frames.every((f) => f.masked && f.rsv1)).toBe(true);
    const out = [];
    for (const f of frames) {
      out.push(
        await new Promise((resolve, reject) =>
          wsServer.decompress(f.payload, true, (err, data) =>
            err ? reject(err) : resolve(data)
          )
        )
      );
    }
    expect(out.map(String)).toEqual([text, 'end']);
  });

  it('at the default level, compresses up to 32 KiB in the call and larger messages behind it (first come, first served)', async () => {
    // Inline, 64 KiB messages were compressed in the order the server read its sockets, which
    // put its p99 at 1.26x ws's in bench/ (64 KiB binary x 100 connections with deflate).
    const sizes = [32 * 1024, 32 * 1024 + 1, 64 * 1024];
    const written = [];
    for (const size of sizes) {
      const socket = captureSocket();
      const sender = new Sender(socket, {
        'permessage-deflate': deflate(PerMessageDeflate)
      });
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
      const sent = new Promise((resolve) =>
        sender.send(data, { ...BINARY, compress: true }, resolve)
      );
      written.push(socket.calls.length > 0);
      await sent;
      await immediate();
      const frames = socket.frames();
      expect(frames).toHaveLength(1);
      expect(frames[0].rsv1).toBe(true);
      const payload = Buffer.concat([
        frames[0].payload,
        Buffer.from([0x00, 0x00, 0xff, 0xff])
      ]);
      expect(
        zlib.inflateRawSync(payload, {
          finishFlush: zlib.constants.Z_SYNC_FLUSH
        })
      ).toEqual(data);
    }
    expect(written).toEqual([true, false, false]);
  });

  it('keeps order and calls each callback once while a large message compresses on the threadpool', async () => {
    const socket = captureSocket();
    const pmd = deflate(PerMessageDeflate);
    const sender = new Sender(socket, { 'permessage-deflate': pmd });
    const big = Buffer.alloc(300 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * i) & 0x7f;
    const calls = [];
    const done = new Promise((resolve) => {
      sender.send(big, { ...BINARY, compress: true }, (err) =>
        calls.push(['big', err ?? null])
      );
      sender.send('small', TEXT, (err) => calls.push(['small', err ?? null]));
      sender.ping('p', false, (err) => calls.push(['ping', err ?? null]));
      sender.send('z', { ...TEXT, compress: true }, (err) =>
        calls.push(['z', err ?? null])
      );
      sender.close(1000, 'done', false, (err) => {
        calls.push(['close', err ?? null]);
        resolve();
      });
    });

    // Everything waits behind the compression; the queued bytes are counted.
    expect(socket.calls).toHaveLength(0);
    expect(sender._bufferedBytes).toBe(big.length + 5 + 1 + 1 + 6);
    await done;
    await immediate();

    expect(calls).toEqual([
      ['big', null],
      ['small', null],
      ['ping', null],
      ['z', null],
      ['close', null]
    ]);
    expect(sender._bufferedBytes).toBe(0);
    const frames = socket.frames();
    expect(frames.map((f) => [f.opcode, f.rsv1])).toEqual([
      [2, true],
      [1, false],
      [9, false],
      [1, true],
      [8, false]
    ]);
    expect(inflate(frames[0].payload)).toEqual(big);
    expect(frames[1].payload.toString()).toBe('small');
    expect(frames[4].code).toBe(1000);
    // The later message was compressed after the big one: the context carried over.
    const stream = zlib.createInflateRaw();
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.write(
      Buffer.concat([frames[0].payload, Buffer.from([0, 0, 0xff, 0xff])])
    );
    stream.write(
      Buffer.concat([frames[3].payload, Buffer.from([0, 0, 0xff, 0xff])])
    );
    await new Promise((resolve) => stream.flush(resolve));
    expect(Buffer.concat(chunks).subarray(big.length).toString()).toBe('z');
  });

  it('fails the pending and queued callbacks once each when the socket is destroyed meanwhile', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket, {
      'permessage-deflate': deflate(PerMessageDeflate)
    });
    const calls = [];
    sender.send(
      Buffer.alloc(512 * 1024, 1),
      { ...BINARY, compress: true },
      (err) => calls.push(['big', err.message])
    );
    sender.send('a', TEXT, (err) => calls.push(['a', err.message]));
    sender.ping('', false, (err) => calls.push(['ping', err.message]));
    socket.destroy();

    for (let i = 0; i < 50 && calls.length < 3; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    await immediate();

    const message = 'The socket was closed while data was being compressed';
    expect(calls).toEqual([
      ['big', message],
      ['a', message],
      ['ping', message]
    ]);
    expect(sender._bufferedBytes).toBe(0);
    expect(socket.calls).toHaveLength(0);
  });
});

describe('Sender: callbacks and batching', () => {
  it('a send on a destroyed socket calls back once with an error', async () => {
    const socket = captureSocket();
    socket.destroy();
    const sender = new Sender(socket);
    const errors = [];
    sender.send('x', TEXT, (err) => errors.push(err && err.code));
    await immediate();
    await immediate();
    expect(errors).toEqual(['ERR_STREAM_DESTROYED']);
  });

  it('one message leaves at once; more in the same tick leave together in one writev', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket);
    sender.send('first', TEXT);
    expect(socket.calls).toHaveLength(1);

    for (let i = 0; i < 9; i++) sender.send(`m${i}`, TEXT);
    sender.send(Buffer.alloc(100000), BINARY);
    expect(socket.calls).toHaveLength(1);

    await tick();
    expect(socket.calls).toHaveLength(2);
    expect(socket.calls[1]).toHaveLength(11);
    expect(socket.frames().map((f) => f.payload.length)).toEqual([
      5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 100000
    ]);

    // A new tick: the first write goes out at once again.
    sender.send('again', TEXT);
    expect(socket.calls).toHaveLength(3);
  });

  it('callbacks of batched writes run once each, in order', async () => {
    const socket = captureSocket();
    const sender = new Sender(socket);
    const order = [];
    for (let i = 0; i < 5; i++) sender.send(`${i}`, TEXT, () => order.push(i));
    await immediate();
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('a Blob is sent in order with what follows, like ws', async () => {
    const wires = [];
    for (const Impl of [Sender, WsSender]) {
      const socket = captureSocket();
      const sender = new Impl(socket);
      const order = [];
      sender.send(new Blob(['blob!']), BINARY, () => order.push('blob'));
      sender.send('after', TEXT, () => order.push('after'));
      sender.ping(new Blob(['p']), false, () => order.push('ping'));
      for (let i = 0; i < 10 && order.length < 3; i++) await immediate();
      expect(order).toEqual(['blob', 'after', 'ping']);
      expect(sender._bufferedBytes).toBe(0);
      wires.push(socket.bytes().toString('hex'));
    }
    expect(wires[0]).toBe('8205626c6f6221' + '81056166746572' + '890170');
    expect(wires[0]).toBe(wires[1]);
  });

  it('sendFramed: one frame written to many sockets, behind queued work', async () => {
    const list = Sender.frame(Buffer.from('shared'), {
      fin: true,
      opcode: 1,
      mask: false,
      rsv1: false
    });
    const sockets = [captureSocket(), captureSocket(), captureSocket()];
    const senders = sockets.map(
      (socket) =>
        new Sender(socket, { 'permessage-deflate': deflate(PerMessageDeflate) })
    );

    // The last one is busy compressing: the shared frame must wait its turn.
    senders[2].send(Buffer.alloc(200 * 1024, 9), { ...BINARY, compress: true });
    const acks = [];
    senders.forEach((sender, i) => sender.sendFramed(list, () => acks.push(i)));
    expect(senders[2]._bufferedBytes).toBe(200 * 1024 + 8);

    for (let i = 0; i < 100 && acks.length < 3; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(acks.sort()).toEqual([0, 1, 2]);
    expect(sockets[0].bytes().toString()).toContain('shared');
    expect(sockets[0].bytes()).toEqual(sockets[1].bytes());
    const last = sockets[2].frames();
    expect(last.map((f) => f.opcode)).toEqual([2, 1]);
    expect(last[1].payload.toString()).toBe('shared');
  });
});
