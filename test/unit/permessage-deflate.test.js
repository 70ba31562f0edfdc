// lib/permessage-deflate.js: RFC 7692 negotiation tables run against ws's PerMessageDeflate (the
// same inputs must give the same parameters or the same error), and the compression work in the
// native Deflater/Inflater checked byte for byte against RFC 7692 §7.2.3 and against ws's zlib.

import { createRequire } from 'module';
import path from 'path';
import zlib from 'zlib';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const PerMessageDeflate = require('../../lib/permessage-deflate');
const { kStatusCode } = require('../../lib/constants');
const wsLib = path.dirname(require.resolve('ws'));
const WsPerMessageDeflate = require(
  path.join(wsLib, 'lib', 'permessage-deflate.js')
);
const wsExtension = require(path.join(wsLib, 'lib', 'extension.js'));

/**
 * Runs `fn` and describes its outcome so two implementations compare with one equality.
 *
 * @param {Function} fn
 * @return {Object} `{ value }` (plain objects) or `{ error: 'Name: message' }`
 */
function outcome(fn) {
  try {
    return { value: JSON.parse(JSON.stringify(fn())) };
  } catch (error) {
    return { error: `${error.constructor.name}: ${error.message}` };
  }
}

/**
 * Accepts `header` with a fresh instance of `Impl` (accept() mutates its input, so each side
 * parses its own copy).
 */
function negotiate(Impl, options, header) {
  return outcome(() => {
    const pmd = new Impl(options);
    return pmd.accept(wsExtension.parse(header)['permessage-deflate']);
  });
}

const SERVER_OPTIONS = [
  {},
  { serverNoContextTakeover: true },
  { serverNoContextTakeover: false },
  { clientNoContextTakeover: true },
  { clientNoContextTakeover: false },
  { serverMaxWindowBits: 10 },
  { serverMaxWindowBits: false },
  { serverMaxWindowBits: true },
  { clientMaxWindowBits: 10 },
  { clientMaxWindowBits: false },
  { clientMaxWindowBits: true },
  {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 12,
    clientMaxWindowBits: 11
  }
];

// Offers a client may send (several comma-separated offers are alternatives, §5.1).
const OFFERS = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits',
  'permessage-deflate; client_max_window_bits=10',
  'permessage-deflate; client_max_window_bits=15',
  'permessage-deflate; server_max_window_bits=9',
  'permessage-deflate; server_max_window_bits=12',
  'permessage-deflate; server_max_window_bits=9, permessage-deflate',
  'permessage-deflate; server_no_context_takeover',
  'permessage-deflate; client_no_context_takeover',
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
    'server_max_window_bits=15; client_max_window_bits=15',
  'permessage-deflate; server_no_context_takeover, permessage-deflate; client_max_window_bits',
  'permessage-deflate; server_max_window_bits=0x9',
  'permessage-deflate; server_max_window_bits="10"',
  // Invalid values and parameters (§7.1: the offer must be declined).
  'permessage-deflate; server_max_window_bits=7',
  'permessage-deflate; server_max_window_bits=16',
  'permessage-deflate; server_max_window_bits=abc',
  'permessage-deflate; server_max_window_bits',
  'permessage-deflate; client_max_window_bits=8.5',
  'permessage-deflate; client_max_window_bits=0',
  'permessage-deflate; server_no_context_takeover=1',
  'permessage-deflate; client_no_context_takeover=true',
  'permessage-deflate; foo',
  'permessage-deflate; foo=1; server_max_window_bits=99',
  'permessage-deflate; server_max_window_bits=10; server_max_window_bits=11',
  'permessage-deflate; client_no_context_takeover; client_no_context_takeover'
];

const CLIENT_OPTIONS = [
  {},
  { clientNoContextTakeover: true },
  { clientNoContextTakeover: false },
  { clientMaxWindowBits: 10 },
  { clientMaxWindowBits: false },
  { clientMaxWindowBits: true },
  { serverMaxWindowBits: 10 },
  { serverNoContextTakeover: true }
];

// Responses a server may send (a client reads only one).
const RESPONSES = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits=9',
  'permessage-deflate; client_max_window_bits=10',
  'permessage-deflate; client_max_window_bits=11',
  'permessage-deflate; client_max_window_bits',
  'permessage-deflate; client_no_context_takeover',
  'permessage-deflate; server_no_context_takeover',
  'permessage-deflate; server_max_window_bits=8',
  'permessage-deflate; server_max_window_bits=15; server_no_context_takeover',
  'permessage-deflate; server_max_window_bits=16',
  'permessage-deflate; client_max_window_bits=7',
  'permessage-deflate; bar',
  'permessage-deflate; server_no_context_takeover=x'
];

describe('PerMessageDeflate negotiation (same table run against ws)', () => {
  it('has the static extensionName', () => {
    expect(PerMessageDeflate.extensionName).toBe('permessage-deflate');
  });

  it('offer(): every option combination gives ws’s parameters', () => {
    const combos = [
      ...SERVER_OPTIONS,
      ...CLIENT_OPTIONS,
      { clientMaxWindowBits: null },
      { serverMaxWindowBits: 15, clientMaxWindowBits: 8 }
    ];

    for (const options of combos) {
      const ours = new PerMessageDeflate(options).offer();
      const theirs = new WsPerMessageDeflate(options).offer();
      expect(ours, JSON.stringify(options)).toEqual(theirs);
    }

    expect(new PerMessageDeflate().offer()).toEqual({
      client_max_window_bits: true
    });
    expect(
      new PerMessageDeflate({ clientMaxWindowBits: false }).offer()
    ).toEqual({});
  });

  it('accept() as a server: every option × offer pair matches ws (params or error)', () => {
    let accepted = 0;
    let rejected = 0;

    for (const options of SERVER_OPTIONS) {
      for (const header of OFFERS) {
        const opts = { ...options, isServer: true };
        const ours = negotiate(PerMessageDeflate, opts, header);
        const theirs = negotiate(WsPerMessageDeflate, opts, header);
        expect(ours, `${JSON.stringify(options)} / ${header}`).toEqual(theirs);
        if (ours.error) rejected++;
        else accepted++;
      }
    }

    // The table exercises both outcomes substantially.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });

  it('accept() as a client: every option × response pair matches ws (params or error)', () => {
    for (const options of CLIENT_OPTIONS) {
      for (const header of RESPONSES) {
        const ours = negotiate(PerMessageDeflate, options, header);
        const theirs = negotiate(WsPerMessageDeflate, options, header);
        expect(ours, `${JSON.stringify(options)} / ${header}`).toEqual(theirs);
      }
    }
  });

  it('accept() as a server: literal results of RFC 7692 §7.1 cases', () => {
    const server = (options, header) =>
      negotiate(PerMessageDeflate, { ...options, isServer: true }, header);

    expect(server({}, 'permessage-deflate; client_max_window_bits')).toEqual({
      value: {}
    });
    expect(
      server(
        { clientMaxWindowBits: 10 },
        'permessage-deflate; client_max_window_bits'
      )
    ).toEqual({
      value: { client_max_window_bits: 10 }
    });
    expect(server({ clientMaxWindowBits: 10 }, 'permessage-deflate')).toEqual({
      error: 'Error: None of the extension offers can be accepted'
    });
    expect(
      server(
        { serverMaxWindowBits: 12 },
        'permessage-deflate; server_max_window_bits=9'
      )
    ).toEqual({
      error: 'Error: None of the extension offers can be accepted'
    });
    expect(
      server(
        { serverMaxWindowBits: 12 },
        'permessage-deflate; server_max_window_bits=9, permessage-deflate'
      )
    ).toEqual({ value: { server_max_window_bits: 12 } });
    expect(server({}, 'permessage-deflate; server_max_window_bits=7')).toEqual({
      error:
        'TypeError: Invalid value for parameter "server_max_window_bits": 7'
    });
    expect(server({}, 'permessage-deflate; server_max_window_bits')).toEqual({
      error:
        'TypeError: Invalid value for parameter "server_max_window_bits": true'
    });
    expect(server({}, 'permessage-deflate; foo')).toEqual({
      error: 'Error: Unknown parameter "foo"'
    });
    expect(
      server(
        {},
        'permessage-deflate; server_max_window_bits=10; server_max_window_bits=11'
      )
    ).toEqual({
      error:
        'Error: Parameter "server_max_window_bits" must have only a single value'
    });
  });

  it('accept() as a client: literal results', () => {
    const client = (options, header) =>
      negotiate(PerMessageDeflate, options, header);

    expect(client({}, 'permessage-deflate; client_max_window_bits=9')).toEqual({
      value: { client_max_window_bits: 9 }
    });
    expect(client({ clientMaxWindowBits: 10 }, 'permessage-deflate')).toEqual({
      value: { client_max_window_bits: 10 }
    });
    expect(
      client(
        { clientMaxWindowBits: 10 },
        'permessage-deflate; client_max_window_bits=11'
      )
    ).toEqual({
      error: 'Error: Unexpected or invalid parameter "client_max_window_bits"'
    });
    expect(
      client(
        { clientNoContextTakeover: false },
        'permessage-deflate; client_no_context_takeover'
      )
    ).toEqual({
      error: 'Error: Unexpected parameter "client_no_context_takeover"'
    });
    expect(client({}, 'permessage-deflate; client_max_window_bits')).toEqual({
      error:
        'TypeError: Invalid value for parameter "client_max_window_bits": true'
    });
  });

  it('accept() stores the result in params; normalizeParams works on its own', () => {
    const pmd = new PerMessageDeflate({
      isServer: true,
      serverNoContextTakeover: true
    });
    const result = pmd.accept([{ server_max_window_bits: ['10'] }]);
    expect(pmd.params).toBe(result);
    expect(result).toEqual({
      server_max_window_bits: 10,
      server_no_context_takeover: true
    });

    const normalized = new PerMessageDeflate().normalizeParams([
      { server_max_window_bits: ['15'] }
    ]);
    expect(normalized).toEqual([{ server_max_window_bits: 15 }]);
  });

  it('keeps ws’s option fields: _threshold, _maxPayload, _isServer', () => {
    const pmd = new PerMessageDeflate({
      threshold: 0,
      maxPayload: 77,
      isServer: true
    });
    expect(pmd._threshold).toBe(0);
    expect(pmd._maxPayload).toBe(77);
    expect(pmd._isServer).toBe(true);
    expect(new PerMessageDeflate()._threshold).toBe(1024);
    expect(new PerMessageDeflate()._isServer).toBe(false);
    expect(new PerMessageDeflate().params).toBe(null);
  });
});

const wsStatusCode = require(
  path.join(wsLib, 'lib', 'constants.js')
).kStatusCode;

/** An accepted instance of `Impl` (server unless `isServer: false`) with the given params. */
function accepted(Impl, { params = {}, isServer = true, ...options } = {}) {
  const pmd = new Impl({ isServer, ...options });
  const configuration = {};
  for (const key of Object.keys(params)) {
    configuration[key] = [params[key] === true ? true : String(params[key])];
  }
  pmd.accept([configuration]);
  return pmd;
}

/** compress() or decompress() as a promise; also reports whether the callback ran synchronously. */
function call(pmd, method, data, fin = true) {
  return new Promise((resolve, reject) => {
    let returned = false;
    pmd[method](data, fin, (err, result) => {
      if (!returned) reject(new Error(`${method} called back synchronously`));
      else if (err) reject(err);
      else resolve(result);
    });
    returned = true;
  });
}

/** Byte equality without a deep, element-by-element comparison (slow for MiB buffers). */
function expectSame(actual, expected) {
  expect(Buffer.isBuffer(actual)).toBe(true);
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

/** Deterministic bytes: text-like when `text`, else noise. */
function sample(size, text) {
  const out = Buffer.alloc(size);
  let seed = size + 1;
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = text ? 97 + ((seed >> 16) % 8) : seed >> 11;
  }
  return out;
}

describe('PerMessageDeflate compress/decompress (native Deflater/Inflater)', () => {
  it('RFC 7692 §7.2.3.1/2: "Hello", then "Hello" again using the shared window', async () => {
    for (const Impl of [PerMessageDeflate, WsPerMessageDeflate]) {
      const pmd = accepted(Impl);
      expect(
        (await call(pmd, 'compress', Buffer.from('Hello'))).toString('hex')
      ).toBe('f248cdc9c90700');
      expect((await call(pmd, 'compress', 'Hello')).toString('hex')).toBe(
        'f200110000'
      );
    }
  });

  it('without context takeover every message starts from an empty window', async () => {
    const pmd = accepted(PerMessageDeflate, {
      params: { server_no_context_takeover: true }
    });
    expect((await call(pmd, 'compress', 'Hello')).toString('hex')).toBe(
      'f248cdc9c90700'
    );
    expect((await call(pmd, 'compress', 'Hello')).toString('hex')).toBe(
      'f248cdc9c90700'
    );
  });

  it('ws inflates what we deflate and we inflate what ws deflates (inline and threadpool sizes, fragments)', async () => {
    const messages = [0, 5, 4096, 32768, 32769, 70000, 1 << 20].flatMap(
      (size) => [sample(size, true), sample(size, false)]
    );

    for (const [From, To] of [
      [PerMessageDeflate, WsPerMessageDeflate],
      [WsPerMessageDeflate, PerMessageDeflate]
    ]) {
      const sender = accepted(From, { isServer: true });
      const receiver = accepted(To, { isServer: false });
      for (const message of messages) {
        const compressed = await call(sender, 'compress', message);
        expectSame(await call(receiver, 'decompress', compressed), message);
      }
      // One message in three fragments.
      const parts = [sample(3000, true), sample(9000, false), sample(10, true)];
      const pieces = [];
      for (let i = 0; i < parts.length; i++) {
        pieces.push(
          await call(sender, 'compress', parts[i], i === parts.length - 1)
        );
      }
      const out = [];
      for (let i = 0; i < pieces.length; i++) {
        out.push(
          await call(receiver, 'decompress', pieces[i], i === pieces.length - 1)
        );
      }
      expectSame(Buffer.concat(out), Buffer.concat(parts));
    }
  });

  it('calls back in call order when large and small calls are mixed', async () => {
    const pmd = accepted(PerMessageDeflate);
    const inputs = [
      sample(1 << 20, true),
      Buffer.from('x'),
      sample(100000, false),
      Buffer.from('y')
    ];
    const order = [];
    const results = await Promise.all(
      inputs.map(
        (input, i) =>
          new Promise((resolve, reject) =>
            pmd.compress(input, true, (err, result) => {
              order.push(i);
              if (err) reject(err);
              else resolve(result);
            })
          )
      )
    );
    expect(order).toEqual([0, 1, 2, 3]);
    const receiver = accepted(WsPerMessageDeflate, { isServer: false });
    for (let i = 0; i < inputs.length; i++) {
      expectSame(await call(receiver, 'decompress', results[i]), inputs[i]);
    }
  });

  it('a client compresses with its negotiated 9-bit window (peer inflates with 9 bits)', async () => {
    const block = sample(600, false);
    const message = Buffer.concat(Array.from({ length: 50 }, () => block));
    const client = accepted(PerMessageDeflate, {
      isServer: false,
      params: { client_max_window_bits: 9 }
    });
    const compressed = await call(client, 'compress', message);
    const tail = Buffer.from([0, 0, 0xff, 0xff]);
    const out = zlib.inflateRawSync(Buffer.concat([compressed, tail]), {
      windowBits: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH
    });
    expectSame(out, message);
  });

  it('zlibDeflateOptions reach the Deflater (level 0 stores the bytes as they are)', async () => {
    const pmd = accepted(PerMessageDeflate, {
      zlibDeflateOptions: { level: 0, memLevel: 9, strategy: 1 }
    });
    const message = Buffer.from('stored, not compressed '.repeat(10));
    const compressed = await call(pmd, 'compress', message);
    expect(compressed.includes(message)).toBe(true);
    expect(
      await call(
        accepted(PerMessageDeflate, { isServer: false }),
        'decompress',
        compressed
      )
    ).toEqual(message);
  });

  for (const [title, size] of [
    // 256 KiB of zeros deflate to about 260 bytes (inflated inline), 64 MiB
    // to about 64 KiB (inflated on the threadpool).
    ['inline', 256 << 10],
    ['threadpool', 64 << 20]
  ]) {
    it(`decompress stops at maxPayload with ws’s error (${title} input size)`, async () => {
      const bomb = zlib.deflateRawSync(Buffer.alloc(size), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH
      });
      const body = bomb.subarray(0, bomb.length - 4);
      expect(body.length > 1024).toBe(title === 'threadpool');
      const results = [];
      for (const Impl of [PerMessageDeflate, WsPerMessageDeflate]) {
        const pmd = accepted(Impl, { isServer: false, maxPayload: 1000 });
        const err = await call(pmd, 'decompress', body).then(
          () => null,
          (error) => error
        );
        results.push([
          err.constructor.name,
          err.message,
          err.code,
          err[kStatusCode] ?? err[wsStatusCode]
        ]);
      }
      expect(results[0]).toEqual(results[1]);
      expect(results[0]).toEqual([
        'RangeError',
        'Max payload size exceeded',
        'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        1009
      ]);
    });
  }

  it('corrupt data fails with a zlib-style 1007 error; the next message starts a new stream', async () => {
    const pmd = accepted(PerMessageDeflate, { isServer: false });
    const err = await call(
      pmd,
      'decompress',
      Buffer.from([0xff, 0xff, 0xff])
    ).then(
      () => null,
      (error) => error
    );
    expect(err).toBeInstanceOf(Error);
    expect([err.code, err.errno, err[kStatusCode]]).toEqual([
      'Z_DATA_ERROR',
      -3,
      1007
    ]);
    expect(
      (
        await call(pmd, 'decompress', Buffer.from('f248cdc9c90700', 'hex'))
      ).toString()
    ).toBe('Hello');
  });

  it('cleanup() fails a compression in flight and the queued ones once each, like ws', async () => {
    const messages = [];
    for (const Impl of [PerMessageDeflate, WsPerMessageDeflate]) {
      const pmd = accepted(Impl);
      const calls = [];
      pmd.compress(sample(1 << 20, false), true, (err) =>
        calls.push(err && err.message)
      );
      pmd.cleanup();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(calls).toHaveLength(1);
      messages.push(calls[0]);
      // Usable again afterwards.
      expect((await call(pmd, 'compress', 'Hello')).toString('hex')).toBe(
        'f248cdc9c90700'
      );
    }
    expect(messages[0]).toBe(
      'The deflate stream was closed while data was being processed'
    );
    expect(messages[0]).toBe(messages[1]);

    const pmd = accepted(PerMessageDeflate);
    const calls = [];
    pmd.compress(sample(1 << 20, false), true, (err) =>
      calls.push(['big', err && err.message])
    );
    pmd.compress('queued', true, (err) =>
      calls.push(['queued', err && err.message])
    );
    pmd.cleanup();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const message =
      'The deflate stream was closed while data was being processed';
    expect(calls).toEqual([
      ['big', message],
      ['queued', message]
    ]);
  });
});
