// SSE2 UTF-8 validator (RFC 3629). SSE2 has no byte shuffle, so instead of
// table lookups each rule of RFC 3629 §4 becomes a few saturating subtractions
// and compares over 16 bytes at a time, with 64-byte ASCII blocks skipped after
// one test. Compiled with -msse2 and reached only through cpu.cc; all but the
// detail:: entry point stays in an anonymous namespace.
#include <emmintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu.h"

namespace wsn::detail {

namespace {

inline __m128i load(const uint8_t* bytes) noexcept {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
}

inline __m128i splat(int byte) noexcept {
  return _mm_set1_epi8(static_cast<char>(byte));
}

// The 16 bytes that end N bytes before each byte of `input`: the tail of
// `previous`, then the head of `input`.
template <int N>
inline __m128i previousBytes(__m128i input, __m128i previous) noexcept {
  return _mm_or_si128(_mm_slli_si128(input, N),
                      _mm_srli_si128(previous, 16 - N));
}

// Bit 7 of each result byte is set where `input` breaks a rule of RFC 3629 §4
// given the bytes before it; the other bits are noise.
inline __m128i checkBlock(__m128i input, __m128i previous) noexcept {
  const __m128i prev1 = previousBytes<1>(input, previous);
  const __m128i prev2 = previousBytes<2>(input, previous);
  const __m128i prev3 = previousBytes<3>(input, previous);

  // A byte is a continuation (10xxxxxx) exactly when a lead one, two or three
  // bytes back reaches it: C0+ reaches 1 byte, E0+ 2 bytes, F0+ 3 bytes. An
  // unsigned saturating subtraction leaves bit 7 set only at or above each
  // threshold. This one comparison covers stray continuations, missing ones and
  // sequences that are too long.
  const __m128i needsContinuation =
      _mm_or_si128(_mm_or_si128(_mm_subs_epu8(prev1, splat(0xC0 - 0x80)),
                                _mm_subs_epu8(prev2, splat(0xE0 - 0x80))),
                   _mm_subs_epu8(prev3, splat(0xF0 - 0x80)));
  // Bit 7 = bit 7 and not bit 6 (adding a byte to itself shifts it left by
  // one).
  const __m128i isContinuation =
      _mm_andnot_si128(_mm_add_epi8(input, input), input);
  __m128i error = _mm_xor_si128(needsContinuation, isContinuation);

  // Bytes that never occur: C0 and C1 (overlong forms of ASCII) and F5..FF
  // (above U+10FFFF).
  error = _mm_or_si128(error, _mm_subs_epu8(input, splat(0xF5 - 0x80)));
  error = _mm_or_si128(
      error, _mm_cmpeq_epi8(_mm_and_si128(input, splat(0xFE)), splat(0xC0)));

  // Second-byte ranges of Unicode Table 3-7 for the four special leads. The
  // byte is already known to be a continuation when the lead is right before
  // it, so only bits 5 and 4 matter. A 16-bit shift moves each byte's bit 5 (or
  // 4) to its own bit 7.
  const __m128i bit5 = _mm_slli_epi16(input, 2);
  const __m128i bit5or4 = _mm_or_si128(bit5, _mm_slli_epi16(input, 3));
  // E0 80..9F: overlong 3-byte form.
  error = _mm_or_si128(
      error, _mm_andnot_si128(bit5, _mm_cmpeq_epi8(prev1, splat(0xE0))));
  // ED A0..BF: UTF-16 surrogates U+D800..U+DFFF.
  error = _mm_or_si128(error,
                       _mm_and_si128(bit5, _mm_cmpeq_epi8(prev1, splat(0xED))));
  // F0 80..8F: overlong 4-byte form.
  error = _mm_or_si128(
      error, _mm_andnot_si128(bit5or4, _mm_cmpeq_epi8(prev1, splat(0xF0))));
  // F4 90..BF: above U+10FFFF.
  error = _mm_or_si128(
      error, _mm_and_si128(bit5or4, _mm_cmpeq_epi8(prev1, splat(0xF4))));
  return error;
}

// Bit 7 set where a lead in the last three bytes still waits for continuations,
// which the next block must supply; used when that block is skipped as ASCII.
inline __m128i unfinishedAtEnd(__m128i input) noexcept {
  const __m128i thresholds = _mm_setr_epi8(
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      static_cast<char>(0xF0 - 0x80), static_cast<char>(0xE0 - 0x80),
      static_cast<char>(0xC0 - 0x80));
  return _mm_subs_epu8(input, thresholds);
}

// True when [data, data+length) is complete, valid UTF-8.
bool validComplete(const uint8_t* data, size_t length) noexcept {
  __m128i error = _mm_setzero_si128();
  __m128i previous = _mm_setzero_si128();
  __m128i unfinished = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 64 <= length; i += 64) {
    const __m128i a = load(data + i);
    const __m128i b = load(data + i + 16);
    const __m128i c = load(data + i + 32);
    const __m128i d = load(data + i + 48);
    const __m128i any = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
    if (_mm_movemask_epi8(any) == 0) {
      // All ASCII: valid by itself, but wrong if the previous block ended
      // mid-sequence.
      error = _mm_or_si128(error, unfinished);
      unfinished = _mm_setzero_si128();
    } else {
      error = _mm_or_si128(error, checkBlock(a, previous));
      error = _mm_or_si128(error, checkBlock(b, a));
      error = _mm_or_si128(error, checkBlock(c, b));
      error = _mm_or_si128(error, checkBlock(d, c));
      unfinished = unfinishedAtEnd(d);
    }
    previous = d;
  }
  // The last 0..63 bytes, zero-padded: a zero after a lead that needs more
  // bytes is an error, which is what "complete" requires. The copy never reads
  // past the input.
  uint8_t tail[64] = {};
  if (length > i) std::memcpy(tail, data + i, length - i);
  const __m128i a = load(tail);
  const __m128i b = load(tail + 16);
  const __m128i c = load(tail + 32);
  const __m128i d = load(tail + 48);
  error = _mm_or_si128(error, checkBlock(a, previous));
  error = _mm_or_si128(error, checkBlock(b, a));
  error = _mm_or_si128(error, checkBlock(c, b));
  error = _mm_or_si128(error, checkBlock(d, c));
  return _mm_movemask_epi8(error) == 0;
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

size_t validUtf8PrefixSse2(const uint8_t* data, size_t length) noexcept {
  return validPrefix(data, length);
}

}  // namespace wsn::detail
