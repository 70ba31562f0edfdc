// Runs inside Chromium (served by browser.test.js): the page's own WebSocket objects, driven by
// the test through Runtime.evaluate. Payloads are generated here with the same pattern the Node
// side uses, and received messages are reported as kind, size and SHA-256, so 16 MiB messages
// never cross the DevTools pipe.
'use strict';

(() => {
  const sockets = new Map();
  let nextId = 1;

  /** Byte i is (seed + i % 251) & 0xff: a prime cycle that never lines up with frame sizes. */
  function pattern(size, seed) {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = (seed + (i % 251)) & 0xff;
    return out;
  }

  /** A text of exactly `size` UTF-8 bytes, ending in a 2-byte character. */
  function textOf(size, seed) {
    const letter = String.fromCharCode(97 + (seed % 26));
    return size >= 2 ? letter.repeat(size - 2) + 'é' : 'y'.repeat(size);
  }

  async function sha256(bytes) {
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return Array.from(new Uint8Array(digest), (b) =>
      b.toString(16).padStart(2, '0')
    ).join('');
  }

  async function summarise(data) {
    if (typeof data === 'string') {
      const bytes = new TextEncoder().encode(data);
      return { kind: 'text', size: bytes.length, sha256: await sha256(bytes) };
    }
    if (data instanceof Blob) {
      const bytes = new Uint8Array(await data.arrayBuffer());
      return { kind: 'blob', size: bytes.length, sha256: await sha256(bytes) };
    }
    const bytes = new Uint8Array(data);
    return {
      kind: 'arraybuffer',
      size: bytes.length,
      sha256: await sha256(bytes)
    };
  }

  function entry(id) {
    const found = sockets.get(id);
    if (!found) throw new Error(`no socket ${id}`);
    return found;
  }

  window.harness = {
    /** Opens a WebSocket; resolves once open with what was negotiated. */
    open(url, protocols, binaryType = 'arraybuffer') {
      return new Promise((resolve, reject) => {
        const ws = protocols
          ? new WebSocket(url, protocols)
          : new WebSocket(url);
        ws.binaryType = binaryType;
        const id = nextId++;
        const record = { ws, messages: [], waiters: [], closed: null };
        record.closedPromise = new Promise((done) => {
          ws.onclose = (event) => {
            record.closed = {
              code: event.code,
              reason: event.reason,
              wasClean: event.wasClean
            };
            done(record.closed);
            if (ws.readyState === WebSocket.CLOSED && !record.opened) {
              reject(new Error(`closed before open: ${event.code}`));
            }
          };
        });
        // Summaries are taken in arrival order (each awaits its own digest).
        let chain = Promise.resolve();
        ws.onmessage = (event) => {
          const summary = summarise(event.data);
          chain = chain.then(async () => {
            const value = await summary;
            const waiter = record.waiters.shift();
            if (waiter) waiter(value);
            else record.messages.push(value);
          });
        };
        ws.onopen = () => {
          record.opened = true;
          sockets.set(id, record);
          resolve({ id, protocol: ws.protocol, extensions: ws.extensions });
        };
      });
    },

    /** Sends pattern data: kind 'text', 'arraybuffer', 'view' (a Uint8Array) or 'blob'. */
    send(id, kind, size, seed) {
      const { ws } = entry(id);
      if (kind === 'text') ws.send(textOf(size, seed));
      else if (kind === 'arraybuffer') ws.send(pattern(size, seed).buffer);
      else if (kind === 'view') {
        // A view that does not start at its buffer's offset 0: only the view's bytes may go out.
        const backing = new Uint8Array(size + 6).fill(0xee);
        backing.set(pattern(size, seed), 3);
        ws.send(backing.subarray(3, 3 + size));
      } else if (kind === 'blob') ws.send(new Blob([pattern(size, seed)]));
      else throw new Error(`unknown kind ${kind}`);
      return ws.bufferedAmount;
    },

    /** The next message's summary ({kind, size, sha256}). */
    next(id, ms = 30000) {
      const record = entry(id);
      if (record.messages.length)
        return Promise.resolve(record.messages.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('no message in time')),
          ms
        );
        record.waiters.push((value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },

    /** Expected summaries, computed in the page from the same pattern. */
    async expected(kind, size, seed) {
      if (kind === 'text') return summarise(textOf(size, seed));
      return { ...(await summarise(pattern(size, seed).buffer)), kind };
    },

    close(id, code, reason) {
      const { ws } = entry(id);
      if (code === undefined) ws.close();
      else ws.close(code, reason);
      return ws.readyState;
    },

    /** Resolves with {code, reason, wasClean} of the close event. */
    closed(id) {
      return entry(id).closedPromise;
    }
  };
})();
