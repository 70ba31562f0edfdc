// Types of ws-native's public API. The names and shapes follow those code written against
// @types/ws (ws 8.x) already uses, so switching the import from 'ws' to 'ws-native' type-checks;
// ws-native's own additions are marked as such.

/// <reference types="node" />

import { EventEmitter } from 'events';
import {
  Agent,
  ClientRequest,
  ClientRequestArgs,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server as HTTPServer
} from 'http';
import { Server as HTTPSServer } from 'https';
import { createConnection } from 'net';
import { Duplex, DuplexOptions, Writable } from 'stream';
import { SecureContextOptions } from 'tls';
import { URL } from 'url';
import { ZlibOptions } from 'zlib';

/** Everything `send()` accepts: what `Buffer.from()` takes, plus Blob. */
type BufferLike =
  | string
  | Buffer
  | DataView
  | number
  | ArrayBufferView
  | Uint8Array
  | ArrayBuffer
  | SharedArrayBuffer
  | Blob
  | readonly any[]
  | readonly number[]
  | { valueOf(): ArrayBuffer }
  | { valueOf(): SharedArrayBuffer }
  | { valueOf(): Uint8Array }
  | { valueOf(): readonly number[] }
  | { valueOf(): string }
  | { [Symbol.toPrimitive](hint: string): string };

/** Listener signatures of the WebSocket events, by event name. */
interface WebSocketListeners {
  close: (code: number, reason: Buffer) => void;
  error: (error: Error) => void;
  upgrade: (request: IncomingMessage) => void;
  message: (data: WebSocket.RawData, isBinary: boolean) => void;
  open: () => void;
  ping: (data: Buffer) => void;
  pong: (data: Buffer) => void;
  redirect: (url: string, request: ClientRequest) => void;
  'unexpected-response': (
    request: ClientRequest,
    response: IncomingMessage
  ) => void;
}

/** A WebSocket connection (RFC 6455), client or server side. */
declare class WebSocket extends EventEmitter {
  /** The connection is not yet open. */
  static readonly CONNECTING: 0;
  /** The connection is open and ready to communicate. */
  static readonly OPEN: 1;
  /** The connection is in the process of closing. */
  static readonly CLOSING: 2;
  /** The connection is closed. */
  static readonly CLOSED: 3;

  /**
   * ws-native addition: opens a WebSocket over an already-connected stream with no HTTP
   * handshake. Both ends call it, one with `isServer: true`, the other with `isServer: false`,
   * and pass the same `protocol` and `perMessageDeflate` parameters.
   */
  static wrap(stream: Duplex, options?: WebSocket.WrapOptions): WebSocket;

  /** How binary messages are delivered ('nodebuffer' by default). */
  binaryType: 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
  /** Bytes queued but not yet sent, framing included. */
  readonly bufferedAmount: number;
  /** The negotiated extensions, comma-separated. */
  readonly extensions: string;
  /** Indicates whether the websocket is paused. */
  readonly isPaused: boolean;
  /** The negotiated subprotocol ('' if none). */
  readonly protocol: string;
  /** The current state of the connection. */
  readonly readyState:
    | typeof WebSocket.CONNECTING
    | typeof WebSocket.OPEN
    | typeof WebSocket.CLOSING
    | typeof WebSocket.CLOSED;
  /** The URL given to the constructor (client side only). */
  readonly url: string;

  /** The connection is not yet open. */
  readonly CONNECTING: 0;
  /** The connection is open and ready to communicate. */
  readonly OPEN: 1;
  /** The connection is in the process of closing. */
  readonly CLOSING: 2;
  /** The connection is closed. */
  readonly CLOSED: 3;

  onopen: ((event: WebSocket.Event) => void) | null;
  onerror: ((event: WebSocket.ErrorEvent) => void) | null;
  onclose: ((event: WebSocket.CloseEvent) => void) | null;
  onmessage: ((event: WebSocket.MessageEvent) => void) | null;

  /** A server-side WebSocket, attached to its socket later by the server. */
  constructor(address: null);
  /** A client that connects to `address` (ws:, wss:, http:, https: or ws+unix:). */
  constructor(
    address: string | URL,
    options?: WebSocket.ClientOptions | ClientRequestArgs
  );
  constructor(
    address: string | URL,
    protocols?: string | string[],
    options?: WebSocket.ClientOptions | ClientRequestArgs
  );

  /** Starts the closing handshake (RFC 6455 §7.1.2). */
  close(code?: number, data?: string | Buffer | Uint8Array): void;
  /** Sends a ping (payload up to 125 bytes). */
  ping(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
  /** Sends a pong (payload up to 125 bytes). */
  pong(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
  /** Sends a message; `cb` runs once the data is written, or with an error. */
  send(data: BufferLike, cb?: (err?: Error) => void): void;
  send(
    data: BufferLike,
    options: {
      mask?: boolean | undefined;
      binary?: boolean | undefined;
      compress?: boolean | undefined;
      fin?: boolean | undefined;
    },
    cb?: (err?: Error) => void
  ): void;
  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void;

  /**
   * Pause the websocket causing it to stop emitting events. Some events can still be emitted
   * after this is called, until all buffered data is consumed. This method is a noop if the
   * ready state is `CONNECTING` or `CLOSED`.
   */
  pause(): void;
  /**
   * Make a paused socket resume emitting events. This method is a noop if the ready state is
   * `CONNECTING` or `CLOSED`.
   */
  resume(): void;

  // WHATWG-style event listeners (open, message, error, close only).
  addEventListener<K extends keyof WebSocket.WebSocketEventMap>(
    type: K,
    listener:
      | ((event: WebSocket.WebSocketEventMap[K]) => void)
      | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void },
    options?: WebSocket.EventListenerOptions
  ): void;
  removeEventListener<K extends keyof WebSocket.WebSocketEventMap>(
    type: K,
    listener:
      | ((event: WebSocket.WebSocketEventMap[K]) => void)
      | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void }
  ): void;

  on<K extends keyof WebSocketListeners>(
    event: K,
    listener: (
      this: WebSocket,
      ...args: Parameters<WebSocketListeners[K]>
    ) => void
  ): this;
  on(
    event: string | symbol,
    listener: (this: WebSocket, ...args: any[]) => void
  ): this;
  once<K extends keyof WebSocketListeners>(
    event: K,
    listener: (
      this: WebSocket,
      ...args: Parameters<WebSocketListeners[K]>
    ) => void
  ): this;
  once(
    event: string | symbol,
    listener: (this: WebSocket, ...args: any[]) => void
  ): this;
  off<K extends keyof WebSocketListeners>(
    event: K,
    listener: (
      this: WebSocket,
      ...args: Parameters<WebSocketListeners[K]>
    ) => void
  ): this;
  off(
    event: string | symbol,
    listener: (this: WebSocket, ...args: any[]) => void
  ): this;
  addListener<K extends keyof WebSocketListeners>(
    event: K,
    listener: WebSocketListeners[K]
  ): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof WebSocketListeners>(
    event: K,
    listener: WebSocketListeners[K]
  ): this;
  removeListener(
    event: string | symbol,
    listener: (...args: any[]) => void
  ): this;
}

declare const WebSocketClass: typeof WebSocket;
interface WebSocketClass extends WebSocket {}

/** Listener signatures of the server events, by event name. */
interface ServerListeners<
  T extends typeof WebSocket,
  U extends typeof IncomingMessage
> {
  connection: (websocket: InstanceType<T>, request: InstanceType<U>) => void;
  error: (error: Error) => void;
  headers: (headers: string[], request: InstanceType<U>) => void;
  close: () => void;
  listening: () => void;
  wsClientError: (
    error: Error,
    socket: Duplex,
    request: InstanceType<U>
  ) => void;
}

declare namespace WebSocket {
  /**
   * A received message as delivered by 'message': a Buffer ('nodebuffer'), an ArrayBuffer
   * ('arraybuffer'), the fragments ('fragments'); with binaryType 'blob' it is a Blob at run time.
   */
  type RawData = Buffer | ArrayBuffer | Buffer[];

  /** A message payload as MessageEvent#data carries it. */
  type Data = string | Buffer | ArrayBuffer | Buffer[];

  /** The accepted types for certificate and key data. */
  type CertMeta = string | string[] | Buffer | Buffer[];

  /** Inspects an upgrade request; returns whether to accept it. */
  type VerifyClientCallbackSync<
    Request extends IncomingMessage = IncomingMessage
  > = (info: { origin: string; secure: boolean; req: Request }) => boolean;

  /**
   * Inspects an upgrade request and answers through `callback`; a rejection may carry the HTTP
   * status code, body and extra headers.
   */
  type VerifyClientCallbackAsync<
    Request extends IncomingMessage = IncomingMessage
  > = (
    info: { origin: string; secure: boolean; req: Request },
    callback: (
      res: boolean,
      code?: number,
      message?: string,
      headers?: OutgoingHttpHeaders
    ) => void
  ) => void;

  /** Last-minute changes to the client's request; it must call `request.end()`. */
  type FinishRequestCallback = (
    request: ClientRequest,
    websocket: WebSocket
  ) => void;

  interface ClientOptions extends SecureContextOptions {
    protocol?: string | undefined;
    followRedirects?: boolean | undefined;
    generateMask?(mask: Buffer): void;
    handshakeTimeout?: number | undefined;
    maxRedirects?: number | undefined;
    perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
    localAddress?: string | undefined;
    protocolVersion?: number | undefined;
    headers?: { [key: string]: string } | undefined;
    origin?: string | undefined;
    agent?: Agent | undefined;
    host?: string | undefined;
    family?: number | undefined;
    checkServerIdentity?(servername: string, cert: CertMeta): boolean;
    rejectUnauthorized?: boolean | undefined;
    allowSynchronousEvents?: boolean | undefined;
    autoPong?: boolean | undefined;
    closeTimeout?: number | undefined;
    maxPayload?: number | undefined;
    maxBufferedChunks?: number | undefined;
    maxFragments?: number | undefined;
    skipUTF8Validation?: boolean | undefined;
    createConnection?: typeof createConnection | undefined;
    finishRequest?: FinishRequestCallback | undefined;
  }

  interface PerMessageDeflateOptions {
    serverNoContextTakeover?: boolean | undefined;
    clientNoContextTakeover?: boolean | undefined;
    serverMaxWindowBits?: number | boolean | undefined;
    clientMaxWindowBits?: number | boolean | undefined;
    zlibDeflateOptions?:
      | {
          flush?: number | undefined;
          finishFlush?: number | undefined;
          chunkSize?: number | undefined;
          windowBits?: number | undefined;
          level?: number | undefined;
          memLevel?: number | undefined;
          strategy?: number | undefined;
          dictionary?: Buffer | Buffer[] | DataView | undefined;
          info?: boolean | undefined;
        }
      | undefined;
    zlibInflateOptions?: ZlibOptions | undefined;
    threshold?: number | undefined;
    concurrencyLimit?: number | undefined;
  }

  /**
   * ws-native addition: options of `WebSocket.wrap()`. The ws-specific limits and hooks are those
   * of a server-side connection.
   */
  interface WrapOptions {
    /** true: server role (unmasked frames out, masked required in); default false. */
    isServer?: boolean | undefined;
    /** The subprotocol both ends agreed on. */
    protocol?: string | undefined;
    /** Bytes already read from the stream that belong to the connection. */
    head?: Buffer | undefined;
    /**
     * permessage-deflate with parameters both ends agreed on (window bits 8..15, context
     * takeover flags), plus local tuning (threshold, zlib options, concurrencyLimit).
     */
    perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
    allowSynchronousEvents?: boolean | undefined;
    autoPong?: boolean | undefined;
    closeTimeout?: number | undefined;
    generateMask?(mask: Buffer): void;
    maxPayload?: number | undefined;
    maxBufferedChunks?: number | undefined;
    maxFragments?: number | undefined;
    skipUTF8Validation?: boolean | undefined;
    WebSocket?: typeof WebSocket | undefined;
  }

  interface Event {
    type: string;
    target: WebSocket;
  }

  interface ErrorEvent {
    error: any;
    message: string;
    type: string;
    target: WebSocket;
  }

  interface CloseEvent {
    wasClean: boolean;
    code: number;
    reason: string;
    type: string;
    target: WebSocket;
  }

  interface MessageEvent {
    data: Data;
    type: string;
    target: WebSocket;
  }

  interface WebSocketEventMap {
    open: Event;
    error: ErrorEvent;
    close: CloseEvent;
    message: MessageEvent;
  }

  interface EventListenerOptions {
    once?: boolean | undefined;
  }

  interface ServerOptions<
    U extends typeof WebSocket.WebSocket = typeof WebSocket.WebSocket,
    V extends typeof IncomingMessage = typeof IncomingMessage
  > {
    host?: string | undefined;
    port?: number | undefined;
    backlog?: number | undefined;
    server?: HTTPServer<V> | HTTPSServer<V> | undefined;
    verifyClient?:
      | VerifyClientCallbackAsync<InstanceType<V>>
      | VerifyClientCallbackSync<InstanceType<V>>
      | undefined;
    handleProtocols?: (
      protocols: Set<string>,
      request: InstanceType<V>
    ) => string | false;
    path?: string | undefined;
    noServer?: boolean | undefined;
    allowSynchronousEvents?: boolean | undefined;
    autoPong?: boolean | undefined;
    clientTracking?: boolean | undefined;
    closeTimeout?: number | undefined;
    perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
    maxPayload?: number | undefined;
    maxBufferedChunks?: number | undefined;
    maxFragments?: number | undefined;
    skipUTF8Validation?: boolean | undefined;
    WebSocket?: U | undefined;
  }

  interface AddressInfo {
    address: string;
    family: string;
    port: number;
  }

  /** A WebSocket server on its own port, on an HTTP/S server, or fed by handleUpgrade(). */
  class Server<
    T extends typeof WebSocket.WebSocket = typeof WebSocket.WebSocket,
    U extends typeof IncomingMessage = typeof IncomingMessage
  > extends EventEmitter {
    options: ServerOptions<T, U>;
    path: string;
    /** The connected clients (only with `clientTracking`). */
    clients: Set<InstanceType<T>>;

    constructor(options?: ServerOptions<T, U>, callback?: () => void);

    /** The bound address; throws in noServer mode. */
    address(): AddressInfo | string | null;
    /** Stops accepting connections; existing ones stay open. */
    close(cb?: (err?: Error) => void): void;
    handleUpgrade(
      request: InstanceType<U>,
      socket: Duplex,
      upgradeHead: Buffer,
      callback: (client: InstanceType<T>, request: InstanceType<U>) => void
    ): void;
    shouldHandle(request: InstanceType<U>): boolean | Promise<boolean>;

    on<K extends keyof ServerListeners<T, U>>(
      event: K,
      listener: (
        this: Server<T>,
        ...args: Parameters<ServerListeners<T, U>[K]>
      ) => void
    ): this;
    on(
      event: string | symbol,
      listener: (this: Server<T>, ...args: any[]) => void
    ): this;
    once<K extends keyof ServerListeners<T, U>>(
      event: K,
      listener: (
        this: Server<T>,
        ...args: Parameters<ServerListeners<T, U>[K]>
      ) => void
    ): this;
    once(
      event: string | symbol,
      listener: (this: Server<T>, ...args: any[]) => void
    ): this;
    off<K extends keyof ServerListeners<T, U>>(
      event: K,
      listener: (
        this: Server<T>,
        ...args: Parameters<ServerListeners<T, U>[K]>
      ) => void
    ): this;
    off(
      event: string | symbol,
      listener: (this: Server<T>, ...args: any[]) => void
    ): this;
    addListener<K extends keyof ServerListeners<T, U>>(
      event: K,
      listener: ServerListeners<T, U>[K]
    ): this;
    addListener(
      event: string | symbol,
      listener: (...args: any[]) => void
    ): this;
    removeListener<K extends keyof ServerListeners<T, U>>(
      event: K,
      listener: ServerListeners<T, U>[K]
    ): this;
    removeListener(
      event: string | symbol,
      listener: (...args: any[]) => void
    ): this;
  }

  const WebSocketServer: typeof Server;
  interface WebSocketServer extends Server {}
  const WebSocket: typeof WebSocketClass;
  interface WebSocket extends WebSocketClass {}

  /** Wraps a WebSocket in a Duplex stream (messages in, writes out). */
  function createWebSocketStream(
    websocket: WebSocket,
    options?: DuplexOptions
  ): Duplex;

  /** Options of `Sender.frame()`. */
  interface FrameOptions {
    fin?: boolean | undefined;
    generateMask?: ((mask: Buffer) => void) | undefined;
    mask?: boolean | undefined;
    maskBuffer?: Buffer | undefined;
    opcode: number;
    readOnly?: boolean | undefined;
    rsv1?: boolean | undefined;
  }

  /** Writes frames to a socket (ws's internal Sender, exported as ws does). */
  class Sender {
    constructor(
      socket: Duplex,
      extensions?: { [name: string]: PerMessageDeflate },
      generateMask?: (mask: Buffer) => void
    );
    /** One frame as buffers ready to write (header, then payload). */
    static frame(data: Buffer | string, options: FrameOptions): Buffer[];
    onerror: ((err: Error) => void) | null;
    send(
      data: BufferLike,
      options: {
        binary?: boolean | undefined;
        compress?: boolean | undefined;
        fin?: boolean | undefined;
        mask?: boolean | undefined;
        readOnly?: boolean | undefined;
      },
      cb?: (err?: Error) => void
    ): void;
    ping(data: BufferLike, mask: boolean, cb?: (err?: Error) => void): void;
    pong(data: BufferLike, mask: boolean, cb?: (err?: Error) => void): void;
    close(
      code?: number,
      data?: string | Buffer,
      mask?: boolean,
      cb?: (err?: Error) => void
    ): void;
  }

  /** Options of the Receiver. */
  interface ReceiverOptions {
    allowSynchronousEvents?: boolean | undefined;
    binaryType?:
      'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob' | undefined;
    extensions?: { [name: string]: PerMessageDeflate } | undefined;
    isServer?: boolean | undefined;
    maxPayload?: number | undefined;
    maxFragments?: number | undefined;
    maxBufferedChunks?: number | undefined;
    skipUTF8Validation?: boolean | undefined;
  }

  /**
   * Reads frames written to it (ws's internal Receiver, exported as ws does). Emits 'message',
   * 'ping', 'pong', 'conclude' and 'error' (with `code` WS_ERR_*).
   */
  class Receiver extends Writable {
    constructor(options?: ReceiverOptions);
  }

  /** Options of PerMessageDeflate. */
  interface PerMessageDeflateConstructorOptions extends PerMessageDeflateOptions {
    isServer?: boolean | undefined;
    maxPayload?: number | undefined;
  }

  /** The permessage-deflate extension (RFC 7692): negotiation and compression. */
  class PerMessageDeflate {
    constructor(options?: PerMessageDeflateConstructorOptions);
    static readonly extensionName: 'permessage-deflate';
    /** The accepted parameters, once negotiated. */
    params: { [name: string]: boolean | number } | null;
    offer(): { [name: string]: boolean | number };
    accept(configurations: Array<{ [name: string]: Array<string | true> }>): {
      [name: string]: boolean | number;
    };
    cleanup(): void;
    compress(
      data: Buffer | string,
      fin: boolean,
      callback: (err: Error | null, result?: Buffer) => void
    ): void;
    decompress(
      data: Buffer,
      fin: boolean,
      callback: (err: Error | null, result?: Buffer) => void
    ): void;
  }

  /** Sec-WebSocket-Extensions grammar (RFC 6455 §9.1). */
  namespace extension {
    function parse(header: string): {
      [name: string]: Array<{ [param: string]: Array<string | true> }>;
    };
    function format(extensions: {
      [name: string]:
        | {
            [param: string]:
              string | number | true | Array<string | number | true>;
          }
        | Array<{
            [param: string]:
              string | number | true | Array<string | number | true>;
          }>;
    }): string;
  }

  /** Sec-WebSocket-Protocol grammar (RFC 6455 §4.1). */
  namespace subprotocol {
    function parse(header: string): Set<string>;
  }
}

export = WebSocket;
