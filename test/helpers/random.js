// The seeded generator the test suites draw their random inputs from.

/**
 * A seeded PRNG (mulberry32), so a failure reproduces.
 *
 * @param {number} seed
 * @return {function(): number} the next 32-bit unsigned value
 */
export function makeRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
