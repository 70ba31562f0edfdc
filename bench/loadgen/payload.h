// Message contents for the load generator: random masking keys from an
// OpenSSL RAND_bytes pool, message templates (mixed UTF-8 text or random
// binary) and the per-message tag that makes every echo checkable.
#ifndef WSN_BENCH_LOADGEN_PAYLOAD_H_
#define WSN_BENCH_LOADGEN_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsn::bench {

// Random bytes from RAND_bytes, drawn in large refills so a masking key costs
// a copy, not a call into OpenSSL. Throws std::runtime_error if RAND_bytes
// fails (the run is meaningless without real keys). Not thread-safe.
class RandomPool {
 public:
  explicit RandomPool(size_t poolBytes = 64 * 1024);
  void take(uint8_t* out, size_t bytes);

 private:
  void refill();
  std::vector<uint8_t> pool_;
  size_t offset_;
};

enum class PayloadKind { kText, kBinary };

// Bytes at the start of each message that carry its tag (fewer when the
// message is shorter).
constexpr size_t kTagBytes = 16;

// Where message bodies come from: a corpus of about 1 MiB plus one message,
// and a set of start offsets into it. Each message is a slice chosen by its
// tag, so consecutive messages differ (deflate with context takeover cannot
// just point back at the previous message) and the receiver can still tell
// exactly which bytes to expect. Text is valid UTF-8 made of words from
// several scripts (1- to 4-byte sequences) and every slice, with its tag
// written over its first bytes, stays valid; binary is RAND_bytes output.
class PayloadSource {
 public:
  // At most `maxBodies` distinct bodies (start offsets), 4096 by default.
  PayloadSource(PayloadKind kind, size_t messageBytes, RandomPool& random,
                size_t maxBodies = 4096);

  size_t messageBytes() const { return messageBytes_; }
  // Bytes at the start of each message that hold its tag.
  size_t tagBytes() const { return tagBytes_; }
  // The message with this tag, from byte tagBytes() to its end
  // (messageBytes() - tagBytes() bytes). Valid for the object's lifetime.
  const uint8_t* body(uint64_t tag) const { return bodyAt(bodyIndex(tag)); }
  // The same, by the index of the body the tag chooses.
  size_t bodyIndex(uint64_t tag) const;
  size_t bodyCount() const { return offsets_.size(); }
  const uint8_t* bodyAt(size_t index) const {
    return corpus_.data() + offsets_[index] + tagBytes_;
  }

 private:
  size_t messageBytes_;
  size_t tagBytes_;
  std::vector<uint8_t> corpus_;
  std::vector<uint32_t> offsets_;
};

// The tag of a message: connection index in the top 24 bits, the sequence
// number of the message on that connection in the low 40 bits.
constexpr uint64_t makeTag(uint64_t connection, uint64_t sequence) {
  return (connection << 40) | (sequence & ((uint64_t{1} << 40) - 1));
}

// Writes the last `bytes` (<= kTagBytes) hex digits of tag to out: ASCII, so
// a tagged text message stays valid UTF-8.
void writeTag(uint8_t* out, size_t bytes, uint64_t tag) noexcept;

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_PAYLOAD_H_
