'use strict';

// Two Node endpoints speaking WebSocket over a plain TCP connection, with no
// HTTP handshake: each side wraps its socket with WebSocket.wrap(). The roles
// and the permessage-deflate parameters are agreed in advance (here: in this
// file) instead of negotiated.
//
//   node examples/peer-to-peer.js                 both sides in one process
//   node examples/peer-to-peer.js server [port]   the listening side (port 8081;
//                                                 0 picks a free one)
//   node examples/peer-to-peer.js client [port] [host]
//
// The listening side takes the server role; the connecting side the client
// role (it masks its frames, RFC 6455 §5.3). The client sends a few messages,
// the server answers each one, and the client closes.

const net = require('net');

const WebSocket = require('..');

const AGREED = {
  protocol: 'peer-demo',
  perMessageDeflate: { serverNoContextTakeover: true, clientMaxWindowBits: 12 }
};

/**
 * Accepts TCP connections and runs the server role on each.
 *
 * @param {Number} port The port (0: a free one)
 * @param {Function} onListening Called with the bound port
 * @return {net.Server} The TCP server
 */
function startServer(port, onListening) {
  const server = net.createServer((socket) => {
    const ws = WebSocket.wrap(socket, { ...AGREED, isServer: true });
    ws.on('error', console.error);
    ws.on('message', (data) => {
      console.log(`server got: ${data}`);
      ws.send(`echo: ${data}`);
    });
    ws.on('close', (code) => {
      console.log(`server saw close ${code}`);
      server.close();
    });
  });
  server.listen(port, () => {
    console.log(`peer server listening on port ${server.address().port}`);
    onListening(server.address().port);
  });
  return server;
}

/**
 * Connects and runs the client role.
 *
 * @param {Number} port The server's port
 * @param {String} host The server's host
 */
function startClient(port, host) {
  const socket = net.connect(port, host);
  const ws = WebSocket.wrap(socket, { ...AGREED, isServer: false });
  const lines = ['hello', 'over plain TCP', 'goodbye'];
  let answered = 0;

  ws.on('error', console.error);
  ws.on('message', (data) => {
    console.log(`client got: ${data}`);
    if (++answered === lines.length) ws.close(1000, 'done');
  });
  ws.on('close', (code, reason) => {
    console.log(`client closed ${code} ${reason}`);
  });
  // The socket may still be connecting: writes wait in its buffer.
  for (const line of lines) ws.send(line);
}

const [mode, portArg, host = '127.0.0.1'] = process.argv.slice(2);
const port = portArg === undefined ? undefined : Number(portArg);

if (mode === 'server') {
  startServer(port ?? 8081, () => {});
} else if (mode === 'client') {
  startClient(port ?? 8081, host);
} else if (mode === undefined) {
  startServer(0, (boundPort) => startClient(boundPort, '127.0.0.1'));
} else {
  console.error(
    'usage: node examples/peer-to-peer.js [server|client] [port] [host]'
  );
  process.exitCode = 2;
}
