// XOR masking of RFC 6455 §5.3: public kernel API. Dispatches through cpu.h's
// kernel table; knows nothing about frames or Node.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsn {

// Masks (or unmasks: the operation is its own inverse) `length` bytes of
// `source` into `destination` with the 4-byte `key`, starting at key index
// `keyPhase` (0..3): byte i is XORed with key[(keyPhase + i) % 4]. `source ==
// destination` (in place) is allowed; other overlap is not. Reads exactly
// [source, source+length) and writes exactly [destination, destination+length).
// Returns the key phase after the last byte, so a payload split across chunks
// resumes where it stopped. Thread-safe.
size_t maskBytes(const uint8_t* source, uint8_t* destination, size_t length,
                 const uint8_t key[4], size_t keyPhase) noexcept;

inline size_t unmaskInPlace(uint8_t* data, size_t length, const uint8_t key[4],
                            size_t keyPhase) noexcept {
  return maskBytes(data, data, length, key, keyPhase);
}

}  // namespace wsn
