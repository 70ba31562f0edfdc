// permessage-deflate (RFC 7692) for the load generator's side of a
// connection: one raw deflate stream for outgoing messages, one raw inflate
// stream for replies. zlib only; not thread-safe.
#ifndef WSN_BENCH_LOADGEN_PMD_H_
#define WSN_BENCH_LOADGEN_PMD_H_

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "payload.h"

namespace wsn::bench {

// Parameters the server accepted (RFC 7692 §7.1).
struct DeflateParams {
  bool serverNoContextTakeover = false;
  bool clientNoContextTakeover = false;
  int serverMaxWindowBits = 15;
  int clientMaxWindowBits = 15;
};

// Parses a response's Sec-WebSocket-Extensions value for an offer of
// "permessage-deflate; client_max_window_bits". Returns false with *error set
// when the server answered with anything the offer did not allow.
bool parseDeflateResponse(const std::string& value, DeflateParams* params,
                          std::string* error);

class MessageDeflater {
 public:
  MessageDeflater() = default;
  ~MessageDeflater();
  MessageDeflater(const MessageDeflater&) = delete;
  MessageDeflater& operator=(const MessageDeflater&) = delete;

  // windowBits 9..15; level as zlib's; resetEachMessage for
  // client_no_context_takeover. Returns false when zlib refuses.
  bool init(int windowBits, int level, bool resetEachMessage);
  // Compresses one whole message into *out (replaced), without the
  // 00 00 ff ff tail (RFC 7692 §7.2.1). Returns false on a zlib error.
  bool compress(const uint8_t* data, size_t size, std::vector<uint8_t>* out);

 private:
  z_stream stream_{};
  bool ready_ = false;
  bool resetEachMessage_ = false;
};

enum class InflateStatus { kOk, kTooBig, kError };

class MessageInflater {
 public:
  MessageInflater() = default;
  ~MessageInflater();
  MessageInflater(const MessageInflater&) = delete;
  MessageInflater& operator=(const MessageInflater&) = delete;

  // resetEachMessage for server_no_context_takeover.
  bool init(bool resetEachMessage);
  // Inflates one whole message (tail appended here, RFC 7692 §7.2.2) into
  // out[0, capacity). kTooBig as soon as the output would not fit, so a reply
  // can never make this grow past capacity.
  InflateStatus inflateMessage(const uint8_t* data, size_t size, uint8_t* out,
                               size_t capacity, size_t* producedBytes);

 private:
  InflateStatus feed(const uint8_t* data, size_t size, uint8_t* out,
                     size_t capacity, size_t* produced);
  z_stream stream_{};
  bool ready_ = false;
  bool resetEachMessage_ = false;
};

// Every body of a PayloadSource compressed once, each by a fresh raw deflate
// stream with a 15-bit window ending in a sync flush (its 00 00 ff ff tail
// dropped). A body never refers to bytes before its own start, so it may
// follow any earlier message on a stream with or without context takeover.
// A message is then a stored block holding its tag followed by its body's
// bytes: the server inflates an ordinary compressed message, and the load
// generator stops spending its core compressing the same bodies again and
// again (at 64 KiB text it held the load generator at 99-100% CPU).
class CompressedBodies {
 public:
  // Bytes of the stored block that carries a tag of up to kTagBytes bytes.
  static constexpr size_t kTagBlockBytes = 5 + kTagBytes;

  // Returns false when zlib refuses.
  bool build(const PayloadSource& source, int level);
  const uint8_t* data(size_t index) const {
    return bytes_.data() + starts_[index];
  }
  size_t size(size_t index) const {
    return starts_[index + 1] - starts_[index];
  }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<size_t> starts_;  // body i is [starts_[i], starts_[i + 1])
};

// Writes the stored block (RFC 1951 §3.2.4: BFINAL 0, BTYPE 00, LEN, NLEN)
// that carries `tagBytes` (<= kTagBytes) bytes of `tag`, starting on a byte
// boundary as every message does after the previous one's sync flush.
// Returns the bytes written: 5 + tagBytes.
size_t writeTagBlock(uint8_t* out, size_t tagBytes, uint64_t tag) noexcept;

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_PMD_H_
