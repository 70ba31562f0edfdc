// Cuts a byte sequence into chunks and feeds them one at a time, so a reader's result can be
// checked for every way the transport might split its input. Builds on frames.js.

import { cutAt } from './frames.js';

/**
 * Cuts `buffer` at the given ascending offsets into fresh Buffers (frames.js's cutAt).
 *
 * @param {Uint8Array} buffer
 * @param {number[]} offsets Ascending cut points, each within (0, buffer.length)
 * @return {Buffer[]}
 */
export const splitAt = cutAt;

/**
 * Cuts `buffer` into pieces of `size` bytes (the last may be shorter).
 *
 * @param {Uint8Array} buffer
 * @param {number} size
 * @return {Buffer[]}
 */
export function chunksOf(buffer, size) {
  const pieces = [];
  for (let start = 0; start < buffer.length; start += size) {
    pieces.push(Buffer.from(buffer.subarray(start, start + size)));
  }
  return pieces;
}

/**
 * Every two-piece split of `buffer`: [head, tail] for each cut point 1..length-1.
 *
 * @param {Uint8Array} buffer
 * @yield {Buffer[]}
 */
export function* everySplit(buffer) {
  for (let offset = 1; offset < buffer.length; offset++) {
    yield splitAt(buffer, [offset]);
  }
}

/**
 * Writes each piece separately, letting the event loop turn between pieces so the reader sees
 * them as separate chunks.
 *
 * @param {{ write: function(Buffer) }} writable A stream or a RawConnection-like sender
 * @param {Buffer[]} pieces
 * @param {Object} [options]
 * @param {number} [options.delayMs=0] Wait this long between pieces (0: one setImmediate), for
 *     TCP, where back-to-back writes may be coalesced
 */
export async function feed(writable, pieces, { delayMs = 0 } = {}) {
  for (let i = 0; i < pieces.length; i++) {
    writable.write(pieces[i]);
    if (i === pieces.length - 1) break;
    await new Promise((resolve) =>
      delayMs > 0 ? setTimeout(resolve, delayMs) : setImmediate(resolve)
    );
  }
}
