// Plumbing for the interop suites, whose independent peer runs in a child process (Python's
// websockets, the JDK's client): the server the peer connects to, the peer's stdout read line by
// line, the messages a ws-native socket receives queued for the test, and the byte pattern both
// sides generate. What they open is torn down by the harness's cleanup().

import { spawn } from 'node:child_process';
import readline from 'node:readline';

import { once, track } from './harness.js';
import { within } from './raw-client.js';

/**
 * A WebSocketServer listening on 127.0.0.1 on an ephemeral port; the harness's cleanup()
 * terminates its clients and closes it. Tests that use it run `afterEach(cleanup)`.
 *
 * @param {Function} WebSocketServer the implementation's class
 * @param {Object} options more WebSocketServer options
 * @return {Promise<WebSocketServer>}
 */
export async function listeningServer(WebSocketServer, options) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  track(
    () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      })
  );
  await once(wss, 'listening', 10000);
  return wss;
}

/**
 * A running child process whose stdout lines are kept, parsed, in order, so a test can wait for
 * the first one that matches (already seen or still to come).
 */
export class PeerProcess {
  /**
   * @param {string} name how errors call the peer ("python", "java")
   * @param {string} command
   * @param {string[]} args
   * @param {Object} options
   * @param {string} options.cwd
   * @param {function(string): *} [options.parse] turns a line into an item (default: the line)
   */
  constructor(name, command, args, { cwd, parse = (line) => line }) {
    this.name = name;
    this.items = [];
    this.waiters = [];
    this.stderr = '';
    this.child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.stderr.on('data', (data) => {
      this.stderr = (this.stderr + data).slice(-4000);
    });
    readline
      .createInterface({ input: this.child.stdout })
      .on('line', (line) => {
        this.items.push(parse(line));
        this.wake();
      });
    this.child.on('exit', () => this.wake());
    track(() => this.stop());
  }

  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /**
   * The first item for which `predicate` is true.
   *
   * @param {function(*): boolean} predicate
   * @param {string} what names the item in errors
   * @param {number} ms
   * @return {Promise<*>}
   */
  find(predicate, what, ms) {
    return within(
      new Promise((resolve, reject) => {
        const check = () => {
          const found = this.items.find(predicate);
          if (found !== undefined) resolve(found);
          else if (this.child.exitCode !== null) {
            reject(
              new Error(
                `${this.name} exited (${this.child.exitCode}) before ${what}: ${this.stderr}`
              )
            );
          } else this.waiters.push(check);
        };
        check();
      }),
      ms,
      `${this.name}: ${what} (stderr: ${this.stderr})`
    );
  }

  /** Ends the peer: stdin closes, then SIGTERM, then SIGKILL. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    const term = setTimeout(() => this.child.kill('SIGTERM'), 200);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

/**
 * Queues a WebSocket's messages so a test can await them one by one.
 *
 * @param {EventEmitter} ws
 * @return {function(number=): Promise<{data: Buffer, isBinary: boolean}>}
 */
export function collectMessages(ws) {
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const item = { data, isBinary };
    if (waiters.length) waiters.shift()(item);
    else queue.push(item);
  });
  return (ms = 30000) =>
    within(
      new Promise((resolve) => {
        if (queue.length) resolve(queue.shift());
        else waiters.push(resolve);
      }),
      ms,
      'a message'
    );
}

/**
 * The interop pattern: a 251-byte cycle (prime, so it never lines up with power-of-two frame or
 * window sizes) starting at `seed`. The peers generate the same bytes.
 *
 * @param {number} size
 * @param {number} seed
 * @return {Buffer}
 */
export function pattern(size, seed) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (seed + (i % 251)) & 0xff;
  return out;
}
