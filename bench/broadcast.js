'use strict';

// Broadcast: one message to every connected client. wsn-loadgen opens the
// clients (default 1000), its first connection sends a message, and the
// server (bench/servers/ws-echo.js --mode broadcast) sends it to every client
// with one send() each; a round ends when the last client has the whole,
// verified message. Server on CPU 0, load on CPU 1, servers in turns,
// medians of repetitions, ratios against ws + bufferutil + utf-8-validate.
//
//   node bench/broadcast.js [--quick] [--clients 1000] [--sizes 32,16384]
//       [--deflate off,on] [--type binary] [--rounds 30] [--reps 3]
//       [--servers ws-native,ws+bu,ws]

const {
  RATIO_BASE,
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

async function runOne(serverId, cell, options) {
  const server = await startServer(serverId, {
    extraArgs: ['--mode', 'broadcast', ...(cell.deflate ? ['--deflate'] : [])]
  });
  try {
    const { result, code, stderr } = await runLoadgen(
      [
        '--mode',
        'broadcast',
        '--port',
        String(server.port),
        '--connections',
        String(options.clients),
        '--size',
        String(cell.size),
        '--type',
        options.type,
        '--rounds',
        String(options.rounds),
        '--warmup-rounds',
        String(options.warmupRounds),
        '--round-gap-ms',
        String(options.gapMs),
        '--server-pid',
        String(server.pid),
        ...(cell.deflate ? ['--deflate'] : [])
      ],
      { timeoutMs: 300000 }
    );
    return { result, code, stderr };
  } finally {
    await server.stop();
  }
}

async function main() {
  const options = parseCli(process.argv.slice(2), {
    quick: false,
    clients: 1000,
    sizes: [0],
    deflate: [''],
    type: 'binary',
    rounds: 0,
    warmupRounds: 3,
    gapMs: 20,
    reps: 3,
    servers: ['ws-native', 'ws+bu', 'ws']
  });
  const sizes = options.sizes.filter(Boolean).length
    ? options.sizes.filter(Boolean)
    : options.quick
      ? [32, 16384]
      : [32, 1024, 16384, 65536];
  const deflates = options.deflate.filter(Boolean).length
    ? options.deflate.filter(Boolean).map((d) => d === 'on')
    : options.quick
      ? [false]
      : [false, true];
  options.rounds = options.rounds || 30;
  const name = options.quick ? 'broadcast-quick' : 'broadcast';

  ensureLoadgen();
  const { servers, notes } = selectServers(options.servers);
  const cells = [];
  for (const size of sizes) {
    for (const deflate of deflates) {
      cells.push({
        size,
        deflate,
        label: `${sizeLabel(size)} ${options.type}${deflate ? ' deflate' : ''}`
      });
    }
  }
  const total = cells.length * servers.length * options.reps;
  process.stderr.write(
    `broadcast: ${options.clients} clients, ${total} runs\n`
  );

  const runs = [];
  for (let rep = 0; rep < options.reps; rep++) {
    for (let c = 0; c < cells.length; c++) {
      const shift = (rep + c) % servers.length;
      for (const id of servers.slice(shift).concat(servers.slice(0, shift))) {
        let run;
        try {
          run = await runOne(id, cells[c], options);
        } catch (error) {
          run = { result: null, code: -1, stderr: String(error.message) };
        }
        const r = run.result;
        runs.push({
          cell: cells[c].label,
          server: id,
          rep,
          result: r,
          error: r ? r.first_error : run.stderr
        });
        process.stderr.write(
          `[${runs.length}/${total}] ${cells[c].label} ${id}: ` +
            (r ? `round p50 ${fmt(r.round_ms.p50)} ms` : 'failed') +
            (r && r.errors === 0
              ? ''
              : ` ERROR ${r ? r.first_error : run.stderr}`) +
            '\n'
        );
      }
    }
  }

  const summary = [];
  const rows = [];
  const percent = (value) =>
    Number.isFinite(value) ? `${Math.max(0, Math.round(value * 100))}%` : '–';
  for (const cell of cells) {
    const stats = {};
    for (const id of servers) {
      const mine = runs.filter((r) => r.cell === cell.label && r.server === id);
      const good = mine.filter(
        (r) => r.result && r.result.errors === 0 && r.result.rounds > 0
      );
      const pick = (get) => median(good.map((r) => get(r.result)));
      stats[id] = {
        server: id,
        runs: mine.length,
        goodRuns: good.length,
        errors: mine.reduce(
          (sum, r) => sum + (r.result ? r.result.errors : 1),
          0
        ),
        roundMs: pick((r) => r.round_ms.p50),
        deliveriesPerSecond: pick((r) => r.deliveries_per_s),
        deliveryP99Ms: pick((r) => r.delivery_latency_us.p99 / 1e3),
        serverCpuMsPerRound: pick((r) =>
          r.server ? r.server.cpu_ms_per_round : NaN
        ),
        serverRssMiB: pick((r) => (r.server ? r.server.rss_kb / 1024 : NaN)),
        otherCpu0: pick((r) =>
          r.cpu_busy && r.server ? r.cpu_busy.cpu0 - r.server.cpu_util : NaN
        ),
        otherCpu1: pick((r) =>
          r.cpu_busy ? r.cpu_busy.cpu1 - r.loadgen_cpu_util : NaN
        )
      };
    }
    const base = stats[RATIO_BASE];
    for (const id of servers) {
      const s = stats[id];
      // A shorter round is better: the ratio is base time over this time.
      s.speedRatio = base ? base.roundMs / s.roundMs : NaN;
      rows.push([
        cell.label,
        SERVERS[id].label,
        fmt(s.roundMs),
        fmtRatio(s.speedRatio),
        fmt(s.deliveriesPerSecond),
        fmt(s.deliveryP99Ms),
        fmt(s.serverCpuMsPerRound),
        fmt(s.serverRssMiB),
        `${percent(s.otherCpu0)} / ${percent(s.otherCpu1)}`,
        s.errors ? `${s.errors} (${s.goodRuns}/${s.runs} clean)` : '0'
      ]);
    }
    summary.push({ cell, rows: servers.map((id) => stats[id]) });
  }
  const machine = machineInfo();
  const command =
    `node bench/broadcast.js ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = [
    ...reportHead(
      `Broadcast to ${options.clients} clients (${name})`,
      command,
      `One client sends, the server send()s to all ${options.clients}; a round ends when the last client has verified the message. ` +
        `Medians of ${options.reps} runs of ${options.rounds} rounds (after ${options.warmupRounds} warmup rounds). ` +
        'Speed vs ws+bu = its round time ÷ this round time (higher is better). ' +
        '"others on CPU 0/1": CPU time on the pinned CPUs used by neither the server nor the load generator.',
      notes,
      machine
    ),
    markdownTable(
      [
        'message',
        'server',
        'round ms (p50)',
        'speed vs ws+bu',
        'deliveries/s',
        'delivery p99 ms',
        'server CPU ms/round',
        'server RSS MiB',
        'others on CPU 0/1',
        'errors'
      ],
      rows
    )
  ].join('\n');
  writeResults(
    name,
    { name, command, machine, options, notes, cells, servers, summary, runs },
    markdown
  );
  process.stdout.write(
    `\n${markdown}\nbroadcast: wrote bench/results/${name}.{json,md}\n`
  );
  if (runs.some((r) => !r.result || r.result.errors)) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
