// Compressible test text shared by the permessage-deflate suites.

import { makeRandom } from './random.js';

/**
 * English-like text of `size` bytes that deflates about 3x, like chat or JSON traffic: words from
 * a skewed vocabulary, from a seeded generator (mulberry32), so every run sees the same bytes.
 *
 * @param {number} size Bytes of text
 * @param {number} [seed=1] Generator seed
 * @return {Buffer} ASCII text
 */
export function wordText(size, seed = 1) {
  const random = makeRandom(seed);
  const vocabulary = [];
  for (let i = 0; i < 500; i++) {
    let word = '';
    for (let j = 2 + (random() % 8); j > 0; j--) {
      word += String.fromCharCode(0x61 + (random() % 26));
    }
    vocabulary.push(word);
  }
  const parts = [];
  for (let length = 0; length < size;) {
    const u = random() % 500;
    const part = vocabulary[Math.floor((u * u) / 500)] + ' ';
    parts.push(part);
    length += part.length;
  }
  return Buffer.from(parts.join('').slice(0, size));
}
