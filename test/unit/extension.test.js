import { createRequire } from 'module';
import path from 'path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const { format, parse } = require('../../lib/extension');
// ws's package exports hide lib/, so load its module by path.
const wsExtension = require(
  path.join(path.dirname(require.resolve('ws')), 'lib', 'extension.js')
);

/**
 * Runs a parser and describes its outcome, so two parsers compare with one equality.
 *
 * @param {Function} parser The parse function
 * @param {String} header The input
 * @return {Object} `{ value }` or `{ error: 'Name: message' }`
 */
function outcome(parser, header) {
  try {
    return { value: parser(header) };
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

// Null-prototype objects as parse() returns them.
function bare(object) {
  return Object.assign(Object.create(null), object);
}
function offers(map) {
  const result = Object.create(null);
  for (const name of Object.keys(map)) result[name] = map[name].map(bare);
  return result;
}

const VALID = [
  ['foo', { foo: [{}] }],
  ['foo, bar', { foo: [{}], bar: [{}] }],
  ['foo,bar', { foo: [{}], bar: [{}] }],
  ['foo; bar', { foo: [{ bar: [true] }] }],
  ['foo ; bar ;baz', { foo: [{ bar: [true], baz: [true] }] }],
  ['foo; bar=baz', { foo: [{ bar: ['baz'] }] }],
  ['foo; bar="baz"', { foo: [{ bar: ['baz'] }] }],
  ['foo; bar="b\\az"', { foo: [{ bar: ['baz'] }] }],
  ['foo; bar="\\baz"', { foo: [{ bar: ['baz'] }] }],
  ['foo; bar=1; bar=2', { foo: [{ bar: ['1', '2'] }] }],
  ['foo, foo; a', { foo: [{}, { a: [true] }] }],
  ['foo; a="1", bar; b=2', { foo: [{ a: ['1'] }], bar: [{ b: ['2'] }] }],
  [
    'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate',
    {
      'permessage-deflate': [
        { client_max_window_bits: [true], server_max_window_bits: ['10'] },
        {}
      ]
    }
  ]
];

const INVALID = [
  ['', 'SyntaxError: Unexpected end of input'],
  [' foo', 'SyntaxError: Unexpected character at index 0'],
  ['foo ', 'SyntaxError: Unexpected end of input'],
  ['foo\t', 'SyntaxError: Unexpected end of input'],
  ['foo;', 'SyntaxError: Unexpected end of input'],
  ['foo,', 'SyntaxError: Unexpected end of input'],
  ['foo; bar=', 'SyntaxError: Unexpected end of input'],
  ['foo; bar="baz', 'SyntaxError: Unexpected end of input'],
  ['foo; bar=baz ', 'SyntaxError: Unexpected end of input'],
  ['fo o', 'SyntaxError: Unexpected character at index 3'],
  ['foo; b@r', 'SyntaxError: Unexpected character at index 6'],
  ['foo; bar="ba z"', 'SyntaxError: Unexpected character at index 12'],
  ['foo; bar=b"az"', 'SyntaxError: Unexpected character at index 10'],
  ['foo; bar="baz"x', 'SyntaxError: Unexpected character at index 14'],
  ['foo; bar=""', 'SyntaxError: Unexpected character at index 10'],
  ['foo; bar="\\ "', 'SyntaxError: Unexpected character at index 11'],
  ['"foo"', 'SyntaxError: Unexpected character at index 0'],
  ['foo;;', 'SyntaxError: Unexpected character at index 4'],
  ['foo;,', 'SyntaxError: Unexpected character at index 4'],
  [',foo', 'SyntaxError: Unexpected character at index 0'],
  ['f\u00f6o', 'SyntaxError: Unexpected character at index 1'],
  ['foo; bar ="baz"', 'SyntaxError: Unexpected character at index 9']
];

describe('extension.parse', () => {
  it.each(VALID)('parses %j like ws (RFC 6455 §9.1)', (header, expected) => {
    const result = outcome(parse, header);
    expect(result).toStrictEqual(outcome(wsExtension.parse, header));
    if (expected) expect(result).toStrictEqual({ value: offers(expected) });
  });

  it.each(INVALID)("rejects %j with ws's message", (header, message) => {
    expect(outcome(parse, header)).toEqual({ error: message });
    expect(outcome(wsExtension.parse, header)).toEqual({ error: message });
  });

  it('returns null-prototype maps', () => {
    const result = parse('foo; bar=1');
    expect(Object.getPrototypeOf(result)).toBe(null);
    expect(Object.getPrototypeOf(result.foo[0])).toBe(null);
    expect(parse('foo').toString).toBe(undefined);
  });

  it('keeps names such as __proto__ as plain keys', () => {
    const result = parse('__proto__; constructor=1');
    expect(Object.keys(result)).toEqual(['__proto__']);
    expect(result['__proto__'][0].constructor).toEqual(['1']);
    expect({}.polluted).toBe(undefined);
  });

  it('throws a TypeError for a value that is not a string', () => {
    expect(() => parse(undefined)).toThrow(TypeError);
    expect(() => parse(['foo'])).toThrow(TypeError);
  });

  it('agrees with ws on 5000 random headers', () => {
    const random = makeRandom(0xe47);
    const alphabet = [
      'a',
      'b',
      'x',
      ';',
      ';',
      ',',
      '=',
      '=',
      '"',
      '"',
      '\\',
      ' ',
      '\t',
      '1',
      '\u00e9'
    ];
    for (let n = 0; n < 5000; n++) {
      let header = '';
      const length = Math.floor(random() * 16);
      for (let i = 0; i < length; i++) {
        header += alphabet[Math.floor(random() * alphabet.length)];
      }
      expect(outcome(parse, header), JSON.stringify(header)).toStrictEqual(
        outcome(wsExtension.parse, header)
      );
    }
  });

  it('runs in linear time on long headers', () => {
    const many = Array.from({ length: 20000 }, (_, i) => `e${i}; p=${i}`).join(
      ', '
    );
    const quoted = `foo; bar="${'\\a'.repeat(1 << 18)}"`;
    const start = process.hrtime.bigint();
    expect(Object.keys(parse(many))).toHaveLength(20000);
    expect(parse(quoted).foo[0].bar[0]).toBe('a'.repeat(1 << 18));
    expect(() => parse('a' + ' '.repeat(1 << 20) + 'b')).toThrow(SyntaxError);
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    expect(elapsedMs).toBeLessThan(2000);
  });
});

const FORMAT_TABLE = [
  [{ foo: {} }, 'foo'],
  [{ foo: [{}, {}] }, 'foo, foo'],
  [{ foo: { bar: true } }, 'foo; bar'],
  [{ foo: { bar: [true, 1, 'x'] } }, 'foo; bar; bar=1; bar=x'],
  [
    {
      'permessage-deflate': [
        { client_max_window_bits: true, server_max_window_bits: 10 }
      ]
    },
    'permessage-deflate; client_max_window_bits; server_max_window_bits=10'
  ],
  [{ a: { x: true }, b: [{ y: 2 }, { z: [true] }] }, 'a; x, b; y=2, b; z'],
  [{}, ''],
  [{ a: [] }, ''],
  [{ a: [], b: {} }, ', b'],
  [{ a: { x: [] } }, 'a; ']
];

describe('extension.format', () => {
  it.each(FORMAT_TABLE)('formats %j like ws', (input, expected) => {
    expect(format(input)).toBe(expected);
    expect(wsExtension.format(input)).toBe(expected);
  });

  it('round-trips with parse()', () => {
    const header =
      'permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x-foo, ' +
      'x-foo; a; a=1';
    expect(format(parse(header))).toBe(header);
  });
});
