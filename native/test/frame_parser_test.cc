// FrameParser unit tests: RFC 6455 §5.7 examples, every protocol error with
// its detail, limits checked before allocation, and split invariance (every
// input fed whole, at every two-chunk split and one byte at a time).
#include "frame_parser.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"

namespace {

using Bytes = std::vector<uint8_t>;
using wsn::FrameParser;
using wsn::ParserEvent;
using wsn::ParserOptions;
using wsn::Role;
using wsn::Status;

Bytes bytesOf(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

Bytes copyOf(const uint8_t* data, size_t length) {
  Bytes out(length);
  if (length != 0) std::memcpy(out.data(), data, length);
  return out;
}

struct FrameSpec {
  uint8_t opcode = 1;
  bool fin = true;
  bool rsv1 = false;
  uint8_t rsv23 = 0;  // 0x20 | 0x10 bits
  bool masked = true;
  uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  int lengthForm = 0;                   // 0: minimal, else 126 or 127
  uint64_t claimedLength = UINT64_MAX;  // header length when not the payload's
};

// An independent frame builder (it does not use frame_writer) so the parser is
// checked against the RFC, not against our own writer.
Bytes makeFrame(const FrameSpec& spec, const Bytes& payload) {
  Bytes out;
  out.push_back(static_cast<uint8_t>((spec.fin ? 0x80 : 0) |
                                     (spec.rsv1 ? 0x40 : 0) | spec.rsv23 |
                                     spec.opcode));
  const uint64_t length =
      spec.claimedLength != UINT64_MAX ? spec.claimedLength : payload.size();
  const uint8_t maskBit = spec.masked ? 0x80 : 0;
  int form = spec.lengthForm;
  if (form == 0) form = length < 126 ? 0 : length <= 0xffff ? 126 : 127;
  if (form == 0) {
    out.push_back(static_cast<uint8_t>(maskBit | length));
  } else if (form == 126) {
    out.push_back(static_cast<uint8_t>(maskBit | 126));
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(length));
  } else {
    out.push_back(static_cast<uint8_t>(maskBit | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<uint8_t>(length >> (8 * i)));
  }
  if (spec.masked) out.insert(out.end(), spec.key, spec.key + 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    out.push_back(spec.masked
                      ? static_cast<uint8_t>(payload[i] ^ spec.key[i % 4])
                      : payload[i]);
  }
  return out;
}

Bytes frameOf(uint8_t opcode, const Bytes& payload, bool fin = true,
              bool masked = true) {
  FrameSpec spec;
  spec.opcode = opcode;
  spec.fin = fin;
  spec.masked = masked;
  return makeFrame(spec, payload);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts)
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

// RFC 7692 §7.2.1: raw deflate, sync flush, the 00 00 ff ff tail removed.
Bytes deflateRaw(const Bytes& input) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
               Z_DEFAULT_STRATEGY);
  Bytes out(input.size() + 1024);
  stream.next_in = const_cast<uint8_t*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_SYNC_FLUSH);
  out.resize(out.size() - stream.avail_out);
  deflateEnd(&stream);
  out.resize(out.size() - 4);
  return out;
}

struct Event {
  uint8_t opcode;
  uint16_t closeCode;
  Bytes payload;
  bool operator==(const Event& other) const {
    return opcode == other.opcode && closeCode == other.closeCode &&
           payload == other.payload;
  }
};

struct Outcome {
  std::vector<Event> events;
  Status status = Status::kOk;
  uint64_t detail = 0;
  size_t calls = 0;
  size_t owned = 0;
  size_t pauses = 0;  // calls that ended in kInflatePending
  bool operator==(const Outcome& other) const {
    return events == other.events && status == other.status &&
           detail == other.detail;
  }
};

// What a user sees of one event: an owned payload's bytes, or the span of
// the input that the execute() call was given at `base`.
Event eventOf(FrameParser& parser, const ParserEvent& event,
              const uint8_t* base) {
  Event copy{event.opcode, event.closeCode, {}};
  if (event.owned) {
    const auto& buffer = parser.ownedPayloads()[event.ownedIndex];
    copy.payload = copyOf(buffer.data(), buffer.size());
  } else {
    copy.payload = copyOf(base + event.offset, event.length);
  }
  return copy;
}

// Feeds `input` cut at `cuts` (ascending offsets). Each chunk is a fresh heap
// copy of exactly its size, so a sanitizer build catches any read past it.
Outcome feed(FrameParser& parser, const Bytes& input,
             const std::vector<size_t>& cuts, size_t capacity = 1024) {
  Outcome outcome;
  std::vector<ParserEvent> events(capacity);
  // The last call paused without consuming or emitting anything: the one
  // after it, with a full budget, must not do the same.
  bool pausedLast = false;
  size_t begin = 0;
  for (size_t c = 0; c <= cuts.size(); ++c) {
    const size_t end = c < cuts.size() ? cuts[c] : input.size();
    Bytes chunk(input.begin() + static_cast<long>(begin),
                input.begin() + static_cast<long>(end));
    begin = end;
    size_t start = 0;
    do {
      ++outcome.calls;
      auto result = parser.execute(chunk.data() + start, chunk.size() - start,
                                   events.data(), capacity);
      for (size_t i = 0; i < result.eventCount; ++i) {
        if (events[i].owned) ++outcome.owned;
        outcome.events.push_back(
            eventOf(parser, events[i], chunk.data() + start));
      }
      if (result.status == Status::kInflatePending) {
        // Not an error: input is always left over, and the next call (with a
        // refilled budget) must make progress.
        WSN_CHECK(result.bytesConsumed < chunk.size() - start);
        const bool idle = result.bytesConsumed == 0 && result.eventCount == 0;
        WSN_CHECK(!(pausedLast && idle));
        if (pausedLast && idle) return outcome;
        ++outcome.pauses;
        pausedLast = idle;
        start += result.bytesConsumed;
        continue;
      }
      pausedLast = false;
      if (result.status != Status::kOk) {
        outcome.status = result.status;
        outcome.detail = result.statusDetail;
        return outcome;
      }
      if (result.bytesConsumed == 0 && start < chunk.size()) {
        WSN_CHECK(result.eventCount !=
                  0);  // a stalled parser would loop forever
        if (result.eventCount == 0) return outcome;
      }
      start += result.bytesConsumed;
    } while (start < chunk.size());
  }
  return outcome;
}

Outcome feedWhole(const ParserOptions& options, const Bytes& input,
                  size_t capacity = 1024) {
  FrameParser parser(options);
  return feed(parser, input, {}, capacity);
}

ParserOptions withBudget(ParserOptions options, uint64_t budgetBytes) {
  options.inflateBudgetBytes = budgetBytes;
  return options;
}

// Inflate budgets the split tests also run with: one byte (a pause after
// every slice that produced anything), 1 KiB, 64 KiB, and none at all.
constexpr uint64_t kBudgets[] = {1, 1024, 64 * 1024, 0};

// Split invariance: identical events and status for every two-chunk split,
// one byte at a time, with a one-event result area, and under every inflate
// budget.
Outcome checkSplits(const ParserOptions& options, const Bytes& input,
                    const char* name) {
  const Outcome whole = feedWhole(options, input);
  int mismatches = 0;
  // Every split point; for long inputs every 97th plus the first and last 64,
  // which keeps the test quadratic only in the short inputs. The budget
  // changes from one split to the next.
  const size_t stride = input.size() > 4096 ? 97 : 1;
  size_t round = 0;
  for (size_t cut = 1; cut < input.size();
       cut += (cut < 64 || cut + 64 > input.size()) ? 1 : stride) {
    const ParserOptions budgeted =
        round++ % 2 == 0 ? options
                         : withBudget(options, kBudgets[(round / 2) % 4]);
    FrameParser parser(budgeted);
    if (!(feed(parser, input, {cut}) == whole)) ++mismatches;
  }
  std::vector<size_t> everyByte;
  for (size_t cut = 1; cut < input.size(); ++cut) everyByte.push_back(cut);
  {
    FrameParser parser(options);
    if (!(feed(parser, input, everyByte) == whole)) ++mismatches;
  }
  {
    FrameParser parser(withBudget(options, 1));
    if (!(feed(parser, input, everyByte) == whole)) ++mismatches;
  }
  if (!(feedWhole(options, input, 1) == whole)) ++mismatches;
  for (const uint64_t budget : kBudgets) {
    if (!(feedWhole(withBudget(options, budget), input) == whole)) ++mismatches;
    if (!(feedWhole(withBudget(options, budget), input, 1) == whole))
      ++mismatches;
  }
  if (mismatches != 0)
    std::fprintf(stderr, "split mismatch in %s: %d\n", name, mismatches);
  WSN_CHECK(mismatches == 0);
  return whole;
}

ParserOptions serverOptions() {
  ParserOptions options;
  options.role = Role::kServer;
  return options;
}

ParserOptions clientOptions() {
  ParserOptions options;
  options.role = Role::kClient;
  return options;
}

void expectError(const ParserOptions& options, const Bytes& input,
                 Status status, uint64_t detail, const char* name,
                 size_t eventsBefore = 0) {
  const Outcome outcome = checkSplits(options, input, name);
  const bool ok = outcome.status == status && outcome.detail == detail &&
                  outcome.events.size() == eventsBefore;
  if (!ok) {
    std::fprintf(stderr, "%s: status %d detail %llu events %zu\n", name,
                 static_cast<int>(outcome.status),
                 static_cast<unsigned long long>(outcome.detail),
                 outcome.events.size());
  }
  WSN_CHECK(ok);
}

void testRfcExamples() {
  // RFC 6455 §5.7, byte for byte.
  const Bytes hello = bytesOf("Hello");
  const Bytes unmaskedHello = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  Outcome outcome =
      checkSplits(clientOptions(), unmaskedHello, "unmasked Hello");
  WSN_CHECK(outcome.status == Status::kOk);
  WSN_CHECK(outcome.events.size() == 1);
  WSN_CHECK(outcome.events[0].opcode == 1 &&
            outcome.events[0].payload == hello);

  const Bytes maskedHello = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                             0x7f, 0x9f, 0x4d, 0x51, 0x58};
  outcome = checkSplits(serverOptions(), maskedHello, "masked Hello");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].payload == hello);

  // Parsed whole it is a span of the input, unmasked in place.
  {
    FrameParser parser(serverOptions());
    Bytes chunk = maskedHello;
    ParserEvent events[4];
    auto result = parser.execute(chunk.data(), chunk.size(), events, 4);
    WSN_CHECK(result.bytesConsumed == chunk.size() && result.eventCount == 1);
    WSN_CHECK(!events[0].owned && events[0].offset == 6 &&
              events[0].length == 5);
    WSN_CHECK(std::memcmp(chunk.data() + 6, "Hello", 5) == 0);
    WSN_CHECK(parser.bufferedBytes() == 0);
  }

  const Bytes fragmented = {0x01, 0x03, 0x48, 0x65, 0x6c,
                            0x80, 0x02, 0x6c, 0x6f};
  outcome = checkSplits(clientOptions(), fragmented, "fragmented Hel+lo");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].opcode == 1 &&
            outcome.events[0].payload == hello);

  const Bytes ping = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  outcome = checkSplits(clientOptions(), ping, "ping");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].opcode == 9 &&
            outcome.events[0].payload == hello);

  const Bytes pong = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                      0x7f, 0x9f, 0x4d, 0x51, 0x58};
  outcome = checkSplits(serverOptions(), pong, "masked pong");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].opcode == 10 &&
            outcome.events[0].payload == hello);

  Bytes binary256 = {0x82, 0x7e, 0x01, 0x00};
  Bytes payload256(256);
  for (size_t i = 0; i < payload256.size(); ++i)
    payload256[i] = static_cast<uint8_t>(i * 7);
  binary256.insert(binary256.end(), payload256.begin(), payload256.end());
  outcome = feedWhole(clientOptions(), binary256);
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].opcode == 2 &&
            outcome.events[0].payload == payload256);

  Bytes binary64k = {0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
  Bytes payload64k(65536);
  for (size_t i = 0; i < payload64k.size(); ++i)
    payload64k[i] = static_cast<uint8_t>(i * 13 + 1);
  binary64k.insert(binary64k.end(), payload64k.begin(), payload64k.end());
  outcome = feedWhole(clientOptions(), binary64k);
  WSN_CHECK(outcome.events.size() == 1 &&
            outcome.events[0].payload == payload64k);
  {
    FrameParser parser(clientOptions());
    outcome = feed(parser, binary64k, {5, 300, 40000});
    WSN_CHECK(outcome.events.size() == 1 &&
              outcome.events[0].payload == payload64k);
    WSN_CHECK(outcome.owned == 1);
  }
}

void testValidSequences() {
  const ParserOptions server = serverOptions();
  // A fragmented text message with a ping and a pong between its frames:
  // the control frames come out at once, the message at its end.
  Bytes euro = bytesOf("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  Bytes first(euro.begin(), euro.begin() + 4);  // splits the 2-byte sequence
  Bytes second(euro.begin() + 4, euro.begin() + 9);
  Bytes third(euro.begin() + 9, euro.end());
  const Bytes input =
      concat({frameOf(1, first, false), frameOf(9, bytesOf("p1")),
              frameOf(0, second, false), frameOf(10, bytesOf("")),
              frameOf(0, third, true), frameOf(2, Bytes{1, 2, 3}),
              frameOf(1, Bytes{})});
  Outcome outcome = checkSplits(server, input, "interleaved");
  WSN_CHECK(outcome.status == Status::kOk);
  WSN_CHECK(outcome.events.size() == 5);
  if (outcome.events.size() == 5) {
    WSN_CHECK(outcome.events[0].opcode == 9 &&
              outcome.events[0].payload == bytesOf("p1"));
    WSN_CHECK(outcome.events[1].opcode == 10 &&
              outcome.events[1].payload.empty());
    WSN_CHECK(outcome.events[2].opcode == 1 &&
              outcome.events[2].payload == euro);
    WSN_CHECK(outcome.events[3].opcode == 2 &&
              outcome.events[3].payload == (Bytes{1, 2, 3}));
    WSN_CHECK(outcome.events[4].opcode == 1 &&
              outcome.events[4].payload.empty());
  }

  // Empty fragments, 16-bit and 64-bit lengths for small payloads (not
  // minimal, which RFC 6455 §5.2 asks of senders but ws accepts).
  FrameSpec spec;
  spec.opcode = 2;
  spec.lengthForm = 127;
  FrameSpec spec16 = spec;
  spec16.lengthForm = 126;
  spec16.opcode = 0;
  spec16.fin = false;
  spec.fin = false;
  const Bytes lengths =
      concat({makeFrame(spec, Bytes{9}), makeFrame(spec16, Bytes{}),
              frameOf(0, Bytes{8, 7}, true)});
  outcome = checkSplits(server, lengths, "length forms");
  WSN_CHECK(outcome.events.size() == 1 &&
            outcome.events[0].payload == (Bytes{9, 8, 7}));

  // Close: code and reason; the event payload is the reason only.
  Bytes closeBody = {0x03, 0xe8};
  const Bytes reason = bytesOf("bye \xc3\xa9");
  closeBody.insert(closeBody.end(), reason.begin(), reason.end());
  outcome = checkSplits(server, frameOf(8, closeBody), "close");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].opcode == 8 &&
            outcome.events[0].closeCode == 1000 &&
            outcome.events[0].payload == reason);
  outcome = checkSplits(server, frameOf(8, Bytes{}), "empty close");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].closeCode == 1005 &&
            outcome.events[0].payload.empty());
  outcome = checkSplits(server, frameOf(8, Bytes{0x0f, 0xa0}), "close 4000");
  WSN_CHECK(outcome.events.size() == 1 && outcome.events[0].closeCode == 4000);

  // skipUtf8Validation accepts bad text and a bad close reason.
  ParserOptions skip = server;
  skip.skipUtf8Validation = true;
  outcome = checkSplits(skip,
                        concat({frameOf(1, Bytes{0xff, 0xfe}),
                                frameOf(8, Bytes{0x03, 0xe8, 0xc0})}),
                        "skip utf8");
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 2);

  // A zero mask key is legal; the payload passes through unchanged.
  FrameSpec zeroKey;
  zeroKey.opcode = 2;
  std::memset(zeroKey.key, 0, 4);
  outcome = checkSplits(server, makeFrame(zeroKey, Bytes{5, 6, 7}), "zero key");
  WSN_CHECK(outcome.events.size() == 1 &&
            outcome.events[0].payload == (Bytes{5, 6, 7}));
}

void testErrors() {
  const ParserOptions server = serverOptions();
  const ParserOptions client = clientOptions();
  ParserOptions deflate = server;
  deflate.perMessageDeflate = true;
  const Bytes ping = frameOf(9, bytesOf("x"));
  FrameSpec spec;

  spec = FrameSpec();
  spec.rsv23 = 0x20;
  expectError(server, makeFrame(spec, bytesOf("a")), Status::kUnexpectedRsv23,
              0, "rsv2");
  spec.rsv23 = 0x10;
  spec.rsv1 = true;
  expectError(server, concat({ping, makeFrame(spec, bytesOf("a"))}),
              Status::kUnexpectedRsv23, 0, "rsv3 before rsv1", 1);
  spec = FrameSpec();
  spec.rsv1 = true;
  expectError(server, makeFrame(spec, bytesOf("a")), Status::kUnexpectedRsv1, 0,
              "rsv1 without deflate");
  spec.opcode = 9;
  expectError(deflate, makeFrame(spec, bytesOf("a")), Status::kUnexpectedRsv1,
              0, "rsv1 on control");
  spec.fin = false;
  expectError(deflate, makeFrame(spec, bytesOf("a")), Status::kExpectedFin, 0,
              "fin checked before rsv1 on control");
  spec = FrameSpec();
  spec.opcode = 0;
  spec.rsv1 = true;
  expectError(
      deflate,
      concat({frameOf(2, bytesOf("a"), false), makeFrame(spec, bytesOf("b"))}),
      Status::kUnexpectedRsv1, 0, "rsv1 on continuation");
  // ws checks RSV1 on a continuation before whether a message is open.
  expectError(deflate, makeFrame(spec, bytesOf("b")), Status::kUnexpectedRsv1,
              0, "rsv1 on stray continuation");

  expectError(server, frameOf(0, bytesOf("a")), Status::kInvalidOpcode, 0,
              "stray continuation");
  expectError(
      server,
      concat({frameOf(1, bytesOf("a"), false), frameOf(1, bytesOf("b"))}),
      Status::kInvalidOpcode, 1, "text inside message");
  expectError(
      server,
      concat({frameOf(2, bytesOf("a"), false), frameOf(2, bytesOf("b"))}),
      Status::kInvalidOpcode, 2, "binary inside message");
  for (uint8_t opcode :
       std::vector<uint8_t>{3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    expectError(server, frameOf(opcode, bytesOf("a")), Status::kInvalidOpcode,
                opcode, "reserved opcode");
  }
  expectError(server, frameOf(9, bytesOf("a"), false), Status::kExpectedFin, 0,
              "fragmented ping");
  spec = FrameSpec();
  spec.opcode = 9;
  spec.lengthForm = 126;
  expectError(server, makeFrame(spec, Bytes(126, 1)),
              Status::kInvalidControlPayloadLength, 126, "ping 126");
  spec.lengthForm = 127;
  expectError(server, makeFrame(spec, Bytes(3, 1)),
              Status::kInvalidControlPayloadLength, 127, "ping 64-bit form");
  expectError(server, frameOf(8, Bytes{3}),
              Status::kInvalidControlPayloadLength, 1, "close length 1");
  // The control length is checked before the mask bit.
  spec.masked = false;
  expectError(server, makeFrame(spec, Bytes(3, 1)),
              Status::kInvalidControlPayloadLength, 127,
              "control length before mask");

  expectError(server, frameOf(1, bytesOf("a"), true, false),
              Status::kExpectedMask, 0, "unmasked to server");
  expectError(client, frameOf(1, bytesOf("a"), true, true),
              Status::kUnexpectedMask, 0, "masked to client");

  spec = FrameSpec();
  spec.opcode = 2;
  spec.claimedLength = uint64_t{1} << 63;
  expectError(server, makeFrame(spec, Bytes{}),
              Status::kUnsupportedDataPayloadLength, 0, "64-bit top bit");
  spec.claimedLength = uint64_t{1} << 53;
  expectError(server, makeFrame(spec, Bytes{}),
              Status::kUnsupportedDataPayloadLength, 0, "2^53");

  ParserOptions small = server;
  small.maxPayloadBytes = 10;
  expectError(small, frameOf(2, Bytes(11, 0)), Status::kMessageTooBig, 0,
              "maxPayload frame");
  expectError(small,
              concat({frameOf(2, Bytes(6, 0), false), ping,
                      frameOf(0, Bytes(5, 0), true)}),
              Status::kMessageTooBig, 0, "maxPayload summed", 1);
  Outcome atLimit =
      checkSplits(small, frameOf(2, Bytes(10, 4)), "maxPayload exact");
  WSN_CHECK(atLimit.status == Status::kOk && atLimit.events.size() == 1);

  ParserOptions fewFragments = server;
  fewFragments.maxFragments = 3;
  const Bytes three =
      concat({frameOf(1, bytesOf("a"), false), frameOf(0, Bytes{}, false),
              frameOf(0, bytesOf("c"), true)});
  Outcome ok3 = checkSplits(fewFragments, three, "3 fragments");
  WSN_CHECK(ok3.status == Status::kOk && ok3.events.size() == 1 &&
            ok3.events[0].payload == bytesOf("ac"));
  // Empty fragments count (ws #2329).
  const Bytes four =
      concat({frameOf(1, bytesOf("a"), false), frameOf(0, Bytes{}, false),
              frameOf(0, Bytes{}, false), frameOf(0, bytesOf("d"), true)});
  expectError(fewFragments, four, Status::kTooManyBufferedParts, 0,
              "4 fragments");

  expectError(server, frameOf(8, Bytes{0x03, 0xed}), Status::kInvalidCloseCode,
              1005, "close 1005");
  expectError(server, frameOf(8, Bytes{0x03, 0xe7}), Status::kInvalidCloseCode,
              999, "close 999");
  expectError(server, frameOf(8, Bytes{0x07, 0xd0, 'x'}),
              Status::kInvalidCloseCode, 2000, "close 2000");
  expectError(server, frameOf(8, Bytes{0x13, 0x88}), Status::kInvalidCloseCode,
              5000, "close 5000");
  expectError(server, frameOf(8, Bytes{0x03, 0xe8, 0xff}), Status::kInvalidUtf8,
              0, "close reason");

  expectError(server, frameOf(1, Bytes{'a', 0xc0, 0x80}), Status::kInvalidUtf8,
              0, "overlong");
  expectError(server, frameOf(1, Bytes{0xed, 0xa0, 0x80}), Status::kInvalidUtf8,
              0, "surrogate");
  expectError(server, frameOf(1, Bytes{'a', 0xe2, 0x82}), Status::kInvalidUtf8,
              0, "truncated at end");
  expectError(server,
              concat({frameOf(1, Bytes{'a', 0xe2}, false),
                      frameOf(0, Bytes{0x82}, true)}),
              Status::kInvalidUtf8, 0, "truncated across fragments");
  // Fail fast: the bad byte's fragment fails, before the next frame's error.
  expectError(
      server,
      concat({frameOf(1, Bytes{'a', 0xff}, false), frameOf(5, Bytes{})}),
      Status::kInvalidUtf8, 0, "utf8 fails on its fragment");
  // A long text frame with the bad byte beyond the first block.
  Bytes longText(40000, 'a');
  longText[30000] = 0xf5;
  expectError(server, frameOf(1, longText), Status::kInvalidUtf8, 0,
              "utf8 late in frame");
}

void testCompressed() {
  ParserOptions client = clientOptions();
  client.perMessageDeflate = true;
  // RFC 7692 §7.2.3.1: "Hello" compressed in one frame.
  const Bytes hello = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  Outcome outcome = checkSplits(client, hello, "compressed Hello");
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 1 &&
            outcome.events[0].payload == bytesOf("Hello"));
  // §7.2.3.2: the same message again with the context kept.
  const Bytes again = {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
  outcome = checkSplits(client, concat({hello, again}), "context takeover");
  WSN_CHECK(outcome.events.size() == 2 &&
            outcome.events[1].payload == bytesOf("Hello"));
  // §7.2.3.1 fragmented: "Hel" and "lo" in two frames, RSV1 on the first only.
  const Bytes split = {0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80,
                       0x04, 0xc9, 0xc9, 0x07, 0x00};
  outcome = checkSplits(client, split, "compressed fragments");
  WSN_CHECK(outcome.events.size() == 1 &&
            outcome.events[0].payload == bytesOf("Hello"));

  ParserOptions server = serverOptions();
  server.perMessageDeflate = true;
  Bytes text(3000, 0);
  for (size_t i = 0; i < text.size(); ++i)
    text[i] = static_cast<uint8_t>('a' + i % 26);
  const Bytes packed = deflateRaw(text);
  FrameSpec spec;
  spec.rsv1 = true;
  spec.fin = false;
  const size_t half = packed.size() / 2;
  const Bytes input = concat(
      {makeFrame(spec, Bytes(packed.begin(),
                             packed.begin() + static_cast<long>(half))),
       frameOf(9, bytesOf("ping")),
       frameOf(0, Bytes(packed.begin() + static_cast<long>(half), packed.end()),
               true)});
  outcome = checkSplits(server, input, "compressed with ping");
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 2);
  WSN_CHECK(outcome.events.size() == 2 && outcome.events[1].payload == text);

  // The limit holds on the inflated size.
  ParserOptions limited = server;
  limited.maxPayloadBytes = 1000;
  spec.fin = true;
  expectError(limited, makeFrame(spec, packed), Status::kMessageTooBig, 0,
              "inflate limit");

  // Invalid UTF-8 found in the inflated text.
  Bytes badText(200, 'x');
  badText[150] = 0xff;
  expectError(server, makeFrame(spec, deflateRaw(badText)),
              Status::kInvalidUtf8, 0, "inflated utf8");

  // Corrupt deflate data (reserved block type 3).
  const Outcome corrupt = checkSplits(
      server, makeFrame(spec, Bytes{0xff, 0xff, 0xff}), "corrupt deflate");
  WSN_CHECK(corrupt.status == Status::kInflateFailed);
  WSN_CHECK(static_cast<int32_t>(corrupt.detail) == Z_DATA_ERROR);

  // An empty compressed message.
  FrameSpec empty;
  empty.rsv1 = true;
  empty.opcode = 2;
  outcome =
      checkSplits(server, makeFrame(empty, Bytes{0x00}), "empty compressed");
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 1 &&
            outcome.events[0].payload.empty());
}

void testLimitsAndMemory() {
  // A header claiming 2^53 - 1 bytes fails at once against a small limit.
  ParserOptions small = serverOptions();
  small.maxPayloadBytes = 1024;
  FrameSpec spec;
  spec.opcode = 2;
  spec.claimedLength = (uint64_t{1} << 53) - 1;
  Bytes header = makeFrame(spec, Bytes{});
  {
    FrameParser parser(small);
    ParserEvent events[4];
    auto result = parser.execute(header.data(), header.size(), events, 4);
    WSN_CHECK(result.status == Status::kMessageTooBig);
    WSN_CHECK(parser.bufferedBytes() == 0);
    // Sticky: the next call reports it again and consumes nothing.
    Bytes more = frameOf(2, Bytes{1});
    result = parser.execute(more.data(), more.size(), events, 4);
    WSN_CHECK(result.status == Status::kMessageTooBig &&
              result.bytesConsumed == 0 && result.eventCount == 0);
  }
  // Without a limit the same header is accepted, and memory follows the bytes
  // that arrive, not the length announced.
  ParserOptions unlimited = serverOptions();
  unlimited.maxPayloadBytes = 0;
  {
    FrameParser parser(unlimited);
    ParserEvent events[4];
    Bytes input = header;
    input.resize(input.size() + 1000, 0x55);
    auto result = parser.execute(input.data(), input.size(), events, 4);
    WSN_CHECK(result.status == Status::kOk &&
              result.bytesConsumed == input.size());
    WSN_CHECK(parser.bufferedBytes() >= 1000 && parser.bufferedBytes() < 4096);
  }

  // 131072 one-byte fragments are the default limit; one more fails.
  const uint32_t count = 131072;
  auto manyFragments = [](uint32_t frames) {
    Bytes out;
    out.reserve(frames * 7u);
    for (uint32_t i = 0; i < frames; ++i) {
      const Bytes one = frameOf(i == 0 ? 2 : 0, Bytes{static_cast<uint8_t>(i)},
                                i + 1 == frames);
      out.insert(out.end(), one.begin(), one.end());
    }
    return out;
  };
  Outcome outcome = feedWhole(serverOptions(), manyFragments(count));
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 1 &&
            outcome.events[0].payload.size() == count);
  outcome = feedWhole(serverOptions(), manyFragments(count + 1));
  WSN_CHECK(outcome.status == Status::kTooManyBufferedParts &&
            outcome.detail == 0 && outcome.events.empty());
  {
    ParserOptions noLimit = serverOptions();
    noLimit.maxFragments = 0;
    FrameParser parser(noLimit);
    Bytes input = manyFragments(count + 1);
    // Everything but the last frame: the message is held, in one buffer.
    const size_t lastFrameBytes = 7;
    ParserEvent events[4];
    auto result =
        parser.execute(input.data(), input.size() - lastFrameBytes, events, 4);
    WSN_CHECK(result.status == Status::kOk && result.eventCount == 0);
    const size_t held = parser.bufferedBytes();
    WSN_CHECK(held >= count && held <= count + count / 2 + 256);
    result = parser.execute(input.data() + input.size() - lastFrameBytes,
                            lastFrameBytes, events, 4);
    WSN_CHECK(result.status == Status::kOk && result.eventCount == 1 &&
              events[0].owned && parser.ownedPayloads()[0].size() == count + 1);
    WSN_CHECK(parser.bufferedBytes() == 0);
  }

  // maxBufferedChunks counts the pieces copied into one message.
  ParserOptions fewPieces = serverOptions();
  fewPieces.maxBufferedChunks = 3;
  const Bytes frame = frameOf(2, Bytes{1, 2, 3, 4, 5, 6});
  {
    FrameParser parser(fewPieces);
    outcome = feed(parser, frame, {7, 8, 9});  // pieces: 1, 1, 1, 3 bytes
    WSN_CHECK(outcome.status == Status::kTooManyBufferedParts &&
              outcome.detail == 1);
  }
  {
    FrameParser parser(fewPieces);
    outcome = feed(parser, frame, {8, 9});
    WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 1);
  }
}

void testAfterCloseAndCapacity() {
  const ParserOptions server = serverOptions();
  // Bytes after a close frame are consumed and ignored, even invalid ones.
  const Bytes input =
      concat({frameOf(2, Bytes{1}), frameOf(8, Bytes{0x03, 0xe8}),
              frameOf(1, bytesOf("late")), Bytes{0xff, 0xff}});
  Outcome outcome = checkSplits(server, input, "after close");
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 2 &&
            outcome.events[1].opcode == 8);
  {
    FrameParser parser(server);
    Bytes chunk = input;
    ParserEvent events[8];
    auto result = parser.execute(chunk.data(), chunk.size(), events, 8);
    WSN_CHECK(result.bytesConsumed == chunk.size() && parser.finished());
    Bytes more = frameOf(1, bytesOf("x"));
    result = parser.execute(more.data(), more.size(), events, 8);
    WSN_CHECK(result.bytesConsumed == more.size() && result.eventCount == 0 &&
              result.status == Status::kOk);
  }

  // More tiny frames than the result area: resumed from bytesConsumed.
  Bytes many;
  for (int i = 0; i < 2500; ++i) {
    const Bytes one = frameOf(2, Bytes{static_cast<uint8_t>(i)});
    many.insert(many.end(), one.begin(), one.end());
  }
  outcome = feedWhole(server, many, 1024);
  WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 2500 &&
            outcome.calls == 3);
  bool inOrder = outcome.events.size() == 2500;
  for (size_t i = 0; inOrder && i < 2500; ++i) {
    inOrder = outcome.events[i].payload == Bytes{static_cast<uint8_t>(i)};
  }
  WSN_CHECK(inOrder);
}

// A seeded generator (xorshift64*), so a failure reproduces.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed | 1) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }
  size_t below(size_t bound) { return static_cast<size_t>(next() % bound); }

 private:
  uint64_t state_;
};

// Text that deflates about 3x, like chat or JSON: words from a small skewed
// vocabulary.
Bytes wordText(size_t size, uint64_t seed) {
  Random random(seed);
  std::vector<std::string> vocabulary;
  for (int i = 0; i < 500; ++i) {
    std::string word;
    const size_t length = 2 + random.below(8);
    for (size_t j = 0; j < length; ++j)
      word.push_back(static_cast<char>('a' + random.below(26)));
    vocabulary.push_back(word);
  }
  Bytes out;
  out.reserve(size + 16);
  while (out.size() < size) {
    const size_t u = random.below(500);
    const std::string& word = vocabulary[u * u / 500];
    out.insert(out.end(), word.begin(), word.end());
    out.push_back(random.below(12) == 0 ? '.' : ' ');
  }
  out.resize(size);
  return out;
}

// Feeds one chunk the way lib/frame-reader.js does (again from bytesConsumed
// after every kInflatePending) and records the memory held after each call.
struct SliceTrace {
  std::vector<Event> events;
  Status status = Status::kOk;
  size_t pauses = 0;
  size_t largestHeldBytes = 0;
};

SliceTrace feedSliced(FrameParser& parser, Bytes chunk) {
  SliceTrace trace;
  ParserEvent events[16];
  size_t start = 0;
  while (start < chunk.size()) {
    const auto result =
        parser.execute(chunk.data() + start, chunk.size() - start, events, 16);
    for (size_t i = 0; i < result.eventCount; ++i) {
      trace.events.push_back(eventOf(parser, events[i], chunk.data() + start));
    }
    trace.largestHeldBytes =
        std::max(trace.largestHeldBytes, parser.bufferedBytes());
    if (result.status != Status::kInflatePending) {
      trace.status = result.status;
      if (result.status != Status::kOk ||
          result.bytesConsumed == chunk.size() - start) {
        return trace;
      }
    } else {
      ++trace.pauses;
    }
    start += result.bytesConsumed;
  }
  return trace;
}

Bytes compressedFrame(const Bytes& packed, uint8_t opcode, bool masked) {
  FrameSpec spec;
  spec.opcode = opcode;
  spec.rsv1 = true;
  spec.masked = masked;
  return makeFrame(spec, packed);
}

void testInflateBudget() {
  // A 3 MiB text message in one chunk: the default 256 KiB budget pauses the
  // inflation eleven times, a 1 MiB one twice, none never; the message
  // arrives intact and nothing is lost between the slices.
  const Bytes text = wordText(3 * 1024 * 1024, 1);
  const Bytes packed = deflateRaw(text);
  WSN_CHECK(packed.size() < text.size() / 2);
  ParserOptions server = serverOptions();
  server.perMessageDeflate = true;
  const struct {
    ParserOptions options;
    size_t pauses;
  } cases[] = {{server, 11},
               {withBudget(server, 1024 * 1024), 2},
               {withBudget(server, 0), 0}};
  for (const auto& each : cases) {
    FrameParser parser(each.options);
    const SliceTrace trace =
        feedSliced(parser, compressedFrame(packed, 1, true));
    WSN_CHECK(trace.status == Status::kOk && trace.events.size() == 1);
    WSN_CHECK(trace.events.size() == 1 && trace.events[0].payload == text);
    WSN_CHECK(trace.pauses == each.pauses);
  }
  // Budget 64 KiB, client role: between 3 MiB / 128 KiB and 3 MiB / 64 KiB
  // pauses (each slice makes at least the budget and overruns it by what one
  // 1 KiB input slice inflates to, about 3 KiB of this text).
  {
    ParserOptions client = withBudget(clientOptions(), 64 * 1024);
    client.perMessageDeflate = true;
    FrameParser parser(client);
    const SliceTrace trace =
        feedSliced(parser, compressedFrame(packed, 2, false));
    WSN_CHECK(trace.status == Status::kOk && trace.events.size() == 1 &&
              trace.events[0].payload == text);
    WSN_CHECK(trace.pauses >= text.size() / (128 * 1024) - 1);
    WSN_CHECK(trace.pauses <= text.size() / (64 * 1024));
  }

  // A decompression bomb: 64 MiB of zeros in about 64 KiB. With a 4 MiB limit
  // it still fails with kMessageTooBig, after 2 to 16 slices (each makes at
  // least the 256 KiB budget and at most 1 MiB more: 1 KiB of input), and
  // never holds more than the limit plus one 64 KiB inflate step.
  const Bytes zeros(64 * 1024 * 1024, 0);
  const Bytes bomb = deflateRaw(zeros);
  WSN_CHECK(bomb.size() < 128 * 1024);
  {
    ParserOptions limited = withBudget(server, 256 * 1024);
    limited.maxPayloadBytes = 4 * 1024 * 1024;
    FrameParser parser(limited);
    const SliceTrace trace = feedSliced(parser, compressedFrame(bomb, 2, true));
    WSN_CHECK(trace.status == Status::kMessageTooBig);
    WSN_CHECK(trace.events.empty());
    WSN_CHECK(trace.pauses >= 2 && trace.pauses <= 16);
    WSN_CHECK(trace.largestHeldBytes <= 4 * 1024 * 1024 + 64 * 1024 + 1);
    WSN_CHECK(parser.bufferedBytes() == 0);
  }
  // Without a limit the budget alone bounds each slice: 64 MiB of output in
  // slices of 256 KiB (the default budget) up to 1.25 MiB.
  {
    ParserOptions unlimited = server;
    unlimited.maxPayloadBytes = 0;
    FrameParser parser(unlimited);
    const SliceTrace trace = feedSliced(parser, compressedFrame(bomb, 2, true));
    WSN_CHECK(trace.status == Status::kOk && trace.events.size() == 1 &&
              trace.events[0].payload == zeros);
    WSN_CHECK(trace.pauses >= 48 && trace.pauses <= 256);
  }

  // Frames after a paused message keep their order: a ping inside the
  // fragmented message comes first, then the message, then the pong and the
  // next message, in one chunk, under a budget that pauses many times.
  {
    ParserOptions small = withBudget(server, 4096);
    const size_t half = packed.size() / 2;
    FrameSpec first;
    first.rsv1 = true;
    first.fin = false;
    const Bytes input = concat(
        {makeFrame(first, Bytes(packed.begin(),
                                packed.begin() + static_cast<long>(half))),
         frameOf(9, bytesOf("ping")),
         frameOf(0,
                 Bytes(packed.begin() + static_cast<long>(half), packed.end())),
         frameOf(10, bytesOf("pong")),
         compressedFrame(deflateRaw(bytesOf("after")), 1, true),
         frameOf(8, Bytes{0x03, 0xe8})});
    FrameParser parser(small);
    const Outcome outcome = feed(parser, input, {});
    WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 5);
    WSN_CHECK(outcome.pauses > 100);
    if (outcome.events.size() == 5) {
      WSN_CHECK(outcome.events[0].opcode == 9 &&
                outcome.events[0].payload == bytesOf("ping"));
      WSN_CHECK(outcome.events[1].opcode == 1 &&
                outcome.events[1].payload == text);
      WSN_CHECK(outcome.events[2].opcode == 10);
      WSN_CHECK(outcome.events[3].payload == bytesOf("after"));
      WSN_CHECK(outcome.events[4].opcode == 8 &&
                outcome.events[4].closeCode == 1000);
    }
  }

  // An empty final frame after the budget ran out: only the tail is left,
  // which is inflated without a pause (pending always leaves input unread).
  {
    const Bytes small = wordText(300000, 2);
    const Bytes smallPacked = deflateRaw(small);
    FrameSpec first;
    first.rsv1 = true;
    first.fin = false;
    const Bytes input =
        concat({makeFrame(first, smallPacked), frameOf(0, Bytes{}, true)});
    const Outcome outcome =
        checkSplits(server, input, "empty final compressed frame");
    WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 1 &&
              outcome.events[0].payload == small);
    FrameParser parser(withBudget(server, 1));
    const Outcome paused = feed(parser, input, {});
    WSN_CHECK(paused == outcome && paused.pauses > 50);
  }

  // maxBufferedChunks counts a compressed frame part once however many slices
  // the budget cuts it into: four frames fail a limit of three, pass four.
  {
    const Bytes small = wordText(20000, 3);
    const Bytes smallPacked = deflateRaw(small);
    Bytes input;
    const size_t quarter = smallPacked.size() / 4;
    for (size_t i = 0; i < 4; ++i) {
      FrameSpec spec;
      spec.opcode = i == 0 ? 1 : 0;
      spec.rsv1 = i == 0;
      spec.fin = i == 3;
      const auto from = smallPacked.begin() + static_cast<long>(i * quarter);
      const auto to =
          i == 3 ? smallPacked.end() : from + static_cast<long>(quarter);
      input = concat({input, makeFrame(spec, Bytes(from, to))});
    }
    for (const uint64_t budget : kBudgets) {
      ParserOptions three = withBudget(server, budget);
      three.maxBufferedChunks = 3;
      Outcome outcome = feedWhole(three, input);
      WSN_CHECK(outcome.status == Status::kTooManyBufferedParts &&
                outcome.detail == 1 && outcome.events.empty());
      ParserOptions four = three;
      four.maxBufferedChunks = 4;
      outcome = feedWhole(four, input);
      WSN_CHECK(outcome.status == Status::kOk && outcome.events.size() == 1 &&
                outcome.events[0].payload == small);
    }
  }

  // An empty call (start == length, as lib/frame-reader.js may make) is
  // accepted and changes nothing.
  {
    FrameParser parser(server);
    Bytes none(1, 0);
    ParserEvent events[2];
    const auto result = parser.execute(none.data() + 1, 0, events, 2);
    WSN_CHECK(result.status == Status::kOk && result.bytesConsumed == 0 &&
              result.eventCount == 0);
  }
}

// Random streams of mostly plausible frames (any opcode, flags, mask bit,
// length form; text that is valid or not; compressed or not) under random
// limits: whatever the bytes, random chunkings must agree with the whole
// input, and a sanitizer build must see no bad access.
void testRandomStreams() {
  Random random(0x5eed);
  const std::vector<uint8_t> opcodes = {0, 1, 2, 8, 9, 10, 0, 1, 2, 3, 11};
  int mismatches = 0;
  for (int round = 0; round < 400; ++round) {
    ParserOptions options;
    options.role = random.below(2) == 0 ? Role::kServer : Role::kClient;
    options.perMessageDeflate = random.below(2) == 0;
    options.maxPayloadBytes = random.below(3) == 0 ? 64 : 0;
    options.maxFragments = static_cast<uint32_t>(random.below(3) == 0 ? 3 : 0);
    options.skipUtf8Validation = random.below(4) == 0;
    Bytes input;
    const uint64_t budget = kBudgets[random.below(4)];
    const size_t frames = 1 + random.below(8);
    for (size_t f = 0; f < frames; ++f) {
      FrameSpec spec;
      spec.opcode = opcodes[random.below(opcodes.size())];
      spec.fin = random.below(3) != 0;
      spec.rsv1 = random.below(5) == 0;
      spec.rsv23 = random.below(20) == 0 ? 0x20 : 0;
      // Mostly the right mask bit for the role.
      const bool wantMask = options.role == Role::kServer;
      spec.masked = random.below(12) == 0 ? !wantMask : wantMask;
      for (auto& byte : spec.key) byte = static_cast<uint8_t>(random.next());
      const size_t lengthPick = random.below(10);
      size_t length = lengthPick < 6   ? random.below(20)
                      : lengthPick < 9 ? random.below(300)
                                       : random.below(70000);
      if (spec.opcode >= 8 && random.below(4) != 0) length %= 126;
      Bytes payload(length);
      const int kind = static_cast<int>(random.below(3));
      for (auto& byte : payload) {
        byte = kind == 0   ? static_cast<uint8_t>('a' + random.below(26))
               : kind == 1 ? static_cast<uint8_t>(random.next())
                           : static_cast<uint8_t>(0x80 | random.below(64));
      }
      if (spec.opcode == 8 && length >= 2) {
        payload[0] = 0x03;
        payload[1] = static_cast<uint8_t>(0xe8 + random.below(8));
      }
      if (spec.rsv1 && random.below(2) == 0) payload = deflateRaw(payload);
      if (random.below(10) == 0) spec.lengthForm = 127;
      const Bytes one = makeFrame(spec, payload);
      input.insert(input.end(), one.begin(), one.end());
    }
    if (random.below(4) == 0) input.resize(random.below(input.size() + 1));
    const Outcome whole = feedWhole(options, input);
    for (int cutting = 0; cutting < 3; ++cutting) {
      std::vector<size_t> cuts;
      size_t at = 0;
      for (;;) {
        at += 1 + random.below(cutting == 0 ? 4 : cutting == 1 ? 64 : 4096);
        if (at >= input.size()) break;
        cuts.push_back(at);
      }
      FrameParser parser(cutting == 2 ? withBudget(options, budget) : options);
      if (!(feed(parser, input, cuts) == whole)) ++mismatches;
    }
    if (!(feedWhole(options, input, 1 + random.below(3)) == whole))
      ++mismatches;
    if (!(feedWhole(withBudget(options, budget), input) == whole)) ++mismatches;
  }
  if (mismatches != 0)
    std::fprintf(stderr, "random streams: %d mismatches\n", mismatches);
  WSN_CHECK(mismatches == 0);
}

}  // namespace

// Reads as a NativeSocket does (socket_binding.cc readDirect): whenever the
// parser offers a direct window, the next bytes go straight into it (at most
// `readBytes` per read); otherwise a chunk of `readBytes` goes to execute().
// A commit that completes a frame is followed by an empty execute(), as the
// socket then delivers an empty chunk. Every input must give what feeding it
// whole gives. *directBytes: how many bytes took the direct path.
Outcome feedDirect(const ParserOptions& options, const Bytes& input,
                   size_t readBytes, size_t minBytes, size_t* directBytes) {
  FrameParser parser(options);
  Outcome outcome;
  std::vector<ParserEvent> events(1024);
  *directBytes = 0;
  auto run = [&](Bytes& chunk) {
    size_t start = 0;
    do {
      ++outcome.calls;
      auto result = parser.execute(chunk.data() + start, chunk.size() - start,
                                   events.data(), events.size());
      for (size_t i = 0; i < result.eventCount; ++i) {
        outcome.events.push_back(
            eventOf(parser, events[i], chunk.data() + start));
      }
      if (result.status != Status::kOk &&
          result.status != Status::kInflatePending) {
        outcome.status = result.status;
        outcome.detail = result.statusDetail;
        return false;
      }
      start += result.bytesConsumed;
    } while (start < chunk.size());
    return true;
  };
  size_t position = 0;
  while (position < input.size()) {
    uint8_t* destination = nullptr;
    const size_t window = parser.directWindow(minBytes, &destination);
    if (window != 0) {
      const size_t bytes =
          std::min({window, readBytes, input.size() - position});
      std::memcpy(destination, input.data() + position, bytes);
      position += bytes;
      *directBytes += bytes;
      if (parser.commitDirect(bytes)) {
        Bytes empty;
        if (!run(empty)) return outcome;
      }
      continue;
    }
    const size_t bytes = std::min(readBytes, input.size() - position);
    Bytes chunk(input.begin() + static_cast<long>(position),
                input.begin() + static_cast<long>(position + bytes));
    position += bytes;
    if (!run(chunk)) return outcome;
  }
  return outcome;
}

Bytes patternOf(size_t length, uint32_t seed) {
  Bytes out(length);
  for (size_t i = 0; i < length; ++i) {
    seed = seed * 1103515245u + 12345u;
    out[i] = static_cast<uint8_t>(seed >> 16);
  }
  return out;
}

// Valid UTF-8 with 1- to 4-byte sequences, so reads cut sequences anywhere.
Bytes mixedText(size_t minLength) {
  const std::string unit = "ascii \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ";
  Bytes out;
  while (out.size() < minLength)
    out.insert(out.end(), unit.begin(), unit.end());
  return out;
}

void checkDirect(const ParserOptions& options, const Bytes& input,
                 const char* name, bool expectDirect) {
  const Outcome whole = feedWhole(options, input);
  size_t mismatches = 0;
  size_t directSomewhere = 0;
  for (const size_t readBytes : {size_t{1000}, size_t{4096}, size_t{16411},
                                 size_t{65536}, size_t{1} << 20}) {
    for (const size_t minBytes : {size_t{1}, size_t{16384}}) {
      size_t directBytes = 0;
      if (!(feedDirect(options, input, readBytes, minBytes, &directBytes) ==
            whole)) {
        std::fprintf(stderr, "%s: direct mismatch, reads %zu, min %zu\n", name,
                     readBytes, minBytes);
        ++mismatches;
      }
      directSomewhere += directBytes;
    }
  }
  WSN_CHECK(mismatches == 0);
  if (expectDirect != (directSomewhere != 0)) {
    std::fprintf(stderr, "%s: direct bytes %zu\n", name, directSomewhere);
  }
  WSN_CHECK(expectDirect == (directSomewhere != 0));
}

void testDirectReads() {
  const ParserOptions server = serverOptions();
  const Bytes big = patternOf(300 * 1024, 7);
  const Bytes text = mixedText(200 * 1024);

  checkDirect(server, frameOf(wsn::kOpBinary, big), "binary 300 KiB", true);
  checkDirect(server, frameOf(wsn::kOpText, text), "text 200 KiB", true);
  checkDirect(clientOptions(), frameOf(wsn::kOpBinary, big, true, false),
              "unmasked binary (client role)", true);
  // A fragmented message with large pieces, a ping between two of them, and
  // a small message after it: order and bytes as when fed whole.
  const Bytes first(big.begin(), big.begin() + 100000);
  const Bytes second(big.begin() + 100000, big.end());
  checkDirect(server,
              concat({frameOf(wsn::kOpBinary, first, false),
                      frameOf(wsn::kOpPing, bytesOf("between")),
                      frameOf(wsn::kOpContinuation, second),
                      frameOf(wsn::kOpText, bytesOf("after")),
                      frameOf(wsn::kOpClose, Bytes{0x03, 0xe8})}),
              "fragmented, ping between, message after", true);
  // Invalid UTF-8 far into a large text frame: 1007 (kInvalidUtf8) after the
  // same events, whichever path read the bad byte.
  Bytes bad = mixedText(150 * 1024);
  bad[140 * 1024] = 0xff;
  checkDirect(server,
              concat({frameOf(wsn::kOpText, bytesOf("ok")),
                      frameOf(wsn::kOpText, bad)}),
              "invalid UTF-8 deep in a large frame", true);
  // A text message cut mid-sequence between two fragments.
  const Bytes euros = mixedText(90 * 1024);
  const Bytes head(euros.begin(), euros.begin() + 40001);
  const Bytes tail(euros.begin() + 40001, euros.end());
  checkDirect(server,
              concat({frameOf(wsn::kOpText, head, false),
                      frameOf(wsn::kOpContinuation, tail)}),
              "UTF-8 sequence cut between fragments", true);

  // Compressed frames are inflated from chunks, never read directly.
  ParserOptions deflate = serverOptions();
  deflate.perMessageDeflate = true;
  FrameSpec compressed;
  compressed.opcode = wsn::kOpText;
  compressed.rsv1 = true;
  checkDirect(deflate, makeFrame(compressed, deflateRaw(big)),
              "compressed: no direct reads", false);
  // Small frames never open a window of 16 KiB.
  FrameParser small(server);
  std::vector<ParserEvent> events(16);
  Bytes smallFrame = frameOf(wsn::kOpBinary, patternOf(1000, 3));
  smallFrame.resize(500);
  (void)small.execute(smallFrame.data(), smallFrame.size(), events.data(),
                      events.size());
  uint8_t* destination = nullptr;
  WSN_CHECK(small.directWindow(16384, &destination) == 0);

  // A header announcing 64 MiB with nothing behind it: the first window is
  // minBytes, and each later one at most doubles what really arrived.
  {
    FrameParser liar(server);
    FrameSpec spec;
    spec.opcode = wsn::kOpBinary;
    spec.claimedLength = 64u << 20;
    Bytes header = makeFrame(spec, Bytes{});
    (void)liar.execute(header.data(), header.size(), events.data(),
                       events.size());
    size_t held = 0;
    bool bounded = true;
    for (int i = 0; i < 6; ++i) {
      const size_t window = liar.directWindow(16384, &destination);
      bounded = bounded && window == std::max<size_t>(held, 16384) &&
                liar.bufferedBytes() <= 2 * std::max<size_t>(held, 16384);
      std::memset(destination, 0, window);
      (void)liar.commitDirect(window);
      held += window;
    }
    WSN_CHECK(bounded);
    WSN_CHECK(held == 16384u * 32);
  }
  // maxBufferedChunks counts direct reads: once reached, no window opens and
  // the next chunk fails with the limit.
  {
    ParserOptions limited = serverOptions();
    limited.maxBufferedChunks = 3;
    FrameParser parser(limited);
    Bytes frame = frameOf(wsn::kOpBinary, big);
    (void)parser.execute(frame.data(), 14, events.data(), events.size());
    size_t position = 14;
    int windows = 0;
    for (;;) {
      const size_t window = parser.directWindow(1, &destination);
      if (window == 0) break;
      const size_t bytes = std::min<size_t>(window, 1000);
      std::memcpy(destination, frame.data() + position, bytes);
      position += bytes;
      (void)parser.commitDirect(bytes);
      ++windows;
    }
    WSN_CHECK(windows == 3);
    auto result = parser.execute(frame.data() + position, 1000, events.data(),
                                 events.size());
    WSN_CHECK(result.status == Status::kTooManyBufferedParts);
  }
}

// assemblingFragments(): from a non-final data frame's header until the
// final fragment's header; a control frame in between does not end it.
void testAssemblingFragments() {
  FrameParser parser(serverOptions());
  std::vector<ParserEvent> events(8);
  auto feed = [&](const Bytes& bytes) {
    Bytes copy = bytes;
    const auto result =
        parser.execute(copy.data(), copy.size(), events.data(), events.size());
    return result.status == Status::kOk && result.bytesConsumed == copy.size();
  };
  WSN_CHECK(!parser.assemblingFragments());
  WSN_CHECK(feed(frameOf(wsn::kOpBinary, patternOf(100, 1))));
  WSN_CHECK(!parser.assemblingFragments());

  const Bytes first = frameOf(wsn::kOpText, bytesOf("frag"), false);
  // Its header alone already says more fragments follow.
  WSN_CHECK(feed(Bytes(first.begin(), first.begin() + 6)));
  WSN_CHECK(parser.assemblingFragments());
  WSN_CHECK(feed(Bytes(first.begin() + 6, first.end())));
  WSN_CHECK(parser.assemblingFragments());
  WSN_CHECK(feed(frameOf(wsn::kOpPing, bytesOf("p"))));
  WSN_CHECK(parser.assemblingFragments());
  WSN_CHECK(feed(frameOf(wsn::kOpContinuation, bytesOf("ment"), false)));
  WSN_CHECK(parser.assemblingFragments());
  WSN_CHECK(feed(frameOf(wsn::kOpContinuation, bytesOf("ed"), true)));
  WSN_CHECK(!parser.assemblingFragments());
}

int main() {
  testRfcExamples();
  testValidSequences();
  testErrors();
  testCompressed();
  testLimitsAndMemory();
  testAfterCloseAndCapacity();
  testInflateBudget();
  testRandomStreams();
  testDirectReads();
  testAssemblingFragments();
  return wsn::test::finish("frame_parser_test");
}
