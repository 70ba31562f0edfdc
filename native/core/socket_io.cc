// Non-blocking socket reads and writes and the outbound byte queue. sendmsg
// with MSG_NOSIGNAL, so a peer that went away is an EPIPE, never a signal.
#include "socket_io.h"

#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wsn {
namespace {

// Linux caps one writev at IOV_MAX (1024) pieces.
constexpr size_t kMaxPiecesPerCall = 64;

// writev has no MSG_NOSIGNAL: SIGPIPE is blocked around it and one it raised
// is taken back, so a pipe whose reader is gone is an EPIPE as well (libpq
// does the same around its writes). Costs three extra system calls per write,
// on pipes only.
ssize_t writevNoSignal(int fd, const struct iovec* pieces, int count) noexcept {
  sigset_t pipeOnly;
  sigemptyset(&pipeOnly);
  sigaddset(&pipeOnly, SIGPIPE);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous);
  sigset_t pending;
  sigpending(&pending);
  const bool wasPending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t written;
  do {
    written = ::writev(fd, pieces, count);
  } while (written < 0 && errno == EINTR);
  const int error = errno;
  if (written < 0 && error == EPIPE && !wasPending) {
    sigpending(&pending);
    int taken = 0;
    if (sigismember(&pending, SIGPIPE) == 1) sigwait(&pipeOnly, &taken);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = error;
  return written;
}

// Writes what the socket takes now. Returns bytes written, or -errno;
// EAGAIN is 0 bytes.
ssize_t sendPieces(int fd, const struct iovec* pieces, size_t count) noexcept {
  struct msghdr message;
  std::memset(&message, 0, sizeof message);
  message.msg_iov = const_cast<struct iovec*>(pieces);
  message.msg_iovlen = std::min(count, kMaxPiecesPerCall);
  for (;;) {
    const ssize_t written =
        ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written >= 0) return written;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    // A descriptor that is not a socket (a pipe): fall back to writev.
    if (errno == ENOTSOCK) {
      const ssize_t plain =
          writevNoSignal(fd, pieces, static_cast<int>(message.msg_iovlen));
      if (plain >= 0) return plain;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    }
    return -errno;
  }
}

}  // namespace

ReadResult readSome(int fd, uint8_t* out, size_t capacity) noexcept {
  ReadResult result;
  for (;;) {
    const ssize_t got = ::read(fd, out, capacity);
    if (got >= 0) {
      result.bytes = static_cast<size_t>(got);
      return result;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      result.wouldBlock = true;
    } else {
      result.error = errno;
    }
    return result;
  }
}

int OutboundQueue::write(int fd, const struct iovec* pieces, size_t count,
                         BorrowPiece borrow, void* context) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += pieces[i].iov_len;
  if (total == 0) return 0;
  if (!empty()) {
    append(pieces, count, 0, borrow, context);
    return 0;
  }
  size_t written = 0;
  size_t index = 0;        // first piece not fully written
  size_t pieceOffset = 0;  // bytes of pieces[index] already written
  while (written < total) {
    struct iovec window[kMaxPiecesPerCall];
    size_t n = 0;
    size_t windowBytes = 0;
    for (size_t i = index; i < count && n < kMaxPiecesPerCall; ++i, ++n) {
      const size_t skip = i == index ? pieceOffset : 0;
      window[n].iov_base = static_cast<uint8_t*>(pieces[i].iov_base) + skip;
      window[n].iov_len = pieces[i].iov_len - skip;
      windowBytes += window[n].iov_len;
    }
    const ssize_t sent = sendPieces(fd, window, n);
    if (sent < 0) return static_cast<int>(-sent);
    written += static_cast<size_t>(sent);
    flushedBytes_ += static_cast<uint64_t>(sent);
    size_t left = static_cast<size_t>(sent);
    while (index < count && left >= pieces[index].iov_len - pieceOffset) {
      left -= pieces[index].iov_len - pieceOffset;
      ++index;
      pieceOffset = 0;
    }
    pieceOffset += left;
    // The kernel took less than offered: its buffer is full.
    if (static_cast<size_t>(sent) < windowBytes) break;
  }
  if (written < total) append(pieces, count, written, borrow, context);
  return 0;
}

void OutboundQueue::append(const struct iovec* pieces, size_t count,
                           size_t skipBytes, BorrowPiece borrow,
                           void* context) {
  // Skip what was written, then queue piece by piece: large lent pieces by
  // reference, runs of the others copied into one chunk.
  size_t index = 0;
  while (index < count && skipBytes >= pieces[index].iov_len) {
    skipBytes -= pieces[index].iov_len;
    ++index;
  }
  size_t runStart = index;
  size_t runSkip = skipBytes;
  for (; index < count; ++index) {
    const size_t skip = index == runStart ? runSkip : 0;
    const size_t length = pieces[index].iov_len - skip;
    if (borrow == nullptr || length < kBorrowMinBytes) continue;
    std::unique_ptr<Keeper> keeper = borrow(context, index);
    if (!keeper) continue;
    appendCopy(pieces, runStart, index, runSkip);
    Chunk chunk;
    chunk.data = static_cast<const uint8_t*>(pieces[index].iov_base) + skip;
    chunk.length = length;
    chunk.keeper = std::move(keeper);
    chunks_.push_back(std::move(chunk));
    queuedBytes_ += length;
    runStart = index + 1;
    runSkip = 0;
  }
  appendCopy(pieces, runStart, count, runSkip);
}

void OutboundQueue::appendCopy(const struct iovec* pieces, size_t first,
                               size_t end, size_t skipBytes) {
  if (first >= end) return;
  size_t length = 0;
  for (size_t i = first; i < end; ++i) length += pieces[i].iov_len;
  length -= skipBytes;
  if (length == 0) return;
  Chunk chunk;
  chunk.owned.reset(new uint8_t[length]);
  chunk.data = chunk.owned.get();
  chunk.length = length;
  size_t filled = 0;
  for (size_t i = first; i < end; ++i) {
    const size_t skip = i == first ? skipBytes : 0;
    // An empty piece may have a null base (an empty Buffer's data): memcpy
    // from null is undefined even for zero bytes.
    if (pieces[i].iov_len == skip) continue;
    std::memcpy(chunk.owned.get() + filled,
                static_cast<const uint8_t*>(pieces[i].iov_base) + skip,
                pieces[i].iov_len - skip);
    filled += pieces[i].iov_len - skip;
  }
  chunks_.push_back(std::move(chunk));
  queuedBytes_ += length;
}

int OutboundQueue::flush(int fd) noexcept {
  while (head_ < chunks_.size()) {
    struct iovec window[kMaxPiecesPerCall];
    size_t n = 0;
    size_t windowBytes = 0;
    for (size_t i = head_; i < chunks_.size() && n < kMaxPiecesPerCall;
         ++i, ++n) {
      window[n].iov_base =
          const_cast<uint8_t*>(chunks_[i].data) + chunks_[i].offset;
      window[n].iov_len = chunks_[i].length - chunks_[i].offset;
      windowBytes += window[n].iov_len;
    }
    const ssize_t sent = sendPieces(fd, window, n);
    if (sent < 0) return static_cast<int>(-sent);
    size_t left = static_cast<size_t>(sent);
    flushedBytes_ += left;
    queuedBytes_ -= left;
    while (left > 0) {
      Chunk& chunk = chunks_[head_];
      const size_t take = std::min(left, chunk.length - chunk.offset);
      chunk.offset += take;
      left -= take;
      if (chunk.offset == chunk.length) {
        chunk.owned.reset();
        chunk.keeper.reset();
        ++head_;
      }
    }
    if (static_cast<size_t>(sent) < windowBytes) break;
  }
  if (head_ == chunks_.size()) {
    chunks_.clear();
    head_ = 0;
  } else if (head_ > 64) {
    chunks_.erase(chunks_.begin(),
                  chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  return 0;
}

void OutboundQueue::clear() noexcept {
  chunks_.clear();
  chunks_.shrink_to_fit();
  head_ = 0;
  queuedBytes_ = 0;
}

}  // namespace wsn
