// permessage-deflate (RFC 7692) over zlib raw streams: compression with the trailing 00 00 ff ff
// removed (§7.2.1), decompression with it appended (§7.2.2), context takeover or reset per
// direction, and an output limit enforced *while* inflating. No Node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "byte_buffer.h"
#include "status.h"

namespace wsn {

struct DeflateOptions {
  int windowBits = 15;   // 8..15 as negotiated. zlib's raw deflate cannot use 8: then stored blocks
                         // (level 0) are written, which never reference more than 256 bytes back.
  int level = -1;        // zlib level (Z_DEFAULT_COMPRESSION)
  int memLevel = 8;      // 1..9
  int strategy = 0;      // Z_DEFAULT_STRATEGY
  bool noContextTakeover = false;  // reset (and free) the stream after every message
};

// One compression direction of one connection. zlib state is allocated on first use and freed after
// each message when there is no context takeover, so idle connections hold none. Not thread-safe;
// may be used from a worker thread while no other thread touches it.
class Deflater {
 public:
  explicit Deflater(const DeflateOptions& options) noexcept;
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses the next part of a message and appends the bytes to `out`. With `fin`, ends the
  // message: a sync flush whose 4-byte tail 00 00 ff ff is removed (RFC 7692 §7.2.1); an empty
  // end gives the single byte 00 (§7.2.3.6). Without `fin` (a fragment), a sync flush too so the
  // fragment can be sent now, but the tail is kept: the receiver appends one only after the last
  // fragment, so removing it mid-message would corrupt the stream (§7.2.1).
  // Returns kOk, or kOutOfMemory when zlib or `out` cannot allocate.
  [[nodiscard]] Status compress(const uint8_t* data, size_t length, bool fin, ByteBuffer& out) noexcept;

  // Bytes of zlib state held right now (0 when released).
  size_t memoryBytes() const noexcept;

 private:
  struct State;
  DeflateOptions options_;
  std::unique_ptr<State> state_;
};

// One decompression direction of one connection. Same allocation rules as Deflater.
class Inflater {
 public:
  Inflater(int windowBits, bool noContextTakeover) noexcept;
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates the next compressed bytes of the current message, appending to `out`. With `fin`, the
  // tail 00 00 ff ff is appended first (RFC 7692 §7.2.2) and the message ends. `maxOutputBytes`
  // (0 = no limit) bounds the bytes this message has produced, counted over all its calls
  // whatever `out` each one gets: once exceeded, zlib is stopped at once and
  // kMessageTooBig returned, so a decompression bomb never costs more than the limit plus one
  // scratch block. Corrupt data: kInflateFailed with `*zlibCode` set. After any failure the
  // message is abandoned; the next call starts a new stream.
  [[nodiscard]] Status inflate(const uint8_t* data, size_t length, bool fin, ByteBuffer& out,
                               uint64_t maxOutputBytes, int* zlibCode = nullptr) noexcept;

  size_t memoryBytes() const noexcept;

 private:
  struct State;
  int windowBits_;
  bool noContextTakeover_;
  std::unique_ptr<State> state_;
};

}  // namespace wsn
