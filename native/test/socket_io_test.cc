// Tests of native/core/socket_io over real descriptors (Unix socketpairs,
// loopback TCP, pipes) with small kernel buffers: readSome's four outcomes,
// the outbound queue's order, counters, borrowing and errors. No Node.
#include "socket_io.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "check.h"

namespace {

using Bytes = std::vector<uint8_t>;
using wsn::OutboundQueue;
using wsn::ReadResult;
constexpr size_t kBorrowMin = OutboundQueue::kBorrowMinBytes;

Bytes randomBytes(std::mt19937& rng, size_t length) {
  Bytes bytes(length);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

void setNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  WSN_CHECK(flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
}

void setBuffers(int fd, int bytes) {
  WSN_CHECK(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0);
  WSN_CHECK(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0);
}

// Two connected non-blocking descriptors: bytes written to `writer` arrive
// on `reader`. Closes what is still open.
struct Pair {
  int writer = -1;
  int reader = -1;
  Pair() = default;
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  ~Pair() {
    closeWriter();
    closeReader();
  }
  bool ok() const { return writer >= 0 && reader >= 0; }
  void closeWriter() {
    if (writer >= 0) ::close(writer);
    writer = -1;
  }
  void closeReader() {
    if (reader >= 0) ::close(reader);
    reader = -1;
  }
};

// A socketpair; bufferBytes 0 keeps the kernel's default buffer sizes.
void unixPair(Pair& pair, int bufferBytes) {
  int fds[2];
  WSN_CHECK(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  pair.writer = fds[0];
  pair.reader = fds[1];
  if (bufferBytes > 0) {
    setBuffers(pair.writer, bufferBytes);
    setBuffers(pair.reader, bufferBytes);
  }
  setNonBlocking(pair.writer);
  setNonBlocking(pair.reader);
}

// A loopback TCP connection; leaves the pair closed when loopback is
// unavailable (the caller skips).
void tcpPair(Pair& pair, int bufferBytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) return;
  struct sockaddr_in address;
  std::memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t addressBytes = sizeof address;
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  // Buffer sizes before connect and listen, so the window scale agrees.
  setBuffers(listener, bufferBytes);
  setBuffers(client, bufferBytes);
  if (client >= 0 &&
      ::bind(listener, reinterpret_cast<struct sockaddr*>(&address),
             sizeof address) == 0 &&
      ::listen(listener, 1) == 0 &&
      ::getsockname(listener, reinterpret_cast<struct sockaddr*>(&address),
                    &addressBytes) == 0 &&
      ::connect(client, reinterpret_cast<struct sockaddr*>(&address),
                sizeof address) == 0) {
    pair.writer = client;
    pair.reader = ::accept(listener, nullptr, nullptr);
  } else if (client >= 0) {
    ::close(client);
  }
  ::close(listener);
  if (!pair.ok()) {
    pair.closeWriter();
    pair.closeReader();
    return;
  }
  const int one = 1;
  WSN_CHECK(::setsockopt(pair.writer, IPPROTO_TCP, TCP_NODELAY, &one,
                         sizeof one) == 0);
  setNonBlocking(pair.writer);
  setNonBlocking(pair.reader);
}

// A pipe shrunk to one page, so writes over a page are partial.
void pipePair(Pair& pair) {
  int fds[2];
  WSN_CHECK(::pipe(fds) == 0);
  pair.reader = fds[0];
  pair.writer = fds[1];
  ::fcntl(pair.writer, F_SETPIPE_SZ, 4096);
  setNonBlocking(pair.writer);
  setNonBlocking(pair.reader);
}

// Reads what `fd` has now, at most maxBytes, onto the end of `into`.
size_t drain(int fd, Bytes& into, size_t maxBytes = SIZE_MAX) {
  static uint8_t buffer[64 * 1024];
  size_t total = 0;
  while (total < maxBytes) {
    const size_t want = std::min(sizeof buffer, maxBytes - total);
    const ReadResult result = wsn::readSome(fd, buffer, want);
    // Checked only when it fails, so the check count does not depend on how
    // the kernel split the stream.
    if (result.error != 0) WSN_CHECK(result.error == 0);
    if (result.wouldBlock || result.bytes == 0 || result.error != 0) break;
    into.insert(into.end(), buffer, buffer + result.bytes);
    total += result.bytes;
  }
  return total;
}

// Writes random bytes past the queue until the kernel takes no more, and
// appends them to `expected`: the next queue write then takes nothing.
size_t fill(int fd, Bytes& expected, std::mt19937& rng) {
  size_t total = 0;
  size_t size = 4096;
  for (;;) {
    const Bytes chunk = randomBytes(rng, size);
    const ssize_t written = ::write(fd, chunk.data(), chunk.size());
    if (written < 0) {
      WSN_CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
      if (size == 1) break;
      size = 1;  // a buffer with room for less than a chunk is not full yet
      continue;
    }
    expected.insert(expected.end(), chunk.begin(),
                    chunk.begin() + static_cast<std::ptrdiff_t>(written));
    total += static_cast<size_t>(written);
  }
  return total;
}

// ---- borrowing helpers ----------------------------------------------------

// Every Keeper handed out: which piece, where its bytes end in the queue's
// stream (the flushedBytes() value once they are written), how often it was
// destroyed and whether that was before its bytes were written.
struct KeeperLog {
  struct Entry {
    size_t index = 0;
    uint64_t endOffset = 0;
    int destroyed = 0;
    bool destroyedEarly = false;
  };
  std::vector<Entry> entries;
  std::vector<size_t> calls;  // every index borrow() was asked about
  const OutboundQueue* queue = nullptr;
  bool dropping = false;  // clear() or the queue's destructor is running

  int alive() const {
    int count = 0;
    for (const Entry& entry : entries) count += entry.destroyed == 0 ? 1 : 0;
    return count;
  }
  // Each keeper is alive exactly while its bytes are not all flushed.
  bool aliveMatchesFlushed() const {
    for (const Entry& entry : entries) {
      const bool flushed = queue->flushedBytes() >= entry.endOffset;
      if (entry.destroyed != (flushed ? 1 : 0)) return false;
    }
    return true;
  }
  bool allDestroyedOnce() const {
    for (const Entry& entry : entries) {
      if (entry.destroyed != 1 || entry.destroyedEarly) return false;
    }
    return true;
  }
};

// Holds a piece's storage (so a borrowed piece outlives the caller's
// reference) and counts its own destruction.
class CountingKeeper : public wsn::Keeper {
 public:
  CountingKeeper(KeeperLog* log, size_t entry, std::shared_ptr<Bytes> storage)
      : log_(log), entry_(entry), storage_(std::move(storage)) {}
  ~CountingKeeper() override {
    KeeperLog::Entry& entry = log_->entries[entry_];
    ++entry.destroyed;
    if (!log_->dropping && log_->queue->flushedBytes() < entry.endOffset) {
      entry.destroyedEarly = true;
    }
  }

 private:
  KeeperLog* log_;
  size_t entry_;
  std::shared_ptr<Bytes> storage_;
};

// The pieces of one write() and their storage. Pieces of length zero may
// have a null base, as an empty Buffer does.
struct Batch {
  std::vector<std::shared_ptr<Bytes>> storage;
  std::vector<struct iovec> pieces;
  std::vector<bool> refuse;  // borrow() returns null for these

  void add(Bytes bytes, bool refuseBorrow = false) {
    storage.push_back(std::make_shared<Bytes>(std::move(bytes)));
    struct iovec piece;
    piece.iov_base = storage.back()->empty() ? nullptr : storage.back()->data();
    piece.iov_len = storage.back()->size();
    pieces.push_back(piece);
    refuse.push_back(refuseBorrow);
  }
  size_t totalBytes() const {
    size_t total = 0;
    for (const auto& piece : pieces) total += piece.iov_len;
    return total;
  }
  void appendTo(Bytes& expected) const {
    for (const auto& bytes : storage) {
      expected.insert(expected.end(), bytes->begin(), bytes->end());
    }
  }
};

// The BorrowPiece context for one write().
struct Lender {
  KeeperLog* log = nullptr;
  Batch* batch = nullptr;
  uint64_t baseOffset = 0;  // queue stream bytes before this write
};

std::unique_ptr<wsn::Keeper> lend(void* context, size_t index) {
  auto* lender = static_cast<Lender*>(context);
  lender->log->calls.push_back(index);
  WSN_CHECK(index < lender->batch->pieces.size());
  if (index >= lender->batch->pieces.size()) return nullptr;
  WSN_CHECK(lender->batch->pieces[index].iov_len >= kBorrowMin);
  if (lender->batch->refuse[index]) return nullptr;
  uint64_t endOffset = lender->baseOffset;
  for (size_t i = 0; i <= index; ++i) {
    endOffset += lender->batch->pieces[i].iov_len;
  }
  KeeperLog::Entry entry;
  entry.index = index;
  entry.endOffset = endOffset;
  lender->log->entries.push_back(entry);
  return std::make_unique<CountingKeeper>(lender->log,
                                          lender->log->entries.size() - 1,
                                          lender->batch->storage[index]);
}

// write() with lend(); the batch's bytes go onto `expected`.
int writeBatch(OutboundQueue& queue, int fd, Batch& batch, KeeperLog& log,
               uint64_t& submitted, Bytes& expected) {
  Lender lender;
  lender.log = &log;
  lender.batch = &batch;
  lender.baseOffset = submitted;
  const int error =
      queue.write(fd, batch.pieces.data(), batch.pieces.size(), lend, &lender);
  if (error == 0) {
    submitted += batch.totalBytes();
    batch.appendTo(expected);
  }
  return error;
}

// Alternates reading (at most readLimit bytes a round) and flushing until
// the queue is empty and `wanted` bytes arrived; false after 10 s. Checks
// the counters after every flush, and the keepers when a log is given.
bool pump(OutboundQueue& queue, Pair& pair, Bytes& received, size_t wanted,
          uint64_t submitted, const KeeperLog* log = nullptr,
          size_t readLimit = SIZE_MAX) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool countersOk = true;
  bool keepersOk = true;
  uint64_t lastFlushed = queue.flushedBytes();
  while (std::chrono::steady_clock::now() < deadline) {
    drain(pair.reader, received, readLimit);
    if (!queue.empty()) {
      const int error = queue.flush(pair.writer);
      if (error != 0) {
        WSN_CHECK(error == 0);
        break;
      }
      countersOk = countersOk && queue.flushedBytes() >= lastFlushed &&
                   queue.flushedBytes() + queue.queuedBytes() == submitted;
      lastFlushed = queue.flushedBytes();
      if (log != nullptr) keepersOk = keepersOk && log->aliveMatchesFlushed();
    }
    if (queue.empty() && received.size() >= wanted) break;
    struct pollfd fds[2];
    fds[0].fd = pair.reader;
    fds[0].events = POLLIN;
    fds[1].fd = pair.writer;
    fds[1].events = queue.empty() ? 0 : POLLOUT;
    ::poll(fds, 2, 20);
  }
  WSN_CHECK(countersOk);
  WSN_CHECK(keepersOk);
  WSN_CHECK(queue.empty());
  WSN_CHECK(received.size() == wanted);
  return queue.empty() && received.size() == wanted;
}

// ---- readSome -------------------------------------------------------------

void testReadSome() {
  Pair pair;
  unixPair(pair, 0);
  uint8_t buffer[16];

  // Nothing written yet: would block, not an error and not the end.
  ReadResult result = wsn::readSome(pair.reader, buffer, sizeof buffer);
  WSN_CHECK(result.wouldBlock);
  WSN_CHECK(result.bytes == 0 && result.error == 0);

  WSN_CHECK(::write(pair.writer, "hello world", 11) == 11);
  result = wsn::readSome(pair.reader, buffer, 5);
  WSN_CHECK(!result.wouldBlock && result.error == 0 && result.bytes == 5);
  WSN_CHECK(std::memcmp(buffer, "hello", 5) == 0);
  result = wsn::readSome(pair.reader, buffer, sizeof buffer);
  WSN_CHECK(!result.wouldBlock && result.error == 0 && result.bytes == 6);
  WSN_CHECK(std::memcmp(buffer, " world", 6) == 0);
  result = wsn::readSome(pair.reader, buffer, sizeof buffer);
  WSN_CHECK(result.wouldBlock && result.bytes == 0 && result.error == 0);

  // The peer's FIN: bytes still buffered come first, then the end.
  WSN_CHECK(::write(pair.writer, "bye", 3) == 3);
  WSN_CHECK(::shutdown(pair.writer, SHUT_WR) == 0);
  result = wsn::readSome(pair.reader, buffer, sizeof buffer);
  WSN_CHECK(result.bytes == 3 && std::memcmp(buffer, "bye", 3) == 0);
  result = wsn::readSome(pair.reader, buffer, sizeof buffer);
  WSN_CHECK(result.bytes == 0 && result.error == 0 && !result.wouldBlock);
  // The end stays the end.
  result = wsn::readSome(pair.reader, buffer, sizeof buffer);
  WSN_CHECK(result.bytes == 0 && result.error == 0 && !result.wouldBlock);

  // Errors come back as errno values.
  result = wsn::readSome(-1, buffer, sizeof buffer);
  WSN_CHECK(result.error == EBADF && result.bytes == 0 && !result.wouldBlock);
  Pair pipes;
  pipePair(pipes);
  result = wsn::readSome(pipes.writer, buffer, sizeof buffer);
  WSN_CHECK(result.error == EBADF && !result.wouldBlock);

  // A pipe reads the same way: data, would block, end.
  WSN_CHECK(::write(pipes.writer, "abc", 3) == 3);
  result = wsn::readSome(pipes.reader, buffer, sizeof buffer);
  WSN_CHECK(result.bytes == 3 && std::memcmp(buffer, "abc", 3) == 0);
  result = wsn::readSome(pipes.reader, buffer, sizeof buffer);
  WSN_CHECK(result.wouldBlock && result.error == 0);
  pipes.closeWriter();
  result = wsn::readSome(pipes.reader, buffer, sizeof buffer);
  WSN_CHECK(result.bytes == 0 && result.error == 0 && !result.wouldBlock);

  // A reset TCP connection reads as ECONNRESET.
  Pair tcp;
  tcpPair(tcp, 64 * 1024);
  if (tcp.ok()) {
    WSN_CHECK(::write(tcp.reader, "unread", 6) == 6);
    // Give the bytes time to arrive, so close() finds them unread and resets.
    struct pollfd readable = {tcp.writer, POLLIN, 0};
    WSN_CHECK(::poll(&readable, 1, 2000) == 1);
    tcp.closeWriter();
    readable = {tcp.reader, POLLIN, 0};
    ::poll(&readable, 1, 2000);
    result = wsn::readSome(tcp.reader, buffer, sizeof buffer);
    WSN_CHECK(result.error == ECONNRESET && !result.wouldBlock);
  } else {
    std::printf("socket_io_test: loopback TCP unavailable, skipped\n");
  }
}

// ---- writes the kernel takes whole ----------------------------------------

void testWriteAllTaken() {
  Pair pair;
  unixPair(pair, 256 * 1024);
  std::mt19937 rng(1);
  OutboundQueue queue;
  Bytes expected;
  Bytes received;

  // Empty writes and flushes do nothing.
  WSN_CHECK(queue.write(pair.writer, nullptr, 0) == 0);
  struct iovec empties[3] = {{nullptr, 0}, {nullptr, 0}, {nullptr, 0}};
  WSN_CHECK(queue.write(pair.writer, empties, 3) == 0);
  WSN_CHECK(queue.flush(pair.writer) == 0);
  WSN_CHECK(queue.empty() && queue.queuedBytes() == 0);
  WSN_CHECK(queue.flushedBytes() == 0);

  uint64_t total = 0;
  for (size_t round = 0; round < 5; ++round) {
    Batch batch;
    batch.add(randomBytes(rng, 10 + round));
    batch.add(Bytes());
    batch.add(randomBytes(rng, 200));
    batch.add(randomBytes(rng, 3000 * round));
    WSN_CHECK(queue.write(pair.writer, batch.pieces.data(),
                          batch.pieces.size()) == 0);
    batch.appendTo(expected);
    total += batch.totalBytes();
    WSN_CHECK(queue.queuedBytes() == 0 && queue.empty());
    // A running total over the queue's life.
    WSN_CHECK(queue.flushedBytes() == total);
  }
  drain(pair.reader, received);
  WSN_CHECK(received == expected);

  // The write after a flush that emptied the queue goes straight out too.
  Bytes one = randomBytes(rng, 1);
  struct iovec piece = {one.data(), 1};
  WSN_CHECK(queue.write(pair.writer, &piece, 1) == 0);
  WSN_CHECK(queue.flushedBytes() == total + 1 && queue.empty());
  drain(pair.reader, received);
  WSN_CHECK(received.size() == expected.size() + 1);
  WSN_CHECK(received.back() == one[0]);
}

// ---- partial writes -------------------------------------------------------

void testPartialWrite(bool tcp) {
  Pair pair;
  if (tcp) {
    tcpPair(pair, 16 * 1024);
    if (!pair.ok()) return;
  } else {
    unixPair(pair, 4096);
  }
  std::mt19937 rng(tcp ? 3 : 2);
  OutboundQueue queue;
  Bytes expected;
  Bytes received;
  uint64_t submitted = 0;

  Bytes first = randomBytes(rng, 512 * 1024);
  struct iovec piece = {first.data(), first.size()};
  WSN_CHECK(queue.write(pair.writer, &piece, 1) == 0);
  expected = first;
  submitted = first.size();
  // The kernel took a part and the rest was copied: the caller may reuse
  // its buffer as soon as write() returns.
  const uint64_t took = queue.flushedBytes();
  WSN_CHECK(took > 0 && took < first.size());
  WSN_CHECK(queue.queuedBytes() == first.size() - took);
  WSN_CHECK(!queue.empty());
  std::fill(first.begin(), first.end(), 0xaa);

  // Let the kernel make room, then write more: it is queued behind what is
  // already waiting (not sent ahead of it), so flushedBytes() stays.
  drain(pair.reader, received);
  // A Unix socket hands the reader all it took; TCP may still hold some.
  WSN_CHECK(tcp ? received.size() <= took : received.size() == took);
  for (size_t round = 0; round < 20; ++round) {
    Batch batch;
    batch.add(randomBytes(rng, 1 + round * 97));
    batch.add(Bytes());
    batch.add(randomBytes(rng, round % 3 == 0 ? 40000 : 7));
    WSN_CHECK(queue.write(pair.writer, batch.pieces.data(),
                          batch.pieces.size()) == 0);
    batch.appendTo(expected);
    submitted += batch.totalBytes();
    WSN_CHECK(queue.flushedBytes() == took);
    WSN_CHECK(queue.flushedBytes() + queue.queuedBytes() == submitted);
  }
  // A flush before the reader drains may take some or none; the rest comes
  // as the reader drains.
  WSN_CHECK(queue.flush(pair.writer) == 0);
  WSN_CHECK(queue.flushedBytes() + queue.queuedBytes() == submitted);
  pump(queue, pair, received, expected.size(), submitted);
  WSN_CHECK(received == expected);
  WSN_CHECK(queue.flushedBytes() == submitted);
  WSN_CHECK(queue.empty() && queue.queuedBytes() == 0);

  // The queue is reusable once empty: the next write goes to the kernel.
  Bytes last = randomBytes(rng, 100);
  piece = {last.data(), last.size()};
  WSN_CHECK(queue.write(pair.writer, &piece, 1) == 0);
  WSN_CHECK(queue.flushedBytes() == submitted + 100 && queue.empty());
  expected.insert(expected.end(), last.begin(), last.end());
  submitted += 100;
  pump(queue, pair, received, expected.size(), submitted);
  WSN_CHECK(received == expected);
}

// ---- many pieces and empty pieces -----------------------------------------

// One write() of `sizes`, against a socket that takes it all or only a part;
// checks what arrives. Lengths of zero get a null base.
void writeManyPieces(const std::vector<size_t>& sizes, bool smallBuffer,
                     bool fillFirst, std::mt19937& rng) {
  Pair pair;
  unixPair(pair, smallBuffer ? 4096 : 1024 * 1024);
  OutboundQueue queue;
  Bytes expected;
  Bytes received;
  if (fillFirst) fill(pair.writer, expected, rng);
  Batch batch;
  for (size_t size : sizes) batch.add(randomBytes(rng, size));
  const int error =
      queue.write(pair.writer, batch.pieces.data(), batch.pieces.size());
  WSN_CHECK(error == 0);
  batch.appendTo(expected);
  const uint64_t submitted = batch.totalBytes();
  WSN_CHECK(queue.flushedBytes() + queue.queuedBytes() == submitted);
  if (fillFirst) WSN_CHECK(queue.queuedBytes() == submitted);
  if (!smallBuffer && !fillFirst) {
    WSN_CHECK(queue.empty() && queue.flushedBytes() == submitted);
  }
  // Copied: freeing the caller's pieces changes nothing (ASan would see a
  // read of freed memory).
  batch.storage.clear();
  pump(queue, pair, received, expected.size(), submitted);
  WSN_CHECK(received == expected);
  WSN_CHECK(queue.flushedBytes() == submitted);
}

void testManyPieces() {
  std::mt19937 rng(4);
  for (size_t count : {63, 64, 65, 129, 1024, 1025, 3000}) {
    std::vector<size_t> sizes(count);
    for (size_t i = 0; i < count; ++i) sizes[i] = 1 + rng() % 100;
    writeManyPieces(sizes, false, false, rng);
    writeManyPieces(sizes, true, false, rng);
    writeManyPieces(sizes, true, true, rng);
  }

  // Zero-length pieces anywhere: leading runs longer than one 64-piece
  // window, every third piece, trailing.
  std::vector<size_t> sizes(150, 0);
  for (size_t i = 0; i < 1500; ++i) sizes.push_back(i % 3 == 0 ? 0 : i % 50);
  sizes.insert(sizes.end(), 200, 0);
  for (bool smallBuffer : {false, true}) {
    for (bool fillFirst : {false, true}) {
      writeManyPieces(sizes, smallBuffer, fillFirst, rng);
    }
  }
  // A single byte between long runs of empty pieces.
  sizes.assign(1100, 0);
  sizes[700] = 1;
  writeManyPieces(sizes, false, false, rng);
  writeManyPieces(sizes, true, true, rng);

  // All pieces empty: nothing is sent or queued, whatever the count.
  for (size_t count : {1, 64, 65, 1025, 5000}) {
    Pair pair;
    unixPair(pair, 4096);
    OutboundQueue queue;
    std::vector<struct iovec> empties(count, {nullptr, 0});
    WSN_CHECK(queue.write(pair.writer, empties.data(), count) == 0);
    WSN_CHECK(queue.empty() && queue.flushedBytes() == 0);
    uint8_t byte;
    WSN_CHECK(wsn::readSome(pair.reader, &byte, 1).wouldBlock);
    // Also behind queued bytes: the queue grows by nothing.
    Bytes expected;
    fill(pair.writer, expected, rng);
    Bytes data = randomBytes(rng, 10);
    struct iovec piece = {data.data(), data.size()};
    WSN_CHECK(queue.write(pair.writer, &piece, 1) == 0);
    WSN_CHECK(queue.write(pair.writer, empties.data(), count) == 0);
    WSN_CHECK(queue.queuedBytes() == 10);
    expected.insert(expected.end(), data.begin(), data.end());
    Bytes received;
    pump(queue, pair, received, expected.size(), 10);
    WSN_CHECK(received == expected);
  }
}

// ---- borrowing ------------------------------------------------------------

// What the borrowing tests start from: a Unix socket pair with a 4 KiB send
// buffer, one queue watched by a KeeperLog, and nothing sent yet.
struct BorrowSetup {
  Pair pair;
  std::mt19937 rng;
  OutboundQueue queue;
  KeeperLog log;
  Bytes expected;
  Bytes received;
  uint64_t submitted = 0;

  explicit BorrowSetup(uint32_t seed) : rng(seed) {
    unixPair(pair, 4096);
    log.queue = &queue;
  }
};

// Pieces under the threshold are copied, pieces at or over it borrowed, a
// refused borrow copies; the queue reads borrowed bytes from the caller's
// memory until they are written, then drops the keeper exactly once.
void testBorrowThreshold() {
  BorrowSetup setup(5);
  auto& [pair, rng, queue, log, expected, received, submitted] = setup;
  fill(pair.writer, expected, rng);

  Batch batch;
  batch.add(randomBytes(rng, 100));             // 0: copied
  batch.add(randomBytes(rng, kBorrowMin - 1));  // 1: copied, not asked
  batch.add(randomBytes(rng, kBorrowMin));      // 2: borrowed
  batch.add(randomBytes(rng, 100000));          // 3: borrowed
  batch.add(Bytes());                           // 4: empty
  batch.add(randomBytes(rng, 10));              // 5: copied
  batch.add(randomBytes(rng, 50000), true);     // 6: refused, copied
  batch.add(randomBytes(rng, 3));               // 7: copied
  const Bytes original3 = *batch.storage[3];
  WSN_CHECK(writeBatch(queue, pair.writer, batch, log, submitted, expected) ==
            0);
  WSN_CHECK(queue.flushedBytes() == 0);
  WSN_CHECK(queue.queuedBytes() == submitted);
  WSN_CHECK((log.calls == std::vector<size_t>{2, 3, 6}));
  WSN_CHECK(log.entries.size() == 2 && log.alive() == 2);
  WSN_CHECK(log.entries[0].index == 2 && log.entries[1].index == 3);

  // Overwriting copied pieces after write() returns changes nothing on the
  // wire; borrowed piece 3 is read from the caller's memory when flushed,
  // so changing its bytes now shows (which proves it was not copied).
  for (size_t i : {0, 1, 5, 6, 7}) {
    std::fill(batch.storage[i]->begin(), batch.storage[i]->end(), 0xcc);
  }
  const size_t offset3 = expected.size() - 3 - 50000 - 10 - 100000;
  WSN_CHECK(
      std::equal(original3.begin(), original3.end(),
                 expected.begin() + static_cast<std::ptrdiff_t>(offset3)));
  (*batch.storage[3])[99999] ^= 0xff;
  expected[offset3 + 99999] ^= 0xff;
  // Copied pieces may be freed; borrowed ones stay alive through the keeper.
  batch.storage.clear();

  pump(queue, pair, received, expected.size(), submitted, &log);
  WSN_CHECK(received == expected);
  WSN_CHECK(log.allDestroyedOnce());
  WSN_CHECK(log.alive() == 0);

  // No BorrowPiece at all: large pieces are copied too.
  Batch plain;
  plain.add(randomBytes(rng, 200000));
  WSN_CHECK(queue.write(pair.writer, plain.pieces.data(), 1) == 0);
  WSN_CHECK(queue.flushedBytes() < submitted + 200000);
  plain.appendTo(expected);
  submitted += 200000;
  std::fill(plain.storage[0]->begin(), plain.storage[0]->end(), 0xdd);
  plain.storage.clear();
  pump(queue, pair, received, expected.size(), submitted);
  WSN_CHECK(received == expected);
}

// The kernel takes the head of a large piece inside write(): the rest is
// borrowed from where the kernel stopped, and its keeper lives until the
// last byte is flushed.
void testBorrowAfterPartialWrite() {
  BorrowSetup setup(6);
  auto& [pair, rng, queue, log, expected, received, submitted] = setup;

  Batch batch;
  batch.add(randomBytes(rng, 300));
  batch.add(randomBytes(rng, 400000));
  batch.add(randomBytes(rng, 300));
  WSN_CHECK(writeBatch(queue, pair.writer, batch, log, submitted, expected) ==
            0);
  const uint64_t took = queue.flushedBytes();
  WSN_CHECK(took > 300 && took < 300 + 400000 - kBorrowMin);
  WSN_CHECK(queue.queuedBytes() == submitted - took);
  WSN_CHECK((log.calls == std::vector<size_t>{1}));
  WSN_CHECK(log.alive() == 1 && log.entries[0].endOffset == 400300);
  // Borrowed from the kernel's stop onwards: the last byte of the piece is
  // read at flush time.
  (*batch.storage[1])[399999] ^= 0x5a;
  expected[300 + 399999] ^= 0x5a;
  std::fill(batch.storage[2]->begin(), batch.storage[2]->end(), 0);
  batch.storage.clear();

  pump(queue, pair, received, expected.size(), submitted, &log, 3000);
  WSN_CHECK(received == expected);
  WSN_CHECK(log.allDestroyedOnce());
}

// Alternating runs of small and large pieces over several writes keep their
// order, each large piece borrowed on its own.
void testBorrowMixedRuns() {
  BorrowSetup setup(7);
  auto& [pair, rng, queue, log, expected, received, submitted] = setup;
  fill(pair.writer, expected, rng);

  const char* const patterns[] = {"SLSSLLSL", "LLLL",       "S0L0S",     "0L",
                                  "L0",       "SSSSSSSSSL", "LSSSSSSSSS"};
  size_t expectedBorrows = 0;
  for (const char* pattern : patterns) {
    Batch batch;
    std::vector<size_t> large;
    for (size_t i = 0; pattern[i] != '\0'; ++i) {
      const char kind = pattern[i];
      const size_t size = kind == 'L' ? kBorrowMin + rng() % 30000
                                      : (kind == 'S' ? 1 + rng() % 900 : 0);
      if (kind == 'L') large.push_back(i);
      batch.add(randomBytes(rng, size));
    }
    log.calls.clear();
    WSN_CHECK(writeBatch(queue, pair.writer, batch, log, submitted, expected) ==
              0);
    WSN_CHECK(log.calls == large);
    expectedBorrows += large.size();
    for (auto& storage : batch.storage) {
      if (storage->size() < kBorrowMin) {
        std::fill(storage->begin(), storage->end(), 0xee);
      }
    }
  }
  WSN_CHECK(queue.flushedBytes() == 0);
  WSN_CHECK(log.entries.size() == expectedBorrows);
  WSN_CHECK(static_cast<size_t>(log.alive()) == expectedBorrows);
  pump(queue, pair, received, expected.size(), submitted, &log, 5000);
  WSN_CHECK(received == expected);
  WSN_CHECK(log.allDestroyedOnce());
}

// clear() and the queue's destructor drop keepers exactly once.
void testBorrowClear() {
  std::mt19937 rng(8);
  KeeperLog log;
  {
    Pair pair;
    unixPair(pair, 4096);
    OutboundQueue queue;
    log.queue = &queue;
    Bytes expected;
    uint64_t submitted = 0;
    fill(pair.writer, expected, rng);
    Batch batch;
    batch.add(randomBytes(rng, kBorrowMin));
    batch.add(randomBytes(rng, 10));
    batch.add(randomBytes(rng, 2 * kBorrowMin));
    batch.add(randomBytes(rng, 3 * kBorrowMin));
    WSN_CHECK(writeBatch(queue, pair.writer, batch, log, submitted, expected) ==
              0);
    WSN_CHECK(log.alive() == 3);
    log.dropping = true;
    queue.clear();
    log.dropping = false;
    WSN_CHECK(log.alive() == 0 && log.allDestroyedOnce());
    log.entries.clear();
    WSN_CHECK(queue.empty() && queue.queuedBytes() == 0);
    WSN_CHECK(queue.flushedBytes() == 0);
    WSN_CHECK(queue.flush(pair.writer) == 0);
    queue.clear();
    WSN_CHECK(log.allDestroyedOnce());

    // Still usable after clear(), on a fresh connection.
    Pair fresh;
    unixPair(fresh, 4096);
    Bytes expected2;
    Bytes received;
    fill(fresh.writer, expected2, rng);
    Batch more;
    more.add(randomBytes(rng, 2 * kBorrowMin));
    more.add(randomBytes(rng, 5));
    submitted = queue.flushedBytes();
    WSN_CHECK(
        writeBatch(queue, fresh.writer, more, log, submitted, expected2) == 0);
    WSN_CHECK(log.alive() == 1);
    pump(queue, fresh, received, expected2.size(), submitted, &log);
    WSN_CHECK(received == expected2);
    WSN_CHECK(log.alive() == 0 && log.allDestroyedOnce());

    // Left queued when the queue goes away.
    Batch last;
    last.add(randomBytes(rng, kBorrowMin + 1));
    last.add(randomBytes(rng, kBorrowMin + 2));
    fill(fresh.writer, expected2, rng);
    WSN_CHECK(
        writeBatch(queue, fresh.writer, last, log, submitted, expected2) == 0);
    WSN_CHECK(log.alive() == 2);
    log.dropping = true;
  }
  WSN_CHECK(log.entries.size() == 3);
  WSN_CHECK(log.alive() == 0 && log.allDestroyedOnce());
}

// ---- errors ---------------------------------------------------------------

// The test keeps SIGPIPE's default action: a write that raised it would end
// the process instead of returning EPIPE.
void testErrors() {
  std::mt19937 rng(9);
  Bytes data = randomBytes(rng, 100000);
  struct iovec pieces[2] = {{data.data(), 1000}, {data.data() + 1000, 99000}};

  {
    // Peer gone before the write.
    Pair pair;
    unixPair(pair, 4096);
    pair.closeReader();
    OutboundQueue queue;
    const int error = queue.write(pair.writer, pieces, 2);
    WSN_CHECK(error == EPIPE || error == ECONNRESET);
    WSN_CHECK(queue.empty() && queue.queuedBytes() == 0);
    WSN_CHECK(queue.flushedBytes() == 0);
    // Again, now on an already failed socket.
    WSN_CHECK(queue.write(pair.writer, pieces, 2) == EPIPE);
    WSN_CHECK(queue.empty());
  }
  {
    // Peer gone while bytes are queued: write() only appends, flush() fails.
    Pair pair;
    unixPair(pair, 4096);
    OutboundQueue queue;
    KeeperLog log;
    log.queue = &queue;
    Bytes expected;
    uint64_t submitted = 0;
    fill(pair.writer, expected, rng);
    Batch batch;
    batch.add(randomBytes(rng, 4 * kBorrowMin));
    WSN_CHECK(writeBatch(queue, pair.writer, batch, log, submitted, expected) ==
              0);
    pair.closeReader();
    WSN_CHECK(queue.write(pair.writer, pieces, 2) == 0);
    WSN_CHECK(queue.queuedBytes() == submitted + 100000);
    const int error = queue.flush(pair.writer);
    WSN_CHECK(error == EPIPE || error == ECONNRESET);
    WSN_CHECK(log.alive() == 1);
    log.dropping = true;
    queue.clear();
    WSN_CHECK(log.allDestroyedOnce() && queue.empty());
  }
  {
    // TCP: closing with unread bytes resets the connection.
    Pair pair;
    tcpPair(pair, 16 * 1024);
    if (pair.ok()) {
      OutboundQueue queue;
      WSN_CHECK(queue.write(pair.writer, pieces, 1) == 0);
      struct pollfd readable = {pair.reader, POLLIN, 0};
      WSN_CHECK(::poll(&readable, 1, 2000) == 1);
      pair.closeReader();
      int error = 0;
      for (int attempt = 0; attempt < 200 && error == 0; ++attempt) {
        error = queue.write(pair.writer, pieces, 2);
        if (error == 0) {
          // The reset has not arrived yet: start over on an empty queue.
          queue.clear();
          ::poll(nullptr, 0, 5);
        }
      }
      WSN_CHECK(error == ECONNRESET || error == EPIPE);
      WSN_CHECK(queue.empty());
      WSN_CHECK(queue.write(pair.writer, pieces, 2) == EPIPE);
    }
  }
  {
    // Not a descriptor at all.
    OutboundQueue queue;
    WSN_CHECK(queue.write(-1, pieces, 2) == EBADF);
    WSN_CHECK(queue.empty() && queue.flushedBytes() == 0);
  }
}

// A pipe is not a socket: sendmsg fails with ENOTSOCK and writev does the
// work, partial writes included.
void testPipe() {
  std::mt19937 rng(10);
  Pair pair;
  pipePair(pair);
  OutboundQueue queue;
  KeeperLog log;
  log.queue = &queue;
  Bytes expected;
  Bytes received;
  uint64_t submitted = 0;
  Batch batch;
  batch.add(randomBytes(rng, 1000));
  batch.add(randomBytes(rng, 100000));
  batch.add(Bytes());
  for (int i = 0; i < 100; ++i) batch.add(randomBytes(rng, 1 + rng() % 200));
  WSN_CHECK(writeBatch(queue, pair.writer, batch, log, submitted, expected) ==
            0);
  WSN_CHECK(queue.flushedBytes() > 0);
  WSN_CHECK(queue.flushedBytes() + queue.queuedBytes() == submitted);
  WSN_CHECK(!queue.empty());
  WSN_CHECK(log.alive() == 1);
  batch.storage.clear();
  pump(queue, pair, received, expected.size(), submitted, &log, 1000);
  WSN_CHECK(received == expected);
  WSN_CHECK(log.allDestroyedOnce());

  // Whole writes through the fallback.
  Bytes small = randomBytes(rng, 500);
  struct iovec piece = {small.data(), small.size()};
  WSN_CHECK(queue.write(pair.writer, &piece, 1) == 0);
  WSN_CHECK(queue.empty() && queue.flushedBytes() == submitted + 500);
  received.clear();
  drain(pair.reader, received);
  WSN_CHECK(received == small);
}

// writev has no MSG_NOSIGNAL: a pipe whose reader is gone must still come
// back as EPIPE, without a SIGPIPE delivered or left pending. Runs in a child
// so that a signal ends only the child.
void testPipeReaderGone() {
  int fds[2];
  WSN_CHECK(::pipe(fds) == 0);
  ::close(fds[0]);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  WSN_CHECK(child >= 0);
  if (child == 0) {
    OutboundQueue queue;
    uint8_t bytes[100] = {1, 2, 3};
    struct iovec piece = {bytes, sizeof bytes};
    const int error = queue.write(fds[1], &piece, 1);
    sigset_t pending;
    sigset_t blocked;
    ::sigpending(&pending);
    ::pthread_sigmask(SIG_BLOCK, nullptr, &blocked);
    const bool clean =
        !::sigismember(&pending, SIGPIPE) && !::sigismember(&blocked, SIGPIPE);
    ::_exit(error == EPIPE && queue.empty() && clean ? 0 : 1);
  }
  ::close(fds[1]);
  int status = 0;
  WSN_CHECK(::waitpid(child, &status, 0) == child);
  WSN_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "socket_io_test: pipe writer killed by signal %d\n",
                 WTERMSIG(status));
  }
}

// ---- randomized -----------------------------------------------------------

// Random piece sizes (empty to several times the borrow threshold), borrow
// choices, flush calls and reader drain amounts; the received stream must be
// the concatenation of everything written, and every keeper must be
// destroyed once, after its bytes left.
void testRandomized(bool tcp, uint32_t seed) {
  Pair pair;
  if (tcp) {
    tcpPair(pair, 32 * 1024);
    if (!pair.ok()) return;
  } else {
    unixPair(pair, 8192);
  }
  std::mt19937 rng(seed);
  OutboundQueue queue;
  KeeperLog log;
  log.queue = &queue;
  Bytes expected;
  Bytes received;
  uint64_t submitted = 0;
  bool countersOk = true;
  bool keepersOk = true;
  size_t borrowed = 0;

  for (int round = 0; round < 200; ++round) {
    Batch batch;
    const size_t count = rng() % 8 == 0 ? 1 + rng() % 100 : 1 + rng() % 6;
    for (size_t i = 0; i < count; ++i) {
      const size_t kind = rng() % 10;
      size_t size = 0;
      if (kind < 1) {
        size = 0;
      } else if (kind < 5) {
        size = 1 + rng() % 200;
      } else if (kind < 8) {
        size = 200 + rng() % (kBorrowMin + 100);
      } else {
        size = kBorrowMin - 50 + rng() % (4 * kBorrowMin);
      }
      batch.add(randomBytes(rng, size), rng() % 4 == 0);
    }
    const bool useBorrow = rng() % 5 != 0;
    Lender lender;
    lender.log = &log;
    lender.batch = &batch;
    lender.baseOffset = submitted;
    const size_t entriesBefore = log.entries.size();
    const int error =
        queue.write(pair.writer, batch.pieces.data(), batch.pieces.size(),
                    useBorrow ? lend : nullptr, &lender);
    WSN_CHECK(error == 0);
    submitted += batch.totalBytes();
    batch.appendTo(expected);
    borrowed += log.entries.size() - entriesBefore;
    // Copied pieces are freed now; borrowed ones live in their keepers.
    batch.storage.clear();
    countersOk =
        countersOk && queue.flushedBytes() + queue.queuedBytes() == submitted;

    if (rng() % 2 == 0) {
      const size_t limits[] = {0, 1, 100, 4096, 65536, SIZE_MAX};
      drain(pair.reader, received, limits[rng() % 6]);
    }
    if (rng() % 3 == 0 && !queue.empty()) {
      countersOk = countersOk && queue.flush(pair.writer) == 0;
      countersOk =
          countersOk && queue.flushedBytes() + queue.queuedBytes() == submitted;
      keepersOk = keepersOk && log.aliveMatchesFlushed();
    }
    countersOk = countersOk && received.size() <= queue.flushedBytes();
  }
  WSN_CHECK(countersOk);
  WSN_CHECK(keepersOk);
  WSN_CHECK(borrowed > 0);
  pump(queue, pair, received, expected.size(), submitted, &log);
  WSN_CHECK(received == expected);
  WSN_CHECK(queue.flushedBytes() == submitted);
  WSN_CHECK(log.allDestroyedOnce());
}

}  // namespace

int main() {
  testReadSome();
  testWriteAllTaken();
  testPartialWrite(false);
  testPartialWrite(true);
  testManyPieces();
  testBorrowThreshold();
  testBorrowAfterPartialWrite();
  testBorrowMixedRuns();
  testBorrowClear();
  testErrors();
  testPipe();
  testPipeReaderGone();
  testRandomized(false, 20240611);
  testRandomized(true, 20240612);
  return wsn::test::finish("socket_io_test");
}
