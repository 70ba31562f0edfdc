// Headless Debian Chromium (/usr/bin/chromium, `apt-get install -y chromium`; never a browser
// download) driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
// ended by a NUL byte on the child's fds 3 and 4), so no driver package and no debugging port
// are needed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where Chromium is looked for (CHROMIUM_PATH overrides). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Throws, naming the package, when Chromium is not installed: the browser tests fail rather than
 * skip.
 */
export function requireChromium() {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH} (Debian: apt-get install -y chromium, ` +
        'or set CHROMIUM_PATH)'
    );
  }
}

/** One DevTools protocol connection: commands by id, events to listeners. */
class Connection {
  constructor(input, output) {
    this.input = input;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    let buffered = Buffer.alloc(0);
    output.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let end; (end = buffered.indexOf(0)) !== -1;) {
        const message = JSON.parse(buffered.subarray(0, end).toString('utf8'));
        buffered = buffered.subarray(end + 1);
        this.dispatch(message);
      }
    });
    output.on('close', () => {
      for (const { reject } of this.pending.values()) {
        reject(new Error('Chromium closed the DevTools pipe'));
      }
      this.pending.clear();
    });
  }

  dispatch(message) {
    if (message.id !== undefined) {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) {
        waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
      } else {
        waiter.resolve(message.result);
      }
      return;
    }
    for (const listener of this.listeners) listener(message);
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const message = { id, method, params };
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.input.write(JSON.stringify(message) + '\0');
    });
  }

  /** The next event `method` of `sessionId` for which `filter` holds. */
  waitFor(method, sessionId, ms, filter = () => true) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${ms} ms waiting for ${method}`));
      }, ms);
      const listener = (message) => {
        if (
          message.method === method &&
          message.sessionId === sessionId &&
          filter(message.params)
        ) {
          clearTimeout(timer);
          this.listeners.delete(listener);
          resolve(message.params);
        }
      };
      this.listeners.add(listener);
    });
  }
}

/** A tab: navigate, then evaluate expressions in the page. */
class Page {
  constructor(connection, sessionId, targetId) {
    this.connection = connection;
    this.sessionId = sessionId;
    this.targetId = targetId;
    this.logs = [];
    connection.listeners.add((message) => {
      if (message.sessionId !== sessionId) return;
      if (message.method === 'Runtime.consoleAPICalled') {
        this.logs.push(message.params.args.map((arg) => arg.value).join(' '));
      } else if (message.method === 'Runtime.exceptionThrown') {
        this.logs.push(describeException(message.params.exceptionDetails));
      }
    });
  }

  async goto(url, ms = 15000) {
    const loaded = this.connection.waitFor(
      'Page.loadEventFired',
      this.sessionId,
      ms
    );
    const result = await this.connection.send(
      'Page.navigate',
      { url },
      this.sessionId
    );
    if (result.errorText)
      throw new Error(`navigating to ${url}: ${result.errorText}`);
    await loaded;
  }

  /**
   * Evaluates `expression` in the page, awaiting a promise result; returns its JSON value. A
   * thrown exception or rejection becomes an Error here.
   */
  async evaluate(expression) {
    const result = await this.connection.send(
      'Runtime.evaluate',
      { expression, awaitPromise: true, returnByValue: true },
      this.sessionId
    );
    if (result.exceptionDetails) {
      throw new Error(
        `in the page: ${describeException(result.exceptionDetails)}`
      );
    }
    return result.result.value;
  }

  async close() {
    await this.connection.send('Target.closeTarget', {
      targetId: this.targetId
    });
  }
}

function describeException(details) {
  return (details.exception && details.exception.description) || details.text;
}

/**
 * Starts headless Chromium with an empty profile.
 *
 * @param {Object} [options]
 * @param {string} [options.spkiHash] base64 SHA-256 of a certificate's SubjectPublicKeyInfo that
 *     Chromium should trust (--ignore-certificate-errors-spki-list)
 * @return {Promise<{newPage: function(): Promise<Page>, close: function(): Promise<void>}>}
 */
export async function launchChromium({ spkiHash } = {}) {
  requireChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wsn-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`,
    '--remote-debugging-pipe'
  ];
  if (spkiHash) args.push(`--ignore-certificate-errors-spki-list=${spkiHash}`);
  args.push('about:blank');
  // A sanitizer runtime preloaded for the addon under test (scripts/asan-tests.js) is not for
  // the browser.
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const child = spawn(CHROMIUM_PATH, args, {
    env,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe']
  });
  let stderr = '';
  child.stderr.on('data', (data) => {
    stderr = (stderr + data).slice(-8000);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const connection = new Connection(child.stdio[3], child.stdio[4]);
  try {
    await Promise.race([
      connection.send('Browser.getVersion'),
      exited.then((code) => {
        throw new Error(`Chromium exited (${code}) at start: ${stderr}`);
      })
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    fs.rmSync(profile, { recursive: true, force: true });
    throw error;
  }

  return {
    async newPage() {
      const { targetId } = await connection.send('Target.createTarget', {
        url: 'about:blank'
      });
      const { sessionId } = await connection.send('Target.attachToTarget', {
        targetId,
        flatten: true
      });
      await connection.send('Page.enable', {}, sessionId);
      await connection.send('Runtime.enable', {}, sessionId);
      return new Page(connection, sessionId, targetId);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        connection.send('Browser.close').catch(() => {});
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
}
