// Interoperability with an independent implementation: Debian's python3-websockets (websockets
// 10, asyncio) as a client of a ws-native server and as a server for a ws-native client, with
// and without permessage-deflate (RFC 7692): messages from 0 B to 16 MiB, fragmented messages
// (RFC 6455 §5.4) both ways, pings, subprotocols and close codes and reasons (§7.4) both ways.
// The Python side runs test/fixtures/python/peer.py: it echoes, and obeys "#cmd " commands.
//
// python3-websockets missing is a failure that names the package, never a skip: .ci/run
// installs it.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, once, track } from '../helpers/harness.js';
import {
  collectMessages,
  listeningServer,
  pattern,
  PeerProcess
} from '../helpers/peer-process.js';

const require = createRequire(import.meta.url);
const WebSocket = require('../../index.js');
const { WebSocketServer } = WebSocket;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, '..', 'fixtures', 'python');
// Debian's package installs for Debian's interpreter; a python3 earlier on PATH (pyenv, venv)
// would not see it.
const PYTHON =
  process.env.WSN_PYTHON ||
  (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const MiB = 1024 * 1024;
const MAX_PAYLOAD = 64 * MiB;

let pythonProblem;
/** Throws (failing the test) unless python3-websockets can be imported. */
function requirePythonWebsockets() {
  if (pythonProblem === undefined) {
    const probe = spawnSync(PYTHON, ['-c', 'import websockets'], {
      encoding: 'utf8'
    });
    pythonProblem =
      probe.status === 0
        ? null
        : `python3-websockets is not installed for ${PYTHON} ` +
          '(Debian: apt-get install -y python3-websockets): ' +
          (probe.error ? probe.error.message : probe.stderr.trim());
  }
  if (pythonProblem) throw new Error(pythonProblem);
}

afterEach(cleanup);

/** A text of exactly `size` UTF-8 bytes with a 2-byte character at the end. */
function textOf(size) {
  return size >= 2 ? 'x'.repeat(size - 2) + 'é' : 'y'.repeat(size);
}

/** A running Python peer: its JSON event lines, in order. */
class PythonPeer extends PeerProcess {
  constructor(script, args) {
    super('python', PYTHON, [path.join(FIXTURES, script), ...args], {
      cwd: FIXTURES,
      parse: JSON.parse
    });
  }

  /** The first event named `name` (already seen or still to come). */
  event(name, ms = 10000) {
    return this.find((event) => event.event === name, `event "${name}"`, ms);
  }
}

function command(ws, body) {
  ws.send('#cmd ' + JSON.stringify(body));
}

/** A ws-native server with a python3-websockets client connected to it. */
async function pythonClient(
  compress,
  { subprotocols = [], serverOptions = {} } = {}
) {
  requirePythonWebsockets();
  const wss = await listeningServer(WebSocketServer, {
    perMessageDeflate: compress,
    maxPayload: MAX_PAYLOAD,
    ...serverOptions
  });
  const args = [`ws://127.0.0.1:${wss.address().port}/`];
  if (!compress) args.push('--no-compression');
  for (const name of subprotocols) args.push('--subprotocol', name);
  const connected = once(wss, 'connection', 10000);
  const python = new PythonPeer('client.py', args);
  const [ws] = await connected;
  const opened = await python.event('open');
  return { ws, next: collectMessages(ws), python, opened };
}

/** A python3-websockets server with a ws-native client connected to it. */
async function pythonServer(compress, { subprotocols = [], protocols } = {}) {
  requirePythonWebsockets();
  const args = compress ? [] : ['--no-compression'];
  for (const name of subprotocols) args.push('--subprotocol', name);
  const python = new PythonPeer('server.py', args);
  const { port } = await python.event('listening');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, protocols, {
    perMessageDeflate: compress,
    maxPayload: MAX_PAYLOAD
  });
  track(() => ws.terminate());
  const next = collectMessages(ws);
  await once(ws, 'open', 10000);
  const opened = await python.event('open');
  return { ws, next, python, opened };
}

const PEERS = [
  ['python3-websockets client -> ws-native server', pythonClient],
  ['ws-native client -> python3-websockets server', pythonServer]
];

for (const [title, connect] of PEERS) {
  describe(title, () => {
    for (const compress of [false, true]) {
      describe(
        compress ? 'with permessage-deflate' : 'without compression',
        () => {
          it('negotiates permessage-deflate exactly when both sides enable it (RFC 7692 §5)', async () => {
            const { ws, opened } = await connect(compress);
            expect(ws.extensions).toBe(compress ? 'permessage-deflate' : '');
            if (compress)
              expect(opened.extensions).toMatch(/^permessage-deflate(;|$)/);
            else expect(opened.extensions).toBe('');
          });

          for (const size of [
            0,
            1,
            125,
            126,
            65535,
            65536,
            MiB + 3,
            16 * MiB
          ]) {
            it(`${size} B text and binary messages echo back unchanged`, async () => {
              const { ws, next } = await connect(compress);
              const text = textOf(size);
              const binary = pattern(size, 11);
              ws.send(text);
              ws.send(binary);
              const first = await next();
              const second = await next();
              expect([first.isBinary, second.isBinary]).toEqual([false, true]);
              expect(first.data.length).toBe(Buffer.byteLength(text));
              expect(first.data.toString() === text).toBe(true);
              expect(second.data.equals(binary)).toBe(true);
            }, 60000);
          }

          it('a 16 MiB message from Python arrives intact (deflated on the wire when negotiated)', async () => {
            const { ws, next } = await connect(compress);
            const before = ws._socket.bytesRead;
            command(ws, { cmd: 'big', size: 16 * MiB, seed: 5, fragment: 0 });
            const { data, isBinary } = await next(60000);
            const wireBytes = ws._socket.bytesRead - before;
            expect(isBinary).toBe(true);
            expect(data.equals(pattern(16 * MiB, 5))).toBe(true);
            // A 251-byte cycle deflates to almost nothing; uncompressed it is the full size.
            if (compress) expect(wireBytes).toBeLessThan(MiB);
            else expect(wireBytes).toBeGreaterThan(16 * MiB);
          }, 60000);

          it('fragmented messages from Python are reassembled (RFC 6455 §5.4)', async () => {
            const { ws, next } = await connect(compress);
            command(ws, { cmd: 'fragments', parts: ['frag', '', 'mented ✓'] });
            command(ws, {
              cmd: 'fragments',
              parts: ['0001', '', 'ff'],
              binary: true
            });
            command(ws, { cmd: 'big', size: 16 * MiB, seed: 9, fragment: MiB });
            const text = await next();
            const binary = await next();
            const big = await next(60000);
            expect([text.isBinary, text.data.toString()]).toEqual([
              false,
              'fragmented ✓'
            ]);
            expect([binary.isBinary, binary.data.toString('hex')]).toEqual([
              true,
              '0001ff'
            ]);
            expect(big.isBinary).toBe(true);
            expect(big.data.equals(pattern(16 * MiB, 9))).toBe(true);
          }, 60000);

          it('fragmented messages to Python are reassembled, also 16 MiB in 1 MiB fragments', async () => {
            const { ws, next } = await connect(compress);
            ws.send('to ', { fin: false });
            ws.send('py', { fin: false });
            ws.send('thon ✓', { fin: true });
            ws.send(Buffer.from([1]), { binary: true, fin: false });
            ws.send(Buffer.alloc(0), { binary: true, fin: false });
            ws.send(Buffer.from([2, 3]), { binary: true, fin: true });
            const whole = pattern(16 * MiB, 21);
            for (let offset = 0; offset < whole.length; offset += MiB) {
              ws.send(whole.subarray(offset, offset + MiB), {
                binary: true,
                fin: offset + MiB >= whole.length
              });
            }
            const text = await next();
            const binary = await next();
            const big = await next(60000);
            expect([text.isBinary, text.data.toString()]).toEqual([
              false,
              'to python ✓'
            ]);
            expect([binary.isBinary, binary.data.toString('hex')]).toEqual([
              true,
              '010203'
            ]);
            expect(big.data.equals(whole)).toBe(true);
          }, 60000);

          it('pings get pongs with the same payload both ways (RFC 6455 §5.5.2-3)', async () => {
            const { ws, next } = await connect(compress);
            const pong = once(ws, 'pong', 10000);
            ws.ping('from node');
            const [pongData] = await pong;
            expect(pongData.toString()).toBe('from node');
            const ping = once(ws, 'ping', 10000);
            command(ws, { cmd: 'ping', data: 'from python' });
            const [pingData] = await ping;
            expect(pingData.toString()).toBe('from python');
            const reply = await next();
            expect(reply.data.toString()).toBe('pong:from python');
          });

          it('a close code and reason from ws-native reach Python (RFC 6455 §7.4)', async () => {
            const { ws, python } = await connect(compress);
            const closed = once(ws, 'close', 10000);
            ws.close(4000, 'node bye ✓');
            const [code, reason] = await closed;
            const seen = await python.event('closed');
            expect([seen.code, seen.reason]).toEqual([4000, 'node bye ✓']);
            // Python answers with the code it received (§5.5.1).
            expect([code, reason.toString()]).toEqual([4000, 'node bye ✓']);
          });

          it('a close code and reason from Python reach ws-native (RFC 6455 §7.4)', async () => {
            const { ws, python } = await connect(compress);
            const closed = once(ws, 'close', 10000);
            command(ws, { cmd: 'close', code: 4001, reason: 'py bye ✓' });
            const [code, reason] = await closed;
            expect([code, reason.toString()]).toEqual([4001, 'py bye ✓']);
            const seen = await python.event('closed');
            expect(seen.code).toBe(4001);
          });

          it('a close with 1001 and no reason crosses as 1001', async () => {
            const { ws, python } = await connect(compress);
            ws.close(1001);
            const seen = await python.event('closed');
            expect([seen.code, seen.reason]).toEqual([1001, '']);
          });
        }
      );
    }

    it('selects a subprotocol both sides know (RFC 6455 §4.2.2)', async () => {
      const isPythonClient = connect === pythonClient;
      const { ws, next } = isPythonClient
        ? await pythonClient(true, {
            subprotocols: ['chat.v1', 'chat.v2'],
            serverOptions: {
              handleProtocols: (offered) =>
                offered.has('chat.v2') ? 'chat.v2' : false
            }
          })
        : await pythonServer(true, {
            subprotocols: ['chat.v2'],
            protocols: ['chat.v1', 'chat.v2']
          });
      expect(ws.protocol).toBe('chat.v2');
      command(ws, { cmd: 'info' });
      const info = JSON.parse((await next()).data.toString());
      expect(info.subprotocol).toBe('chat.v2');
    });
  });
}
