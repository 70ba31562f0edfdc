// AVX2 masking kernel (RFC 6455 §5.3). Compiled with -mavx2 and reached only
// through cpu.cc's dispatch after the CPU and OS were checked; everything but
// the detail:: entry point stays in an anonymous namespace so no AVX2-compiled
// inline code can be picked by the linker for other callers.
#include <immintrin.h>

#include <cstring>

#include "cpu.h"

namespace wsn::detail {

namespace {

inline __m256i load(const uint8_t* bytes) noexcept {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
}

inline void store(uint8_t* bytes, __m256i value) noexcept {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes), value);
}

void maskImpl(const uint8_t* source, uint8_t* destination, size_t length,
              const uint8_t key[4]) noexcept {
  uint8_t keyBytes[32];
  for (size_t i = 0; i < 32; ++i) keyBytes[i] = key[i & 3];
  const __m256i keyVector = load(keyBytes);

  size_t i = 0;
  // Loads before stores in each step, so in-place masking reads every byte
  // before writing it.
  for (; i + 128 <= length; i += 128) {
    const __m256i a = _mm256_xor_si256(load(source + i), keyVector);
    const __m256i b = _mm256_xor_si256(load(source + i + 32), keyVector);
    const __m256i c = _mm256_xor_si256(load(source + i + 64), keyVector);
    const __m256i d = _mm256_xor_si256(load(source + i + 96), keyVector);
    store(destination + i, a);
    store(destination + i + 32, b);
    store(destination + i + 64, c);
    store(destination + i + 96, d);
  }
  for (; i + 32 <= length; i += 32) {
    store(destination + i, _mm256_xor_si256(load(source + i), keyVector));
  }
  // Up to 31 bytes: one 16-byte vector, one 8-byte word, then single bytes.
  // Every step is a multiple of the key period, so each starts at key index 0.
  if (i + 16 <= length) {
    const __m128i half = _mm_xor_si128(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(source + i)),
        _mm256_castsi256_si128(keyVector));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(destination + i), half);
    i += 16;
  }
  if (i + 8 <= length) {
    uint64_t word;
    uint64_t keyWord;
    std::memcpy(&word, source + i, 8);
    std::memcpy(&keyWord, keyBytes, 8);
    word ^= keyWord;
    std::memcpy(destination + i, &word, 8);
    i += 8;
  }
  for (size_t j = 0; i < length; ++i, ++j) {
    destination[i] = static_cast<uint8_t>(source[i] ^ keyBytes[j]);
  }
}

}  // namespace

void maskAvx2(const uint8_t* source, uint8_t* destination, size_t length,
              const uint8_t key[4]) noexcept {
  maskImpl(source, destination, length, key);
}

}  // namespace wsn::detail
