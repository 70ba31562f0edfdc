// Types of the native binding (build/Release/ws_native.node), loaded once by lib/binding.js.
// This is the whole contract between lib/ and native/binding/. Internal: user code should use the
// public API in index.d.ts.

/** Instruction sets the kernels exist for. */
export type Isa = 'scalar' | 'sse2' | 'avx2';

/** The ISA the kernels dispatch to (WSN_FORCE_ISA can force one), and all the CPU supports. */
export function kernelInfo(): { isa: Isa; available: Isa[] };

/**
 * XOR-masks the first `length` bytes of `source` into `output` from `offset` with the 4-byte
 * `mask` (bufferutil's signature and semantics: mask(source, mask, output, offset, length)).
 */
export function mask(
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number
): void;
/** Unmasks `buffer` in place with the 4-byte `mask` (bufferutil's signature). */
export function unmask(buffer: Uint8Array, mask: Uint8Array): void;
/**
 * Masks in place with a given ISA's kernel starting at key index `keyPhase`; returns the phase
 * after the last byte. For differential tests and benches: throws RangeError for an ISA the CPU or
 * build lacks.
 */
export function maskWith(
  isa: Isa,
  buffer: Uint8Array,
  mask: Uint8Array,
  keyPhase: number
): number;

/** RFC 3629 validation of a whole buffer. */
export function isValidUtf8(buffer: Uint8Array): boolean;
/** The same with a given ISA's kernel (tests and benches). */
export function isValidUtf8With(isa: Isa, buffer: Uint8Array): boolean;

/** Streaming UTF-8 validation: carries at most 3 bytes between feeds, fails fast. */
export class Utf8Stream {
  constructor();
  /** False as soon as the text seen so far cannot be valid. */
  feed(buffer: Uint8Array): boolean;
  /** True when all fed text is valid and ended on a sequence boundary. */
  finish(): boolean;
  reset(): void;
}

/** Options of a FrameParser; the names are ws's. */
export interface FrameParserOptions {
  /** true: reads client frames (must be masked); false: reads server frames. */
  isServer: boolean;
  /** Bytes per message after inflation; 0 = no limit. */
  maxPayload: number;
  /** Frames per message; 0 = no limit. */
  maxFragments: number;
  /** Pieces copied into one message; 0 = no limit. */
  maxBufferedChunks: number;
  skipUTF8Validation: boolean;
  /** permessage-deflate was negotiated: RSV1 allowed on a message's first frame. */
  perMessageDeflate: boolean;
  /** The peer's compression window, 8..15 (default 15). */
  inflateWindowBits?: number;
  /** Reset the inflater after every message (default false). */
  inflateNoContextTakeover?: boolean;
}

/**
 * Result area shared by every parser of this thread: `parserEvents` (Uint32Array). Valid from the
 * return of execute() until the next execute() of any parser, so JS copies what it needs out at once.
 *
 *   word 0: number of events      word 1: bytes consumed from `start`
 *   word 2: status (0 = ok, else a Status of native/core/status.h; lib/errors.js maps the
 *           faults; InflatePending is not one: see FrameParser.execute)
 *   word 3: status detail (opcode, length or close code named in the error message)
 *   then per event i, at 4 + 4*i:
 *     +0: opcode (1 text, 2 binary, 8 close, 9 ping, 10 pong) | 0x100 when the payload is owned
 *     +1: owned: index into takeOwned()'s array; else the payload offset in `chunk`
 *     +2: payload length
 *     +3: close frames: the close code (1005 when absent); else 0
 */
export const parserEvents: Uint32Array;

/** Status numbers of native/core/status.h, in order. */
export const enum ParserStatus {
  Ok = 0,
  UnexpectedRsv1,
  UnexpectedRsv23,
  InvalidOpcode,
  ExpectedFin,
  InvalidControlPayloadLength,
  ExpectedMask,
  UnexpectedMask,
  UnsupportedDataPayloadLength,
  MessageTooBig,
  InvalidUtf8,
  InvalidCloseCode,
  TooManyBufferedParts,
  InflateFailed,
  OutOfMemory,
  /**
   * Not a fault and never sticky: the inflate budget (256 KiB of inflated output per slice, kept
   * across calls) ran out while input was left. The events reported are complete; call execute()
   * again from start + consumed (consumed < chunk.length - start; it may be 0), after letting other
   * work run. The next call has a full budget and always makes progress.
   */
  InflatePending
}

/** One connection's incremental frame reader. */
export class FrameParser {
  constructor(options: FrameParserOptions);
  /**
   * Parses `chunk` from `start` to its end (unmasking in place) and fills `parserEvents`. Returns
   * the number of events. When fewer bytes were consumed than remained (event area full, or status
   * InflatePending), call again from start + consumed. One call per socket chunk in the common
   * case. `start` may equal `chunk.length` (an empty call, which changes nothing).
   */
  execute(chunk: Uint8Array, start: number): number;
  /** Moves out the owned payloads of the last execute() (as Buffers, no copy). */
  takeOwned(): Buffer[];
  /** Frees the parser and its zlib state now; any later call throws. */
  releaseParser(): void;
  /** Bytes held for incomplete messages. */
  readonly bufferedBytes: number;
  /** The `maxPayload` it was made with (0 = no limit). */
  readonly maxPayload: number;
}

/** FrameParser's methods on a NativeSocket handle, for the parser it holds (createParser()). */
export interface ConnectionParser {
  execute(chunk: Uint8Array, start: number): number;
  takeOwned(): Buffer[];
  releaseParser(): void;
  /** The `maxPayload` of createParser()'s options (0 = no limit). */
  readonly maxPayload: number;
}

/** Frame flags for frame() and frameHeader(). */
export const FIN: 1;
export const RSV1: 2;
export const MASK: 4;

/**
 * A whole frame: header followed by `data` (masked with a fresh CSPRNG key, or with `maskKey`,
 * when `flags & MASK`). Always a new Buffer; every byte defined.
 */
export function frame(
  data: Uint8Array,
  opcode: number,
  flags: number,
  maskKey?: Uint8Array
): Buffer;
/** Only the header (2..14 bytes), for large unmasked payloads written separately. */
export function frameHeader(
  payloadLength: number,
  opcode: number,
  flags: number,
  maskKey?: Uint8Array
): Buffer;
/** Fills `buffer` with CSPRNG bytes from the pool (masking keys). */
export function randomFill(buffer: Uint8Array): void;
/**
 * A close payload (code big-endian + reason). Throws TypeError/RangeError with ws's messages for an
 * invalid code, a reason over 123 bytes or invalid UTF-8.
 */
export function closePayload(code: number, reason: Uint8Array): Buffer;

export interface DeflaterOptions {
  windowBits?: number;
  level?: number;
  memLevel?: number;
  strategy?: number;
  noContextTakeover?: boolean;
}
/** One direction of permessage-deflate compression. */
export class Deflater {
  constructor(options: DeflaterOptions);
  /** Compressed bytes of the next part (`fin`: message end, tail 00 00 ff ff removed). */
  compress(data: Uint8Array, fin: boolean): Buffer;
  /** Runs compress() on the libuv threadpool. */
  compressAsync(
    data: Uint8Array,
    fin: boolean,
    callback: (error: Error | null, result?: Buffer) => void
  ): void;
  readonly memoryBytes: number;
}
/** One direction of permessage-deflate decompression. */
export class Inflater {
  constructor(windowBits: number, noContextTakeover: boolean);
  /**
   * Inflated bytes (tail appended when `fin`). Returns a number instead on failure: the Status
   * (MessageTooBig when over `maxPayload`, 0 = no limit; InflateFailed for corrupt data).
   */
  inflate(data: Uint8Array, fin: boolean, maxPayload: number): Buffer | number;
  /** Runs inflate() on the libuv threadpool. */
  inflateAsync(
    data: Uint8Array,
    fin: boolean,
    maxPayload: number,
    callback: (status: number, result?: Buffer) => void
  ): void;
  readonly memoryBytes: number;
}

/** RFC 6455 §4.2.1 key check. */
export function isValidKey(key: string): boolean;
/** Sec-WebSocket-Accept for a key. */
export function acceptKey(key: string): string;
/**
 * Parses a Sec-WebSocket-Extensions value into ws's shape: a null-prototype object mapping each
 * extension name to an array of offers, each offer a null-prototype object mapping each parameter
 * to an array of values (true for a parameter without a value). Throws SyntaxError with ws's
 * message ("Unexpected character at index N", "Unexpected end of input").
 */
export function parseExtensions(
  header: string
): Record<string, Array<Record<string, Array<string | true>>>>;

/**
 * Native socket I/O (lib/native-socket.js). Present only when the addon was built with uv.h; then
 * `setSocketCallbacks` must be called once before any NativeSocket is made.
 */
export const NativeSocket:
  | {
      /**
       * Duplicates `fd` (the caller then closes its own copy) and polls the copy on Node's event
       * loop. Keeps itself alive until close(), and `owner` as its `owner` property.
       */
      new (fd: number, owner: object): NativeSocketHandle;
    }
  | undefined;

export interface NativeSocketHandle extends ConnectionParser {
  /** The `owner` given to the constructor. */
  readonly owner: object;
  /** Report reads to onData (and end of stream or read errors to onEvent). */
  readStart(): void;
  readStop(): void;
  /**
   * Writes now what the kernel takes and queues the rest (pieces of 16 KiB or more are kept by
   * reference, not copied). Returns the bytes still queued (>= 0), or -errno (nothing queued).
   */
  write(data: Uint8Array | Uint8Array[]): number;
  /**
   * Makes the frame parser of this connection's Receiver, held by this handle (one wrapped object
   * per connection instead of two); returns the handle, whose execute(), takeOwned() and
   * releaseParser() then work as FrameParser's. It outlives close(), for bytes read before it.
   */
  createParser(options: FrameParserOptions): this;
  /**
   * Lets reads skip the Receiver: while `idle[0] === 1` (the Receiver has parsed every byte
   * delivered to it and holds no event back), the rest of a large uncompressed data frame is read
   * straight into the message buffer of the parser made by createParser(). A completed frame is
   * then announced by an empty chunk, which the Receiver parses as usual. `null` unlinks. `idle`
   * must be a view over an ArrayBuffer; it is kept alive until unlinked or closed.
   */
  linkParser(idle: Int32Array | null): void;
  /** shutdown(SHUT_WR); 0 or errno. Call once nothing is queued. */
  shutdown(): number;
  /**
   * Closes the descriptor and drops anything queued; idempotent. With `reset`, the peer gets a
   * RST instead of a FIN (SO_LINGER 0).
   */
  close(reset?: boolean): void;
  setNoDelay(enable: boolean): void;
  setKeepAlive(enable: boolean, initialDelaySeconds: number): void;
  ref(): void;
  unref(): void;
}

/**
 * The two functions every NativeSocket reports to, with the handle as `this` (its `owner` property
 * says whose socket it is): onData(chunk) for each read; onEvent(kind, value) with kind 0 = end of
 * stream, 1 = error (value: errno), 2 = bytes flushed from the queue (value: total bytes written to
 * the kernel so far). onData's second argument counts the bytes read straight into a linked parser
 * since the last call.
 */
export function setSocketCallbacks(
  onData: (
    this: NativeSocketHandle,
    chunk: Buffer,
    directBytes: number
  ) => void,
  onEvent: (this: NativeSocketHandle, kind: 0 | 1 | 2, value: number) => void
): void;
