// The package's entry points have ws's shape: index.js (CommonJS), wrapper.mjs (ES module),
// browser.js, and index.d.ts, whose types are checked with tsc against code written for @types/ws.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../..'
);
const WS_ROOT = path.dirname(require.resolve('ws'));

const ours = require('../../index.js');
const ws = require('ws');

/** The own property names of an object, sorted, without the ones every function has. */
function ownNames(object) {
  return Object.getOwnPropertyNames(object)
    .filter(
      (name) =>
        !['length', 'name', 'prototype', 'arguments', 'caller'].includes(name)
    )
    .sort();
}

/** Describes a value by kind, so two exports compare by shape. */
function kind(value) {
  if (typeof value === 'function') {
    return /^class\b/.test(Function.prototype.toString.call(value))
      ? 'class'
      : 'function';
  }
  if (value !== null && typeof value === 'object')
    return `object(${ownNames(value).join()})`;
  return `${typeof value}:${value}`;
}

/** Runs a command; resolves with its exit code and output. */
function run(file, args, options) {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: 120000, ...options },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (error.code ?? 1) : 0,
          output: `${stdout}${stderr}`
        });
      }
    );
  });
}

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

// A scratch project where 'ws-native' resolves to this package through node_modules, as it
// would for a user.
let scratch;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wsn-exports-'));
  fs.mkdirSync(path.join(scratch, 'node_modules', '@types'), {
    recursive: true
  });
  fs.symlinkSync(ROOT, path.join(scratch, 'node_modules', 'ws-native'), 'dir');
  fs.symlinkSync(
    path.join(ROOT, 'node_modules', '@types', 'node'),
    path.join(scratch, 'node_modules', '@types', 'node'),
    'dir'
  );
});

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('CommonJS entry point (index.js)', () => {
  it("has ws's static exports, plus wrap", () => {
    expect(ownNames(ours)).toEqual([...ownNames(ws), 'wrap'].sort());
    for (const name of ownNames(ws)) {
      expect(kind(ours[name]), name).toBe(kind(ws[name]));
    }
    expect(typeof ours.wrap).toBe('function');
  });

  it('exports the WebSocket class itself, with its aliases', () => {
    expect(ours.WebSocket).toBe(ours);
    expect(ours.Server).toBe(ours.WebSocketServer);
    expect([ours.CONNECTING, ours.OPEN, ours.CLOSING, ours.CLOSED]).toEqual([
      0, 1, 2, 3
    ]);
    expect(ours.PerMessageDeflate.extensionName).toBe('permessage-deflate');
    expect(Object.keys(ours.extension).sort()).toEqual(['format', 'parse']);
    expect(Object.keys(ours.subprotocol)).toEqual(['parse']);
    expect(typeof ours.Sender.frame).toBe('function');
  });

  it("gives the classes ws's public methods and accessors", () => {
    const publicNames = (cls) =>
      ownNames(cls.prototype).filter((name) => !name.startsWith('_'));
    // The Receiver's own methods are its parsing steps, which the native parser replaces; its
    // interface is the Writable one and its events.
    expect(ours.Receiver.prototype).toBeInstanceOf(
      require('node:stream').Writable
    );
    for (const name of [
      'WebSocket',
      'WebSocketServer',
      'Sender',
      'PerMessageDeflate'
    ]) {
      const missing = publicNames(ws[name]).filter(
        (method) => !publicNames(ours[name]).includes(method)
      );
      expect(missing, name).toEqual([]);
    }
  });

  it("resolves as require('ws-native') through the package's exports", () => {
    const userRequire = createRequire(path.join(scratch, 'index.js'));
    expect(userRequire('ws-native')).toBe(ours);
    expect(userRequire('ws-native/package.json').name).toBe('ws-native');
  });
});

describe('ES module entry point (wrapper.mjs)', () => {
  it("has ws's named exports and the same default export as require()", async () => {
    const esm = await import(
      pathToFileURL(path.join(ROOT, 'wrapper.mjs')).href
    );
    const wsEsm = await import('ws');
    expect(Object.keys(esm).sort()).toEqual(Object.keys(wsEsm).sort());
    expect(esm.default).toBe(ours);
    expect(esm.WebSocket).toBe(ours);
    expect(esm.WebSocketServer).toBe(ours.WebSocketServer);
    expect(esm.createWebSocketStream).toBe(ours.createWebSocketStream);
    expect(esm.default.wrap).toBe(ours.wrap);
  });

  it("resolves as import 'ws-native' through the package's exports", async () => {
    const file = path.join(scratch, 'probe.mjs');
    fs.writeFileSync(
      file,
      "import WebSocket, { WebSocketServer } from 'ws-native';\n" +
        'export { WebSocket, WebSocketServer };\n'
    );
    const probe = await import(pathToFileURL(file).href);
    expect(probe.WebSocket).toBe(ours);
    expect(probe.WebSocketServer).toBe(ours.WebSocketServer);
  });
});

describe('browser entry point (browser.js)', () => {
  it("throws ws's error when called", () => {
    const browser = require('../../browser.js');
    const wsBrowser = require(path.join(WS_ROOT, 'browser.js'));
    let expected;
    try {
      wsBrowser();
    } catch (error) {
      expected = error;
    }
    expect(() => browser()).toThrow(expected);
    expect(expected.message).toMatch(/^ws does not work in the browser/);
  });
});

describe('index.d.ts', () => {
  it('type-checks code written against @types/ws (test/unit/types.test.ts)', async () => {
    const { code, output } = await run(
      process.execPath,
      [
        TSC,
        '--noEmit',
        '--strict',
        '--esModuleInterop',
        '--module',
        'commonjs',
        '--target',
        'es2022',
        '--types',
        'node',
        path.join(ROOT, 'test', 'unit', 'types.test.ts')
      ],
      { cwd: ROOT }
    );
    expect(output).toBe('');
    expect(code).toBe(0);
  }, 120000);

  it('types ESM and CommonJS imports by package name, and rejects misuse', async () => {
    fs.writeFileSync(
      path.join(scratch, 'good.mts'),
      [
        "import WebSocket, { WebSocketServer, createWebSocketStream } from 'ws-native';",
        "import type { RawData, ServerOptions, ClientOptions } from 'ws-native';",
        'const options: ServerOptions = { noServer: true, maxPayload: 1024 };',
        'const wss = new WebSocketServer(options);',
        'wss.on("connection", (ws: WebSocket) => {',
        '  ws.on("message", (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));',
        '  createWebSocketStream(ws).resume();',
        '});',
        'const client: ClientOptions = { perMessageDeflate: false };',
        'void client;'
      ].join('\n')
    );
    fs.writeFileSync(
      path.join(scratch, 'good.cts'),
      [
        "import WebSocket = require('ws-native');",
        'const server = new WebSocket.Server({ port: 0 });',
        'const peer: WebSocket = WebSocket.wrap(null as unknown as import("stream").Duplex);',
        'void [server, peer];'
      ].join('\n')
    );
    fs.writeFileSync(
      path.join(scratch, 'bad.mts'),
      "import { WebSocketServer } from 'ws-native';\nnew WebSocketServer({ port: 'eighty' });\n"
    );
    const flags = [
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
      '--types',
      'node'
    ];
    const good = await run(
      process.execPath,
      [TSC, ...flags, 'good.mts', 'good.cts'],
      {
        cwd: scratch
      }
    );
    expect(good.output).toBe('');
    expect(good.code).toBe(0);
    const bad = await run(process.execPath, [TSC, ...flags, 'bad.mts'], {
      cwd: scratch
    });
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/bad\.mts\(2,\d+\): error TS2322/);
  }, 120000);
});
