// lib/websocket.js: the WebSocket class once a socket is attached, in both
// roles. Most tests attach it to one end of an in-process duplex pair and
// drive the other end byte by byte (test/helpers/raw-client.js), so every
// frame on the wire is checked; the last ones run over loopback TCP, with the
// client handshake of lib/client.js and permessage-deflate.

import { Blob, File, isUtf8 } from 'node:buffer';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Duplex } from 'node:stream';

import { afterEach, describe, expect, it } from 'vitest';

import { duplexPair } from '../helpers/duplex-pair.js';
import { acceptFor, RawConnection } from '../helpers/raw-client.js';
import { closePayload, encodeFrame, OP } from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../lib/websocket.js');
const PerMessageDeflate = require('../../lib/permessage-deflate.js');
const { format, parse } = require('../../lib/extension.js');
const { kStatusCode, kWebSocket } = require('../../lib/constants.js');
const {
  NativeSocket,
  available: nativeSocketAvailable
} = require('../../lib/native-socket.js');
const {
  isBlob,
  isValidStatusCode,
  isValidUTF8,
  tokenChars
} = require('../../lib/validation.js');

const EMPTY = Buffer.alloc(0);
const SOCKET_OPTIONS = {
  allowSynchronousEvents: true,
  maxBufferedChunks: 0,
  maxFragments: 0,
  maxPayload: 0,
  skipUTF8Validation: false
};

const cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A WebSocket attached to one end of a duplex pair, and a raw peer on the
 * other end. `role` is the WebSocket's: a 'server' WebSocket reads masked
 * frames and sends unmasked ones; the peer plays the opposite role.
 */
function attach({
  role = 'server',
  options = { closeTimeout: 1000 },
  socketOptions = {},
  head = EMPTY,
  before
} = {}) {
  const [local, remote] = duplexPair();
  const ws = new WebSocket(null, undefined, options);
  if (role === 'client') ws._isServer = false;
  if (before) before(ws, local);
  const opened = [];
  ws.on('open', () => opened.push(ws.readyState));
  ws.setSocket(local, head, { ...SOCKET_OPTIONS, ...socketOptions });
  const peer = new RawConnection(
    remote,
    role === 'server' ? 'client' : 'server'
  );
  return { ws, peer, local, remote, opened };
}

function once(emitter, event) {
  return new Promise((resolve) => {
    emitter.once(event, (...args) => resolve(args));
  });
}

/** Collects 'message' events until `count` arrived. */
function messages(ws, count) {
  const received = [];
  return new Promise((resolve) => {
    ws.on('message', (data, isBinary) => {
      received.push([data, isBinary]);
      if (received.length === count) resolve(received);
    });
  });
}

/** Everything the WebSocket emits until 'close', in order. */
function record(ws) {
  const events = [];
  const done = new Promise((resolve) => {
    ws.on('error', (err) => events.push(['error', err]));
    ws.on('close', (code, reason) => {
      events.push(['close', code, reason]);
      resolve(events);
    });
  });
  return { events, done };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('WebSocket constants and attributes', () => {
  it('has the ready-state constants on the class and on instances', () => {
    const names = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
    names.forEach((name, value) => {
      for (const target of [WebSocket, WebSocket.prototype]) {
        const descriptor = Object.getOwnPropertyDescriptor(target, name);
        expect(descriptor).toEqual({
          configurable: false,
          enumerable: true,
          value,
          writable: false
        });
      }
    });
    const ws = new WebSocket(null, undefined, {});
    expect(ws.CLOSED).toBe(3);
  });

  it('exposes the IDL attributes as enumerable accessors', () => {
    for (const name of [
      'binaryType',
      'bufferedAmount',
      'extensions',
      'isPaused',
      'protocol',
      'readyState',
      'url'
    ]) {
      const descriptor = Object.getOwnPropertyDescriptor(
        WebSocket.prototype,
        name
      );
      expect(descriptor.enumerable).toBe(true);
      expect(typeof descriptor.get).toBe('function');
    }
    expect(
      Object.getOwnPropertyDescriptor(WebSocket.prototype, 'readyState').set
    ).toBe(undefined);
  });

  it('exposes the event handler attributes as configurable accessors', () => {
    for (const name of ['onclose', 'onerror', 'onmessage', 'onopen']) {
      const descriptor = Object.getOwnPropertyDescriptor(
        WebSocket.prototype,
        name
      );
      expect(descriptor.configurable).toBe(true);
      expect(descriptor.enumerable).toBe(true);
      expect(typeof descriptor.get).toBe('function');
      expect(typeof descriptor.set).toBe('function');
    }
  });

  it('a server-side WebSocket waits for setSocket()', () => {
    const ws = new WebSocket(null, undefined, {
      autoPong: false,
      closeTimeout: 5
    });
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.url).toBe(undefined);
    expect(ws._isServer).toBe(true);
    expect(ws._autoPong).toBe(false);
    expect(ws._closeTimeout).toBe(5);
    expect([ws._socket, ws._receiver, ws._sender]).toEqual([null, null, null]);
    // Without options the defaults apply.
    const plain = new WebSocket(null);
    expect(plain._autoPong).toBe(true);
    expect(plain._closeTimeout).toBe(30000);
  });

  // lib/listener-table.js replaces EventEmitter's listener store: it must
  // answer exactly as the original, Object.prototype names included.
  it('keeps listeners as EventEmitter does, inheriting none', () => {
    const ws = new WebSocket(null);
    const calls = [];
    const onMessage = (data) => calls.push(['message', data]);
    const onClose = () => calls.push(['close']);

    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      expect(ws.listenerCount(name)).toBe(0);
      expect(ws.emit(name)).toBe(false);
    }
    expect(ws.eventNames()).toEqual([]);

    ws.on('message', onMessage);
    ws.once('close', onClose);
    ws.on('toString', onClose);
    expect(ws.eventNames()).toEqual(['message', 'close', 'toString']);
    expect(ws.emit('message', 'a')).toBe(true);
    expect(ws.emit('close')).toBe(true);
    expect(ws.emit('close')).toBe(false);
    expect(ws.emit('toString')).toBe(true);
    ws.off('message', onMessage);
    ws.off('toString', onClose);
    expect(ws.emit('message', 'b')).toBe(false);
    expect(ws.eventNames()).toEqual([]);
    expect(calls).toEqual([['message', 'a'], ['close'], ['close']]);
    expect(() => ws.emit('error', new Error('unhandled'))).toThrow('unhandled');
  });
});

describe('before setSocket()', () => {
  it('close() and terminate() give up with an error, then close 1006', async () => {
    for (const method of ['close', 'terminate']) {
      const ws = new WebSocket(null, undefined, {});
      const { events, done } = record(ws);
      ws[method]();
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      await done;
      expect(events.map(([name]) => name)).toEqual(['error', 'close']);
      expect(events[0][1].message).toBe(
        'WebSocket was closed before the connection was established'
      );
      expect(events[1].slice(1)).toEqual([1006, EMPTY]);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
    }
  });

  it('send, ping and pong throw; pause and resume do nothing', () => {
    const ws = new WebSocket(null, undefined, {});
    const message = 'WebSocket is not open: readyState 0 (CONNECTING)';
    expect(() => ws.send('x')).toThrow(new Error(message));
    expect(() => ws.ping()).toThrow(new Error(message));
    expect(() => ws.pong()).toThrow(new Error(message));
    ws.pause();
    expect(ws.isPaused).toBe(false);
    ws.resume();
    expect(ws.bufferedAmount).toBe(0);
  });
});

describe('setSocket()', () => {
  it('opens synchronously and wires socket, receiver and sender', () => {
    const { ws, local, opened } = attach();
    expect(opened).toEqual([WebSocket.OPEN]);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(ws._socket).toBe(local);
    expect(local[kWebSocket]).toBe(ws);
    expect(ws._receiver[kWebSocket]).toBe(ws);
    expect(ws._sender[kWebSocket]).toBe(ws);
    expect(ws.protocol).toBe('');
    expect(ws.extensions).toBe('');
  });

  it('reads _protocol and _extensions set before it', () => {
    const pmd = new PerMessageDeflate({ isServer: true });
    pmd.accept([{}]);
    const { ws } = attach({
      before(websocket) {
        websocket._protocol = 'chat';
        websocket._extensions = { 'permessage-deflate': pmd };
      }
    });
    expect(ws.protocol).toBe('chat');
    expect(ws.extensions).toBe('permessage-deflate');
  });

  it('disables the socket timeout and Nagle when the socket has them', () => {
    const calls = [];
    attach({
      before(websocket, socket) {
        socket.setTimeout = (ms) => calls.push(['setTimeout', ms]);
        socket.setNoDelay = (...args) => calls.push(['setNoDelay', ...args]);
      }
    });
    expect(calls).toEqual([['setTimeout', 0], ['setNoDelay']]);
  });

  it('parses the head bytes before later socket data', async () => {
    const head = Buffer.concat([
      encodeFrame({ opcode: OP.TEXT, payload: 'first', mask: true }),
      encodeFrame({ opcode: OP.TEXT, payload: 'sec', mask: true, fin: false })
    ]);
    const { ws, peer } = attach({ head });
    const received = messages(ws, 2);
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'ond' });
    expect(await received).toEqual([
      [Buffer.from('first'), false],
      [Buffer.from('second'), false]
    ]);
  });
});

describe('receiving', () => {
  it("emits 'message' with a Buffer and isBinary", async () => {
    const { ws, peer } = attach();
    const received = messages(ws, 3);
    peer.sendText('héllo');
    peer.sendBinary([0, 1, 255]);
    peer.sendFrame({ opcode: OP.TEXT, payload: 'frag', fin: false });
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: 'ment', fin: true });
    expect(await received).toEqual([
      [Buffer.from('héllo'), false],
      [Buffer.from([0, 1, 255]), true],
      [Buffer.from('fragment'), false]
    ]);
  });

  it('pauses the socket only while a chunk waits in the Receiver, and resumes it after', async () => {
    const big = (fill) => Buffer.alloc(40 * 1024, fill);
    const pausesOf = (socket) => {
      const pauses = [];
      const pause = socket.pause;
      socket.pause = function () {
        pauses.push(this.isPaused());
        return pause.call(this);
      };
      return pauses;
    };

    // Parsed to the end within write(): nothing waits, so no pause, although
    // the chunk is larger than the Receiver's 16 KiB highWaterMark.
    const flowing = attach();
    const flowingPauses = pausesOf(flowing.local);
    const one = messages(flowing.ws, 1);
    flowing.peer.sendBinary(big(1));
    expect(await one).toEqual([[big(1), true]]);
    await tick();
    expect(flowingPauses).toEqual([]);
    expect(flowing.local.isPaused()).toBe(false);

    // One message per tick: the second waits in the Receiver, so the socket
    // is paused, and resumed once the Receiver has drained.
    const paced = attach({ socketOptions: { allowSynchronousEvents: false } });
    const pacedPauses = pausesOf(paced.local);
    const two = messages(paced.ws, 2);
    paced.peer.send(
      Buffer.concat([
        paced.peer.encode({ opcode: OP.BINARY, payload: big(2) }),
        paced.peer.encode({ opcode: OP.BINARY, payload: big(3) })
      ])
    );
    expect(await two).toEqual([
      [big(2), true],
      [big(3), true]
    ]);
    await tick();
    expect(pacedPauses).toEqual([false]);
    expect(paced.local.isPaused()).toBe(false);
  });

  it('converts binary messages per binaryType; text stays a Buffer', async () => {
    const { ws, peer } = attach();
    const seen = [];
    ws.on('message', (data, isBinary) => seen.push([data, isBinary]));

    ws.binaryType = 'arraybuffer';
    peer.sendBinary([1, 2, 3]);
    peer.sendText('t');
    await tick();
    ws.binaryType = 'fragments';
    peer.sendFrame({ opcode: OP.BINARY, payload: [4], fin: false });
    peer.sendFrame({ opcode: OP.CONTINUATION, payload: [5, 6] });
    await tick();
    ws.binaryType = 'blob';
    peer.sendBinary([7, 8]);
    await tick();
    await tick();

    expect(seen).toHaveLength(4);
    expect(seen[0][0]).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(seen[0][0])]).toEqual([1, 2, 3]);
    expect(seen[1]).toEqual([Buffer.from('t'), false]);
    // 'fragments': an array of Buffers that together make the message.
    expect(Array.isArray(seen[2][0])).toBe(true);
    expect(seen[2][0].every((part) => Buffer.isBuffer(part))).toBe(true);
    expect(Buffer.concat(seen[2][0])).toEqual(Buffer.from([4, 5, 6]));
    expect(seen[2][1]).toBe(true);
    expect(seen[3][0]).toBeInstanceOf(Blob);
    expect(Buffer.from(await seen[3][0].arrayBuffer())).toEqual(
      Buffer.from([7, 8])
    );
  });

  it('ignores an unknown binaryType and passes changes to the receiver', () => {
    const { ws } = attach();
    expect(ws.binaryType).toBe('nodebuffer');
    ws.binaryType = 'arraybuffer';
    expect(ws._receiver._binaryType).toBe('arraybuffer');
    for (const bad of ['text', '', undefined, 'Blob', 1]) {
      ws.binaryType = bad;
      expect(ws.binaryType).toBe('arraybuffer');
    }
    expect(ws._receiver._binaryType).toBe('arraybuffer');
    // Before a socket, only the field changes.
    const idle = new WebSocket(null, undefined, {});
    idle.binaryType = 'fragments';
    expect(idle.binaryType).toBe('fragments');
  });

  it("answers a ping with the same payload and emits 'ping'", async () => {
    const { ws, peer } = attach();
    const ping = once(ws, 'ping');
    peer.sendFrame({ opcode: OP.PING, payload: 'are you there' });
    expect(await ping).toEqual([Buffer.from('are you there')]);
    const pong = await peer.nextFrame();
    expect(pong).toMatchObject({ opcode: OP.PONG, fin: true, masked: false });
    expect(pong.payload).toEqual(Buffer.from('are you there'));
  });

  it('masks the automatic pong in the client role', async () => {
    const { ws, peer } = attach({ role: 'client' });
    peer.sendFrame({ opcode: OP.PING, payload: [9, 9] });
    await once(ws, 'ping');
    const pong = await peer.nextFrame();
    expect(pong.opcode).toBe(OP.PONG);
    expect(pong.masked).toBe(true);
    expect(pong.payload).toEqual(Buffer.from([9, 9]));
  });

  it('does not answer pings when autoPong is false', async () => {
    const { ws, peer } = attach({ options: { autoPong: false } });
    peer.sendFrame({ opcode: OP.PING, payload: 'x' });
    await once(ws, 'ping');
    expect(await peer.framesWithin(30)).toEqual([]);
  });

  it("emits 'pong'", async () => {
    const { ws, peer } = attach();
    const pong = once(ws, 'pong');
    peer.sendFrame({ opcode: OP.PONG, payload: 'p' });
    expect(await pong).toEqual([Buffer.from('p')]);
  });

  it('ignores data after the peer close frame', async () => {
    const { ws, peer } = attach();
    const seen = [];
    ws.on('message', (data) => seen.push(data));
    peer.send(
      Buffer.concat([
        peer.encode({ opcode: OP.CLOSE, payload: closePayload(1000) }),
        peer.encode({ opcode: OP.TEXT, payload: 'late' })
      ])
    );
    await once(ws, 'close');
    expect(seen).toEqual([]);
  });
});

describe('protocol errors from the peer', () => {
  it("closes with the error's code, emits 'error' once, then 'close' 1006", async () => {
    const { ws, peer } = attach();
    const { events, done } = record(ws);
    // RFC 6455 §5.1: a server must fail on an unmasked client frame.
    peer.sendFrame({ opcode: OP.TEXT, payload: 'x', mask: false });
    peer.sendFrame({ opcode: OP.TEXT, payload: 'y', mask: false });
    const close = await peer.nextFrame();
    expect(close.opcode).toBe(OP.CLOSE);
    expect(close.code).toBe(1002);
    expect(close.masked).toBe(false);
    await done;
    expect(events.map(([name]) => name)).toEqual(['error', 'close']);
    const [, err] = events[0];
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('WS_ERR_EXPECTED_MASK');
    expect(err.message).toBe('Invalid WebSocket frame: MASK must be set');
    expect(err[kStatusCode]).toBe(1002);
    // No close frame came back: the close is abnormal.
    expect(events[1].slice(1)).toEqual([1006, EMPTY]);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('closes with 1007 on invalid UTF-8', async () => {
    const { ws, peer } = attach();
    const { events, done } = record(ws);
    peer.sendFrame({ opcode: OP.TEXT, payload: [0xc0, 0xaf] });
    expect((await peer.nextFrame()).code).toBe(1007);
    await done;
    expect(events[0][1].code).toBe('WS_ERR_INVALID_UTF8');
    expect(events[0][1][kStatusCode]).toBe(1007);
  });

  it('ends the TCP connection itself once its close frame is out', async () => {
    const { ws, peer } = attach({ role: 'client' });
    ws.on('error', () => {});
    const closed = once(ws, 'close');
    // RFC 6455 §5.1: a client must fail on a masked server frame.
    peer.sendFrame({ opcode: OP.TEXT, payload: 'x', mask: true });
    expect((await peer.nextFrame()).code).toBe(1002);
    await peer.waitForEnd();
    expect(peer.peerEndedFirst).toBe(true);
    await closed;
  });
});

describe('sending', () => {
  it('sends strings as text and other data as binary, unmasked as a server', async () => {
    const { ws, peer } = attach();
    const bytes = new Uint8Array([9, 1, 2, 3, 9]);
    const wide = new Uint16Array([0x0102, 0x0304]);
    const cases = [
      ['héllo', OP.TEXT, Buffer.from('héllo')],
      [Buffer.from([1, 2]), OP.BINARY, Buffer.from([1, 2])],
      [bytes.subarray(1, 4), OP.BINARY, Buffer.from([1, 2, 3])],
      [wide, OP.BINARY, Buffer.from(wide.buffer)],
      [new Uint8Array([5, 6]).buffer, OP.BINARY, Buffer.from([5, 6])],
      [new DataView(bytes.buffer, 3, 2), OP.BINARY, Buffer.from([3, 9])],
      [42, OP.TEXT, Buffer.from('42')],
      [[7, 8], OP.BINARY, Buffer.from([7, 8])],
      ['', OP.TEXT, EMPTY],
      [undefined, OP.BINARY, EMPTY],
      [null, OP.BINARY, EMPTY]
    ];
    for (const [data] of cases) ws.send(data);
    for (const [, opcode, payload] of cases) {
      const frame = await peer.nextFrame();
      expect(frame).toMatchObject({
        fin: true,
        rsv1: false,
        masked: false,
        opcode
      });
      expect(frame.payload).toEqual(payload);
    }
  });

  it('sends a Blob as binary', async () => {
    const { ws, peer } = attach();
    ws.send(new Blob(['blob', Buffer.from([0])]));
    ws.send('after');
    const first = await peer.nextFrame();
    expect(first.opcode).toBe(OP.BINARY);
    expect(first.payload).toEqual(Buffer.from('blob\0'));
    expect((await peer.nextFrame()).payload).toEqual(Buffer.from('after'));
  });

  it('throws TypeError for data Buffer.from() cannot take', () => {
    const { ws } = attach();
    expect(() => ws.send({})).toThrow(TypeError);
    expect(() => ws.send(Symbol('x'))).toThrow(TypeError);
  });

  it('honours the binary, fin and mask options', async () => {
    const { ws, peer } = attach();
    ws.send('as binary', { binary: true });
    ws.send(Buffer.from('as text'), { binary: false });
    ws.send('one ', { fin: false });
    ws.send('two', { fin: true });
    ws.send('masked', { mask: true });
    const frames = [];
    for (let i = 0; i < 5; i++) frames.push(await peer.nextFrame());
    expect(
      frames.map((f) => [f.opcode, f.fin, f.masked, `${f.payload}`])
    ).toEqual([
      [OP.BINARY, true, false, 'as binary'],
      [OP.TEXT, true, false, 'as text'],
      [OP.TEXT, false, false, 'one '],
      [OP.CONTINUATION, true, false, 'two'],
      [OP.TEXT, true, true, 'masked']
    ]);
  });

  it('masks every frame in the client role unless told not to', async () => {
    const { ws, peer } = attach({ role: 'client' });
    ws.send('m');
    ws.send('plain', { mask: false });
    ws.ping('p');
    ws.pong('q', false);
    const frames = [];
    for (let i = 0; i < 4; i++) frames.push(await peer.nextFrame());
    expect(frames.map((f) => [f.opcode, f.masked, `${f.payload}`])).toEqual([
      [OP.TEXT, true, 'm'],
      [OP.TEXT, false, 'plain'],
      [OP.PING, true, 'p'],
      [OP.PONG, false, 'q']
    ]);
    expect(frames[0].maskKey).toHaveLength(4);
  });

  it('does not compress without permessage-deflate', async () => {
    const { ws, peer } = attach();
    ws.send('x'.repeat(2000), { compress: true });
    const frame = await peer.nextFrame();
    expect(frame.rsv1).toBe(false);
    expect(frame.payload).toHaveLength(2000);
  });

  it('calls the send callback once written', async () => {
    const { ws } = attach();
    const results = [];
    await new Promise((resolve) => {
      ws.send('a', (err) => results.push(err));
      ws.send('b', {}, (err) => {
        results.push(err);
        resolve();
      });
    });
    expect(results).toHaveLength(2);
    expect(results.every((err) => err == null)).toBe(true);
  });

  it('sends pings and pongs in all argument forms', async () => {
    const { ws, peer } = attach();
    const done = [];
    ws.ping();
    ws.ping(12);
    ws.ping('data', true);
    ws.ping(() => done.push('ping cb'));
    ws.pong(Buffer.from([1]), () => done.push('pong cb'));
    ws.pong('x', false, () => done.push('pong cb 2'));
    const frames = [];
    for (let i = 0; i < 6; i++) frames.push(await peer.nextFrame());
    expect(frames.map((f) => [f.opcode, f.masked, `${f.payload}`])).toEqual([
      [OP.PING, false, ''],
      [OP.PING, false, '12'],
      [OP.PING, true, 'data'],
      [OP.PING, false, ''],
      [OP.PONG, false, '\u0001'],
      [OP.PONG, false, 'x']
    ]);
    await tick();
    expect(done).toEqual(['ping cb', 'pong cb', 'pong cb 2']);
  });

  it('throws RangeError for a control payload over 125 bytes', () => {
    const { ws } = attach();
    const message = 'The data size must not be greater than 125 bytes';
    expect(() => ws.ping(Buffer.alloc(126))).toThrow(new RangeError(message));
    expect(() => ws.pong('x'.repeat(126))).toThrow(new RangeError(message));
    expect(() => ws.ping(Buffer.alloc(125))).not.toThrow();
  });

  it('reports a failed Blob read through the callback and an error event', async () => {
    const { ws, peer } = attach();
    const failure = new Error('unreadable');
    const blob = {
      [Symbol.toStringTag]: 'Blob',
      size: 3,
      type: '',
      arrayBuffer: () => Promise.reject(failure),
      stream() {}
    };
    const states = [];
    ws.on('error', () => states.push(ws.readyState));
    const { events, done } = record(ws);
    const callback = new Promise((resolve) => ws.send(blob, resolve));
    expect(await callback).toBe(failure);
    // The socket is ended (not destroyed) so the peer can finish.
    await peer.waitForEnd();
    expect(peer.peerEndedFirst).toBe(true);
    await done;
    expect(states).toEqual([WebSocket.CLOSING]);
    expect(events.map(([name]) => name)).toEqual(['error', 'close']);
    expect(events[0][1]).toBe(failure);
    expect(events[1][1]).toBe(1006);
  });
});

describe('bufferedAmount', () => {
  /** A socket that accepts writes but completes none until release(). */
  function stalledSocket() {
    const pending = [];
    const socket = new Duplex({
      read() {},
      write(chunk, encoding, callback) {
        pending.push(callback);
      },
      writev(chunks, callback) {
        pending.push(callback);
      }
    });
    socket.release = () => {
      for (const callback of pending.splice(0)) callback();
    };
    return socket;
  }

  it('counts bytes the socket has not written yet, framing included', async () => {
    const socket = stalledSocket();
    const ws = new WebSocket(null, undefined, {});
    ws.setSocket(socket, EMPTY, SOCKET_OPTIONS);
    expect(ws.bufferedAmount).toBe(0);
    ws.send('abc');
    expect(ws.bufferedAmount).toBe(2 + 3);
    ws.send(Buffer.alloc(200));
    expect(ws.bufferedAmount).toBe(5 + 4 + 200);
    expect(ws.bufferedAmount).toBe(
      socket._writableState.length + ws._sender._bufferedBytes
    );
    // Completing the writes (the Sender may batch them) empties it.
    for (let i = 0; i < 10 && socket.writableLength > 0; i++) {
      socket.release();
      await tick();
    }
    expect(ws.bufferedAmount).toBe(0);
  });

  it('includes data the sender still holds (a Blob being read)', async () => {
    const socket = stalledSocket();
    const ws = new WebSocket(null, undefined, {});
    ws.setSocket(socket, EMPTY, SOCKET_OPTIONS);
    ws.send(new Blob(['12345678']));
    expect(ws._sender._bufferedBytes).toBe(8);
    expect(ws.bufferedAmount).toBe(8);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ws._sender._bufferedBytes).toBe(0);
    expect(ws.bufferedAmount).toBe(2 + 8);
  });

  it('grows with data sent while closing, and the callback gets an error', async () => {
    const { ws, peer } = attach();
    ws.close();
    expect(ws.bufferedAmount).toBe(0);
    const errors = [];
    ws.send('héllo', (err) => errors.push(err.message));
    ws.send(new Float64Array(2));
    ws.send(new Blob(['xyz']));
    ws.ping(7, (err) => errors.push(err.message));
    ws.pong(undefined, (err) => errors.push(err.message));
    expect(ws.bufferedAmount).toBe(6 + 16 + 3 + 1);
    expect(errors).toEqual([]);
    await tick();
    expect(errors).toEqual([
      'WebSocket is not open: readyState 2 (CLOSING)',
      'WebSocket is not open: readyState 2 (CLOSING)',
      'WebSocket is not open: readyState 2 (CLOSING)'
    ]);
    expect(() => ws.send({})).toThrow(TypeError);
    peer.sendClose(1000);
    await once(ws, 'close');
    const late = await new Promise((resolve) => ws.send('z', resolve));
    expect(late.message).toBe('WebSocket is not open: readyState 3 (CLOSED)');
  });
});

describe('the closing handshake', () => {
  it('close(code, reason): frame out, peer answer, then close with its code', async () => {
    const { ws, peer } = attach();
    const closeEvents = [];
    ws.addEventListener('close', (event) => closeEvents.push(event));
    ws.close(1001, 'going');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const frame = await peer.nextFrame();
    expect(frame).toMatchObject({ opcode: OP.CLOSE, fin: true, code: 1001 });
    expect(`${frame.reason}`).toBe('going');
    // The server waits for the client to close TCP first (RFC 6455 §7.1.1).
    expect(peer.peerEnded).toBe(false);
    peer.sendClose(1000, 'ok');
    const [code, reason] = await once(ws, 'close');
    expect(code).toBe(1000);
    expect(reason).toEqual(Buffer.from('ok'));
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    expect(closeEvents[0].wasClean).toBe(true);
    expect(closeEvents[0].code).toBe(1000);
    expect(closeEvents[0].reason).toBe('ok');
    // Exactly one close frame went out.
    expect(await peer.framesWithin(10)).toEqual([]);
  });

  it('accepts a Uint8Array reason', async () => {
    const { ws, peer } = attach();
    ws.close(4000, new Uint8Array([0x61, 0x62]));
    const frame = await peer.nextFrame();
    expect(frame.code).toBe(4000);
    expect(frame.reason).toEqual(Buffer.from('ab'));
  });

  it('close() without a code sends an empty close frame', async () => {
    const { ws, peer } = attach({ role: 'client' });
    ws.close();
    const frame = await peer.nextFrame();
    expect(frame.opcode).toBe(OP.CLOSE);
    expect(frame.masked).toBe(true);
    expect(frame.payload).toEqual(EMPTY);
    peer.sendClose();
    const [code, reason] = await once(ws, 'close');
    expect([code, reason]).toEqual([1005, EMPTY]);
  });

  it('echoes the peer close code and reason, then closes (RFC 6455 §5.5.1)', async () => {
    const { ws, peer } = attach({ role: 'client' });
    const closed = once(ws, 'close');
    peer.sendClose(4001, 'bye');
    const echo = await peer.nextFrame();
    expect(echo).toMatchObject({ opcode: OP.CLOSE, code: 4001, masked: true });
    expect(`${echo.reason}`).toBe('bye');
    // The client closes TCP after its close frame is sent.
    await peer.waitForEnd();
    const [code, reason] = await closed;
    expect(code).toBe(4001);
    expect(reason).toEqual(Buffer.from('bye'));
  });

  it('answers a close frame without a code with an empty one and reports 1005', async () => {
    const { ws, peer } = attach();
    const closed = once(ws, 'close');
    peer.sendClose();
    const echo = await peer.nextFrame();
    expect(echo.opcode).toBe(OP.CLOSE);
    expect(echo.payload).toEqual(EMPTY);
    peer.end();
    expect(await closed).toEqual([1005, EMPTY]);
  });

  it('echoes only the code when skipUTF8Validation let an invalid reason in', async () => {
    const { ws, peer } = attach({
      socketOptions: { skipUTF8Validation: true }
    });
    const closed = once(ws, 'close');
    peer.sendClose(1000, Buffer.from([0x61, 0xff]));
    const echo = await peer.nextFrame();
    expect(echo.opcode).toBe(OP.CLOSE);
    expect(echo.payload).toEqual(closePayload(1000));
    peer.end();
    expect(await closed).toEqual([1000, Buffer.from([0x61, 0xff])]);
  });

  it('throws for an invalid code or reason', () => {
    const { ws } = attach();
    const badCode = 'First argument must be a valid error code number';
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000, '1000']) {
      const fresh = attach().ws;
      expect(() => fresh.close(code)).toThrow(new TypeError(badCode));
    }
    expect(() => ws.close(1000, 'x'.repeat(124))).toThrow(
      new RangeError('The message must not be greater than 123 bytes')
    );
    const other = attach().ws;
    expect(() => other.close(1000, new Uint16Array(2))).toThrow(
      new TypeError('Second argument must be a string or a Uint8Array')
    );
  });

  it('stays open after a close() with invalid arguments', async () => {
    const { ws, peer } = attach();
    expect(() => ws.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send('still open');
    expect(`${(await peer.nextFrame()).payload}`).toBe('still open');
    ws.close(1000);
    expect((await peer.nextFrame()).code).toBe(1000);
  });

  it('a second close() while waiting for the peer sends nothing more', async () => {
    const { ws, peer } = attach();
    ws.close(1000);
    ws.close(1001);
    ws.close();
    expect((await peer.nextFrame()).code).toBe(1000);
    expect(await peer.framesWithin(20)).toEqual([]);
  });

  it('destroys the socket after closeTimeout if the peer never answers', async () => {
    const { ws, peer } = attach({ options: { closeTimeout: 60 } });
    const started = Date.now();
    ws.close(1000);
    await peer.nextFrame();
    const [code, reason] = await once(ws, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect([code, reason]).toEqual([1006, EMPTY]);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('reports 1006 when TCP ends without a close frame', async () => {
    const { ws, peer } = attach();
    const closeEvents = [];
    ws.onclose = (event) => closeEvents.push(event);
    peer.end();
    const [code] = await once(ws, 'close');
    expect(code).toBe(1006);
    expect(closeEvents[0].wasClean).toBe(false);
  });

  it('terminate() destroys the socket: close 1006, no close frame', async () => {
    const { ws, peer } = attach();
    const { events, done } = record(ws);
    ws.terminate();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await done;
    expect(events).toEqual([['close', 1006, EMPTY]]);
    expect(await peer.nextFrame()).toBe(null);
    ws.terminate();
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('a socket error closes without an error event', async () => {
    const { ws, local } = attach();
    const { events, done } = record(ws);
    local.destroy(new Error('reset by peer'));
    await done;
    expect(events).toEqual([['close', 1006, EMPTY]]);
  });

  it('cleans up permessage-deflate when closed', async () => {
    const pmd = new PerMessageDeflate({ isServer: true });
    pmd.accept([{}]);
    let cleaned = 0;
    const cleanup = pmd.cleanup.bind(pmd);
    pmd.cleanup = () => {
      cleaned++;
      cleanup();
    };
    const { ws } = attach({
      before(websocket) {
        websocket._extensions = { 'permessage-deflate': pmd };
      }
    });
    ws.terminate();
    await once(ws, 'close');
    expect(cleaned).toBe(1);
  });

  it('listeners on ws._receiver run after the WebSocket handled the event, as in ws', async () => {
    const { ws, peer } = attach();
    const seen = [];
    const onMessage = (data, isBinary) =>
      seen.push(['message', String(data), isBinary, ws.readyState]);
    ws._receiver.on('message', onMessage);
    ws._receiver.once('ping', (data) => seen.push(['ping', String(data)]));
    ws._receiver.on('conclude', (code, reason) =>
      seen.push(['conclude', code, String(reason), ws.readyState])
    );
    ws.on('message', () => seen.push(['ws message']));
    expect(ws._receiver.listenerCount('message')).toBe(1);

    let pings = 0;
    const twoPings = new Promise((resolve) =>
      ws.on('ping', () => ++pings === 2 && resolve())
    );
    peer.send(
      Buffer.concat([
        peer.encode({ opcode: OP.TEXT, payload: 'a' }),
        peer.encode({ opcode: OP.PING, payload: 'p' }),
        peer.encode({ opcode: OP.PING, payload: 'q' })
      ])
    );
    await twoPings;
    ws._receiver.removeListener('message', onMessage);
    peer.send(peer.encode({ opcode: OP.TEXT, payload: 'b' }));
    peer.sendClose(1000, 'bye');
    await once(ws, 'close');
    expect(seen).toEqual([
      ['ws message'],
      ['message', 'a', false, WebSocket.OPEN],
      ['ping', 'p'],
      ['ws message'],
      ['conclude', 1000, 'bye', WebSocket.CLOSING]
    ]);
  });

  it('emits the rest of a chunk before close, and nothing after it', async () => {
    const { ws, peer } = attach({
      socketOptions: { allowSynchronousEvents: false }
    });
    const events = [];
    ws.on('message', (data) => {
      events.push(`message ${data}`);
      if (events.length === 1) ws.terminate();
    });
    ws.on('ping', () => events.push('ping'));
    ws.on('close', (code) => events.push(`close ${code}`));
    peer.send(
      Buffer.concat([
        peer.encode({ opcode: OP.TEXT, payload: 'a' }),
        peer.encode({ opcode: OP.TEXT, payload: 'b' }),
        peer.encode({ opcode: OP.PING, payload: 'c' })
      ])
    );
    await once(ws, 'close');
    await tick();
    await tick();
    expect(events).toEqual(['message a', 'message b', 'ping', 'close 1006']);
  });
});

describe('pause() and resume()', () => {
  it('hold messages while paused and deliver them after resume()', async () => {
    const { ws, peer } = attach();
    const seen = [];
    ws.on('message', (data) => seen.push(`${data}`));
    ws.pause();
    expect(ws.isPaused).toBe(true);
    peer.sendText('one');
    peer.sendText('two');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([]);
    ws.resume();
    expect(ws.isPaused).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual(['one', 'two']);
  });

  it('are no-ops once closed', async () => {
    const { ws } = attach();
    ws.terminate();
    await once(ws, 'close');
    ws.pause();
    expect(ws.isPaused).toBe(false);
    ws.resume();
    expect(ws.isPaused).toBe(false);
  });
});

describe('over loopback TCP', () => {
  /** An http server completing upgrades by hand onto server-role WebSockets. */
  async function server({ deflate = false } = {}) {
    const accepted = [];
    const waiting = [];
    const httpServer = http.createServer();
    httpServer.on('upgrade', (req, socket, head) => {
      const lines = [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'])}`
      ];
      const ws = new WebSocket(null, undefined, { closeTimeout: 1000 });
      const offer = req.headers['sec-websocket-extensions'];
      if (deflate && offer) {
        const pmd = new PerMessageDeflate({ isServer: true });
        pmd.accept(parse(offer)['permessage-deflate']);
        lines.push(
          `Sec-WebSocket-Extensions: ${format({
            'permessage-deflate': pmd.params
          })}`
        );
        ws._extensions = { 'permessage-deflate': pmd };
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      ws.setSocket(socket, head, SOCKET_OPTIONS);
      const next = waiting.shift();
      if (next) next(ws);
      else accepted.push(ws);
    });
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      httpServer.closeAllConnections();
      return new Promise((resolve) => httpServer.close(resolve));
    });
    return {
      url: `ws://127.0.0.1:${httpServer.address().port}`,
      accept: () =>
        accepted.length
          ? Promise.resolve(accepted.shift())
          : new Promise((resolve) => waiting.push(resolve))
    };
  }

  it('exchanges messages both ways and closes cleanly', async () => {
    const { url, accept } = await server();
    const client = new WebSocket(url, { perMessageDeflate: false });
    const [serverSide] = await Promise.all([accept(), once(client, 'open')]);
    // A plain TCP socket is taken over by native I/O when the addon has it.
    expect(serverSide._socket).toBeInstanceOf(
      nativeSocketAvailable && process.env.WSN_NATIVE_IO !== '0'
        ? NativeSocket
        : net.Socket
    );
    expect(serverSide._socket.timeout).toBe(0);

    serverSide.on('message', (data, isBinary) => {
      serverSide.send(data, { binary: isBinary });
    });
    const echoed = messages(client, 2);
    client.send('ping me');
    client.send(Buffer.from([1, 2, 3]));
    expect(await echoed).toEqual([
      [Buffer.from('ping me'), false],
      [Buffer.from([1, 2, 3]), true]
    ]);

    const serverClosed = once(serverSide, 'close');
    const clientClosed = once(client, 'close');
    client.close(1000, 'done');
    expect(await clientClosed).toEqual([1000, Buffer.from('done')]);
    expect(await serverClosed).toEqual([1000, Buffer.from('done')]);
    expect(client.readyState).toBe(WebSocket.CLOSED);
    expect(serverSide.readyState).toBe(WebSocket.CLOSED);
  });

  it('compresses with permessage-deflate when negotiated', async () => {
    const { url, accept } = await server({ deflate: true });
    const client = new WebSocket(url);
    const [serverSide] = await Promise.all([accept(), once(client, 'open')]);
    expect(client.extensions).toBe('permessage-deflate');
    expect(serverSide.extensions).toBe('permessage-deflate');

    const wire = [];
    client._socket.on('data', (chunk) => wire.push(chunk));
    const text = 'compress me '.repeat(500);
    const received = messages(client, 2);
    serverSide.send(text);
    serverSide.send(text, { compress: false });
    const [[first], [second]] = await received;
    expect(`${first}`).toBe(text);
    expect(`${second}`).toBe(text);
    const bytes = Buffer.concat(wire);
    // The first frame is compressed (RSV1) and far smaller than the text.
    expect(bytes[0] & 0x40).toBe(0x40);
    expect(bytes.length).toBeLessThan(text.length + 500);

    const back = messages(serverSide, 1);
    client.send(text);
    expect(`${(await back)[0][0]}`).toBe(text);
    client.terminate();
    await once(serverSide, 'close');
  });

  it('a protocol error on one side closes both', async () => {
    const { url, accept } = await server();
    const client = new WebSocket(url, { perMessageDeflate: false });
    const [serverSide] = await Promise.all([accept(), once(client, 'open')]);
    const serverEvents = record(serverSide);
    const clientEvents = record(client);
    // An unmasked frame from the client breaks RFC 6455 §5.1.
    client.send('unmasked', { mask: false });
    const [onServer, onClient] = await Promise.all([
      serverEvents.done,
      clientEvents.done
    ]);
    expect(onServer.map(([name]) => name)).toEqual(['error', 'close']);
    expect(onServer[0][1].code).toBe('WS_ERR_EXPECTED_MASK');
    expect(onServer[1][1]).toBe(1006);
    expect(onClient).toEqual([['close', 1002, EMPTY]]);
  });
});

describe('lib/validation.js', () => {
  it('isValidStatusCode accepts exactly the codes RFC 6455 §7.4 allows', () => {
    const valid = [];
    for (let code = 0; code < 6000; code++) {
      if (isValidStatusCode(code)) valid.push(code);
    }
    const expected = [];
    for (let code = 1000; code <= 1014; code++) {
      if (code !== 1004 && code !== 1005 && code !== 1006) expected.push(code);
    }
    for (let code = 3000; code <= 4999; code++) expected.push(code);
    expect(valid).toEqual(expected);
    // Non-integers and other types answer as in ws.
    const reference = require(
      require.resolve('ws').replace(/index\.js$/, 'lib/validation.js')
    ).isValidStatusCode;
    for (const code of [1000.5, 1004.5, 1014.5, 2999.5, 4999.5, NaN, '1000']) {
      expect(isValidStatusCode(code), String(code)).toBe(reference(code));
    }
  });

  it('isValidUTF8 agrees with Node on boundary sequences and random bytes', () => {
    const samples = [
      [],
      [0x7f],
      [0xc2, 0x80],
      [0xc1, 0xbf],
      [0xe0, 0xa0, 0x80],
      [0xe0, 0x9f, 0xbf],
      [0xed, 0x9f, 0xbf],
      [0xed, 0xa0, 0x80],
      [0xef, 0xbf, 0xbf],
      [0xf0, 0x90, 0x80, 0x80],
      [0xf0, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0xe2, 0x82],
      [0x80],
      [0xff]
    ];
    for (const bytes of samples) {
      // Alone, and after ASCII padding that moves it across the JS/native
      // size threshold.
      for (const pad of [0, 10, 61, 62, 63, 64, 100]) {
        const buf = Buffer.concat([
          Buffer.alloc(pad, 0x61),
          Buffer.from(bytes)
        ]);
        expect(isValidUTF8(buf), `${pad} + ${bytes}`).toBe(isUtf8(buf));
      }
    }
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const pool = [0x41, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4];
    for (let i = 0; i < 3000; i++) {
      const length = random() % 80;
      const buf = Buffer.alloc(length);
      for (let j = 0; j < length; j++) {
        buf[j] = random() % 3 === 0 ? random() & 0xff : pool[random() % 10];
      }
      expect(isValidUTF8(buf)).toBe(isUtf8(buf));
    }
  });

  it('isBlob recognizes Blob and File only', () => {
    expect(isBlob(new Blob(['x']))).toBe(true);
    expect(isBlob(new File(['x'], 'x.txt'))).toBe(true);
    for (const value of [
      null,
      undefined,
      'blob',
      Buffer.from('x'),
      new ArrayBuffer(1),
      { size: 1, type: '', arrayBuffer() {}, stream() {} }
    ]) {
      expect(isBlob(value)).toBe(false);
    }
  });

  it('tokenChars marks the RFC 7230 tchar set', () => {
    const tchars = "!#$%&'*+-.^_`|~0123456789" + 'abcdefghijklmnopqrstuvwxyz';
    const allowed = new Set(
      [...tchars, ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((c) => c.charCodeAt(0))
    );
    expect(tokenChars).toHaveLength(256);
    for (let code = 0; code < 256; code++) {
      expect(tokenChars[code], String(code)).toBe(allowed.has(code) ? 1 : 0);
    }
  });
});
