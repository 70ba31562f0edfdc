// libFuzzer target for Inflater (and Deflater round trips): whatever the
// compressed bytes, a message never produces more than its limit, the output
// buffer never grows past the limit plus one inflate step, and zlib state
// stays one window. Links only wsn_core (no Node).
//
// Input layout:
//   [0] bit 0 round-trip mode, bit 1 no context takeover, bits 2-4 window
//       8..15, bits 5-7 deflate level index (round trip)
//   [1] limit index  [2..3] chunking seed  [4] largest chunk index
//   [5..] raw mode: compressed bytes, cut into messages and frames;
//         round-trip mode: plain bytes, compressed then inflated
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "deflate.h"

namespace {

using Bytes = std::vector<uint8_t>;

#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

constexpr size_t kConfigBytes = 5;
constexpr uint64_t kLimitChoices[] = {1, 2, 100, 1024, 4096, 65536, 1 << 20};
constexpr size_t kLargestChunkChoices[] = {1, 2, 5, 16, 100, 4096};
constexpr int kLevelChoices[] = {-1, 0, 1, 6, 9, 9, 1, -1};
// deflate.cc's output step: the contract allows the limit plus one step.
constexpr size_t kStepBytes = 64 * 1024;
// One raw inflate stream: inflate_state (about 7 KiB) and a 32 KiB window.
constexpr size_t kMaxZlibStateBytes = 64 * 1024;

struct Chunker {
  uint32_t state;
  size_t largest;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
  size_t size(size_t left) {
    const size_t size = 1 + next() % largest;
    return size < left ? size : left;
  }
};

// Inflates one message given as frames; checks the limit and the growth after
// every call. Returns the status; the output is left in `out`.
wsn::Status inflateMessage(wsn::Inflater& inflater,
                           const std::vector<Bytes>& frames, uint64_t limit,
                           wsn::ByteBuffer& out) {
  uint64_t before = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const bool fin = i + 1 == frames.size();
    int zlibCode = 0;
    const wsn::Status status = inflater.inflate(
        frames[i].data(), frames[i].size(), fin, out, limit, &zlibCode);
    FUZZ_CHECK(out.capacity() <= limit + 1 + kStepBytes);
    FUZZ_CHECK(inflater.memoryBytes() <= kMaxZlibStateBytes);
    if (status != wsn::Status::kOk) {
      FUZZ_CHECK(status == wsn::Status::kMessageTooBig ||
                 status == wsn::Status::kInflateFailed);
      if (status == wsn::Status::kInflateFailed) FUZZ_CHECK(zlibCode != 0);
      // An abandoned message holds no zlib state.
      FUZZ_CHECK(inflater.memoryBytes() == 0);
      return status;
    }
    FUZZ_CHECK(out.size() >= before);
    FUZZ_CHECK(out.size() <= limit);
    before = out.size();
  }
  return wsn::Status::kOk;
}

// Cuts `bytes` into frames of chunker-chosen sizes (an empty message is one
// empty frame).
std::vector<Bytes> cutFrames(const uint8_t* bytes, size_t length,
                             Chunker& chunker) {
  std::vector<Bytes> frames;
  size_t position = 0;
  do {
    const size_t take =
        length == position ? 0 : chunker.size(length - position);
    frames.emplace_back(bytes + position, bytes + position + take);
    position += take;
  } while (position < length);
  return frames;
}

void rawMode(const uint8_t* data, size_t size, int windowBits,
             bool noContextTakeover, uint64_t limit, Chunker& chunker) {
  wsn::Inflater inflater(windowBits, noContextTakeover);
  size_t position = 0;
  while (position < size) {
    // Messages of chunker-chosen lengths (up to 4x the largest frame).
    const size_t messageBytes = std::min<size_t>(
        size - position, 1 + chunker.next() % (4 * chunker.largest));
    const std::vector<Bytes> frames =
        cutFrames(data + position, messageBytes, chunker);
    position += messageBytes;
    wsn::ByteBuffer out;
    const wsn::Status status = inflateMessage(inflater, frames, limit, out);
    if (status == wsn::Status::kOk && noContextTakeover) {
      FUZZ_CHECK(inflater.memoryBytes() == 0);
    }
  }
}

void roundTripMode(const uint8_t* data, size_t size, int windowBits,
                   bool noContextTakeover, int level, uint64_t limit,
                   Chunker& chunker) {
  wsn::DeflateOptions options;
  options.windowBits = windowBits;
  options.level = level;
  options.noContextTakeover = noContextTakeover;
  wsn::Deflater deflater(options);
  wsn::Inflater inflater(windowBits, noContextTakeover);
  size_t position = 0;
  // Empty messages do not advance: bound the count instead.
  for (int message = 0; message < 256 && position < size; ++message) {
    const size_t messageBytes = std::min<size_t>(
        size - position, chunker.next() % (4 * chunker.largest + 1));
    // The sender fragments too: compress() with fin only on the last part.
    const std::vector<Bytes> parts =
        cutFrames(data + position, messageBytes, chunker);
    std::vector<Bytes> frames;
    for (size_t i = 0; i < parts.size(); ++i) {
      wsn::ByteBuffer compressed;
      const bool fin = i + 1 == parts.size();
      FUZZ_CHECK(deflater.compress(parts[i].data(), parts[i].size(), fin,
                                   compressed) == wsn::Status::kOk);
      frames.emplace_back(compressed.data(),
                          compressed.data() + compressed.size());
    }
    wsn::ByteBuffer out;
    const wsn::Status status = inflateMessage(inflater, frames, limit, out);
    if (messageBytes <= limit) {
      FUZZ_CHECK(status == wsn::Status::kOk);
      FUZZ_CHECK(out.size() == messageBytes);
      for (size_t i = 0; i < messageBytes; ++i) {
        FUZZ_CHECK(out.data()[i] == data[position + i]);
      }
    } else {
      FUZZ_CHECK(status == wsn::Status::kMessageTooBig);
      // The stream is lost with the message; both sides start over as after
      // a reconnect.
      return;
    }
    if (noContextTakeover) {
      FUZZ_CHECK(deflater.memoryBytes() == 0);
      FUZZ_CHECK(inflater.memoryBytes() == 0);
    }
    position += messageBytes;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kConfigBytes) return 0;
  const bool roundTrip = (data[0] & 1) != 0;
  const bool noContextTakeover = (data[0] & 2) != 0;
  const int windowBits = 8 + ((data[0] >> 2) & 7);
  const int level = kLevelChoices[(data[0] >> 5) & 7];
  const uint64_t limit = kLimitChoices[data[1] % (sizeof(kLimitChoices) /
                                                  sizeof(kLimitChoices[0]))];
  Chunker chunker{
      (static_cast<uint32_t>(data[2]) << 8 | data[3]) * 2654435761u | 1u,
      kLargestChunkChoices[data[4] % (sizeof(kLargestChunkChoices) /
                                      sizeof(kLargestChunkChoices[0]))]};
  const Bytes body(data + kConfigBytes, data + size);
  if (roundTrip) {
    roundTripMode(body.data(), body.size(), windowBits, noContextTakeover,
                  level, limit, chunker);
  } else {
    rawMode(body.data(), body.size(), windowBits, noContextTakeover, limit,
            chunker);
  }
  return 0;
}
