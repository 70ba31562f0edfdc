// libFuzzer target for FrameParser: the first input bytes choose the role,
// limits and permessage-deflate settings; the rest is a byte stream fed in
// input-chosen chunks. Links only wsn_core (no Node).
//
// Input layout (all config bytes are taken modulo their table sizes):
//   [0] bit 0 client role, bit 1 permessage-deflate, bit 2 skip UTF-8
//       validation, bit 3 inflate no context takeover, bits 4-6 window 8..15,
//       bit 7 direct payload reads (as the native socket does them)
//   [1] maxPayloadBytes index   [2] maxFragments index
//   [3] maxBufferedChunks index
//   [4] bits 0-3 event capacity 1..16, bits 4-7 inflate budget index
//   [5..6] chunking seed        [7] largest chunk index
//   [8..] the stream
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "frame_parser.h"

namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kConfigBytes = 8;
constexpr uint64_t kMaxPayloadChoices[] = {0,   1,    2,     125,   126,
                                           127, 1000, 65535, 65536, 1 << 20};
constexpr uint32_t kMaxFragmentChoices[] = {0, 1, 2, 3, 8, 131072};
constexpr uint32_t kMaxChunkChoices[] = {0, 1, 2, 3, 16, 1048576};
constexpr size_t kLargestChunkChoices[] = {1, 2, 3, 7, 16, 64, 1024, SIZE_MAX};
// The default (256 KiB) first, then none and budgets small enough that every
// compressed seed pauses (kInflatePending) many times.
constexpr uint64_t kInflateBudgetChoices[] = {256 * 1024, 0, 1, 7, 1000, 65536};

// A zlib bomb can reach at most the limit plus one 64 KiB inflate step; plain
// reassembly grows geometrically (x1.5). Anything above this is unbounded
// growth.
constexpr size_t kSlackBytes = 64 * 1024 + 1024;

#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

// One event as seen by a user: the payload's bytes, whatever the chunking.
struct Seen {
  uint8_t opcode;
  uint16_t closeCode;
  Bytes payload;
  bool operator==(const Seen& other) const {
    return opcode == other.opcode && closeCode == other.closeCode &&
           payload == other.payload;
  }
};

struct Outcome {
  std::vector<Seen> events;
  wsn::Status status = wsn::Status::kOk;
  uint64_t statusDetail = 0;
  bool finished = false;
};

// Minimal deterministic generator for chunk sizes (xorshift32).
struct Chunker {
  uint32_t state;
  size_t largest;
  size_t next(size_t left) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    if (largest == SIZE_MAX) return left;
    const size_t size = 1 + state % largest;
    return size < left ? size : left;
  }
};

// Feeds `stream` (a private copy: the parser unmasks in place) in the chunks
// `chunker` picks, checking every per-call invariant, and records what a user
// would see.
// With `directMinBytes` != 0, bytes go straight into the parser's window
// whenever it offers one (FrameParser::directWindow), and a commit that
// completes a frame is followed by an empty chunk, as the socket does.
Outcome run(const wsn::ParserOptions& options, const Bytes& input,
            Chunker chunker, size_t eventCapacity, size_t directMinBytes = 0) {
  Bytes stream = input;
  wsn::FrameParser parser(options);
  std::vector<wsn::ParserEvent> events(eventCapacity);
  Outcome outcome;
  size_t position = 0;
  const uint64_t maxPayload = options.maxPayloadBytes;

  while (position < stream.size()) {
    size_t chunkBytes = chunker.next(stream.size() - position);
    if (directMinBytes != 0) {
      uint8_t* destination = nullptr;
      const size_t window = parser.directWindow(directMinBytes, &destination);
      if (window != 0) {
        const size_t bytes = std::min(window, chunkBytes);
        std::memcpy(destination, stream.data() + position, bytes);
        position += bytes;
        if (!parser.commitDirect(bytes)) continue;
        chunkBytes = 0;  // an empty chunk: the parser reports the frame
      }
    }
    // A private heap copy of exactly the chunk, so ASan sees any read or
    // write past its end.
    Bytes chunk(
        stream.begin() + static_cast<std::ptrdiff_t>(position),
        stream.begin() + static_cast<std::ptrdiff_t>(position + chunkBytes));
    size_t start = 0;
    bool pendingWithoutProgress = false;
    for (;;) {
      const size_t left = chunk.size() - start;
      uint8_t* base = chunk.data() + start;
      const wsn::ExecuteResult result =
          parser.execute(base, left, events.data(), events.size());
      FUZZ_CHECK(result.bytesConsumed <= left);
      FUZZ_CHECK(result.eventCount <= events.size());
      std::vector<wsn::ByteBuffer>& owned = parser.ownedPayloads();
      for (size_t i = 0; i < result.eventCount; ++i) {
        const wsn::ParserEvent& event = events[i];
        const bool control = event.opcode >= wsn::kOpClose;
        FUZZ_CHECK(
            event.opcode == wsn::kOpText || event.opcode == wsn::kOpBinary ||
            event.opcode == wsn::kOpClose || event.opcode == wsn::kOpPing ||
            event.opcode == wsn::kOpPong);
        Seen seen{event.opcode, event.closeCode, {}};
        if (event.owned) {
          FUZZ_CHECK(event.ownedIndex < owned.size());
          const wsn::ByteBuffer& payload = owned[event.ownedIndex];
          FUZZ_CHECK(payload.size() == event.length);
          if (payload.size() != 0) {
            seen.payload.assign(payload.data(),
                                payload.data() + payload.size());
          }
        } else {
          // A span lies inside the bytes this call consumed.
          FUZZ_CHECK(event.offset <= result.bytesConsumed);
          FUZZ_CHECK(event.length <= result.bytesConsumed - event.offset);
          seen.payload.assign(base + event.offset,
                              base + event.offset + event.length);
        }
        if (control) {
          // RFC 6455 §5.5: at most 125 bytes, less the close code.
          FUZZ_CHECK(event.length <= 125);
          if (event.opcode == wsn::kOpClose) {
            FUZZ_CHECK(event.closeCode == wsn::kCloseNoStatus ||
                       wsn::isValidCloseCode(event.closeCode));
          } else {
            FUZZ_CHECK(event.closeCode == 0);
          }
        } else {
          FUZZ_CHECK(maxPayload == 0 || event.length <= maxPayload);
          FUZZ_CHECK(event.closeCode == 0);
        }
        outcome.events.push_back(std::move(seen));
      }
      if (maxPayload != 0) {
        FUZZ_CHECK(parser.bufferedBytes() <= 2 * maxPayload + kSlackBytes);
      }
      if (result.status == wsn::Status::kInflatePending) {
        // Not a fault: input is left (bytesConsumed < length), and the call
        // after it has a full budget, so two pauses in a row without a byte
        // or an event in between mean no progress.
        FUZZ_CHECK(result.bytesConsumed < left);
        const bool progress =
            result.bytesConsumed != 0 || result.eventCount != 0;
        FUZZ_CHECK(progress || !pendingWithoutProgress);
        pendingWithoutProgress = !progress;
        start += result.bytesConsumed;
        continue;
      }
      pendingWithoutProgress = false;
      if (result.status != wsn::Status::kOk) {
        outcome.status = result.status;
        outcome.statusDetail = result.statusDetail;
        // Sticky: the same error again, nothing consumed, no events, nothing
        // buffered.
        uint8_t extra[3] = {0x81, 0x00, 0x00};
        for (int again = 0; again < 2; ++again) {
          const wsn::ExecuteResult repeat =
              again == 0
                  ? parser.execute(base, left, events.data(), events.size())
                  : parser.execute(extra, sizeof(extra), events.data(),
                                   events.size());
          FUZZ_CHECK(repeat.status == result.status);
          FUZZ_CHECK(repeat.statusDetail == result.statusDetail);
          FUZZ_CHECK(repeat.bytesConsumed == 0);
          FUZZ_CHECK(repeat.eventCount == 0);
        }
        FUZZ_CHECK(parser.bufferedBytes() == 0);
        return outcome;
      }
      start += result.bytesConsumed;
      if (start == chunk.size()) break;
      // Stopping early without an error is allowed only when the event area
      // filled up (or on kInflatePending, handled above).
      FUZZ_CHECK(result.eventCount == events.size());
    }
    position += chunkBytes;
  }
  outcome.finished = parser.finished();
  if (outcome.finished) {
    // §5.5.1: after a close frame everything is consumed and ignored.
    uint8_t extra[4] = {0x88, 0x80, 0x00, 0x00};
    const wsn::ExecuteResult after =
        parser.execute(extra, sizeof(extra), events.data(), events.size());
    FUZZ_CHECK(after.status == wsn::Status::kOk);
    FUZZ_CHECK(after.bytesConsumed == sizeof(extra));
    FUZZ_CHECK(after.eventCount == 0);
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kConfigBytes) return 0;
  wsn::ParserOptions options;
  options.role = (data[0] & 1) != 0 ? wsn::Role::kClient : wsn::Role::kServer;
  options.perMessageDeflate = (data[0] & 2) != 0;
  options.skipUtf8Validation = (data[0] & 4) != 0;
  options.inflateNoContextTakeover = (data[0] & 8) != 0;
  options.inflateWindowBits = 8 + ((data[0] >> 4) & 7);
  options.maxPayloadBytes =
      kMaxPayloadChoices[data[1] % (sizeof(kMaxPayloadChoices) /
                                    sizeof(kMaxPayloadChoices[0]))];
  options.maxFragments =
      kMaxFragmentChoices[data[2] % (sizeof(kMaxFragmentChoices) /
                                     sizeof(kMaxFragmentChoices[0]))];
  options.maxBufferedChunks =
      kMaxChunkChoices[data[3] % (sizeof(kMaxChunkChoices) /
                                  sizeof(kMaxChunkChoices[0]))];
  const size_t eventCapacity = 1 + data[4] % 16;
  options.inflateBudgetBytes =
      kInflateBudgetChoices[(data[4] >> 4) %
                            (sizeof(kInflateBudgetChoices) /
                             sizeof(kInflateBudgetChoices[0]))];
  const uint32_t seed =
      (static_cast<uint32_t>(data[5]) << 8 | data[6]) * 2654435761u | 1u;
  const size_t largest =
      kLargestChunkChoices[data[7] % (sizeof(kLargestChunkChoices) /
                                      sizeof(kLargestChunkChoices[0]))];
  const Bytes stream(data + kConfigBytes, data + size);

  constexpr size_t kDirectMinChoices[] = {1, 3, 100};
  const size_t directMinBytes =
      (data[0] & 0x80) != 0 ? kDirectMinChoices[data[5] % 3] : 0;
  const Outcome split = run(options, stream, Chunker{seed, largest},
                            eventCapacity, directMinBytes);

  // Split invariance: the same stream in one chunk with room for every event
  // gives the same events and the same error. The count of copied pieces
  // depends on the chunking by design (ws counts buffered chunks too), so the
  // comparison needs that limit off.
  if (options.maxBufferedChunks == 0 && largest != SIZE_MAX) {
    const Outcome whole =
        run(options, stream, Chunker{seed, SIZE_MAX}, stream.size() + 1);
    FUZZ_CHECK(whole.status == split.status);
    FUZZ_CHECK(whole.statusDetail == split.statusDetail);
    FUZZ_CHECK(whole.finished == split.finished);
    FUZZ_CHECK(whole.events.size() == split.events.size());
    for (size_t i = 0; i < whole.events.size(); ++i) {
      FUZZ_CHECK(whole.events[i] == split.events[i]);
    }
  }
  return 0;
}
