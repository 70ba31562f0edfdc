'use strict';

// Plumbing shared by bench/run-all.js, bench/broadcast.js, bench/memory.js and
// bench/loadgen/selftest.js: building the load generator, starting pinned
// servers and load, reading their JSON lines, medians, markdown and machine
// facts. Everything stays on 127.0.0.1 and every wait has a time limit.

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');
const LOADGEN_DIR = __dirname;
const LOADGEN_BUILD = path.join(LOADGEN_DIR, 'build');
const LOADGEN = path.join(LOADGEN_BUILD, 'wsn-loadgen');
const ECHO_FLOOR = path.join(LOADGEN_BUILD, 'wsn-echo-floor');
// Touched after each successful build: one binary may rightly stay older
// than a source it does not use, so binary mtimes alone would rebuild often.
const BUILD_STAMP = path.join(LOADGEN_BUILD, '.built');
const RESULTS = path.join(BENCH, 'results');

// Raise the descriptor limit as far as allowed, then exec the command, so
// the pid we hold is the pid of the measured process itself.
const NOFILE_WRAPPER =
  'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"';

/**
 * The servers every script can compare; RATIO_BASE is the reference. An
 * entry runs `script` with node, or `binary` directly.
 */
const SERVERS = {
  'ws-native': {
    label: 'ws-native',
    script: path.join(BENCH, 'servers', 'ws-echo.js'),
    args: ['--impl', 'ws-native']
  },
  // ws's own zlib level, for a like-for-like compression cell (--servers).
  'ws-native-l6': {
    label: 'ws-native, zlib level 6',
    script: path.join(BENCH, 'servers', 'ws-echo.js'),
    args: ['--impl', 'ws-native', '--deflate-level', '6']
  },
  // Without reads straight into the parser, to measure what they save.
  'ws-native-nodirect': {
    label: 'ws-native, no direct payload reads',
    script: path.join(BENCH, 'servers', 'ws-echo.js'),
    args: ['--impl', 'ws-native'],
    env: { WSN_DIRECT_READS: '0' }
  },
  'ws+bu': {
    label: 'ws + bufferutil + utf-8-validate',
    script: path.join(BENCH, 'servers', 'ws-echo.js'),
    args: ['--impl', 'ws-bufferutil']
  },
  ws: {
    label: 'ws alone',
    script: path.join(BENCH, 'servers', 'ws-echo.js'),
    args: ['--impl', 'ws'],
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' }
  },
  net: {
    label: 'net echo floor',
    script: path.join(BENCH, 'servers', 'net-echo.js'),
    args: [],
    loadgenArgs: ['--accept-masked']
  },
  // No JavaScript at all: the CPU floor per echo (--servers floor; echo
  // mode, deflate off only). bench/loadgen/echo_floor.cc.
  floor: {
    label: 'C++ epoll echo floor (no JS)',
    binary: ECHO_FLOOR,
    args: []
  },
  // The same floor reading as ws-native does (at most 124 KiB at a time) into
  // a new buffer each time, freed 400 reads later: the memory traffic of a
  // server that hands every message to JavaScript in a Buffer of its own.
  // 400: at 64 KiB x 100 connections ws-native's V8 scavenged about every
  // 370 reads (--trace-gc), which is when such Buffers are freed.
  'floor-fresh': {
    label: 'C++ floor, a fresh buffer per read',
    binary: ECHO_FLOOR,
    args: ['--read-bytes', String(124 * 1024), '--fresh-reads', '400']
  }
};
const RATIO_BASE = 'ws+bu';

/**
 * Builds wsn-loadgen and wsn-echo-floor when either is missing or the last
 * build is older than a source file (the same commands as
 * `npm run bench:build`).
 */
function ensureLoadgen() {
  const sources = fs
    .readdirSync(LOADGEN_DIR)
    .filter((name) => /\.(cc|h)$|^CMakeLists\.txt$/.test(name))
    .map((name) => fs.statSync(path.join(LOADGEN_DIR, name)).mtimeMs);
  const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);
  const built = Math.min(mtime(LOADGEN), mtime(ECHO_FLOOR), mtime(BUILD_STAMP));
  if (built > Math.max(...sources)) return;
  process.stderr.write('bench: building wsn-loadgen and wsn-echo-floor\n');
  for (const args of [
    ['-S', LOADGEN_DIR, '-B', LOADGEN_BUILD, '-DCMAKE_BUILD_TYPE=Release'],
    ['--build', LOADGEN_BUILD, '-j2']
  ]) {
    const result = spawnSync('cmake', args, {
      stdio: ['ignore', 'ignore', 'inherit']
    });
    if (result.status !== 0) throw new Error(`cmake ${args.join(' ')} failed`);
  }
  fs.writeFileSync(BUILD_STAMP, '');
}

/**
 * The ws-native addon the benchmark loads: WSN_BINDING_PATH, else the one
 * `npm install` built (build/Release). No other build directory is guessed:
 * a stale developer build must never be measured by accident.
 *
 * @return {string|undefined} Absolute path, or undefined for the default
 */
function bindingPath() {
  if (process.env.WSN_BINDING_PATH)
    return path.resolve(process.env.WSN_BINDING_PATH);
  return undefined;
}

/**
 * Whether ws-native loads and can create a server, checked in a child
 * process so a broken addon cannot take the harness down.
 *
 * @return {{ok: boolean, error: string, binding: (string|undefined)}}
 */
function wsNativeStatus() {
  const binding = bindingPath();
  const env = { ...process.env };
  if (binding) env.WSN_BINDING_PATH = binding;
  const result = spawnSync(
    process.execPath,
    [
      '-e',
      `const W = require(${JSON.stringify(ROOT)}); new W.WebSocketServer({ noServer: true });`
    ],
    { env, encoding: 'utf8', timeout: 20000 }
  );
  const ok = result.status === 0;
  return {
    ok,
    binding,
    error: ok
      ? ''
      : (result.stderr || '').trim().split('\n').slice(0, 3).join(' ')
  };
}

/**
 * Reads JSON lines from a stream; non-JSON lines go to `onText`.
 *
 * @param {stream.Readable} stream Output of a child
 * @param {function(Object): void} onJson Called per JSON line
 */
function jsonLines(stream, onJson) {
  readline.createInterface({ input: stream }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    try {
      onJson(JSON.parse(line));
    } catch {
      // A partial line from a killed child: nothing to report.
    }
  });
}

/**
 * Starts a benchmark server pinned to `cpu` and waits for its ready line.
 *
 * @param {string} id Key of SERVERS
 * @param {Object} options
 * @param {string[]} [options.extraArgs] More server arguments
 * @param {string} [options.cpu='0'] taskset CPU list
 * @param {boolean} [options.exposeGc=false] Run node with --expose-gc
 * @return {Promise<Object>} {pid, port, info, stats(), stop()}
 */
function startServer(id, { extraArgs = [], cpu = '0', exposeGc = false } = {}) {
  const spec = SERVERS[id];
  const env = { ...process.env, ...(spec.env || {}) };
  if (id.startsWith('ws-native')) {
    const binding = bindingPath();
    if (binding) env.WSN_BINDING_PATH = binding;
  } else {
    delete env.WS_NO_BUFFER_UTIL;
    delete env.WS_NO_UTF_8_VALIDATE;
    Object.assign(env, spec.env || {});
  }
  const command = spec.binary
    ? [spec.binary]
    : [process.execPath, ...(exposeGc ? ['--expose-gc'] : []), spec.script];
  const child = spawn(
    'sh',
    [
      '-c',
      NOFILE_WRAPPER,
      'sh',
      'taskset',
      '-c',
      cpu,
      ...command,
      ...spec.args,
      ...extraArgs
    ],
    { env, stdio: ['pipe', 'pipe', 'pipe'] }
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    if (stderr.length < 4000) stderr += chunk;
  });
  const statsWaiters = [];
  let exited = false;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${id}: no ready line within 20 s. ${stderr}`));
    }, 20000);
    exitPromise.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`${id}: exited with ${code} before ready. ${stderr}`));
    });
    jsonLines(child.stdout, (message) => {
      if (message.event === 'ready') {
        clearTimeout(timer);
        resolve({
          pid: message.pid,
          port: message.port,
          info: message,
          stats() {
            return new Promise((resolveStats, rejectStats) => {
              const statsTimer = setTimeout(
                () => rejectStats(new Error(`${id}: stats timeout`)),
                30000
              );
              statsWaiters.push((stats) => {
                clearTimeout(statsTimer);
                resolveStats(stats);
              });
              child.stdin.write('stats\n');
            });
          },
          stderr: () => stderr,
          async stop() {
            if (exited) return;
            child.stdin.end();
            const timeout = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exitPromise;
            clearTimeout(timeout);
          }
        });
      } else if (message.event === 'stats') {
        const waiter = statsWaiters.shift();
        if (waiter) waiter(message);
      }
    });
  });
}

/**
 * Starts wsn-loadgen pinned to `cpu`.
 *
 * @param {string[]} args Load generator arguments
 * @param {Object} options
 * @param {string} [options.cpu='1'] taskset CPU list
 * @param {number} [options.timeoutMs=120000] SIGKILL after this long
 * @return {{ready: Promise<Object>, done: Promise<Object>, closeStdin: function}}
 *     `ready` resolves with an idle run's ready line; `done` with
 *     {result, code, stderr} once it exits.
 */
function startLoadgen(args, { cpu = '1', timeoutMs = 120000 } = {}) {
  const child = spawn(
    'sh',
    ['-c', NOFILE_WRAPPER, 'sh', 'taskset', '-c', cpu, LOADGEN, ...args],
    {
      stdio: ['pipe', 'pipe', 'pipe']
    }
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    if (stderr.length < 4000) stderr += chunk;
  });
  let result = null;
  let resolveReady;
  const ready = new Promise((resolve) => {
    resolveReady = resolve;
  });
  jsonLines(child.stdout, (message) => {
    if (message.event === 'ready') resolveReady(message);
    else result = message;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveReady(null);
      resolve({ result, code, signal, stderr: stderr.trim() });
    });
  });
  return { ready, done, closeStdin: () => child.stdin.end() };
}

/**
 * Runs the load generator to completion.
 *
 * @param {string[]} args Load generator arguments
 * @param {Object} [options] As for startLoadgen
 * @return {Promise<Object>} {result, code, stderr}
 */
function runLoadgen(args, options) {
  const run = startLoadgen(args, options);
  run.closeStdin();
  return run.done;
}

/**
 * @param {number[]} values Numbers
 * @return {number} The median (mean of the middle two for even counts); NaN if empty
 */
function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Formats a number for a table: 3 significant digits, thousands grouped.
 *
 * @param {number} value Number
 * @param {number} [digits=3] Significant digits
 * @return {string} Text ('–' for NaN)
 */
function fmt(value, digits = 3) {
  if (!Number.isFinite(value)) return '–';
  if (Math.abs(value) < 0.005) return '0';
  if (Math.abs(value) >= 10 ** digits)
    return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
}

/**
 * @param {number} value Ratio
 * @return {string} e.g. "1.23×"
 */
function fmtRatio(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/**
 * @param {string[]} headers Column titles
 * @param {string[][]} rows Cells
 * @return {string} A GitHub markdown table
 */
function markdownTable(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return (
    [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join(
      '\n'
    ) + '\n'
  );
}

/**
 * The opening lines of a results page: its title, the command that produced
 * it, what was measured and on which machine, then the notes as a list.
 *
 * @param {string} title Page title, without the `##`
 * @param {string} command The command line
 * @param {string} about What was measured, after the machine's summary
 * @param {string[]} notes Notes (none: no list)
 * @param {Object} machine machineInfo()
 * @return {string[]} Markdown lines
 */
function reportHead(title, command, about, notes, machine) {
  const m = machine;
  return [
    `## ${title}`,
    '',
    `\`${command}\``,
    '',
    `${m.nproc} CPUs (${m.cpuModel}), Linux ${m.kernel}, Node ${m.node}, ws ${m.ws}, ${m.date}. ${about}`,
    '',
    ...notes.map((note) => `- ${note}`),
    ...(notes.length ? [''] : [])
  ];
}

/** @return {Object} The facts README and results name: CPUs, model, kernel, node */
function machineInfo() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo);
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  const wsVersion = require(
    path.join(ROOT, 'node_modules', 'ws', 'package.json')
  ).version;
  return {
    nproc: Number(nproc) || os.cpus().length,
    cpuModel: model ? model[1].trim() : 'unknown',
    kernel: os.release(),
    node: process.version,
    ws: wsVersion,
    date: new Date().toISOString()
  };
}

/**
 * Writes `name`.json (and .md when given) in bench/results.
 *
 * @param {string} name Base file name
 * @param {Object} data JSON content
 * @param {string} [markdown] Markdown content
 */
function writeResults(name, data, markdown) {
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(
    path.join(RESULTS, `${name}.json`),
    JSON.stringify(data, null, 2) + '\n'
  );
  if (markdown !== undefined)
    fs.writeFileSync(path.join(RESULTS, `${name}.md`), markdown);
}

/**
 * Parses `--name value` / `--flag` arguments against defaults; lists are
 * comma-separated.
 *
 * @param {string[]} argv Arguments
 * @param {Object<string, *>} defaults Known options (arrays take lists)
 * @return {Object<string, *>} The options
 */
function parseCli(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]
      .replace(/^--/, '')
      .replace(/-(\w)/g, (m, c) => c.toUpperCase());
    if (!(name in defaults)) throw new Error(`unknown option ${argv[i]}`);
    const current = defaults[name];
    if (typeof current === 'boolean') {
      options[name] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
    const value = argv[++i];
    if (Array.isArray(current)) {
      options[name] = value
        .split(',')
        .map((v) => (typeof current[0] === 'number' ? Number(v) : v));
    } else {
      options[name] = typeof current === 'number' ? Number(value) : value;
    }
  }
  return options;
}

/**
 * Human names for sizes: 32 B, 1 KiB, 1 MiB.
 *
 * @param {number} bytes Size
 * @return {string} Label
 */
function sizeLabel(bytes) {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes >> 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes >> 10} KiB`;
  return `${bytes} B`;
}

/**
 * Which servers to run: the requested ones, ws-native only when it loads.
 *
 * @param {string[]} requested Keys of SERVERS
 * @return {{servers: string[], notes: string[]}} Servers and notes for the report
 */
function selectServers(requested) {
  const notes = [];
  const servers = [];
  for (const id of requested) {
    if (!SERVERS[id])
      throw new Error(
        `unknown server ${id} (know ${Object.keys(SERVERS).join(', ')})`
      );
    if (id === 'ws-native') {
      const status = wsNativeStatus();
      if (!status.ok) {
        notes.push(`ws-native skipped: it does not load (${status.error})`);
        continue;
      }
      notes.push(
        `ws-native addon: ${status.binding || 'default build/Release'}`
      );
    }
    servers.push(id);
  }
  return { servers, notes };
}

/**
 * English-like text of exactly `size` bytes: words from a 2000-word vocabulary
 * drawn with a skewed (roughly Zipf) distribution, spaces, some punctuation
 * and numbers. It compresses about as well as chat or JSON traffic, unlike
 * zeros (too well) or noise (not at all).
 *
 * @param {number} size Bytes of text
 * @param {function(): number} vocabularyRandom Draws the vocabulary
 * @param {function(): number} [random=vocabularyRandom] Draws the words
 * @return {Buffer} ASCII text
 */
function wordText(size, vocabularyRandom, random = vocabularyRandom) {
  const vocabulary = [];
  for (let i = 0; i < 2000; i++) {
    let word = '';
    const length = 2 + (vocabularyRandom() % 8);
    for (let j = 0; j < length; j++) {
      word += String.fromCharCode(0x61 + (vocabularyRandom() % 26));
    }
    vocabulary.push(word);
  }
  let out = '';
  while (out.length < size) {
    const u = (random() % 10000) / 10000;
    out += vocabulary[Math.floor(vocabulary.length * u * u * u)];
    const r = random() % 16;
    out += r === 0 ? '. ' : r === 1 ? `, ${random() % 1000} ` : ' ';
  }
  return Buffer.from(out.slice(0, size));
}

module.exports = {
  wordText,
  BENCH,
  LOADGEN,
  RATIO_BASE,
  RESULTS,
  ROOT,
  SERVERS,
  bindingPath,
  ensureLoadgen,
  fmt,
  fmtRatio,
  machineInfo,
  markdownTable,
  reportHead,
  median,
  parseCli,
  runLoadgen,
  selectServers,
  sizeLabel,
  startLoadgen,
  startServer,
  writeResults,
  wsNativeStatus
};
