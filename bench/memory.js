'use strict';

// Idle memory per connection: wsn-loadgen opens N connections (default
// 10 000), each echoes one message (so per-connection buffers and, with
// permessage-deflate, zlib streams exist), then holds them open. The server's
// memory is read after a full GC (node --expose-gc) before any connection and
// again while all are held; the difference divided by N is the cost of one
// idle connection. The descriptor limit is raised for both processes
// (ulimit -n in the harness's wrapper). Server on CPU 0, load on CPU 1.
//
// It is read twice: 0.5 s after the last connection opened, and again after
// the server has been idle for --settle seconds. V8 grows its young
// generation while thousands of connections open at once (by 20-28 MB here,
// 2-3 KiB per connection at 10 000) and gives that back only once the process
// allocates little; the second reading is what an idle server keeps.
//
//   node bench/memory.js [--quick] [--connections 10000] [--deflate off,on]
//       [--size 1024] [--type text] [--reps 1] [--settle 15] [--name memory]
//       [--servers ws-native,ws+bu,ws,net]

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
  selectServers,
  sizeLabel,
  startLoadgen,
  startServer,
  writeResults
} = require('./loadgen/harness');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runOne(serverId, deflate, options) {
  const server = await startServer(serverId, {
    extraArgs: deflate ? ['--deflate'] : [],
    exposeGc: true
  });
  try {
    await sleep(300);
    const before = await server.stats();
    const load = startLoadgen(
      [
        '--mode',
        'idle',
        '--port',
        String(server.port),
        '--connections',
        String(options.connections),
        '--idle-messages',
        '1',
        '--size',
        String(options.size),
        '--type',
        options.type,
        '--hold-stdin',
        '--connect-timeout',
        '120',
        '--stall',
        '60',
        '--server-pid',
        String(server.pid),
        ...(deflate ? ['--deflate'] : []),
        ...(SERVERS[serverId].loadgenArgs || [])
      ],
      { timeoutMs: 300000 }
    );
    const ready = await load.ready;
    let after = null;
    let settled = null;
    if (ready) {
      // Let the server finish its side of the last echoes before measuring.
      await sleep(500);
      after = await server.stats();
      await sleep(options.settle * 1000);
      settled = await server.stats();
    }
    load.closeStdin();
    const { result, stderr } = await load.done;
    return {
      before,
      after,
      settled,
      ready,
      result,
      error: result ? result.first_error : stderr
    };
  } finally {
    await server.stop();
  }
}

async function main() {
  const options = parseCli(process.argv.slice(2), {
    quick: false,
    connections: 10000,
    deflate: [''],
    size: 1024,
    type: 'text',
    reps: 1,
    settle: 15,
    name: '',
    servers: ['ws-native', 'ws+bu', 'ws', 'net']
  });
  const deflates = options.deflate.filter(Boolean).length
    ? options.deflate.filter(Boolean).map((d) => d === 'on')
    : [false, true];
  if (options.quick && process.argv.indexOf('--connections') === -1)
    options.connections = 2000;
  const name = options.name || (options.quick ? 'memory-quick' : 'memory');

  ensureLoadgen();
  const { servers, notes } = selectServers(options.servers);
  const total = deflates.length * servers.length * options.reps;
  process.stderr.write(
    `memory: ${options.connections} connections, ${total} runs\n`
  );
  const runs = [];
  for (let rep = 0; rep < options.reps; rep++) {
    for (let d = 0; d < deflates.length; d++) {
      const shift = (rep + d) % servers.length;
      for (const id of servers.slice(shift).concat(servers.slice(0, shift))) {
        let run;
        try {
          run = await runOne(id, deflates[d], options);
        } catch (error) {
          run = { result: null, error: String(error.message) };
        }
        const ok =
          run.settled &&
          run.after &&
          run.result &&
          run.result.errors === 0 &&
          run.result.connections_open === options.connections;
        const perConnection = ok
          ? (run.after.rss - run.before.rss) / options.connections
          : NaN;
        runs.push({
          server: id,
          deflate: deflates[d],
          rep,
          ok,
          perConnection,
          ...run
        });
        process.stderr.write(
          `[${runs.length}/${total}] ${id}${deflates[d] ? ' deflate' : ''}: ` +
            (ok
              ? `${fmt(perConnection / 1024)} KiB RSS per connection, ` +
                `${fmt((run.settled.rss - run.before.rss) / options.connections / 1024)} after ${options.settle} s idle`
              : `failed: ${run.error}`) +
            '\n'
        );
      }
    }
  }

  const rows = [];
  const summary = [];
  for (const deflate of deflates) {
    const stats = {};
    for (const id of servers) {
      const mine = runs.filter((r) => r.server === id && r.deflate === deflate);
      const good = mine.filter((r) => r.ok);
      const pick = (get) => median(good.map(get));
      const n = options.connections;
      stats[id] = {
        server: id,
        runs: mine.length,
        goodRuns: good.length,
        rssKiBPerConnection: pick(
          (r) => (r.after.rss - r.before.rss) / n / 1024
        ),
        settledRssKiBPerConnection: pick(
          (r) => (r.settled.rss - r.before.rss) / n / 1024
        ),
        heapKiBPerConnection: pick(
          (r) => (r.after.heapUsed - r.before.heapUsed) / n / 1024
        ),
        externalKiBPerConnection: pick(
          (r) => (r.after.external - r.before.external) / n / 1024
        ),
        rssMiB: pick((r) => r.after.rss / 1048576),
        connectSeconds: pick((r) => r.ready.connect_s),
        gc: good.every((r) => r.after.gc)
      };
    }
    const base = stats[RATIO_BASE];
    for (const id of servers) {
      const s = stats[id];
      s.ratio = base ? s.rssKiBPerConnection / base.rssKiBPerConnection : NaN;
      s.settledRatio = base
        ? s.settledRssKiBPerConnection / base.settledRssKiBPerConnection
        : NaN;
      rows.push([
        deflate ? 'on' : 'off',
        SERVERS[id].label,
        fmt(s.rssKiBPerConnection),
        fmtRatio(s.ratio),
        fmt(s.settledRssKiBPerConnection),
        fmtRatio(s.settledRatio),
        fmt(s.heapKiBPerConnection),
        fmt(s.externalKiBPerConnection),
        fmt(s.rssMiB),
        fmt(s.connectSeconds),
        s.goodRuns === s.runs
          ? '0'
          : `${s.runs - s.goodRuns} of ${s.runs} runs failed`
      ]);
    }
    summary.push({ deflate, rows: servers.map((id) => stats[id]) });
  }
  const machine = machineInfo();
  const command =
    `node bench/memory.js ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = [
    ...reportHead(
      `Idle memory per connection at ${options.connections} connections (${name})`,
      command,
      `Each connection echoed one ${sizeLabel(options.size)} ${options.type} message, then stayed idle. ` +
        'Server memory after a full GC, with all connections held, minus the same before any connection, ÷ connections: ' +
        `0.5 s after the last connection opened, and after ${options.settle} s more of idling (V8 has then given back the young generation it grew while the connections opened). ` +
        `Median of ${options.reps} run(s). RSS vs ws+bu: lower is better.`,
      notes,
      machine
    ),
    markdownTable(
      [
        'deflate',
        'server',
        'RSS KiB/conn',
        'RSS vs ws+bu',
        `RSS KiB/conn after ${options.settle} s idle`,
        'idle RSS vs ws+bu',
        'JS heap KiB/conn',
        'external KiB/conn',
        'server RSS MiB',
        'connect s',
        'errors'
      ],
      rows
    )
  ].join('\n');
  writeResults(
    name,
    { name, command, machine, options, notes, servers, summary, runs },
    markdown
  );
  process.stdout.write(
    `\n${markdown}\nmemory: wrote bench/results/${name}.{json,md}\n`
  );
  if (runs.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
