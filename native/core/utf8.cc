// Public UTF-8 validation (RFC 3629): one-shot and streaming over the kernel
// cpu.cc selected. The stream carries at most 3 bytes, so it never allocates.
#include "utf8.h"

#include <cstring>

#include "cpu.h"

namespace wsn {

namespace {

// RFC 3629 §3: the length of the sequence a lead byte starts. Only called on
// leads the kernel accepted as the start of an unfinished sequence (C2..F4).
inline size_t sequenceBytes(uint8_t lead) noexcept {
  return lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
}

}  // namespace

bool isValidUtf8(const uint8_t* data, size_t length) noexcept {
  if (length == 0) return true;
  return kernels().validUtf8Prefix(data, length) == length;
}

bool Utf8Stream::feed(const uint8_t* data, size_t length) noexcept {
  if (failed_) return false;
  if (length == 0) return true;
  const KernelTable& table = kernels();

  if (pendingBytes_ > 0) {
    // Finish the carried sequence first with as many bytes as it still needs
    // (at most 3), so the rest of the chunk starts on a sequence boundary.
    const size_t needed = sequenceBytes(pending_[0]) - pendingBytes_;
    const size_t taken = length < needed ? length : needed;
    uint8_t joined[4];
    std::memcpy(joined, pending_, pendingBytes_);
    std::memcpy(joined + pendingBytes_, data, taken);
    const size_t joinedBytes = pendingBytes_ + taken;
    const size_t valid = table.validUtf8Prefix(joined, joinedBytes);
    if (valid == SIZE_MAX) {
      failed_ = true;
      return false;
    }
    if (valid != joinedBytes) {
      // Still unfinished: the whole chunk was used up.
      std::memcpy(pending_, joined, joinedBytes);
      pendingBytes_ = static_cast<uint8_t>(joinedBytes);
      return true;
    }
    pendingBytes_ = 0;
    data += taken;
    length -= taken;
    if (length == 0) return true;
  }

  const size_t valid = table.validUtf8Prefix(data, length);
  if (valid == SIZE_MAX) {
    failed_ = true;
    return false;
  }
  // The kernel contract: only an unfinished final sequence (1..3 bytes) is left
  // over.
  const size_t carried = length - valid;
  std::memcpy(pending_, data + valid, carried);
  pendingBytes_ = static_cast<uint8_t>(carried);
  return true;
}

}  // namespace wsn
