// Binding-level tests of the Sec-WebSocket-Extensions parser (RFC 6455 §9.1): ws's grammar
// table with its error indexes, a differential run against ws's own parse() on generated
// headers, Object.prototype names, and 64 KiB pathological headers.

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
// ws's parser, read from the installed package (its exports map hides lib/).
const wsExtension = require(
  path.join(ROOT, 'node_modules', 'ws', 'lib', 'extension.js')
);

/**
 * Runs a parser and captures either its result or its error's class and message.
 *
 * @param {function(string): Object} parse
 * @param {string} header
 * @return {{ value?: Object, error?: string }}
 */
function outcome(parse, header) {
  try {
    return { value: parse(header) };
  } catch (error) {
    return { error: `${error.constructor.name}: ${error.message}` };
  }
}

/**
 * Checks the null prototypes at every level of a parse result.
 *
 * @param {Object} offers
 */
function expectNullPrototypes(offers) {
  expect(Object.getPrototypeOf(offers)).toBe(null);
  for (const name of Object.keys(offers)) {
    expect(Array.isArray(offers[name])).toBe(true);
    for (const params of offers[name]) {
      expect(Object.getPrototypeOf(params)).toBe(null);
      for (const key of Object.keys(params)) {
        expect(Array.isArray(params[key])).toBe(true);
      }
    }
  }
}

describe('parseExtensions: ws grammar table', () => {
  it('parses a single extension', () => {
    expect(binding.parseExtensions('foo')).toEqual({ foo: [{}] });
  });

  it('parses params, repeated ones into arrays', () => {
    expect(binding.parseExtensions('foo;bar;baz=1;bar=2')).toEqual({
      foo: [{ bar: [true, '2'], baz: ['1'] }]
    });
  });

  it('parses multiple extensions and repeated offers', () => {
    expect(binding.parseExtensions('foo,bar;baz,foo;baz')).toEqual({
      foo: [{}, { baz: [true] }],
      bar: [{ baz: [true] }]
    });
  });

  it('parses and unescapes quoted values', () => {
    expect(binding.parseExtensions('foo;bar="hi"')).toEqual({
      foo: [{ bar: ['hi'] }]
    });
    expect(binding.parseExtensions('foo;bar="\\0"')).toEqual({
      foo: [{ bar: ['0'] }]
    });
    expect(binding.parseExtensions('foo;bar="b\\a\\z"')).toEqual({
      foo: [{ bar: ['baz'] }]
    });
    expect(binding.parseExtensions('foo;bar="b\\az";bar')).toEqual({
      foo: [{ bar: ['baz', true] }]
    });
  });

  it('ignores optional whitespace', () => {
    const header = 'foo; bar\t; \tbaz=1\t ;  bar="1"\t\t, \tqux\t ;norf';
    expect(binding.parseExtensions(header)).toEqual({
      foo: [{ bar: [true, '1'], baz: ['1'] }],
      qux: [{ norf: [true] }]
    });
  });

  const unexpected = [
    ['foo;bar="baz"qux', 13],
    ['foo;bar="baz" qux', 14],
    // Empty names.
    [',', 0],
    ['foo,,', 4],
    ['foo,  ,', 6],
    ['foo;=', 4],
    ['foo; =', 5],
    ['foo;;', 4],
    ['foo; ;', 5],
    ['foo;bar=,', 8],
    ['foo;bar=""', 9],
    // Misplaced whitespace.
    [' foo', 0],
    ['f oo', 2],
    ['foo;ba r', 7],
    ['foo;bar =', 8],
    ['foo;bar= ', 8],
    // Characters that are not token characters.
    ['f@o', 1],
    ['f\\oo', 1],
    ['"foo"', 0],
    ['f"oo"', 1],
    ['foo;b@r', 5],
    ['foo;b\\ar', 5],
    ['foo;"bar"', 4],
    ['foo;b"ar"', 5],
    ['foo;bar=b@z', 9],
    ['foo;bar=b\\az ', 9],
    ['foo;bar="b@z"', 10],
    ['foo;bar="baz;"', 12],
    ['foo;bar=b"az"', 9],
    ['foo;bar="\\\\"', 10],
    // Non-ASCII: the index counts UTF-16 code units, as ws's does.
    ['foo;bar=é', 8],
    ['foo😀', 3],
    ['foo\u0000', 3]
  ];
  for (const [header, index] of unexpected) {
    it(`throws "Unexpected character at index ${index}" for ${JSON.stringify(header)}`, () => {
      expect(() => binding.parseExtensions(header)).toThrow(SyntaxError);
      expect(() => binding.parseExtensions(header)).toThrow(
        new RegExp(`^Unexpected character at index ${index}$`)
      );
    });
  }

  for (const header of [
    '',
    'foo, ',
    'foo;',
    'foo;bar,',
    'foo;bar; ',
    'foo;bar=',
    'foo;bar="baz',
    'foo;bar="1\\',
    'foo ',
    'foo;bar="1" '
  ]) {
    it(`throws "Unexpected end of input" for ${JSON.stringify(header)}`, () => {
      expect(() => binding.parseExtensions(header)).toThrow(SyntaxError);
      expect(() => binding.parseExtensions(header)).toThrow(
        /^Unexpected end of input$/
      );
    });
  }

  it('throws TypeError for a non-string header', () => {
    expect(() => binding.parseExtensions()).toThrow(TypeError);
    expect(() => binding.parseExtensions(Buffer.from('foo'))).toThrow(
      TypeError
    );
  });
});

describe('parseExtensions: Object.prototype names', () => {
  it('keeps names like hasOwnProperty, constructor and __proto__ as plain keys', () => {
    const offers = binding.parseExtensions(
      'hasOwnProperty, toString, __proto__; __proto__=1; constructor; valueOf="x"'
    );
    expectNullPrototypes(offers);
    expect(Object.keys(offers)).toEqual([
      'hasOwnProperty',
      'toString',
      '__proto__'
    ]);
    expect(offers.hasOwnProperty).toEqual([{}]);
    const [params] = offers.__proto__;
    expect(Object.keys(params)).toEqual([
      '__proto__',
      'constructor',
      'valueOf'
    ]);
    expect(params.__proto__).toEqual(['1']);
    expect(params.constructor).toEqual([true]);
    expect(params.valueOf).toEqual(['x']);
  });

  it('orders array-index names first, as a JavaScript object does', () => {
    const offers = binding.parseExtensions('b, 2, a; 9; x; 1');
    expect(Object.keys(offers)).toEqual(['2', 'b', 'a']);
    expect(Object.keys(offers.a[0])).toEqual(['1', '9', 'x']);
  });
});

describe('parseExtensions: differential against ws', () => {
  it('matches ws on 20000 generated headers, results and errors', () => {
    // Characters of every class the grammar distinguishes, weighted towards valid shapes.
    const pieces = [
      'a',
      'b',
      'x1',
      'permessage-deflate',
      'client_max_window_bits',
      '__proto__',
      '1',
      '0',
      ' ',
      '\t',
      ';',
      ',',
      '=',
      '"',
      '\\',
      '@',
      'é',
      '; ',
      ', ',
      '="v"',
      '=10'
    ];
    const random = makeRandom(9001);
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      let header = '';
      const count = random() % 10;
      for (let j = 0; j < count; j++)
        header += pieces[random() % pieces.length];
      const ours = outcome(binding.parseExtensions, header);
      const theirs = outcome(wsExtension.parse, header);
      if (theirs.error !== undefined) {
        if (ours.error !== theirs.error)
          expect({ header, ...ours }).toEqual({ header, ...theirs });
      } else {
        accepted++;
        expect(ours.error).toBeUndefined();
        expect(ours.value).toEqual(theirs.value);
        expect(Object.keys(ours.value)).toEqual(Object.keys(theirs.value));
        expectNullPrototypes(ours.value);
      }
    }
    // The generator must exercise both paths.
    expect(accepted).toBeGreaterThan(1000);
  });
});

describe('parseExtensions: 64 KiB pathological headers (linear time)', () => {
  const size = 64 * 1024;

  it('rejects an unterminated quoted value full of escapes', () => {
    const header = 'a;b="' + '\\c'.repeat(size / 2);
    expect(() => binding.parseExtensions(header)).toThrow(
      /^Unexpected end of input$/
    );
  });

  it('accepts a quoted value full of escapes and unescapes it', () => {
    const header = 'a;b="' + '\\c'.repeat(size / 2) + '"';
    expect(binding.parseExtensions(header).a[0].b[0]).toBe(
      'c'.repeat(size / 2)
    );
  });

  it('rejects a run of semicolons at the second one', () => {
    expect(() => binding.parseExtensions('a' + ';'.repeat(size))).toThrow(
      /^Unexpected character at index 2$/
    );
  });

  it('parses many commas into many offers', () => {
    const header = Array(size / 2)
      .fill('a')
      .join(',');
    const offers = binding.parseExtensions(header);
    expect(offers.a.length).toBe(size / 2);
  });

  it('parses many parameters into one array', () => {
    const header = 'a' + ';b'.repeat(size / 2);
    expect(binding.parseExtensions(header).a[0].b.length).toBe(size / 2);
  });

  it('rejects whitespace that runs to the end', () => {
    expect(() => binding.parseExtensions('a;b=1' + ' '.repeat(size))).toThrow(
      /^Unexpected end of input$/
    );
    expect(() =>
      binding.parseExtensions('a;b=1' + ' '.repeat(size) + 'x')
    ).toThrow(new RegExp(`^Unexpected character at index ${size + 5}$`));
  });
});
