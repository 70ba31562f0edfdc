'use strict';

// Checks the load generator against bench/servers/split-echo.js: replies
// split at every kind of boundary must verify cleanly, and every injected
// fault must be reported as the right kind of error. A benchmark whose
// verifier cannot fail proves nothing; this is what shows it can.
//
//   node bench/loadgen/selftest.js

const path = require('path');
const { spawn } = require('child_process');
const readline = require('readline');

const { ensureLoadgen, runLoadgen } = require('./harness');

const SPLIT_ECHO = path.join(__dirname, '..', 'servers', 'split-echo.js');

/**
 * Starts split-echo with `args`; resolves with {port, stats(), stop()}.
 *
 * @param {string[]} args Server arguments
 * @return {Promise<Object>} The server handle
 */
function startSplitEcho(args) {
  const child = spawn(process.execPath, [SPLIT_ECHO, ...args], {
    stdio: ['pipe', 'pipe', 'inherit']
  });
  const waiters = [];
  return new Promise((resolve, reject) => {
    child.on('exit', (code) =>
      reject(new Error(`split-echo exited with ${code}`))
    );
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.event === 'ready') {
        resolve({
          port: message.port,
          stats: () =>
            new Promise((resolveStats) => {
              waiters.push(resolveStats);
              child.stdin.write('stats\n');
            }),
          stop: () => {
            child.stdin.end();
            return new Promise((resolveExit) => child.on('exit', resolveExit));
          }
        });
      } else if (message.event === 'stats') {
        waiters.shift()(message);
      }
    });
  });
}

const CASES = [
  {
    name: 'binary 32 B, fragments of 1-5 bytes with pings, written 1-7 bytes at a time',
    server: [],
    loadgen: ['--size', '32', '--depth', '4'],
    expect: (r, s) =>
      r.errors === 0 && r.messages > 20 && s.pongsOk > 0 && s.pongsBad === 0
  },
  {
    name: 'text 1000 B mixed UTF-8 on 3 connections, fragments of 1-64 bytes',
    server: ['--max-fragment', '64', '--max-chunk', '13'],
    loadgen: [
      '--size',
      '1000',
      '--type',
      'text',
      '--connections',
      '3',
      '--depth',
      '2'
    ],
    expect: (r, s) => r.errors === 0 && r.messages > 10 && s.pongsBad === 0
  },
  {
    name: 'binary 200000 B: 16- and 64-bit lengths, frames split in 1-9000 byte writes',
    server: ['--max-fragment', '100000', '--max-chunk', '9000'],
    loadgen: ['--size', '200000', '--depth', '2'],
    expect: (r, s) => r.errors === 0 && r.messages >= 2 && s.pongsBad === 0
  },
  {
    name: 'permessage-deflate text 3000 B, compressed reply fragmented 1-50 bytes',
    server: ['--deflate', '--max-fragment', '50', '--max-chunk', '7'],
    loadgen: ['--size', '3000', '--type', 'text', '--deflate', '--depth', '3'],
    expect: (r) =>
      r.errors === 0 &&
      r.deflate_negotiated &&
      r.deflate_level === 1 &&
      r.messages > 5
  },
  {
    name: 'permessage-deflate text 3000 B with client_max_window_bits=10: every message inflates within 1 KiB',
    server: [
      '--deflate',
      '--client-window-bits',
      '10',
      '--max-fragment',
      '500'
    ],
    loadgen: ['--size', '3000', '--type', 'text', '--deflate', '--depth', '2'],
    expect: (r, s) =>
      r.errors === 0 &&
      r.deflate_negotiated &&
      r.messages > 5 &&
      s.protocolErrors === 0
  },
  {
    name: 'permessage-deflate binary 20000 B: level 0 by default, replies verified',
    server: ['--deflate', '--max-fragment', '3000', '--max-chunk', '700'],
    loadgen: ['--size', '20000', '--deflate', '--depth', '2'],
    expect: (r) =>
      r.errors === 0 &&
      r.deflate_negotiated &&
      r.deflate_level === 0 &&
      r.messages > 5
  },
  {
    name: 'one flipped byte in the 5th reply is a verify error',
    server: ['--corrupt', '5', '--max-fragment', '40'],
    loadgen: ['--size', '100', '--depth', '2'],
    expect: (r) => r.error_kinds.verify === 1 && /differs/.test(r.first_error)
  },
  {
    name: 'two replies swapped is a verify error naming the tag',
    server: ['--reorder', '3', '--max-fragment', '40'],
    loadgen: ['--size', '64', '--depth', '4'],
    expect: (r) => r.error_kinds.verify === 1 && /tag/.test(r.first_error)
  },
  {
    name: 'a wrong Sec-WebSocket-Accept fails the handshake',
    server: ['--bad-accept'],
    loadgen: ['--size', '32'],
    expect: (r) => r.error_kinds.handshake === 1 && /Accept/.test(r.first_error)
  },
  {
    name: 'masked server frames are a protocol error (RFC 6455 5.1)',
    server: ['--masked'],
    loadgen: ['--size', '32'],
    expect: (r) => r.error_kinds.protocol === 1 && /masked/.test(r.first_error)
  },
  {
    name: 'masked server frames verify with --accept-masked (the raw-echo floor mode)',
    server: ['--masked', '--max-fragment', '20'],
    loadgen: ['--size', '300', '--accept-masked', '--depth', '2'],
    expect: (r) => r.errors === 0 && r.messages > 5
  },
  {
    name: 'RSV1 without negotiated deflate is a protocol error',
    server: ['--rsv1'],
    loadgen: ['--size', '32'],
    expect: (r) => r.error_kinds.protocol === 1 && /RSV1/.test(r.first_error)
  },
  {
    name: 'idle mode: 50 connections each echo one message, then report ready',
    server: ['--max-fragment', '16'],
    loadgen: [
      '--mode',
      'idle',
      '--connections',
      '50',
      '--idle-messages',
      '1',
      '--size',
      '200',
      '--hold',
      '0.2'
    ],
    expect: (r) =>
      r.errors === 0 && r.connections_open === 50 && r.messages === 50
  },
  {
    name: 'a dead port is a connect error, not a hang',
    port: 1,
    loadgen: ['--size', '32'],
    expect: (r) => r.error_kinds.connect === 1 && r.messages === 0
  }
];

async function main() {
  ensureLoadgen();
  let passed = 0;
  let failed = 0;
  for (const testCase of CASES) {
    const server = testCase.port ? null : await startSplitEcho(testCase.server);
    const port = testCase.port || server.port;
    const { result, code, stderr } = await runLoadgen(
      [
        '--port',
        String(port),
        '--warmup',
        '0.2',
        '--duration',
        '1',
        '--stall',
        '5',
        ...testCase.loadgen
      ],
      { cpu: '0-1', timeoutMs: 30000 }
    );
    const stats = server ? await server.stats() : {};
    if (server) await server.stop();
    let ok = false;
    try {
      ok =
        result !== null &&
        testCase.expect(result, stats) &&
        (result.errors === 0) === (code === 0);
    } catch {
      ok = false;
    }
    if (ok) {
      passed++;
      process.stdout.write(`ok   ${testCase.name}\n`);
    } else {
      failed++;
      process.stdout.write(
        `FAIL ${testCase.name}\n  exit ${code} ${stderr}\n  ${JSON.stringify(result)}\n  ${JSON.stringify(stats)}\n`
      );
    }
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
