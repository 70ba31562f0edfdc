// Client opening handshake for the load generator (RFC 6455 §4.1, §4.2.2).
// Depends on OpenSSL (SHA-1, base64) and the C++ standard library.
#include "handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <string_view>

namespace wsn::bench {

namespace {

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const uint8_t* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                                      data, static_cast<int>(size));
  out.resize(static_cast<size_t>(written));
  return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Connection is a comma-separated token list (RFC 7230 §6.1).
bool hasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (equalsIgnoreCase(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string makeHandshakeKey(RandomPool& random) {
  uint8_t nonce[16];
  random.take(nonce, sizeof nonce);
  return base64(nonce, sizeof nonce);
}

std::string expectedAccept(const std::string& key) {
  const std::string input = key + kGuid;
  uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
       digest);
  return base64(digest, sizeof digest);
}

std::string buildUpgradeRequest(const std::string& host, uint16_t port,
                                const std::string& path, const std::string& key,
                                bool offerDeflate) {
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" +
                        std::to_string(port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: " +
                        key + "\r\nSec-WebSocket-Version: 13\r\n";
  if (offerDeflate) {
    request +=
        "Sec-WebSocket-Extensions: permessage-deflate; "
        "client_max_window_bits\r\n";
  }
  request += "\r\n";
  return request;
}

HandshakeStatus checkUpgradeResponse(const char* data, size_t size,
                                     const std::string& accept,
                                     bool offeredDeflate,
                                     HandshakeResult* result) {
  const std::string_view all(data, size);
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (size > kMaxResponseHeadBytes) {
      result->error = "response head larger than 16 KiB";
      return HandshakeStatus::kFailed;
    }
    return HandshakeStatus::kNeedMore;
  }
  result->headBytes = end + 4;
  std::string_view head = all.substr(0, end + 2);
  const size_t lineEnd = head.find("\r\n");
  const std::string_view statusLine = head.substr(0, lineEnd);
  // RFC 6455 §4.1: anything but 101 means the upgrade did not happen.
  if (statusLine.size() < 12 || statusLine.substr(0, 5) != "HTTP/" ||
      statusLine.substr(8, 4) != " 101") {
    result->error = "expected 101 Switching Protocols, got: " +
                    std::string(statusLine.substr(0, 80));
    return HandshakeStatus::kFailed;
  }
  head.remove_prefix(lineEnd + 2);
  bool upgradeOk = false;
  bool connectionOk = false;
  bool acceptSeen = false;
  std::string extensions;
  int extensionHeaders = 0;
  while (!head.empty()) {
    const size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      result->error = "malformed header line";
      return HandshakeStatus::kFailed;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "upgrade")) {
      upgradeOk = equalsIgnoreCase(value, "websocket");
    } else if (equalsIgnoreCase(name, "connection")) {
      connectionOk = hasToken(value, "upgrade");
    } else if (equalsIgnoreCase(name, "sec-websocket-accept")) {
      if (acceptSeen || value != accept) {
        result->error =
            "wrong Sec-WebSocket-Accept: " + std::string(value.substr(0, 64)) +
            " (expected " + accept + ")";
        return HandshakeStatus::kFailed;
      }
      acceptSeen = true;
    } else if (equalsIgnoreCase(name, "sec-websocket-extensions")) {
      ++extensionHeaders;
      extensions = std::string(value);
    } else if (equalsIgnoreCase(name, "sec-websocket-protocol")) {
      result->error = "server chose a subprotocol that was not offered";
      return HandshakeStatus::kFailed;
    }
  }
  if (!upgradeOk) {
    result->error = "missing or wrong Upgrade header";
    return HandshakeStatus::kFailed;
  }
  if (!connectionOk) {
    result->error = "missing or wrong Connection header";
    return HandshakeStatus::kFailed;
  }
  if (!acceptSeen) {
    result->error = "missing Sec-WebSocket-Accept";
    return HandshakeStatus::kFailed;
  }
  if (extensionHeaders > 0) {
    if (!offeredDeflate || extensionHeaders > 1) {
      result->error = "server accepted an extension that was not offered";
      return HandshakeStatus::kFailed;
    }
    if (!parseDeflateResponse(extensions, &result->deflateParams,
                              &result->error)) {
      return HandshakeStatus::kFailed;
    }
    if (result->deflateParams.clientMaxWindowBits < 9) {
      // zlib's raw deflate cannot honour an 8-bit window (it uses 9).
      result->error = "client_max_window_bits=8 is not supported by zlib";
      return HandshakeStatus::kFailed;
    }
    result->deflate = true;
  }
  return HandshakeStatus::kDone;
}

}  // namespace wsn::bench
