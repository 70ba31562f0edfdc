// Tests of native/core/deflate: RFC 7692 §7.2.3 examples byte for byte, round
// trips at every window size checked by a single zlib stream, the inflate
// limit, corrupt input, the history ring, pooled streams (resumed, reset,
// interleaved, moved between threads) and the memory accounting.
#include "deflate.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
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

// Empties the pools so a test starts from a known state.
void releasePools() {
  Deflater::releasePool();
  Inflater::releasePool();
}

// Text-like data with repeats reaching up to 600 bytes back.
std::vector<uint8_t> textLike(std::mt19937& random, size_t length) {
  std::vector<uint8_t> input(length);
  for (size_t i = 0; i < input.size(); ++i) {
    input[i] = i > 600 && random() % 3 != 0
                   ? input[i - 300 - random() % 300]
                   : static_cast<uint8_t>('a' + random() % 26);
  }
  return input;
}

// zlib itself as the reference peer: one raw inflate stream over all of a
// connection's messages, each given its tail back (RFC 7692 §7.2.2).
class ReferenceInflater {
 public:
  explicit ReferenceInflater(int windowBits) {
    ok_ = inflateInit2(&stream_, -windowBits) == Z_OK;
  }
  ~ReferenceInflater() { inflateEnd(&stream_); }
  ReferenceInflater(const ReferenceInflater&) = delete;
  ReferenceInflater& operator=(const ReferenceInflater&) = delete;

  // False on any zlib error.
  bool inflateMessage(std::vector<uint8_t> compressed,
                      std::vector<uint8_t>* plain) {
    if (!ok_) return false;
    compressed.insert(compressed.end(), {0x00, 0x00, 0xff, 0xff});
    plain->clear();
    stream_.next_in = compressed.data();
    stream_.avail_in = static_cast<uInt>(compressed.size());
    uint8_t chunk[4096];
    do {
      stream_.next_out = chunk;
      stream_.avail_out = sizeof(chunk);
      const int code = ::inflate(&stream_, Z_SYNC_FLUSH);
      if (code != Z_OK && code != Z_BUF_ERROR) return false;
      plain->insert(plain->end(), chunk,
                    chunk + (sizeof(chunk) - stream_.avail_out));
      if (code == Z_BUF_ERROR && stream_.avail_out != 0) break;
    } while (stream_.avail_in != 0 || stream_.avail_out == 0);
    return stream_.avail_in == 0;
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

void testHistoryRing() {
  std::mt19937 random(1951);
  for (size_t limit : {size_t{1}, size_t{7}, size_t{512}, size_t{8192}}) {
    wsn::detail::HistoryRing ring(limit);
    std::vector<uint8_t> all;
    for (int round = 0; round < 300; ++round) {
      const size_t length = random() % 4 == 0 ? random() % (2 * limit + 2)
                                              : random() % (limit / 3 + 2);
      std::vector<uint8_t> bytes(length);
      for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(random());
      WSN_CHECK(ring.append(bytes.data(), bytes.size()));
      all.insert(all.end(), bytes.begin(), bytes.end());
      const uint8_t* first = nullptr;
      const uint8_t* second = nullptr;
      size_t firstBytes = 0;
      size_t secondBytes = 0;
      ring.spans(&first, &firstBytes, &second, &secondBytes);
      std::vector<uint8_t> held(first, first + firstBytes);
      held.insert(held.end(), second, second + secondBytes);
      const size_t keep = std::min(limit, all.size());
      WSN_CHECK(held == std::vector<uint8_t>(all.end() - keep, all.end()));
      WSN_CHECK(ring.sizeBytes() == keep);
      // It grows with what it holds and never past its limit.
      WSN_CHECK(ring.memoryBytes() <= limit);
      WSN_CHECK(ring.memoryBytes() >= keep);
    }
    ring.reset();
    WSN_CHECK(ring.memoryBytes() == 0 && ring.sizeBytes() == 0);
  }
  // A ring with limit 0 keeps nothing and allocates nothing.
  wsn::detail::HistoryRing none(0);
  const uint8_t byte = 1;
  WSN_CHECK(none.append(&byte, 1));
  WSN_CHECK(none.sizeBytes() == 0 && none.memoryBytes() == 0);
}

void testRfcExamplesOnBorrowedStreams() {
  const std::vector<uint8_t> hello = textBytes("Hello");
  const std::vector<uint8_t> first = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  const std::vector<uint8_t> second = {0xf2, 0x00, 0x11, 0x00, 0x00};

  // The stream freed between the messages: a new one gets "Hello" as its
  // dictionary and the second message is still the §7.2.3.2 back-reference.
  releasePools();
  Deflater deflater{DeflateOptions()};
  WSN_CHECK(compressOnce(deflater, hello) == first);
  Deflater::releasePool();
  WSN_CHECK(Deflater::poolBytes() == 0);
  WSN_CHECK(compressOnce(deflater, hello) == second);

  // Six connections taking turns with a pool of four: from the
  // second round on, each borrows a stream another one used last, reset and
  // given its own history. No history leaks: every first message is the full
  // §7.2.3.1 one, every second one refers only to its own first, and each
  // message is byte for byte what one unbroken stream writes.
  releasePools();
  Deflater alone{DeflateOptions()};
  std::vector<std::vector<uint8_t>> unbroken;
  for (int round = 0; round < 4; ++round)
    unbroken.push_back(compressOnce(alone, hello));
  WSN_CHECK(unbroken[0] == first && unbroken[1] == second);
  std::vector<std::unique_ptr<Deflater>> deflaters;
  for (int i = 0; i < 6; ++i)
    deflaters.push_back(std::make_unique<Deflater>(DeflateOptions()));
  for (int round = 0; round < 4; ++round) {
    for (auto& each : deflaters) {
      WSN_CHECK(compressOnce(*each, hello) == unbroken[round]);
    }
  }

  // The same for inflaters: a stream last used by another connection, whose
  // window holds "Hello", must not let a new connection resolve the
  // back-reference of §7.2.3.2.
  releasePools();
  std::vector<std::unique_ptr<Inflater>> inflaters;
  for (int i = 0; i < 4; ++i) {
    inflaters.push_back(std::make_unique<Inflater>(15, false));
    ByteBuffer out;
    WSN_CHECK(inflaters.back()->inflate(first.data(), first.size(), true, out,
                                        0) == Status::kOk);
  }
  Inflater newcomer(15, false);
  ByteBuffer out;
  int code = 0;
  WSN_CHECK(newcomer.inflate(second.data(), second.size(), true, out, 0,
                             &code) == Status::kInflateFailed);
  WSN_CHECK(code == Z_DATA_ERROR);
  // Each of the four still resolves it, resumed or restored.
  for (auto& each : inflaters) {
    out.clear();
    WSN_CHECK(each->inflate(second.data(), second.size(), true, out, 0) ==
              Status::kOk);
    WSN_CHECK(bytesOf(out) == hello);
  }
  // Restored from history after the pool was emptied.
  Inflater::releasePool();
  out.clear();
  WSN_CHECK(inflaters[0]->inflate(second.data(), second.size(), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(bytesOf(out) == hello);
}

// A 32-byte JSON-like message: the same keys every time, changing values.
std::vector<uint8_t> jsonLike(std::mt19937& random) {
  static const char* const kTypes[] = {"msg", "ack", "ping", "join", "move"};
  char text[64];
  std::snprintf(text, sizeof(text), "{\"t\":\"%s\",\"id\":%u,\"x\":%u}",
                kTypes[random() % 5],
                static_cast<unsigned>(10000 + random() % 90000),
                static_cast<unsigned>(random() % 1000));
  std::vector<uint8_t> bytes(32, ' ');
  std::memcpy(bytes.data(), text, std::min<size_t>(32, std::strlen(text)));
  return bytes;
}

// What one connection sends must not depend on what other connections sent
// through the same pooled streams: zlib compares candidate matches using bytes
// past the end of the data, so a stream reset, not re-created, would let
// another connection's plaintext change this one's compressed bytes (and
// sizes). Reference: the same connection given a brand-new stream for every
// message.
void testNoCrossConnectionInfluence() {
  std::mt19937 random(4242);
  std::vector<std::vector<uint8_t>> messages;
  for (int i = 0; i < 400; ++i) messages.push_back(jsonLike(random));
  std::vector<std::vector<uint8_t>> reference;
  {
    Deflater alone{DeflateOptions()};
    for (const std::vector<uint8_t>& message : messages) {
      releasePools();
      reference.push_back(compressOnce(alone, message));
    }
  }
  for (int fill = 0; fill < 3; ++fill) {
    releasePools();
    std::vector<std::unique_ptr<Deflater>> others;
    for (int i = 0; i < 6; ++i)
      others.push_back(std::make_unique<Deflater>(DeflateOptions()));
    Deflater watched{DeflateOptions()};
    std::vector<uint8_t> junk(3000, static_cast<uint8_t>('a' + fill));
    int differing = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
      for (auto& other : others) {
        junk[(i * 7) % junk.size()] ^= 1;
        compressOnce(*other, junk);
      }
      if (compressOnce(watched, messages[i]) != reference[i]) ++differing;
    }
    WSN_CHECK(differing == 0);
  }
}

// How the streams are shared while a test runs.
enum class Sharing {
  kResumed,      // the pool always gives each connection its own stream back
  kRestored,     // the pool is emptied before every call
  kInterleaved,  // seven connections take turns: streams pass between them
};

// Many messages per connection with context takeover, most of them larger
// than the window, each checked by our inflater and by one zlib stream per
// connection over all of its messages.
void testTakeoverRoundTrips(Sharing sharing) {
  std::mt19937 random(7692 + static_cast<unsigned>(sharing));
  const int connections = sharing == Sharing::kInterleaved ? 7 : 1;
  for (int windowBits = 8; windowBits <= 15; ++windowBits) {
    releasePools();
    std::vector<std::unique_ptr<Deflater>> deflaters;
    std::vector<std::unique_ptr<Inflater>> inflaters;
    std::vector<std::unique_ptr<ReferenceInflater>> references;
    for (int i = 0; i < connections; ++i) {
      DeflateOptions options;
      options.windowBits = windowBits;
      // Histories shorter than, equal to and longer than the window.
      options.maxHistoryBytes = size_t{64} << (i % 4 * 3);
      deflaters.push_back(std::make_unique<Deflater>(options));
      inflaters.push_back(std::make_unique<Inflater>(windowBits, false));
      // Our window-8 deflater writes stored blocks, valid for any window;
      // zlib cannot inflate raw with 8, and 9 is the 8 of RFC 7692 §7.1.2.1.
      references.push_back(
          std::make_unique<ReferenceInflater>(std::max(windowBits, 9)));
    }
    const int messages = sharing == Sharing::kInterleaved ? 40 : 12;
    for (int message = 0; message < messages; ++message) {
      for (int c = 0; c < connections; ++c) {
        // Small messages refer into earlier ones; large ones exceed the
        // window, so only its tail can be referenced.
        const size_t length =
            random() % 3 == 0 ? random() % 200 : random() % 3000 + 40000;
        const std::vector<uint8_t> input = textLike(random, length);
        ByteBuffer compressed;
        size_t done = 0;
        do {
          if (sharing == Sharing::kRestored) releasePools();
          const size_t part =
              std::min<size_t>(input.size() - done, 1 + random() % 30000);
          const bool fin = done + part == input.size();
          WSN_CHECK(deflaters[c]->compress(input.data() + done, part, fin,
                                           compressed) == Status::kOk);
          done += part;
        } while (done < input.size());
        const std::vector<uint8_t> wire = bytesOf(compressed);
        ByteBuffer plain;
        size_t fed = 0;
        do {
          if (sharing == Sharing::kRestored) releasePools();
          const size_t part =
              std::min<size_t>(wire.size() - fed, 1 + random() % 9000);
          const bool fin = fed + part == wire.size();
          WSN_CHECK(inflaters[c]->inflate(wire.data() + fed, part, fin, plain,
                                          0) == Status::kOk);
          fed += part;
        } while (fed < wire.size());
        WSN_CHECK(bytesOf(plain) == input);
        std::vector<uint8_t> reference;
        WSN_CHECK(references[c]->inflateMessage(wire, &reference));
        WSN_CHECK(reference == input);
        // Between messages only history is held: at most zlib's full 15-bit
        // window, which every inflater uses (split invariance, deflate.cc).
        WSN_CHECK(inflaters[c]->memoryBytes() <= (size_t{1} << 15));
        WSN_CHECK(deflaters[c]->memoryBytes() <=
                  std::min<size_t>(size_t{64} << (c % 4 * 3),
                                   size_t{1} << windowBits));
      }
    }
  }
}

// zlib as the sender, with one stream across all messages, our inflater as the
// receiver, the pool emptied between messages: every history restore is used.
void testInflateZlibStream() {
  std::mt19937 random(1007);
  for (int windowBits = 9; windowBits <= 15; ++windowBits) {
    z_stream sender{};
    WSN_CHECK(deflateInit2(&sender, 9, Z_DEFLATED, -windowBits, 9,
                           Z_DEFAULT_STRATEGY) == Z_OK);
    Inflater inflater(windowBits, false);
    for (int message = 0; message < 20; ++message) {
      const std::vector<uint8_t> input =
          textLike(random, random() % 2 == 0 ? random() % 100 : 70000);
      std::vector<uint8_t> wire(deflateBound(&sender, input.size()) + 64);
      sender.next_in = const_cast<uint8_t*>(input.data());
      sender.avail_in = static_cast<uInt>(input.size());
      sender.next_out = wire.data();
      sender.avail_out = static_cast<uInt>(wire.size());
      WSN_CHECK(deflate(&sender, Z_SYNC_FLUSH) == Z_OK);
      wire.resize(wire.size() - sender.avail_out - 4);
      releasePools();
      ByteBuffer plain;
      WSN_CHECK(inflater.inflate(wire.data(), wire.size(), true, plain, 0) ==
                Status::kOk);
      WSN_CHECK(bytesOf(plain) == input);
    }
    deflateEnd(&sender);
  }
}

// One Deflater and one Inflater used in turn from the main thread and from
// short-lived threads, as the binding's threadpool calls are: the stream one
// thread gives back is resumed by the next call on another thread, and what it
// writes stays one stream for the peer. Then threads using the pool at once.
void testThreads() {
  releasePools();
  std::mt19937 random(2026);
  DeflateOptions options;
  Deflater deflater(options);
  Inflater inflater(15, false);
  ReferenceInflater reference(15);
  for (int message = 0; message < 8; ++message) {
    const std::vector<uint8_t> input = textLike(random, 5000 + random() % 100);
    std::vector<uint8_t> wire;
    ByteBuffer plain;
    const auto work = [&]() {
      ByteBuffer compressed;
      WSN_CHECK(deflater.compress(input.data(), input.size(), true,
                                  compressed) == Status::kOk);
      wire = bytesOf(compressed);
      WSN_CHECK(inflater.inflate(wire.data(), wire.size(), true, plain, 0) ==
                Status::kOk);
    };
    if (message % 2 == 0) {
      work();
    } else {
      std::thread thread(work);
      thread.join();
    }
    WSN_CHECK(bytesOf(plain) == input);
    std::vector<uint8_t> check;
    WSN_CHECK(reference.inflateMessage(wire, &check));
    WSN_CHECK(check == input);
  }
  // Threads sharing the pool at the same time, two connections each. The
  // harness's counters are not thread-safe: each thread counts its own
  // failures, checked after the join.
  std::vector<std::thread> threads;
  std::vector<int> failures(3, 0);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([t, &failures]() {
      std::mt19937 local(static_cast<unsigned>(t));
      Deflater deflaters[2] = {Deflater{DeflateOptions()},
                               Deflater{DeflateOptions()}};
      Inflater inflaters[2] = {Inflater(15, false), Inflater(15, false)};
      ReferenceInflater references[2] = {ReferenceInflater(15),
                                         ReferenceInflater(15)};
      for (int message = 0; message < 60; ++message) {
        const int c = message % 2;
        const std::vector<uint8_t> input = textLike(local, local() % 3000);
        ByteBuffer compressed;
        ByteBuffer plain;
        std::vector<uint8_t> check;
        const bool ok =
            deflaters[c].compress(input.data(), input.size(), true,
                                  compressed) == Status::kOk &&
            inflaters[c].inflate(compressed.data(), compressed.size(), true,
                                 plain, 0) == Status::kOk &&
            bytesOf(plain) == input &&
            references[c].inflateMessage(bytesOf(compressed), &check) &&
            check == input;
        if (!ok) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int count : failures) WSN_CHECK(count == 0);
}

void testMemory() {
  releasePools();
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
  // Between fragments a deflater holds only the message so far.
  ByteBuffer partial;
  WSN_CHECK(resetDeflater.compress(hello.data(), hello.size(), false,
                                   partial) == Status::kOk);
  WSN_CHECK(resetDeflater.memoryBytes() == hello.size());
  WSN_CHECK(resetDeflater.compress(nullptr, 0, true, partial) == Status::kOk);
  WSN_CHECK(resetDeflater.memoryBytes() == 0);

  // With context takeover: the history only, however large the window. The
  // streams went back to the pool: one deflate stream of zlib's documented
  // (1 << 17) + (1 << 17) plus state, one inflate window of 1 << 15.
  releasePools();
  options.noContextTakeover = false;
  Deflater keepDeflater(options);
  Inflater keepInflater(15, false);
  WSN_CHECK(keepDeflater.memoryBytes() == 0);
  std::mt19937 random(32);
  const std::vector<uint8_t> small = textLike(random, 32);
  const std::vector<uint8_t> kept = compressOnce(keepDeflater, small);
  out.clear();
  WSN_CHECK(keepInflater.inflate(kept.data(), kept.size(), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(keepDeflater.memoryBytes() == 32);
  WSN_CHECK(keepInflater.memoryBytes() == 32);
  WSN_CHECK(Deflater::poolBytes() >= (1u << 17) + (1u << 17));
  WSN_CHECK(Deflater::poolBytes() < 320 * 1024);
  WSN_CHECK(Inflater::poolBytes() >= (1u << 15));
  WSN_CHECK(Inflater::poolBytes() < 48 * 1024);
  std::printf(
      "after one 32 B message: deflater %zu bytes, inflater %zu bytes; pool: "
      "deflate %zu, inflate %zu bytes\n",
      keepDeflater.memoryBytes(), keepInflater.memoryBytes(),
      Deflater::poolBytes(), Inflater::poolBytes());

  const std::vector<uint8_t> large = textLike(random, 64 * 1024);
  const std::vector<uint8_t> largeWire = compressOnce(keepDeflater, large);
  out.clear();
  WSN_CHECK(keepInflater.inflate(largeWire.data(), largeWire.size(), true, out,
                                 0) == Status::kOk);
  WSN_CHECK(keepDeflater.memoryBytes() == options.maxHistoryBytes);
  WSN_CHECK(keepInflater.memoryBytes() == (1u << 15));
  std::printf("after one 64 KiB message: deflater %zu bytes, inflater %zu\n",
              keepDeflater.memoryBytes(), keepInflater.memoryBytes());

  // Mid-message an inflater holds the borrowed stream, whose window now has
  // the history, and not a second copy of it; at the end of the message it
  // takes the window back as history, which the next message, inflated on a
  // new stream, refers into.
  const std::vector<uint8_t> again = compressOnce(keepDeflater, large);
  const size_t half = again.size() / 2;
  out.clear();
  WSN_CHECK(keepInflater.inflate(again.data(), half, false, out, 0) ==
            Status::kOk);
  WSN_CHECK(keepInflater.memoryBytes() >= (1u << 15));
  WSN_CHECK(keepInflater.memoryBytes() < 48 * 1024);
  WSN_CHECK(keepInflater.inflate(again.data() + half, again.size() - half, true,
                                 out, 0) == Status::kOk);
  WSN_CHECK(bytesOf(out) == large);
  WSN_CHECK(keepInflater.memoryBytes() == (1u << 15));
  releasePools();
  const std::vector<uint8_t> tail(large.end() - 200, large.end());
  const std::vector<uint8_t> third = compressOnce(keepDeflater, tail);
  WSN_CHECK(third.size() < 16);  // one back-reference
  out.clear();
  WSN_CHECK(keepInflater.inflate(third.data(), third.size(), true, out, 0) ==
            Status::kOk);
  WSN_CHECK(bytesOf(out) == tail);

  // The pool keeps at most four idle streams of each kind.
  releasePools();
  std::vector<std::unique_ptr<Deflater>> many;
  for (int i = 0; i < 10; ++i) {
    many.push_back(std::make_unique<Deflater>(options));
    compressOnce(*many.back(), small);
  }
  WSN_CHECK(Deflater::poolBytes() > 4 * ((1u << 17) + (1u << 17)));
  WSN_CHECK(Deflater::poolBytes() < 4 * 320 * 1024);
  releasePools();
  WSN_CHECK(Deflater::poolBytes() == 0);
  WSN_CHECK(Inflater::poolBytes() == 0);

  // zlib's deflater uses at most the window minus 262 bytes of a dictionary:
  // no more is kept.
  DeflateOptions narrow;
  narrow.windowBits = 9;
  Deflater narrowDeflater(narrow);
  compressOnce(narrowDeflater, large);
  WSN_CHECK(narrowDeflater.memoryBytes() == 512 - 262);

  // Stored blocks (window 8) never refer back: no history is kept.
  DeflateOptions stored;
  stored.windowBits = 8;
  Deflater storedDeflater(stored);
  compressOnce(storedDeflater, large);
  WSN_CHECK(storedDeflater.memoryBytes() == 0);
}

}  // namespace

int main() {
  testRfcExamples();
  testEmptyMessages();
  testRoundTrips();
  testLimit();
  testCorrupt();
  testHistoryRing();
  testRfcExamplesOnBorrowedStreams();
  testNoCrossConnectionInfluence();
  testTakeoverRoundTrips(Sharing::kResumed);
  testTakeoverRoundTrips(Sharing::kRestored);
  testTakeoverRoundTrips(Sharing::kInterleaved);
  testInflateZlibStream();
  testThreads();
  testMemory();
  return wsn::test::finish("deflate_test");
}
