// Binding-level tests of the opening-handshake helpers (RFC 6455 §4): Sec-WebSocket-Accept
// against the §1.3 example and Node's crypto, and the Sec-WebSocket-Key shape table against
// ws's pattern.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { makeRandom } from '../helpers/random.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const binding = require(path.join(ROOT, 'lib', 'binding.js'));

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
// The key check ws applies (lib/websocket-server.js).
const WS_KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

describe('acceptKey (RFC 6455 §4.2.2)', () => {
  it('gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo= for the §1.3 example key', () => {
    expect(binding.acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe(
      's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    );
  });

  it('matches SHA-1 + base64 from Node crypto for random keys', () => {
    const random = makeRandom(6455);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.alloc(16);
      for (let j = 0; j < 16; j++) bytes[j] = random() & 0xff;
      const key = bytes.toString('base64');
      const expected = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      expect(binding.acceptKey(key)).toBe(expected);
    }
  });

  it('hashes any string as UTF-8, as Node crypto does', () => {
    for (const key of ['', 'x', 'é', 'a'.repeat(10000)]) {
      const expected = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      expect(binding.acceptKey(key)).toBe(expected);
    }
  });

  it('throws TypeError for a non-string key', () => {
    expect(() => binding.acceptKey()).toThrow(TypeError);
    expect(() =>
      binding.acceptKey(Buffer.from('dGhlIHNhbXBsZSBub25jZQ=='))
    ).toThrow(TypeError);
  });
});

describe('isValidKey (RFC 6455 §4.2.1)', () => {
  const table = [
    ['dGhlIHNhbXBsZSBub25jZQ==', true],
    ['++++++++++++++++++++++==', true],
    ['//////////////////////==', true],
    ['AZaz09AZaz09AZaz09AZaz==', true],
    ['', false],
    ['dGhlIHNhbXBsZSBub25jZQ=', false], // 23 characters
    ['dGhlIHNhbXBsZSBub25jZQ===', false], // 25 characters
    ['dGhlIHNhbXBsZSBub25jZQAA', false], // no padding
    ['dGhlIHNhbXBsZSBub25jZ===', false], // padding starts early
    ['dGhlIHNhbXBsZSBub25jZ-==', false], // base64url character
    ['dGhlIHNhbXBsZSBub25jZ_==', false],
    ['dGhlIHNhbXBsZSBub25jZ ==', false],
    [' dGhlIHNhbXBsZSBub25jZQ==', false],
    ['dGhlIHNhbXBsZSBub25jZQ==\n', false],
    ['dGhlIHNhbXBsZSBub25jZé==', false],
    ['dGhlIHNhbXBsZSBub25j\u0000Q==', false]
  ];
  for (const [key, valid] of table) {
    it(`${valid ? 'accepts' : 'rejects'} ${JSON.stringify(key)}`, () => {
      expect(binding.isValidKey(key)).toBe(valid);
      expect(WS_KEY_PATTERN.test(key)).toBe(valid);
    });
  }

  it('agrees with ws on random near-keys', () => {
    const alphabet = 'AZaz09+/=-_ .é';
    const random = makeRandom(4021);
    let valid = 0;
    for (let i = 0; i < 5000; i++) {
      let key = '';
      const length = 22 + (random() % 4);
      for (let j = 0; j < length; j++) {
        key +=
          j < 22 || random() % 4
            ? alphabet[random() % 8]
            : alphabet[random() % alphabet.length];
      }
      if (random() % 2) key = key.slice(0, 22) + '==';
      const expected = WS_KEY_PATTERN.test(key);
      if (expected) valid++;
      expect(binding.isValidKey(key)).toBe(expected);
    }
    expect(valid).toBeGreaterThan(1000);
  });

  it('throws TypeError for a non-string key', () => {
    expect(() => binding.isValidKey(undefined)).toThrow(TypeError);
    expect(() => binding.isValidKey(42)).toThrow(TypeError);
  });
});
