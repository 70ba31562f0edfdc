// Opening-handshake helpers (RFC 6455 §4): the Sec-WebSocket-Key shape check
// and the Sec-WebSocket-Accept value, on OpenSSL's SHA-1 and base64. No Node.
#include "handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace wsn {
namespace {

// RFC 6455 §1.3: the GUID appended to the key before hashing.
constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kGuidLength = sizeof(kGuid) - 1;

bool isBase64Char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

bool isValidWebSocketKey(const char* key, size_t length) noexcept {
  // 16 random bytes in base64 are 22 characters and "==" of padding (RFC 6455
  // §4.1, item 7).
  if (key == nullptr || length != 24) return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!isBase64Char(key[i])) return false;
  }
  return key[22] == '=' && key[23] == '=';
}

bool computeAcceptKey(const char* key, size_t length, char out[28]) noexcept {
  if (key == nullptr && length != 0) return false;
  unsigned char digest[SHA_DIGEST_LENGTH];
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  if (context == nullptr) return false;
  // Hashed in two updates so a key of any length needs no concatenated copy.
  const bool hashed =
      EVP_DigestInit_ex(context, EVP_sha1(), nullptr) == 1 &&
      (length == 0 || EVP_DigestUpdate(context, key, length) == 1) &&
      EVP_DigestUpdate(context, kGuid, kGuidLength) == 1 &&
      EVP_DigestFinal_ex(context, digest, nullptr) == 1;
  EVP_MD_CTX_free(context);
  if (!hashed) return false;
  // 20 bytes encode to 28 characters plus the NUL EVP_EncodeBlock always
  // writes.
  unsigned char encoded[29];
  if (EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH) != 28) return false;
  std::memcpy(out, encoded, 28);
  return true;
}

}  // namespace wsn
