// Two in-memory Duplex streams wired back to back, a stand-in for a TCP connection that keeps
// every write as its own 'data' chunk on the other side (so chunk splits are exact). Node core only.

import { Duplex } from 'node:stream';

/**
 * Creates two connected streams: what is written to one is read from the other. end() on one
 * ends the other's readable side (a FIN); destroy() on one ends the other's readable side too,
 * as a reset connection would look to a reader.
 *
 * @return {[Duplex, Duplex]}
 */
export function duplexPair() {
  const ends = [];
  const make = (index) => {
    const other = () => ends[1 - index];
    return new Duplex({
      read() {},
      write(chunk, encoding, callback) {
        const peer = other();
        // A copy: the writer may reuse its buffer, as a kernel socket buffer would not see.
        if (!peer.destroyed && !peer.readableEnded)
          peer.push(Buffer.from(chunk));
        callback();
      },
      writev(chunks, callback) {
        const peer = other();
        if (!peer.destroyed && !peer.readableEnded) {
          peer.push(Buffer.concat(chunks.map(({ chunk }) => chunk)));
        }
        callback();
      },
      final(callback) {
        const peer = other();
        if (!peer.destroyed) peer.push(null);
        callback();
      },
      destroy(error, callback) {
        const peer = other();
        if (!peer.destroyed && !peer.readableEnded) peer.push(null);
        callback(error);
      }
    });
  };
  ends.push(make(0), make(1));
  return ends;
}
