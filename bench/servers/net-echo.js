'use strict';

// The floor: a raw net.Socket server that answers the opening handshake
// (RFC 6455 §4.2.2) and then writes every received byte straight back. No
// frame parsing, no unmasking, no UTF-8 check, no zlib: what is left is the
// cost of Node's net stack. The load generator is run with --accept-masked,
// since the echoed frames are its own masked ones. With --deflate it accepts
// permessage-deflate without parameters, so the echoed compressed frames are
// the client's own deflate stream, which the client can inflate.
//
//   node bench/servers/net-echo.js [--deflate] [--port 0] [--host 127.0.0.1]

const crypto = require('crypto');
const net = require('net');

const { announce, parseArgs } = require('./common');

const options = parseArgs(process.argv.slice(2), {
  deflate: false,
  port: 0,
  host: '127.0.0.1'
});

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD_BYTES = 16 * 1024;

let connections = 0;
let errors = 0;

/**
 * Answers the upgrade request in `head` on `socket`; false when it is not one.
 *
 * @param {net.Socket} socket The client socket
 * @param {string} head The request head, up to the blank line
 * @return {boolean} true if the connection was upgraded
 */
function upgrade(socket, head) {
  const key = /^sec-websocket-key:[ \t]*(\S+)[ \t]*$/im.exec(head);
  if (!key || !/^GET /.test(head)) return false;
  const accept = crypto
    .createHash('sha1')
    .update(key[1] + GUID)
    .digest('base64');
  const offersDeflate = /^sec-websocket-extensions:.*permessage-deflate/im.test(
    head
  );
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
      (options.deflate && offersDeflate
        ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n'
        : '') +
      '\r\n'
  );
  return true;
}

const server = net.createServer((socket) => {
  connections++;
  socket.setNoDelay(true);
  let head = '';
  const onHead = (chunk) => {
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > MAX_HEAD_BYTES) socket.destroy();
      return;
    }
    socket.off('data', onHead);
    if (!upgrade(socket, head.slice(0, end))) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const rest = Buffer.from(head.slice(end + 4), 'latin1');
    if (rest.length > 0) socket.write(rest);
    socket.on('data', (data) => socket.write(data));
  };
  socket.on('data', onHead);
  socket.on('error', () => {
    errors++;
  });
  socket.on('close', () => {
    connections--;
  });
});

server.listen(options.port, options.host, () => {
  announce(
    {
      port: server.address().port,
      impl: 'net',
      mode: 'echo',
      deflate: options.deflate
    },
    () => ({ connections, errors })
  );
});
