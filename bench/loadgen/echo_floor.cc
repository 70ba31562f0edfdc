// wsn-echo-floor: a single-threaded epoll WebSocket echo server with no
// JavaScript, the benchmark's measured floor for server CPU per echo. Shares
// frame.cc and handshake.cc with wsn-loadgen; nothing from native/core.
//
//   wsn-echo-floor [--port 0]       listens on 127.0.0.1; 0 = ephemeral port
//                  [--read-bytes 262144]
//                  [--fresh-reads 0]
//
// --fresh-reads N gives each read a newly allocated buffer and frees it N
// reads later, as a garbage-collected server frees a message's Buffer some
// time after its last use. It models the memory traffic every Node server
// pays (ws-native delivers each message in a Buffer of its own, as ws does)
// without any JavaScript, so the floor can be compared with and without it.
//
// Per readable event: one recv() into the connection's buffer, parse every
// complete client frame, unmask it into one output buffer, one send(). Data
// frames are echoed frame by frame with the client's FIN and opcode, so a
// fragmented message comes back fragmented the same way. No UTF-8 check and no
// fragmentation-order check (it is a floor, not a conforming server).
// A permessage-deflate offer is ignored (not accepted), so clients do not
// compress; --deflate is refused. Prints {"event":"ready",...} and exits when
// stdin closes; a "stats" line on stdin prints {"event":"stats",...}, as
// bench/servers do.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "frame.h"
#include "handshake.h"

namespace wsn::bench {
namespace {

// Room for each recv() (--read-bytes). 256 KiB rather than libuv's 64 KiB:
// 64 KiB binary ×1 d16 took 20–23 µs of server CPU per echo against 24–50 µs
// (4 runs each on the shared 2-core VM); 32 B ×1000 did not get worse.
size_t readBytes = 256 * 1024;
constexpr size_t kMaxHeadBytes = 16 * 1024;
constexpr uint64_t kMaxFrameBytes = 64 * 1024 * 1024;

// A byte buffer that grows without zero-filling, so an idle connection's
// untouched buffer pages never become resident. Live bytes: [begin, end).
struct Buffer {
  std::unique_ptr<uint8_t[]> data;
  size_t capacity = 0, begin = 0, end = 0;

  size_t size() const { return end - begin; }
  // Makes room for `bytes` more at data + end: compacts, then grows.
  void reserveTail(size_t bytes) {
    if (capacity - end >= bytes) return;
    if (begin > 0) {
      std::memmove(data.get(), data.get() + begin, size());
      end -= begin;
      begin = 0;
    }
    if (capacity - end >= bytes) return;
    const size_t grown = std::max(2 * capacity, end + bytes);
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[grown]);
    if (end > 0) std::memcpy(bigger.get(), data.get(), end);
    data = std::move(bigger);
    capacity = grown;
  }
  void append(const void* bytes, size_t count) {
    reserveTail(count);
    std::memcpy(data.get() + end, bytes, count);
    end += count;
  }
};

struct Connection {
  int fd = -1;
  bool upgraded = false;
  bool closeWhenSent = false;  // a close frame was echoed (RFC 6455 §5.5.1)
  Buffer in;
  Buffer pending;  // output a partial send() left behind
};

// --fresh-reads: buffers that were read into, freed `freshReads` reads later.
size_t freshReads = 0;
std::vector<std::unique_ptr<uint8_t[]>> retiredBuffers;
size_t nextRetired = 0;

int epollFd = -1;
std::vector<std::unique_ptr<Connection>> connections;  // indexed by fd
Buffer out;  // echoes of one read, reused for every connection
size_t openConnections = 0;
size_t protocolErrors = 0;

std::string_view headerValue(std::string_view head, std::string_view name) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    const size_t eol = std::min(head.find("\r\n", pos), head.size());
    std::string_view line = head.substr(pos, eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.data(), name.data(), name.size()) == 0) {
      line.remove_prefix(name.size() + 1);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
        line.remove_prefix(1);
      while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
      return line;
    }
  }
  return {};
}

bool containsIgnoreCase(std::string_view text, std::string_view word) {
  for (size_t i = 0; i + word.size() <= text.size(); ++i) {
    if (strncasecmp(text.data() + i, word.data(), word.size()) == 0)
      return true;
  }
  return false;
}

// RFC 6455 §4.2.1 item 5: the key is base64 of 16 bytes, 24 characters.
bool validKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.end() - 2, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  });
}

// Checks the upgrade request head and appends the 101 to `out`; false means
// the request is refused. Sec-WebSocket-Extensions is deliberately ignored.
bool upgrade(std::string_view head) {
  const std::string_view key = headerValue(head, "sec-websocket-key");
  if (head.substr(0, 4) != "GET " || !validKey(key) ||
      !containsIgnoreCase(headerValue(head, "upgrade"), "websocket") ||
      !containsIgnoreCase(headerValue(head, "connection"), "upgrade") ||
      headerValue(head, "sec-websocket-version") != "13") {
    return false;
  }
  const std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
      expectedAccept(std::string(key)) + "\r\n\r\n";
  out.append(response.data(), response.size());
  return true;
}

// Appends an unmasked server frame carrying the unmasked payload.
void appendEcho(const FrameHeader& h, const uint8_t* payload) {
  const size_t bytes = static_cast<size_t>(h.payloadBytes);
  out.reserveTail(10 + bytes);
  uint8_t* p = out.data.get() + out.end;
  const uint8_t opcode = h.opcode == kOpPing ? kOpPong : h.opcode;
  p[0] = static_cast<uint8_t>((h.fin ? 0x80 : 0) | opcode);
  size_t headerBytes = 2;
  if (bytes < 126) {
    p[1] = static_cast<uint8_t>(bytes);
  } else if (bytes <= 0xFFFF) {
    p[1] = 126;
    p[2] = static_cast<uint8_t>(bytes >> 8);
    p[3] = static_cast<uint8_t>(bytes);
    headerBytes = 4;
  } else {
    p[1] = 127;
    for (int i = 0; i < 8; ++i)
      p[2 + i] = static_cast<uint8_t>(h.payloadBytes >> (56 - 8 * i));
    headerBytes = 10;
  }
  maskCopy(p + headerBytes, payload, bytes, h.maskKey, 0);
  out.end += headerBytes + bytes;
}

// Echoes every complete frame in c.in; false on a protocol error.
bool parseFrames(Connection& c) {
  while (!c.closeWhenSent) {
    FrameHeader h;
    const uint8_t* start = c.in.data.get() + c.in.begin;
    const HeaderStatus status = parseFrameHeader(start, c.in.size(), &h);
    if (status == HeaderStatus::kNeedMore) return true;
    const bool control = (h.opcode & 0x8) != 0;
    // §5.1 clients mask; §5.2 no RSV bits without an extension; §5.5
    // control frames are final and at most 125 bytes.
    if (status != HeaderStatus::kOk || !h.masked || h.rsv1 || h.rsv23 ||
        (h.opcode > kOpBinary && !control) || h.opcode > kOpPong ||
        (control && (!h.fin || h.payloadBytes > 125)) ||
        h.payloadBytes > kMaxFrameBytes) {
      return false;
    }
    if (c.in.size() - h.headerBytes < h.payloadBytes) return true;
    if (h.opcode != kOpPong) appendEcho(h, start + h.headerBytes);
    if (h.opcode == kOpClose) c.closeWhenSent = true;
    c.in.begin += h.headerBytes + static_cast<size_t>(h.payloadBytes);
  }
  return true;
}

void closeConnection(int fd) {
  ::close(fd);  // also removes it from the epoll set
  connections[static_cast<size_t>(fd)].reset();
  --openConnections;
}

void setInterest(const Connection& c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = c.fd;
  epoll_ctl(epollFd, EPOLL_CTL_MOD, c.fd, &ev);
}

// One send(); returns the bytes sent (0 when the socket buffer is full) or
// -1 when the connection is gone.
ssize_t sendSome(int fd, const uint8_t* data, size_t bytes) {
  for (;;) {
    const ssize_t sent = ::send(fd, data, bytes, MSG_NOSIGNAL);
    if (sent >= 0) return sent;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) return -1;
  }
}

// --fresh-reads: the next read goes into a new buffer; the one just parsed is
// freed `freshReads` reads from now.
void retireInput(Connection& c) {
  if (retiredBuffers.size() < freshReads) retiredBuffers.resize(freshReads);
  retiredBuffers[nextRetired] = std::move(c.in.data);
  nextRetired = (nextRetired + 1) % freshReads;
  c.in.data.reset(new uint8_t[readBytes]);
  c.in.capacity = readBytes;
}

void onWritable(Connection& c) {
  const ssize_t sent =
      sendSome(c.fd, c.pending.data.get() + c.pending.begin, c.pending.size());
  if (sent < 0) return closeConnection(c.fd);
  c.pending.begin += static_cast<size_t>(sent);
  if (c.pending.size() > 0) return;  // still waiting for EPOLLOUT
  c.pending.begin = c.pending.end = 0;
  if (c.closeWhenSent) return closeConnection(c.fd);
  setInterest(c, EPOLLIN);
}

void onReadable(Connection& c) {
  c.in.reserveTail(readBytes);
  const ssize_t got =
      ::recv(c.fd, c.in.data.get() + c.in.end, c.in.capacity - c.in.end, 0);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) return closeConnection(c.fd);
  c.in.end += static_cast<size_t>(got);
  out.begin = out.end = 0;
  if (!c.upgraded) {
    const std::string_view all(reinterpret_cast<char*>(c.in.data.get()),
                               c.in.end);
    const size_t headEnd = all.find("\r\n\r\n");
    if (headEnd == std::string_view::npos && all.size() <= kMaxHeadBytes)
      return;
    if (headEnd == std::string_view::npos || !upgrade(all.substr(0, headEnd))) {
      static constexpr char kRefusal[] =
          "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
      ::send(c.fd, kRefusal, sizeof kRefusal - 1, MSG_NOSIGNAL);
      ++protocolErrors;
      return closeConnection(c.fd);
    }
    c.upgraded = true;
    c.in.begin = headEnd + 4;
  }
  if (!parseFrames(c)) {
    ++protocolErrors;  // a floor does not send 1002 (RFC 6455 §7.4.1)
    return closeConnection(c.fd);
  }
  if (c.in.size() == 0) {
    c.in.begin = c.in.end = 0;
    if (freshReads > 0) retireInput(c);
  }
  if (out.size() == 0) return;
  // Behind earlier output (only after EPOLLHUP/EPOLLERR): queue, keep order.
  if (c.pending.size() > 0) return c.pending.append(out.data.get(), out.size());
  // Everything this read produced, in one send(). What the socket does not
  // take waits for EPOLLOUT, and reading pauses meanwhile (back-pressure: at
  // most one read's echoes are queued per connection).
  const ssize_t sent = sendSome(c.fd, out.data.get(), out.size());
  if (sent < 0) return closeConnection(c.fd);
  if (static_cast<size_t>(sent) < out.size()) {
    c.pending.append(out.data.get() + sent,
                     out.size() - static_cast<size_t>(sent));
    return setInterest(c, EPOLLOUT);
  }
  if (c.closeWhenSent) closeConnection(c.fd);
}

void acceptAll(int listenFd) {
  for (;;) {
    const int fd =
        accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of descriptors until one closes
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connections.size() <= static_cast<size_t>(fd))
      connections.resize(static_cast<size_t>(fd) + 1);
    connections[static_cast<size_t>(fd)] = std::make_unique<Connection>();
    connections[static_cast<size_t>(fd)]->fd = fd;
    ++openConnections;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epollFd, EPOLL_CTL_ADD, fd, &ev);
  }
}

// The harness's control channel: false once stdin is closed.
bool onStdin() {
  static std::string line;
  char chunk[256];
  const ssize_t got = ::read(STDIN_FILENO, chunk, sizeof chunk);
  if (got <= 0) return got < 0 && errno == EINTR;
  line.append(chunk, static_cast<size_t>(got));
  for (size_t eol; (eol = line.find('\n')) != std::string::npos;) {
    if (line.compare(0, eol, "stats") == 0) {
      long residentPages = 0;
      if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(statm, "%*s %ld", &residentPages) != 1)
          residentPages = 0;
        std::fclose(statm);
      }
      std::printf(
          "{\"event\":\"stats\",\"rss\":%ld,\"connections\":%zu,"
          "\"errors\":%zu}\n",
          residentPages * sysconf(_SC_PAGESIZE), openConnections,
          protocolErrors);
      std::fflush(stdout);
    }
    line.erase(0, eol + 1);
  }
  return true;
}

int run(uint16_t port) {
  std::signal(SIGPIPE, SIG_IGN);
  const int listenFd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  socklen_t addrBytes = sizeof addr;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 only
  if (bind(listenFd, reinterpret_cast<sockaddr*>(&addr), addrBytes) != 0 ||
      listen(listenFd, 4096) != 0 ||
      getsockname(listenFd, reinterpret_cast<sockaddr*>(&addr), &addrBytes)) {
    std::fprintf(stderr, "wsn-echo-floor: cannot listen on port %u: %s\n", port,
                 std::strerror(errno));
    return 3;
  }
  epollFd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  for (const int fd : {listenFd, STDIN_FILENO}) {
    ev.data.fd = fd;
    epoll_ctl(epollFd, EPOLL_CTL_ADD, fd, &ev);
  }
  std::printf(
      "{\"event\":\"ready\",\"pid\":%d,\"port\":%u,\"impl\":\"floor\","
      "\"mode\":\"echo\",\"deflate\":false}\n",
      static_cast<int>(getpid()), ntohs(addr.sin_port));
  std::fflush(stdout);
  epoll_event events[256];
  for (;;) {
    const int ready = epoll_wait(epollFd, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listenFd) {
        acceptAll(listenFd);
      } else if (fd == STDIN_FILENO) {
        if (!onStdin()) return 0;
      } else if (Connection* c = connections[static_cast<size_t>(fd)].get()) {
        // A closed fd's later events in this batch find a null slot.
        if (events[i].events & EPOLLOUT) {
          onWritable(*c);
        } else {
          onReadable(*c);
        }
      }
    }
  }
}

}  // namespace
}  // namespace wsn::bench

int main(int argc, char** argv) {
  long port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--read-bytes" && i + 1 < argc) {
      const long bytes = std::strtol(argv[++i], nullptr, 10);
      if (bytes < 1024 || bytes > (64L << 20)) {
        std::fputs("wsn-echo-floor: --read-bytes must be 1024..64 MiB\n",
                   stderr);
        return 2;
      }
      wsn::bench::readBytes = static_cast<size_t>(bytes);
    } else if (arg == "--fresh-reads" && i + 1 < argc) {
      const long reads = std::strtol(argv[++i], nullptr, 10);
      if (reads < 0 || reads > 1000000) {
        std::fputs("wsn-echo-floor: --fresh-reads must be 0..1000000\n",
                   stderr);
        return 2;
      }
      wsn::bench::freshReads = static_cast<size_t>(reads);
    } else if (arg == "--deflate") {
      // bench/run-all.js passes it in deflate cells, whose load generator
      // insists on compression: fail before "ready" with a clear reason.
      std::fputs(
          "wsn-echo-floor: no permessage-deflate; use deflate-off cells\n",
          stderr);
      return 2;
    } else {
      std::fprintf(stderr,
                   "usage: wsn-echo-floor [--port 0] [--read-bytes 262144] "
                   "[--fresh-reads 0] (not %s)\n",
                   argv[i]);
      return 2;
    }
  }
  if (port < 0 || port > 65535) {
    std::fputs("wsn-echo-floor: bad --port\n", stderr);
    return 2;
  }
  return wsn::bench::run(static_cast<uint16_t>(port));
}
