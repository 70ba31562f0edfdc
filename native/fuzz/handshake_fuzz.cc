// libFuzzer target for the opening-handshake helpers: isValidWebSocketKey must
// agree with the plain RFC 6455 §4.2.1 rule written here, and every accepted
// key must get the accept value computed independently with OpenSSL's EVP.
// Links only wsn_core (no Node).
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "handshake.h"

namespace {

#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

// ws's rule: ^[+/0-9A-Za-z]{22}==$ (base64 of 16 bytes).
bool referenceKey(const std::string& key) {
  if (key.size() != 24) return false;
  for (size_t i = 0; i < 22; ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
  }
  return key[22] == '=' && key[23] == '=';
}

// RFC 6455 §4.2.2 item 5.4: base64(SHA-1(key + GUID)).
std::string referenceAccept(const std::string& key) {
  const std::string joined = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digestBytes = 0;
  FUZZ_CHECK(EVP_Digest(joined.data(), joined.size(), digest, &digestBytes,
                        EVP_sha1(), nullptr) == 1);
  FUZZ_CHECK(digestBytes == 20);
  unsigned char encoded[29];
  FUZZ_CHECK(EVP_EncodeBlock(encoded, digest, 20) == 28);
  return std::string(reinterpret_cast<const char*>(encoded), 28);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private heap copy of exactly the key, so ASan sees any over-read.
  const std::string key(reinterpret_cast<const char*>(data), size);
  const bool valid = wsn::isValidWebSocketKey(key.data(), key.size());
  FUZZ_CHECK(valid == referenceKey(key));

  // computeAcceptKey hashes any bytes; the accept value must match the
  // reference for whatever key it is given (short inputs keep this cheap).
  if (size <= 64) {
    char accept[28];
    FUZZ_CHECK(wsn::computeAcceptKey(key.data(), key.size(), accept));
    FUZZ_CHECK(std::memcmp(accept, referenceAccept(key).data(), 28) == 0);
  }
  return 0;
}
