// Public masking entry point (RFC 6455 §5.3): rotates the key to the caller's
// phase and hands the bytes to the kernel cpu.cc selected. Knows nothing about
// frames or Node.
#include "mask.h"

#include "cpu.h"

namespace wsn {

size_t maskBytes(const uint8_t* source, uint8_t* destination, size_t length,
                 const uint8_t key[4], size_t keyPhase) noexcept {
  const size_t phase = keyPhase & 3;
  if (length == 0) return phase;
  // RFC 6455 §5.3: octet i of the payload is XORed with key octet (i mod 4). A
  // payload that resumes mid-frame resumes at `phase`, so the kernels always
  // see a key starting at index 0.
  const uint8_t rotated[4] = {key[phase], key[(phase + 1) & 3],
                              key[(phase + 2) & 3], key[(phase + 3) & 3]};
  kernels().mask(source, destination, length, rotated);
  return (phase + length) & 3;
}

}  // namespace wsn
