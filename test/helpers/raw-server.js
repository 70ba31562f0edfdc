// A WebSocket server made of a bare TCP listener: it answers the opening handshake by hand and
// then sends and reads frame bytes, so client-role conformance tests see exactly what a client
// implementation puts on the wire. Depends only on Node core and the sibling helpers.

import net from 'node:net';

import {
  acceptFor,
  parseHead,
  RawConnection,
  readHead,
  within
} from './raw-client.js';

const servers = new Set();

/**
 * Closes every raw server still listening (call from afterEach).
 */
export function closeRawServers() {
  for (const server of servers) server.close();
  servers.clear();
}

/**
 * Listens on an ephemeral port. Each upgrade request is answered by `respond` and, when the
 * answer is a 101, becomes a RawConnection (role 'server') delivered by accept().
 *
 * @param {Object} [options]
 * @param {function(Object): (Object|string)} [options.respond] Given the request ({ method, path,
 *     headers }), returns extra response headers for a 101 (an object), or a whole raw response
 *     (a string) to send instead, or null to never answer. Default: a plain 101 with no extension
 *     and no subprotocol.
 * @return {Promise<{ port: number, url: string, accept: function(number=): Promise<RawConnection>,
 *     requests: Object[], close: function() }>}
 */
export async function listenRaw({ respond = () => ({}) } = {}) {
  const pending = [];
  const waiting = [];
  const requests = [];
  const sockets = new Set();

  const server = net.createServer({ allowHalfOpen: true }, async (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    let head;
    try {
      head = await readHead(socket);
    } catch {
      socket.destroy();
      return;
    }
    if (head.head === null) return;
    const { startLine, headers } = parseHead(head.head);
    const [method, path] = startLine.split(' ');
    const request = { method, path, headers };
    requests.push(request);

    const answer = respond(request);
    // null: never answer (a server that hangs mid-handshake); the socket stays open.
    if (answer === null) return;
    if (typeof answer === 'string') {
      socket.end(answer);
      return;
    }
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(headers['sec-websocket-key'])}`
    ];
    for (const [name, value] of Object.entries(answer)) {
      if (value !== undefined && value !== null)
        lines.push(`${name}: ${value}`);
    }
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const connection = new RawConnection(socket, 'server', head.leftover);
    connection.request = request;
    socket.resume();
    const next = waiting.shift();
    if (next) next(connection);
    else pending.push(connection);
  });
  servers.add(server);

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    requests,
    /**
     * The next upgraded connection.
     *
     * @param {number} [ms=3000]
     * @return {Promise<RawConnection>}
     */
    accept(ms = 3000) {
      if (pending.length) return Promise.resolve(pending.shift());
      return within(
        new Promise((resolve) => waiting.push(resolve)),
        ms,
        'a client to connect to the raw server'
      );
    },
    close() {
      for (const socket of sockets) socket.destroy();
      servers.delete(server);
      server.close();
    }
  };
}
