'use strict';

const { tokenChars } = require('./validation');

// Scanner states: waiting for a name, inside a name, after a name and its trailing whitespace.
const BEFORE_NAME = 0;
const IN_NAME = 1;
const AFTER_NAME = 2;

/**
 * Adds `name` to `protocols`, rejecting a name offered twice (RFC 6455 §4.1: the list holds
 * distinct subprotocols).
 *
 * @param {Set<String>} protocols The names seen so far
 * @param {String} name The name to add
 * @private
 */
function addName(protocols, name) {
  if (protocols.has(name)) {
    throw new SyntaxError(`The "${name}" subprotocol is duplicated`);
  }
  protocols.add(name);
}

/**
 * Parses a `Sec-WebSocket-Protocol` header value (RFC 6455 §4.1, §11.3.4: a comma-separated list
 * of RFC 7230 tokens with optional whitespace) into a set of subprotocol names, in one pass.
 *
 * @param {String} header The field value of the header
 * @return {Set<String>} The subprotocol names, in header order
 * @throws {SyntaxError} If the value is malformed or names a subprotocol twice
 * @public
 */
function parse(header) {
  const protocols = new Set();
  let state = BEFORE_NAME;
  let nameStart = 0;
  let nameEnd = 0;
  let i = 0;

  for (; i < header.length; i++) {
    const code = header.charCodeAt(i);
    const isToken = tokenChars[code] === 1;
    // Whitespace may surround the commas but may not open the value.
    const isSpace = (code === 0x20 || code === 0x09) && i !== 0;

    if (state === BEFORE_NAME) {
      if (isToken) {
        nameStart = i;
        state = IN_NAME;
      } else if (!isSpace) {
        throw new SyntaxError(`Unexpected character at index ${i}`);
      }
    } else if (isToken && state === IN_NAME) {
      continue;
    } else if (isSpace) {
      if (state === IN_NAME) {
        nameEnd = i;
        state = AFTER_NAME;
      }
    } else if (code === 0x2c) {
      addName(
        protocols,
        header.slice(nameStart, state === IN_NAME ? i : nameEnd)
      );
      state = BEFORE_NAME;
    } else {
      throw new SyntaxError(`Unexpected character at index ${i}`);
    }
  }

  // An empty value, a trailing comma and trailing whitespace all end early.
  if (state !== IN_NAME) throw new SyntaxError('Unexpected end of input');

  addName(protocols, header.slice(nameStart, i));
  return protocols;
}

module.exports = { parse };
