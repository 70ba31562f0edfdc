// Message templates, tags and the RAND_bytes pool of the load generator.
// Depends on OpenSSL's RAND only.
#include "payload.h"

#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace wsn::bench {

RandomPool::RandomPool(size_t poolBytes) : pool_(poolBytes), offset_(0) {
  refill();
}

void RandomPool::refill() {
  if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  offset_ = 0;
}

void RandomPool::take(uint8_t* out, size_t bytes) {
  while (bytes > 0) {
    if (offset_ == pool_.size()) refill();
    size_t chunk = pool_.size() - offset_;
    if (chunk > bytes) chunk = bytes;
    std::memcpy(out, pool_.data() + offset_, chunk);
    offset_ += chunk;
    out += chunk;
    bytes -= chunk;
  }
}

namespace {

// Words in Latin, accented Latin, Greek, Cyrillic, Hebrew, Arabic, CJK, Hangul
// and astral-plane symbols: every UTF-8 sequence length appears often.
constexpr std::string_view kWords[] = {
    "hello",     "world",  "the",   "quick",         "brown",  "fox",
    "données",   "naïve",  "Grüße", "façade",        "привет", "мир",
    "γειά",      "σου",    "שלום",  "مرحبا",         "你好",   "世界",
    "こんにちは", "안녕",   "€100",  "ß",             "😀",     "🚀",
    "𝄞",         "🇺🇳",     "x=42",  "{\"id\":7}", "é",      "ä",
};

}  // namespace

std::vector<uint8_t> makeTemplate(PayloadKind kind, size_t bytes,
                                  RandomPool& random) {
  std::vector<uint8_t> out(bytes);
  const size_t tagBytes = bytes < kTagBytes ? bytes : kTagBytes;
  std::memset(out.data(), '0', tagBytes);
  if (kind == PayloadKind::kBinary) {
    random.take(out.data() + tagBytes, bytes - tagBytes);
    return out;
  }
  // Word choices come from a xorshift seeded once from RAND_bytes: the text
  // only has to be varied, and this keeps template setup fast for 1 MiB.
  uint64_t state;
  random.take(reinterpret_cast<uint8_t*>(&state), sizeof state);
  state |= 1;
  size_t pos = tagBytes;
  constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];
  while (pos < bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const std::string_view word = kWords[state % kWordCount];
    if (word.size() + 1 > bytes - pos) {
      // Pad with ASCII so no multi-byte sequence is cut at the end.
      std::memset(out.data() + pos, '.', bytes - pos);
      break;
    }
    std::memcpy(out.data() + pos, word.data(), word.size());
    pos += word.size();
    out[pos++] = ((state >> 20) & 15) == 0 ? '\n' : ' ';
  }
  return out;
}

void writeTag(uint8_t* out, size_t bytes, uint64_t tag) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[kTagBytes];
  for (size_t i = 0; i < kTagBytes; ++i) {
    digits[kTagBytes - 1 - i] = kHex[(tag >> (4 * i)) & 15];
  }
  std::memcpy(out, digits + (kTagBytes - bytes), bytes);
}

}  // namespace wsn::bench
