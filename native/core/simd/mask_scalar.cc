// Portable masking kernel (RFC 6455 §5.3) for any CPU: 8-byte words through
// memcpy, so it needs no alignment and no ISA flags. Depends only on cpu.h.
#include <cstring>

#include "cpu.h"

namespace wsn::detail {

namespace {

// Eight bytes per step. memcpy compiles to one unaligned load or store on
// every target we build for, and unlike a pointer cast it is defined for any
// alignment and aliasing.
inline uint64_t loadWord(const uint8_t* bytes) noexcept {
  uint64_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

inline void storeWord(uint8_t* bytes, uint64_t word) noexcept {
  std::memcpy(bytes, &word, sizeof(word));
}

}  // namespace

void maskScalar(const uint8_t* source, uint8_t* destination, size_t length,
                const uint8_t key[4]) noexcept {
  // The key twice, in memory order: both halves of the word are the same 4
  // bytes, so byte j of the word masks byte j of each 8-byte step whatever the
  // host's endianness (8 is a multiple of the 4-byte key period).
  uint32_t keyHalf;
  std::memcpy(&keyHalf, key, sizeof(keyHalf));
  const uint64_t keyWord = (uint64_t{keyHalf} << 32) | keyHalf;

  size_t i = 0;
  // Four independent words per iteration keep the load and store ports busy.
  for (; i + 32 <= length; i += 32) {
    const uint64_t a = loadWord(source + i) ^ keyWord;
    const uint64_t b = loadWord(source + i + 8) ^ keyWord;
    const uint64_t c = loadWord(source + i + 16) ^ keyWord;
    const uint64_t d = loadWord(source + i + 24) ^ keyWord;
    storeWord(destination + i, a);
    storeWord(destination + i + 8, b);
    storeWord(destination + i + 16, c);
    storeWord(destination + i + 24, d);
  }
  for (; i + 8 <= length; i += 8) {
    storeWord(destination + i, loadWord(source + i) ^ keyWord);
  }
  // Every step so far was a multiple of 4 bytes: the tail starts at key
  // index 0.
  for (size_t j = 0; i < length; ++i, ++j) {
    destination[i] = static_cast<uint8_t>(source[i] ^ key[j & 3]);
  }
}

}  // namespace wsn::detail
