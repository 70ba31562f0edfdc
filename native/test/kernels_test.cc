// Differential tests of the kernels: every ISA this CPU runs against a
// byte-at-a-time reference for masking (RFC 6455 §5.3) and UTF-8 (RFC 3629),
// plus the streaming validator and the random pool. Core only, no Node.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "cpu.h"
#include "mask.h"
#include "random.h"
#include "utf8.h"

namespace {

using Bytes = std::vector<uint8_t>;
constexpr size_t kInvalid = SIZE_MAX;

std::vector<const wsn::KernelTable*> availableTables() {
  std::vector<const wsn::KernelTable*> tables;
  for (wsn::Isa isa : {wsn::Isa::kScalar, wsn::Isa::kSse2, wsn::Isa::kAvx2}) {
    if (const wsn::KernelTable* table = wsn::kernelsFor(isa)) {
      tables.push_back(table);
    }
  }
  return tables;
}

Bytes randomBytes(std::mt19937& rng, size_t length) {
  Bytes bytes(length);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

// ---- masking -------------------------------------------------------------

void testMaskAgainstReference() {
  std::mt19937 rng(1);
  constexpr size_t kGuard = 32;
  for (const wsn::KernelTable* table : availableTables()) {
    size_t mismatches = 0;
    for (size_t length = 0; length <= 300; ++length) {
      for (size_t combination = 0; combination < 4 * 32; ++combination) {
        // Every key phase and every source alignment mod 32 (the AVX2 kernel
        // aligns its stores first); the output alignment varies independently.
        const size_t phase = combination & 3;
        const size_t offset = combination >> 2;
        const size_t start = kGuard - ((combination * 7) & 31);
        const Bytes key = randomBytes(rng, 4);
        const uint8_t rotated[4] = {key[phase], key[(phase + 1) & 3],
                                    key[(phase + 2) & 3], key[(phase + 3) & 3]};
        const Bytes source = randomBytes(rng, length + offset);
        // Out of place, into a window surrounded by guard bytes.
        Bytes output = randomBytes(rng, length + 2 * kGuard);
        const Bytes before = output;
        table->mask(source.data() + offset, output.data() + start, length,
                    rotated);
        for (size_t i = 0; i < output.size(); ++i) {
          const bool inside = i >= start && i < start + length;
          const uint8_t expected =
              inside ? static_cast<uint8_t>(source[offset + i - start] ^
                                            key[(phase + i - start) & 3])
                     : before[i];
          if (output[i] != expected) ++mismatches;
        }
        // In place, at an odd offset inside a larger buffer.
        Bytes inPlace = source;
        table->mask(inPlace.data() + offset, inPlace.data() + offset, length,
                    rotated);
        for (size_t i = 0; i < inPlace.size(); ++i) {
          const uint8_t expected =
              i < offset ? source[i]
                         : static_cast<uint8_t>(source[i] ^
                                                key[(phase + i - offset) & 3]);
          if (inPlace[i] != expected) ++mismatches;
        }
      }
    }
    if (mismatches != 0) {
      std::fprintf(stderr, "mask %s: %zu mismatching bytes\n",
                   wsn::isaName(table->isa), mismatches);
    }
    WSN_CHECK(mismatches == 0);
  }
}

void testMaskBytesPhases() {
  std::mt19937 rng(2);
  const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  // A payload masked in pieces of any size equals the payload masked at once.
  const Bytes payload = randomBytes(rng, 1000);
  Bytes whole = payload;
  WSN_CHECK(wsn::maskBytes(whole.data(), whole.data(), whole.size(), key, 0) ==
            1000 % 4);
  Bytes pieces = payload;
  size_t phase = 0;
  size_t at = 0;
  while (at < pieces.size()) {
    const size_t piece = std::min<size_t>(rng() % 70, pieces.size() - at);
    phase = wsn::unmaskInPlace(pieces.data() + at, piece, key, phase);
    at += piece;
  }
  WSN_CHECK(phase == 0);
  WSN_CHECK(pieces == whole);
  WSN_CHECK(wsn::maskBytes(nullptr, nullptr, 0, key, 3) == 3);
  uint8_t one = 0;
  WSN_CHECK(wsn::maskBytes(&one, &one, 1, key, 2) == 3);
  WSN_CHECK(one == 0x56);
}

// ---- UTF-8 ---------------------------------------------------------------

// The reference: decode one code point at a time and check it against RFC 3629
// §3-4 arithmetically (shortest form, no surrogates, at most U+10FFFF),
// independent of the byte-range tables the kernels use.
bool completeSequenceValid(const uint8_t* bytes, size_t count) {
  uint32_t codePoint;
  if (count == 2) {
    codePoint = bytes[0] & 0x1Fu;
  } else if (count == 3) {
    codePoint = bytes[0] & 0x0Fu;
  } else {
    codePoint = bytes[0] & 0x07u;
  }
  for (size_t k = 1; k < count; ++k) {
    if ((bytes[k] & 0xC0) != 0x80) return false;
    codePoint = (codePoint << 6) | (bytes[k] & 0x3Fu);
  }
  const uint32_t minimum = count == 2 ? 0x80 : count == 3 ? 0x800 : 0x10000;
  if (codePoint < minimum) return false;
  if (codePoint >= 0xD800 && codePoint <= 0xDFFF) return false;
  return codePoint <= 0x10FFFF;
}

size_t leadLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;  // a continuation or F8..FF
}

size_t referencePrefix(const Bytes& text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t count = leadLength(text[i]);
    if (count == 0) return kInvalid;
    if (count == 1) {
      ++i;
      continue;
    }
    const size_t available = text.size() - i;
    if (available >= count) {
      if (!completeSequenceValid(text.data() + i, count)) return kInvalid;
      i += count;
      continue;
    }
    // Truncated: valid when some completion is valid. Only the
    // classes 80..8F, 90..9F and A0..BF of a missing byte matter, so their ends
    // stand for all values.
    const uint8_t fills[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF};
    const size_t missing = count - available;
    size_t combinations = 1;
    for (size_t k = 0; k < missing; ++k) combinations *= 6;
    for (size_t c = 0; c < combinations; ++c) {
      uint8_t sequence[4];
      std::memcpy(sequence, text.data() + i, available);
      size_t index = c;
      for (size_t k = 0; k < missing; ++k) {
        sequence[available + k] = fills[index % 6];
        index /= 6;
      }
      if (completeSequenceValid(sequence, count)) return i;
    }
    return kInvalid;
  }
  return text.size();
}

Bytes hex(const std::string& spaced) {
  Bytes bytes;
  for (size_t i = 0; i + 1 < spaced.size() + 1; i += 3) {
    bytes.push_back(
        static_cast<uint8_t>(std::stoul(spaced.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

struct Vector {
  const char* bytes;  // hex, space separated
  size_t prefix;      // expected validUtf8Prefix of the bytes alone
};

void testUtf8Vectors() {
  const Vector vectors[] = {
      {"41", 1},
      {"7f", 1},
      {"c2 80", 2},            // U+0080
      {"df bf", 2},            // U+07FF
      {"e0 a0 80", 3},         // U+0800
      {"ed 9f bf", 3},         // U+D7FF
      {"ee 80 80", 3},         // U+E000
      {"ef bf bf", 3},         // U+FFFF
      {"f0 90 80 80", 4},      // U+10000
      {"f4 8f bf bf", 4},      // U+10FFFF
      {"c0 80", kInvalid},     // overlong NUL
      {"c1 bf", kInvalid},     // overlong 7F
      {"e0 80 80", kInvalid},  // overlong 3-byte
      {"e0 9f bf", kInvalid},
      {"f0 80 80 80", kInvalid},  // overlong 4-byte
      {"f0 8f bf bf", kInvalid},
      {"ed a0 80", kInvalid},     // U+D800
      {"ed bf bf", kInvalid},     // U+DFFF
      {"f4 90 80 80", kInvalid},  // U+110000
      {"f5 80 80 80", kInvalid},
      {"f8 88 80 80 80", kInvalid},
      {"ff", kInvalid},
      {"80", kInvalid},
      {"41 bf", kInvalid},
      {"e2 82 ac 80", kInvalid},  // one continuation too many
      {"c2", 0},                  // truncated, carried
      {"41 e2 82", 1},
      {"41 f0 90 80", 1},
      {"f4 8f", 0},
      {"e0", 0},
      {"c0", kInvalid},     // can never be completed
      {"e0 80", kInvalid},  // fails before the end
      {"ed a0", kInvalid},
      {"f0 8f", kInvalid},
      {"f4 90", kInvalid},
      {"e2 41", kInvalid},
      {"e2 82 41", kInvalid},
      {"f0 90 41", kInvalid},
      {"c2 c2 80", kInvalid},
  };
  for (const wsn::KernelTable* table : availableTables()) {
    for (const Vector& vector : vectors) {
      const Bytes text = hex(vector.bytes);
      const size_t got = table->validUtf8Prefix(text.data(), text.size());
      if (got != vector.prefix) {
        std::fprintf(stderr, "utf8 %s [%s]: got %zu\n",
                     wsn::isaName(table->isa), vector.bytes, got);
      }
      WSN_CHECK(got == vector.prefix);
      WSN_CHECK(referencePrefix(text) == vector.prefix);
      // The same sequence after 0..70 ASCII bytes, so it lands at every
      // position of a vector block and across block boundaries.
      for (size_t lead = 1; lead <= 70; ++lead) {
        Bytes shifted(lead, 'a');
        shifted.insert(shifted.end(), text.begin(), text.end());
        const size_t expected =
            vector.prefix == kInvalid ? kInvalid : vector.prefix + lead;
        WSN_CHECK(table->validUtf8Prefix(shifted.data(), shifted.size()) ==
                  expected);
        // And followed by ASCII: a truncated sequence becomes an error.
        shifted.push_back('z');
        const bool complete = vector.prefix == text.size();
        WSN_CHECK(table->validUtf8Prefix(shifted.data(), shifted.size()) ==
                  (complete ? shifted.size() : kInvalid));
      }
    }
  }
}

// Random text of 1- to 4-byte sequences (every length class, boundary code
// points often).
Bytes randomText(std::mt19937& rng, size_t length) {
  Bytes text;
  while (text.size() < length) {
    uint32_t codePoint;
    const auto draw = [&rng](uint32_t range) {
      return static_cast<uint32_t>(rng() % range);
    };
    switch (rng() % 5) {
      case 0:
      case 1:
        codePoint = draw(0x80);
        break;
      case 2:
        codePoint = 0x80 + draw(0x800 - 0x80);
        break;
      case 3:
        codePoint = 0x800 + draw(0x10000 - 0x800);
        if (codePoint >= 0xD800 && codePoint <= 0xDFFF) codePoint = 0xFFFD;
        break;
      default:
        codePoint = 0x10000 + draw(0x110000 - 0x10000);
        break;
    }
    if (codePoint < 0x80) {
      text.push_back(static_cast<uint8_t>(codePoint));
    } else if (codePoint < 0x800) {
      text.push_back(static_cast<uint8_t>(0xC0 | (codePoint >> 6)));
      text.push_back(static_cast<uint8_t>(0x80 | (codePoint & 0x3F)));
    } else if (codePoint < 0x10000) {
      text.push_back(static_cast<uint8_t>(0xE0 | (codePoint >> 12)));
      text.push_back(static_cast<uint8_t>(0x80 | ((codePoint >> 6) & 0x3F)));
      text.push_back(static_cast<uint8_t>(0x80 | (codePoint & 0x3F)));
    } else {
      text.push_back(static_cast<uint8_t>(0xF0 | (codePoint >> 18)));
      text.push_back(static_cast<uint8_t>(0x80 | ((codePoint >> 12) & 0x3F)));
      text.push_back(static_cast<uint8_t>(0x80 | ((codePoint >> 6) & 0x3F)));
      text.push_back(static_cast<uint8_t>(0x80 | (codePoint & 0x3F)));
    }
  }
  text.resize(length);  // may cut the last sequence: a truncated end
  return text;
}

void corrupt(std::mt19937& rng, Bytes& text) {
  if (text.empty()) return;
  const uint8_t interesting[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x00,
                                 0x41, 0x9F, 0xA0, 0x8F, 0x90};
  const size_t edits = 1 + rng() % 3;
  for (size_t e = 0; e < edits; ++e) {
    const size_t at = rng() % text.size();
    text[at] = rng() % 2 ? interesting[rng() % sizeof(interesting)]
                         : static_cast<uint8_t>(rng());
  }
}

void testUtf8Random() {
  std::mt19937 rng(3);
  const auto tables = availableTables();
  size_t mismatches = 0;
  size_t invalidSeen = 0;
  auto compare = [&](const Bytes& text) {
    const size_t expected = referencePrefix(text);
    if (expected == kInvalid) ++invalidSeen;
    for (const wsn::KernelTable* table : tables) {
      if (table->validUtf8Prefix(text.data(), text.size()) != expected) {
        ++mismatches;
        std::fprintf(stderr, "utf8 %s mismatch at length %zu\n",
                     wsn::isaName(table->isa), text.size());
      }
    }
  };
  for (size_t length = 0; length <= 300; ++length) {
    for (int round = 0; round < 20; ++round) {
      Bytes text = randomText(rng, length);
      compare(text);
      corrupt(rng, text);
      compare(text);
    }
  }
  for (size_t length : {4096u, 65536u, 65537u, 1000003u}) {
    Bytes text = randomText(rng, length);
    compare(text);
    Bytes ascii(length, 'x');
    compare(ascii);
    // One bad byte at a random place, and near the end.
    ascii[rng() % length] = 0x80;
    compare(ascii);
    corrupt(rng, text);
    compare(text);
  }
  WSN_CHECK(mismatches == 0);
  WSN_CHECK(invalidSeen > 1000);  // the corruption really produced invalid text
}

void testIsValidUtf8AndStream() {
  std::mt19937 rng(4);
  const Bytes text =
      hex("41 c2 80 e2 82 ac f0 9f 98 80 ed 9f bf f4 8f bf bf 7a");
  WSN_CHECK(wsn::isValidUtf8(text.data(), text.size()));
  WSN_CHECK(wsn::isValidUtf8(nullptr, 0));
  WSN_CHECK(!wsn::isValidUtf8(text.data(), text.size() - 2));

  // Every split into two and three pieces is accepted.
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      wsn::Utf8Stream stream;
      const bool ok = stream.feed(text.data(), a) &&
                      stream.feed(text.data() + a, b - a) &&
                      stream.feed(text.data() + b, text.size() - b);
      WSN_CHECK(ok);
      WSN_CHECK(stream.finish());
    }
  }
  // Byte by byte: fails on exactly the byte that makes the text impossible.
  const Bytes bad = hex("41 e2 82 ac f0 9f 98 ed a0 80");
  const size_t firstBad = referencePrefix(bad) == kInvalid ? 7 : 0;
  {
    wsn::Utf8Stream stream;
    size_t failedAt = bad.size();
    for (size_t i = 0; i < bad.size(); ++i) {
      if (!stream.feed(&bad[i], 1)) {
        failedAt = i;
        break;
      }
    }
    WSN_CHECK(failedAt == firstBad);  // ED after F0 9F 98: not a continuation
    WSN_CHECK(stream.failed());
    WSN_CHECK(!stream.feed(text.data(), 1));  // sticky
    WSN_CHECK(!stream.finish());
    stream.reset();
    WSN_CHECK(stream.feed(text.data(), text.size()));
    WSN_CHECK(stream.finish());
  }
  // A truncated end is accepted by feed() and rejected by finish().
  {
    wsn::Utf8Stream stream;
    WSN_CHECK(stream.feed(text.data(), 5));  // 41 c2 80 e2 82
    WSN_CHECK(!stream.finish());
    WSN_CHECK(!stream.failed());
  }
  // Random pieces of random text: the stream agrees with the one-shot answer,
  // and a failure comes on the piece holding the first byte that cannot be part
  // of valid text.
  for (int round = 0; round < 400; ++round) {
    Bytes sample = randomText(rng, rng() % 400);
    if (round % 2) corrupt(rng, sample);
    const size_t expected = referencePrefix(sample);
    size_t firstImpossible = sample.size();
    if (expected == kInvalid) {
      for (size_t end = 1; end <= sample.size(); ++end) {
        if (referencePrefix(Bytes(sample.begin(), sample.begin() + end)) ==
            kInvalid) {
          firstImpossible = end - 1;
          break;
        }
      }
    }
    wsn::Utf8Stream stream;
    size_t at = 0;
    bool failedWhereExpected = expected != kInvalid;
    while (at < sample.size()) {
      const size_t piece = std::min<size_t>(1 + rng() % 9, sample.size() - at);
      const bool ok = stream.feed(sample.data() + at, piece);
      const bool containsFirstBad =
          firstImpossible >= at && firstImpossible < at + piece;
      if (!ok) {
        failedWhereExpected = containsFirstBad;
        break;
      }
      WSN_CHECK(!containsFirstBad);
      at += piece;
    }
    WSN_CHECK(failedWhereExpected);
    WSN_CHECK(stream.finish() == (expected == sample.size()));
  }
}

void testRandomPool() {
  wsn::RandomPool pool;
  uint8_t first[32];
  uint8_t second[32];
  WSN_CHECK(pool.fill(first, sizeof(first)));
  WSN_CHECK(pool.fill(second, sizeof(second)));
  WSN_CHECK(std::memcmp(first, second, sizeof(first)) != 0);
  // Across a pool refill and larger than the pool.
  Bytes big(3 * 8192 + 5);
  for (int i = 0; i < 4; ++i) WSN_CHECK(pool.fill(big.data(), big.size()));
  size_t counts[256] = {};
  for (uint8_t byte : big) ++counts[byte];
  size_t missing = 0;
  for (size_t count : counts) missing += count == 0;
  WSN_CHECK(missing == 0);  // 24 KiB of uniform bytes hit every value
  for (int i = 0; i < 5000; ++i) WSN_CHECK(pool.fill(first, 4));
  WSN_CHECK(pool.fill(nullptr, 0));
}

void testDispatch() {
  const wsn::KernelTable& selected = wsn::kernels();
  WSN_CHECK(wsn::kernelsFor(selected.isa) == &selected);
  WSN_CHECK(wsn::kernelsFor(wsn::Isa::kScalar) != nullptr);
  WSN_CHECK(std::strcmp(wsn::isaName(wsn::Isa::kAvx2), "avx2") == 0);
  const char* forced = std::getenv("WSN_FORCE_ISA");
  if (forced != nullptr && std::strcmp(forced, "scalar") == 0) {
    WSN_CHECK(selected.isa == wsn::Isa::kScalar);
  }
  std::printf("kernels_test: dispatch selected %s\n",
              wsn::isaName(selected.isa));
}

}  // namespace

int main() {
  testDispatch();
  testMaskAgainstReference();
  testMaskBytesPhases();
  testUtf8Vectors();
  testUtf8Random();
  testIsValidUtf8AndStream();
  testRandomPool();
  return wsn::test::finish("kernels_test");
}
