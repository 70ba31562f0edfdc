// Opening-handshake helpers of RFC 6455 §4: Sec-WebSocket-Key validation and
// Sec-WebSocket-Accept (OpenSSL SHA-1 + base64). No Node.
#pragma once

#include <cstddef>
#include <string>

namespace wsn {

// RFC 6455 §4.2.1: the key is base64 of 16 bytes, i.e. 22 base64 characters
// then "==" (ws: the pattern ^[+/0-9A-Za-z]{22}==$). Linear, allocation-free.
[[nodiscard]] bool isValidWebSocketKey(const char* key, size_t length) noexcept;

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): 28 characters
// into `out` (no NUL). RFC 6455 §1.3 example: "dGhlIHNhbXBsZSBub25jZQ==" ->
// "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=". Returns false only if OpenSSL fails.
[[nodiscard]] bool computeAcceptKey(const char* key, size_t length,
                                    char out[28]) noexcept;

}  // namespace wsn
