'use strict';

// Soak: N connections (default 1000) echo permessage-deflate text of mixed
// sizes for a long time (default 10 minutes) against one echo server, and the
// question is whether the server's memory stays flat and every echo stays
// right. Not part of CI.
//
// wsn-loadgen sends one message size per process, so the connections are
// split across one load generator per size (32 B to 16 KiB by default: under
// ws's 1 KiB threshold, inline compression up to 4 KiB, the threadpool above
// it). Each connection keeps one message in flight and every echoed byte is
// verified. All load generators run on CPU 1, the server on CPU 0.
//
// The server's memory is read from /proc every few seconds (RSS, for the
// slope) and, every --interval seconds, also from the server itself after a
// full GC (node --expose-gc; heap and external). RSS counts as flat when the
// least-squares slope over the last quarter of the run, times the length of
// that quarter, stays under --flat-pct percent of the quarter's mean RSS.
// Exit code 1 when any echo failed, a server error was seen, or RSS was not
// flat.
//
//   node bench/soak.js [--minutes 10] [--connections 1000]
//       [--sizes 32,256,1024,4096,8192,16384] [--type text] [--interval 30]
//       [--flat-pct 2] [--servers ws-native,ws+bu] [--no-gc] [--name soak-10min]

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const { performance } = require('perf_hooks');

const {
  LOADGEN,
  SERVERS,
  ensureLoadgen,
  fmt,
  machineInfo,
  markdownTable,
  reportHead,
  parseCli,
  selectServers,
  sizeLabel,
  startServer,
  writeResults
} = require('./loadgen/harness');

const MIB = 1024 * 1024;
// Unrecorded seconds each load generator runs before its measured window; the
// window then covers the soak from the moment all connections are open.
const LOADGEN_WARMUP_S = 5;
const CONNECT_TIMEOUT_S = 120;
// Handshakes in progress at once, over all load generators. Node listens with
// a backlog of 511; a busy server that lets it overflow drops SYNs, and the
// clients' retransmissions back off for up to a minute (seen: 56 s to open
// 1000 connections when all six load generators opened theirs at once).
const CONNECT_CONCURRENCY = 240;
// Same as the harness's: raise the descriptor limit, then exec, so the child's
// pid is the load generator's own and a signal reaches it.
const NOFILE_WRAPPER =
  'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"';
// A stall that long with one message in flight per connection is a failure,
// not contention.
const STALL_S = 30;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const CLOCK_TICKS = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(result.stdout) || 100;
})();

/**
 * Reads what the kernel knows about a process: RSS, its peak, CPU time and
 * the bytes it moved through read/write system calls (its sockets, here).
 *
 * @param {number} pid Process id
 * @return {Object|null} Sample, or null when the process is gone
 */
function procSample(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => {
      const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
      return match ? Number(match[1]) : NaN;
    };
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; fields resume after its ')'. utime
    // and stime are fields 14 and 15 of proc(5), state being field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    let rchar = NaN;
    let wchar = NaN;
    try {
      const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
      rchar = Number(/^rchar:\s+(\d+)/m.exec(io)[1]);
      wchar = Number(/^wchar:\s+(\d+)/m.exec(io)[1]);
    } catch {
      // /proc/<pid>/io can be denied (ptrace policy): no wire rates then.
    }
    return {
      at: performance.now(),
      rss: field('VmRSS') * 1024,
      hwm: field('VmHWM') * 1024,
      threads: field('Threads'),
      cpuSeconds,
      rchar,
      wchar
    };
  } catch {
    return null;
  }
}

/**
 * Starts wsn-loadgen on CPU 1. Unlike the harness's startLoadgen, the caller
 * keeps the child: the soak stops every load generator with SIGTERM at the
 * same moment (wsn-loadgen then ends its measured window and reports).
 *
 * @param {string[]} args Load generator arguments
 * @param {number} timeoutMs SIGKILL after this long
 * @return {{child: ChildProcess, finished: boolean, done: Promise<Object>}}
 *     `done` resolves with {result, code, signal, stderr} once it exits
 */
function spawnLoadgen(args, timeoutMs) {
  const child = spawn(
    'sh',
    ['-c', NOFILE_WRAPPER, 'sh', 'taskset', '-c', '1', LOADGEN, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    if (stderr.length < 4000) stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const load = { child, finished: false };
  load.done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      load.finished = true;
      let result = null;
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          result = JSON.parse(line);
        } catch {
          // A line cut short by SIGKILL: no result.
        }
      }
      resolve({ result, code, signal, stderr: stderr.trim() });
    });
  });
  return load;
}

/**
 * Least-squares slope of y over x.
 *
 * @param {{x: number, y: number}[]} points Points
 * @return {number} dy/dx, NaN for fewer than two distinct x
 */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - meanX) * (p.y - meanY);
    sxx += (p.x - meanX) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/**
 * Splits `total` connections over the sizes, as evenly as possible; sizes
 * that would get none are dropped.
 *
 * @param {number} total Connections
 * @param {number[]} sizes Message sizes
 * @return {{size: number, connections: number}[]} Groups
 */
function splitConnections(total, sizes) {
  return sizes
    .map((size, i) => ({
      size,
      connections:
        Math.floor(total / sizes.length) + (i < total % sizes.length ? 1 : 0)
    }))
    .filter((group) => group.connections > 0);
}

/**
 * One soak run against one server.
 *
 * @param {string} serverId Key of SERVERS
 * @param {Object} options Command line options
 * @return {Promise<Object>} Everything measured
 */
async function soakOne(serverId, options) {
  const durationS = options.minutes * 60;
  // The RSS slope needs enough points in the last quarter even for short
  // runs: about 40 samples per run, 1 to 5 s apart, a whole number of them per
  // reporting interval.
  const stepsPerInterval = Math.ceil(
    options.interval / Math.min(5, Math.max(1, durationS / 40))
  );
  const sampleS = options.interval / stepsPerInterval;
  const groups = splitConnections(options.connections, options.sizes);

  const server = await startServer(serverId, {
    extraArgs: ['--deflate'],
    exposeGc: !options.noGc
  });
  const run = {
    server: serverId,
    pid: server.pid,
    groups,
    sampleSeconds: sampleS,
    rows: [],
    samples: [],
    loadgens: [],
    notes: []
  };
  const log = (text) => process.stderr.write(`soak [${serverId}] ${text}\n`);
  // Set when every connection is open: rows before it have no time.
  let t0 = NaN;
  let previous = null;
  let loads = [];
  // Stops the load generators still running and records what they report.
  const collect = async () => {
    for (const load of loads) {
      if (!load.finished) load.child.kill('SIGTERM');
    }
    for (const load of loads.splice(0)) {
      const { result, code, signal, stderr } = await load.done;
      run.loadgens.push({
        size: load.group.size,
        connections: load.group.connections,
        code,
        signal,
        stderr,
        result
      });
    }
  };

  // One reporting row: /proc first (cheap, no side effects), then the server's
  // own reading, which runs a full GC first unless --no-gc.
  const fullSample = async (label) => {
    const proc = procSample(server.pid);
    if (!proc) throw new Error(`${serverId}: server process is gone`);
    const stats = await server.stats();
    const row = {
      label,
      t: (proc.at - t0) / 1000,
      cpuSeconds: proc.cpuSeconds,
      rss: stats.rss,
      procRss: proc.rss,
      hwm: proc.hwm,
      heapUsed: stats.heapUsed,
      heapTotal: stats.heapTotal,
      external: stats.external,
      arrayBuffers: stats.arrayBuffers,
      connections: stats.connections,
      serverErrors: stats.errors,
      serverLastError: stats.lastError,
      threads: proc.threads,
      cpuUtil: NaN,
      wireInMBps: NaN,
      wireOutMBps: NaN
    };
    if (previous) {
      const seconds = (proc.at - previous.at) / 1000;
      row.cpuUtil = (proc.cpuSeconds - previous.cpuSeconds) / seconds;
      row.wireInMBps = (proc.rchar - previous.rchar) / 1e6 / seconds;
      row.wireOutMBps = (proc.wchar - previous.wchar) / 1e6 / seconds;
    }
    previous = proc;
    run.rows.push(row);
    log(
      `${label.padEnd(6)} t=${fmt(row.t)} s  RSS ${fmt(row.rss / MIB)} MiB  ` +
        `heap ${fmt(row.heapUsed / MIB)} MiB  external ${fmt(
          row.external / MIB
        )} MiB  connections ${row.connections}  CPU ${fmt(
          row.cpuUtil * 100
        )}%  in ${fmt(row.wireInMBps)} MB/s  server errors ${row.serverErrors}`
    );
    return row;
  };

  try {
    await sleep(300);
    await fullSample('idle');

    // Each load generator runs until collect() stops it: a connection group
    // that opened early must still be echoing when the last one opens.
    const loadgenSeconds = CONNECT_TIMEOUT_S + LOADGEN_WARMUP_S + durationS;
    loads = groups.map((group) => {
      const load = spawnLoadgen(
        [
          '--mode',
          'echo',
          '--port',
          String(server.port),
          '--connections',
          String(group.connections),
          '--depth',
          '1',
          '--size',
          String(group.size),
          '--type',
          options.type,
          '--deflate',
          '--warmup',
          String(LOADGEN_WARMUP_S),
          '--duration',
          String(loadgenSeconds),
          '--stall',
          String(STALL_S),
          '--connect-timeout',
          String(CONNECT_TIMEOUT_S),
          '--connect-concurrency',
          String(Math.max(1, Math.floor(CONNECT_CONCURRENCY / groups.length))),
          '--server-pid',
          String(server.pid),
          ...(SERVERS[serverId].loadgenArgs || [])
        ],
        (loadgenSeconds + 60) * 1000
      );
      load.group = group;
      return load;
    });
    const anyFinished = () => loads.some((load) => load.finished);

    // The soak starts once every connection is open. Polling the server's
    // count costs a GC per poll, on a nearly empty heap.
    const connectStart = performance.now();
    let connected = 0;
    while (!anyFinished()) {
      connected = (await server.stats()).connections;
      if (connected >= options.connections) break;
      if (performance.now() - connectStart > CONNECT_TIMEOUT_S * 1000) break;
      await sleep(500);
    }
    run.connectSeconds = (performance.now() - connectStart) / 1000;
    if (connected < options.connections) {
      run.notes.push(
        `only ${connected} of ${options.connections} connections opened`
      );
    }
    log(
      `${connected} connections open after ${fmt(run.connectSeconds)} s; ` +
        `soaking for ${fmt(durationS)} s, sample every ${fmt(sampleS)} s`
    );

    t0 = performance.now();
    previous = null;
    await fullSample('start');
    run.samples.push({ t: 0, rss: run.rows[run.rows.length - 1].procRss });
    for (let k = 1; k * sampleS < durationS - 1e-6; k++) {
      const wait = t0 + k * sampleS * 1000 - performance.now();
      if (wait > 0) await sleep(wait);
      const proc = procSample(server.pid);
      if (!proc) throw new Error(`${serverId}: server process is gone`);
      run.samples.push({ t: (proc.at - t0) / 1000, rss: proc.rss });
      if (k % stepsPerInterval === 0) await fullSample(String(k * sampleS));
    }
    const wait = t0 + durationS * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    if (anyFinished()) {
      run.notes.push(
        'a load generator ended before the soak did (see its errors)'
      );
    }
    const endRow = await fullSample('end');
    run.samples.push({ t: endRow.t, rss: endRow.procRss });

    await collect();
    // What is left once every client has gone: buffers and zlib streams of
    // closed connections should have been released.
    await sleep(2000);
    await fullSample('closed');
  } catch (error) {
    run.notes.push(String(error.message));
  } finally {
    await server.stop();
    // After a failure the load generators may still be running: stop them
    // and keep what they report.
    await collect();
  }
  return summarize(run, options, durationS);
}

/**
 * Totals, errors and the flatness verdict of one run.
 *
 * @param {Object} run As built by soakOne
 * @param {Object} options Command line options
 * @param {number} durationS Planned soak length
 * @return {Object} The run with a `summary`
 */
function summarize(run, options, durationS) {
  const results = run.loadgens.map((l) => l.result).filter(Boolean);
  const sum = (get) => results.reduce((s, r) => s + get(r), 0);
  const loadgenErrors =
    sum((r) => r.errors) +
    run.loadgens.filter((l) => !l.result || l.code !== 0).length;
  const firstErrors = run.loadgens
    .map((l) =>
      l.result
        ? l.result.first_error
        : `no result (exit ${l.code}${l.signal ? `, ${l.signal}` : ''}): ${
            l.stderr
          }`
    )
    .filter(Boolean);
  const byLabel = (label) => run.rows.find((row) => row.label === label);
  const start = byLabel('start');
  const end = byLabel('end');
  const serverErrors = run.rows.reduce(
    (max, row) => Math.max(max, row.serverErrors || 0),
    0
  );
  const quarterFrom = durationS * 0.75;
  // Timers may fire a millisecond early: select by the sample grid.
  const quarter = run.samples.filter(
    (s) => s.t >= quarterFrom - run.sampleSeconds / 2
  );
  const rssSlope = slope(quarter.map((s) => ({ x: s.t, y: s.rss })));
  const quarterSeconds = quarter.length
    ? quarter[quarter.length - 1].t - quarter[0].t
    : 0;
  const quarterMeanRss = quarter.length
    ? quarter.reduce((s, q) => s + q.rss, 0) / quarter.length
    : NaN;
  const quarterGrowthPct = ((rssSlope * quarterSeconds) / quarterMeanRss) * 100;
  const complete =
    start !== undefined &&
    end !== undefined &&
    run.loadgens.length === run.groups.length &&
    quarter.length >= 3;
  run.summary = {
    complete,
    connections: start ? start.connections : 0,
    connectionsAtEnd: end ? end.connections : 0,
    messages: sum((r) => r.messages),
    messagesPerSecond: sum((r) => r.messages_per_s),
    payloadMBps: sum((r) => r.mb_per_s),
    loadgenErrors,
    serverErrors,
    firstErrors,
    rssStart: start ? start.rss : NaN,
    rssEnd: end ? end.rss : NaN,
    rssPeak: run.rows.reduce((max, row) => Math.max(max, row.hwm || 0), 0),
    heapStart: start ? start.heapUsed : NaN,
    heapEnd: end ? end.heapUsed : NaN,
    externalStart: start ? start.external : NaN,
    externalEnd: end ? end.external : NaN,
    rssSlopeKiBps: rssSlope / 1024,
    // A leak per message shows up here as a constant, whatever the rate.
    rssSlopeBytesPerMessage: rssSlope / sum((r) => r.messages_per_s),
    quarterSamples: quarter.length,
    quarterGrowthPct,
    flat:
      complete && Number.isFinite(rssSlope)
        ? quarterGrowthPct < options.flatPct
        : null,
    // CPU the rest of the machine took on the pinned CPUs over the load
    // generators' windows: busy time minus the server's (CPU 0) or the load
    // generators' own (CPU 1).
    othersCpu0: results.length
      ? results[0].cpu_busy.cpu0 -
        (results[0].server ? results[0].server.cpu_util : NaN)
      : NaN,
    othersCpu1: results.length
      ? results[0].cpu_busy.cpu1 - sum((r) => r.loadgen_cpu_util)
      : NaN,
    serverCpuUtil:
      start && end
        ? (end.cpuSeconds - start.cpuSeconds) / (end.t - start.t)
        : NaN
  };
  run.ok =
    complete &&
    loadgenErrors === 0 &&
    serverErrors === 0 &&
    run.summary.connectionsAtEnd === options.connections &&
    run.summary.flat === true;
  return run;
}

/**
 * The markdown report.
 *
 * @param {Object[]} runs Summarized runs
 * @param {Object} context {command, machine, options, notes}
 * @return {string} Markdown
 */
function report(runs, { command, machine, options, notes }) {
  const mib = (bytes) => fmt(bytes / MIB);
  const lines = [
    ...reportHead(
      `Soak: ${options.connections} connections, permessage-deflate, ${fmt(
        options.minutes
      )} min`,
      command,
      `Server on CPU 0, load generators on CPU 1. ${options.type} messages of ` +
        `${options.sizes.map(sizeLabel).join(', ')} (one load generator per size, ` +
        'connections split evenly), one message in flight per connection, every echoed byte verified. ' +
        (options.noGc
          ? 'Server readings without a forced GC. '
          : 'Heap and external are read by the server after a full GC. ') +
        `RSS is flat when the least-squares slope over the last quarter, times its length, is under ${options.flatPct}% of its mean RSS.`,
      notes,
      machine
    ),
    markdownTable(
      [
        'server',
        'connections',
        'msg/s',
        'payload MB/s',
        'echoes verified',
        'errors',
        'RSS start → end MiB',
        'RSS peak MiB',
        'heap start → end MiB',
        'external start → end MiB',
        'last-quarter RSS slope KiB/s',
        'slope B/echo',
        'last-quarter growth',
        'RSS flat',
        'server CPU',
        'others on CPU 0/1'
      ],
      runs.map((run) => {
        const s = run.summary;
        return [
          SERVERS[run.server].label,
          `${s.connections} → ${s.connectionsAtEnd}`,
          fmt(s.messagesPerSecond),
          fmt(s.payloadMBps),
          fmt(s.messages),
          String(s.loadgenErrors + s.serverErrors),
          `${mib(s.rssStart)} → ${mib(s.rssEnd)}`,
          mib(s.rssPeak),
          `${mib(s.heapStart)} → ${mib(s.heapEnd)}`,
          `${mib(s.externalStart)} → ${mib(s.externalEnd)}`,
          fmt(s.rssSlopeKiBps),
          fmt(s.rssSlopeBytesPerMessage),
          `${fmt(s.quarterGrowthPct)}% (${s.quarterSamples} samples)`,
          s.flat === null ? 'unknown' : s.flat ? 'yes' : 'NO',
          `${fmt(s.serverCpuUtil * 100)}%`,
          `${fmt(s.othersCpu0 * 100)}% / ${fmt(s.othersCpu1 * 100)}%`
        ];
      })
    )
  ];
  for (const run of runs) {
    lines.push(
      `### ${SERVERS[run.server].label}`,
      '',
      ...run.notes.map((note) => `- ${note}`),
      ...run.summary.firstErrors.map((error) => `- error: ${error}`),
      run.notes.length || run.summary.firstErrors.length ? '' : null,
      markdownTable(
        [
          'at',
          't s',
          'RSS MiB',
          'heap used MiB',
          'heap total MiB',
          'external MiB',
          'array buffers MiB',
          'connections',
          'server CPU',
          'wire in MB/s',
          'wire out MB/s'
        ],
        run.rows.map((row) => [
          row.label,
          fmt(row.t),
          mib(row.rss),
          mib(row.heapUsed),
          mib(row.heapTotal),
          mib(row.external),
          mib(row.arrayBuffers),
          String(row.connections),
          Number.isFinite(row.cpuUtil) ? `${fmt(row.cpuUtil * 100)}%` : '–',
          fmt(row.wireInMBps),
          fmt(row.wireOutMBps)
        ])
      ),
      markdownTable(
        [
          'message',
          'connections',
          'msg/s',
          'MB/s',
          'p50 µs',
          'p99 µs',
          'p99.9 µs',
          'errors'
        ],
        run.loadgens.map((l) => {
          const r = l.result;
          return [
            sizeLabel(l.size),
            String(l.connections),
            r ? fmt(r.messages_per_s) : '–',
            r ? fmt(r.mb_per_s) : '–',
            r ? fmt(r.latency_us.p50) : '–',
            r ? fmt(r.latency_us.p99) : '–',
            r ? fmt(r.latency_us.p999) : '–',
            r ? String(r.errors) : `no result (exit ${l.code})`
          ];
        })
      )
    );
  }
  lines.push(
    'Rows: `idle` before any connection, `start` once all are open, then every ' +
      `${fmt(options.interval)} s, \`end\` just before the load generators stop, ` +
      '`closed` 2 s after they have gone. Server CPU and wire rates cover the time since the row before; ' +
      'wire bytes are what the server read and wrote through system calls (/proc/<pid>/io), frames and compression included. ' +
      "msg/s and latency are the load generators' own, over their measured windows. " +
      '**others on CPU 0/1**: busy time of the pinned CPUs minus the server (CPU 0) or the load generators (CPU 1), ' +
      'over the same windows: CPU taken by the rest of the machine. **slope B/echo**: RSS slope ÷ msg/s, ' +
      'what a per-message leak would cost.'
  );
  return lines.filter((line) => line !== null).join('\n') + '\n';
}

async function main() {
  const options = parseCli(process.argv.slice(2), {
    minutes: 10,
    connections: 1000,
    sizes: [32, 256, 1024, 4096, 8192, 16384],
    type: 'text',
    interval: 30,
    flatPct: 2,
    servers: ['ws-native'],
    noGc: false,
    name: ''
  });
  // wsn-loadgen's --duration stops at 3600 s, connect time included here.
  if (!(options.minutes > 0 && options.minutes <= 55))
    throw new RangeError('--minutes must be in (0, 55]');
  if (!(Number.isInteger(options.connections) && options.connections > 0))
    throw new RangeError('--connections must be a positive integer');
  if (!options.sizes.every((size) => Number.isInteger(size) && size > 0))
    throw new RangeError('--sizes must be positive integers');
  if (!(options.interval >= 1)) throw new RangeError('--interval must be >= 1');
  if (options.type !== 'text' && options.type !== 'binary')
    throw new RangeError('--type must be text or binary');
  const name = options.name || `soak-${fmt(options.minutes)}min`;

  ensureLoadgen();
  const { servers, notes } = selectServers(options.servers);
  const runs = [];
  for (const id of servers) {
    process.stderr.write(
      `soak: ${id}, ${options.connections} connections, ${fmt(
        options.minutes
      )} min\n`
    );
    runs.push(await soakOne(id, options));
  }
  const machine = machineInfo();
  const command =
    `node bench/soak.js ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = report(runs, { command, machine, options, notes });
  writeResults(
    name,
    { name, command, machine, options, notes, servers, runs },
    markdown
  );
  process.stdout.write(
    `\n${markdown}\nsoak: wrote bench/results/${name}.{json,md}\n`
  );
  if (runs.length === 0 || runs.some((run) => !run.ok)) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
