// Tests of native/core/deflate: RFC 7692 §7.2.3 examples byte for byte, round
// trips at every window size, the inflate limit, corrupt input, and the zlib
// memory accounting.
#include "deflate.h"

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"

namespace {

using wsn::ByteBuffer;
using wsn::DeflateOptions;
using wsn::Deflater;
using wsn::Inflater;
using wsn::Status;

std::vector<uint8_t> bytesOf(const ByteBuffer& buffer) {
  return std::vector<uint8_t>(buffer.data(), buffer.data() + buffer.size());
}

std::vector<uint8_t> textBytes(const char* text) {
  return std::vector<uint8_t>(text, text + std::strlen(text));
}

std::vector<uint8_t> compressOnce(Deflater& deflater,
                                  const std::vector<uint8_t>& input,
                                  bool fin = true) {
  ByteBuffer out;
  WSN_CHECK(deflater.compress(input.data(), input.size(), fin, out) ==
            Status::kOk);
  return bytesOf(out);
}

void testRfcExamples() {
  // RFC 7692 §7.2.3.1: "Hello" in one compressed message.
  DeflateOptions options;
  Deflater deflater(options);
  const std::vector<uint8_t> hello = textBytes("Hello");
  const std::vector<uint8_t> first = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  WSN_CHECK(compressOnce(deflater, hello) == first);
  // RFC 7692 §7.2.3.2: the same message again, referencing the first through
  // the shared window (the RFC's frame is c1 05 f2 00 11 00 00: five payload
  // bytes).
  const std::vector<uint8_t> second = {0xf2, 0x00, 0x11, 0x00, 0x00};
  WSN_CHECK(compressOnce(deflater, hello) == second);

  // Without context takeover both messages compress alike.
  options.noContextTakeover = true;
  Deflater fresh(options);
  WSN_CHECK(compressOnce(fresh, hello) == first);
  WSN_CHECK(compressOnce(fresh, hello) == first);

  Inflater inflater(15, false);
  ByteBuffer out;
  WSN_CHECK(inflater.inflate(first.data(), first.size(), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(bytesOf(out) == hello);
  out.clear();
  WSN_CHECK(inflater.inflate(second.data(), second.size(), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(bytesOf(out) == hello);

  // RFC 7692 §7.2.3.3: a stored (uncompressed) block.
  const std::vector<uint8_t> stored = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                       0x65, 0x6c, 0x6c, 0x6f, 0x00};
  Inflater storedInflater(15, false);
  out.clear();
  WSN_CHECK(storedInflater.inflate(stored.data(), stored.size(), true, out,
                                   0) == Status::kOk);
  WSN_CHECK(bytesOf(out) == hello);

  // RFC 7692 §7.2.3.1, fragmented: f2 48 cd | c9 c9 07 00.
  Inflater fragments(15, false);
  out.clear();
  const uint8_t part1[] = {0xf2, 0x48, 0xcd};
  const uint8_t part2[] = {0xc9, 0xc9, 0x07, 0x00};
  WSN_CHECK(fragments.inflate(part1, sizeof(part1), false, out, 0) ==
            Status::kOk);
  WSN_CHECK(fragments.inflate(part2, sizeof(part2), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(bytesOf(out) == hello);

  // RFC 7692 §7.2.3.4 sets BFINAL: f3 48 cd c9 c9 07 00 00 inflates to "Hello"
  // and the next message starts a new stream.
  const std::vector<uint8_t> final = {0xf3, 0x48, 0xcd, 0xc9,
                                      0xc9, 0x07, 0x00, 0x00};
  Inflater finalInflater(15, false);
  for (int round = 0; round < 2; ++round) {
    out.clear();
    WSN_CHECK(finalInflater.inflate(final.data(), final.size(), true, out, 0) ==
              Status::kOk);
    WSN_CHECK(bytesOf(out) == hello);
  }
}

void testEmptyMessages() {
  DeflateOptions options;
  Deflater deflater(options);
  Inflater inflater(15, false);
  for (int round = 0; round < 3; ++round) {
    ByteBuffer compressed;
    WSN_CHECK(deflater.compress(nullptr, 0, true, compressed) == Status::kOk);
    // RFC 7692 §7.2.3.6: an empty message is the single byte 0x00.
    WSN_CHECK(compressed.size() == 1 && compressed.data()[0] == 0x00);
    ByteBuffer plain;
    WSN_CHECK(inflater.inflate(compressed.data(), compressed.size(), true,
                               plain, 0) == Status::kOk);
    WSN_CHECK(plain.size() == 0);
  }
}

void testRoundTrips() {
  std::mt19937 random(7692);
  for (int windowBits = 8; windowBits <= 15; ++windowBits) {
    for (int takeover = 0; takeover < 2; ++takeover) {
      DeflateOptions options;
      options.windowBits = windowBits;
      options.noContextTakeover = takeover == 0;
      Deflater deflater(options);
      Inflater inflater(windowBits, takeover == 0);
      for (int message = 0; message < 6; ++message) {
        // Text-like data with repeats so back-references reach far into the
        // window.
        std::vector<uint8_t> input(static_cast<size_t>(random() % 70000));
        for (size_t i = 0; i < input.size(); ++i) {
          input[i] = i > 600 && random() % 3 != 0
                         ? input[i - 300 - random() % 300]
                         : static_cast<uint8_t>('a' + random() % 26);
        }
        // Split into fragments: every fragment but the last is flushed and kept
        // whole.
        ByteBuffer compressed;
        size_t done = 0;
        while (done < input.size()) {
          const size_t part =
              std::min<size_t>(input.size() - done, 1 + random() % 20000);
          const bool fin = done + part == input.size();
          WSN_CHECK(deflater.compress(input.data() + done, part, fin,
                                      compressed) == Status::kOk);
          done += part;
        }
        if (input.empty())
          WSN_CHECK(deflater.compress(nullptr, 0, true, compressed) ==
                    Status::kOk);
        ByteBuffer plain;
        const size_t half = compressed.size() / 2;
        WSN_CHECK(inflater.inflate(compressed.data(), half, false, plain, 0) ==
                  Status::kOk);
        WSN_CHECK(inflater.inflate(compressed.data() + half,
                                   compressed.size() - half, true, plain,
                                   0) == Status::kOk);
        WSN_CHECK(bytesOf(plain) == input);
      }
    }
  }
}

void testLimit() {
  // 16 MiB of zeros against a 1 MiB limit: stopped with the output bounded by
  // limit + one step.
  DeflateOptions options;
  Deflater deflater(options);
  std::vector<uint8_t> zeros(16 << 20, 0);
  ByteBuffer bomb;
  WSN_CHECK(deflater.compress(zeros.data(), zeros.size(), true, bomb) ==
            Status::kOk);
  WSN_CHECK(bomb.size() < 64 * 1024);

  const uint64_t limit = 1 << 20;
  Inflater inflater(15, false);
  ByteBuffer out;
  WSN_CHECK(inflater.inflate(bomb.data(), bomb.size(), true, out, limit) ==
            Status::kMessageTooBig);
  WSN_CHECK(out.size() == limit + 1);
  WSN_CHECK(out.capacity() <= limit + 1);
  // The message was abandoned: the state is gone until the next message.
  WSN_CHECK(inflater.memoryBytes() == 0);

  // Exactly at the limit is allowed (ws rejects only totals above maxPayload).
  std::vector<uint8_t> exact(limit, 'x');
  Deflater exactDeflater(options);
  ByteBuffer exactCompressed;
  WSN_CHECK(exactDeflater.compress(exact.data(), exact.size(), true,
                                   exactCompressed) == Status::kOk);
  Inflater exactInflater(15, false);
  out.reset();
  WSN_CHECK(exactInflater.inflate(exactCompressed.data(),
                                  exactCompressed.size(), true, out,
                                  limit) == Status::kOk);
  WSN_CHECK(out.size() == limit);

  // The limit counts the whole message across fragments, whatever buffer each
  // call gets.
  Inflater fragmented(15, false);
  const size_t half = exactCompressed.size() / 2;
  ByteBuffer first;
  ByteBuffer second;
  WSN_CHECK(fragmented.inflate(exactCompressed.data(), half, false, first,
                               limit - 1) == Status::kOk);
  WSN_CHECK(fragmented.inflate(exactCompressed.data() + half,
                               exactCompressed.size() - half, true, second,
                               limit - 1) == Status::kMessageTooBig);
}

void testCorrupt() {
  Inflater inflater(15, false);
  ByteBuffer out;
  // BTYPE 11 is reserved (RFC 1951 §3.2.3).
  const uint8_t reserved[] = {0xff, 0xff, 0xff};
  int code = 0;
  WSN_CHECK(inflater.inflate(reserved, sizeof(reserved), true, out, 0, &code) ==
            Status::kInflateFailed);
  WSN_CHECK(code == -3);  // Z_DATA_ERROR
  // A stored block whose NLEN is not the complement of LEN.
  const uint8_t badStored[] = {0x00, 0x05, 0x00, 0x00, 0x00,
                               'H',  'e',  'l',  'l',  'o'};
  out.clear();
  WSN_CHECK(inflater.inflate(badStored, sizeof(badStored), true, out, 0,
                             &code) == Status::kInflateFailed);
  WSN_CHECK(code == -3);
  // After a failure the next message starts a new stream.
  const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  out.clear();
  WSN_CHECK(inflater.inflate(hello, sizeof(hello), true, out, 0, &code) ==
            Status::kOk);
  WSN_CHECK(out.size() == 5 && std::memcmp(out.data(), "Hello", 5) == 0);
  // RFC 7692 §7.2.3.2's second message refers back to the first: alone it
  // points before the start of the output.
  const uint8_t second[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
  Inflater fresh(15, false);
  out.clear();
  WSN_CHECK(fresh.inflate(second, sizeof(second), true, out, 0, &code) ==
            Status::kInflateFailed);
  WSN_CHECK(code == -3);
}

void testMemory() {
  DeflateOptions options;
  options.noContextTakeover = true;
  Deflater resetDeflater(options);
  Inflater resetInflater(15, true);
  WSN_CHECK(resetDeflater.memoryBytes() == 0);
  WSN_CHECK(resetInflater.memoryBytes() == 0);
  const std::vector<uint8_t> hello = textBytes("Hello");
  const std::vector<uint8_t> compressed = compressOnce(resetDeflater, hello);
  WSN_CHECK(resetDeflater.memoryBytes() == 0);
  ByteBuffer out;
  WSN_CHECK(resetInflater.inflate(compressed.data(), compressed.size(), true,
                                  out, 0) == Status::kOk);
  WSN_CHECK(resetInflater.memoryBytes() == 0);
  // A fragment keeps the state until the message ends.
  ByteBuffer partial;
  WSN_CHECK(resetDeflater.compress(hello.data(), hello.size(), false,
                                   partial) == Status::kOk);
  WSN_CHECK(resetDeflater.memoryBytes() > 0);
  WSN_CHECK(resetDeflater.compress(nullptr, 0, true, partial) == Status::kOk);
  WSN_CHECK(resetDeflater.memoryBytes() == 0);

  options.noContextTakeover = false;
  Deflater keepDeflater(options);
  Inflater keepInflater(15, false);
  WSN_CHECK(keepDeflater.memoryBytes() == 0);  // lazily allocated
  const std::vector<uint8_t> kept = compressOnce(keepDeflater, hello);
  // zlib's documented need for windowBits 15, memLevel 8: (1 << 17) + (1 << 17)
  // plus state.
  WSN_CHECK(keepDeflater.memoryBytes() >= (1u << 17) + (1u << 17));
  WSN_CHECK(keepDeflater.memoryBytes() < 320 * 1024);
  out.clear();
  WSN_CHECK(keepInflater.inflate(kept.data(), kept.size(), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(keepInflater.memoryBytes() >= (1u << 15));
  WSN_CHECK(keepInflater.memoryBytes() < 48 * 1024);
  std::printf(
      "deflate memory (15, 8): %zu bytes; inflate memory (15): %zu bytes\n",
      keepDeflater.memoryBytes(), keepInflater.memoryBytes());
}

}  // namespace

int main() {
  testRfcExamples();
  testEmptyMessages();
  testRoundTrips();
  testLimit();
  testCorrupt();
  testMemory();
  return wsn::test::finish("deflate_test");
}
