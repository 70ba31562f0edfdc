'use strict';

// An echo server: every message comes back to its sender, text as text and
// binary as binary. Run `node examples/echo-server.js` (PORT sets the port,
// default 8080; PORT=0 picks a free one) and connect any WebSocket client.

const { WebSocketServer } = require('..');

const port = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);

const wss = new WebSocketServer({ port }, () => {
  console.log(`echo server listening on ws://localhost:${wss.address().port}`);
});

wss.on('connection', (ws) => {
  ws.on('error', console.error);
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});

// Stop accepting, say goodbye (1001 Going Away, RFC 6455 §7.4.1) and exit
// once every connection is closed.
function shutdown() {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  wss.close(() => process.exit(0));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
