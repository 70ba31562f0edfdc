// Frame writer unit tests: RFC 6455 §5.7 example frames byte for byte, the
// three length encodings and close payload rules; writer output read back by
// the parser.
#include "frame_writer.h"

#include <cstring>
#include <vector>

#include "check.h"
#include "frame_parser.h"
#include "mask.h"

namespace {

using Bytes = std::vector<uint8_t>;
using wsn::FrameFlags;
using wsn::Status;

const uint8_t kRfcKey[4] = {0x37, 0xfa, 0x21, 0x3d};

Bytes frame(uint8_t opcode, FrameFlags flags, const Bytes& payload,
            const uint8_t* key) {
  Bytes out(wsn::kMaxFrameHeaderBytes + payload.size(), 0xee);
  const size_t header =
      wsn::writeFrameHeader(out.data(), opcode, flags, payload.size(), key);
  WSN_CHECK(header == wsn::frameHeaderBytes(payload.size(), key != nullptr));
  // Bytes past the header are untouched: the writer never writes beyond it.
  WSN_CHECK(out[header] == 0xee);
  if (key != nullptr) {
    wsn::maskBytes(payload.data(), out.data() + header, payload.size(), key, 0);
  } else if (!payload.empty()) {
    std::memcpy(out.data() + header, payload.data(), payload.size());
  }
  out.resize(header + payload.size());
  return out;
}

void testRfcExamples() {
  const Bytes hello = {'H', 'e', 'l', 'l', 'o'};
  FrameFlags fin;
  WSN_CHECK(frame(1, fin, hello, nullptr) ==
            (Bytes{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  WSN_CHECK(frame(1, fin, hello, kRfcKey) ==
            (Bytes{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51,
                   0x58}));
  FrameFlags more;
  more.fin = false;
  WSN_CHECK(frame(1, more, Bytes{'H', 'e', 'l'}, nullptr) ==
            (Bytes{0x01, 0x03, 0x48, 0x65, 0x6c}));
  WSN_CHECK(frame(0, fin, Bytes{'l', 'o'}, nullptr) ==
            (Bytes{0x80, 0x02, 0x6c, 0x6f}));
  WSN_CHECK(frame(9, fin, hello, nullptr) ==
            (Bytes{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  WSN_CHECK(frame(10, fin, hello, kRfcKey) ==
            (Bytes{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51,
                   0x58}));

  Bytes payload256(256, 0x11);
  Bytes out = frame(2, fin, payload256, nullptr);
  WSN_CHECK(out.size() == 4 + 256);
  WSN_CHECK(out[0] == 0x82 && out[1] == 0x7e && out[2] == 0x01 &&
            out[3] == 0x00);
  Bytes payload64k(65536, 0x22);
  out = frame(2, fin, payload64k, nullptr);
  WSN_CHECK(out.size() == 10 + 65536);
  const Bytes header64 = {0x82, 0x7f, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x01, 0x00, 0x00};
  WSN_CHECK(std::memcmp(out.data(), header64.data(), header64.size()) == 0);
}

void testLengthBoundaries() {
  FrameFlags flags;
  flags.rsv1 = true;
  uint8_t header[wsn::kMaxFrameHeaderBytes];
  struct Case {
    uint64_t length;
    size_t bytes;
    uint8_t second;
  };
  const Case cases[] = {{0, 2, 0},          {125, 2, 125},
                        {126, 4, 126},      {0xffff, 4, 126},
                        {0x10000, 10, 127}, {(uint64_t{1} << 53) - 1, 10, 127}};
  for (const Case& c : cases) {
    WSN_CHECK(wsn::writeFrameHeader(header, 2, flags, c.length, nullptr) ==
              c.bytes);
    WSN_CHECK(header[0] == 0xc2);
    WSN_CHECK(header[1] == c.second);
    uint64_t decoded = c.length < 126 ? header[1] : 0;
    for (size_t i = 2; i < c.bytes; ++i) decoded = (decoded << 8) | header[i];
    WSN_CHECK(decoded == c.length);
    WSN_CHECK(wsn::writeFrameHeader(header, 2, flags, c.length, kRfcKey) ==
              c.bytes + 4);
    WSN_CHECK((header[1] & 0x80) != 0);
    WSN_CHECK(std::memcmp(header + c.bytes, kRfcKey, 4) == 0);
  }
  // §5.2: the most significant bit of a 64-bit length is always 0.
  WSN_CHECK(wsn::writeFrameHeader(header, 2, flags, UINT64_MAX, nullptr) == 10);
  WSN_CHECK((header[2] & 0x80) == 0);
}

void testClosePayload() {
  uint8_t out[wsn::kMaxControlPayloadBytes];
  size_t written = 99;
  WSN_CHECK(wsn::writeClosePayload(out, 1000, nullptr, 0, &written) ==
            Status::kOk);
  WSN_CHECK(written == 2 && out[0] == 0x03 && out[1] == 0xe8);
  const Bytes reason = {'b', 'y', 'e', 0xc3, 0xa9};
  WSN_CHECK(wsn::writeClosePayload(out, 4999, reason.data(), reason.size(),
                                   &written) == Status::kOk);
  WSN_CHECK(written == 7 && out[0] == 0x13 && out[1] == 0x87 &&
            std::memcmp(out + 2, reason.data(), reason.size()) == 0);
  for (uint16_t code :
       std::vector<uint16_t>{0, 999, 1004, 1005, 1006, 1015, 2999, 5000}) {
    WSN_CHECK(wsn::writeClosePayload(out, code, nullptr, 0, &written) ==
              Status::kInvalidCloseCode);
    WSN_CHECK(written == 0);
  }
  const Bytes longest(123, 'a');
  WSN_CHECK(wsn::writeClosePayload(out, 1001, longest.data(), longest.size(),
                                   &written) == Status::kOk);
  WSN_CHECK(written == 125);
  const Bytes tooLong(124, 'a');
  WSN_CHECK(wsn::writeClosePayload(out, 1001, tooLong.data(), tooLong.size(),
                                   &written) ==
            Status::kInvalidControlPayloadLength);
  const Bytes bad = {'a', 0xff};
  WSN_CHECK(wsn::writeClosePayload(out, 1001, bad.data(), bad.size(),
                                   &written) == Status::kInvalidUtf8);
  // The code is checked first, as ws does.
  WSN_CHECK(wsn::writeClosePayload(out, 1005, tooLong.data(), tooLong.size(),
                                   &written) == Status::kInvalidCloseCode);
}

// What the writer produces, the parser reads back.
void testRoundTrip() {
  wsn::ParserOptions options;
  options.role = wsn::Role::kServer;
  wsn::FrameParser parser(options);
  Bytes reason(20, 'r');
  uint8_t closeBody[wsn::kMaxControlPayloadBytes];
  size_t closeBytes = 0;
  WSN_CHECK(wsn::writeClosePayload(closeBody, 3001, reason.data(),
                                   reason.size(), &closeBytes) == Status::kOk);
  Bytes input;
  for (size_t length : {0, 1, 125, 126, 65535, 65536, 70000}) {
    Bytes payload(length);
    for (size_t i = 0; i < length; ++i)
      payload[i] = static_cast<uint8_t>(i * 31);
    const Bytes one = frame(2, FrameFlags(), payload, kRfcKey);
    input.insert(input.end(), one.begin(), one.end());
  }
  const Bytes close =
      frame(8, FrameFlags(), Bytes(closeBody, closeBody + closeBytes), kRfcKey);
  input.insert(input.end(), close.begin(), close.end());
  wsn::ParserEvent events[16];
  const auto result = parser.execute(input.data(), input.size(), events, 16);
  WSN_CHECK(result.status == Status::kOk && result.eventCount == 8 &&
            result.bytesConsumed == input.size());
  size_t index = 0;
  for (size_t length : {0, 1, 125, 126, 65535, 65536, 70000}) {
    const wsn::ParserEvent& event = events[index++];
    bool same = event.opcode == 2 && event.length == length;
    for (size_t i = 0; same && i < length; ++i) {
      same = input[event.offset + i] == static_cast<uint8_t>(i * 31);
    }
    WSN_CHECK(same);
  }
  WSN_CHECK(events[7].opcode == 8 && events[7].closeCode == 3001 &&
            events[7].length == 20);
}

}  // namespace

int main() {
  testRfcExamples();
  testLengthBoundaries();
  testClosePayload();
  testRoundTrip();
  return wsn::test::finish("frame_writer_test");
}
