// The client half of the RFC 6455 §4 opening handshake: the request, and the
// checks on the server's response (101, Upgrade, Connection,
// Sec-WebSocket-Accept, extensions). OpenSSL SHA-1 and base64 only.
#ifndef WSN_BENCH_LOADGEN_HANDSHAKE_H_
#define WSN_BENCH_LOADGEN_HANDSHAKE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "payload.h"
#include "pmd.h"

namespace wsn::bench {

// Response headers larger than this fail the handshake (bounded memory).
constexpr size_t kMaxResponseHeadBytes = 16 * 1024;

// A fresh Sec-WebSocket-Key: base64 of 16 random bytes (RFC 6455 §4.1).
std::string makeHandshakeKey(RandomPool& random);

// base64(SHA-1(key + GUID)), RFC 6455 §4.2.2 item 5.4.
std::string expectedAccept(const std::string& key);

std::string buildUpgradeRequest(const std::string& host, uint16_t port,
                                const std::string& path, const std::string& key,
                                bool offerDeflate);

struct HandshakeResult {
  size_t headBytes = 0;  // bytes of the response head, "\r\n\r\n" included
  bool deflate = false;  // permessage-deflate accepted
  DeflateParams deflateParams;
  std::string error;
};

enum class HandshakeStatus { kNeedMore, kDone, kFailed };

// Checks the response in data[0, size). kNeedMore until the head is
// complete; kFailed with result->error naming the first violated rule.
HandshakeStatus checkUpgradeResponse(const char* data, size_t size,
                                     const std::string& accept,
                                     bool offeredDeflate,
                                     HandshakeResult* result);

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_HANDSHAKE_H_
