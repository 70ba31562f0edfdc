// permessage-deflate over zlib raw streams (RFC 7692 §7.2): the message tail,
// context takeover through history bytes and pooled streams, counted zlib
// memory, and an inflate limit checked after every bounded output step.
// Depends on zlib only; no Node.
#include "deflate.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>

namespace wsn {

namespace detail {

enum class StreamKind : uint8_t { kDeflate = 0, kInflate = 1 };

// What a pooled stream was initialised with: only a stream with the same key
// can serve a call (windowBits and memLevel cannot change after init, and a
// level or strategy change would need deflateParams on every borrow).
struct StreamKey {
  StreamKind kind;
  int windowBits;
  int level;
  int memLevel;
  int strategy;

  bool operator==(const StreamKey& other) const noexcept {
    return kind == other.kind && windowBits == other.windowBits &&
           level == other.level && memLevel == other.memLevel &&
           strategy == other.strategy;
  }
};

struct ZStream {
  z_stream stream{};
  size_t allocatedBytes = 0;
  StreamKey key{};
  bool initialized = false;
  // The user that last gave the stream back in a resumable state, and its use
  // count then (0: nobody may resume it; it must be reset first).
  uint64_t ownerId = 0;
  uint64_t ownerUses = 0;

  ~ZStream() {
    if (!initialized) return;
    if (key.kind == StreamKind::kDeflate) {
      deflateEnd(&stream);
    } else {
      inflateEnd(&stream);
    }
  }
};

void ZStreamDeleter::operator()(ZStream* stream) const noexcept {
  delete stream;
}

bool HistoryRing::append(const uint8_t* data, size_t length) noexcept {
  if (limitBytes_ == 0 || length == 0) return true;
  if (length >= limitBytes_) {
    uint8_t* room = replace(limitBytes_);
    if (room == nullptr) return false;
    std::memcpy(room, data + (length - limitBytes_), limitBytes_);
    return true;
  }
  const size_t size = bytes_.size();
  if (size < limitBytes_) {
    const size_t linear = std::min(length, limitBytes_ - size);
    const size_t needed = size + linear;
    if (needed > bytes_.capacity()) {
      // Half again per growth, so many small messages reallocate O(log n)
      // times; never past the limit.
      const size_t capacity = bytes_.capacity();
      const size_t target =
          std::max(needed, std::min(limitBytes_, capacity + capacity / 2));
      if (!bytes_.reserve(target)) {
        reset();
        return false;
      }
    }
    std::memcpy(bytes_.extend(linear), data, linear);
    data += linear;
    length -= linear;
    if (length == 0) return true;
  }
  // Full: the new bytes overwrite the oldest ones.
  const size_t first = std::min(length, limitBytes_ - startIndex_);
  std::memcpy(bytes_.data() + startIndex_, data, first);
  std::memcpy(bytes_.data(), data + first, length - first);
  startIndex_ = (startIndex_ + length) % limitBytes_;
  return true;
}

uint8_t* HistoryRing::replace(size_t length) noexcept {
  startIndex_ = 0;
  bytes_.clear();
  if (length > bytes_.capacity()) {
    // Nothing to keep: a fresh block avoids realloc's copy.
    bytes_.reset();
    if (!bytes_.reserve(length)) return nullptr;
  }
  return bytes_.extend(length);
}

void HistoryRing::spans(const uint8_t** first, size_t* firstBytes,
                        const uint8_t** second,
                        size_t* secondBytes) const noexcept {
  const uint8_t* data = bytes_.data();
  const size_t size = bytes_.size();
  *first = data + startIndex_;
  *firstBytes = size - startIndex_;
  *second = data;
  *secondBytes = startIndex_;
}

}  // namespace detail

namespace {

using detail::StreamKey;
using detail::StreamKind;
using detail::ZStream;
using detail::ZStreamPtr;

// RFC 7692 §7.2.1: the empty stored block a sync flush ends with; removed by
// the sender at the end of a message and put back by the receiver (§7.2.2).
constexpr uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};

// Output steps of the inflater: a bomb costs at most the limit plus one step.
constexpr size_t kInflateStepBytes = 64 * 1024;
// First output reservation of a compress() call, so a large message that
// compresses well does not reserve its whole deflateBound().
constexpr size_t kDeflateFirstStepMaxBytes = 256 * 1024;
// zlib counts bytes in uInt; larger inputs are fed in slices of this size.
constexpr size_t kMaxZlibSliceBytes = size_t{1} << 30;
// Idle streams the process keeps per kind. One serves any number of
// connections taking turns; a few more let as many hot connections alternate
// and each still get its own stream back untouched. A deflate stream (window
// 15, memLevel 8) is about 262 KiB, so the pools stay near 1.2 MiB at worst.
constexpr size_t kPoolMaxStreams = 4;

// zlib hands zfree only the address, so every block carries its size in front,
// padded to the strictest fundamental alignment so zlib's own structures stay
// aligned.
struct alignas(alignof(std::max_align_t)) BlockHeader {
  size_t bytes;
};

voidpf countingAlloc(voidpf opaque, uInt items, uInt size) {
  const size_t bytes = static_cast<size_t>(items) * static_cast<size_t>(size);
  if (size != 0 && bytes / size != items) return Z_NULL;
  if (bytes > std::numeric_limits<size_t>::max() - sizeof(BlockHeader))
    return Z_NULL;
  void* block = std::malloc(sizeof(BlockHeader) + bytes);
  if (block == nullptr) return Z_NULL;
  static_cast<BlockHeader*>(block)->bytes = bytes;
  *static_cast<size_t*>(opaque) += bytes;
  return static_cast<unsigned char*>(block) + sizeof(BlockHeader);
}

void countingFree(voidpf opaque, voidpf address) {
  if (address == Z_NULL) return;
  auto* block = reinterpret_cast<BlockHeader*>(
      static_cast<unsigned char*>(address) - sizeof(BlockHeader));
  *static_cast<size_t*>(opaque) -= block->bytes;
  std::free(block);
}

// ---- Process-wide stream pools

// Idle stream bytes per kind, for poolBytes().
std::atomic<size_t> gPooledBytes[2];
// Tells connections apart in a stream's ownerId; 0 is nobody.
std::atomic<uint64_t> gNextOwnerId{1};

std::atomic<size_t>& pooledBytesOf(StreamKind kind) {
  return gPooledBytes[static_cast<size_t>(kind)];
}

// The idle streams of one kind, least recently given back first. One pool for
// every thread, not one per thread: the binding runs a connection's queued
// calls one after another on whichever threadpool thread is free, and only a
// shared pool lets the next call resume the stream the previous one left on
// another thread (a 32 B message on the threadpool: 17 us of CPU resumed, 23
// us restored). The lock is held for a scan of at most four pointers.
class StreamPool {
 public:
  explicit StreamPool(StreamKind kind) noexcept : kind_(kind) {}
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  enum class Pick { kNone, kWarm, kCold };

  // The stream `ownerId` gave back last if it is here and nothing used it
  // since (kWarm: resume it as is). Else one to reset (kCold): the most recent
  // one nobody can resume, likely still in cache; failing that, and only when
  // the pool is full, the least recently given back. A pool with room answers
  // kNone instead, so the caller makes a new stream and leaves alone the ones
  // other hot connections are about to resume.
  ZStream* take(const StreamKey& key, uint64_t ownerId, uint64_t ownerUses,
                Pick* pick) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    constexpr size_t kMissing = kPoolMaxStreams;
    size_t cold = kMissing;
    size_t oldest = kMissing;
    for (size_t i = 0; i < count_; ++i) {
      const ZStream* stream = idle_[i];
      if (!(stream->key == key)) continue;
      if (stream->ownerId == ownerId && stream->ownerUses == ownerUses) {
        *pick = Pick::kWarm;
        return remove(i);
      }
      if (stream->ownerId == 0) {
        cold = i;
      } else if (oldest == kMissing) {
        oldest = i;
      }
    }
    if (cold != kMissing) {
      *pick = Pick::kCold;
      return remove(cold);
    }
    if (oldest != kMissing && count_ == kPoolMaxStreams) {
      *pick = Pick::kCold;
      return remove(oldest);
    }
    *pick = Pick::kNone;
    return nullptr;
  }

  // Keeps `stream`; returns the one pushed out to make room (the least
  // recently given back), if any, for the caller to free outside the lock.
  [[nodiscard]] ZStream* give(ZStream* stream) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    ZStream* evicted = count_ == kPoolMaxStreams ? remove(0) : nullptr;
    idle_[count_++] = stream;
    pooledBytesOf(kind_).fetch_add(stream->allocatedBytes,
                                   std::memory_order_relaxed);
    return evicted;
  }

  void clear() noexcept {
    ZStream* idle[kPoolMaxStreams];
    size_t count = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (count_ != 0) idle[count++] = remove(count_ - 1);
    }
    for (size_t i = 0; i < count; ++i) delete idle[i];
  }

 private:
  ZStream* remove(size_t index) noexcept {
    ZStream* stream = idle_[index];
    std::memmove(&idle_[index], &idle_[index + 1],
                 (count_ - index - 1) * sizeof(ZStream*));
    --count_;
    pooledBytesOf(kind_).fetch_sub(stream->allocatedBytes,
                                   std::memory_order_relaxed);
    return stream;
  }

  std::mutex mutex_;
  StreamKind kind_;
  size_t count_ = 0;
  ZStream* idle_[kPoolMaxStreams] = {};
};

struct Pools {
  StreamPool deflate{StreamKind::kDeflate};
  StreamPool inflate{StreamKind::kInflate};
};

// The pool of `kind`; nullptr only if it could not be allocated. Never
// destroyed: objects destroyed during static destruction may still give
// streams back, and idle streams stay reachable (not leaked) until exit.
StreamPool* poolOf(StreamKind kind) noexcept {
  static Pools* const pools = new (std::nothrow) Pools();
  if (pools == nullptr) return nullptr;
  return kind == StreamKind::kDeflate ? &pools->deflate : &pools->inflate;
}

ZStreamPtr newStream(const StreamKey& key) noexcept {
  ZStreamPtr stream(new (std::nothrow) ZStream());
  if (!stream) return nullptr;
  z_stream& z = stream->stream;
  z.zalloc = countingAlloc;
  z.zfree = countingFree;
  z.opaque = &stream->allocatedBytes;
  stream->key = key;
  const int code =
      key.kind == StreamKind::kDeflate
          ? deflateInit2(&z, key.level, Z_DEFLATED, -key.windowBits,
                         key.memLevel, key.strategy)
          : inflateInit2(&z, -key.windowBits);
  if (code != Z_OK) return nullptr;
  stream->initialized = true;
  return stream;
}

// How a borrowed stream relates to its borrower's history.
enum class Borrowed {
  kFresh,   // new, empty window
  kStale,   // someone else's state: reset it and restore the history
  kResumed  // exactly as this borrower left it: use as is
};

ZStreamPtr borrowStream(const StreamKey& key, uint64_t ownerId,
                        uint64_t ownerUses, Borrowed* borrowed) noexcept {
  if (StreamPool* pool = poolOf(key.kind)) {
    StreamPool::Pick pick = StreamPool::Pick::kNone;
    ZStream* stream = pool->take(key, ownerId, ownerUses, &pick);
    if (stream != nullptr) {
      *borrowed = pick == StreamPool::Pick::kWarm ? Borrowed::kResumed
                                                  : Borrowed::kStale;
      return ZStreamPtr(stream);
    }
  }
  *borrowed = Borrowed::kFresh;
  return newStream(key);
}

// Hands `stream` to the pool. `resumable`: its state is exactly what
// its owner (ownerId after `uses` give-backs) would continue from.
void giveStream(ZStreamPtr stream, bool resumable, uint64_t ownerId,
                uint64_t uses) noexcept {
  if (!stream) return;
  stream->ownerId = resumable ? ownerId : 0;
  stream->ownerUses = uses;
  StreamPool* pool = poolOf(stream->key.kind);
  if (pool != nullptr) stream.reset(pool->give(stream.release()));
}

// Appends writable space to `out` and returns it: at least min(wantBytes,
// capBytes) bytes when the buffer must grow, all spare capacity up to
// `capBytes` otherwise. Growth is geometric but never past size + capBytes,
// which is what bounds the inflater's allocation by its limit.
uint8_t* grabSpace(ByteBuffer& out, size_t wantBytes, size_t capBytes,
                   size_t* gotBytes) noexcept {
  wantBytes = std::min(std::max<size_t>(wantBytes, 1), capBytes);
  const size_t size = out.size();
  const size_t spare = out.capacity() - size;
  if (spare < wantBytes) {
    size_t target = size + wantBytes;
    const size_t geometric = out.capacity() + out.capacity() / 2;
    if (geometric > target) target = std::min(geometric, size + capBytes);
    if (!out.reserve(target)) return nullptr;
  }
  const size_t bytes = std::min(out.capacity() - size, capBytes);
  *gotBytes = bytes;
  return out.extend(bytes);
}

int clampInt(int value, int low, int high) noexcept {
  return std::min(std::max(value, low), high);
}

DeflateOptions clampedOptions(DeflateOptions options) noexcept {
  options.windowBits = clampInt(options.windowBits, 8, 15);
  options.level = clampInt(options.level, -1, 9);
  options.memLevel = clampInt(options.memLevel, 1, 9);
  options.strategy = clampInt(options.strategy, 0, 4);
  return options;
}

uint64_t newOwnerId() noexcept {
  return gNextOwnerId.fetch_add(1, std::memory_order_relaxed);
}

StreamKey deflateKey(const DeflateOptions& options) noexcept {
  StreamKey key{StreamKind::kDeflate, options.windowBits, options.level,
                options.memLevel, options.strategy};
  if (key.windowBits == 8) {
    // zlib's raw deflate refuses a 256-byte window. Stored blocks hold no
    // back-references at all, so they are valid for a peer that can only look
    // 256 bytes back (RFC 7692 §7.1.2.1).
    key.windowBits = 9;
    key.level = 0;
  }
  return key;
}

// History a deflater keeps between calls: none when its blocks never refer
// back (stored blocks, Huffman only), else up to what deflateSetDictionary
// uses: "at most the window size minus 262 bytes" (zlib.h), the lookahead
// deflate reserves (MIN_LOOKAHEAD).
size_t deflateHistoryLimit(const DeflateOptions& options) noexcept {
  const StreamKey key = deflateKey(options);
  if (key.level == 0 || key.strategy == Z_HUFFMAN_ONLY) return 0;
  return std::min(options.maxHistoryBytes, (size_t{1} << key.windowBits) - 262);
}

// Every inflate stream uses zlib's full 15-bit window, whatever was negotiated.
// A larger window never rejects valid data (some deflaters, Node's among them,
// raise 8 to 9), and with a smaller one zlib checks a match distance against
// the window only for output of earlier inflate() calls, so a corrupt stream
// reaching too far back was accepted or rejected depending on how the socket
// cut it (native/fuzz/regressions/frame_parser_fuzz/inflate-window9-*). With 15
// bits the only limit is the data itself (history plus output), the same for
// every split and for a resumed or a restored stream alike.
constexpr int kInflateWindowBits = 15;

}  // namespace

// ---- Deflater
// ----------------------------------------------------------------------------------

Deflater::Deflater(const DeflateOptions& options) noexcept
    : options_(clampedOptions(options)),
      history_(deflateHistoryLimit(options_)),
      ownerId_(newOwnerId()) {}

Deflater::~Deflater() = default;

size_t Deflater::memoryBytes() const noexcept { return history_.memoryBytes(); }

size_t Deflater::poolBytes() noexcept {
  return pooledBytesOf(StreamKind::kDeflate).load(std::memory_order_relaxed);
}

void Deflater::releasePool() noexcept {
  if (StreamPool* pool = poolOf(StreamKind::kDeflate)) pool->clear();
}

Status Deflater::compress(const uint8_t* data, size_t length, bool fin,
                          ByteBuffer& out) noexcept {
  Borrowed borrowed = Borrowed::kFresh;
  ZStreamPtr borrowedStream =
      borrowStream(deflateKey(options_), ownerId_, uses_, &borrowed);
  if (!borrowedStream) return Status::kOutOfMemory;
  z_stream& stream = borrowedStream->stream;
  const auto fail = [&]() {
    // What was emitted no longer matches the peer's view of the stream: the
    // next message starts without history, which is always valid.
    history_.reset();
    giveStream(std::move(borrowedStream), false, ownerId_, ++uses_);
    return Status::kOutOfMemory;
  };
  // A stale stream still holds another connection's bytes past the end of
  // what this call writes. They cannot reach the output: zlib's longest_match
  // reads up to 258 bytes ahead but caps its early exit at the lookahead, so
  // the match chosen depends only on real data ("necessary to make deflate
  // deterministic", deflate.c), and the result is what a new stream writes.
  if (borrowed == Borrowed::kStale && deflateReset(&stream) != Z_OK)
    return fail();
  if (borrowed != Borrowed::kResumed) {
    // After a sync flush the window is all a raw deflate stream carries over
    // (RFC 7692 §7.2.1 ends every part with one), so restoring it continues
    // the stream the peer's inflater is following.
    const uint8_t* spans[2];
    size_t spanBytes[2];
    history_.spans(&spans[0], &spanBytes[0], &spans[1], &spanBytes[1]);
    for (int i = 0; i < 2; ++i) {
      if (spanBytes[i] != 0 &&
          deflateSetDictionary(&stream, spans[i],
                               static_cast<uInt>(spanBytes[i])) != Z_OK) {
        return fail();
      }
    }
  }

  const size_t startSize = out.size();
  const uLong bound = deflateBound(
      &stream, static_cast<uLong>(std::min(length, kMaxZlibSliceBytes)));
  // A sync flush adds at most an empty stored block (5 bytes) beyond
  // deflateBound's estimate.
  size_t wantBytes =
      std::min(static_cast<size_t>(bound) + 16, kDeflateFirstStepMaxBytes);
  const uint8_t* next = data;
  size_t left = length;

  for (;;) {
    const size_t slice = std::min(left, kMaxZlibSliceBytes);
    // The whole message part must be flushed so it can be sent now; earlier
    // slices need not be.
    const int flush = slice == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    stream.next_in = const_cast<Bytef*>(next);
    stream.avail_in = static_cast<uInt>(slice);
    do {
      size_t spaceBytes = 0;
      uint8_t* space =
          grabSpace(out, wantBytes, kMaxZlibSliceBytes, &spaceBytes);
      if (space == nullptr) return fail();
      wantBytes = kInflateStepBytes;
      stream.next_out = space;
      stream.avail_out = static_cast<uInt>(spaceBytes);
      const int code = deflate(&stream, flush);
      out.shrinkBy(stream.avail_out);
      // Z_BUF_ERROR: nothing left to flush (e.g. an empty part right after a
      // flush).
      if (code == Z_BUF_ERROR) break;
      if (code != Z_OK) return fail();
    } while (stream.avail_out == 0);
    next += slice;
    left -= slice;
    if (left == 0) break;
  }

  if (fin) {
    const size_t produced = out.size() - startSize;
    if (produced >= 4 &&
        std::memcmp(out.data() + out.size() - 4, kTail, 4) == 0) {
      out.shrinkBy(4);
    } else if (produced == 0) {
      // The stream was already flushed: a lone 0x00 is the empty message of RFC
      // 7692 §7.2.3.6 once the receiver appends the tail.
      const uint8_t empty = 0x00;
      if (!out.append(&empty, 1)) return fail();
    }
    if (options_.noContextTakeover) {
      // RFC 7692 §7.1.1: every message starts a new stream, so nothing of
      // this one is kept and nobody may resume the stream.
      history_.reset();
      giveStream(std::move(borrowedStream), false, ownerId_, ++uses_);
      return Status::kOk;
    }
  }
  // Losing the history costs ratio only: the next message then refers to
  // nothing older, which the peer accepts. The stream itself stays resumable.
  if (!history_.append(data, length)) history_.reset();
  giveStream(std::move(borrowedStream), true, ownerId_, ++uses_);
  return Status::kOk;
}

// ---- Inflater
// ----------------------------------------------------------------------------------

// The negotiated window does not change how we inflate (kInflateWindowBits).
Inflater::Inflater(int /*windowBits*/, bool noContextTakeover) noexcept
    : noContextTakeover_(noContextTakeover),
      history_(noContextTakeover ? 0 : size_t{1} << kInflateWindowBits),
      ownerId_(newOwnerId()) {}

Inflater::~Inflater() { giveBack(false); }

size_t Inflater::memoryBytes() const noexcept {
  return history_.memoryBytes() + (stream_ ? stream_->allocatedBytes : 0);
}

size_t Inflater::poolBytes() noexcept {
  return pooledBytesOf(StreamKind::kInflate).load(std::memory_order_relaxed);
}

void Inflater::releasePool() noexcept {
  if (StreamPool* pool = poolOf(StreamKind::kInflate)) pool->clear();
}

void Inflater::giveBack(bool resumable) noexcept {
  messageBytes_ = 0;
  streamEnded_ = false;
  historyInStream_ = false;
  if (stream_) giveStream(std::move(stream_), resumable, ownerId_, ++uses_);
}

Status Inflater::inflate(const uint8_t* data, size_t length, bool fin,
                         ByteBuffer& out, uint64_t maxOutputBytes,
                         int* zlibCode) noexcept {
  if (zlibCode != nullptr) *zlibCode = Z_OK;
  const auto failWith = [&](Status status, int code) {
    if (zlibCode != nullptr) *zlibCode = code;
    // The message is abandoned and the stream's state is unknown: the next
    // call starts afresh.
    history_.reset();
    giveBack(false);
    return status;
  };
  if (!stream_) {
    const StreamKey key{StreamKind::kInflate, kInflateWindowBits, 0, 0, 0};
    Borrowed borrowed = Borrowed::kFresh;
    stream_ = borrowStream(key, ownerId_, uses_, &borrowed);
    if (!stream_) return failWith(Status::kOutOfMemory, Z_OK);
    if (borrowed == Borrowed::kStale && inflateReset(&stream_->stream) != Z_OK)
      return failWith(Status::kOutOfMemory, Z_OK);
    if (borrowed != Borrowed::kResumed) {
      // Raw inflate takes a dictionary at any time; this one is the window the
      // peer's deflater may still refer into (RFC 7692 §7.2.2 keeps one
      // stream across messages).
      const uint8_t* spans[2];
      size_t spanBytes[2];
      history_.spans(&spans[0], &spanBytes[0], &spans[1], &spanBytes[1]);
      for (int i = 0; i < 2; ++i) {
        if (spanBytes[i] == 0) continue;
        const int code = inflateSetDictionary(&stream_->stream, spans[i],
                                              static_cast<uInt>(spanBytes[i]));
        if (code != Z_OK) return failWith(Status::kOutOfMemory, Z_OK);
      }
    }
  }

  z_stream& stream = stream_->stream;
  const size_t startSize = out.size();
  // Room for one byte past the limit: that byte is how an overflow is seen.
  const auto allowance = [&]() -> size_t {
    if (maxOutputBytes == 0) return kMaxZlibSliceBytes;
    const uint64_t room = maxOutputBytes - messageBytes_ + 1;
    return static_cast<size_t>(std::min<uint64_t>(room, kMaxZlibSliceBytes));
  };
  size_t wantBytes =
      std::min(std::max<size_t>(length * 4, 1024), kInflateStepBytes);
  Status status = Status::kOk;
  int failureCode = Z_OK;

  // RFC 7692 §7.2.2: the message's bytes, then the tail the sender removed.
  const uint8_t* pieces[2] = {data, kTail};
  const size_t pieceBytes[2] = {length, fin ? sizeof(kTail) : 0};
  // zlib may hold output back when the last call filled the space: drain before
  // stopping.
  bool outputFull = false;
  for (int piece = 0; piece < 2 && status == Status::kOk && !streamEnded_;
       ++piece) {
    const uint8_t* next = pieces[piece];
    size_t left = pieceBytes[piece];
    stream.avail_in = 0;
    for (;;) {
      if (stream.avail_in == 0) {
        if (left == 0 && !outputFull) break;
        const size_t slice = std::min(left, kMaxZlibSliceBytes);
        stream.next_in = const_cast<Bytef*>(next);
        stream.avail_in = static_cast<uInt>(slice);
        next += slice;
        left -= slice;
      }
      size_t spaceBytes = 0;
      uint8_t* space = grabSpace(out, wantBytes, allowance(), &spaceBytes);
      if (space == nullptr) {
        status = Status::kOutOfMemory;
        break;
      }
      wantBytes = kInflateStepBytes;
      stream.next_out = space;
      stream.avail_out = static_cast<uInt>(spaceBytes);
      const uInt inputBefore = stream.avail_in;
      const int code = ::inflate(&stream, Z_SYNC_FLUSH);
      const size_t producedBytes = spaceBytes - stream.avail_out;
      out.shrinkBy(stream.avail_out);
      outputFull = stream.avail_out == 0;
      messageBytes_ += producedBytes;
      if (maxOutputBytes != 0 && messageBytes_ > maxOutputBytes) {
        status = Status::kMessageTooBig;
        break;
      }
      if (code == Z_STREAM_END) {
        // BFINAL (RFC 7692 §7.2.3.4): the sender ended its stream, so anything
        // after it in this message is ignored and the next message starts a new
        // stream.
        streamEnded_ = true;
        break;
      }
      if (code == Z_MEM_ERROR) {
        status = Status::kOutOfMemory;
        break;
      }
      const bool stuck = producedBytes == 0 && stream.avail_in == inputBefore &&
                         stream.avail_in != 0 && stream.avail_out != 0;
      if (code == Z_BUF_ERROR && !stuck)
        continue;  // no progress only because input ran out
      if (code != Z_OK || stuck) {
        status = Status::kInflateFailed;
        failureCode = code == Z_NEED_DICT ? Z_DATA_ERROR : code;
        break;
      }
    }
  }

  if (status != Status::kOk) return failWith(status, failureCode);
  if (!fin) {
    // The stream stays borrowed until the message ends, and its window holds
    // everything the history would: drop the copy so a message spread over
    // calls never holds both.
    if (!noContextTakeover_ && !historyInStream_) {
      history_.reset();
      historyInStream_ = true;
    }
    return Status::kOk;
  }
  if (noContextTakeover_ || streamEnded_) {
    // RFC 7692 §7.1.1 / §7.2.3.4: the next message starts a new stream.
    history_.reset();
    giveBack(false);
    return Status::kOk;
  }
  if (historyInStream_) {
    // Take the window back from the stream: it is the output of this and the
    // earlier messages, the last 2^windowBits bytes, oldest first.
    uInt windowBytes = 0;
    inflateGetDictionary(&stream, Z_NULL, &windowBytes);
    if (windowBytes != 0) {
      uint8_t* room = history_.replace(windowBytes);
      if (room == nullptr ||
          inflateGetDictionary(&stream, room, &windowBytes) != Z_OK) {
        return failWith(Status::kOutOfMemory, Z_OK);
      }
    }
  } else if (!history_.append(out.data() + startSize, out.size() - startSize)) {
    // Unlike the deflater's, this history is not optional: the peer may
    // refer into all of it.
    return failWith(Status::kOutOfMemory, Z_OK);
  }
  giveBack(true);
  return Status::kOk;
}

}  // namespace wsn
