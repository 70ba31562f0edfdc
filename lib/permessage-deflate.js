'use strict';

const binding = require('./binding');
const Limiter = require('./limiter');
const { inflateError, protocolError, status: STATUS } = require('./errors');

//
// Compression runs in the native Deflater. Small messages are compressed
// inline, on the JS thread: the threadpool hop costs about as much as the work
// (its JS-thread share alone was 18-27 us per message, its wall time 70-100 us
// at 1-4 KiB) and the message then leaves in the same call, with nothing queued
// behind it. Large ones go to the threadpool so one big message does not stall
// every other connection. Inline cost of one compress() call, level -1,
// memLevel 8, window 15, context takeover, a new message each call (JSON rows /
// random bytes; Node 20, 2-core AMD EPYC VM with a load average of 4-5, best of
// two runs of a local script timing binding.Deflater#compress):
//
//    4 KiB:  0.06 ms / 0.10 ms      16 KiB:  0.22 ms / 0.57 ms
//   64 KiB:  0.95 ms / 1.9 ms        1 MiB:   19 ms  /  53 ms
//
// A threadpool job is not free either: its result comes back only on the next
// turn of the event loop, and the limiter lets 10 run at once. In a 10-minute
// soak (bench/soak.js, 1000 compressed connections, CPU-bound server) a loop
// turn took ~50 ms, so 8 KiB and 16 KiB messages were capped at exactly
// 100 msg/s each (10 jobs per turn) with a p50 of 1.6 s, while 4 KiB ones
// echoed at 3,300 msg/s. So messages are compressed inline up to 32 KiB (at
// most ~1 ms, the same bound the parser's inflate slices keep) and only larger
// ones go to the threadpool.
//
// Not 64 KiB, even at levels 1-3, where it compresses in about 1 ms (random
// bytes: 1.2 ms). Inline, a busy server compresses in the order it reads its
// sockets, not in the order messages arrived: 100 connections with two 64 KiB
// binary messages in flight each echoed with a p99 of 494 ms against ws's
// 393 ms (p50 214 ms against 364 ms). The threadpool's queue is first come,
// first served: a p99 of 305 ms against ws's 364 ms, at the same throughput.
//
const DEFLATE_INLINE_MAX_BYTES = 32 * 1024;

//
// The default compression level is 1, not zlib's 6 (ws's default): levels 1-3
// use zlib's fast matcher, which takes a fraction of the time for a modestly
// larger output. Measured with zlib.deflateRawSync on 64 KiB (Node 20, one
// core of the 2-core AMD EPYC VM): the load generator's mixed UTF-8 words
// 405 us and 4.49x smaller at level 1 against 2,236 us and 5.86x at level 6;
// JSON rows 211 us / 6.74x against 694 us / 7.57x. A level set in
// `zlibDeflateOptions` is used as given.
//
const DEFLATE_LEVEL_DEFAULT = 1;

//
// decompress() (the Receiver inflates inside the native parser; this is the
// public API): a small input can expand a lot (1 KiB of compressed JSON became
// 14 KiB in 0.02-0.13 ms), so the bound is on compressed bytes and lower.
//
const INFLATE_INLINE_MAX_BYTES = 1024;

const kDeflateJobs = Symbol('deflate-jobs');
const kInflateJobs = Symbol('inflate-jobs');
const kDeflateBusy = Symbol('deflate-busy');
const kInflateBusy = Symbol('inflate-busy');

//
// Shared by every instance on purpose: it bounds this thread's share of the
// one libuv threadpool (ws issue #1202). The first instance sets the limit.
//
let zlibLimiter;

const WINDOW_BITS_DEFAULT = 15;

/**
 * permessage-deflate (RFC 7692): the negotiation in JS, the work in the
 * native Deflater/Inflater.
 */
class PerMessageDeflate {
  /**
   * Creates a PerMessageDeflate instance.
   *
   * @param {Object} [options] Configuration options
   * @param {(Boolean|Number)} [options.clientMaxWindowBits] Advertise support
   *     for, or request, a custom client window size
   * @param {Boolean} [options.clientNoContextTakeover=false] Advertise/
   *     acknowledge disabling of client context takeover
   * @param {Number} [options.concurrencyLimit=10] The number of concurrent
   *     compression jobs on the threadpool
   * @param {Boolean} [options.isServer=false] Create the instance in either
   *     server or client mode
   * @param {Number} [options.maxPayload=0] The maximum allowed message length
   * @param {(Boolean|Number)} [options.serverMaxWindowBits] Request/confirm the
   *     use of a custom server window size
   * @param {Boolean} [options.serverNoContextTakeover=false] Request/accept
   *     disabling of server context takeover
   * @param {Number} [options.threshold=1024] Size (in bytes) below which
   *     messages should not be compressed if context takeover is disabled
   * @param {Object} [options.zlibDeflateOptions] zlib options for deflate
   *     (`level`, `memLevel`, `strategy` are used)
   * @param {Object} [options.zlibInflateOptions] zlib options for inflate
   *     (the window size comes from the negotiation)
   */
  constructor(options) {
    this._options = options || {};
    this._threshold =
      this._options.threshold !== undefined ? this._options.threshold : 1024;
    this._maxPayload = this._options.maxPayload | 0;
    this._isServer = !!this._options.isServer;
    this._deflate = null;
    this._inflate = null;

    this.params = null;

    this[kDeflateJobs] = [];
    this[kInflateJobs] = [];
    this[kDeflateBusy] = false;
    this[kInflateBusy] = false;

    if (!zlibLimiter) {
      const concurrency =
        this._options.concurrencyLimit !== undefined
          ? this._options.concurrencyLimit
          : 10;
      zlibLimiter = new Limiter(concurrency);
    }
  }

  /**
   * @type {String}
   */
  static get extensionName() {
    return 'permessage-deflate';
  }

  /**
   * Creates an extension negotiation offer (RFC 7692 §7.1).
   *
   * @return {Object} Extension parameters
   * @public
   */
  offer() {
    const opts = this._options;
    const params = {};

    if (opts.serverNoContextTakeover) params.server_no_context_takeover = true;
    if (opts.clientNoContextTakeover) params.client_no_context_takeover = true;
    if (opts.serverMaxWindowBits) {
      params.server_max_window_bits = opts.serverMaxWindowBits;
    }

    //
    // A client that does not say otherwise advertises that it can honour a
    // server-chosen client window (§7.1.2.2), as ws does.
    //
    if (opts.clientMaxWindowBits) {
      params.client_max_window_bits = opts.clientMaxWindowBits;
    } else if (opts.clientMaxWindowBits == null) {
      params.client_max_window_bits = true;
    }

    return params;
  }

  /**
   * Accepts an extension negotiation offer (server) or response (client).
   *
   * @param {Array} configurations The offers or the response, as parsed by
   *     `extension.parse()`
   * @return {Object} The accepted parameters
   * @throws {Error|TypeError} If no offer is acceptable or a parameter is
   *     invalid
   * @public
   */
  accept(configurations) {
    configurations = this.normalizeParams(configurations);

    this.params = this._isServer
      ? this.acceptAsServer(configurations)
      : this.acceptAsClient(configurations);

    return this.params;
  }

  /**
   * Releases the native streams. A compression still in progress gets its
   * callback called now with an error; its result is dropped when it lands.
   *
   * @public
   */
  cleanup() {
    const inflateJobs = this[kInflateJobs];
    const deflateJobs = this[kDeflateJobs];

    this._inflate = null;
    this._deflate = null;
    this[kInflateJobs] = [];
    this[kDeflateJobs] = [];
    this[kInflateBusy] = false;
    this[kDeflateBusy] = false;

    if (inflateJobs.length) {
      const err = new Error(
        'The inflate stream was closed while data was being processed'
      );
      for (const job of inflateJobs) job.callback(err);
    }

    if (deflateJobs.length) {
      const err = new Error(
        'The deflate stream was closed while data was being processed'
      );
      for (const job of deflateJobs) job.callback(err);
    }
  }

  /**
   * Picks the first offer this server can accept and completes it with the
   * server's choices (RFC 7692 §7.1).
   *
   * @param {Array} offers The normalized offers
   * @return {Object} The accepted configuration
   * @private
   */
  acceptAsServer(offers) {
    const opts = this._options;
    let accepted;

    for (const params of offers) {
      //
      // The offer asks for something the server was configured to refuse:
      // keeping its own context, a smaller own window than allowed, or no
      // room to set the client's window when the server requires one.
      //
      if (
        opts.serverNoContextTakeover === false &&
        params.server_no_context_takeover
      ) {
        continue;
      }

      if (
        params.server_max_window_bits &&
        (opts.serverMaxWindowBits === false ||
          (typeof opts.serverMaxWindowBits === 'number' &&
            opts.serverMaxWindowBits > params.server_max_window_bits))
      ) {
        continue;
      }

      if (
        typeof opts.clientMaxWindowBits === 'number' &&
        !params.client_max_window_bits
      ) {
        continue;
      }

      accepted = params;
      break;
    }

    if (!accepted) {
      throw new Error('None of the extension offers can be accepted');
    }

    if (opts.serverNoContextTakeover) {
      accepted.server_no_context_takeover = true;
    }
    if (opts.clientNoContextTakeover) {
      accepted.client_no_context_takeover = true;
    }
    if (typeof opts.serverMaxWindowBits === 'number') {
      accepted.server_max_window_bits = opts.serverMaxWindowBits;
    }
    if (typeof opts.clientMaxWindowBits === 'number') {
      accepted.client_max_window_bits = opts.clientMaxWindowBits;
    } else if (
      accepted.client_max_window_bits === true ||
      opts.clientMaxWindowBits === false
    ) {
      delete accepted.client_max_window_bits;
    }

    return accepted;
  }

  /**
   * Checks the server's response against what this client offered.
   *
   * @param {Array} response The normalized response
   * @return {Object} The accepted configuration
   * @private
   */
  acceptAsClient(response) {
    const opts = this._options;
    const params = response[0];

    if (
      opts.clientNoContextTakeover === false &&
      params.client_no_context_takeover
    ) {
      throw new Error('Unexpected parameter "client_no_context_takeover"');
    }

    if (!params.client_max_window_bits) {
      if (typeof opts.clientMaxWindowBits === 'number') {
        params.client_max_window_bits = opts.clientMaxWindowBits;
      }
    } else if (
      opts.clientMaxWindowBits === false ||
      (typeof opts.clientMaxWindowBits === 'number' &&
        params.client_max_window_bits > opts.clientMaxWindowBits)
    ) {
      throw new Error(
        'Unexpected or invalid parameter "client_max_window_bits"'
      );
    }

    return params;
  }

  /**
   * Validates the parameters of each configuration and replaces each array of
   * values by its single value (RFC 7692 §7.1: every parameter at most once).
   *
   * @param {Array} configurations The offers or the response
   * @return {Array} The same configurations, normalized in place
   * @throws {Error|TypeError} On a repeated, unknown or invalid parameter
   * @public
   */
  normalizeParams(configurations) {
    for (const params of configurations) {
      for (const key of Object.keys(params)) {
        const values = params[key];

        if (values.length > 1) {
          throw new Error(`Parameter "${key}" must have only a single value`);
        }

        params[key] = this.normalizeValue(key, values[0]);
      }
    }

    return configurations;
  }

  /**
   * Validates one parameter value.
   *
   * @param {String} key The parameter name
   * @param {(String|Boolean)} value The value (`true` when absent)
   * @return {(Number|Boolean)} The normalized value
   * @private
   */
  normalizeValue(key, value) {
    switch (key) {
      case 'client_max_window_bits':
        //
        // §7.1.2.2: only an offer may carry this parameter without a value.
        //
        if (value === true) {
          if (this._isServer) return true;
          break;
        }
        return windowBitsValue(key, value);
      case 'server_max_window_bits':
        return windowBitsValue(key, value);
      case 'client_no_context_takeover':
      case 'server_no_context_takeover':
        if (value === true) return true;
        break;
      default:
        throw new Error(`Unknown parameter "${key}"`);
    }

    throw new TypeError(`Invalid value for parameter "${key}": ${value}`);
  }

  /**
   * Decompresses data. Concurrency limited; the callback is always called
   * asynchronously, in call order.
   *
   * @param {Buffer} data Compressed data
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @param {Function} callback Callback
   * @public
   */
  decompress(data, fin, callback) {
    this[kInflateJobs].push({ data, fin, callback });
    if (!this[kInflateBusy]) runInflateJobs(this);
  }

  /**
   * Compresses data. Concurrency limited; the callback is always called
   * asynchronously, in call order.
   *
   * @param {(Buffer|String)} data Data to compress
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @param {Function} callback Callback
   * @public
   */
  compress(data, fin, callback) {
    this[kDeflateJobs].push({ data: toBytes(data), fin, callback });
    if (!this[kDeflateBusy]) runDeflateJobs(this);
  }

  /**
   * Compresses a small message part at once when nothing is in flight, so the
   * sender can frame it in the same call. Returns `null` when the data is too
   * large for the JS thread or earlier parts are still being compressed; the
   * caller then uses `compress()`.
   *
   * @param {(Buffer|String)} data Data to compress
   * @param {Boolean} fin Specifies whether or not this is the last fragment
   * @return {(Buffer|null)} The compressed bytes, or `null`
   * @private
   */
  _compressNow(data, fin) {
    if (this[kDeflateBusy] || this[kDeflateJobs].length) return null;

    const length =
      typeof data === 'string' ? Buffer.byteLength(data) : data.length;

    if (length > DEFLATE_INLINE_MAX_BYTES) return null;
    return deflaterOf(this).compress(toBytes(data), fin);
  }
}

module.exports = PerMessageDeflate;

/**
 * Checks a `*_max_window_bits` value: an integer in 8..15 (RFC 7692 §7.1.2).
 *
 * @param {String} key The parameter name
 * @param {(String|Boolean)} value The value
 * @return {Number} The window bits
 * @private
 */
function windowBitsValue(key, value) {
  const num = +value;

  if (!Number.isInteger(num) || num < 8 || num > 15) {
    throw new TypeError(`Invalid value for parameter "${key}": ${value}`);
  }

  return num;
}

/**
 * Returns `data` as bytes without copying when it already is.
 *
 * @param {(Buffer|Uint8Array|String)} data The data
 * @return {Uint8Array} The bytes
 * @private
 */
function toBytes(data) {
  return typeof data === 'string' ? Buffer.from(data) : data;
}

/**
 * Returns this endpoint's Deflater, creating it on first use with the
 * negotiated window and context takeover of our own direction.
 *
 * @param {PerMessageDeflate} pmd The instance
 * @return {Object} The native Deflater
 * @private
 */
function deflaterOf(pmd) {
  if (!pmd._deflate) {
    const endpoint = pmd._isServer ? 'server' : 'client';
    const params = pmd.params || {};
    const windowBits = params[`${endpoint}_max_window_bits`];
    const zlibOptions = pmd._options.zlibDeflateOptions || {};
    const options = {
      windowBits:
        typeof windowBits === 'number' ? windowBits : WINDOW_BITS_DEFAULT,
      noContextTakeover: !!params[`${endpoint}_no_context_takeover`]
    };

    options.level =
      zlibOptions.level !== undefined
        ? zlibOptions.level
        : DEFLATE_LEVEL_DEFAULT;
    if (zlibOptions.memLevel !== undefined) {
      options.memLevel = zlibOptions.memLevel;
    }
    if (zlibOptions.strategy !== undefined) {
      options.strategy = zlibOptions.strategy;
    }

    pmd._deflate = new binding.Deflater(options);
  }

  return pmd._deflate;
}

/**
 * Returns this endpoint's Inflater for the peer's direction.
 *
 * @param {PerMessageDeflate} pmd The instance
 * @return {Object} The native Inflater
 * @private
 */
function inflaterOf(pmd) {
  if (!pmd._inflate) {
    const endpoint = pmd._isServer ? 'client' : 'server';
    const params = pmd.params || {};
    const windowBits = params[`${endpoint}_max_window_bits`];

    pmd._inflate = new binding.Inflater(
      typeof windowBits === 'number' ? windowBits : WINDOW_BITS_DEFAULT,
      !!params[`${endpoint}_no_context_takeover`]
    );
  }

  return pmd._inflate;
}

/**
 * Runs queued compression jobs one at a time: a deflate stream is a single
 * sequence, so parts must be compressed in call order (context takeover).
 *
 * @param {PerMessageDeflate} pmd The instance
 * @private
 */
function runDeflateJobs(pmd) {
  const jobs = pmd[kDeflateJobs];

  while (!pmd[kDeflateBusy] && jobs.length) {
    const job = jobs[0];
    let deflater;

    try {
      deflater = deflaterOf(pmd);
    } catch (err) {
      jobs.shift();
      process.nextTick(job.callback, err);
      continue;
    }

    if (job.data.length <= DEFLATE_INLINE_MAX_BYTES) {
      jobs.shift();

      let result;
      let error = null;

      try {
        result = deflater.compress(job.data, job.fin);
      } catch (err) {
        error = err;
      }

      process.nextTick(job.callback, error, result);
      continue;
    }

    pmd[kDeflateBusy] = true;
    zlibLimiter.add((done) => {
      //
      // cleanup() may have run while this job waited for a slot: its
      // callback has been called already.
      //
      if (pmd._deflate !== deflater) {
        done();
        return;
      }

      deflater.compressAsync(job.data, job.fin, (err, result) => {
        done();
        if (pmd._deflate !== deflater) return;

        jobs.shift();
        pmd[kDeflateBusy] = false;
        runDeflateJobs(pmd);
        job.callback(err, result);
      });
    });
  }
}

/**
 * Runs queued decompression jobs one at a time, in call order.
 *
 * @param {PerMessageDeflate} pmd The instance
 * @private
 */
function runInflateJobs(pmd) {
  const jobs = pmd[kInflateJobs];

  while (!pmd[kInflateBusy] && jobs.length) {
    const job = jobs[0];
    const inflater = inflaterOf(pmd);

    if (job.data.length <= INFLATE_INLINE_MAX_BYTES) {
      jobs.shift();

      const result = inflater.inflate(job.data, job.fin, pmd._maxPayload);

      if (typeof result === 'number') {
        pmd._inflate = null;
        process.nextTick(job.callback, inflateFailure(result));
      } else {
        process.nextTick(job.callback, null, result);
      }
      continue;
    }

    pmd[kInflateBusy] = true;
    zlibLimiter.add((done) => {
      if (pmd._inflate !== inflater) {
        done();
        return;
      }

      inflater.inflateAsync(
        job.data,
        job.fin,
        pmd._maxPayload,
        (status, result) => {
          done();
          if (pmd._inflate !== inflater) return;

          jobs.shift();
          pmd[kInflateBusy] = false;

          if (status !== 0) {
            //
            // As with a zlib stream that errored, the next message starts a
            // new stream.
            //
            pmd._inflate = null;
            runInflateJobs(pmd);
            job.callback(inflateFailure(status));
            return;
          }

          runInflateJobs(pmd);
          job.callback(null, result);
        }
      );
    });
  }
}

/**
 * Builds the error of a failed inflate.
 *
 * @param {Number} status A Status of native/core/status.h
 * @return {Error} The error
 * @private
 */
function inflateFailure(status) {
  return status === STATUS.INFLATE_FAILED
    ? inflateError(0)
    : protocolError(status, 0);
}
