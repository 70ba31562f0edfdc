'use strict';

// What does a fragmented 16 MiB message cost the server? A raw TCP client
// (the HTTP upgrade done by hand) sends one 16 MiB message as fragments of
// 16 KiB, 64 KiB or 1 MiB, each frame masked with its own random key, to the
// echo server (bench/servers/ws-echo.js), which answers with one frame; the
// client verifies every echoed byte. One fresh server per server and
// fragment size: 1 warmup message, then K measured ones. Reported: median
// round trip, server CPU per message (/proc/<pid>/stat utime + stime around
// the measured messages), server peak RSS (VmHWM) and RSS after, with ratios
// against ws + bufferutil + utf-8-validate measured in the same run. A text
// variant (valid mixed-script UTF-8) is sent in 1 MiB fragments. Server on
// CPU 0 (harness startServer), client in a child on CPU 1 (taskset -c 1).
//
//   node bench/fragmented.js [--quick] [--fragments 16384,65536,1048576]
//       [--text-fragments 1048576] [--message 16777216] [--reps 5]
//       [--warmup 1] [--servers ws-native,ws+bu,ws] [--name fragmented]

const { spawn, spawnSync } = require('child_process');
const { isUtf8 } = require('buffer');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const path = require('path');

const {
  RATIO_BASE,
  SERVERS,
  bindingPath,
  fmt,
  fmtRatio,
  machineInfo,
  markdownTable,
  reportHead,
  median,
  parseCli,
  selectServers,
  sizeLabel,
  startServer,
  writeResults
} = require('./loadgen/harness');
const { makeRandom } = require('./loadgen/random');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const MESSAGE_TIMEOUT_MS = 60000;
const CLIENT_TIMEOUT_MS = 600000;

// ---------------------------------------------------------------- payloads

/**
 * @param {number} size Bytes
 * @return {Buffer} Seeded pseudo-random bytes
 */
function binaryPayload(size) {
  const random = makeRandom(1);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (; at + 4 <= size; at += 4) out.writeUInt32LE(random(), at);
  for (; at < size; at++) out[at] = random() & 0xff;
  return out;
}

// Words of 1- to 4-byte UTF-8 sequences, so any fragment boundary can fall
// inside a character and the server must carry it over (RFC 6455 §8.1).
const WORDS = [
  'hello',
  'message',
  'naïve',
  'straße',
  'привет',
  'сообщение',
  'κόσμος',
  'ελληνικά',
  'שלום',
  'مرحبا',
  '世界',
  '日本語',
  'データ',
  '한국어',
  '🙂',
  '🚀👍',
  '𝄞music'
];

/**
 * @param {number} size Bytes
 * @return {Buffer} Valid UTF-8 of exactly `size` bytes: mixed-script words
 */
function textPayload(size) {
  const random = makeRandom(2);
  const parts = [];
  for (let i = 0; i < 8192; i++) {
    parts.push(WORDS[random() % WORDS.length], random() % 8 ? ' ' : '. ');
  }
  const block = Buffer.from(parts.join(''));
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at, 0, Math.min(block.length, size - at));
  }
  // The cut may split a character: blank everything after the last space.
  const lastSpace = out.lastIndexOf(0x20);
  out.fill(0x20, lastSpace);
  if (!isUtf8(out)) throw new Error('text payload is not valid UTF-8');
  return out;
}

/**
 * The bytes a client puts on the wire for one message: fragments of
 * `fragmentBytes`, each with a fresh masking key (RFC 6455 §5.3, §5.4).
 *
 * @param {Buffer} payload Message
 * @param {number} opcode OPCODE_TEXT or OPCODE_BINARY
 * @param {number} fragmentBytes Payload bytes per frame
 * @return {Buffer} All frames, back to back
 */
function encodeMessage(payload, opcode, fragmentBytes) {
  const frames = Math.max(1, Math.ceil(payload.length / fragmentBytes));
  const headerBytes = (length) =>
    (length < 126 ? 2 : length <= 0xffff ? 4 : 10) + 4;
  const full = headerBytes(fragmentBytes);
  const out = Buffer.allocUnsafe(payload.length + frames * full);
  const keys = crypto.randomBytes(frames * 4);
  let at = 0;
  for (let i = 0; i < frames; i++) {
    const start = i * fragmentBytes;
    const length = Math.min(fragmentBytes, payload.length - start);
    out[at] = (i === frames - 1 ? 0x80 : 0) | (i === 0 ? opcode : 0);
    if (length < 126) {
      out[at + 1] = 0x80 | length;
      at += 2;
    } else if (length <= 0xffff) {
      out[at + 1] = 0x80 | 126;
      out.writeUInt16BE(length, at + 2);
      at += 4;
    } else {
      out[at + 1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(length), at + 2);
      at += 10;
    }
    const k0 = keys[i * 4];
    const k1 = keys[i * 4 + 1];
    const k2 = keys[i * 4 + 2];
    const k3 = keys[i * 4 + 3];
    keys.copy(out, at, i * 4, i * 4 + 4);
    at += 4;
    let j = 0;
    for (; j + 4 <= length; j += 4) {
      const s = start + j;
      out[at + j] = payload[s] ^ k0;
      out[at + j + 1] = payload[s + 1] ^ k1;
      out[at + j + 2] = payload[s + 2] ^ k2;
      out[at + j + 3] = payload[s + 3] ^ k3;
    }
    for (; j < length; j++) {
      out[at + j] = payload[start + j] ^ keys[i * 4 + (j & 3)];
    }
    at += length;
  }
  return out.subarray(0, at);
}

// ------------------------------------------------------------- /proc reads

/**
 * @param {number} pid Process id
 * @return {number} utime + stime of all its threads, in clock ticks
 */
function processTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" that ends the command name start at field 3 (state);
  // utime and stime are fields 14 and 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * @param {number} pid Process id
 * @return {{rssKiB: number, hwmKiB: number}} VmRSS and VmHWM
 */
function processMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) =>
    Number(new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(status)[1]);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

/**
 * @return {Object<string, {busy: number, total: number}>} Ticks per CPU
 */
function cpuTicks() {
  const out = {};
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const values = match[2].split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal ...: idle and iowait
    // are not busy; guest time is already inside user.
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    out[match[1]] = { busy: total - values[3] - values[4], total };
  }
  return out;
}

/** @return {number} Clock ticks per second (getconf CLK_TCK) */
function clockTicksPerSecond() {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(result.stdout) || 100;
}

// ------------------------------------------------------------------ client

/**
 * Connects and performs the opening handshake by hand (RFC 6455 §4.1),
 * checking the 101 and Sec-WebSocket-Accept.
 *
 * @param {number} port Server port
 * @return {Promise<{socket: net.Socket, leftover: Buffer}>}
 */
function connect(port) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const socket = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no handshake answer within 10 s'));
    }, 10000);
    let head = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('connect', () => {
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
          `Sec-WebSocket-Key: ${key}\r\n\r\n`
      );
    });
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.pause();
      const text = head.subarray(0, end).toString('latin1');
      const accept = crypto
        .createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      const header = (name) => {
        const match = new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'im').exec(text);
        return match ? match[1] : '';
      };
      if (!/^HTTP\/1\.1 101 /.test(text)) {
        reject(new Error(`handshake: ${text.split('\r\n')[0]}`));
      } else if (header('upgrade').toLowerCase() !== 'websocket') {
        reject(new Error('handshake: no Upgrade: websocket'));
      } else if (header('sec-websocket-accept') !== accept) {
        reject(new Error('handshake: wrong Sec-WebSocket-Accept'));
      } else {
        resolve({ socket, leftover: head.subarray(end + 4) });
        return;
      }
      socket.destroy();
    };
    socket.on('data', onData);
  });
}

/**
 * Reads the server's frames: one unmasked, unfragmented echo at a time, and
 * its close frame at the end. Any other frame is an error.
 */
class EchoReader {
  constructor(socket, leftover) {
    this.socket = socket;
    this.pending = leftover.length ? [leftover] : [];
    this.pendingBytes = leftover.length;
    this.waiter = null;
    this.error = null;
    socket.on('data', (chunk) => {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.wake();
    });
    socket.on('close', () => {
      if (!this.error)
        this.error = new Error('connection closed by the server');
      this.wake();
    });
    socket.resume();
  }

  wake() {
    if (this.waiter) this.waiter();
  }

  /** @return {Buffer} All buffered bytes as one Buffer */
  takeAll() {
    const all =
      this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  /**
   * Waits for one whole frame.
   *
   * @param {number} expectedBytes Payload length the caller expects
   * @return {Promise<{fin: boolean, opcode: number, payload: Buffer}>}
   */
  nextFrame(expectedBytes) {
    return new Promise((resolve, reject) => {
      let header = null;
      let payload = null;
      let filled = 0;
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no whole frame within ${MESSAGE_TIMEOUT_MS} ms`));
      }, MESSAGE_TIMEOUT_MS);
      const finish = (error, frame) => {
        clearTimeout(timer);
        this.waiter = null;
        if (error) reject(error);
        else resolve(frame);
      };
      const step = () => {
        if (!header) {
          if (this.pendingBytes < 2) return this.error && finish(this.error);
          const bytes = this.takeAll();
          const length7 = bytes[1] & 0x7f;
          const size = length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
          if (bytes.length < size) {
            this.pending = [bytes];
            this.pendingBytes = bytes.length;
            return this.error && finish(this.error);
          }
          if (bytes[1] & 0x80)
            return finish(new Error('the server masked a frame'));
          const length =
            length7 === 126
              ? bytes.readUInt16BE(2)
              : length7 === 127
                ? Number(bytes.readBigUInt64BE(2))
                : length7;
          if (length > Math.max(expectedBytes, 125))
            return finish(new Error(`unexpected ${length}-byte frame`));
          header = { fin: (bytes[0] & 0x80) !== 0, opcode: bytes[0] & 0x0f };
          payload = Buffer.allocUnsafe(length);
          const rest = bytes.subarray(size);
          if (rest.length) {
            this.pending = [rest];
            this.pendingBytes = rest.length;
          }
        }
        while (this.pending.length && filled < payload.length) {
          const chunk = this.pending.shift();
          const take = Math.min(chunk.length, payload.length - filled);
          chunk.copy(payload, filled, 0, take);
          filled += take;
          this.pendingBytes -= take;
          if (take < chunk.length) this.pending.unshift(chunk.subarray(take));
        }
        if (filled === payload.length)
          return finish(null, { ...header, payload });
        if (this.error) finish(this.error);
      };
      this.waiter = step;
      step();
    });
  }
}

/**
 * Child process pinned to CPU 1: one connection, `warmup` + `reps` messages,
 * each verified byte for byte; prints one JSON line.
 *
 * @param {Object} job {port, serverPid, kind, fragmentBytes, messageBytes, reps, warmup}
 */
async function runClient(job) {
  const payload =
    job.kind === 'text'
      ? textPayload(job.messageBytes)
      : binaryPayload(job.messageBytes);
  const opcode = job.kind === 'text' ? OPCODE_TEXT : OPCODE_BINARY;
  const { socket, leftover } = await connect(job.port);
  const reader = new EchoReader(socket, leftover);
  const idle = processMemory(job.serverPid);
  const roundTripMs = [];
  let before = null;
  let encodeMs = 0;
  for (let i = 0; i < job.warmup + job.reps; i++) {
    // Masking happens before the clock starts: only the wire and the server
    // are timed.
    const encodeStart = performance.now();
    const wire = encodeMessage(payload, opcode, job.fragmentBytes);
    encodeMs = performance.now() - encodeStart;
    if (i === job.warmup) {
      before = {
        serverTicks: processTicks(job.serverPid),
        cpus: cpuTicks(),
        clientCpu: process.cpuUsage()
      };
    }
    const start = performance.now();
    socket.write(wire);
    const frame = await reader.nextFrame(payload.length);
    const elapsed = performance.now() - start;
    if (!frame.fin || frame.opcode !== opcode)
      throw new Error(
        `echo ${i}: got opcode ${frame.opcode}, fin ${frame.fin}; ` +
          `expected one frame of opcode ${opcode}`
      );
    if (frame.payload.length !== payload.length)
      throw new Error(`echo ${i}: ${frame.payload.length} bytes`);
    if (!frame.payload.equals(payload)) {
      let at = 0;
      while (frame.payload[at] === payload[at]) at++;
      throw new Error(`echo ${i}: byte ${at} differs`);
    }
    if (i >= job.warmup) roundTripMs.push(elapsed);
  }
  const after = {
    serverTicks: processTicks(job.serverPid),
    cpus: cpuTicks(),
    clientCpu: process.cpuUsage(before.clientCpu)
  };
  const memory = processMemory(job.serverPid);
  const delta = (cpu) => ({
    busy: after.cpus[cpu].busy - before.cpus[cpu].busy,
    total: after.cpus[cpu].total - before.cpus[cpu].total
  });
  const cpu0 = delta('cpu0');
  const cpu1 = delta('cpu1');
  const serverTicks = after.serverTicks - before.serverTicks;
  const clientTicks =
    ((after.clientCpu.user + after.clientCpu.system) / 1e6) * job.clockTicks;

  // Close politely (RFC 6455 §5.5.1): masked close 1000, wait for the answer.
  const close = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
  crypto.randomFillSync(close, 2, 4);
  close[6] ^= close[2];
  close[7] ^= close[3];
  socket.write(close);
  let closeAnswered = false;
  try {
    closeAnswered = (await reader.nextFrame(125)).opcode === OPCODE_CLOSE;
  } catch {
    // The measurement is complete; a missing close answer does not void it.
  }
  socket.destroy();

  process.stdout.write(
    JSON.stringify({
      ok: true,
      closeAnswered,
      frames: Math.ceil(job.messageBytes / job.fragmentBytes),
      roundTripMs,
      encodeMs,
      serverCpuMs: (serverTicks * 1000) / job.clockTicks,
      serverCpuMsPerMessage: (serverTicks * 1000) / job.clockTicks / job.reps,
      // CPU 0's busy time not spent by the server, CPU 1's not spent by us.
      othersCpu0: cpu0.total ? (cpu0.busy - serverTicks) / cpu0.total : NaN,
      othersCpu1: cpu1.total ? (cpu1.busy - clientTicks) / cpu1.total : NaN,
      rssIdleKiB: idle.rssKiB,
      rssAfterKiB: memory.rssKiB,
      hwmKiB: memory.hwmKiB
    }) + '\n'
  );
}

// ------------------------------------------------------------------ parent

/**
 * Runs the client child (taskset -c 1) and returns its JSON line.
 *
 * @param {Object} job See runClient
 * @return {Promise<Object>}
 */
function runClientChild(job) {
  return new Promise((resolve) => {
    const child = spawn(
      'taskset',
      ['-c', '1', process.execPath, __filename, 'client', JSON.stringify(job)],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CLIENT_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop();
      try {
        const result = JSON.parse(line);
        if (result.ok) return resolve(result);
      } catch {
        // No JSON: the error is on stderr.
      }
      const error = stderr
        .trim()
        .split('\n')
        .find((l) => /Error/.test(l));
      resolve({
        ok: false,
        error: error || stderr.trim() || `client exited ${code} ${signal}`
      });
    });
  });
}

async function runOne(serverId, cell, options, clockTicks) {
  const server = await startServer(serverId);
  try {
    const result = await runClientChild({
      port: server.port,
      serverPid: server.pid,
      kind: cell.kind,
      fragmentBytes: cell.fragmentBytes,
      messageBytes: options.message,
      reps: options.reps,
      warmup: options.warmup,
      clockTicks
    });
    if (!result.ok && server.stderr())
      result.error += ` (server: ${server.stderr().trim().slice(0, 300)})`;
    return result;
  } finally {
    await server.stop();
  }
}

async function main() {
  const options = parseCli(process.argv.slice(2), {
    quick: false,
    servers: ['ws-native', 'ws+bu', 'ws'],
    fragments: [16384, 65536, 1048576],
    textFragments: [1048576],
    message: 16 * 1048576,
    reps: 5,
    warmup: 1,
    name: ''
  });
  const given = (flag) => process.argv.includes(flag);
  if (options.quick) {
    if (!given('--reps')) options.reps = 1;
    if (!given('--fragments')) options.fragments = [16384];
  }
  const name =
    options.name || (options.quick ? 'fragmented-quick' : 'fragmented');
  const cells = [
    ...options.fragments
      .filter((f) => f > 0)
      .map((f) => ({ kind: 'binary', fragmentBytes: f })),
    ...options.textFragments
      .filter((f) => f > 0)
      .map((f) => ({ kind: 'text', fragmentBytes: f }))
  ].map((cell) => ({
    ...cell,
    frames: Math.ceil(options.message / cell.fragmentBytes),
    label:
      `${sizeLabel(options.message)} ${cell.kind}, ` +
      `${Math.ceil(options.message / cell.fragmentBytes)} × ${sizeLabel(cell.fragmentBytes)}`
  }));
  if (options.reps < 1) throw new Error('--reps must be at least 1');

  const { servers, notes } = selectServers(options.servers);
  if (servers.includes('ws-native')) {
    const addon =
      bindingPath() ||
      path.join(__dirname, '..', 'build', 'Release', 'ws_native.node');
    if (fs.existsSync(addon))
      notes.push(
        `ws-native addon built ${fs.statSync(addon).mtime.toISOString()}`
      );
  }
  const clockTicks = clockTicksPerSecond();
  const loadStart = fs.readFileSync('/proc/loadavg', 'utf8').split(' ');
  const total = cells.length * servers.length;
  process.stderr.write(
    `fragmented: ${total} runs of ${options.warmup} + ${options.reps} messages\n`
  );

  const runs = [];
  for (let c = 0; c < cells.length; c++) {
    // Rotate the order per cell, so no server always goes first.
    const shift = c % servers.length;
    for (const id of servers.slice(shift).concat(servers.slice(0, shift))) {
      let result;
      try {
        result = await runOne(id, cells[c], options, clockTicks);
      } catch (error) {
        result = { ok: false, error: String(error.message) };
      }
      runs.push({ cell: cells[c].label, server: id, ...result });
      process.stderr.write(
        `[${runs.length}/${total}] ${cells[c].label} ${id}: ` +
          (result.ok
            ? `round trip ${fmt(median(result.roundTripMs))} ms, ` +
              `server CPU ${fmt(result.serverCpuMsPerMessage)} ms/msg, ` +
              `peak RSS ${fmt(result.hwmKiB / 1024)} MiB`
            : `ERROR ${result.error}`) +
          '\n'
      );
    }
  }

  const percent = (value) =>
    Number.isFinite(value) ? `${Math.max(0, Math.round(value * 100))}%` : '–';
  const summary = [];
  const rows = [];
  for (const cell of cells) {
    const stats = {};
    for (const id of servers) {
      const run = runs.find((r) => r.cell === cell.label && r.server === id);
      const ok = run && run.ok;
      stats[id] = {
        server: id,
        ok,
        error: ok ? '' : run ? run.error : 'not run',
        roundTripMs: ok ? median(run.roundTripMs) : NaN,
        roundTripMsAll: ok ? run.roundTripMs : [],
        serverCpuMsPerMessage: ok ? run.serverCpuMsPerMessage : NaN,
        peakRssMiB: ok ? run.hwmKiB / 1024 : NaN,
        rssAfterMiB: ok ? run.rssAfterKiB / 1024 : NaN,
        rssIdleMiB: ok ? run.rssIdleKiB / 1024 : NaN,
        othersCpu0: ok ? run.othersCpu0 : NaN,
        othersCpu1: ok ? run.othersCpu1 : NaN
      };
    }
    const base = stats[RATIO_BASE];
    const ratio = (s, key) => (base ? s[key] / base[key] : NaN);
    for (const id of servers) {
      const s = stats[id];
      s.roundTripRatio = ratio(s, 'roundTripMs');
      s.cpuRatio = ratio(s, 'serverCpuMsPerMessage');
      s.peakRssRatio = ratio(s, 'peakRssMiB');
      rows.push([
        cell.label,
        SERVERS[id].label,
        fmt(s.roundTripMs),
        fmtRatio(s.roundTripRatio),
        fmt(s.serverCpuMsPerMessage),
        fmtRatio(s.cpuRatio),
        fmt(s.peakRssMiB),
        fmtRatio(s.peakRssRatio),
        fmt(s.rssAfterMiB),
        `${percent(s.othersCpu0)} / ${percent(s.othersCpu1)}`,
        s.ok ? '0' : s.error.slice(0, 120).replace(/\|/g, '/')
      ]);
    }
    summary.push({ cell, rows: servers.map((id) => stats[id]) });
  }

  const machine = machineInfo();
  const command =
    `node bench/fragmented.js ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = [
    ...reportHead(
      `A fragmented ${sizeLabel(options.message)} message, echoed (${name})`,
      command,
      `Load average ${loadStart.slice(0, 3).join(' ')} at start. ` +
        `A raw client on CPU 1 sends one ${sizeLabel(options.message)} message as masked fragments (a fresh key per frame); ` +
        'the echo server on CPU 0 answers with one frame; every echoed byte is verified. ' +
        `One fresh server per row: ${options.warmup} warmup message(s), then ${options.reps} measured. ` +
        'Round trip: median, first byte written to last echoed byte read. ' +
        `Server CPU: utime + stime of the server process over the measured messages ÷ ${options.reps} (${clockTicks} ticks/s, so ${fmt(1000 / clockTicks / options.reps)} ms resolution). ` +
        "Peak RSS: the server's VmHWM (its whole life, warmup included); RSS after: VmRSS right after the last echo, no GC forced. " +
        '"vs ws+bu" = this server ÷ ws + bufferutil + utf-8-validate in the same run: lower is better for all three. ' +
        '"others on CPU 0/1": share of the pinned CPUs used by neither the server nor the client while measuring.',
      notes,
      machine
    ),
    markdownTable(
      [
        'message',
        'server',
        'round trip ms',
        'vs ws+bu',
        'server CPU ms/msg',
        'vs ws+bu',
        'peak RSS MiB',
        'vs ws+bu',
        'RSS after MiB',
        'others on CPU 0/1',
        'errors'
      ],
      rows
    )
  ].join('\n');
  writeResults(
    name,
    {
      name,
      command,
      machine,
      loadavg: loadStart.slice(0, 3).join(' '),
      clockTicks,
      options,
      notes,
      cells,
      servers,
      summary,
      runs
    },
    markdown
  );
  process.stdout.write(
    `\n${markdown}\nfragmented: wrote bench/results/${name}.{json,md}\n`
  );
  if (runs.some((r) => !r.ok)) process.exitCode = 1;
}

if (process.argv[2] === 'client') {
  runClient(JSON.parse(process.argv[3])).catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  });
} else {
  main().catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  });
}
