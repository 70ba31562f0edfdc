// AVX2 UTF-8 validator (RFC 3629) after the lookup-table algorithm of Keiser
// and Lemire, "Validating UTF-8 In Less Than One Instruction Per Byte" (2021):
// three nibble lookups classify every pair of adjacent bytes, one more test
// checks the third and fourth bytes of long sequences. Compiled with -mavx2 and
// reached only through cpu.cc after the CPU and OS checks; all but the detail::
// entry point stays in an anonymous namespace.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu.h"

namespace wsn::detail {

namespace {

inline __m256i load(const uint8_t* bytes) noexcept {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
}

inline __m256i splat(int byte) noexcept {
  return _mm256_set1_epi8(static_cast<char>(byte));
}

// One bit per kind of error in a pair (byte 1, byte 2) of adjacent bytes. A
// pair is bad when the three lookups (byte 1's high nibble, byte 1's low
// nibble, byte 2's high nibble) all have the same bit set.
constexpr uint8_t kTooShort = 1 << 0;   // lead, then no continuation
constexpr uint8_t kTooLong = 1 << 1;    // ASCII, then a continuation
constexpr uint8_t kOverlong3 = 1 << 2;  // E0 80..9F
constexpr uint8_t kTooLarge = 1 << 3;   // F4 90..BF, F5..FF 90..BF
constexpr uint8_t kSurrogate = 1 << 4;  // ED A0..BF
constexpr uint8_t kOverlong2 = 1 << 5;  // C0, C1 then a continuation
// F0 80..8F (overlong 4-byte) and F5..FF 80..8F (too large) share a bit: they
// differ only in byte 1's low nibble.
constexpr uint8_t kOverlong4OrTooLarge1000 = 1 << 6;
// Two continuations in a row: wrong unless byte 2 is the third or fourth byte
// of a long sequence, which the caller tests separately and cancels with XOR.
constexpr uint8_t kTwoContinuations = 1 << 7;
// Faults decided by byte 1's high nibble alone.
constexpr uint8_t kAnyLowNibble = kTooShort | kTooLong | kTwoContinuations;

inline __m256i table16(uint8_t e0, uint8_t e1, uint8_t e2, uint8_t e3,
                       uint8_t e4, uint8_t e5, uint8_t e6, uint8_t e7,
                       uint8_t e8, uint8_t e9, uint8_t e10, uint8_t e11,
                       uint8_t e12, uint8_t e13, uint8_t e14,
                       uint8_t e15) noexcept {
  const __m128i lane = _mm_setr_epi8(
      static_cast<char>(e0), static_cast<char>(e1), static_cast<char>(e2),
      static_cast<char>(e3), static_cast<char>(e4), static_cast<char>(e5),
      static_cast<char>(e6), static_cast<char>(e7), static_cast<char>(e8),
      static_cast<char>(e9), static_cast<char>(e10), static_cast<char>(e11),
      static_cast<char>(e12), static_cast<char>(e13), static_cast<char>(e14),
      static_cast<char>(e15));
  // vpshufb looks up within each 128-bit lane, so both lanes hold the same
  // table.
  return _mm256_broadcastsi128_si256(lane);
}

struct Tables {
  __m256i byte1High;
  __m256i byte1Low;
  __m256i byte2High;
};

inline Tables makeTables() noexcept {
  Tables tables;
  tables.byte1High = table16(
      // 0_______ ASCII
      kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong,
      kTooLong,
      // 10______ continuation
      kTwoContinuations, kTwoContinuations, kTwoContinuations,
      kTwoContinuations,
      // 1100____ two-byte lead
      kTooShort | kOverlong2,
      // 1101____ two-byte lead
      kTooShort,
      // 1110____ three-byte lead
      kTooShort | kOverlong3 | kSurrogate,
      // 1111____ four-byte lead or never valid
      kTooShort | kTooLarge | kOverlong4OrTooLarge1000);
  tables.byte1Low = table16(
      // ____0000: C0, E0, F0
      kAnyLowNibble | kOverlong2 | kOverlong3 | kOverlong4OrTooLarge1000,
      // ____0001: C1
      kAnyLowNibble | kOverlong2, kAnyLowNibble, kAnyLowNibble,
      // ____0100: F4
      kAnyLowNibble | kTooLarge,
      // ____0101 .. ____1100: F5..FC
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      // ____1101: ED, FD
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000 | kSurrogate,
      // ____1110, ____1111: FE, FF
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000,
      kAnyLowNibble | kTooLarge | kOverlong4OrTooLarge1000);
  constexpr uint8_t kContinuation = kTooLong | kOverlong2 | kTwoContinuations;
  tables.byte2High = table16(
      // 0_______ ASCII after a lead
      kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort,
      kTooShort, kTooShort,
      // 1000____ 80..8F
      kContinuation | kOverlong3 | kOverlong4OrTooLarge1000,
      // 1001____ 90..9F
      kContinuation | kOverlong3 | kTooLarge,
      // 101_____ A0..BF
      kContinuation | kSurrogate | kTooLarge,
      kContinuation | kSurrogate | kTooLarge,
      // 11______ a lead after a lead
      kTooShort, kTooShort, kTooShort, kTooShort);
  return tables;
}

// The 32 bytes that end N bytes before each byte of `input`: the tail of
// `previous`, then the head of `input`. vpalignr works per 128-bit lane, so it
// is fed the lane pair (previous.high, input.low) to cross the middle.
template <int N>
inline __m256i previousBytes(__m256i input, __m256i previous) noexcept {
  const __m256i straddle = _mm256_permute2x128_si256(previous, input, 0x21);
  return _mm256_alignr_epi8(input, straddle, 16 - N);
}

inline __m256i lookup(__m256i table, __m256i nibbles) noexcept {
  return _mm256_shuffle_epi8(table, nibbles);
}

// Non-zero bytes where `input` breaks RFC 3629 §4 given the bytes before it.
inline __m256i checkBlock(const Tables& tables, __m256i input,
                          __m256i previous) noexcept {
  const __m256i lowNibble = splat(0x0F);
  const __m256i prev1 = previousBytes<1>(input, previous);
  const __m256i special = _mm256_and_si256(
      _mm256_and_si256(
          lookup(tables.byte1High,
                 _mm256_and_si256(_mm256_srli_epi16(prev1, 4), lowNibble)),
          lookup(tables.byte1Low, _mm256_and_si256(prev1, lowNibble))),
      lookup(tables.byte2High,
             _mm256_and_si256(_mm256_srli_epi16(input, 4), lowNibble)));
  // A byte two after an E0+ lead or three after an F0+ lead must be a
  // continuation after a continuation: exactly the bytes whose
  // kTwoContinuations bit is expected. A saturating subtraction leaves bit 7
  // set only at or above each threshold.
  const __m256i prev2 = previousBytes<2>(input, previous);
  const __m256i prev3 = previousBytes<3>(input, previous);
  const __m256i mustBeLaterContinuation = _mm256_and_si256(
      _mm256_or_si256(_mm256_subs_epu8(prev2, splat(0xE0 - 0x80)),
                      _mm256_subs_epu8(prev3, splat(0xF0 - 0x80))),
      splat(0x80));
  return _mm256_xor_si256(mustBeLaterContinuation, special);
}

// Non-zero where a lead in the last three bytes still waits for continuations,
// which the next block must supply; used when that block is skipped as ASCII.
inline __m256i unfinishedAtEnd(__m256i input) noexcept {
  const __m256i limits = _mm256_setr_epi8(
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, static_cast<char>(0xF0 - 1),
      static_cast<char>(0xE0 - 1), static_cast<char>(0xC0 - 1));
  return _mm256_subs_epu8(input, limits);
}

// True when [data, data+length) is complete, valid UTF-8.
bool validComplete(const uint8_t* data, size_t length) noexcept {
  const Tables tables = makeTables();
  __m256i error = _mm256_setzero_si256();
  __m256i previous = _mm256_setzero_si256();
  __m256i unfinished = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 64 <= length; i += 64) {
    const __m256i a = load(data + i);
    const __m256i b = load(data + i + 32);
    if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
      // All ASCII: valid by itself, but wrong if the previous block ended
      // mid-sequence.
      error = _mm256_or_si256(error, unfinished);
      unfinished = _mm256_setzero_si256();
    } else {
      error = _mm256_or_si256(error, checkBlock(tables, a, previous));
      error = _mm256_or_si256(error, checkBlock(tables, b, a));
      unfinished = unfinishedAtEnd(b);
    }
    previous = b;
  }
  // The last 0..63 bytes, zero-padded: a zero after a lead that needs more
  // bytes is an error, which is what "complete" requires. The copy never reads
  // past the input.
  uint8_t tail[64] = {};
  if (length > i) std::memcpy(tail, data + i, length - i);
  const __m256i a = load(tail);
  const __m256i b = load(tail + 32);
  error = _mm256_or_si256(error, checkBlock(tables, a, previous));
  error = _mm256_or_si256(error, checkBlock(tables, b, a));
  return _mm256_testz_si256(error, error) != 0;
}

// Where the text would end if its final sequence is unfinished: the index of a
// lead in the last three bytes that needs more bytes than remain, else
// `length`. RFC 3629 §3: a sequence is at most four bytes, so nothing earlier
// can be cut off.
size_t unfinishedTailStart(const uint8_t* data, size_t length) noexcept {
  const size_t stop = length > 3 ? length - 3 : 0;
  for (size_t end = length; end > stop; --end) {
    const uint8_t byte = data[end - 1];
    if (byte < 0x80) break;
    if (byte >= 0xC0) {
      const size_t sequenceBytes = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
      return sequenceBytes > length - (end - 1) ? end - 1 : length;
    }
  }
  return length;
}

size_t validPrefix(const uint8_t* data, size_t length) noexcept {
  if (length == 0) return 0;
  const size_t complete = unfinishedTailStart(data, length);
  if (!validComplete(data, complete)) return SIZE_MAX;
  if (complete == length) return length;
  // A lead and fewer continuations than it needs: 0 when they can still begin a
  // valid sequence (the caller carries them), SIZE_MAX when they already
  // cannot.
  return validUtf8PrefixScalar(data + complete, length - complete) == 0
             ? complete
             : SIZE_MAX;
}

}  // namespace

size_t validUtf8PrefixAvx2(const uint8_t* data, size_t length) noexcept {
  return validPrefix(data, length);
}

}  // namespace wsn::detail
