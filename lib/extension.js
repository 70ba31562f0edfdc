'use strict';

const binding = require('./binding');

/**
 * Parses a `Sec-WebSocket-Extensions` header value (RFC 6455 §9.1) in native code, in linear time.
 *
 * @param {String} header The field value of the header
 * @return {Object} A null-prototype object mapping each extension name to its offers, each offer a
 *     null-prototype object mapping each parameter name to its values (`true` for a parameter
 *     without a value)
 * @throws {SyntaxError} If the value is malformed ("Unexpected character at index N",
 *     "Unexpected end of input")
 * @public
 */
function parse(header) {
  if (typeof header !== 'string') {
    throw new TypeError('The "header" argument must be of type string');
  }
  return binding.parseExtensions(header);
}

/**
 * Formats one parameter: a bare name for `true`, else `name=value`, once per value.
 *
 * @param {String} name The parameter name
 * @param {*} value A value or an array of values
 * @return {String} The parameter's text, values joined by "; "
 * @private
 */
function formatParam(name, value) {
  const values = Array.isArray(value) ? value : [value];
  let text = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text += '; ';
    text += values[i] === true ? name : `${name}=${values[i]}`;
  }
  return text;
}

/**
 * Builds a `Sec-WebSocket-Extensions` header value (RFC 6455 §9.1) from the shape parse() returns.
 * Single values may stand in for arrays.
 *
 * @param {Object} extensions Extension names mapped to an offer or an array of offers
 * @return {String} The header value
 * @public
 */
function format(extensions) {
  const extensionTexts = [];

  for (const name of Object.keys(extensions)) {
    const offers = Array.isArray(extensions[name])
      ? extensions[name]
      : [extensions[name]];
    const offerTexts = [];

    for (const params of offers) {
      let text = name;
      for (const key of Object.keys(params)) {
        text += '; ' + formatParam(key, params[key]);
      }
      offerTexts.push(text);
    }

    extensionTexts.push(offerTexts.join(', '));
  }

  return extensionTexts.join(', ');
}

module.exports = { format, parse };
