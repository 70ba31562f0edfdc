// The ES module entry point: ws's named exports and default export. It goes
// through index.js so that the default export carries the same static
// properties (WebSocket.Server, WebSocket.wrap, ...) as require() gives.
import WebSocket from './index.js';

const {
  createWebSocketStream,
  extension,
  PerMessageDeflate,
  Receiver,
  Sender,
  subprotocol,
  WebSocketServer
} = WebSocket;

export {
  createWebSocketStream,
  extension,
  PerMessageDeflate,
  Receiver,
  Sender,
  subprotocol,
  WebSocket,
  WebSocketServer
};

export default WebSocket;
