// Sec-WebSocket-Extensions parsing (RFC 6455 §9.1) as one pass of a
// character-class state machine, and permessage-deflate parameter validation
// (RFC 7692 §7.1) with ws's wording. No Node, no regular expressions, no
// recursion.
#include "extension.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <unordered_map>
#include <vector>

namespace wsn {
namespace {

// RFC 7230 §3.2.6 tchar.
constexpr bool isTokenChar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

struct TokenTable {
  bool isToken[256] = {};
  constexpr TokenTable() {
    for (int c = 0; c < 256; ++c)
      isToken[c] = isTokenChar(static_cast<unsigned char>(c));
  }
};

constexpr bool isSpace(unsigned char c) noexcept {
  return c == ' ' || c == '\t';
}

// Where the parser stands. "Before" states wait for a token's first character,
// "In" states are inside one, "After" states are in the optional whitespace
// that follows it (RFC 7230 §3.2.3).
enum class Where : uint8_t {
  kBeforeName,
  kInName,
  kAfterName,
  kBeforeParam,
  kInParam,
  kAfterParam,
  kBeforeValue,      // just after '='
  kInValue,          // bare token value
  kOpenQuote,        // just after '="', nothing kept yet
  kOpenQuoteEscape,  // '="\': the escaped character starts the value
  kInQuoted,
  kQuotedEscape,  // a backslash inside a quoted value
  kAfterValue     // after a value token or its closing quote
};

std::string unexpectedAt(size_t index) {
  return "Unexpected character at index " + std::to_string(index);
}

// RFC 6455 §9.1: a quoted value must still be a token once unescaped, so
// dropping the backslashes is the whole unescaping.
std::string withoutBackslashes(const char* begin, const char* end) {
  std::string value;
  value.reserve(static_cast<size_t>(end - begin));
  for (const char* p = begin; p != end; ++p) {
    if (*p != '\\') value.push_back(*p);
  }
  return value;
}

// JavaScript orders an object's array-index keys ("0".."4294967294", canonical
// form) first and ascending; ws walks the parameters in Object.keys() order, so
// the first error found must be too.
bool arrayIndexOf(const std::string& name, uint32_t* index) noexcept {
  if (name.empty() || name.size() > 10) return false;
  if (name.size() > 1 && name[0] == '0') return false;
  uint64_t value = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value >= 4294967295u) return false;
  *index = static_cast<uint32_t>(value);
  return true;
}

bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }

// The value JavaScript's Number(text) gives, if it is an integer in 8..15 (ws
// converts window bits with unary +). `text` holds only token characters, so no
// whitespace trimming applies.
bool windowBitsOf(const std::string& text, int* bits) noexcept {
  const char* p = text.data();
  const char* end = p + text.size();
  if (p == end) return false;
  // Number("0x0f") is 15: hexadecimal, octal and binary integers, unsigned
  // only.
  if (end - p > 2 && p[0] == '0') {
    int radix = 0;
    if (p[1] == 'x' || p[1] == 'X') radix = 16;
    if (p[1] == 'o' || p[1] == 'O') radix = 8;
    if (p[1] == 'b' || p[1] == 'B') radix = 2;
    if (radix != 0) {
      uint32_t value = 0;
      for (const char* q = p + 2; q != end; ++q) {
        int digit;
        if (*q >= '0' && *q <= '9') {
          digit = *q - '0';
        } else if (*q >= 'a' && *q <= 'f') {
          digit = *q - 'a' + 10;
        } else if (*q >= 'A' && *q <= 'F') {
          digit = *q - 'A' + 10;
        } else {
          return false;
        }
        if (digit >= radix) return false;
        value =
            value * static_cast<uint32_t>(radix) + static_cast<uint32_t>(digit);
        if (value > 15) value = 16;  // saturate: only 8..15 matters
      }
      if (value < 8 || value > 15) return false;
      *bits = static_cast<int>(value);
      return true;
    }
  }
  // A decimal literal: [+] digits [. digits] [e [+-] digits], or with the
  // integer part omitted. A '-' sign can only give a value below 8, and
  // Infinity is not an integer.
  if (*p == '+') ++p;
  const char* literal = p;
  size_t digits = 0;
  while (p != end && isDigit(*p)) ++p, ++digits;
  if (p != end && *p == '.') {
    ++p;
    while (p != end && isDigit(*p)) ++p, ++digits;
  }
  if (digits == 0) return false;
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '+' || *p == '-')) ++p;
    const char* exponent = p;
    while (p != end && isDigit(*p)) ++p;
    if (p == exponent) return false;
  }
  if (p != end) return false;
  // from_chars rounds correctly, as JavaScript does ("7.99999999999999999" is
  // 8), and ignores the locale.
  double value = 0;
  const auto result =
      std::from_chars(literal, end, value, std::chars_format::general);
  if (result.ec == std::errc::result_out_of_range) return false;
  if (result.ec != std::errc() || result.ptr != end) return false;
  if (!(value >= 8 && value <= 15) ||
      value != static_cast<double>(static_cast<int>(value))) {
    return false;
  }
  *bits = static_cast<int>(value);
  return true;
}

}  // namespace

ExtensionParseResult parseExtensions(const char* header, size_t length) {
  static constexpr TokenTable kTable;
  ExtensionParseResult result;
  if (header == nullptr) length = 0;
  Where where = Where::kBeforeName;
  size_t start = 0;  // first character of the token being read
  size_t end = 0;    // one past its last character
  bool escaped = false;
  ExtensionOffer offer;
  ExtensionParam param;

  const auto fail = [&](std::string message) {
    result.ok = false;
    result.error = std::move(message);
    result.offers.clear();
    return std::move(result);
  };
  const auto pushParamWithoutValue = [&]() {
    param.name.assign(header + start, end - start);
    param.hasValue = false;
    param.value.clear();
    offer.params.push_back(std::move(param));
    param = ExtensionParam();
  };
  const auto pushValue = [&]() {
    param.value = escaped ? withoutBackslashes(header + start, header + end)
                          : std::string(header + start, end - start);
    param.hasValue = true;
    offer.params.push_back(std::move(param));
    param = ExtensionParam();
    escaped = false;
  };
  const auto pushOffer = [&]() {
    result.offers.push_back(std::move(offer));
    offer = ExtensionOffer();
  };

  for (size_t i = 0; i < length; ++i) {
    const unsigned char c = static_cast<unsigned char>(header[i]);
    const bool token = kTable.isToken[c];
    switch (where) {
      case Where::kBeforeName:
        if (token) {
          start = i;
          where = Where::kInName;
        } else if (!(isSpace(c) && i != 0)) {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kInName:
      case Where::kAfterName:
        if (token && where == Where::kInName) break;
        if (isSpace(c)) {
          if (where == Where::kInName) end = i;
          where = Where::kAfterName;
        } else if (c == ';' || c == ',') {
          if (where == Where::kInName) end = i;
          offer.name.assign(header + start, end - start);
          if (c == ',') {
            pushOffer();
            where = Where::kBeforeName;
          } else {
            where = Where::kBeforeParam;
          }
        } else {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kBeforeParam:
        if (token) {
          start = i;
          where = Where::kInParam;
        } else if (!isSpace(c)) {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kInParam:
      case Where::kAfterParam:
        if (token && where == Where::kInParam) break;
        if (isSpace(c)) {
          if (where == Where::kInParam) end = i;
          where = Where::kAfterParam;
        } else if (c == ';' || c == ',') {
          if (where == Where::kInParam) end = i;
          pushParamWithoutValue();
          if (c == ',') {
            pushOffer();
            where = Where::kBeforeName;
          } else {
            where = Where::kBeforeParam;
          }
        } else if (c == '=' && where == Where::kInParam) {
          param.name.assign(header + start, i - start);
          where = Where::kBeforeValue;
        } else {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kBeforeValue:
        if (token) {
          start = i;
          where = Where::kInValue;
        } else if (c == '"') {
          where = Where::kOpenQuote;
        } else {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kOpenQuote:
        if (token) {
          start = i;
          where = Where::kInQuoted;
        } else if (c == '\\') {
          where = Where::kOpenQuoteEscape;
        } else {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kOpenQuoteEscape:
        // The backslash lies before `start`, so it needs no removal.
        if (!token) return fail(unexpectedAt(i));
        start = i;
        where = Where::kInQuoted;
        break;
      case Where::kInQuoted:
        if (token) break;
        if (c == '"') {
          end = i;
          where = Where::kAfterValue;
        } else if (c == '\\') {
          where = Where::kQuotedEscape;
        } else {
          return fail(unexpectedAt(i));
        }
        break;
      case Where::kQuotedEscape:
        if (!token) return fail(unexpectedAt(i));
        escaped = true;
        where = Where::kInQuoted;
        break;
      case Where::kInValue:
      case Where::kAfterValue:
        if (token && where == Where::kInValue) break;
        if (isSpace(c)) {
          if (where == Where::kInValue) end = i;
          where = Where::kAfterValue;
        } else if (c == ';' || c == ',') {
          if (where == Where::kInValue) end = i;
          pushValue();
          if (c == ',') {
            pushOffer();
            where = Where::kBeforeName;
          } else {
            where = Where::kBeforeParam;
          }
        } else {
          return fail(unexpectedAt(i));
        }
        break;
    }
  }

  // The header must end inside or right after a token (a closing quote counts),
  // never in whitespace, after a separator or inside a quoted string.
  const bool endsInToken =
      where == Where::kInName || where == Where::kInParam ||
      where == Where::kInValue ||
      (where == Where::kAfterValue &&
       !isSpace(static_cast<unsigned char>(header[length - 1])));
  if (!endsInToken) return fail("Unexpected end of input");
  switch (where) {
    case Where::kInName:
      offer.name.assign(header + start, length - start);
      break;
    case Where::kInParam:
      end = length;
      pushParamWithoutValue();
      break;
    default:
      if (where == Where::kInValue) end = length;
      pushValue();
      break;
  }
  pushOffer();
  result.ok = true;
  return result;
}

bool validateDeflateParams(const ExtensionOffer& offer, bool isResponse,
                           DeflateParams* params, std::string* error) {
  DeflateParams parsed;
  // Distinct names in JavaScript key order, each with its first occurrence and
  // its count.
  struct Key {
    const ExtensionParam* first;
    size_t count;
    bool isIndex;
    uint32_t index;
  };
  std::vector<Key> keys;
  std::unordered_map<std::string, size_t> position;
  keys.reserve(offer.params.size());
  for (const ExtensionParam& param : offer.params) {
    const auto found = position.find(param.name);
    if (found != position.end()) {
      ++keys[found->second].count;
      continue;
    }
    Key key{&param, 1, false, 0};
    key.isIndex = arrayIndexOf(param.name, &key.index);
    position.emplace(param.name, keys.size());
    keys.push_back(key);
  }
  std::stable_sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.isIndex != b.isIndex) return a.isIndex;
    return a.isIndex && a.index < b.index;
  });

  const auto reject = [&](std::string message) {
    if (error != nullptr) *error = std::move(message);
    return false;
  };
  const auto invalidValue = [&](const ExtensionParam& param) {
    return reject("Invalid value for parameter \"" + param.name + "\": " +
                  (param.hasValue ? param.value : std::string("true")));
  };

  for (const Key& key : keys) {
    const ExtensionParam& param = *key.first;
    if (key.count > 1) {
      return reject("Parameter \"" + param.name +
                    "\" must have only a single value");
    }
    if (param.name == "client_max_window_bits") {
      if (param.hasValue) {
        if (!windowBitsOf(param.value, &parsed.clientMaxWindowBits))
          return invalidValue(param);
      } else if (isResponse) {
        // RFC 7692 §7.1.2.2: a response must name the window it chose.
        return invalidValue(param);
      } else {
        parsed.clientMaxWindowBits = -1;
      }
    } else if (param.name == "server_max_window_bits") {
      // RFC 7692 §7.1.2.1: this parameter always has a value.
      if (!param.hasValue ||
          !windowBitsOf(param.value, &parsed.serverMaxWindowBits)) {
        return invalidValue(param);
      }
    } else if (param.name == "client_no_context_takeover") {
      if (param.hasValue) return invalidValue(param);
      parsed.clientNoContextTakeover = true;
    } else if (param.name == "server_no_context_takeover") {
      if (param.hasValue) return invalidValue(param);
      parsed.serverNoContextTakeover = true;
    } else {
      return reject("Unknown parameter \"" + param.name + "\"");
    }
  }
  if (params != nullptr) *params = parsed;
  return true;
}

}  // namespace wsn
