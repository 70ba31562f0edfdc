// lib/permessage-deflate.js: RFC 7692 negotiation tables run against ws's PerMessageDeflate (the
// same inputs must give the same parameters or the same error), and the compression work in the
// native Deflater/Inflater checked byte for byte against RFC 7692 §7.2.3 and against ws's zlib.

import { createRequire } from 'module';
import path from 'path';
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
