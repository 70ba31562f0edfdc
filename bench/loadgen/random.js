'use strict';

// The seeded generator the benchmarks and the test suites draw their
// pseudo-random inputs from (test/helpers/random.js re-exports it), so a
// benchmark's payloads are the same bytes in every run and a test failure
// reproduces.

/**
 * A seeded PRNG (mulberry32).
 *
 * @param {number} seed Seed
 * @return {function(): number} The next unsigned 32-bit value
 */
function makeRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

module.exports = { makeRandom };
