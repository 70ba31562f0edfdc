// Non-blocking reads and writes on a connected stream socket, and the queue
// of outbound bytes the kernel has not taken yet. POSIX only: no libuv, no
// Node; the binding decides when the descriptor is readable or writable.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace wsn {

// Result of one read: bytes read (> 0), end of stream (bytes == 0 and
// error == 0), nothing to read now (wouldBlock) or an errno value.
struct ReadResult {
  size_t bytes = 0;
  int error = 0;
  bool wouldBlock = false;
};

// Reads at most `capacity` bytes into `out`. Retries EINTR.
[[nodiscard]] ReadResult readSome(int fd, uint8_t* out,
                                  size_t capacity) noexcept;

// Keeps a caller's bytes alive while the queue points into them; destroyed
// once they are written or dropped, on the thread that uses the queue.
class Keeper {
 public:
  virtual ~Keeper() = default;
};

// Called for a piece of at least kBorrowMinBytes that the kernel did not
// take whole: returns what keeps pieces[index] alive, or null to copy it.
using BorrowPiece = std::unique_ptr<Keeper> (*)(void* context, size_t index);

// Bytes accepted by send() and not yet written to the socket, in order.
// What the kernel did not take is copied, except large pieces the caller
// lends (see BorrowPiece): copying a megabyte per partial write cost more
// than the write itself. Not thread-safe.
class OutboundQueue {
 public:
  static constexpr size_t kBorrowMinBytes = 16 * 1024;

  // Writes `pieces` (after anything already queued) and queues the rest.
  // Tries the socket first when nothing is queued. Returns 0, or the errno
  // of a failed write (EPIPE, ECONNRESET...): then nothing was queued.
  [[nodiscard]] int write(int fd, const struct iovec* pieces, size_t count,
                          BorrowPiece borrow = nullptr,
                          void* context = nullptr);

  // Writes as much of the queue as the socket takes now. Returns 0 or errno.
  [[nodiscard]] int flush(int fd) noexcept;

  size_t queuedBytes() const noexcept { return queuedBytes_; }
  bool empty() const noexcept { return queuedBytes_ == 0; }
  // Bytes handed to the kernel over the queue's life: callers compare it to
  // their own running total to know which writes have left.
  uint64_t flushedBytes() const noexcept { return flushedBytes_; }

  // Drops everything queued (the connection is gone).
  void clear() noexcept;

 private:
  struct Chunk {
    const uint8_t* data = nullptr;
    size_t length = 0;
    size_t offset = 0;                 // bytes of this chunk already written
    std::unique_ptr<uint8_t[]> owned;  // copied bytes, or
    std::unique_ptr<Keeper> keeper;    // what keeps borrowed bytes alive
  };

  void append(const struct iovec* pieces, size_t count, size_t skipBytes,
              BorrowPiece borrow, void* context);
  void appendCopy(const struct iovec* pieces, size_t first, size_t end,
                  size_t skipBytes);

  std::vector<Chunk> chunks_;
  size_t head_ = 0;  // first chunk not fully written
  size_t queuedBytes_ = 0;
  uint64_t flushedBytes_ = 0;
};

}  // namespace wsn
