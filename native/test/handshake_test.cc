// Tests of native/core/handshake: the RFC 6455 §1.3 accept example and the key
// shape table.
#include "handshake.h"

#include <cstring>
#include <string>

#include "check.h"

namespace {

bool validKey(const std::string& key) {
  return wsn::isValidWebSocketKey(key.data(), key.size());
}

std::string acceptOf(const std::string& key) {
  char out[28];
  if (!wsn::computeAcceptKey(key.data(), key.size(), out)) return "";
  return std::string(out, sizeof(out));
}

}  // namespace

int main() {
  // RFC 6455 §1.3.
  WSN_CHECK(acceptOf("dGhlIHNhbXBsZSBub25jZQ==") ==
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // RFC 6455 §4.2.1 does not re-check the key's shape before hashing: any bytes
  // hash.
  WSN_CHECK(acceptOf("").size() == 28);
  WSN_CHECK(acceptOf("x") != acceptOf("y"));

  WSN_CHECK(validKey("dGhlIHNhbXBsZSBub25jZQ=="));
  WSN_CHECK(validKey("++++++++++++++++++++++=="));
  WSN_CHECK(validKey("//////////////////////=="));
  WSN_CHECK(validKey("AZaz09AZaz09AZaz09AZaz=="));
  WSN_CHECK(!validKey(""));
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZQ="));    // 23 characters
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZQ==="));  // 25 characters
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZQAA"));   // no padding
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZ==="));  // padding starts too early
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZ-=="));  // base64url character
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZ_=="));
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZ =="));
  WSN_CHECK(!validKey(" dGhlIHNhbXBsZSBub25jZQ=="));
  WSN_CHECK(!validKey("dGhlIHNhbXBsZSBub25jZQ== "));
  const std::string withNul("dGhlIHNhbXBsZSBub25j\0Q==", 24);
  WSN_CHECK(!validKey(withNul));
  WSN_CHECK(!wsn::isValidWebSocketKey(nullptr, 24));
  return wsn::test::finish("handshake_test");
}
