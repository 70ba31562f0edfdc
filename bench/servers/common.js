'use strict';

// Shared plumbing of the benchmark servers: command line, the "ready" line
// the harness waits for, and a stdin control channel ("stats" prints memory
// after a full GC when node runs with --expose-gc; end of stdin exits, so a
// server never outlives the harness that started it).

const readline = require('readline');

/**
 * Parses `--name value` and bare `--flag` arguments.
 *
 * @param {string[]} argv Arguments after the script name
 * @param {Object<string, *>} defaults Known options and their default values;
 *     booleans are flags
 * @return {Object<string, *>} The options
 */
function parseArgs(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    // --max-chunk sets maxChunk.
    const name = argv[i]
      .replace(/^--/, '')
      .replace(/-(\w)/g, (m, c) => c.toUpperCase());
    if (!(name in defaults)) throw new Error(`unknown option ${argv[i]}`);
    if (typeof defaults[name] === 'boolean') {
      options[name] = true;
    } else {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
      const value = argv[++i];
      options[name] =
        typeof defaults[name] === 'number' ? Number(value) : value;
    }
  }
  return options;
}

/**
 * Prints the one-line JSON the harness waits for, then serves the stdin
 * control channel.
 *
 * @param {Object} info Fields of the ready line (port, impl, ...)
 * @param {function(): Object} extraStats Extra fields for each "stats" reply
 */
function announce(info, extraStats) {
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      pid: process.pid,
      node: process.version,
      ...info
    }) + '\n'
  );
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'stats') return;
    // Two passes: the first may only schedule finalizers of native buffers.
    if (typeof global.gc === 'function') {
      global.gc();
      global.gc();
    }
    const usage = process.memoryUsage();
    process.stdout.write(
      JSON.stringify({
        event: 'stats',
        gc: typeof global.gc === 'function',
        rss: usage.rss,
        heapUsed: usage.heapUsed,
        heapTotal: usage.heapTotal,
        external: usage.external,
        arrayBuffers: usage.arrayBuffers,
        ...extraStats()
      }) + '\n'
    );
  });
  lines.on('close', () => process.exit(0));
}

module.exports = { announce, parseArgs };
