// Tests of native/core/extension: ws's grammar table (results and error
// indexes), large pathological headers, and permessage-deflate parameter
// validation with ws's messages.
#include "extension.h"

#include <cstdio>
#include <string>
#include <vector>

#include "check.h"

namespace {

using wsn::DeflateParams;
using wsn::ExtensionOffer;
using wsn::ExtensionParseResult;

ExtensionParseResult parse(const std::string& header) {
  return wsn::parseExtensions(header.data(), header.size());
}

// A compact rendering of a parse: "name{param,param=value};name{}".
std::string render(const ExtensionParseResult& result) {
  if (!result.ok) return "!" + result.error;
  std::string text;
  for (const ExtensionOffer& offer : result.offers) {
    if (!text.empty()) text += ';';
    text += offer.name + '{';
    for (size_t i = 0; i < offer.params.size(); ++i) {
      if (i > 0) text += ',';
      text += offer.params[i].name;
      if (offer.params[i].hasValue) text += '=' + offer.params[i].value;
    }
    text += '}';
  }
  return text;
}

void expect(const std::string& header, const std::string& rendered) {
  const std::string actual = render(parse(header));
  WSN_CHECK(actual == rendered);
  if (actual != rendered) {
    std::fprintf(stderr, "  header [%s]: got [%s], want [%s]\n", header.c_str(),
                 actual.c_str(), rendered.c_str());
  }
}

void expectError(const std::string& header, size_t index) {
  expect(header, "!Unexpected character at index " + std::to_string(index));
}

void testGrammar() {
  expect("foo", "foo{}");
  expect("foo;bar;baz=1;bar=2", "foo{bar,baz=1,bar=2}");
  expect("foo,bar;baz,foo;baz", "foo{};bar{baz};foo{baz}");
  expect("foo;bar=\"hi\"", "foo{bar=hi}");
  expect("foo;bar=\"\\0\"", "foo{bar=0}");
  expect("foo;bar=\"b\\a\\z\"", "foo{bar=baz}");
  expect("foo;bar=\"b\\az\";bar", "foo{bar=baz,bar}");
  expect("hasOwnProperty, toString", "hasOwnProperty{};toString{}");
  expect("foo;constructor", "foo{constructor}");
  expect("foo; bar\t; \tbaz=1\t ;  bar=\"1\"\t\t, \tqux\t ;norf",
         "foo{bar,baz=1,bar=1};qux{norf}");
  expect("permessage-deflate; client_max_window_bits",
         "permessage-deflate{client_max_window_bits}");
  expect("a;b=\"c\" ;d", "a{b=c,d}");

  expectError("foo;bar=\"baz\"qux", 13);
  expectError("foo;bar=\"baz\" qux", 14);
  // Empty names.
  expectError(",", 0);
  expectError("foo,,", 4);
  expectError("foo,  ,", 6);
  expectError("foo;=", 4);
  expectError("foo; =", 5);
  expectError("foo;;", 4);
  expectError("foo; ;", 5);
  expectError("foo;bar=,", 8);
  expectError("foo;bar=\"\"", 9);
  // Misplaced whitespace.
  expectError(" foo", 0);
  expectError("\tfoo", 0);
  expectError("f oo", 2);
  expectError("foo;ba r", 7);
  expectError("foo;bar =", 8);
  expectError("foo;bar= ", 8);
  // Characters outside tokens.
  expectError("f@o", 1);
  expectError("f\\oo", 1);
  expectError("\"foo\"", 0);
  expectError("f\"oo\"", 1);
  expectError("foo;b@r", 5);
  expectError("foo;b\\ar", 5);
  expectError("foo;\"bar\"", 4);
  expectError("foo;b\"ar\"", 5);
  expectError("foo;bar=b@z", 9);
  expectError("foo;bar=b\\az ", 9);
  expectError("foo;bar=\"b@z\"", 10);
  expectError("foo;bar=\"baz;\"", 12);
  expectError("foo;bar=b\"az\"", 9);
  expectError("foo;bar=\"\\\\\"", 10);
  expectError("foo;bar==1", 8);
  expectError("foo\xc3\xa9", 3);
  expectError(std::string("fo\0o", 4), 2);
  // Premature end.
  for (const char* header :
       {"", "foo, ", "foo;", "foo;bar,", "foo;bar; ",
        "foo;bar=", "foo;bar=\"baz", "foo;bar=\"1\\", "foo ", "foo;bar ",
        "foo;b=1 ", "foo;b=\"1\" ", "foo;b=\"", "foo;b=\"\\"}) {
    expect(header, "!Unexpected end of input");
  }
}

void testPathological() {
  // Each of these is 64 KiB and must be handled in one linear pass.
  const size_t size = 64 * 1024;
  std::string escapes = "a;b=\"";
  while (escapes.size() < size) escapes += "\\c";
  expect(escapes, "!Unexpected end of input");

  std::string semicolons = "a";
  semicolons.append(size, ';');
  expectError(semicolons, 2);

  std::string commas = "a";
  while (commas.size() < size) commas += ",a";
  const ExtensionParseResult manyOffers = parse(commas);
  WSN_CHECK(manyOffers.ok &&
            manyOffers.offers.size() == (commas.size() + 1) / 2);

  std::string params = "a";
  while (params.size() < size) params += ";b";
  const ExtensionParseResult manyParams = parse(params);
  WSN_CHECK(manyParams.ok && manyParams.offers.size() == 1 &&
            manyParams.offers[0].params.size() == (params.size() - 1) / 2);

  std::string spaces = "a;b=1";
  spaces.append(size, ' ');
  expect(spaces, "!Unexpected end of input");
  expect(spaces + "x",
         "!Unexpected character at index " + std::to_string(size + 5));
}

std::string validate(const std::string& header, bool isResponse,
                     DeflateParams* params = nullptr) {
  const ExtensionParseResult parsed = parse(header);
  if (!parsed.ok || parsed.offers.size() != 1) return "parse failed";
  DeflateParams ignored;
  std::string error;
  if (!wsn::validateDeflateParams(parsed.offers[0], isResponse,
                                  params ? params : &ignored, &error)) {
    return error;
  }
  return "ok";
}

void testDeflateParams() {
  DeflateParams params;
  WSN_CHECK(validate("permessage-deflate", false, &params) == "ok");
  WSN_CHECK(!params.serverNoContextTakeover &&
            !params.clientNoContextTakeover &&
            params.serverMaxWindowBits == 0 && params.clientMaxWindowBits == 0);

  WSN_CHECK(validate("permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover; server_max_window_bits=10; "
                     "client_max_window_bits",
                     false, &params) == "ok");
  WSN_CHECK(params.serverNoContextTakeover && params.clientNoContextTakeover &&
            params.serverMaxWindowBits == 10 &&
            params.clientMaxWindowBits == -1);

  WSN_CHECK(validate("permessage-deflate; client_max_window_bits=\"9\"", true,
                     &params) == "ok");
  WSN_CHECK(params.clientMaxWindowBits == 9);
  // Number("0x0f"), Number("1e1") and Number("+8") are all integers in range
  // for ws too.
  WSN_CHECK(validate("p; server_max_window_bits=0x0f", true, &params) == "ok");
  WSN_CHECK(params.serverMaxWindowBits == 15);
  WSN_CHECK(validate("p; server_max_window_bits=1e1", true, &params) == "ok");
  WSN_CHECK(params.serverMaxWindowBits == 10);
  WSN_CHECK(validate("p; server_max_window_bits=+8", true, &params) == "ok");
  WSN_CHECK(params.serverMaxWindowBits == 8);
  WSN_CHECK(validate("p; server_max_window_bits=8.0", true, &params) == "ok");
  WSN_CHECK(validate("p; server_max_window_bits=.9e1", true, &params) == "ok");
  WSN_CHECK(params.serverMaxWindowBits == 9);
  WSN_CHECK(validate("p; server_max_window_bits=0b1000", true, &params) ==
            "ok");
  WSN_CHECK(params.serverMaxWindowBits == 8);
  WSN_CHECK(validate("p; server_max_window_bits=14.99999999999999999", true,
                     &params) == "ok");
  WSN_CHECK(params.serverMaxWindowBits == 15);

  WSN_CHECK(validate("p; server_max_window_bits=7", true) ==
            "Invalid value for parameter \"server_max_window_bits\": 7");
  WSN_CHECK(validate("p; server_max_window_bits=16", true) ==
            "Invalid value for parameter \"server_max_window_bits\": 16");
  WSN_CHECK(validate("p; server_max_window_bits=8.5", true) ==
            "Invalid value for parameter \"server_max_window_bits\": 8.5");
  WSN_CHECK(validate("p; server_max_window_bits=-8", true) ==
            "Invalid value for parameter \"server_max_window_bits\": -8");
  WSN_CHECK(validate("p; server_max_window_bits=0x", true) ==
            "Invalid value for parameter \"server_max_window_bits\": 0x");
  WSN_CHECK(validate("p; server_max_window_bits=-0x9", true) ==
            "Invalid value for parameter \"server_max_window_bits\": -0x9");
  WSN_CHECK(validate("p; server_max_window_bits=Infinity", true) ==
            "Invalid value for parameter \"server_max_window_bits\": Infinity");
  WSN_CHECK(validate("p; server_max_window_bits=1_0", true) ==
            "Invalid value for parameter \"server_max_window_bits\": 1_0");
  WSN_CHECK(validate("p; server_max_window_bits", false) ==
            "Invalid value for parameter \"server_max_window_bits\": true");
  WSN_CHECK(validate("p; client_max_window_bits", true) ==
            "Invalid value for parameter \"client_max_window_bits\": true");
  WSN_CHECK(validate("p; server_no_context_takeover=1", false) ==
            "Invalid value for parameter \"server_no_context_takeover\": 1");
  WSN_CHECK(validate("p; client_no_context_takeover=\"x\"", false) ==
            "Invalid value for parameter \"client_no_context_takeover\": x");
  WSN_CHECK(validate("p; foo", false) == "Unknown parameter \"foo\"");
  WSN_CHECK(
      validate("p; server_no_context_takeover; server_no_context_takeover",
               false) ==
      "Parameter \"server_no_context_takeover\" must have only a single value");
  // The duplicate check runs before the name check, as in ws.
  WSN_CHECK(validate("p; foo; foo", false) ==
            "Parameter \"foo\" must have only a single value");
  // Keys are visited in JavaScript object order: array indexes first,
  // ascending.
  WSN_CHECK(validate("p; foo; 7; 3", false) == "Unknown parameter \"3\"");
  WSN_CHECK(validate("p; foo; 07", false) == "Unknown parameter \"foo\"");
  WSN_CHECK(validate("p; server_max_window_bits=7; 4294967295; 4294967294",
                     false) == "Unknown parameter \"4294967294\"");
}

}  // namespace

int main() {
  testGrammar();
  testPathological();
  testDeflateParams();
  return wsn::test::finish("extension_test");
}
