'use strict';

// A chat room: Express serves the page from public/, and a WebSocketServer in
// noServer mode shares the same HTTP server, taking the upgrade requests for
// /chat. Every message is broadcast to everyone in the room. Run
// `node examples/express-chat/server.js` (PORT sets the port, default 3000)
// and open http://localhost:3000 in two browser tabs.

const http = require('http');
const path = require('path');
const express = require('express');

const { WebSocket, WebSocketServer } = require('../..');

const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);

const app = express();
app.use(express.static(path.join(__dirname, 'public')));

const server = http.createServer(app);
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
let nextId = 1;

server.on('upgrade', (request, socket, head) => {
  const { pathname } = new URL(request.url, 'http://localhost');
  if (pathname !== '/chat') {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => {
    wss.emit('connection', ws, request);
  });
});

/**
 * Sends a chat event to everyone connected.
 *
 * @param {Object} event The event, sent as JSON text
 */
function broadcast(event) {
  const text = JSON.stringify(event);
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) client.send(text);
  }
}

wss.on('connection', (ws) => {
  const name = `guest-${nextId++}`;
  ws.on('error', console.error);
  ws.send(JSON.stringify({ type: 'welcome', name }));
  broadcast({ type: 'join', name });

  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    broadcast({ type: 'message', name, text: data.toString() });
  });
  ws.on('close', () => broadcast({ type: 'leave', name }));
});

server.listen(port, () => {
  console.log(`chat listening on http://localhost:${server.address().port}`);
});

function shutdown() {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  wss.close();
  server.close(() => process.exit(0));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
