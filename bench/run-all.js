'use strict';

// `npm run bench`: the side-by-side echo benchmark. Each run starts one
// server pinned to CPU 0 (taskset -c 0) and wsn-loadgen pinned to CPU 1; all
// servers take turns within every cell and repetition, so they share the
// machine's mood. Medians over repetitions; ratios against
// ws + bufferutil + utf-8-validate measured in the same invocation.
//
//   node bench/run-all.js --quick             about 3 minutes
//   node bench/run-all.js                     the full matrix (about an hour)
//   node bench/run-all.js --sizes 32,1024 --conns 100 --types text
//       --deflate off --servers ws-native,ws+bu --reps 5 --duration 5
//   node bench/run-all.js --quick --all       then broadcast.js, memory.js and
//                                             fragmented.js
//   node bench/run-all.js --render bench/results/echo-quick.json   redraw only

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const { barChartSvg } = require('./loadgen/chart');
const {
  RATIO_BASE,
  RESULTS,
  SERVERS,
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
  startServer,
  writeResults
} = require('./loadgen/harness');

const ALL_SIZES = [32, 1024, 16384, 65536, 1048576];
const COLORS = {
  'ws-native': '#2b8a3e',
  'ws+bu': '#1c7ed6',
  ws: '#74c0fc',
  net: '#adb5bd'
};

const QUICK_CELLS = [
  { size: 32, connections: 1, type: 'binary', deflate: false },
  { size: 32, connections: 1000, type: 'text', deflate: false },
  { size: 1024, connections: 100, type: 'text', deflate: false },
  { size: 65536, connections: 1, type: 'binary', deflate: false },
  { size: 16384, connections: 100, type: 'text', deflate: true }
];

/**
 * Connection counts of the full matrix: 1, 100 and 1000 for small messages,
 * fewer as messages grow so memory in flight stays bounded.
 *
 * @param {number} size Message bytes
 * @return {number[]} Connection counts
 */
function connectionsFor(size) {
  if (size <= 1024) return [1, 100, 1000];
  return [1, 100];
}

/**
 * Messages in flight per connection: enough to keep one connection busy,
 * one each when there are many connections.
 *
 * @param {number} size Message bytes
 * @param {number} connections Connections
 * @return {number} Depth
 */
function defaultDepth(size, connections) {
  if (size >= 1 << 20) return 2;
  if (connections === 1) return 16;
  if (connections <= 100) return size <= 1024 ? 4 : 2;
  return 1;
}

function cellLabel(cell) {
  return (
    `${sizeLabel(cell.size)} ${cell.type} ×${cell.connections} d${cell.depth}` +
    (cell.deflate ? ' deflate' : '')
  );
}

function buildCells(options) {
  let cells;
  const custom =
    options.sizes.length ||
    options.conns.length ||
    options.types.length ||
    options.deflate.length;
  if (options.quick && !custom) {
    cells = QUICK_CELLS.map((cell) => ({ ...cell }));
  } else {
    cells = [];
    const sizes = options.sizes.length ? options.sizes : ALL_SIZES;
    const types = options.types.length ? options.types : ['text', 'binary'];
    const deflates = options.deflate.length
      ? options.deflate.map((d) => d === 'on')
      : [false, true];
    for (const size of sizes) {
      for (const connections of options.conns.length
        ? options.conns
        : connectionsFor(size)) {
        for (const type of types) {
          for (const deflate of deflates)
            cells.push({ size, connections, type, deflate });
        }
      }
    }
  }
  for (const cell of cells) {
    cell.depth = options.depth || defaultDepth(cell.size, cell.connections);
    cell.label = cellLabel(cell);
  }
  return cells;
}

async function runOne(serverId, cell, options) {
  const server = await startServer(serverId, {
    extraArgs: cell.deflate ? ['--deflate'] : []
  });
  try {
    const args = [
      '--port',
      String(server.port),
      '--connections',
      String(cell.connections),
      '--depth',
      String(cell.depth),
      '--size',
      String(cell.size),
      '--type',
      cell.type,
      '--warmup',
      String(options.warmup),
      '--duration',
      String(options.duration),
      '--server-pid',
      String(server.pid),
      '--stall',
      '30',
      ...(cell.deflate ? ['--deflate'] : []),
      ...(SERVERS[serverId].loadgenArgs || [])
    ];
    const timeoutMs = (options.warmup + options.duration + 90) * 1000;
    const { result, code, stderr } = await runLoadgen(args, { timeoutMs });
    return { result, code, stderr: stderr || server.stderr().trim() };
  } finally {
    await server.stop();
  }
}

function summarize(cells, servers, runs) {
  const summary = [];
  for (const cell of cells) {
    const rows = {};
    for (const id of servers) {
      const mine = runs.filter((r) => r.cell === cell.label && r.server === id);
      const good = mine.filter(
        (r) => r.result && r.result.errors === 0 && r.result.messages > 0
      );
      const pick = (get) => median(good.map((r) => get(r.result)));
      rows[id] = {
        server: id,
        runs: mine.length,
        goodRuns: good.length,
        errors: mine.reduce(
          (sum, r) => sum + (r.result ? r.result.errors : 1),
          0
        ),
        firstError:
          (mine.find((r) => !r.result || r.result.errors) || {}).error || '',
        messagesPerSecond: pick((r) => r.messages_per_s),
        mbPerSecond: pick((r) => r.mb_per_s),
        p50Us: pick((r) => r.latency_us.p50),
        p99Us: pick((r) => r.latency_us.p99),
        p999Us: pick((r) => r.latency_us.p999),
        serverCpuUsPerMessage: pick((r) =>
          r.server ? r.server.cpu_us_per_message : NaN
        ),
        serverCpuUtil: pick((r) => (r.server ? r.server.cpu_util : NaN)),
        serverRssMiB: pick((r) => (r.server ? r.server.rss_kb / 1024 : NaN)),
        loadgenCpuUtil: pick((r) => r.loadgen_cpu_util),
        // CPU time on the two pinned CPUs that neither process used: other
        // load on the machine, which skews whatever it overlaps.
        otherCpu0: pick((r) =>
          r.cpu_busy && r.server ? r.cpu_busy.cpu0 - r.server.cpu_util : NaN
        ),
        otherCpu1: pick((r) =>
          r.cpu_busy ? r.cpu_busy.cpu1 - r.loadgen_cpu_util : NaN
        )
      };
    }
    const base = rows[RATIO_BASE];
    for (const row of Object.values(rows)) {
      row.throughputRatio = base
        ? row.messagesPerSecond / base.messagesPerSecond
        : NaN;
      row.cpuRatio = base
        ? row.serverCpuUsPerMessage / base.serverCpuUsPerMessage
        : NaN;
    }
    summary.push({ cell, rows: servers.map((id) => rows[id]) });
  }
  return summary;
}

function renderMarkdown(summary, meta) {
  const headers = [
    'cell',
    'server',
    'msg/s',
    'msg/s vs ws+bu',
    'MB/s',
    'p50 µs',
    'p99 µs',
    'p99.9 µs',
    'server CPU µs/msg',
    'CPU/msg vs ws+bu',
    'server CPU',
    'server RSS MiB',
    'loadgen CPU',
    'others on CPU 0/1',
    'errors'
  ];
  const percent = (value) =>
    Number.isFinite(value) ? `${Math.max(0, Math.round(value * 100))}%` : '–';
  const rows = [];
  for (const { cell, rows: servers } of summary) {
    for (const row of servers) {
      rows.push([
        cell.label,
        SERVERS[row.server].label,
        fmt(row.messagesPerSecond),
        fmtRatio(row.throughputRatio),
        fmt(row.mbPerSecond),
        fmt(row.p50Us),
        fmt(row.p99Us),
        fmt(row.p999Us),
        fmt(row.serverCpuUsPerMessage),
        fmtRatio(row.cpuRatio),
        percent(row.serverCpuUtil),
        fmt(row.serverRssMiB),
        percent(row.loadgenCpuUtil),
        `${percent(row.otherCpu0)} / ${percent(row.otherCpu1)}`,
        row.errors ? `${row.errors} (${row.goodRuns}/${row.runs} clean)` : '0'
      ]);
    }
  }
  return [
    ...reportHead(
      `Echo benchmark (${meta.name})`,
      meta.command,
      `Server on CPU 0, wsn-loadgen on CPU 1; medians of ${meta.options.reps} runs ` +
        `(${meta.options.warmup} s warmup + ${meta.options.duration} s each). ` +
        'Ratios are against ws + bufferutil + utf-8-validate in the same run; msg/s: higher is better, CPU/msg: lower is better. ' +
        '"others on CPU 0/1" is CPU time on the pinned CPUs used by neither the server nor the load generator ' +
        `(other load; load average ${meta.loadavg.start} at the start, ${meta.loadavg.end} at the end).`,
      meta.notes,
      meta.machine
    ),
    markdownTable(headers, rows)
  ].join('\n');
}

function renderSvg(summary, meta, servers) {
  const m = meta.machine;
  return barChartSvg({
    title: `Echo throughput relative to ws + bufferutil + utf-8-validate (${meta.name})`,
    subtitle:
      `${m.nproc} CPUs ${m.cpuModel}, Linux ${m.kernel}, Node ${m.node}, ws ${m.ws}; ` +
      `median of ${meta.options.reps} runs; server on CPU 0, load on CPU 1; ${m.date.slice(0, 10)}`,
    axisLabel:
      'messages per second ÷ ws + bufferutil + utf-8-validate (dashed line = 1)',
    series: servers.map((id) => ({
      id,
      label: SERVERS[id].label,
      color: COLORS[id]
    })),
    groups: summary.map(({ cell, rows }) => ({
      label: cell.label,
      bars: rows.map((row) => ({
        series: row.server,
        value: row.throughputRatio,
        text: Number.isFinite(row.throughputRatio)
          ? `${row.throughputRatio.toFixed(2)}× (${fmt(row.messagesPerSecond)}/s)`
          : 'no clean run'
      }))
    }))
  });
}

async function main() {
  const options = parseCli(process.argv.slice(2), {
    quick: false,
    all: false,
    servers: ['ws-native', 'ws+bu', 'ws', 'net'],
    sizes: [0],
    conns: [0],
    types: [''],
    deflate: [''],
    depth: 0,
    reps: 0,
    warmup: 0,
    duration: 0,
    name: '',
    render: ''
  });
  if (options.render) {
    // Redraw the table and chart of a finished run from its JSON.
    const saved = JSON.parse(fs.readFileSync(options.render, 'utf8'));
    const base = path.join(RESULTS, saved.name);
    fs.writeFileSync(`${base}.md`, renderMarkdown(saved.summary, saved));
    fs.writeFileSync(
      `${base}.svg`,
      renderSvg(saved.summary, saved, saved.servers)
    );
    process.stdout.write(
      `bench: redrew bench/results/${saved.name}.{md,svg}\n`
    );
    return;
  }
  // Empty lists mean "the matrix default"; the [0]/[''] defaults only type them.
  for (const key of ['sizes', 'conns', 'types', 'deflate']) {
    options[key] = options[key].filter((v) => v !== 0 && v !== '');
  }
  options.reps = options.reps || 3;
  options.warmup = options.warmup || (options.quick ? 0.5 : 1);
  options.duration = options.duration || (options.quick ? 2 : 5);
  const custom =
    options.sizes.length ||
    options.conns.length ||
    options.types.length ||
    options.deflate.length;
  const name =
    options.name ||
    (custom ? 'echo-custom' : options.quick ? 'echo-quick' : 'echo-full');

  ensureLoadgen();
  const { servers, notes } = selectServers(options.servers);
  if (!servers.includes(RATIO_BASE))
    notes.push(`${RATIO_BASE} not run: ratio columns are empty`);
  const cells = buildCells(options);
  const machine = machineInfo();
  const loadStart = fs
    .readFileSync('/proc/loadavg', 'utf8')
    .split(' ')
    .slice(0, 3)
    .join(' ');
  const total = cells.length * servers.length * options.reps;
  process.stderr.write(
    `bench: ${cells.length} cells × ${servers.length} servers × ${options.reps} reps = ${total} runs\n`
  );
  for (const note of notes) process.stderr.write(`bench: ${note}\n`);

  const runs = [];
  let done = 0;
  for (let rep = 0; rep < options.reps; rep++) {
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c];
      // Rotate the order so no server always runs first (or last) in a cell.
      const shift = (rep + c) % servers.length;
      const order = servers.slice(shift).concat(servers.slice(0, shift));
      for (const id of order) {
        let run;
        try {
          run = await runOne(id, cell, options);
        } catch (error) {
          run = { result: null, code: -1, stderr: String(error.message) };
        }
        const error = run.result
          ? run.result.first_error
          : run.stderr || `exit ${run.code}`;
        runs.push({
          cell: cell.label,
          server: id,
          rep,
          result: run.result,
          error
        });
        done++;
        const r = run.result;
        process.stderr.write(
          `[${done}/${total}] ${cell.label} ${id}: ` +
            (r
              ? `${fmt(r.messages_per_s)} msg/s, p99 ${fmt(r.latency_us.p99)} µs`
              : 'failed') +
            (r && r.errors === 0 ? '' : ` ERROR ${error}`) +
            '\n'
        );
      }
    }
  }

  const summary = summarize(cells, servers, runs);
  const meta = {
    loadavg: {
      start: loadStart,
      end: fs
        .readFileSync('/proc/loadavg', 'utf8')
        .split(' ')
        .slice(0, 3)
        .join(' ')
    },
    name,
    command: `node bench/run-all.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    options: {
      reps: options.reps,
      warmup: options.warmup,
      duration: options.duration
    },
    notes
  };
  const markdown = renderMarkdown(summary, meta);
  writeResults(name, { ...meta, cells, servers, summary, runs }, markdown);
  fs.writeFileSync(
    path.join(RESULTS, `${name}.svg`),
    renderSvg(summary, meta, servers)
  );
  process.stdout.write(
    `\n${markdown}\nbench: wrote bench/results/${name}.{json,md,svg}\n`
  );

  if (options.all) {
    for (const script of ['broadcast.js', 'memory.js', 'fragmented.js']) {
      const args = [
        path.join(__dirname, script),
        ...(options.quick ? ['--quick'] : [])
      ];
      const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
      if (result.status !== 0) process.exitCode = 1;
    }
  }
  if (runs.some((r) => !r.result || r.result.errors)) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
