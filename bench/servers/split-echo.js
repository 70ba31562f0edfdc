'use strict';

// A deliberately awkward echo server for checking the load generator itself
// (bench/loadgen/selftest.js), not for timing. It parses client frames,
// then echoes each message split into random fragments (RFC 6455 §5.4) with
// pings between them (§5.5.2, answered pongs are checked), and writes the
// bytes in random small pieces so the client's reads split anywhere. Faults
// on request prove the load generator notices them.
//
//   node bench/servers/split-echo.js [--max-fragment 5] [--max-chunk 7]
//       [--deflate] [--client-window-bits N] [--corrupt N] [--reorder N]
//       [--bad-accept] [--masked] [--rsv1] [--port 0]

const crypto = require('crypto');
const net = require('net');
const zlib = require('zlib');

const { announce, parseArgs } = require('./common');

const options = parseArgs(process.argv.slice(2), {
  maxFragment: 5,
  maxChunk: 7,
  deflate: false,
  // With --deflate: answer client_max_window_bits=N and
  // client_no_context_takeover, then inflate every message within that window
  // (0: no parameters, no inflating).
  clientWindowBits: 0,
  corrupt: 0,
  reorder: 0,
  badAccept: false,
  masked: false,
  rsv1: false,
  port: 0,
  host: '127.0.0.1'
});
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const stats = {
  messages: 0,
  pingsSent: 0,
  pongsOk: 0,
  pongsBad: 0,
  protocolErrors: 0
};

/**
 * Builds one server frame.
 *
 * @param {boolean} fin FIN bit
 * @param {boolean} rsv1 RSV1 bit
 * @param {number} opcode Opcode
 * @param {Buffer} payload Payload (copied)
 * @return {Buffer} The frame
 */
function frame(fin, rsv1, opcode, payload) {
  const length = payload.length;
  const extra = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const maskBytes = options.masked ? 4 : 0;
  const out = Buffer.alloc(2 + extra + maskBytes + length);
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  out[1] =
    (options.masked ? 0x80 : 0) |
    (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) out.writeUInt16BE(length, 2);
  if (extra === 8) out.writeBigUInt64BE(BigInt(length), 2);
  const key = crypto.randomBytes(4);
  if (options.masked) key.copy(out, 2 + extra);
  for (let i = 0; i < length; i++) {
    out[2 + extra + maskBytes + i] = options.masked
      ? payload[i] ^ key[i & 3]
      : payload[i];
  }
  return out;
}

/**
 * Incremental parser of masked client frames.
 *
 * @param {function(Object): void} onFrame Called with {fin, rsv1, opcode, payload}
 * @return {function(Buffer): void} Feeds a chunk
 */
function clientFrameParser(onFrame) {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length > 0 ? Buffer.concat([buffered, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      if (buffered.length - offset < 2) break;
      const b0 = buffered[offset];
      const b1 = buffered[offset + 1];
      let length = b1 & 0x7f;
      let pos = offset + 2;
      if (length === 126) {
        if (buffered.length < pos + 2) break;
        length = buffered.readUInt16BE(pos);
        pos += 2;
      } else if (length === 127) {
        if (buffered.length < pos + 8) break;
        length = Number(buffered.readBigUInt64BE(pos));
        pos += 8;
      }
      if ((b1 & 0x80) === 0) throw new Error('unmasked client frame');
      if (buffered.length < pos + 4 + length) break;
      const key = buffered.subarray(pos, pos + 4);
      pos += 4;
      const payload = Buffer.from(buffered.subarray(pos, pos + length));
      for (let i = 0; i < length; i++) payload[i] ^= key[i & 3];
      onFrame({
        fin: (b0 & 0x80) !== 0,
        rsv1: (b0 & 0x40) !== 0,
        opcode: b0 & 0x0f,
        payload
      });
      offset = pos + length;
    }
    buffered = buffered.subarray(offset);
  };
}

const randomInt = (max) => 1 + Math.floor(Math.random() * max);

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const output = [];
  let pumping = false;
  // Writes the queue a few random bytes at a time, one piece per turn of the
  // event loop, so TCP carries them as separate segments.
  const pump = () => {
    if (output.length === 0 || socket.destroyed) {
      pumping = false;
      return;
    }
    const head = output[0];
    const size = Math.min(head.length, randomInt(options.maxChunk));
    socket.write(head.subarray(0, size));
    if (size === head.length) output.shift();
    else output[0] = head.subarray(size);
    setImmediate(pump);
  };
  const send = (buffer) => {
    output.push(buffer);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  };

  const pings = [];
  const writeMessage = (opcode, compressed, payload) => {
    let offset = 0;
    let first = true;
    do {
      const size = Math.min(
        payload.length - offset,
        randomInt(options.maxFragment)
      );
      const last = offset + size === payload.length;
      send(
        frame(
          last,
          (first && compressed) || options.rsv1,
          first ? opcode : 0,
          payload.subarray(offset, offset + size)
        )
      );
      if (!last && Math.random() < 0.3) {
        const ping = crypto.randomBytes(randomInt(16));
        pings.push(ping);
        stats.pingsSent++;
        send(frame(true, false, 0x9, ping));
      }
      offset += size;
      first = false;
    } while (offset < payload.length);
  };
  let held = null;
  const echo = (opcode, compressed, payload) => {
    stats.messages++;
    if (stats.messages === options.corrupt)
      payload[payload.length >> 1] ^= 0x20;
    if (stats.messages === options.reorder) {
      held = [opcode, compressed, payload];
      return;
    }
    writeMessage(opcode, compressed, payload);
    if (held) {
      writeMessage(...held);
      held = null;
    }
  };

  let message = null;
  const parse = clientFrameParser(({ fin, rsv1, opcode, payload }) => {
    if (opcode === 0xa) {
      const expected = pings.shift();
      if (expected && expected.equals(payload)) stats.pongsOk++;
      else stats.pongsBad++;
      return;
    }
    if (opcode === 0x8) {
      socket.end(frame(true, false, 0x8, payload.subarray(0, 2)));
      return;
    }
    if (opcode === 0x9) {
      send(frame(true, false, 0xa, payload));
      return;
    }
    if (opcode !== 0) message = { opcode, compressed: rsv1, parts: [] };
    if (!message) {
      stats.protocolErrors++;
      socket.destroy();
      return;
    }
    message.parts.push(payload);
    if (fin) {
      const whole = Buffer.concat(message.parts);
      if (message.compressed && options.clientWindowBits) {
        // Each message must inflate on its own within the window asked for.
        try {
          zlib.inflateRawSync(Buffer.concat([whole, DEFLATE_TAIL]), {
            windowBits: options.clientWindowBits,
            // A message ends with a sync flush, not a final block.
            finishFlush: zlib.constants.Z_SYNC_FLUSH,
            // Small outputs, so zlib keeps no more history than the window
            // and a distance beyond it fails.
            chunkSize: 64
          });
        } catch {
          stats.protocolErrors++;
        }
      }
      echo(message.opcode, message.compressed, whole);
      message = null;
    }
  });

  let head = '';
  const onHead = (chunk) => {
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.off('data', onHead);
    const key = /^sec-websocket-key:[ \t]*(\S+)/im.exec(head);
    let accept = crypto
      .createHash('sha1')
      .update((key ? key[1] : '') + GUID)
      .digest('base64');
    if (options.badAccept)
      accept = accept.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const offersDeflate =
      /^sec-websocket-extensions:.*permessage-deflate/im.test(head);
    // Written whole: the head is not what is being split here.
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
        (options.deflate && offersDeflate
          ? 'Sec-WebSocket-Extensions: permessage-deflate' +
            (options.clientWindowBits
              ? `; client_max_window_bits=${options.clientWindowBits}` +
                '; client_no_context_takeover'
              : '') +
            '\r\n'
          : '') +
        '\r\n'
    );
    const rest = Buffer.from(head.slice(end + 4), 'latin1');
    socket.on('data', (data) => {
      try {
        parse(data);
      } catch {
        stats.protocolErrors++;
        socket.destroy();
      }
    });
    if (rest.length > 0) socket.emit('data', rest);
  };
  socket.on('data', onHead);
  socket.on('error', () => {});
});

server.listen(options.port, options.host, () => {
  announce(
    { port: server.address().port, impl: 'split-echo', mode: 'echo' },
    () => ({
      ...stats
    })
  );
});
