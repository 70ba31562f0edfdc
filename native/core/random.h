// Masking keys (RFC 6455 §5.3: unpredictable, from a strong source) out of
// OpenSSL's CSPRNG through a refillable pool, so a key costs a copy, not a
// RAND_bytes call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsn {

class RandomPool {
 public:
  // Fills `length` bytes. Returns false only if OpenSSL cannot produce random
  // bytes (then `destination` is left zeroed and the caller must fail the
  // send). Not thread-safe: one pool per thread (the binding keeps one per
  // addon instance).
  [[nodiscard]] bool fill(uint8_t* destination, size_t length) noexcept;

 private:
  static constexpr size_t kPoolBytes = 8192;
  uint8_t pool_[kPoolBytes];
  size_t used_ = kPoolBytes;
};

}  // namespace wsn
