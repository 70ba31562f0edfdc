// Hostile input: a peer that completes the handshake and then never reads. The sender's memory must
// stay within what the application chose to queue: bufferedAmount has to count every byte not yet
// handed to the kernel (framing included, RFC 6455 §5.2), so ws's documented backpressure pattern
// (send only while bufferedAmount < LIMIT) bounds the queue; and every send() callback must run
// exactly once however the connection ends (peer reset, terminate()). Real loopback TCP, run
// against ws and ws-native; the kernel buffers are filled by sending until bufferedAmount stops
// draining (no setsockopt).

import v8 from 'node:v8';
import vm from 'node:vm';

import { afterEach, expect, it } from 'vitest';

import {
  cleanup,
  recordEvents,
  sleep,
  startServer,
  within
} from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';
import { connectRaw } from '../helpers/raw-client.js';

afterEach(cleanup);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * Generous bound on what the kernel can hold for one loopback connection (the sender's send
 * buffer plus the peer's receive buffer; Linux autotunes each to a few MiB at most).
 */
const KERNEL_BOUND = 16 * MIB;

/**
 * Live heap plus memory held outside it (Buffers), after full collections, once two readings a
 * few milliseconds apart agree within 256 KiB (freed backing stores are released lazily).
 *
 * @return {Promise<number>}
 */
async function retainedBytes() {
  let last = -Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    gc();
    const usage = process.memoryUsage();
    const now = usage.heapUsed + usage.external;
    if (Math.abs(now - last) < 256 * KIB) return now;
    last = now;
    await sleep(10);
  }
  return last;
}

/**
 * The size of the header of an unmasked frame carrying `payloadBytes` (RFC 6455 §5.2: 7-bit,
 * 16-bit or 64-bit extended payload length).
 *
 * @param {number} payloadBytes
 * @return {number}
 */
function headerBytes(payloadBytes) {
  if (payloadBytes < 126) return 2;
  if (payloadBytes < 65536) return 4;
  return 10;
}

/**
 * A server socket whose peer (a raw TCP client) completed the handshake and then stopped reading.
 *
 * @param {Object} impl
 * @return {Promise<{ ws: Object, raw: Object, events: Object }>}
 */
async function openStalledPeer(impl) {
  const server = await startServer(impl);
  const connection = server.connection();
  const raw = await connectRaw(server.port);
  // The peer never reads again: once Node's small read buffer is full it stops reading the fd,
  // so the kernel receive buffer, then the sender's send buffer, fill up.
  raw.socket.pause();
  const ws = await connection;
  const events = recordEvents(ws);
  return { ws, raw, events };
}

/**
 * Counts the calls of every send() callback handed out, with the error each call got.
 */
class CallbackLedger {
  constructor() {
    this.calls = [];
  }

  /** @return {Function} a callback recording its calls in a new entry */
  next() {
    const record = [];
    this.calls.push(record);
    return (error) => {
      record.push(error === undefined || error === null ? null : error);
    };
  }

  get issued() {
    return this.calls.length;
  }

  /** Number of callbacks called at least once. */
  get called() {
    return this.calls.filter((record) => record.length > 0).length;
  }

  /** Number of callbacks called more than once. */
  get calledTwice() {
    return this.calls.filter((record) => record.length > 1).length;
  }

  get errored() {
    return this.calls.filter((record) => record.length && record[0] !== null)
      .length;
  }
}

/**
 * Sends binary chunks until at least `pendingBytes` are queued and bufferedAmount no longer
 * changes over several polls: the kernel then takes nothing more, so every byte sent from now on
 * stays in bufferedAmount.
 *
 * @param {Object} ws
 * @param {CallbackLedger} ledger
 * @param {number} [pendingBytes]
 * @return {Promise<{ accepted: number }>} payload bytes passed to send()
 */
async function fillUntilStalled(ws, ledger, pendingBytes = 512 * KIB) {
  const chunkBytes = 128 * KIB;
  let accepted = 0;
  let stablePolls = 0;
  for (let round = 0; round < 500; round++) {
    while (ws.bufferedAmount < pendingBytes) {
      ws.send(Buffer.alloc(chunkBytes), ledger.next());
      accepted += chunkBytes;
      if (accepted > 4 * KERNEL_BOUND) {
        throw new Error(`the kernel took ${accepted} bytes without stalling`);
      }
    }
    const before = ws.bufferedAmount;
    await sleep(15);
    if (ws.bufferedAmount === before) {
      if (++stablePolls === 4) return { accepted };
    } else {
      stablePolls = 0;
    }
  }
  throw new Error('bufferedAmount never stopped draining');
}

describeEach('a peer that never reads', (impl) => {
  it('the documented backpressure pattern bounds the queue and the memory', async () => {
    const LIMIT = 1 * MIB;
    const MESSAGE_BYTES = 64 * KIB;
    // The application wants to send 64 MiB, far more than the kernel buffers can hold.
    const WANTED_MESSAGES = 1024;

    const { ws } = await openStalledPeer(impl);
    const before = await retainedBytes();

    let sentMessages = 0;
    let maxBuffered = 0;
    let stablePolls = 0;
    let lastBuffered = -1;
    await within(
      new Promise((resolve) => {
        const tick = () => {
          let sentThisTick = 0;
          while (sentMessages < WANTED_MESSAGES && ws.bufferedAmount < LIMIT) {
            // A fresh buffer each time, so what the library still holds is really retained.
            ws.send(Buffer.alloc(MESSAGE_BYTES, sentMessages & 0xff));
            sentMessages++;
            sentThisTick++;
            maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
          }
          const buffered = ws.bufferedAmount;
          // Done once nothing could be sent and the queue stopped draining for ~100 ms.
          if (sentThisTick === 0 && buffered === lastBuffered) stablePolls++;
          else stablePolls = 0;
          lastBuffered = buffered;
          if (stablePolls >= 20 || sentMessages === WANTED_MESSAGES) resolve();
          else setTimeout(tick, 5);
        };
        tick();
      }),
      15000,
      'the sending loop to stall'
    );

    const accepted = sentMessages * MESSAGE_BYTES;
    const buffered = ws.bufferedAmount;
    const growth = (await retainedBytes()) - before;

    // The peer reads nothing, so the app must have been stopped long before sending it all.
    expect(sentMessages).toBeLessThan(WANTED_MESSAGES);
    // The queue never holds more than the limit plus the one message that crossed it.
    expect(maxBuffered).toBeLessThanOrEqual(
      LIMIT + MESSAGE_BYTES + headerBytes(MESSAGE_BYTES)
    );
    expect(buffered).toBeGreaterThanOrEqual(LIMIT);
    // Whatever left the queue went to the kernel: if bufferedAmount under-counted, the app would
    // have kept sending and this would exceed any kernel buffer.
    expect(accepted - buffered).toBeGreaterThan(0);
    expect(accepted - buffered).toBeLessThan(KERNEL_BOUND);
    // The process holds about the queue, not everything the app wanted to send.
    expect(growth).toBeLessThan(LIMIT + 8 * MIB);
    expect(ws.readyState).toBe(1);
  });

  it('bufferedAmount grows by payload plus frame header for every queued message', async () => {
    const { ws } = await openStalledPeer(impl);
    const ledger = new CallbackLedger();
    await fillUntilStalled(ws, ledger);
    const start = ws.bufferedAmount;

    // One size per header form of RFC 6455 §5.2: 2, 4 and 10 bytes (unmasked server frames).
    const sizes = [0, 1, 125, 126, 1000, 65535, 65536, 70000];
    let expected = start;
    for (const size of sizes) {
      ws.send(Buffer.alloc(size, 0x61), ledger.next());
      expected += size + headerBytes(size);
      expect(ws.bufferedAmount).toBe(expected);
    }
    ws.send('x'.repeat(300), ledger.next());
    expected += 300 + headerBytes(300);
    expect(ws.bufferedAmount).toBe(expected);
    // Text with multi-byte characters ('é' is two UTF-8 bytes): ws counts a queued string by its
    // length in UTF-16 code units (net.Socket keeps strings undecoded), ws-native by its UTF-8
    // bytes; the frame header counts in full either way.
    ws.send('é'.repeat(100), ledger.next());
    const grown = ws.bufferedAmount - expected;
    expect(grown).toBeGreaterThanOrEqual(100 + headerBytes(200));
    expect(grown).toBeLessThanOrEqual(200 + headerBytes(200));
    expected += grown;

    // Still exact after the frames held for the end of the tick were handed to the socket.
    await sleep(50);
    expect(ws.bufferedAmount).toBe(expected);
    // Nothing queued behind a full kernel buffer reports success.
    expect(ledger.calls.slice(-sizes.length - 2).every((r) => !r.length)).toBe(
      true
    );
  });

  it('a peer reset runs every pending send() callback exactly once and closes with 1006', async () => {
    const { ws, raw, events } = await openStalledPeer(impl);
    const ledger = new CallbackLedger();
    await fillUntilStalled(ws, ledger);
    const pendingFrom = ledger.issued;
    for (let i = 0; i < 20; i++) ws.send(Buffer.alloc(1000), ledger.next());
    ws.ping(Buffer.from('p'), false, ledger.next());
    expect(ledger.calledTwice).toBe(0);
    const pending = ledger.calls.slice(pendingFrom);
    expect(pending.every((record) => record.length === 0)).toBe(true);

    // Unread data in its receive buffer makes the peer's kernel answer close() with a RST.
    raw.socket.destroy();
    const [, code] = await events.wait('close', 5000);
    expect(code).toBe(1006);
    await sleep(50);

    expect(ledger.called).toBe(ledger.issued);
    expect(ledger.calledTwice).toBe(0);
    // The ones still queued at the reset were never delivered: each reports an error.
    expect(pending.every((record) => record[0] instanceof Error)).toBe(true);
    expect(ws.readyState).toBe(3);
    expect(ws.bufferedAmount).toBe(0);
    expect(events.names().filter((name) => name === 'close')).toHaveLength(1);
    expect(events.names()).not.toContain('error');
  });

  it('terminate() frees the queue and runs every pending send() callback exactly once', async () => {
    const { ws, events } = await openStalledPeer(impl);
    const ledger = new CallbackLedger();
    await fillUntilStalled(ws, ledger);
    const pendingFrom = ledger.issued;
    for (let i = 0; i < 20; i++) ws.send(Buffer.alloc(1000), ledger.next());
    expect(ws.bufferedAmount).toBeGreaterThan(20 * 1004);

    ws.terminate();
    const [, code] = await events.wait('close', 5000);
    expect(code).toBe(1006);
    await sleep(50);

    expect(ledger.called).toBe(ledger.issued);
    expect(ledger.calledTwice).toBe(0);
    const pending = ledger.calls.slice(pendingFrom);
    expect(pending.every((record) => record[0] instanceof Error)).toBe(true);
    expect(ws.readyState).toBe(3);
    expect(ws.bufferedAmount).toBe(0);
    expect(events.names()).not.toContain('error');

    // A send after the close is counted, as ws does, and its callback errors once.
    const late = ledger.next();
    ws.send(Buffer.alloc(10), late);
    await sleep(10);
    expect(ledger.calls.at(-1)).toHaveLength(1);
    expect(ledger.calls.at(-1)[0]).toBeInstanceOf(Error);
    expect(ws.bufferedAmount).toBe(10);
  });
});
