// The runnable examples, each started as a child process (as the README tells a user to) and
// exercised by a client.

import { spawn } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { recordEvents, within } from '../helpers/harness.js';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const WebSocket = require('../../index.js');

const children = new Set();
const sockets = new Set();

afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

/**
 * Starts `node <script> ...args` from the package root and collects its output by line.
 *
 * @param {string} script Path relative to the package root
 * @param {string[]} [args]
 * @param {Object} [env] Extra environment variables
 * @return {{ child: ChildProcess, lines: string[], waitFor: function(RegExp, number=):
 *     Promise<RegExpMatchArray>, exited: Promise<{ code: number, signal: string }> }}
 */
function startExample(script, args = [], env = {}) {
  const child = spawn(process.execPath, [path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  children.add(child);
  const lines = [];
  const waiters = [];
  let partial = '';
  const onText = (text) => {
    partial += text;
    const parts = partial.split('\n');
    partial = parts.pop();
    lines.push(...parts);
    for (const wake of waiters.slice()) wake();
  };
  child.stdout.setEncoding('utf8').on('data', onText);
  child.stderr.setEncoding('utf8').on('data', onText);
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    })
  );
  return {
    child,
    lines,
    exited,
    waitFor(pattern, ms = 10000) {
      return within(
        new Promise((resolve) => {
          const check = () => {
            for (const line of lines) {
              const match = line.match(pattern);
              if (match) {
                waiters.splice(waiters.indexOf(check), 1);
                resolve(match);
                return;
              }
            }
          };
          waiters.push(check);
          check();
        }),
        ms,
        `a line matching ${pattern} from ${script} (output so far: ${JSON.stringify(lines)})`
      );
    }
  };
}

/** Opens a client and waits for 'open'. */
async function connect(url) {
  const ws = new WebSocket(url);
  sockets.add(ws);
  const events = recordEvents(ws);
  await events.wait('open', 5000);
  return { ws, events };
}

/** GETs a URL and resolves with the status code, content type and body. */
function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode,
            type: res.headers['content-type'],
            body
          })
        );
      })
      .on('error', reject);
  });
}

describe('examples/echo-server.js', () => {
  it('echoes text and binary messages and shuts down cleanly on SIGTERM', async () => {
    const example = startExample('examples/echo-server.js', [], { PORT: '0' });
    const [, port] = await example.waitFor(
      /^echo server listening on ws:\/\/localhost:(\d+)$/
    );
    const { ws, events } = await connect(`ws://localhost:${port}`);
    ws.send('hello');
    ws.send(Buffer.from([0, 1, 2, 255]));
    const messages = await events.waitCount('message', 2);
    expect(
      messages.map(([, data, isBinary]) => [Buffer.from(data), isBinary])
    ).toEqual([
      [Buffer.from('hello'), false],
      [Buffer.from([0, 1, 2, 255]), true]
    ]);

    example.child.kill('SIGTERM');
    const [, code, reason] = await events.wait('close', 5000);
    expect([code, reason.toString()]).toEqual([1001, 'server shutting down']);
    expect(
      await within(example.exited, 5000, 'the echo server to exit')
    ).toEqual({
      code: 0,
      signal: null
    });
  }, 30000);

  it('listens on 8080 without PORT', async () => {
    const example = startExample('examples/echo-server.js', [], {
      PORT: undefined
    });
    const probe = await Promise.race([
      example.waitFor(/listening on ws:\/\/localhost:(\d+)$/),
      example.waitFor(/EADDRINUSE/)
    ]);
    // Another process may hold 8080 on a shared machine; then the example must say so.
    if (probe[0].includes('EADDRINUSE')) return;
    expect(probe[1]).toBe('8080');
  }, 30000);
});

describe('examples/express-chat', () => {
  it('serves the page and broadcasts chat messages to every client', async () => {
    const example = startExample('examples/express-chat/server.js', [], {
      PORT: '0'
    });
    const [, port] = await example.waitFor(
      /^chat listening on http:\/\/localhost:(\d+)$/
    );

    const page = await get(`http://localhost:${port}/`);
    expect(page.statusCode).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('<title>ws-native chat</title>');
    expect(page.body).toContain('/chat');

    const alice = await connect(`ws://localhost:${port}/chat`);
    const [, aliceWelcome] = await alice.events.wait('message');
    expect(JSON.parse(aliceWelcome)).toEqual({
      type: 'welcome',
      name: 'guest-1'
    });
    const bob = await connect(`ws://localhost:${port}/chat`);
    await alice.events.waitCount('message', 3);

    alice.ws.send('hi everyone');
    const aliceSeen = (await alice.events.waitCount('message', 4)).map(
      ([, d]) => JSON.parse(d)
    );
    const bobSeen = (await bob.events.waitCount('message', 3)).map(([, d]) =>
      JSON.parse(d)
    );
    const said = { type: 'message', name: 'guest-1', text: 'hi everyone' };
    expect(aliceSeen).toEqual([
      { type: 'welcome', name: 'guest-1' },
      { type: 'join', name: 'guest-1' },
      { type: 'join', name: 'guest-2' },
      said
    ]);
    expect(bobSeen).toEqual([
      { type: 'welcome', name: 'guest-2' },
      { type: 'join', name: 'guest-2' },
      said
    ]);

    bob.ws.close();
    const [, left] = await alice.events
      .waitCount('message', 5)
      .then((all) => all[4]);
    expect(JSON.parse(left)).toEqual({ type: 'leave', name: 'guest-2' });

    // Upgrades elsewhere than /chat are refused.
    const stray = new WebSocket(`ws://localhost:${port}/elsewhere`);
    sockets.add(stray);
    const [error] = await new Promise((resolve) =>
      stray.once('error', (...args) => resolve(args))
    );
    expect(error.message).toBe('Unexpected server response: 404');

    example.child.kill('SIGTERM');
    expect(
      await within(example.exited, 5000, 'the chat server to exit')
    ).toEqual({
      code: 0,
      signal: null
    });
  }, 30000);
});

describe('examples/peer-to-peer.js', () => {
  const conversation = [
    'server got: hello',
    'server got: over plain TCP',
    'server got: goodbye',
    'client got: echo: hello',
    'client got: echo: over plain TCP',
    'client got: echo: goodbye',
    'client closed 1000 done',
    'server saw close 1000'
  ];

  it('talks over plain TCP with both sides in one process', async () => {
    const example = startExample('examples/peer-to-peer.js');
    const { code } = await within(
      example.exited,
      10000,
      'the example to finish'
    );
    expect(code).toBe(0);
    expect(example.lines[0]).toMatch(/^peer server listening on port \d+$/);
    expect([...example.lines.slice(1)].sort()).toEqual(
      [...conversation].sort()
    );
  }, 30000);

  it('talks over plain TCP between a server process and a client process', async () => {
    const server = startExample('examples/peer-to-peer.js', ['server', '0']);
    const [, port] = await server.waitFor(
      /^peer server listening on port (\d+)$/
    );
    const client = startExample('examples/peer-to-peer.js', [
      'client',
      port,
      '127.0.0.1'
    ]);
    const [serverExit, clientExit] = await within(
      Promise.all([server.exited, client.exited]),
      10000,
      'both sides to finish'
    );
    expect([serverExit.code, clientExit.code]).toEqual([0, 0]);
    expect(server.lines.slice(1)).toEqual(
      conversation.filter((line) => line.startsWith('server'))
    );
    expect(client.lines).toEqual(
      conversation.filter((line) => line.startsWith('client'))
    );
  }, 30000);
});
