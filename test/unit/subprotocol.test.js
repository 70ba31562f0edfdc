import { createRequire } from 'module';
import path from 'path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const { parse } = require('../../lib/subprotocol');
// ws's package exports hide lib/, so load its parser by path.
const wsSubprotocol = require(
  path.join(path.dirname(require.resolve('ws')), 'lib', 'subprotocol.js')
);

/**
 * Runs a parser and describes its outcome, so two parsers compare with one equality.
 *
 * @param {Function} parser The parse function
 * @param {String} header The input
 * @return {Object} `{ value: [...names] }` or `{ error: 'Name: message' }`
 */
function outcome(parser, header) {
  try {
    return { value: [...parser(header)] };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

// Deterministic pseudo-random numbers (xorshift32) so a failure reproduces.
function makeRandom(seed) {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

const TABLE = [
  ['chat', ['chat']],
  ['chat,superchat', ['chat', 'superchat']],
  ['chat, superchat', ['chat', 'superchat']],
  ['chat ,\tsuperchat', ['chat', 'superchat']],
  ['a,b,c,d', ['a', 'b', 'c', 'd']],
  ["!#$%&'*+-.^_`|~09AZaz", ["!#$%&'*+-.^_`|~09AZaz"]],
  ['chat  ', 'SyntaxError: Unexpected end of input'],
  ['', 'SyntaxError: Unexpected end of input'],
  ['chat,', 'SyntaxError: Unexpected end of input'],
  [' chat', 'SyntaxError: Unexpected character at index 0'],
  ['\tchat', 'SyntaxError: Unexpected character at index 0'],
  [',chat', 'SyntaxError: Unexpected character at index 0'],
  ['chat,,superchat', 'SyntaxError: Unexpected character at index 5'],
  ['chat superchat', 'SyntaxError: Unexpected character at index 5'],
  ['chat;superchat', 'SyntaxError: Unexpected character at index 4'],
  ['ch"at', 'SyntaxError: Unexpected character at index 2'],
  ['chat,sup(erchat', 'SyntaxError: Unexpected character at index 8'],
  ['chät', 'SyntaxError: Unexpected character at index 2'],
  ['chat\u0100', 'SyntaxError: Unexpected character at index 4'],
  ['chat, chat', 'SyntaxError: The "chat" subprotocol is duplicated'],
  ['a,b , a', 'SyntaxError: The "a" subprotocol is duplicated'],
  ['a, b,b', 'SyntaxError: The "b" subprotocol is duplicated']
];

describe('subprotocol.parse', () => {
  it.each(TABLE)(
    'parses %j like ws (RFC 6455 §4.1 token list)',
    (header, expected) => {
      const result = outcome(parse, header);
      expect(result).toEqual(
        typeof expected === 'string' ? { error: expected } : { value: expected }
      );
      expect(result).toEqual(outcome(wsSubprotocol.parse, header));
    }
  );

  it('returns a Set in header order', () => {
    const protocols = parse('b, a, c');
    expect(protocols).toBeInstanceOf(Set);
    expect([...protocols]).toEqual(['b', 'a', 'c']);
  });

  it('agrees with ws on 5000 random headers', () => {
    const random = makeRandom(0x5eed);
    const alphabet = [
      'a',
      'b',
      'c',
      ',',
      ',',
      ' ',
      ' ',
      '\t',
      ';',
      '"',
      '\u00e9',
      '='
    ];
    for (let n = 0; n < 5000; n++) {
      let header = '';
      const length = Math.floor(random() * 12);
      for (let i = 0; i < length; i++) {
        header += alphabet[Math.floor(random() * alphabet.length)];
      }
      expect(outcome(parse, header), JSON.stringify(header)).toEqual(
        outcome(wsSubprotocol.parse, header)
      );
    }
  });

  it('runs in linear time on long headers', () => {
    const names = Array.from({ length: 100000 }, (_, i) => `p${i}`);
    const spaces = 'a' + ' '.repeat(1 << 20) + ',b';
    const start = process.hrtime.bigint();
    expect(parse(names.join(', ')).size).toBe(100000);
    expect([...parse(spaces)]).toEqual(['a', 'b']);
    expect(() => parse(','.repeat(1 << 20))).toThrow(
      'Unexpected character at index 0'
    );
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    expect(elapsedMs).toBeLessThan(2000);
  });
});
