'use strict';

// Echo (or broadcast) server written once against the ws API and run with
// three engines: `ws` alone (WS_NO_BUFFER_UTIL=1, WS_NO_UTF_8_VALIDATE=1),
// `ws` with bufferutil + utf-8-validate, and ws-native. The code is identical
// for all three: that is the drop-in claim being measured.
//
//   node bench/servers/ws-echo.js --impl ws|ws-bufferutil|ws-native
//       [--deflate] [--deflate-level L] [--mode echo|broadcast] [--port 0]
//       [--host 127.0.0.1]

const path = require('path');

const { announce, parseArgs } = require('./common');

const options = parseArgs(process.argv.slice(2), {
  impl: 'ws-bufferutil',
  deflate: false,
  deflateLevel: -2,
  mode: 'echo',
  port: 0,
  host: '127.0.0.1'
});

if (options.impl === 'ws') {
  // ws reads these when its modules load, so they must be set before require.
  process.env.WS_NO_BUFFER_UTIL = '1';
  process.env.WS_NO_UTF_8_VALIDATE = '1';
} else if (options.impl === 'ws-bufferutil') {
  delete process.env.WS_NO_BUFFER_UTIL;
  delete process.env.WS_NO_UTF_8_VALIDATE;
  // Fail loudly rather than silently measure plain ws under this name.
  require('bufferutil');
} else if (options.impl !== 'ws-native') {
  throw new Error(`unknown --impl ${options.impl}`);
}
if (options.mode !== 'echo' && options.mode !== 'broadcast') {
  throw new Error(`unknown --mode ${options.mode}`);
}

const WebSocket =
  options.impl === 'ws-native'
    ? require(path.join(__dirname, '..', '..'))
    : require('ws');

let errors = 0;
let lastError = '';

const wss = new WebSocket.WebSocketServer({
  host: options.host,
  port: options.port,
  // --deflate-level sets zlibDeflateOptions.level; otherwise each library's
  // default (ws: zlib's 6, ws-native: 1).
  perMessageDeflate:
    options.deflate && options.deflateLevel !== -2
      ? { zlibDeflateOptions: { level: options.deflateLevel } }
      : options.deflate
});

wss.on('connection', (ws) => {
  ws.on('error', (error) => {
    errors++;
    lastError = String(error && error.message);
  });
  if (options.mode === 'echo') {
    ws.on('message', (data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
  } else {
    // The idiomatic ws broadcast: one send() per client, sender included.
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN)
          client.send(data, { binary: isBinary });
      }
    });
  }
});

wss.on('listening', () => {
  announce(
    {
      port: wss.address().port,
      impl: options.impl,
      mode: options.mode,
      deflate: options.deflate
    },
    () => ({ connections: wss.clients.size, errors, lastError })
  );
});
