// ws public API, run against ws and ws-native: the module's shape (CommonJS and ESM) and the
// lower-level classes ws exports and people use directly (Sender.frame for hand-rolled
// broadcast, Receiver as a Writable, PerMessageDeflate, the header parsers).

import { pathToFileURL } from 'node:url';

import { expect, it } from 'vitest';

import { describeEach } from '../helpers/implementations.js';
import { encodeFrame, OP } from '../helpers/wire.js';

describeEach('exports', (impl) => {
  it("the CommonJS export is the WebSocket class with ws's statics", () => {
    const WebSocket = impl.lib;
    expect(typeof WebSocket).toBe('function');
    expect(WebSocket.WebSocket).toBe(WebSocket);
    expect(WebSocket.Server).toBe(WebSocket.WebSocketServer);
    for (const name of [
      'WebSocketServer',
      'createWebSocketStream',
      'Receiver',
      'Sender',
      'PerMessageDeflate'
    ]) {
      expect([name, typeof WebSocket[name]]).toEqual([name, 'function']);
    }
    expect(typeof WebSocket.extension.parse).toBe('function');
    expect(typeof WebSocket.extension.format).toBe('function');
    expect(typeof WebSocket.subprotocol.parse).toBe('function');
  });

  it('the ESM wrapper has the same named exports and WebSocket as default', async () => {
    const esm = await import(pathToFileURL(impl.esmPath).href);
    expect(esm.default).toBe(impl.lib);
    expect(esm.WebSocket).toBe(impl.lib);
    expect(esm.WebSocketServer).toBe(impl.lib.WebSocketServer);
    expect(esm.createWebSocketStream).toBe(impl.lib.createWebSocketStream);
    expect(esm.Receiver).toBe(impl.lib.Receiver);
    expect(esm.Sender).toBe(impl.lib.Sender);
    expect(esm.PerMessageDeflate).toBe(impl.lib.PerMessageDeflate);
  });

  it('Sender.frame() builds frames byte for byte (the RFC 6455 §5.7 examples)', () => {
    const { Sender } = impl.lib;
    const plain = Buffer.concat(
      Sender.frame(Buffer.from('Hello'), {
        fin: true,
        opcode: OP.TEXT,
        mask: false,
        readOnly: false
      })
    );
    expect(plain.toString('hex')).toBe('810548656c6c6f');
    const masked = Buffer.concat(
      Sender.frame(Buffer.from('Hello'), {
        fin: true,
        opcode: OP.TEXT,
        mask: true,
        maskBuffer: Buffer.from([0x37, 0xfa, 0x21, 0x3d]),
        generateMask: () => {},
        readOnly: true
      })
    );
    expect(masked.toString('hex')).toBe('818537fa213d7f9f4d5158');
    const big = Sender.frame(Buffer.alloc(70000, 1), {
      fin: false,
      opcode: OP.BINARY,
      rsv1: true,
      mask: false
    });
    expect(Buffer.concat(big).subarray(0, 10).toString('hex')).toBe(
      '427f0000000000011170'
    );
  });

  it('Sender.frame() returns [header, payload] unmasked and one Buffer masked with readOnly', () => {
    const { Sender } = impl.lib;
    const payload = Buffer.from('to all');
    const parts = Sender.frame(payload, {
      fin: true,
      opcode: OP.TEXT,
      mask: false,
      readOnly: false
    });
    expect(parts).toHaveLength(2);
    expect(parts[0].toString('hex')).toBe('8106');
    expect(parts[1]).toBe(payload);
    const masked = Sender.frame(payload, {
      fin: true,
      opcode: OP.TEXT,
      mask: true,
      maskBuffer: Buffer.from([1, 2, 3, 4]),
      generateMask: () => {},
      readOnly: true
    });
    expect(masked).toHaveLength(1);
    expect(masked[0]).toHaveLength(12);
  });

  it('Sender.frame() output can be written to many sockets (a hand-rolled broadcast)', () => {
    const { Sender } = impl.lib;
    const parts = Sender.frame(Buffer.from('to all'), {
      fin: true,
      opcode: OP.TEXT,
      mask: false,
      readOnly: true
    });
    const bytes = Buffer.concat(parts);
    expect(
      bytes.equals(encodeFrame({ opcode: OP.TEXT, payload: 'to all' }))
    ).toBe(true);
    // The frame's parts stay the same after being read twice.
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
  });

  it('Receiver is a Writable that emits message, ping, pong and conclude', async () => {
    const { Receiver } = impl.lib;
    const receiver = new Receiver({ isServer: false });
    const seen = [];
    receiver.on('message', (data, isBinary) =>
      seen.push(['message', data.toString(), isBinary])
    );
    receiver.on('ping', (data) => seen.push(['ping', data.toString()]));
    receiver.on('pong', (data) => seen.push(['pong', data.toString()]));
    receiver.on('conclude', (code, reason) =>
      seen.push(['conclude', code, reason.toString()])
    );
    receiver.write(
      Buffer.concat([
        encodeFrame({ opcode: OP.TEXT, payload: 'hi', fin: false }),
        encodeFrame({ opcode: OP.PING, payload: 'p' }),
        encodeFrame({ opcode: OP.CONTINUATION, payload: '!' }),
        encodeFrame({ opcode: OP.BINARY, payload: 'b' }),
        encodeFrame({ opcode: OP.PONG, payload: 'q' })
      ])
    );
    receiver.write(
      encodeFrame({
        opcode: OP.CLOSE,
        payload: Buffer.from([0x03, 0xe8, 0x6f, 0x6b])
      })
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([
      ['ping', 'p'],
      ['message', 'hi!', false],
      ['message', 'b', true],
      ['pong', 'q'],
      ['conclude', 1000, 'ok']
    ]);
  });

  it("Receiver errors carry ws's code and message", async () => {
    const { Receiver } = impl.lib;
    const receiver = new Receiver({ isServer: true });
    const error = await new Promise((resolve) => {
      receiver.on('error', resolve);
      receiver.write(encodeFrame({ opcode: OP.TEXT, payload: 'unmasked' }));
    });
    expect(error).toBeInstanceOf(RangeError);
    expect([error.code, error.message]).toEqual([
      'WS_ERR_EXPECTED_MASK',
      'Invalid WebSocket frame: MASK must be set'
    ]);
  });

  it('PerMessageDeflate: extensionName, offer() and accept() as ws', () => {
    const { PerMessageDeflate } = impl.lib;
    expect(PerMessageDeflate.extensionName).toBe('permessage-deflate');
    const client = new PerMessageDeflate({ serverNoContextTakeover: true });
    expect(client.offer()).toEqual({
      server_no_context_takeover: true,
      client_max_window_bits: true
    });
    const server = new PerMessageDeflate({
      isServer: true,
      serverMaxWindowBits: 10
    });
    const accepted = server.accept([{ client_max_window_bits: [true] }]);
    expect({ ...accepted }).toEqual({ server_max_window_bits: 10 });
    expect({ ...server.params }).toEqual({ server_max_window_bits: 10 });
  });

  it('PerMessageDeflate compress() and decompress() round-trip', async () => {
    const { PerMessageDeflate } = impl.lib;
    const a = new PerMessageDeflate({ isServer: true });
    const b = new PerMessageDeflate({ isServer: false });
    a.accept([{}]);
    b.accept([{}]);
    const compressed = await new Promise((resolve, reject) =>
      a.compress(Buffer.from('round trip '.repeat(20)), true, (error, data) =>
        error ? reject(error) : resolve(data)
      )
    );
    const inflated = await new Promise((resolve, reject) =>
      b.decompress(compressed, true, (error, data) =>
        error ? reject(error) : resolve(data)
      )
    );
    expect(inflated.toString()).toBe('round trip '.repeat(20));
    a.cleanup();
    b.cleanup();
  });

  it('extension.parse/format and subprotocol.parse read and write headers as ws does', () => {
    const { extension, subprotocol } = impl.lib;
    const parsed = extension.parse(
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10, foo'
    );
    expect(Object.keys(parsed)).toEqual(['permessage-deflate', 'foo']);
    expect(parsed['permessage-deflate'][0].client_max_window_bits).toEqual([
      true
    ]);
    expect(parsed['permessage-deflate'][0].server_max_window_bits).toEqual([
      '10'
    ]);
    expect(
      extension.format({
        'permessage-deflate': [
          { server_no_context_takeover: true, client_max_window_bits: 10 }
        ]
      })
    ).toBe(
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=10'
    );
    expect(() => extension.parse('a;;')).toThrow(
      new SyntaxError('Unexpected character at index 2')
    );
    expect([...subprotocol.parse('a, b,c')]).toEqual(['a', 'b', 'c']);
    expect(() => subprotocol.parse('a,a')).toThrow(
      new SyntaxError('The "a" subprotocol is duplicated')
    );
  });
});
