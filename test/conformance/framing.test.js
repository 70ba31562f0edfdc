// RFC 6455 §5.1-§5.3 (framing, masking, payload lengths), checked on the wire against a real
// server and a real client of each implementation.

import { afterEach, describe, expect, it } from 'vitest';

import {
  attachPeer,
  cleanup,
  expectFailure,
  openPeer,
  ROLES
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { chunksOf, everySplit, feed } from '../helpers/split-feeder.js';
import { encodeFrame, OP } from '../helpers/wire.js';

afterEach(cleanup);

const MiB = 1024 * 1024;
// Each side of the 7-bit / 16-bit / 64-bit length boundaries (RFC 6455 §5.2).
const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 16 * MiB];

function lengthName(size) {
  if (size <= 125) return '7-bit';
  return size <= 0xffff ? '16-bit' : '64-bit';
}

function lengthBytes(size) {
  if (size <= 125) return 0;
  return size <= 0xffff ? 2 : 8;
}

/** A payload of `size` bytes: ASCII text, or bytes that vary so misplaced data shows. */
function payloadOf(size, binary) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) {
    out[i] = binary ? (i * 31 + (i >>> 8)) & 0xff : 0x61 + (i % 26);
  }
  return out;
}

/** Compares two buffers without printing megabytes when they differ. */
function sameBytes(actual, expected) {
  if (actual.length !== expected.length) {
    return `length ${actual.length}, expected ${expected.length}`;
  }
  const index = actual.findIndex((byte, i) => byte !== expected[i]);
  return index === -1 ? 'same' : `first difference at byte ${index}`;
}

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

describeEach('RFC 6455 §5 framing', (impl) => {
  for (const role of ROLES) {
    describe(`as ${role}`, () => {
      for (const size of SIZES) {
        for (const type of ['text', 'binary']) {
          it(
            `§5.2: a ${size} B ${type} frame (${lengthName(size)} length) is received ` +
              `intact and sent back with the minimal length encoding, ` +
              (role === 'server'
                ? 'unmasked (§5.1: a server MUST NOT mask)'
                : 'masked (§5.1: a client MUST mask)'),
            async () => {
              const ctx = await openPeer(impl, role);
              echo(ctx.ws);
              const payload = payloadOf(size, type === 'binary');
              const opcode = type === 'binary' ? OP.BINARY : OP.TEXT;
              ctx.peer.sendFrame({ opcode, payload });

              const [, data, isBinary] = await ctx.events.wait(
                'message',
                15000
              );
              expect(isBinary).toBe(type === 'binary');
              expect(sameBytes(data, payload)).toBe('same');

              const frame = await ctx.peer.nextFrame(15000);
              expect({
                fin: frame.fin,
                rsv: [frame.rsv1, frame.rsv2, frame.rsv3],
                opcode: frame.opcode,
                masked: frame.masked,
                lengthBytes: frame.lengthBytes
              }).toEqual({
                fin: true,
                rsv: [false, false, false],
                opcode,
                masked: role === 'client',
                lengthBytes: lengthBytes(size)
              });
              expect(sameBytes(frame.payload, payload)).toBe('same');
            },
            30000
          );
        }
      }

      it('§5.2: a length sent in a longer encoding than needed is accepted (16 and 64 bits)', async () => {
        const ctx = await openPeer(impl, role);
        ctx.peer.sendFrame({
          opcode: OP.TEXT,
          payload: 'short',
          lengthBytes: 2
        });
        ctx.peer.sendFrame({
          opcode: OP.TEXT,
          payload: 'longer',
          lengthBytes: 8
        });
        const messages = await ctx.events.waitCount('message', 2);
        expect(messages.map(([, data]) => data.toString())).toEqual([
          'short',
          'longer'
        ]);
      });

      it('§5.2: a hundred frames in one TCP segment are all delivered, in order', async () => {
        const ctx = await openPeer(impl, role);
        const frames = [];
        for (let i = 0; i < 100; i++) {
          frames.push(ctx.peer.encode({ opcode: OP.TEXT, payload: `m${i}` }));
        }
        ctx.peer.send(Buffer.concat(frames));
        const messages = await ctx.events.waitCount('message', 100);
        expect(messages.map(([, data]) => data.toString())).toEqual(
          Array.from({ length: 100 }, (_, i) => `m${i}`)
        );
      });

      it('§5.2: 3000 messages and 1500 pings in one TCP write are all handled, in order', async () => {
        const ctx = await openPeer(impl, role);
        const frames = [];
        for (let i = 0; i < 3000; i++) {
          frames.push(
            ctx.peer.encode({
              opcode: i % 2 ? OP.BINARY : OP.TEXT,
              payload: `${i}`
            })
          );
          if (i % 2)
            frames.push(ctx.peer.encode({ opcode: OP.PING, payload: `p${i}` }));
        }
        ctx.peer.send(Buffer.concat(frames));
        const messages = await ctx.events.waitCount('message', 3000, 10000);
        expect(messages.map(([, data]) => data.toString())).toEqual(
          Array.from({ length: 3000 }, (_, i) => `${i}`)
        );
        expect(
          messages.every(([, , isBinary], i) => isBinary === (i % 2 === 1))
        ).toBe(true);
        const pongs = [];
        for (let i = 0; i < 1500; i++)
          pongs.push((await ctx.peer.nextFrame()).payload.toString());
        expect(pongs).toEqual(
          Array.from({ length: 1500 }, (_, i) => `p${2 * i + 1}`)
        );
      });

      it('§5.2: frames arriving one byte per write over TCP are parsed', async () => {
        const ctx = await openPeer(impl, role);
        const bytes = Buffer.concat([
          ctx.peer.encode({ opcode: OP.TEXT, payload: 'one' }),
          ctx.peer.encode({ opcode: OP.BINARY, payload: payloadOf(130, true) })
        ]);
        await feed(ctx.peer.socket, chunksOf(bytes, 1));
        const messages = await ctx.events.waitCount('message', 2);
        expect(messages[0][1].toString()).toBe('one');
        expect(sameBytes(messages[1][1], payloadOf(130, true))).toBe('same');
      });

      it('§5.2: a frame sequence split at every byte boundary parses the same way', async () => {
        const ctx = attachPeer(impl, role);
        const sequence = Buffer.concat([
          ctx.peer.encode({ opcode: OP.TEXT, payload: 'frag', fin: false }),
          ctx.peer.encode({ opcode: OP.PING, payload: 'p' }),
          ctx.peer.encode({ opcode: OP.CONTINUATION, payload: 'ment' }),
          ctx.peer.encode({ opcode: OP.BINARY, payload: payloadOf(200, true) }),
          ctx.peer.encode({ opcode: OP.TEXT, payload: '' })
        ]);
        let rounds = 0;
        for (const pieces of everySplit(sequence)) {
          await feed(ctx.stream, pieces);
          rounds++;
        }
        await ctx.events.waitCount('message', rounds * 3);
        const messages = ctx.events.of('message');
        expect(messages.length).toBe(rounds * 3);
        const bad = [];
        for (let round = 0; round < rounds; round++) {
          const [a, b, c] = messages.slice(round * 3, round * 3 + 3);
          const ok =
            a[1].toString() === 'fragment' &&
            a[2] === false &&
            sameBytes(b[1], payloadOf(200, true)) === 'same' &&
            b[2] === true &&
            c[1].length === 0 &&
            c[2] === false;
          if (!ok) bad.push(round + 1);
        }
        expect(bad).toEqual([]);
        expect(ctx.events.of('ping').length).toBe(rounds);
        expect(ctx.events.of('error')).toEqual([]);
      });
    });
  }

  it('§5.1: a server MUST close the connection on an unmasked client frame (1002)', async () => {
    const ctx = await openPeer(impl, 'server');
    ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'plain', mask: false });
    await expectFailure(ctx, {
      code: 1002,
      errorCode: 'WS_ERR_EXPECTED_MASK',
      message: 'Invalid WebSocket frame: MASK must be set',
      errorType: RangeError
    });
  });

  it('§5.1: a client MUST close the connection on a masked server frame (1002)', async () => {
    const ctx = await openPeer(impl, 'client');
    ctx.peer.sendFrame({ opcode: OP.TEXT, payload: 'masked', mask: true });
    await expectFailure(ctx, {
      code: 1002,
      errorCode: 'WS_ERR_UNEXPECTED_MASK',
      message: 'Invalid WebSocket frame: MASK must be clear',
      errorType: RangeError
    });
  });

  it('§5.1: a server MUST close on an unmasked control frame too (1002)', async () => {
    const ctx = await openPeer(impl, 'server');
    ctx.peer.sendFrame({ opcode: OP.PING, payload: 'x', mask: false });
    await expectFailure(ctx, { code: 1002, errorCode: 'WS_ERR_EXPECTED_MASK' });
  });

  it('§5.3: a client masks every frame with a fresh key, and an all-zero key is still a mask', async () => {
    const ctx = await openPeer(impl, 'client');
    for (let i = 0; i < 8; i++) ctx.ws.send(`message ${i}`);
    ctx.ws.ping('p');
    const frames = [];
    for (let i = 0; i < 9; i++) frames.push(await ctx.peer.nextFrame());
    expect(frames.every((frame) => frame.masked)).toBe(true);
    expect(frames.slice(0, 8).map((frame) => frame.payload.toString())).toEqual(
      Array.from({ length: 8 }, (_, i) => `message ${i}`)
    );
    const keys = new Set(frames.map((frame) => frame.maskKey.toString('hex')));
    // 9 random 32-bit keys collide with probability below 1e-8.
    expect(keys.size).toBe(9);

    // The server reads a frame masked with 00 00 00 00 like any other (the key is not a flag).
    const server = await openPeer(impl, 'server');
    server.peer.sendFrame({
      opcode: OP.TEXT,
      payload: 'zero key',
      maskKey: Buffer.alloc(4)
    });
    const [, data] = await server.events.wait('message');
    expect(data.toString()).toBe('zero key');
  });

  it("§5.3: generateMask supplies the client's masking keys", async () => {
    const ctx = await openPeer(impl, 'client', {
      clientOptions: {
        generateMask: (mask) => {
          mask[0] = 1;
          mask[1] = 2;
          mask[2] = 3;
          mask[3] = 4;
        }
      }
    });
    ctx.ws.send('keyed');
    const frame = await ctx.peer.nextFrame();
    expect(frame.masked).toBe(true);
    expect([...frame.maskKey]).toEqual([1, 2, 3, 4]);
    expect(frame.payload.toString()).toBe('keyed');
  });
});

describe('frame builder self-check', () => {
  it('encodes the RFC 6455 §5.7 examples byte for byte', () => {
    expect(
      encodeFrame({ opcode: OP.TEXT, payload: 'Hello' }).toString('hex')
    ).toBe('810548656c6c6f');
    expect(
      encodeFrame({
        opcode: OP.TEXT,
        payload: 'Hello',
        mask: true,
        maskKey: [0x37, 0xfa, 0x21, 0x3d]
      }).toString('hex')
    ).toBe('818537fa213d7f9f4d5158');
    expect(
      encodeFrame({ opcode: OP.TEXT, payload: 'Hel', fin: false }).toString(
        'hex'
      )
    ).toBe('010348656c');
    expect(
      encodeFrame({ opcode: OP.BINARY, payload: Buffer.alloc(256) })
        .subarray(0, 4)
        .toString('hex')
    ).toBe('827e0100');
    expect(
      encodeFrame({ opcode: OP.BINARY, payload: Buffer.alloc(65536) })
        .subarray(0, 10)
        .toString('hex')
    ).toBe('827f0000000000010000');
  });
});
