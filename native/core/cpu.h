// CPU feature detection and the kernel table: filled once, immutable
// afterwards, global. The ISA files in simd/ are the only code compiled with
// ISA flags; everything reaches them through here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsn {

enum class Isa : uint8_t { kScalar = 0, kSse2 = 1, kAvx2 = 2 };

struct KernelTable {
  Isa isa;
  // Same contract as wsn::maskBytes, but the key has already been rotated to
  // the phase: byte i is XORed with key[i % 4]. Returns nothing; the caller
  // computes the next phase.
  void (*mask)(const uint8_t* source, uint8_t* destination, size_t length,
               const uint8_t key[4]) noexcept;
  // Validates complete UTF-8 text (RFC 3629). Returns the length of the longest
  // prefix that is valid *and* ends on a sequence boundary when the input is
  // valid up to a truncated final sequence, or SIZE_MAX if the input contains
  // an invalid byte sequence anywhere. Equal to `length` when the whole input
  // is valid. Used by Utf8Stream to find the carry.
  size_t (*validUtf8Prefix)(const uint8_t* data, size_t length) noexcept;
};

// The kernels the CPU supports best, or the ISA named by the environment
// variable WSN_FORCE_ISA (scalar | sse2 | avx2) when the CPU supports it.
// Selected on first call; thread-safe.
const KernelTable& kernels() noexcept;

// A table for a specific ISA, or nullptr when this build or CPU lacks it (tests
// and benches loop over all of them).
const KernelTable* kernelsFor(Isa isa) noexcept;

const char* isaName(Isa isa) noexcept;

namespace detail {
// Defined in simd/*.cc.
void maskScalar(const uint8_t*, uint8_t*, size_t, const uint8_t[4]) noexcept;
size_t validUtf8PrefixScalar(const uint8_t*, size_t) noexcept;
#if defined(WSN_HAVE_X86_KERNELS)
void maskSse2(const uint8_t*, uint8_t*, size_t, const uint8_t[4]) noexcept;
void maskAvx2(const uint8_t*, uint8_t*, size_t, const uint8_t[4]) noexcept;
size_t validUtf8PrefixSse2(const uint8_t*, size_t) noexcept;
size_t validUtf8PrefixAvx2(const uint8_t*, size_t) noexcept;
#endif
}  // namespace detail

}  // namespace wsn
