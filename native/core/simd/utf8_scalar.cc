// Portable UTF-8 validator (RFC 3629) for any CPU, and the reference the vector
// kernels are tested against. A byte-at-a-time decoder over the well-formed
// byte sequences of RFC 3629 §4, with an ASCII fast path of 16 and 8 bytes per
// step. Depends only on cpu.h.
#include <cstdint>
#include <cstring>

#include "cpu.h"

namespace wsn::detail {

namespace {

constexpr size_t kInvalid = SIZE_MAX;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

inline uint64_t loadWord(const uint8_t* bytes) noexcept {
  uint64_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

// Index of the first byte with its high bit set in a word loaded by memcpy
// (`highBits` is non-zero and holds only bits 7, 15, ... 63).
inline size_t firstHighByte(uint64_t highBits) noexcept {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return static_cast<size_t>(__builtin_ctzll(highBits)) >> 3;
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return static_cast<size_t>(__builtin_clzll(highBits)) >> 3;
#else
  uint8_t bytes[8];
  std::memcpy(bytes, &highBits, sizeof(bytes));
  size_t index = 0;
  while (bytes[index] == 0) ++index;
  return index;
#endif
}

// The index of the first non-ASCII byte at or after `i`, or `length`.
inline size_t skipAscii(const uint8_t* data, size_t i, size_t length) noexcept {
  for (; i + 16 <= length; i += 16) {
    const uint64_t first = loadWord(data + i) & kHighBits;
    const uint64_t second = loadWord(data + i + 8) & kHighBits;
    if ((first | second) != 0) {
      return first != 0 ? i + firstHighByte(first)
                        : i + 8 + firstHighByte(second);
    }
  }
  if (i + 8 <= length) {
    const uint64_t word = loadWord(data + i) & kHighBits;
    if (word != 0) return i + firstHighByte(word);
    i += 8;
  }
  while (i < length && data[i] < 0x80) ++i;
  return i;
}

size_t validPrefix(const uint8_t* data, size_t length) noexcept {
  size_t i = 0;
  while (true) {
    i = skipAscii(data, i, length);
    if (i == length) return length;

    // RFC 3629 §4 (Unicode Table 3-7): the lead byte fixes the length and the
    // range of the second byte; every later byte is 80..BF.
    const uint8_t lead = data[i];
    size_t sequenceBytes;
    uint8_t secondMin = 0x80;
    uint8_t secondMax = 0xBF;
    if (lead < 0xC2) {
      // 80..BF: a continuation with no lead; C0, C1: overlong 2-byte forms of
      // ASCII.
      return kInvalid;
    } else if (lead < 0xE0) {
      sequenceBytes = 2;
    } else if (lead < 0xF0) {
      sequenceBytes = 3;
      if (lead == 0xE0) secondMin = 0xA0;  // E0 80..9F: overlong
      if (lead == 0xED) secondMax = 0x9F;  // ED A0..BF: surrogates D800..DFFF
    } else if (lead < 0xF5) {
      sequenceBytes = 4;
      if (lead == 0xF0) secondMin = 0x90;  // F0 80..8F: overlong
      if (lead == 0xF4) secondMax = 0x8F;  // F4 90..BF: above U+10FFFF
    } else {
      return kInvalid;  // F5..FF: above U+10FFFF, never in UTF-8
    }

    const size_t available = length - i;
    // A sequence cut off by the end of the input is reported as the prefix
    // before it, but only when the bytes present could still begin a valid
    // sequence.
    if (available < 2) return i;
    const uint8_t second = data[i + 1];
    if (second < secondMin || second > secondMax) return kInvalid;
    for (size_t k = 2; k < sequenceBytes; ++k) {
      if (available <= k) return i;
      if ((data[i + k] & 0xC0) != 0x80) return kInvalid;
    }
    i += sequenceBytes;
  }
}

}  // namespace

size_t validUtf8PrefixScalar(const uint8_t* data, size_t length) noexcept {
  if (length == 0) return 0;
  return validPrefix(data, length);
}

}  // namespace wsn::detail
