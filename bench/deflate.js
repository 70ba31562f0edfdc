'use strict';

// What does permessage-deflate cost? ws-native's Deflater/Inflater against Node's zlib with the
// same settings, all measured in this run:
//   1. CPU ms per message for 32 B and 64 KiB text, with and without context takeover: ours
//      inline, ours on the threadpool, Node's one-shot sync calls, and Node's streams used as ws
//      uses them (write + flush(Z_SYNC_FLUSH) per message). CPU time of the whole process (every
//      thread, the threadpool's included), so other load on a shared machine does not count;
//      the latency section (3.) uses the wall clock;
//   2. connections taking turns: 64 connections each sending in turn (32 B JSON-like and 64 KiB
//      text), so every call borrows a pooled zlib stream another connection used last and
//      restores its own history into it: time per message and compressed size;
//   3. the latency of inflating a 1 MiB and a 16 MiB message inline, on the threadpool, and
//      with Node's inflateRawSync, to choose between inline and threadpool;
//   4. memory per connection: memoryBytes after one 32 B and after one 64 KiB message (what
//      the connection holds between messages), and the RSS of 500 idle deflaters of each kind.
//
//   taskset -c 1 node bench/deflate.js [--quick] [--baseline <other ws_native.node>]
//
// --baseline loads a second build of the addon (say, the previous commit's) and measures it in
// the same run, in the same rows, for a before/after comparison.

const { execFileSync } = require('child_process');
const path = require('path');
const zlib = require('zlib');

const binding = require('../lib/binding');
const { wordText } = require('./loadgen/harness');
const { makeRandom } = require('./loadgen/random');

const QUICK = process.argv.includes('--quick');
const BASELINE_PATH = argValue('--baseline');
// The builds measured side by side: this package's addon, then the baseline if given.
const IMPLS = [{ name: 'ws-native', binding }];
if (BASELINE_PATH) {
  IMPLS.push({
    name: 'baseline',
    binding: require(path.resolve(BASELINE_PATH))
  });
}
const TURN_CONNECTIONS = 64;
const SAMPLES = QUICK ? 3 : 7;
const SAMPLE_NS = QUICK ? 50e6 : 200e6;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC_FLUSH = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
const IDLE_CONNECTIONS = 500;

/**
 * @param {string} name
 * @return {string|undefined} the value after `name` on the command line
 */
function argValue(name) {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

/**
 * English-like text of exactly `size` bytes (harness wordText): the vocabulary
 * is the same in every call, the words drawn depend on `seed`.
 *
 * @param {number} size
 * @param {number} seed
 * @return {Buffer}
 */
function text(size, seed) {
  return wordText(size, makeRandom(1), makeRandom(seed));
}

/**
 * A 32-byte JSON-like message, as chat or game traffic sends: the same keys every time, a few
 * values that change.
 *
 * @param {function(): number} random
 * @return {Buffer}
 */
function jsonLike(random) {
  const types = ['msg', 'ack', 'ping', 'join', 'move'];
  const json =
    `{"t":"${types[random() % types.length]}","id":${10000 + (random() % 90000)},` +
    `"x":${random() % 1000}}`;
  return Buffer.from(json.padEnd(32, ' ').slice(0, 32));
}

/**
 * Nanoseconds on the chosen clock. 'cpu': user + system time of the whole process, every thread
 * (the threadpool's zlib work included), so other load on a shared machine does not count;
 * 'wall': elapsed time, for latencies.
 *
 * @param {'cpu'|'wall'} clock
 * @return {number}
 */
function now(clock) {
  if (clock === 'wall') return Number(process.hrtime.bigint());
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

/**
 * Median milliseconds per call of a synchronous `fn`. Sample sizes are set on the wall clock so
 * a sample always lasts about SAMPLE_NS.
 *
 * @param {'cpu'|'wall'} clock
 * @param {Function} fn
 * @return {number}
 */
function timeSync(clock, fn) {
  let iterations = 1;
  for (;;) {
    const start = now('wall');
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = now('wall') - start;
    if (elapsed > SAMPLE_NS / 10) {
      iterations = Math.max(1, Math.ceil((iterations * SAMPLE_NS) / elapsed));
      break;
    }
    iterations *= 2;
  }
  const samples = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = now(clock);
    for (let i = 0; i < iterations; i++) fn();
    samples.push((now(clock) - start) / iterations / 1e6);
  }
  return median(samples);
}

/**
 * Median milliseconds per call of an asynchronous `fn`, calls awaited one after another (each
 * message waits for the previous one, as on one connection).
 *
 * @param {'cpu'|'wall'} clock
 * @param {function(): Promise} fn
 * @return {Promise<number>}
 */
async function timeAsync(clock, fn) {
  let iterations = 1;
  for (;;) {
    const start = now('wall');
    for (let i = 0; i < iterations; i++) await fn();
    const elapsed = now('wall') - start;
    if (elapsed > SAMPLE_NS / 10) {
      iterations = Math.max(1, Math.ceil((iterations * SAMPLE_NS) / elapsed));
      break;
    }
    iterations *= 2;
  }
  const samples = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = now(clock);
    for (let i = 0; i < iterations; i++) await fn();
    samples.push((now(clock) - start) / iterations / 1e6);
  }
  return median(samples);
}

/**
 * @param {number[]} values
 * @return {number}
 */
function median(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * @param {number} ms
 * @return {string}
 */
function fmtMs(ms) {
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 0.1) return ms.toFixed(3);
  return ms.toFixed(4);
}

/**
 * @param {number} bytes
 * @return {string}
 */
function fmtBytes(bytes) {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/**
 * @param {string[]} header
 * @param {Array<Array<string>>} rows
 */
function printTable(header, rows) {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
}

/**
 * A Node DeflateRaw or InflateRaw stream driven as ws drives it: write, then flush with
 * Z_SYNC_FLUSH and collect what came out.
 *
 * @param {zlib.DeflateRaw|zlib.InflateRaw} stream
 * @return {function(Buffer): Promise<Buffer>}
 */
function streamRunner(stream) {
  let chunks = [];
  stream.on('data', (chunk) => chunks.push(chunk));
  return (data) =>
    new Promise((resolve) => {
      stream.write(data);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        chunks = [];
        resolve(out);
      });
    });
}

/**
 * @param {Object} deflater
 * @param {Buffer} data
 * @return {Promise<Buffer>}
 */
function compressAsync(deflater, data) {
  return new Promise((resolve, reject) => {
    deflater.compressAsync(data, true, (error, result) => {
      if (error) reject(error);
      else resolve(result);
    });
  });
}

/**
 * @param {Object} inflater
 * @param {Buffer} data
 * @param {number} maxPayload
 * @return {Promise<Buffer>}
 */
function inflateAsync(inflater, data, maxPayload) {
  return new Promise((resolve, reject) => {
    inflater.inflateAsync(data, true, maxPayload, (status, result) => {
      if (status !== 0) reject(new Error(`inflate status ${status}`));
      else resolve(result);
    });
  });
}

async function perMessage() {
  console.log(
    '## CPU ms per message (median; the whole process, threadpool included), windowBits 15, ' +
      'memLevel 8, level default\n'
  );
  const rows = [];
  for (const size of [32, 64 * 1024]) {
    const message = text(size, size);
    for (const takeover of [true, false]) {
      const label = `${fmtBytes(size)} text, ${takeover ? 'takeover' : 'no takeover'}`;
      // The wire bytes of one message, compressed on a fresh stream (what an inflater sees
      // first; with takeover later messages are smaller, see the deflate rows).
      const compressed = new binding.Deflater({}).compress(message, true);
      const withTail = Buffer.concat([compressed, TAIL]);
      const deflateCells = [];
      const inflateCells = [];
      let deflateFirst = 0;
      let inflateFirst = 0;

      for (const impl of IMPLS) {
        const syncDeflater = new impl.binding.Deflater({
          noContextTakeover: !takeover
        });
        const asyncDeflater = new impl.binding.Deflater({
          noContextTakeover: !takeover
        });
        const deflateSync = timeSync('cpu', () =>
          syncDeflater.compress(message, true)
        );
        const deflateAsync = await timeAsync('cpu', () =>
          compressAsync(asyncDeflater, message)
        );
        const syncInflater = new impl.binding.Inflater(15, !takeover);
        const asyncInflater = new impl.binding.Inflater(15, !takeover);
        const inflateSync = timeSync('cpu', () =>
          syncInflater.inflate(compressed, true, 0)
        );
        const inflateAsyncMs = await timeAsync('cpu', () =>
          inflateAsync(asyncInflater, compressed, 0)
        );
        if (!deflateFirst) {
          deflateFirst = deflateSync;
          inflateFirst = inflateSync;
        }
        deflateCells.push(fmtMs(deflateSync), fmtMs(deflateAsync));
        inflateCells.push(fmtMs(inflateSync), fmtMs(inflateAsyncMs));
      }

      let deflateNode;
      let deflateNodeLabel;
      if (takeover) {
        // Only a stream keeps the window between messages: what ws does.
        const run = streamRunner(zlib.createDeflateRaw());
        deflateNode = await timeAsync('cpu', () => run(message));
        deflateNodeLabel = 'stream write+flush (ws)';
      } else {
        deflateNode = timeSync('cpu', () => {
          const out = zlib.deflateRawSync(message, SYNC_FLUSH);
          return out.subarray(0, out.length - 4);
        });
        deflateNodeLabel = 'deflateRawSync';
      }
      // One-shot inflate of a self-contained message; the same for both modes.
      const inflateNodeSync = timeSync('cpu', () =>
        zlib.inflateRawSync(withTail, SYNC_FLUSH)
      );
      let inflateNode;
      let inflateNodeLabel;
      if (takeover) {
        // A self-contained message per write keeps the stream valid: each one's tail ends a
        // stored block and the next begins a new block (no back-references needed).
        const run = streamRunner(zlib.createInflateRaw());
        inflateNode = await timeAsync('cpu', () => run(withTail));
        inflateNodeLabel = 'stream write+flush (ws)';
      } else {
        inflateNode = inflateNodeSync;
        inflateNodeLabel = 'inflateRawSync';
      }

      rows.push([
        label,
        'deflate',
        ...deflateCells,
        `${fmtMs(deflateNode)} (${deflateNodeLabel})`,
        (deflateNode / deflateFirst).toFixed(1) + 'x'
      ]);
      rows.push([
        label,
        'inflate',
        ...inflateCells,
        `${fmtMs(inflateNode)} (${inflateNodeLabel})`,
        (inflateNode / inflateFirst).toFixed(1) + 'x'
      ]);
    }
  }
  printTable(
    [
      'message',
      'op',
      ...IMPLS.flatMap((impl) => [
        `${impl.name} inline`,
        `${impl.name} threadpool`
      ]),
      'Node zlib',
      'Node / ws-native inline'
    ],
    rows
  );
}

/**
 * Compresses `messages[i]` on connection i % connections, in that order, and inflates each on
 * the connection's inflater; returns ms per message for each direction and the compressed size
 * over the input size.
 *
 * @param {Object} impl
 * @param {Buffer[]} messages
 * @return {{deflateMs: number, inflateMs: number, ratio: number}}
 */
function takeTurns(impl, messages) {
  const deflaters = [];
  const inflaters = [];
  for (let i = 0; i < TURN_CONNECTIONS; i++) {
    deflaters.push(new impl.binding.Deflater({}));
    inflaters.push(new impl.binding.Inflater(15, false));
  }
  const wire = new Array(messages.length);
  let inputBytes = 0;
  let wireBytes = 0;
  let start = now('cpu');
  for (let i = 0; i < messages.length; i++) {
    wire[i] = deflaters[i % TURN_CONNECTIONS].compress(messages[i], true);
  }
  const deflateMs = (now('cpu') - start) / 1e6 / messages.length;
  start = now('cpu');
  for (let i = 0; i < messages.length; i++) {
    inflaters[i % TURN_CONNECTIONS].inflate(wire[i], true, 0);
  }
  const inflateMs = (now('cpu') - start) / 1e6 / messages.length;
  for (let i = 0; i < messages.length; i++) {
    inputBytes += messages[i].length;
    wireBytes += wire[i].length;
  }
  return { deflateMs, inflateMs, ratio: wireBytes / inputBytes };
}

async function takingTurns() {
  console.log(
    `## ${TURN_CONNECTIONS} connections taking turns, context takeover, inline calls ` +
      '(median CPU ms per message, the whole process; compressed / input)\n'
  );
  const rows = [];
  const cases = [
    ['32 B JSON-like', QUICK ? 40 : 200, (random, i) => jsonLike(random, i)],
    ['64 KiB text', QUICK ? 1 : 2, (random, i) => text(64 * 1024, 1000 + i)]
  ];
  for (const [label, perConnection, make] of cases) {
    const random = makeRandom(7);
    const messages = [];
    for (let i = 0; i < perConnection * TURN_CONNECTIONS; i++) {
      messages.push(make(random, i));
    }
    const cells = [];
    for (const impl of IMPLS) {
      const runs = [];
      for (let r = 0; r < SAMPLES; r++) runs.push(takeTurns(impl, messages));
      cells.push(
        fmtMs(median(runs.map((run) => run.deflateMs))),
        fmtMs(median(runs.map((run) => run.inflateMs))),
        runs[0].ratio.toFixed(4)
      );
    }
    // ws: one Node stream per connection per direction, driven in the same turns.
    const nodeRuns = [];
    for (let r = 0; r < Math.min(SAMPLES, 3); r++) {
      const runners = [];
      for (let i = 0; i < TURN_CONNECTIONS; i++) {
        runners.push(streamRunner(zlib.createDeflateRaw()));
      }
      const start = now('cpu');
      let wireBytes = 0;
      let inputBytes = 0;
      for (let i = 0; i < messages.length; i++) {
        const out = await runners[i % TURN_CONNECTIONS](messages[i]);
        wireBytes += out.length - 4;
        inputBytes += messages[i].length;
      }
      nodeRuns.push({
        ms: (now('cpu') - start) / 1e6 / messages.length,
        ratio: wireBytes / inputBytes
      });
    }
    rows.push([
      label,
      ...cells,
      fmtMs(median(nodeRuns.map((run) => run.ms))),
      nodeRuns[0].ratio.toFixed(4)
    ]);
  }
  printTable(
    [
      'message',
      ...IMPLS.flatMap((impl) => [
        `${impl.name} deflate`,
        `${impl.name} inflate`,
        `${impl.name} size`
      ]),
      'Node stream deflate (ws)',
      'Node size'
    ],
    rows
  );
}

async function largeInflate() {
  console.log('## Inflating one large message: latency (median wall ms)\n');
  const rows = [];
  for (const size of [1 << 20, 16 << 20]) {
    const message = text(size, 7);
    const compressed = new binding.Deflater({}).compress(message, true);
    const withTail = Buffer.concat([compressed, TAIL]);
    const inflater = new binding.Inflater(15, true);
    const asyncInflater = new binding.Inflater(15, true);
    const inline = timeSync('wall', () =>
      inflater.inflate(compressed, true, 0)
    );
    const pooled = await timeAsync('wall', () =>
      inflateAsync(asyncInflater, compressed, 0)
    );
    const node = timeSync('wall', () =>
      zlib.inflateRawSync(withTail, SYNC_FLUSH)
    );
    rows.push([
      fmtBytes(size),
      fmtBytes(compressed.length),
      fmtMs(inline),
      fmtMs(pooled),
      fmtMs(node),
      `${(size / inline / 1000).toFixed(0)} MB/s`
    ]);
  }
  printTable(
    [
      'inflated size',
      'compressed',
      'ws-native inline',
      'ws-native threadpool',
      'Node inflateRawSync',
      'inline throughput'
    ],
    rows
  );
  console.log(
    'The inline time is how long one message blocks the event loop; the threadpool time is\n' +
      'its latency when the loop stays free.\n'
  );
}

/**
 * Child process mode (--rss KIND MODE): RSS growth per deflate direction over
 * IDLE_CONNECTIONS objects that each compressed one 32 B message, printed as a number. A fresh
 * process per figure, so earlier allocations (and malloc's adaptive thresholds) do not leak into
 * the next figure.
 *
 * @param {'ours'|'node'} kind
 * @param {'takeover'|'reset'} mode
 */
async function rssChild(kind, mode) {
  const small = text(32, 5);
  const bindingPath = argValue('--binding');
  const ours = bindingPath ? require(path.resolve(bindingPath)) : binding;
  const make = async () => {
    if (kind === 'ours') {
      const deflater = new ours.Deflater({
        noContextTakeover: mode === 'reset'
      });
      deflater.compress(small, true);
      return deflater;
    }
    const stream = zlib.createDeflateRaw();
    await streamRunner(stream)(small);
    // ws resets the stream after each message without context takeover.
    if (mode === 'reset') stream.reset();
    return stream;
  };
  // One object first so code paths and the binding's buffers are warm.
  const warm = await make();
  global.gc();
  const before = process.memoryUsage().rss;
  const keep = [warm];
  for (let i = 0; i < IDLE_CONNECTIONS; i++) keep.push(await make());
  global.gc();
  const after = process.memoryUsage().rss;
  process.stdout.write(String((after - before) / IDLE_CONNECTIONS));
  keep.length = 0;
}

/**
 * Runs one rssChild in a fresh process with the same CPU pinning.
 *
 * @param {'ours'|'node'} kind
 * @param {'takeover'|'reset'} mode
 * @param {string} [bindingPath] the addon to load instead of this package's
 * @return {number} bytes per connection
 */
function rssPer(kind, mode, bindingPath) {
  const args = ['--expose-gc', __filename, '--rss', kind, mode];
  if (bindingPath) args.push('--binding', bindingPath);
  const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
  return Number(out);
}

async function memory() {
  console.log(
    '## Memory one connection holds between messages (memoryBytes), context takeover\n'
  );
  const connectionRows = [];
  for (const size of [32, 64 * 1024]) {
    const message = text(size, 3);
    for (const impl of IMPLS) {
      const deflater = new impl.binding.Deflater({});
      const inflater = new impl.binding.Inflater(15, false);
      inflater.inflate(deflater.compress(message, true), true, 0);
      connectionRows.push([
        `one ${fmtBytes(size)} message`,
        impl.name,
        fmtBytes(deflater.memoryBytes),
        fmtBytes(inflater.memoryBytes),
        fmtBytes(deflater.memoryBytes + inflater.memoryBytes)
      ]);
    }
  }
  printTable(
    ['after', 'build', 'deflate', 'inflate', 'both directions'],
    connectionRows
  );
  console.log(
    'ws-native keeps up to 4 KiB of deflate history and the whole inflate window (32 KiB at\n' +
      'windowBits 15) per connection; zlib streams are borrowed per message from one pool for\n' +
      'the process with at most 4 idle streams per kind (about 262 KiB per deflate stream, 39\n' +
      'KiB per inflate stream at window 15, memLevel 8).\n'
  );

  console.log(
    '## memoryBytes per connection by window (one direction, after one 64 KiB message)\n'
  );
  const message = text(64 * 1024, 3);
  const rows = [];
  for (const [windowBits, memLevel] of [
    [15, 8],
    [15, 9],
    [10, 4],
    [9, 1]
  ]) {
    const formulaDeflate = (1 << (windowBits + 2)) + (1 << (memLevel + 9));
    const formulaInflate = 1 << windowBits;
    for (const takeover of [true, false]) {
      const row = [
        `${windowBits} / ${memLevel}`,
        takeover ? 'takeover' : 'no takeover'
      ];
      for (const impl of IMPLS) {
        const deflater = new impl.binding.Deflater({
          windowBits,
          memLevel,
          noContextTakeover: !takeover
        });
        const inflater = new impl.binding.Inflater(windowBits, !takeover);
        inflater.inflate(deflater.compress(message, true), true, 0);
        row.push(`${deflater.memoryBytes}`, `${inflater.memoryBytes}`);
      }
      row.push(`${formulaDeflate}`, `${formulaInflate}`);
      rows.push(row);
    }
  }
  printTable(
    [
      'windowBits / memLevel',
      'mode',
      ...IMPLS.flatMap((impl) => [
        `${impl.name} deflate bytes`,
        `${impl.name} inflate bytes`
      ]),
      'Node doc formula deflate (a stream)',
      'Node doc formula inflate (a stream)'
    ],
    rows
  );

  // Node's formula leaves out "a few kilobytes" of small objects and its 16 KiB chunk buffer,
  // and counts allocated, not touched, bytes: RSS over many streams shows what each costs.
  const rssRows = [];
  for (const mode of ['takeover', 'reset']) {
    rssRows.push([
      mode === 'takeover'
        ? 'takeover'
        : 'no takeover (Node stream: reset(), as ws)',
      ...IMPLS.map((impl) =>
        fmtBytes(
          rssPer('ours', mode, impl.name === 'baseline' ? BASELINE_PATH : '')
        )
      ),
      fmtBytes(rssPer('node', mode))
    ]);
  }
  console.log(
    `RSS growth per idle deflate direction, ${IDLE_CONNECTIONS} connections after one 32 B ` +
      'message (a fresh process per figure):\n'
  );
  printTable(
    ['mode', ...IMPLS.map((impl) => impl.name), 'Node zlib stream (ws)'],
    rssRows
  );
}

async function main() {
  const rssAt = process.argv.indexOf('--rss');
  if (rssAt !== -1) {
    await rssChild(process.argv[rssAt + 1], process.argv[rssAt + 2]);
    return;
  }
  console.log(
    `# permessage-deflate: ws-native vs Node zlib ${process.versions.zlib}, Node ` +
      `${process.version}${QUICK ? ' (--quick)' : ''}\n`
  );
  if (BASELINE_PATH) console.log(`baseline: ${path.resolve(BASELINE_PATH)}\n`);
  await perMessage();
  await takingTurns();
  await largeInflate();
  await memory();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
