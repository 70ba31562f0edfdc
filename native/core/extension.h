// Sec-WebSocket-Extensions grammar (RFC 6455 §9.1, RFC 7230 tokens and quoted
// strings) and the permessage-deflate parameters of RFC 7692 §7.1. Linear time,
// no recursion, no regular expressions. No Node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wsn {

struct ExtensionParam {
  std::string name;
  std::string value;  // unquoted
  bool hasValue = false;
};

struct ExtensionOffer {
  std::string name;
  std::vector<ExtensionParam> params;
};

struct ExtensionParseResult {
  bool ok = false;
  // On failure: ws's wording, "Unexpected character at index N" or "Unexpected
  // end of input".
  std::string error;
  std::vector<ExtensionOffer> offers;  // in header order
};

[[nodiscard]] ExtensionParseResult parseExtensions(const char* header,
                                                   size_t length);

// permessage-deflate parameters after validation (RFC 7692 §7.1).
struct DeflateParams {
  bool serverNoContextTakeover = false;
  bool clientNoContextTakeover = false;
  int serverMaxWindowBits = 0;  // 0 = absent
  int clientMaxWindowBits =
      0;  // 0 = absent; -1 = present without a value (client offers only)
};

// Validates one permessage-deflate offer or response: rejects unknown
// parameters, duplicates, values on the no_context_takeover flags, window bits
// outside 8..15, and a valueless server_max_window_bits. `isResponse`:
// client_max_window_bits must then have a value. On failure returns false and
// sets `error` to ws's wording, e.g. 'Invalid value for parameter
// "server_max_window_bits": 7' or 'Unknown parameter "foo"'.
[[nodiscard]] bool validateDeflateParams(const ExtensionOffer& offer,
                                         bool isResponse, DeflateParams* params,
                                         std::string* error);

}  // namespace wsn
