// permessage-deflate over zlib raw streams (RFC 7692 §7.2): the message tail,
// context takeover or reset, counted zlib memory, and an inflate limit checked
// after every bounded output step. Depends on zlib only; no Node.
#include "deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace wsn {
namespace {

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

}  // namespace

// ---- Deflater
// ----------------------------------------------------------------------------------

struct Deflater::State {
  z_stream stream{};
  size_t allocatedBytes = 0;
  bool initialized = false;

  ~State() {
    if (initialized) deflateEnd(&stream);
  }
};

Deflater::Deflater(const DeflateOptions& options) noexcept : options_(options) {
  options_.windowBits = clampInt(options_.windowBits, 8, 15);
  options_.level = clampInt(options_.level, -1, 9);
  options_.memLevel = clampInt(options_.memLevel, 1, 9);
  options_.strategy = clampInt(options_.strategy, 0, 4);
}

Deflater::~Deflater() = default;

size_t Deflater::memoryBytes() const noexcept {
  return state_ ? state_->allocatedBytes : 0;
}

Status Deflater::compress(const uint8_t* data, size_t length, bool fin,
                          ByteBuffer& out) noexcept {
  if (!state_) {
    std::unique_ptr<State> state(new (std::nothrow) State());
    if (!state) return Status::kOutOfMemory;
    z_stream& stream = state->stream;
    stream.zalloc = countingAlloc;
    stream.zfree = countingFree;
    stream.opaque = &state->allocatedBytes;
    int windowBits = options_.windowBits;
    int level = options_.level;
    if (windowBits == 8) {
      // zlib's raw deflate refuses a 256-byte window. Stored blocks hold no
      // back-references at all, so they are valid for a peer that can only look
      // 256 bytes back (RFC 7692 §7.1.2.1).
      windowBits = 9;
      level = 0;
    }
    if (deflateInit2(&stream, level, Z_DEFLATED, -windowBits, options_.memLevel,
                     options_.strategy) != Z_OK) {
      return Status::kOutOfMemory;
    }
    state->initialized = true;
    state_ = std::move(state);
  }

  z_stream& stream = state_->stream;
  const size_t startSize = out.size();
  const uLong bound = deflateBound(
      &stream, static_cast<uLong>(std::min(length, kMaxZlibSliceBytes)));
  // A sync flush adds at most an empty stored block (5 bytes) beyond
  // deflateBound's estimate.
  size_t wantBytes =
      std::min(static_cast<size_t>(bound) + 16, kDeflateFirstStepMaxBytes);
  const uint8_t* next = data;
  size_t left = length;
  bool failed = false;

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
      if (space == nullptr) {
        failed = true;
        break;
      }
      wantBytes = kInflateStepBytes;
      stream.next_out = space;
      stream.avail_out = static_cast<uInt>(spaceBytes);
      const int code = deflate(&stream, flush);
      out.shrinkBy(stream.avail_out);
      // Z_BUF_ERROR: nothing left to flush (e.g. an empty part right after a
      // flush).
      if (code == Z_BUF_ERROR) break;
      if (code != Z_OK) {
        failed = true;
        break;
      }
    } while (stream.avail_out == 0);
    if (failed) break;
    next += slice;
    left -= slice;
    if (left == 0) break;
  }

  if (failed) {
    // What was emitted no longer matches the peer's view of the stream: start
    // over next time.
    state_.reset();
    return Status::kOutOfMemory;
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
      if (!out.append(&empty, 1)) {
        state_.reset();
        return Status::kOutOfMemory;
      }
    }
    // RFC 7692 §7.1.1: without context takeover every message starts a new
    // stream; freeing the state here means an idle connection holds no zlib
    // memory.
    if (options_.noContextTakeover) state_.reset();
  }
  return Status::kOk;
}

// ---- Inflater
// ----------------------------------------------------------------------------------

struct Inflater::State {
  z_stream stream{};
  size_t allocatedBytes = 0;
  bool initialized = false;
  uint64_t messageBytes =
      0;  // inflated so far for the current message, over all calls
  bool streamEnded =
      false;  // a block with BFINAL set ended the stream inside this message

  ~State() {
    if (initialized) inflateEnd(&stream);
  }
};

Inflater::Inflater(int windowBits, bool noContextTakeover) noexcept
    : windowBits_(clampInt(windowBits, 8, 15)),
      noContextTakeover_(noContextTakeover) {}

Inflater::~Inflater() = default;

size_t Inflater::memoryBytes() const noexcept {
  return state_ ? state_->allocatedBytes : 0;
}

Status Inflater::inflate(const uint8_t* data, size_t length, bool fin,
                         ByteBuffer& out, uint64_t maxOutputBytes,
                         int* zlibCode) noexcept {
  if (zlibCode != nullptr) *zlibCode = Z_OK;
  if (!state_) {
    std::unique_ptr<State> state(new (std::nothrow) State());
    if (!state) return Status::kOutOfMemory;
    z_stream& stream = state->stream;
    stream.zalloc = countingAlloc;
    stream.zfree = countingFree;
    stream.opaque = &state->allocatedBytes;
    // A 256-byte window is accepted as 512: some deflaters (Node's among them)
    // raise 8 to 9 when compressing, and a larger window never rejects valid
    // data.
    if (inflateInit2(&stream, -std::max(windowBits_, 9)) != Z_OK)
      return Status::kOutOfMemory;
    state->initialized = true;
    state_ = std::move(state);
  }

  State& state = *state_;
  z_stream& stream = state.stream;
  // Room for one byte past the limit: that byte is how an overflow is seen.
  const auto allowance = [&]() -> size_t {
    if (maxOutputBytes == 0) return kMaxZlibSliceBytes;
    const uint64_t room = maxOutputBytes - state.messageBytes + 1;
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
  for (int piece = 0; piece < 2 && status == Status::kOk && !state.streamEnded;
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
      state.messageBytes += producedBytes;
      if (maxOutputBytes != 0 && state.messageBytes > maxOutputBytes) {
        status = Status::kMessageTooBig;
        break;
      }
      if (code == Z_STREAM_END) {
        // BFINAL (RFC 7692 §7.2.3.4): the sender ended its stream, so anything
        // after it in this message is ignored and the next message starts a new
        // stream.
        state.streamEnded = true;
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

  if (status != Status::kOk) {
    if (zlibCode != nullptr) *zlibCode = failureCode;
    // The message is abandoned and the stream's state is unknown: the next call
    // starts afresh.
    state_.reset();
    return status;
  }
  if (fin) {
    if (noContextTakeover_) {
      state_.reset();
    } else {
      state.messageBytes = 0;
      if (state.streamEnded) {
        state.streamEnded = false;
        if (inflateReset(&stream) != Z_OK) state_.reset();
      }
    }
  }
  return Status::kOk;
}

}  // namespace wsn
