// Incremental RFC 6455 frame reader. Accepts any chunk split (down to one byte)
// with identical results; checks RSV bits, opcodes, masking, lengths,
// control-frame and fragmentation rules; unmasks in place; validates UTF-8
// while unmasking; inflates permessage-deflate messages with the limit enforced
// while inflating. No Node: the binding drives it once per socket chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "byte_buffer.h"
#include "deflate.h"
#include "status.h"
#include "utf8.h"

namespace wsn {

enum class Role : uint8_t {
  kServer,  // reads client frames: they MUST be masked (§5.1)
  kClient   // reads server frames: they MUST NOT be masked
};

enum Opcode : uint8_t {
  kOpContinuation = 0x0,
  kOpText = 0x1,
  kOpBinary = 0x2,
  kOpClose = 0x8,
  kOpPing = 0x9,
  kOpPong = 0xA
};

struct ParserOptions {
  Role role = Role::kServer;
  // Per message, after inflation; 0 = no limit.
  uint64_t maxPayloadBytes = 100 * 1024 * 1024;
  uint32_t maxFragments = 131072;  // frames per message; 0 = no limit
  // Pieces copied into one message; 0 = no limit.
  uint32_t maxBufferedChunks = 1048576;
  bool skipUtf8Validation = false;
  // Negotiated: RSV1 allowed on a message's first frame.
  bool perMessageDeflate = false;
  int inflateWindowBits = 15;  // the peer's window (8..15)
  bool inflateNoContextTakeover = false;
  // Inflated bytes one slice may produce before execute() stops with
  // Status::kInflatePending, so one large compressed message cannot hold the
  // caller's thread for long. 256 KiB is about 1 ms of zlib CPU time for
  // English-like text on x86-64 (1 MiB slices took 3.6 ms). The budget spans
  // execute() calls and is refilled only when kInflatePending is returned, so
  // a run of socket chunks delivered back to back is bounded too. zlib gets
  // the input in slices of max(budget / 1032, 1 KiB) bytes (1032: deflate's
  // largest ratio), so a slice overruns the budget by at most max(budget,
  // 1 MiB) plus the 4-byte tail's output. 0 = no budget.
  uint64_t inflateBudgetBytes = 256 * 1024;
};

// One complete message or control frame. For a close frame the payload is the
// reason only (the bytes after the 2-byte code); the code is in closeCode.
struct ParserEvent {
  uint8_t opcode = 0;  // kOpText, kOpBinary, kOpClose, kOpPing or kOpPong
  // The payload is ownedPayloads()[ownedIndex], else a span of the input.
  bool owned = false;
  // Close frames: the code, or 1005 when the payload is empty.
  uint16_t closeCode = 0;
  // Span: the payload starts at data + offset (unmasked in place).
  uint32_t offset = 0;
  uint32_t length = 0;  // span: payload length (owned: the owned buffer's size)
  uint32_t ownedIndex = 0;
};

struct ExecuteResult {
  // < length only when eventCapacity filled up, the inflate budget ran out
  // (kInflatePending) or an error occurred.
  size_t bytesConsumed = 0;
  size_t eventCount = 0;  // events written; all precede the error, if any
  Status status = Status::kOk;
  // The opcode, length or close code named by the error message.
  uint64_t statusDetail = 0;
};

// Not thread-safe; one per connection.
class FrameParser {
 public:
  explicit FrameParser(const ParserOptions& options);
  ~FrameParser();
  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;

  // Parses [data, data+length). Unmasks payload bytes in place (the caller's
  // buffer changes). Writes at most `eventCapacity` events; when full, stops
  // after the last complete event and returns bytesConsumed < length: call
  // again with the rest. Payloads wholly inside this chunk, unfragmented and
  // uncompressed, come as spans; the rest (split over chunks, fragmented,
  // inflated) are collected in parser-owned buffers listed by ownedPayloads(),
  // which the caller takes (moves out) before the next execute(); owned entries
  // left behind are cleared then. Errors are sticky: after one, every call
  // returns it with nothing consumed. After a close frame the parser is
  // finished: later bytes are consumed and ignored (§5.5.1).
  // Status::kInflatePending is not an error: the inflate budget is used up with
  // input left (bytesConsumed < length always; it may be 0). The events before
  // it are complete; call again from bytesConsumed, preferably after other work
  // has had a turn. The budget is full again then. The parser holds no inflated
  // output back, so the next call starts with the next input byte.
  [[nodiscard]] ExecuteResult execute(uint8_t* data, size_t length,
                                      ParserEvent* events,
                                      size_t eventCapacity) noexcept;

  std::vector<ByteBuffer>& ownedPayloads() noexcept { return owned_; }

  // Direct payload reads: the socket reads the rest of a large uncompressed
  // data frame straight into the message buffer instead of into a chunk the
  // parser then copies from. Only valid between execute() calls, with every
  // byte read so far already given to execute().
  //
  // Returns how many payload bytes may be written at *destination now: 0
  // unless the current frame is an uncompressed data frame with at least
  // `minBytes` of payload left, or one already read directly in part (its
  // tail is read directly too, however short). The window never goes past
  // the frame, and the buffer grows at most to twice the bytes that really
  // arrived (or minBytes, or the frame's end when less than minBytes would be
  // left), so a header announcing more than is sent costs next to nothing.
  [[nodiscard]] size_t directWindow(size_t minBytes,
                                    uint8_t** destination) noexcept;
  // `bytes` (at most the last window) were written at its destination:
  // unmasks them in place, validates UTF-8, counts the piece. Returns true
  // when the next execute() has something to report even without input (the
  // frame is complete, or the bytes were invalid: that error is sticky and
  // reported by that execute()).
  bool commitDirect(size_t bytes) noexcept;

  bool finished() const noexcept;  // a close frame was read
  // A fragmented message is being assembled: a non-final data frame was read
  // and the final one has not begun. Its payload is copied out of every
  // chunk into the parser's message buffer.
  bool assemblingFragments() const noexcept;
  // Bytes this parser holds right now for incomplete messages (header carry +
  // message buffer).
  size_t bufferedBytes() const noexcept;
  // The limit the parser was made with (ParserOptions::maxPayloadBytes).
  uint64_t maxPayloadBytes() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<ByteBuffer> owned_;
};

}  // namespace wsn
