'use strict';

const { codes: zlibCodes } = require('zlib');

const { kStatusCode } = require('./constants');

//
// Status numbers of native/core/status.h, in order. The binding reports a
// protocol fault as (status, detail); this module is the only place that
// turns one into an Error, so every message, `code` and close status matches
// ws 8.21 in one table.
//
const OK = 0;
const UNEXPECTED_RSV_1 = 1;
const UNEXPECTED_RSV_2_3 = 2;
const INVALID_OPCODE = 3;
const EXPECTED_FIN = 4;
const INVALID_CONTROL_PAYLOAD_LENGTH = 5;
const EXPECTED_MASK = 6;
const UNEXPECTED_MASK = 7;
const UNSUPPORTED_DATA_PAYLOAD_LENGTH = 8;
const MESSAGE_TOO_BIG = 9;
const INVALID_UTF8 = 10;
const INVALID_CLOSE_CODE = 11;
const TOO_MANY_BUFFERED_PARTS = 12;
const INFLATE_FAILED = 13;
const OUT_OF_MEMORY = 14;
//
// Not a fault: the engine stopped inflating a large message at its per-slice
// budget and wants to be called again (lib/frame-reader.js does, on the next
// turn of the event loop). Never passed to protocolError().
//
const INFLATE_PENDING = 15;

//
// `detail` of TOO_MANY_BUFFERED_PARTS: 0 when maxFragments was hit, 1 when
// maxBufferedChunks was. ws words them differently although both share one
// `code`.
//
const PARTS_CHUNKS = 1;

const FRAME_PREFIX = 'Invalid WebSocket frame: ';

//
// ws surfaces Node's zlib error, whose message is zlib's per-stream `msg`
// ("invalid block type", ...). The engine reports only the return code, so
// these say what each code means in zlib's style (the first, second and
// fourth are zlib's zError() strings; the last is Node's for Z_BUF_ERROR).
//
const ZLIB_MESSAGES = {
  [zlibCodes.Z_NEED_DICT]: 'need dictionary',
  [zlibCodes.Z_STREAM_ERROR]: 'stream error',
  [zlibCodes.Z_DATA_ERROR]: 'invalid compressed data',
  [zlibCodes.Z_MEM_ERROR]: 'insufficient memory',
  [zlibCodes.Z_BUF_ERROR]: 'unexpected end of file'
};

/**
 * Builds an error with ws's shape: a message, a `code` and the close status
 * under `kStatusCode`.
 *
 * @param {function(new:Error)} ErrorCtor `Error` or `RangeError`
 * @param {String} message The message
 * @param {Number} statusCode The close code (RFC 6455 §7.4.1)
 * @param {String} code The `WS_ERR_*` name
 * @param {Function} stackTop The frame to hide from the stack
 * @return {Error} The error
 * @private
 */
function makeError(ErrorCtor, message, statusCode, code, stackTop) {
  const err = new ErrorCtor(message);

  Error.captureStackTrace(err, stackTop);
  err.code = code;
  err[kStatusCode] = statusCode;
  return err;
}

/**
 * Builds the error of a failed zlib inflate the way Node's zlib reports one:
 * a plain `Error` with zlib's message, `errno` and the `Z_*` name as `code`,
 * closed with 1007 as ws does (RFC 6455 §7.4.1: data inconsistent with the
 * message type).
 *
 * @param {Number} zlibCode The zlib return code (negative), or 0 if unknown
 * @return {Error} The error
 * @public
 */
function inflateError(zlibCode) {
  const errno = zlibCode < 0 ? zlibCode : zlibCodes.Z_DATA_ERROR;
  const err = new Error(ZLIB_MESSAGES[errno] || 'zlib error');

  Error.captureStackTrace(err, inflateError);
  err.errno = errno;
  err.code = zlibCodes[errno] || 'Z_DATA_ERROR';
  err[kStatusCode] = 1007;
  return err;
}

/**
 * Builds the error for a protocol fault reported by the native engine, with
 * ws 8.21's exact class, message, `code` and close status.
 *
 * @param {Number} status A Status of native/core/status.h (not 0)
 * @param {Number} detail The opcode, length, close code or zlib code the
 *     message names (a uint32: negative zlib codes arrive wrapped)
 * @return {(Error|RangeError)} The error
 * @public
 */
function protocolError(status, detail) {
  switch (status) {
    case UNEXPECTED_RSV_1:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}RSV1 must be clear`,
        1002,
        'WS_ERR_UNEXPECTED_RSV_1',
        protocolError
      );
    case UNEXPECTED_RSV_2_3:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}RSV2 and RSV3 must be clear`,
        1002,
        'WS_ERR_UNEXPECTED_RSV_2_3',
        protocolError
      );
    case INVALID_OPCODE:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}invalid opcode ${detail}`,
        1002,
        'WS_ERR_INVALID_OPCODE',
        protocolError
      );
    case EXPECTED_FIN:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}FIN must be set`,
        1002,
        'WS_ERR_EXPECTED_FIN',
        protocolError
      );
    case INVALID_CONTROL_PAYLOAD_LENGTH:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}invalid payload length ${detail}`,
        1002,
        'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
        protocolError
      );
    case EXPECTED_MASK:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}MASK must be set`,
        1002,
        'WS_ERR_EXPECTED_MASK',
        protocolError
      );
    case UNEXPECTED_MASK:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}MASK must be clear`,
        1002,
        'WS_ERR_UNEXPECTED_MASK',
        protocolError
      );
    case UNSUPPORTED_DATA_PAYLOAD_LENGTH:
      return makeError(
        RangeError,
        'Unsupported WebSocket frame: payload length > 2^53 - 1',
        1009,
        'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
        protocolError
      );
    case MESSAGE_TOO_BIG:
      return makeError(
        RangeError,
        'Max payload size exceeded',
        1009,
        'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        protocolError
      );
    case INVALID_UTF8:
      return makeError(
        Error,
        `${FRAME_PREFIX}invalid UTF-8 sequence`,
        1007,
        'WS_ERR_INVALID_UTF8',
        protocolError
      );
    case INVALID_CLOSE_CODE:
      return makeError(
        RangeError,
        `${FRAME_PREFIX}invalid status code ${detail}`,
        1002,
        'WS_ERR_INVALID_CLOSE_CODE',
        protocolError
      );
    case TOO_MANY_BUFFERED_PARTS:
      return makeError(
        RangeError,
        detail === PARTS_CHUNKS
          ? 'Too many buffered chunks'
          : 'Too many message fragments',
        1008,
        'WS_ERR_TOO_MANY_BUFFERED_PARTS',
        protocolError
      );
    case INFLATE_FAILED:
      return inflateError(detail | 0);
    case OUT_OF_MEMORY:
      return makeError(
        RangeError,
        'Out of memory while buffering a message',
        1011,
        'WS_ERR_OUT_OF_MEMORY',
        protocolError
      );
    default:
      //
      // A status this table does not know means the addon and lib/ are out
      // of step; fail the connection rather than pretend all is well.
      //
      return makeError(
        Error,
        `Unknown WebSocket engine status ${status}`,
        1011,
        'WS_ERR_UNKNOWN_STATUS',
        protocolError
      );
  }
}

module.exports = {
  inflateError,
  protocolError,
  status: {
    OK,
    UNEXPECTED_RSV_1,
    UNEXPECTED_RSV_2_3,
    INVALID_OPCODE,
    EXPECTED_FIN,
    INVALID_CONTROL_PAYLOAD_LENGTH,
    EXPECTED_MASK,
    UNEXPECTED_MASK,
    UNSUPPORTED_DATA_PAYLOAD_LENGTH,
    MESSAGE_TOO_BIG,
    INVALID_UTF8,
    INVALID_CLOSE_CODE,
    TOO_MANY_BUFFERED_PARTS,
    INFLATE_FAILED,
    OUT_OF_MEMORY,
    INFLATE_PENDING
  }
};
