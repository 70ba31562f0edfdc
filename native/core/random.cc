// Masking keys from OpenSSL's CSPRNG (RFC 6455 §5.3 and §10.3: unpredictable
// keys), drawn through an 8 KiB pool so a 4-byte key costs a copy rather than a
// RAND_bytes call.
#include "random.h"

#include <openssl/rand.h>

#include <cstring>

namespace wsn {

bool RandomPool::fill(uint8_t* destination, size_t length) noexcept {
  uint8_t* const start = destination;
  const size_t requested = length;
  // Large requests go straight to OpenSSL: copying them through the pool buys
  // nothing. RAND_bytes takes an int, hence the chunks.
  constexpr size_t kChunkBytes = size_t{1} << 30;
  while (length >= kPoolBytes) {
    const size_t chunk = length < kChunkBytes ? length : kChunkBytes;
    if (RAND_bytes(destination, static_cast<int>(chunk)) != 1) {
      std::memset(start, 0, requested);
      return false;
    }
    destination += chunk;
    length -= chunk;
  }
  while (length > 0) {
    if (used_ == kPoolBytes) {
      if (RAND_bytes(pool_, static_cast<int>(kPoolBytes)) != 1) {
        // Nothing half-random may leak into a frame: the caller fails the send.
        if (requested > 0) std::memset(start, 0, requested);
        return false;
      }
      used_ = 0;
    }
    const size_t available = kPoolBytes - used_;
    const size_t taken = length < available ? length : available;
    std::memcpy(destination, pool_ + used_, taken);
    // Bytes handed out are never handed out again: each key is used once.
    used_ += taken;
    destination += taken;
    length -= taken;
  }
  return true;
}

}  // namespace wsn
