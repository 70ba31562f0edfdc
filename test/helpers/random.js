// The seeded generator the test suites draw their random inputs from: the
// benchmarks' own (bench/loadgen/random.js), so a failure reproduces.

export { makeRandom } from '../../bench/loadgen/random.js';
