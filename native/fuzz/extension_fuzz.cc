// libFuzzer target for the Sec-WebSocket-Extensions parser and the
// permessage-deflate parameter check: never crash, errors name an index inside
// the header, and what parses re-serialises to a header that parses to the
// same offers. Run with -timeout to catch superlinear inputs (the parser is
// specified linear). Links only wsn_core (no Node).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "extension.h"

namespace {

#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

// RFC 7230 §3.2.6 tchar.
bool isToken(const std::string& text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z');
    bool other = false;
    for (const char* p = "!#$%&'*+-.^_`|~"; *p != '\0'; ++p) {
      if (c == static_cast<unsigned char>(*p)) other = true;
    }
    if (!alnum && !other) return false;
  }
  return true;
}

std::string serialise(const wsn::ExtensionParseResult& parsed) {
  std::string header;
  for (size_t i = 0; i < parsed.offers.size(); ++i) {
    if (i != 0) header += ", ";
    header += parsed.offers[i].name;
    for (const wsn::ExtensionParam& param : parsed.offers[i].params) {
      header += "; ";
      header += param.name;
      if (param.hasValue) {
        // Quoted on purpose: the quoted-string form must give the same value.
        header += "=\"";
        header += param.value;
        header += '"';
      }
    }
  }
  return header;
}

bool sameOffers(const wsn::ExtensionParseResult& a,
                const wsn::ExtensionParseResult& b) {
  if (a.offers.size() != b.offers.size()) return false;
  for (size_t i = 0; i < a.offers.size(); ++i) {
    const wsn::ExtensionOffer& x = a.offers[i];
    const wsn::ExtensionOffer& y = b.offers[i];
    if (x.name != y.name || x.params.size() != y.params.size()) return false;
    for (size_t k = 0; k < x.params.size(); ++k) {
      if (x.params[k].name != y.params[k].name ||
          x.params[k].hasValue != y.params[k].hasValue ||
          x.params[k].value != y.params[k].value) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private heap copy of exactly the header, so ASan sees any over-read.
  const std::string header(reinterpret_cast<const char*>(data), size);
  const wsn::ExtensionParseResult parsed =
      wsn::parseExtensions(header.data(), header.size());
  if (!parsed.ok) {
    const std::string prefix = "Unexpected character at index ";
    if (parsed.error.compare(0, prefix.size(), prefix) == 0) {
      const std::string digits = parsed.error.substr(prefix.size());
      FUZZ_CHECK(!digits.empty() && digits.size() <= 20);
      size_t index = 0;
      for (char c : digits) {
        FUZZ_CHECK(c >= '0' && c <= '9');
        index = index * 10 + static_cast<size_t>(c - '0');
      }
      FUZZ_CHECK(index < size);
    } else {
      FUZZ_CHECK(parsed.error == "Unexpected end of input");
    }
    return 0;
  }
  FUZZ_CHECK(parsed.error.empty());
  for (const wsn::ExtensionOffer& offer : parsed.offers) {
    FUZZ_CHECK(isToken(offer.name));
    for (const wsn::ExtensionParam& param : offer.params) {
      FUZZ_CHECK(isToken(param.name));
      if (param.hasValue) {
        FUZZ_CHECK(isToken(param.value));
      } else {
        FUZZ_CHECK(param.value.empty());
      }
    }
    for (bool isResponse : {false, true}) {
      wsn::DeflateParams params;
      std::string error;
      const bool valid =
          wsn::validateDeflateParams(offer, isResponse, &params, &error);
      FUZZ_CHECK(valid == error.empty());
      if (!valid) continue;
      // RFC 7692 §7.1.2: window bits are 8..15 when present.
      FUZZ_CHECK(params.serverMaxWindowBits == 0 ||
                 (params.serverMaxWindowBits >= 8 &&
                  params.serverMaxWindowBits <= 15));
      FUZZ_CHECK(params.clientMaxWindowBits == 0 ||
                 (params.clientMaxWindowBits >= 8 &&
                  params.clientMaxWindowBits <= 15) ||
                 (!isResponse && params.clientMaxWindowBits == -1));
    }
  }
  const std::string again = serialise(parsed);
  const wsn::ExtensionParseResult reparsed =
      wsn::parseExtensions(again.data(), again.size());
  if (!parsed.offers.empty()) {
    FUZZ_CHECK(reparsed.ok);
    FUZZ_CHECK(sameOffers(parsed, reparsed));
  }
  return 0;
}
