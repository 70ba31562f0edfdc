// Interoperability with an independent implementation in another language: the JDK's own
// java.net.http.WebSocket client (Java 11+) against a ws-native server, over native socket I/O and
// over Node's stream path (WSN_NATIVE_IO=0): messages from 0 B to 16 MiB both ways with their
// type, fragmented messages from the client (RFC 6455 §5.4), pings both ways (§5.5.2-3), the
// subprotocol (§4.2.2), closing handshakes started by either side with code and reason (§7.4),
// permessage-deflate offered by nobody (RFC 7692 §5), and 1009 for a message over maxPayload.
// The JDK client checks the server's frames strictly (no mask, no reserved bits, valid UTF-8).
// The Java side runs test/fixtures/java/Peer.java: it echoes, and obeys "#cmd " commands.
//
// A missing JDK is a failure that names the package, never a skip: .ci/run installs it.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { cleanup, once } from '../helpers/harness.js';
import { setNativeIo } from '../helpers/implementations.js';
import {
  collectMessages,
  listeningServer,
  pattern,
  PeerProcess
} from '../helpers/peer-process.js';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('../../index.js');
const { NativeSocket, available } = require('../../lib/native-socket.js');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, '..', 'fixtures', 'java');
const JAVA = process.env.WSN_JAVA || 'java';
const MiB = 1024 * 1024;

let javaProblem;
/**
 * Throws (failing the test) unless `java` can run Peer.java: the source launcher needs the JDK's
 * compiler module, which a JRE alone lacks.
 */
function requireJava() {
  if (javaProblem === undefined) {
    const probe = spawnSync(JAVA, ['--list-modules'], { encoding: 'utf8' });
    const fix = '(Debian: apt-get install -y default-jdk-headless)';
    if (probe.status !== 0) {
      javaProblem =
        `no Java runtime at "${JAVA}" ${fix}: ` +
        (probe.error ? probe.error.message : probe.stderr.trim());
    } else if (!/^jdk\.compiler@/m.test(probe.stdout)) {
      javaProblem = `"${JAVA}" is a JRE without jdk.compiler; Peer.java needs a JDK ${fix}`;
    } else {
      javaProblem = null;
    }
  }
  if (javaProblem) throw new Error(javaProblem);
}

afterEach(cleanup);

/** Text of at least `size` UTF-8 bytes, with 1-, 2-, 3- and 4-byte characters. */
function mixedText(size) {
  const unit = 'aé€😀';
  return unit.repeat(Math.ceil(size / Buffer.byteLength(unit)));
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** A running Peer.java: its event lines, in order. */
class JavaPeer extends PeerProcess {
  constructor(args) {
    super('java', JAVA, ['Peer.java', ...args], { cwd: FIXTURES });
  }

  /** The first line whose first word is `word` (already seen or still to come). */
  line(word, ms = 30000) {
    return this.find((line) => line.split(' ')[0] === word, `"${word}"`, ms);
  }
}

/**
 * A ws-native server with a JDK client connected to it.
 *
 * @param {Object} [options]
 * @param {Object} [options.serverOptions] WebSocketServer options
 * @param {string[]} [options.subprotocols] offered by the client
 */
async function javaClient({ serverOptions = {}, subprotocols = [] } = {}) {
  requireJava();
  const wss = await listeningServer(WebSocketServer, {
    maxPayload: 64 * MiB,
    ...serverOptions
  });
  const connected = once(wss, 'connection', 20000);
  const java = new JavaPeer([
    `ws://127.0.0.1:${wss.address().port}/`,
    ...subprotocols
  ]);
  const [ws, request] = await connected;
  await java.line('open');
  return { ws, request, java, next: collectMessages(ws) };
}

for (const nativeIo of ['1', '0']) {
  const title =
    nativeIo === '1'
      ? 'JDK java.net.http.WebSocket client -> ws-native server'
      : 'JDK java.net.http.WebSocket client -> ws-native server, stream path (WSN_NATIVE_IO=0)';
  describe(title, () => {
    // WSN_NATIVE_IO is read per connection, so it is restored once the connection is open.
    const connect = async (options) => {
      const restore = setNativeIo(nativeIo);
      try {
        return await javaClient(options);
      } finally {
        restore();
      }
    };

    it('messages from 0 B to 16 MiB, text with 1- to 4-byte characters and binary, come back intact with their type', async () => {
      const { ws, next } = await connect();
      expect(ws._socket instanceof NativeSocket).toBe(
        available && nativeIo === '1'
      );
      const sizes = [0, 1, 125, 126, 65535, 65536, 65537, MiB, 16 * MiB];
      for (const size of sizes) {
        const text = mixedText(size);
        ws.send(text);
        const echoedText = await next();
        expect(echoedText.isBinary).toBe(false);
        expect(sha256(echoedText.data)).toBe(sha256(text));
        const bytes = pattern(size, size & 0xff);
        ws.send(bytes);
        const echoedBytes = await next();
        expect(echoedBytes.isBinary).toBe(true);
        expect(echoedBytes.data.length).toBe(size);
        expect(sha256(echoedBytes.data)).toBe(sha256(bytes));
      }
    });

    it('a message the client sends in fragments arrives as one message, text and binary', async () => {
      const { ws, next } = await connect();
      ws.send('#cmd fragments text frag|mént|ed 😀|');
      const text = await next();
      expect([text.isBinary, text.data.toString()]).toEqual([
        false,
        'fragménted 😀'
      ]);
      ws.send('#cmd fragments binary 00ff|||0102');
      const binary = await next();
      expect([binary.isBinary, [...binary.data]]).toEqual([
        true,
        [0, 255, 1, 2]
      ]);
    });

    it("pings both ways: the server answers the client's ping with its data, the client the server's", async () => {
      const { ws, next } = await connect();
      const pingAtServer = once(ws, 'ping', 20000);
      ws.send('#cmd ping from java');
      const [pingData] = await pingAtServer;
      expect(pingData.toString()).toBe('from java');
      expect((await next()).data.toString()).toBe('pong:from java');
      const pongAtServer = once(ws, 'pong', 20000);
      ws.ping(Buffer.from('from node'));
      const [pongData] = await pongAtServer;
      expect(pongData.toString()).toBe('from node');
    });

    it("subprotocol: the server's pick from the client's list is what both sides report", async () => {
      const { ws, request, next } = await connect({
        subprotocols: ['chat', 'superchat'],
        serverOptions: {
          handleProtocols: (offered) =>
            offered.has('superchat') ? 'superchat' : false
        }
      });
      expect(request.headers['sec-websocket-protocol']).toBe('chat, superchat');
      expect(ws.protocol).toBe('superchat');
      ws.send('#cmd info');
      expect((await next()).data.toString()).toBe('info:superchat');
    });

    it('closing started by the client: the server sees its code and reason and, as ws does, answers with both', async () => {
      const { ws, java } = await connect();
      const closed = once(ws, 'close', 20000);
      ws.send('#cmd close 4001 bye ✓');
      const [code, reason] = await closed;
      expect([code, reason.toString()]).toEqual([4001, 'bye ✓']);
      expect(await java.line('closed')).toBe('closed 4001 bye ✓');
    });

    it('closing started by the server: the client sees the code and reason, the server gets the code back', async () => {
      const { ws, java } = await connect();
      const closed = once(ws, 'close', 20000);
      ws.close(4002, 'server bye ✓');
      expect(await java.line('closed')).toBe('closed 4002 server bye ✓');
      const [code] = await closed;
      expect(code).toBe(4002);
    });

    it('a server with permessage-deflate on and a client that offers nothing: no extension, messages flow', async () => {
      const { ws, request, next } = await connect({
        serverOptions: { perMessageDeflate: { threshold: 0 } }
      });
      expect(request.headers['sec-websocket-extensions']).toBeUndefined();
      expect(ws.extensions).toBe('');
      const text = mixedText(100 * 1024);
      ws.send(text);
      expect((await next()).data.toString()).toBe(text);
    });

    it('a message over maxPayload: the client receives 1009; the server reports WS_ERR_UNSUPPORTED_MESSAGE_LENGTH and, as ws does, 1006 (it reads nothing more after failing the connection)', async () => {
      const { ws, java } = await connect({
        serverOptions: { maxPayload: 1000 }
      });
      const closed = once(ws, 'close', 20000);
      const error = once(ws, 'error', 20000);
      ws.send(pattern(1001, 0));
      expect(await java.line('closed')).toBe('closed 1009 ');
      const [reported] = await error;
      expect(reported.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      const [code] = await closed;
      expect(code).toBe(1006);
    });
  });
}
