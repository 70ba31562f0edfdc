// permessage-deflate (RFC 7692) over zlib raw streams: compression with the
// trailing 00 00 ff ff removed (§7.2.1), decompression with it appended
// (§7.2.2), context takeover or reset per direction, and an output limit
// enforced *while* inflating. No Node.
//
// Memory: between messages a connection holds no zlib stream, only the history
// bytes the next message may refer to. After a sync flush the only state a raw
// deflate stream carries into the next message is its window, so each call
// borrows a stream from a small process-wide pool and restores the window with
// deflateSetDictionary / inflateSetDictionary (raw streams accept one at any
// block boundary). A stream handed back is remembered as its last user's: when
// that user is the next to ask, from any thread, it gets the stream as it
// left it and nothing is restored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "byte_buffer.h"
#include "status.h"

namespace wsn {

namespace detail {

// A zlib stream that may sit in the process-wide pool between messages
// (deflate.cc).
struct ZStream;
struct ZStreamDeleter {
  void operator()(ZStream* stream) const noexcept;
};
using ZStreamPtr = std::unique_ptr<ZStream, ZStreamDeleter>;

// The last `limitBytes` bytes of everything appended, kept in a circular buffer
// that grows only as bytes arrive. Not thread-safe.
class HistoryRing {
 public:
  explicit HistoryRing(size_t limitBytes) noexcept : limitBytes_(limitBytes) {}

  size_t limitBytes() const noexcept { return limitBytes_; }
  size_t sizeBytes() const noexcept { return bytes_.size(); }
  size_t memoryBytes() const noexcept { return bytes_.capacity(); }

  // False when storage could not grow: the ring is then empty.
  [[nodiscard]] bool append(const uint8_t* data, size_t length) noexcept;
  // Empties the ring and returns room for exactly `length` bytes
  // (1..limitBytes()), oldest first, which the caller must fill. nullptr (and
  // an empty ring) when allocation fails.
  [[nodiscard]] uint8_t* replace(size_t length) noexcept;
  // Empties the ring and frees its storage.
  void reset() noexcept {
    bytes_.reset();
    startIndex_ = 0;
  }
  // The contents, oldest first: `first` then `second`; either may be empty.
  void spans(const uint8_t** first, size_t* firstBytes, const uint8_t** second,
             size_t* secondBytes) const noexcept;

 private:
  ByteBuffer bytes_;
  size_t startIndex_ = 0;  // the oldest byte, once the ring is full
  size_t limitBytes_;
};

}  // namespace detail

struct DeflateOptions {
  // 8..15 as negotiated. zlib's raw deflate cannot use 8: then stored blocks
  // (level 0) are written, which never reference more than 256 bytes back.
  int windowBits = 15;
  // zlib level, -1..9 (-1: Z_DEFAULT_COMPRESSION).
  int level = -1;
  // zlib memLevel, 1..9.
  int memLevel = 8;
  // zlib strategy, 0..4 (0: Z_DEFAULT_STRATEGY).
  int strategy = 0;
  // RFC 7692 §7.1.1: every message starts a new stream.
  bool noContextTakeover = false;
  // With context takeover, how much of the previous messages is kept between
  // messages and given back to a borrowed stream as its dictionary (at most
  // 2^windowBits - 262, all zlib uses). Less than the window is always valid:
  // the peer keeps the whole window, and we only refer to recent bytes. CPU
  // time per message with 64 connections taking turns (every call restores its
  // history; level -1, window 15), output / input for caps 1, 4, 8 and 32 KiB:
  //   32 B JSON-like: 3.4, 6.1, 9.0, 19.0 us (1.96 resumed); 0.423, 0.395,
  //                   0.388, 0.381 (none: 2.6 us, 1.058)
  //   16 KiB text:    291, 312, 332, 400 us; 0.461, 0.444, 0.430, 0.404
  // 4 KiB: a third less work than 8 KiB for 2-3% more bytes.
  size_t maxHistoryBytes = 4 * 1024;
};

// One compression direction of one connection. Between calls it holds only the
// history bytes (memoryBytes()); each compress() call borrows a stream from the
// pool and gives it back before it returns, fragments included
// (each ends on a sync flush). Not thread-safe; may be used from any thread
// while no other thread touches it.
class Deflater {
 public:
  explicit Deflater(const DeflateOptions& options) noexcept;
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses the next part of a message and appends the bytes to `out`. With
  // `fin`, ends the message: a sync flush whose 4-byte tail 00 00 ff ff is
  // removed (RFC 7692 §7.2.1); an empty end gives the single byte 00
  // (§7.2.3.6). Without `fin` (a fragment), a sync flush too so the fragment
  // can be sent now, but the tail is kept: the receiver appends one only after
  // the last fragment, so removing it mid-message would corrupt the stream
  // (§7.2.1). Returns kOk, or kOutOfMemory when zlib or `out` cannot allocate.
  [[nodiscard]] Status compress(const uint8_t* data, size_t length, bool fin,
                                ByteBuffer& out) noexcept;

  // Bytes this connection holds between calls: its history (no stream is held
  // outside a call).
  size_t memoryBytes() const noexcept;

  // zlib memory of the idle deflate streams in the pool (at most 4).
  // Thread-safe.
  static size_t poolBytes() noexcept;
  // Frees the idle deflate streams. Thread-safe.
  static void releasePool() noexcept;

 private:
  DeflateOptions options_;
  detail::HistoryRing history_;
  uint64_t ownerId_;
  // Streams handed back so far: tells the stream this object left in a pool
  // last (resumable) from older ones it left elsewhere since.
  uint64_t uses_ = 0;
};

// One decompression direction of one connection. Between messages it holds only
// the last 2^windowBits bytes of output (the most the peer may refer back, RFC
// 7692 §7.1.2.2); a stream is borrowed for the length of a message and given
// back when it ends. Not thread-safe; may be used from any thread while no
// other thread touches it.
class Inflater {
 public:
  Inflater(int windowBits, bool noContextTakeover) noexcept;
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates the next compressed bytes of the current message, appending to
  // `out`. With `fin`, the tail 00 00 ff ff is appended first (RFC 7692 §7.2.2)
  // and the message ends. `maxOutputBytes` (0 = no limit) bounds the bytes this
  // message has produced, counted over all its calls whatever `out` each one
  // gets: once exceeded, zlib is stopped at once and kMessageTooBig returned,
  // so a decompression bomb never costs more than the limit plus one scratch
  // block. Corrupt data: kInflateFailed with `*zlibCode` set. After any failure
  // the message is abandoned; the next call starts a new stream.
  [[nodiscard]] Status inflate(const uint8_t* data, size_t length, bool fin,
                               ByteBuffer& out, uint64_t maxOutputBytes,
                               int* zlibCode = nullptr) noexcept;

  // Bytes this connection holds: its history between messages; the borrowed
  // stream (whose window then holds the history) while a message is in
  // progress.
  size_t memoryBytes() const noexcept;

  // zlib memory of the idle inflate streams in the pool (at most 4).
  // Thread-safe.
  static size_t poolBytes() noexcept;
  // Frees the idle inflate streams. Thread-safe.
  static void releasePool() noexcept;

 private:
  void giveBack(bool resumable) noexcept;

  bool noContextTakeover_;
  detail::HistoryRing history_;
  detail::ZStreamPtr stream_;  // only while a message is in progress
  uint64_t ownerId_;
  uint64_t uses_ = 0;
  // Inflated so far for the current message, over all calls.
  uint64_t messageBytes_ = 0;
  // A block with BFINAL set ended the stream inside this message.
  bool streamEnded_ = false;
  // history_ was dropped mid-message: the stream's window holds it.
  bool historyInStream_ = false;
};

}  // namespace wsn
