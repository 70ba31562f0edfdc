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
    "hello",      "world", "the",   "quick",      "brown",  "fox",
    "données",    "naïve", "Grüße", "façade",     "привет", "мир",
    "γειά",       "σου",   "שלום",  "مرحبا",      "你好",   "世界",
    "こんにちは", "안녕",  "€100",  "ß",          "😀",      "🚀",
    "𝄞",          "🇺🇳",    "x=42",  "{\"id\":7}", "é",      "ä",
};

}  // namespace

namespace {

constexpr size_t kCorpusExtraBytes = 1 << 20;

void fillText(uint8_t* out, size_t bytes, RandomPool& random) {
  // Word choices come from a xorshift seeded once from RAND_bytes: the text
  // only has to be varied, and this keeps setup fast for 2 MiB.
  uint64_t state;
  random.take(reinterpret_cast<uint8_t*>(&state), sizeof state);
  state |= 1;
  size_t pos = 0;
  constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];
  while (pos < bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const std::string_view word = kWords[state % kWordCount];
    if (word.size() + 1 > bytes - pos) {
      // Pad with ASCII so no multi-byte sequence is cut at the end.
      std::memset(out + pos, '.', bytes - pos);
      break;
    }
    std::memcpy(out + pos, word.data(), word.size());
    pos += word.size();
    out[pos++] = ((state >> 20) & 15) == 0 ? '\n' : ' ';
  }
}

// A UTF-8 slice may start or end at `pos` only if no sequence continues
// across it (RFC 3629 §3: continuation bytes are 10xxxxxx).
bool isBoundary(const std::vector<uint8_t>& text, size_t pos) {
  return pos >= text.size() || (text[pos] & 0xC0) != 0x80;
}

}  // namespace

PayloadSource::PayloadSource(PayloadKind kind, size_t messageBytes,
                             RandomPool& random, size_t maxBodies)
    : messageBytes_(messageBytes),
      tagBytes_(messageBytes < kTagBytes ? messageBytes : kTagBytes),
      corpus_(messageBytes + kCorpusExtraBytes) {
  if (kind == PayloadKind::kBinary) {
    random.take(corpus_.data(), corpus_.size());
  } else {
    fillText(corpus_.data(), corpus_.size(), random);
  }
  const size_t span = corpus_.size() - messageBytes;
  const size_t stride = span / maxBodies > 0 ? span / maxBodies : 1;
  for (size_t start = 0; start + 8 < span && offsets_.size() < maxBodies;
       start += stride) {
    // The tag overwrites [offset, offset + tagBytes) with ASCII, so only the
    // two ends of the rest must fall on character boundaries.
    for (size_t offset = start; offset < start + 8; ++offset) {
      if (kind == PayloadKind::kBinary ||
          (isBoundary(corpus_, offset + tagBytes_) &&
           isBoundary(corpus_, offset + messageBytes))) {
        offsets_.push_back(static_cast<uint32_t>(offset));
        break;
      }
    }
  }
  if (offsets_.empty()) offsets_.push_back(0);
}

size_t PayloadSource::bodyIndex(uint64_t tag) const {
  // Fibonacci hashing spreads consecutive tags over the whole corpus.
  const uint64_t mixed = (tag * 0x9E3779B97F4A7C15ull) >> 20;
  return static_cast<size_t>(mixed % offsets_.size());
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
