'use strict';

// How long can one large compressed message stall the receiver's event loop? A peer process sends
// one permessage-deflate message (16 MiB and 100 MiB; English-like text, which inflates about 3x,
// and zeros, which inflate about 1000x like a decompression bomb) to a receiver process that runs
// a 1 ms setInterval and records, while the message arrives and is inflated, the longest gap
// between two ticks and the most CPU time the receiver used between two ticks (its own work, which
// other processes on a busy machine cannot inflate). Both roles (server reading masked frames, client reading unmasked ones), for
// ws-native and for ws (whose zlib work runs on the threadpool). The whole-message inline inflate
// time (one Inflater.inflate() call) is printed alongside, as the stall a receiver without slices
// would show.
//
//   node bench/inflate-latency.js [--sizes 16,100] [--kinds text,zeros] [--roles server,client]
//       [--impls ws-native,ws] [--reps 3] [--module <ws-native package dir>] [--name inflate-latency]
//
// The receiver runs under `taskset -c 0`, the peer under `taskset -c 1` (when taskset exists).
// `--module` points at another ws-native checkout (for a before/after comparison; its addon comes
// from WSN_BINDING_PATH as usual). Writes bench/results/<name>.json and <name>.md.

const { execFileSync, spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { wordText } = require('./loadgen/harness');
const { makeRandom } = require('./loadgen/random');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MIB = 1024 * 1024;
const TICK_MS = 1;

/**
 * Command line options of the form `--name value`.
 *
 * @param {string[]} argv
 * @return {Object<string, string>}
 */
function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) options[argv[i].slice(2)] = argv[++i];
  }
  return options;
}

/**
 * `size` bytes of English-like text: 1 MiB of words drawn from a skewed vocabulary, repeated.
 * Repeats lie 1 MiB apart, beyond deflate's 32 KiB window, so they compress like fresh text.
 *
 * @param {number} size
 * @return {Buffer}
 */
function text(size) {
  const block = wordText(MIB, makeRandom(7));
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += MIB)
    block.copy(out, at, 0, Math.min(MIB, size - at));
  return out;
}

/**
 * The message's compressed frame payload (RFC 7692 §7.2.1: raw deflate, sync flush, the 4-byte
 * tail removed), cached in the temporary directory.
 *
 * @param {string} kind 'text' or 'zeros'
 * @param {number} size
 * @return {string} the file holding it
 */
function compressedFile(kind, size) {
  const file = path.join(
    os.tmpdir(),
    `wsn-inflate-latency-${kind}-${size}.bin`
  );
  if (!fs.existsSync(file)) {
    const data = kind === 'text' ? text(size) : Buffer.alloc(size);
    const packed = zlib.deflateRawSync(data, {
      finishFlush: zlib.constants.Z_SYNC_FLUSH
    });
    fs.writeFileSync(file, packed.subarray(0, packed.length - 4));
  }
  return file;
}

/**
 * A frame header (RFC 6455 §5.2) with FIN and RSV1 set and a 64-bit length.
 *
 * @param {number} opcode
 * @param {number} length
 * @param {Buffer} [maskKey]
 * @return {Buffer}
 */
function frameHeader(opcode, length, maskKey) {
  const header = Buffer.alloc(maskKey ? 14 : 10);
  header[0] = 0xc0 | opcode;
  header[1] = (maskKey ? 0x80 : 0) | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  if (maskKey) maskKey.copy(header, 10);
  return header;
}

/**
 * Peer process: plays the other end with a bare socket and sends the one message.
 *
 * @param {Object} job
 */
function runPeer(job) {
  const payload = fs.readFileSync(job.file);
  const opcode = job.kind === 'text' ? 1 : 2;

  const sendOn = (socket, masked) => {
    let header;
    let body = payload;
    if (masked) {
      const key = crypto.randomBytes(4);
      header = frameHeader(opcode, payload.length, key);
      body = Buffer.allocUnsafe(payload.length);
      for (let i = 0; i < payload.length; i++)
        body[i] = payload[i] ^ key[i & 3];
    } else {
      header = frameHeader(opcode, payload.length);
    }
    socket.write(Buffer.concat([header, body]));
  };

  if (job.peerRole === 'client') {
    const socket = net.connect(job.port, '127.0.0.1', () => {
      const key = crypto.randomBytes(16).toString('base64');
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          `Sec-WebSocket-Key: ${key}\r\n` +
          'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n'
      );
    });
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      socket.on('data', () => {});
      sendOn(socket, true);
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => process.exit(0));
    return;
  }

  const server = net.createServer((socket) => {
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      socket.on('data', () => {});
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)[1];
      const accept = crypto
        .createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
          'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n'
      );
      sendOn(socket, false);
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => process.exit(0));
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`port ${server.address().port}\n`);
  });
}

/**
 * Receiver process: one connection, one message, the longest gap between 1 ms ticks from the
 * moment the peer starts sending until the message event.
 *
 * @param {Object} job
 */
function runReceiver(job) {
  const WebSocket = require(job.impl === 'ws' ? 'ws' : job.module);
  const maxPayload = job.size + MIB;
  const peerArgs = (peerRole, port) => [
    __filename,
    'peer',
    JSON.stringify({ ...job, peerRole, port })
  ];
  const spawnPeer = (args) => {
    const pinned = job.taskset;
    return spawn(
      pinned ? 'taskset' : process.execPath,
      pinned ? ['-c', '1', process.execPath, ...args] : args,
      {
        stdio: ['ignore', 'pipe', 'inherit']
      }
    );
  };

  let lastTick = 0;
  let lastCpu = null;
  let maxGap = 0;
  let maxCpu = 0;
  let ticks = 0;
  let started = 0;
  let startCpu = null;
  let timer = null;

  // Wall time between two ticks, and the CPU time this process used in it: the CPU reading is
  // the receiver's own work, the wall one also counts time other processes held the CPU.
  const cpuMsSince = (since) => {
    const { user, system } = process.cpuUsage(since);
    return (user + system) / 1000;
  };
  const tick = () => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - lastTick);
    maxCpu = Math.max(maxCpu, cpuMsSince(lastCpu));
    lastTick = now;
    lastCpu = process.cpuUsage();
  };

  const startClock = () => {
    started = performance.now();
    lastTick = started;
    lastCpu = process.cpuUsage();
    startCpu = lastCpu;
    timer = setInterval(() => {
      tick();
      ticks++;
    }, TICK_MS);
  };

  const onMessage = (websocket, data) => {
    const now = performance.now();
    tick();
    clearInterval(timer);
    const length = Buffer.isBuffer(data)
      ? data.length
      : Buffer.byteLength(data);
    process.stdout.write(
      JSON.stringify({
        maxGapMs: maxGap,
        maxCpuMs: maxCpu,
        totalMs: now - started,
        totalCpuMs: cpuMsSince(startCpu),
        ticks,
        length
      }) + '\n'
    );
    websocket.terminate();
    process.exit(length === job.size ? 0 : 1);
  };

  const watch = (child) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    return (pattern) =>
      new Promise((resolve) => {
        const check = () => {
          const match = pattern.exec(out);
          if (match) resolve(match);
          else setTimeout(check, 5);
        };
        check();
      });
  };

  if (job.role === 'server') {
    const wss = new WebSocket.Server(
      { port: 0, perMessageDeflate: true, maxPayload },
      () => {
        watch(spawnPeer(peerArgs('client', wss.address().port)));
      }
    );
    wss.on('connection', (websocket) => {
      // The peer sends only after it has read the 101, so no message byte is missed.
      startClock();
      websocket.on('message', (data) => onMessage(websocket, data));
    });
    return;
  }
  const child = spawnPeer(peerArgs('server', 0));
  watch(child)(/port (\d+)\n/).then((match) => {
    startClock();
    const websocket = new WebSocket(`ws://127.0.0.1:${match[1]}`, {
      perMessageDeflate: true,
      maxPayload
    });
    websocket.on('message', (data) => onMessage(websocket, data));
  });
}

/**
 * Runs one receiver process and returns what it measured.
 *
 * @param {Object} job
 * @return {Object}
 */
function measure(job) {
  const args = [__filename, 'receiver', JSON.stringify(job)];
  const output = job.taskset
    ? execFileSync('taskset', ['-c', '0', process.execPath, ...args], {
        encoding: 'utf8',
        timeout: 120000
      })
    : execFileSync(process.execPath, args, {
        encoding: 'utf8',
        timeout: 120000
      });
  return JSON.parse(output.trim().split('\n').pop());
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

function main() {
  const options = parseArgs(process.argv.slice(2));
  const sizes = (options.sizes || '16,100')
    .split(',')
    .map((mib) => Number(mib) * MIB);
  const kinds = (options.kinds || 'text,zeros').split(',');
  const roles = (options.roles || 'server,client').split(',');
  const impls = (options.impls || 'ws-native,ws').split(',');
  const reps = Number(options.reps || 3);
  const module = path.resolve(options.module || path.join(__dirname, '..'));
  let taskset = false;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    taskset = true;
  } catch {
    taskset = false;
  }

  const name = options.name || 'inflate-latency';
  const binding = require(path.join(module, 'lib', 'binding.js'));
  const rows = [];
  const lines = [];
  const print = (line) => {
    console.log(line);
    lines.push(line);
  };
  print(`ws-native from ${module}; taskset: ${taskset}; ${reps} runs each\n`);
  print(
    '| message | role | impl | inline inflate ms (CPU ms) | max loop gap ms (median) | ' +
      'all gaps | max CPU ms between ticks (median) | receive ms (CPU ms) |'
  );
  print('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const size of sizes) {
    for (const kind of kinds) {
      const file = compressedFile(kind, size);
      const packed = fs.readFileSync(file);
      // The stall of an unsliced inline inflate: one call for the whole message.
      const inflateTimes = [];
      const inflateCpuTimes = [];
      for (let r = 0; r < reps; r++) {
        const inflater = new binding.Inflater(15, false);
        const cpu = process.cpuUsage();
        const start = performance.now();
        const out = inflater.inflate(packed, true, 0);
        inflateTimes.push(performance.now() - start);
        const { user, system } = process.cpuUsage(cpu);
        inflateCpuTimes.push((user + system) / 1000);
        if (!Buffer.isBuffer(out) || out.length !== size)
          throw new Error('bad inflate');
      }
      const inflateMs = median(inflateTimes);
      const inflateCpuMs = median(inflateCpuTimes);
      for (const role of roles) {
        for (const impl of impls) {
          const results = [];
          for (let r = 0; r < reps; r++) {
            results.push(
              measure({ impl, module, role, kind, size, file, taskset })
            );
          }
          const gaps = results.map((result) => result.maxGapMs);
          const row = {
            message: `${size / MIB} MiB ${kind} (${(packed.length / MIB).toFixed(2)} MiB on the wire)`,
            role,
            impl,
            inflateMs,
            inflateCpuMs,
            maxGapMs: median(gaps),
            gaps,
            maxCpuMs: median(results.map((result) => result.maxCpuMs)),
            receiveMs: median(results.map((result) => result.totalMs)),
            receiveCpuMs: median(results.map((result) => result.totalCpuMs))
          };
          rows.push(row);
          print(
            `| ${row.message} | ${role} | ${impl} | ${inflateMs.toFixed(1)} ` +
              `(${inflateCpuMs.toFixed(1)}) | ${row.maxGapMs.toFixed(1)} | ` +
              `${gaps.map((gap) => gap.toFixed(1)).join(', ')} | ` +
              `${row.maxCpuMs.toFixed(1)} | ${row.receiveMs.toFixed(0)} ` +
              `(${row.receiveCpuMs.toFixed(0)}) |`
          );
        }
      }
    }
  }
  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(
    path.join(resultsDir, `${name}.json`),
    JSON.stringify({ module, taskset, node: process.version, rows }, null, 2) +
      '\n'
  );
  fs.writeFileSync(
    path.join(resultsDir, `${name}.md`),
    lines.join('\n') + '\n'
  );
}

if (process.argv[2] === 'peer') runPeer(JSON.parse(process.argv[3]));
else if (process.argv[2] === 'receiver')
  runReceiver(JSON.parse(process.argv[3]));
else main();
