// libFuzzer target for UTF-8 validation: every ISA kernel this CPU runs must
// agree with the scalar kernel and with a byte-at-a-time RFC 3629 reference
// written here; Utf8Stream fed at input-chosen splits must agree with the
// one-shot answer and fail on the piece where the text becomes invalid.
// Links only wsn_core (no Node).
//
// Input layout: [0] split count, [1..] split seed bytes (one per split), then
// the text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cpu.h"
#include "utf8.h"

namespace {

#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

// RFC 3629 §4 (the UTF8-octets grammar), one byte at a time: the kernel
// contract's answer (length when valid, the last sequence boundary when only
// a truncated final sequence is missing bytes, SIZE_MAX when invalid).
size_t referencePrefix(const uint8_t* data, size_t length) {
  size_t boundary = 0;
  size_t i = 0;
  while (i < length) {
    const uint8_t lead = data[i];
    size_t needed;
    uint8_t low = 0x80;
    uint8_t high = 0xBF;
    if (lead < 0x80) {
      needed = 0;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 2;
      if (lead == 0xE0) low = 0xA0;   // no overlongs
      if (lead == 0xED) high = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 3;
      if (lead == 0xF0) low = 0x90;   // no overlongs
      if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
    } else {
      return SIZE_MAX;
    }
    for (size_t k = 1; k <= needed; ++k) {
      if (i + k >= length) return boundary;  // truncated, valid so far
      const uint8_t next = data[i + k];
      const uint8_t min = k == 1 ? low : 0x80;
      const uint8_t max = k == 1 ? high : 0xBF;
      if (next < min || next > max) return SIZE_MAX;
    }
    i += needed + 1;
    boundary = i;
  }
  return boundary;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t splitCount = data[0] % 8;
  if (size < 1 + splitCount) return 0;
  const uint8_t* seeds = data + 1;
  // A private heap copy of exactly the text, so ASan sees any over-read (wide
  // loads near the end are where kernels go wrong).
  const std::vector<uint8_t> text(data + 1 + splitCount, data + size);
  const uint8_t* bytes = text.data();
  const size_t length = text.size();

  const size_t expected = referencePrefix(bytes, length);
  const wsn::KernelTable* scalar = wsn::kernelsFor(wsn::Isa::kScalar);
  FUZZ_CHECK(scalar != nullptr);
  constexpr wsn::Isa kAll[] = {wsn::Isa::kScalar, wsn::Isa::kSse2,
                               wsn::Isa::kAvx2};
  for (wsn::Isa isa : kAll) {
    const wsn::KernelTable* table = wsn::kernelsFor(isa);
    if (table == nullptr) continue;
    // Every offset 0..3 at the front too: alignment changes the SIMD paths.
    for (size_t skip = 0; skip < 4 && skip <= length; ++skip) {
      const size_t got = table->validUtf8Prefix(bytes + skip, length - skip);
      FUZZ_CHECK(got == referencePrefix(bytes + skip, length - skip));
      if (isa != wsn::Isa::kScalar) {
        FUZZ_CHECK(got == scalar->validUtf8Prefix(bytes + skip, length - skip));
      }
    }
  }
  FUZZ_CHECK(wsn::isValidUtf8(bytes, length) == (expected == length));

  // Streaming at the chosen split points (sorted, may repeat: empty pieces are
  // fed too).
  std::vector<size_t> cuts;
  for (size_t i = 0; i < splitCount; ++i) {
    cuts.push_back(length == 0 ? 0 : seeds[i] % (length + 1));
  }
  for (size_t i = 1; i < cuts.size(); ++i) {
    for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; --j) {
      const size_t swap = cuts[j];
      cuts[j] = cuts[j - 1];
      cuts[j - 1] = swap;
    }
  }
  cuts.push_back(length);
  wsn::Utf8Stream stream;
  size_t from = 0;
  bool alive = true;
  for (size_t cut : cuts) {
    const std::vector<uint8_t> piece(bytes + from, bytes + cut);
    const bool accepted = stream.feed(piece.data(), piece.size());
    // Fail fast and only then: feed() is false exactly when the text so far
    // cannot begin any valid text.
    const bool prefixPossible = referencePrefix(bytes, cut) != SIZE_MAX;
    if (alive) {
      FUZZ_CHECK(accepted == prefixPossible);
    } else {
      FUZZ_CHECK(!accepted);  // stays failed
    }
    alive = alive && accepted;
    FUZZ_CHECK(stream.failed() == !alive);
    from = cut;
  }
  FUZZ_CHECK(stream.finish() == (expected == length));
  stream.reset();
  FUZZ_CHECK(!stream.failed());
  FUZZ_CHECK(stream.feed(bytes, length) == (expected != SIZE_MAX));
  return 0;
}
