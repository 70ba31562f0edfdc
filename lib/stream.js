'use strict';

const { Duplex } = require('stream');

/**
 * Emits `'close'` on a stream (the duplex is built with `emitClose: false`
 * and says it is closed only once the WebSocket is).
 *
 * @param {Duplex} stream The stream
 * @private
 */
function emitClose(stream) {
  stream.emit('close');
}

/**
 * The duplex's `'end'` listener: when both sides are done, release it.
 *
 * @private
 */
function onDuplexEnd() {
  if (!this.destroyed && this._writableState.finished) this.destroy();
}

/**
 * The duplex's own first `'error'` listener: destroys the stream, and re-emits
 * the error when the user has no listener so that it is not swallowed.
 *
 * @param {Error} err The error
 * @private
 */
function onDuplexError(err) {
  this.removeListener('error', onDuplexError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', err);
}

/**
 * Wraps a `WebSocket` in a duplex stream. Each message becomes a readable
 * chunk (text as a string only in readable object mode), each written chunk
 * is sent as one message. Backpressure pauses the WebSocket; destroying the
 * stream terminates it; `end()` closes it once it is open.
 *
 * @param {WebSocket} ws The `WebSocket` to wrap
 * @param {Object} [options] The options for the `Duplex` constructor;
 *     `autoDestroy`, `emitClose`, `objectMode` and `writableObjectMode` are
 *     forced to `false`
 * @return {Duplex} The duplex stream
 * @public
 */
function createWebSocketStream(ws, options) {
  // After a WebSocket error the WebSocket already closes itself (with a close
  // frame); terminating it on destroy would cut that frame off.
  let terminateOnDestroy = true;

  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false
  });

  ws.on('message', (data, isBinary) => {
    const chunk =
      !isBinary && duplex._readableState.objectMode ? data.toString() : data;
    if (!duplex.push(chunk)) ws.pause();
  });

  ws.once('error', (err) => {
    if (duplex.destroyed) return;
    terminateOnDestroy = false;
    duplex.destroy(err);
  });

  ws.once('close', () => {
    if (!duplex.destroyed) duplex.push(null);
  });

  duplex._destroy = (err, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(err);
      process.nextTick(emitClose, duplex);
      return;
    }

    let errored = false;
    ws.once('error', (wsError) => {
      errored = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!errored) callback(err);
      process.nextTick(emitClose, duplex);
    });

    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }

    // A client whose handshake failed never gets a socket; its 'error' event
    // destroys the duplex.
    if (ws._socket === null) return;

    if (ws._socket.writableFinished) {
      callback();
      if (duplex._readableState.endEmitted) duplex.destroy();
      return;
    }

    // The readable side ends (push(null)) when the WebSocket emits 'close',
    // after this 'finish'; onDuplexEnd then destroys the duplex.
    ws._socket.once('finish', () => callback());
    ws.close();
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk, encoding, callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', onDuplexEnd);
  duplex.on('error', onDuplexError);
  return duplex;
}

module.exports = createWebSocketStream;
