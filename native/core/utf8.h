// UTF-8 validation of RFC 3629 (no overlongs, no surrogates U+D800..U+DFFF,
// nothing above U+10FFFF): one-shot and streaming. Dispatches through cpu.h's
// kernel table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsn {

// True when [data, data+length) is complete, valid UTF-8. Thread-safe.
[[nodiscard]] bool isValidUtf8(const uint8_t* data, size_t length) noexcept;

// Validates text that arrives in pieces (socket chunks, fragments). It carries
// at most 3 bytes of an unfinished sequence between calls, so a sequence split
// across pieces is accepted and an invalid one fails on the piece where it
// becomes certain (fail fast): feed() returns false as soon as the bytes seen
// so far cannot begin any valid text. finish() says whether the text ended on a
// sequence boundary. After a failure the validator stays failed until reset().
// One instance per stream; not shared between threads.
class Utf8Stream {
 public:
  [[nodiscard]] bool feed(const uint8_t* data, size_t length) noexcept;
  [[nodiscard]] bool finish() const noexcept {
    return !failed_ && pendingBytes_ == 0;
  }
  void reset() noexcept {
    pendingBytes_ = 0;
    failed_ = false;
  }
  [[nodiscard]] bool failed() const noexcept { return failed_; }

 private:
  uint8_t pending_[4] = {0, 0, 0, 0};
  uint8_t pendingBytes_ = 0;
  bool failed_ = false;
};

}  // namespace wsn
