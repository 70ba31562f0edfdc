// The load generator's epoll loop: connect, upgrade, keep messages in flight,
// verify every echoed byte, time it. Linux epoll + POSIX sockets; OpenSSL and
// zlib through handshake.h, payload.h and pmd.h only.
#include "loadgen.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "handshake.h"

namespace wsn::bench {

namespace {

volatile std::sig_atomic_t gStopRequested = 0;

void onStopSignal(int) { gStopRequested = 1; }

constexpr uint64_t kStdinToken = ~uint64_t{0};
constexpr size_t kScratchBytes = 256 * 1024;
constexpr int kMaxEvents = 1024;

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t secondsToNs(double seconds) {
  return static_cast<uint64_t>(seconds * 1e9);
}

const char* const kErrorNames[] = {"connect", "handshake", "protocol", "verify",
                                   "closed",  "timeout",   "io"};

std::string errnoText(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Minimal JSON building for the one-line report.
class Json {
 public:
  Json& open() {
    comma();
    text_ += '{';
    first_ = true;
    return *this;
  }
  Json& close() {
    text_ += '}';
    first_ = false;
    return *this;
  }
  Json& key(const char* name) {
    comma();
    text_ += '"';
    text_ += name;
    text_ += "\":";
    first_ = true;
    return *this;
  }
  Json& number(double value) {
    comma();
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    text_ += buffer;
    return *this;
  }
  Json& integer(uint64_t value) {
    comma();
    text_ += std::to_string(value);
    return *this;
  }
  Json& boolean(bool value) {
    comma();
    text_ += value ? "true" : "false";
    return *this;
  }
  Json& null() {
    comma();
    text_ += "null";
    return *this;
  }
  Json& string(const std::string& value) {
    comma();
    text_ += '"';
    for (unsigned char c : value) {
      if (c == '"' || c == '\\') {
        text_ += '\\';
        text_ += static_cast<char>(c);
      } else if (c < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
        text_ += buffer;
      } else {
        text_ += static_cast<char>(c);
      }
    }
    text_ += '"';
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  void comma() {
    if (!first_) text_ += ',';
    first_ = false;
  }
  std::string text_;
  bool first_ = true;
};

void writeLatency(Json& json, const char* name, const LatencyHistogram& h) {
  json.key(name).open();
  json.key("p50").number(static_cast<double>(h.percentileNanos(0.5)) / 1e3);
  json.key("p99").number(static_cast<double>(h.percentileNanos(0.99)) / 1e3);
  json.key("p999").number(static_cast<double>(h.percentileNanos(0.999)) / 1e3);
  json.key("max").number(static_cast<double>(h.maxNanos()) / 1e3);
  json.close();
}

}  // namespace

void ByteBuffer::reserve(size_t bytes) {
  if (bytes <= capacity_) return;
  size_t capacity = capacity_ < 4096 ? 4096 : capacity_;
  while (capacity < bytes) capacity *= 2;
  std::unique_ptr<uint8_t[]> grown(new uint8_t[capacity]);
  if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
  data_ = std::move(grown);
  capacity_ = capacity;
}

uint8_t* ByteBuffer::grow(size_t bytes) {
  reserve(size_ + bytes);
  uint8_t* at = data_.get() + size_;
  size_ += bytes;
  return at;
}

void ByteBuffer::append(const uint8_t* bytes, size_t count) {
  if (count == 0) return;
  std::memcpy(grow(count), bytes, count);
}

void ByteBuffer::consumeFront(size_t bytes) {
  if (bytes >= size_) {
    size_ = 0;
    return;
  }
  std::memmove(data_.get(), data_.get() + bytes, size_ - bytes);
  size_ -= bytes;
}

void ByteBuffer::release() {
  data_.reset();
  size_ = 0;
  capacity_ = 0;
}

namespace {

// With --deflate every body is kept compressed (CompressedBodies): at most
// 32 MiB of bodies, so 1 MiB messages use 32 distinct bodies, 64 KiB ones 512.
size_t bodiesFor(const Options& options) {
  constexpr size_t kMaxBodies = 4096;
  constexpr size_t kCompressedBodiesBudget = size_t{32} << 20;
  if (!options.deflate) return kMaxBodies;
  const size_t fit =
      kCompressedBodiesBudget / std::max<size_t>(options.messageBytes, 1);
  return std::clamp<size_t>(fit, 16, kMaxBodies);
}

}  // namespace

Loadgen::Loadgen(const Options& options)
    : options_(options),
      connections_(options.connections),
      payload_(options.kind, options.messageBytes, random_, bodiesFor(options)),
      plain_(options.messageBytes),
      inflated_(options.messageBytes + 1),
      scratch_(kScratchBytes) {}

Loadgen::~Loadgen() {
  for (Connection& c : connections_) {
    if (c.fd >= 0) ::close(c.fd);
  }
  if (epoll_ >= 0) ::close(epoll_);
}

void Loadgen::setUp() {
  if (options_.deflate &&
      !compressedBodies_.build(payload_, options_.deflateLevel)) {
    throw std::runtime_error("deflateInit2 failed");
  }
  if (inet_pton(AF_INET, options_.host.c_str(), &address_.sin_addr) != 1) {
    throw std::runtime_error("--host must be an IPv4 address: " +
                             options_.host);
  }
  address_.sin_family = AF_INET;
  address_.sin_port = htons(options_.port);

  // Every connection is a descriptor: raise the soft limit to the hard one.
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    const rlim_t needed = static_cast<rlim_t>(options_.connections) + 32;
    if (limit.rlim_cur < needed) {
      limit.rlim_cur = limit.rlim_max;
      setrlimit(RLIMIT_NOFILE, &limit);
      getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < needed) {
      throw std::runtime_error(
          "open file limit " + std::to_string(limit.rlim_cur) + " < " +
          std::to_string(needed) + " (raise it with ulimit -n or prlimit)");
    }
  }

  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throw std::runtime_error(errnoText("epoll_create1"));
  if (options_.mode == Mode::kIdle && options_.holdUntilStdinCloses) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kStdinToken;
    // A regular file or /dev/null cannot be polled: treat it as closed.
    stdinOpen_ = epoll_ctl(epoll_, EPOLL_CTL_ADD, 0, &event) == 0;
  }
  for (uint32_t i = 0; i < options_.connections; ++i) {
    connections_[i].index = i;
  }
}

int Loadgen::run() {
  setUp();
  startNs_ = nowNs();
  connectDeadlineNs_ = startNs_ + secondsToNs(options_.connectTimeoutSeconds);
  startConnections(startNs_);
  std::vector<epoll_event> events(kMaxEvents);
  while (phase_ != Phase::kDone) {
    const int count =
        epoll_wait(epoll_, events.data(), kMaxEvents, timeoutMs(nowNs()));
    if (count < 0 && errno != EINTR) {
      throw std::runtime_error(errnoText("epoll_wait"));
    }
    for (int i = 0; i < count; ++i) {
      const uint64_t now = nowNs();
      // Close the window on time even inside a long batch (1 MiB deflate
      // messages on 100 connections take seconds); epoll is level-triggered,
      // so events left here come back on the next wait.
      if ((phase_ == Phase::kWarmup || phase_ == Phase::kMeasuring) &&
          now >= phaseEndNs_) {
        break;
      }
      handleEvent(events[i].data.u64, events[i].events, now);
      if (phase_ == Phase::kDone) break;
    }
    onTick(nowNs());
  }
  printReport();
  return totalErrors() == 0 ? 0 : 1;
}

int Loadgen::timeoutMs(uint64_t now) const {
  uint64_t deadline = now + 100000000u;  // tick at least every 100 ms
  if (phase_ == Phase::kWarmup || phase_ == Phase::kMeasuring ||
      (phase_ == Phase::kHolding && readyPrinted_ &&
       options_.holdSeconds > 0)) {
    deadline = std::min(deadline, phaseEndNs_);
  }
  if (phase_ == Phase::kRounds && !roundActive_) {
    deadline = std::min(deadline, nextRoundNs_);
  }
  if (deadline <= now) return 0;
  return static_cast<int>((deadline - now + 999999) / 1000000);
}

void Loadgen::startConnections(uint64_t now) {
  while (nextToStart_ < options_.connections &&
         inProgress_ < options_.connectConcurrency &&
         phase_ == Phase::kConnecting) {
    startConnect(connections_[nextToStart_++], now);
  }
  maybeAllConnected(now);
}

void Loadgen::startConnect(Connection& c, uint64_t /*now*/) {
  ++inProgress_;
  c.state = State::kConnecting;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    fail(c, kConnectError, errnoText("socket"));
    return;
  }
  // Small echoes must leave at once, not wait for Nagle (RFC 896).
  const int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&address_),
                sizeof address_) != 0 &&
      errno != EINPROGRESS) {
    fail(c, kConnectError, errnoText("connect"));
    return;
  }
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;
  event.data.u64 = c.index;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &event) != 0) {
    fail(c, kIoError, errnoText("epoll_ctl"));
    return;
  }
  c.wantsWrite = true;
}

void Loadgen::handleEvent(uint64_t token, uint32_t events, uint64_t now) {
  if (token == kStdinToken) {
    char sink[256];
    const ssize_t n = ::read(0, sink, sizeof sink);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, 0, nullptr);
      stdinOpen_ = false;
    }
    return;
  }
  Connection& c = connections_[token];
  if (c.state == State::kConnecting) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error != 0) {
      fail(c, kConnectError, std::string("connect: ") + std::strerror(error));
      return;
    }
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    onConnected(c);
    return;
  }
  if (c.state != State::kHandshaking && c.state != State::kOpen) return;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) onReadable(c);
  if ((events & EPOLLOUT) != 0 && c.state != State::kClosed) flush(c);
  (void)now;
}

void Loadgen::onConnected(Connection& c) {
  c.state = State::kHandshaking;
  const std::string key = makeHandshakeKey(random_);
  c.accept = expectedAccept(key);
  const std::string request = buildUpgradeRequest(
      options_.host, options_.port, options_.path, key, options_.deflate);
  c.out.append(reinterpret_cast<const uint8_t*>(request.data()),
               request.size());
  flush(c);
}

void Loadgen::onReadable(Connection& c) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    const ssize_t n = ::recv(c.fd, scratch_.data(), scratch_.size(), 0);
    if (n > 0) {
      wireIn_ += static_cast<uint64_t>(n);
      if (!consumeInput(c, scratch_.data(), static_cast<size_t>(n))) return;
      if (static_cast<size_t>(n) < scratch_.size()) break;
      continue;
    }
    if (n == 0) {
      fail(c, kClosedError, "server closed the TCP connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    fail(c, kIoError, errnoText("recv"));
    return;
  }
  // Replies queued while parsing leave in one send per read batch.
  if (c.state == State::kOpen) flush(c);
}

bool Loadgen::consumeInput(Connection& c, uint8_t* data, size_t size) {
  if (c.state == State::kHandshaking) {
    c.pending.append(data, size);
    HandshakeResult result;
    const HandshakeStatus status = checkUpgradeResponse(
        reinterpret_cast<const char*>(c.pending.data()), c.pending.size(),
        c.accept, options_.deflate, &result);
    if (status == HandshakeStatus::kNeedMore) return true;
    if (status == HandshakeStatus::kFailed) {
      fail(c, kHandshakeError, result.error);
      return false;
    }
    if (options_.deflate && !result.deflate) {
      // Comparing a compressing run with one that is not would mislead.
      fail(c, kHandshakeError, "server declined permessage-deflate");
      return false;
    }
    c.deflate = result.deflate;
    c.deflateParams = result.deflateParams;
    anyDeflate_ = anyDeflate_ || result.deflate;
    c.pending.consumeFront(result.headBytes);
    c.state = State::kOpen;
    onOpen(c, nowNs());
    if (c.state != State::kOpen) return false;
    return c.pending.empty() || parseBuffered(c);
  }
  if (c.state != State::kOpen) return false;
  if (!c.pending.empty()) {
    c.pending.append(data, size);
    return parseBuffered(c);
  }
  size_t consumed = 0;
  size_t needed = 0;
  if (!parseFrames(c, data, size, &consumed, &needed)) return false;
  if (consumed < size) {
    c.pending.reserve(std::max(needed, size - consumed));
    c.pending.append(data + consumed, size - consumed);
  }
  return true;
}

bool Loadgen::parseBuffered(Connection& c) {
  size_t consumed = 0;
  size_t needed = 0;
  if (!parseFrames(c, c.pending.data(), c.pending.size(), &consumed, &needed)) {
    return false;
  }
  c.pending.consumeFront(consumed);
  // Grow once to the size of the frame being read instead of by doubling.
  if (needed > 0) c.pending.reserve(needed);
  return true;
}

bool Loadgen::parseFrames(Connection& c, uint8_t* data, size_t size,
                          size_t* consumed, size_t* neededBytes) {
  size_t pos = 0;
  *neededBytes = 0;
  while (pos < size) {
    FrameHeader header;
    const HeaderStatus status =
        parseFrameHeader(data + pos, size - pos, &header);
    if (status == HeaderStatus::kNeedMore) break;
    if (status != HeaderStatus::kOk) {
      fail(c, kProtocolError,
           status == HeaderStatus::kBadLength
               ? "64-bit length with the top bit set (RFC 6455 5.2)"
               : "length not in its minimal form (RFC 6455 5.2)");
      return false;
    }
    if (header.payloadBytes > options_.maxMessageBytes) {
      fail(c, kProtocolError,
           "frame of " + std::to_string(header.payloadBytes) +
               " bytes exceeds --max-message");
      return false;
    }
    const size_t frameBytes =
        header.headerBytes + static_cast<size_t>(header.payloadBytes);
    if (size - pos < frameBytes) {
      *neededBytes = frameBytes;
      break;
    }
    uint8_t* payload = data + pos + header.headerBytes;
    const size_t payloadBytes = static_cast<size_t>(header.payloadBytes);
    if (header.masked) {
      // RFC 6455 §5.1: a server must not mask. Only the raw-echo floor, which
      // returns our own masked frames, is allowed to.
      if (!options_.acceptMasked) {
        fail(c, kProtocolError, "masked frame from the server (RFC 6455 5.1)");
        return false;
      }
      maskCopy(payload, payload, payloadBytes, header.maskKey, 0);
    }
    if (!handleFrame(c, header, payload, payloadBytes)) return false;
    pos += frameBytes;
  }
  *consumed = pos;
  return true;
}

bool Loadgen::handleFrame(Connection& c, const FrameHeader& header,
                          uint8_t* payload, size_t payloadBytes) {
  if (header.rsv23) {
    fail(c, kProtocolError, "RSV2 or RSV3 set (RFC 6455 5.2)");
    return false;
  }
  const uint8_t opcode = header.opcode;
  if (opcode >= 0x8) {
    // RFC 6455 §5.5: control frames are final, short and never compressed
    // (RFC 7692 §6.1).
    if (!header.fin || payloadBytes > 125 || header.rsv1) {
      fail(c, kProtocolError, "invalid control frame (RFC 6455 5.5)");
      return false;
    }
    if (opcode == kOpPing) {
      queueControl(c, kOpPong, payload, payloadBytes);
      return true;
    }
    if (opcode == kOpPong) return true;
    if (opcode == kOpClose) {
      const unsigned code =
          payloadBytes >= 2 ? (unsigned{payload[0]} << 8) | payload[1] : 1005;
      fail(c, kClosedError,
           "server sent a close frame, code " + std::to_string(code));
      return false;
    }
    fail(c, kProtocolError,
         "reserved control opcode " + std::to_string(opcode));
    return false;
  }
  if (opcode == kOpContinuation) {
    if (!c.inMessage || header.rsv1) {
      fail(c, kProtocolError, "unexpected continuation frame (RFC 6455 5.4)");
      return false;
    }
    if (c.fragments.size() + payloadBytes > options_.maxMessageBytes) {
      fail(c, kProtocolError, "fragmented message exceeds --max-message");
      return false;
    }
    c.fragments.append(payload, payloadBytes);
    if (!header.fin) return true;
    c.inMessage = false;
    const bool ok = completeMessage(c, c.messageOpcode, c.messageCompressed,
                                    c.fragments.data(), c.fragments.size());
    if (ok) c.fragments.clear();
    return ok;
  }
  if (opcode != kOpText && opcode != kOpBinary) {
    fail(c, kProtocolError, "reserved data opcode " + std::to_string(opcode));
    return false;
  }
  if (c.inMessage) {
    fail(c, kProtocolError,
         "new message before the last one ended (RFC 6455 5.4)");
    return false;
  }
  if (header.rsv1 && !c.deflate) {
    fail(c, kProtocolError, "RSV1 without permessage-deflate (RFC 6455 5.2)");
    return false;
  }
  if (header.fin) {
    return completeMessage(c, opcode, header.rsv1, payload, payloadBytes);
  }
  c.inMessage = true;
  c.messageOpcode = opcode;
  c.messageCompressed = header.rsv1;
  c.fragments.clear();
  c.fragments.append(payload, payloadBytes);
  return true;
}

bool Loadgen::completeMessage(Connection& c, uint8_t opcode, bool compressed,
                              const uint8_t* data, size_t size) {
  const uint8_t* message = data;
  size_t messageBytes = size;
  if (compressed) {
    if (!c.inflater) {
      c.inflater = std::make_unique<MessageInflater>();
      if (!c.inflater->init(c.deflateParams.serverNoContextTakeover)) {
        fail(c, kIoError, "inflateInit2 failed");
        return false;
      }
    }
    size_t produced = 0;
    const InflateStatus status = c.inflater->inflateMessage(
        data, size, inflated_.data(), inflated_.size(), &produced);
    if (status == InflateStatus::kError) {
      fail(c, kProtocolError, "reply does not inflate (RFC 7692 7.2.2)");
      return false;
    }
    if (status == InflateStatus::kTooBig) {
      fail(c, kVerifyError, "reply inflates past the message size");
      return false;
    }
    message = inflated_.data();
    messageBytes = produced;
  }
  const uint8_t expectedOpcode =
      options_.kind == PayloadKind::kText ? kOpText : kOpBinary;
  if (opcode != expectedOpcode) {
    fail(c, kVerifyError,
         "reply opcode " + std::to_string(opcode) + ", expected " +
             std::to_string(expectedOpcode));
    return false;
  }
  uint64_t tag;
  if (options_.mode == Mode::kBroadcast) {
    if (c.receivedCount > round_ || !roundActive_) {
      fail(c, kVerifyError, "message outside a broadcast round");
      return false;
    }
    tag = makeTag(0, c.receivedCount);
  } else {
    if (c.receivedCount >= c.sentCount) {
      fail(c, kVerifyError, "message that echoes nothing we sent");
      return false;
    }
    tag = makeTag(c.index, c.receivedCount);
  }
  std::string why;
  if (!verifyPayload(message, messageBytes, tag, &why)) {
    fail(c, kVerifyError, why);
    return false;
  }
  onMessage(c, nowNs());
  return c.state == State::kOpen;
}

bool Loadgen::verifyPayload(const uint8_t* data, size_t size, uint64_t tag,
                            std::string* why) const {
  const size_t expected = options_.messageBytes;
  if (size != expected) {
    *why = "reply of " + std::to_string(size) + " bytes, expected " +
           std::to_string(expected);
    return false;
  }
  const size_t tagBytes = std::min(expected, kTagBytes);
  uint8_t expectedTag[kTagBytes];
  writeTag(expectedTag, tagBytes, tag);
  if (std::memcmp(data, expectedTag, tagBytes) != 0) {
    *why = "reply tag " +
           std::string(reinterpret_cast<const char*>(data), tagBytes) +
           ", expected " +
           std::string(reinterpret_cast<const char*>(expectedTag), tagBytes) +
           " (lost, duplicated or reordered message)";
    return false;
  }
  const uint8_t* body = payload_.body(tag);
  if (std::memcmp(data + tagBytes, body, expected - tagBytes) != 0) {
    size_t at = tagBytes;
    while (data[at] == body[at - tagBytes]) ++at;
    *why = "reply differs from what was sent at byte " + std::to_string(at);
    return false;
  }
  return true;
}

void Loadgen::onMessage(Connection& c, uint64_t now) {
  lastProgressNs_ = now;
  switch (options_.mode) {
    case Mode::kEcho: {
      const uint64_t sentAt = c.sendTimes[c.receivedCount % options_.depth];
      ++c.receivedCount;
      if (phase_ == Phase::kMeasuring) {
        latency_.record(now - sentAt);
        ++messages_;
      }
      if (phase_ == Phase::kWarmup || phase_ == Phase::kMeasuring) {
        queueMessage(c, makeTag(c.index, c.sentCount), now);
      }
      break;
    }
    case Mode::kIdle:
      ++c.receivedCount;
      ++messages_;
      if (c.receivedCount < options_.idleMessages) {
        queueMessage(c, makeTag(c.index, c.sentCount), now);
      } else {
        // Held connections keep no zlib state on our side (~300 KiB each).
        c.deflater.reset();
        c.inflater.reset();
        c.pending.release();
        c.out.release();
        ++idleDone_;
        checkIdleReady(now);
      }
      break;
    case Mode::kBroadcast: {
      ++c.receivedCount;
      ++roundReceived_;
      const bool recorded = round_ >= options_.warmupRounds;
      if (recorded) {
        latency_.record(now - roundStartNs_);
        ++messages_;
      }
      if (roundReceived_ == openNow_) {
        roundActive_ = false;
        if (recorded) {
          roundMs_.push_back(static_cast<double>(now - roundStartNs_) / 1e6);
        }
        ++round_;
        if (round_ >= uint64_t{options_.warmupRounds} + options_.rounds) {
          endMeasure(now);
          phase_ = Phase::kDone;
        } else {
          nextRoundNs_ = now + static_cast<uint64_t>(options_.roundGapMs * 1e6);
        }
      }
      break;
    }
  }
}

bool Loadgen::queueMessage(Connection& c, uint64_t tag, uint64_t now) {
  const size_t size = options_.messageBytes;
  const size_t tagBytes = std::min(size, kTagBytes);
  const uint8_t opcode =
      options_.kind == PayloadKind::kText ? kOpText : kOpBinary;
  // RFC 6455 §5.3: a fresh, unpredictable key for every frame.
  uint8_t key[4];
  random_.take(key, sizeof key);
  if (!c.deflate) {
    const size_t base = c.out.size();
    uint8_t* at = c.out.grow(kMaxClientHeaderBytes + size);
    const size_t headerBytes =
        writeClientHeader(at, true, false, opcode, size, key);
    uint8_t tagText[kTagBytes];
    writeTag(tagText, tagBytes, tag);
    const size_t phase = maskCopy(at + headerBytes, tagText, tagBytes, key, 0);
    maskCopy(at + headerBytes + tagBytes, payload_.body(tag), size - tagBytes,
             key, phase);
    c.out.truncate(base + headerBytes + size);
  } else if (c.deflateParams.clientMaxWindowBits == 15) {
    // The precompressed body fits the window: a stored block with the tag,
    // then the body (see CompressedBodies).
    const size_t index = payload_.bodyIndex(tag);
    const uint8_t* body = compressedBodies_.data(index);
    const size_t bodyBytes = compressedBodies_.size(index);
    uint8_t tagBlock[CompressedBodies::kTagBlockBytes];
    const size_t tagBlockBytes = writeTagBlock(tagBlock, tagBytes, tag);
    const size_t length = tagBlockBytes + bodyBytes;
    const size_t base = c.out.size();
    uint8_t* at = c.out.grow(kMaxClientHeaderBytes + length);
    // RFC 7692 §6: RSV1 marks the first frame of a compressed message.
    const size_t headerBytes =
        writeClientHeader(at, true, true, opcode, length, key);
    const size_t phase =
        maskCopy(at + headerBytes, tagBlock, tagBlockBytes, key, 0);
    maskCopy(at + headerBytes + tagBlockBytes, body, bodyBytes, key, phase);
    c.out.truncate(base + headerBytes + length);
  } else {
    // A smaller window than the bodies were compressed for: compress here.
    if (!c.deflater) {
      c.deflater = std::make_unique<MessageDeflater>();
      if (!c.deflater->init(c.deflateParams.clientMaxWindowBits,
                            options_.deflateLevel,
                            c.deflateParams.clientNoContextTakeover)) {
        fail(c, kIoError, "deflateInit2 failed");
        return false;
      }
    }
    writeTag(plain_.data(), tagBytes, tag);
    std::memcpy(plain_.data() + tagBytes, payload_.body(tag), size - tagBytes);
    if (!c.deflater->compress(plain_.data(), size, &compressed_)) {
      fail(c, kIoError, "deflate failed");
      return false;
    }
    const size_t base = c.out.size();
    uint8_t* at = c.out.grow(kMaxClientHeaderBytes + compressed_.size());
    // RFC 7692 §6: RSV1 marks the first frame of a compressed message.
    const size_t headerBytes =
        writeClientHeader(at, true, true, opcode, compressed_.size(), key);
    maskCopy(at + headerBytes, compressed_.data(), compressed_.size(), key, 0);
    c.out.truncate(base + headerBytes + compressed_.size());
  }
  if (options_.mode != Mode::kBroadcast) {
    if (c.sendTimes.empty()) c.sendTimes.resize(options_.depth);
    c.sendTimes[c.sentCount % options_.depth] = now;
    ++c.sentCount;
  }
  return true;
}

void Loadgen::queueControl(Connection& c, uint8_t opcode,
                           const uint8_t* payload, size_t size) {
  uint8_t key[4];
  random_.take(key, sizeof key);
  const size_t base = c.out.size();
  uint8_t* at = c.out.grow(kMaxClientHeaderBytes + size);
  const size_t headerBytes =
      writeClientHeader(at, true, false, opcode, size, key);
  maskCopy(at + headerBytes, payload, size, key, 0);
  c.out.truncate(base + headerBytes + size);
}

bool Loadgen::flush(Connection& c) {
  while (c.outOffset < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.outOffset,
                             c.out.size() - c.outOffset, MSG_NOSIGNAL);
    if (n > 0) {
      c.outOffset += static_cast<size_t>(n);
      wireOut_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    fail(c, kIoError, errnoText("send"));
    return false;
  }
  if (c.outOffset == c.out.size()) {
    c.out.clear();
    c.outOffset = 0;
    setWantsWrite(c, false);
  } else {
    // Compact only once the sent part outweighs the rest: each byte moves
    // at most once on average.
    if (c.outOffset > c.out.size() / 2) {
      c.out.consumeFront(c.outOffset);
      c.outOffset = 0;
    }
    setWantsWrite(c, true);
  }
  return true;
}

void Loadgen::setWantsWrite(Connection& c, bool wants) {
  if (c.wantsWrite == wants || c.fd < 0) return;
  epoll_event event{};
  event.events = EPOLLIN | (wants ? EPOLLOUT : 0u);
  event.data.u64 = c.index;
  if (epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event) != 0) {
    fail(c, kIoError, errnoText("epoll_ctl"));
    return;
  }
  c.wantsWrite = wants;
}

void Loadgen::countError(ErrorKind kind, const std::string& why) {
  ++errors_[kind];
  if (firstError_.empty()) {
    firstError_ = std::string(kErrorNames[kind]) + ": " + why;
  }
}

void Loadgen::fail(Connection& c, ErrorKind kind, const std::string& why) {
  if (c.state == State::kClosed) return;
  countError(kind, "connection " + std::to_string(c.index) + ": " + why);
  const State state = c.state;
  closeConnection(c);
  const uint64_t now = nowNs();
  if (state == State::kConnecting || state == State::kHandshaking) {
    --inProgress_;
    startConnections(now);
    return;
  }
  if (state == State::kOpen) {
    --openNow_;
    // A broadcast round can no longer complete; an idle hold has lost one.
    if (options_.mode == Mode::kBroadcast && phase_ == Phase::kRounds) {
      endMeasure(now);
      phase_ = Phase::kDone;
    }
    if (openNow_ == 0 && phase_ != Phase::kConnecting) {
      if (phase_ == Phase::kMeasuring) endMeasure(now);
      phase_ = Phase::kDone;
    }
  }
}

void Loadgen::closeConnection(Connection& c) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.state = State::kClosed;
  c.deflater.reset();
  c.inflater.reset();
}

void Loadgen::onOpen(Connection& c, uint64_t now) {
  --inProgress_;
  ++openNow_;
  ++openedEver_;
  if (options_.mode == Mode::kIdle && options_.idleMessages > 0) {
    queueMessage(c, makeTag(c.index, 0), now);
    if (c.state == State::kOpen) flush(c);
  }
  startConnections(now);
}

void Loadgen::maybeAllConnected(uint64_t now) {
  if (phase_ == Phase::kConnecting && nextToStart_ == options_.connections &&
      inProgress_ == 0) {
    onAllConnected(now);
  }
}

void Loadgen::onAllConnected(uint64_t now) {
  allConnectedNs_ = now;
  lastProgressNs_ = now;
  if (openNow_ == 0) {
    phase_ = Phase::kDone;
    return;
  }
  switch (options_.mode) {
    case Mode::kEcho:
      phase_ = Phase::kWarmup;
      phaseEndNs_ = now + secondsToNs(options_.warmupSeconds);
      for (Connection& c : connections_) {
        if (c.state != State::kOpen) continue;
        for (uint32_t i = 0; i < options_.depth; ++i) {
          if (!queueMessage(c, makeTag(c.index, c.sentCount), now)) break;
        }
        if (c.state == State::kOpen) flush(c);
      }
      break;
    case Mode::kIdle:
      phase_ = Phase::kHolding;
      checkIdleReady(now);
      break;
    case Mode::kBroadcast:
      phase_ = Phase::kRounds;
      nextRoundNs_ = now;
      break;
  }
}

void Loadgen::beginMeasure(uint64_t now) {
  t0Ns_ = now;
  cpu0_ = selfCpuSeconds();
  if (options_.serverPid > 0) server0_ = sampleProcess(options_.serverPid);
  cpus0_ = sampleCpus();
  wireIn0_ = wireIn_;
  wireOut0_ = wireOut_;
  messages_ = 0;
  latency_.clear();
}

void Loadgen::endMeasure(uint64_t now) {
  if (t1Ns_ != 0) return;
  if (t0Ns_ == 0) beginMeasure(now);
  t1Ns_ = now;
  cpu1_ = selfCpuSeconds();
  if (options_.serverPid > 0) server1_ = sampleProcess(options_.serverPid);
  cpus1_ = sampleCpus();
}

void Loadgen::startRound(uint64_t now) {
  if (round_ == options_.warmupRounds) beginMeasure(now);
  Connection& sender = connections_[0];
  if (sender.state != State::kOpen) {
    countError(kClosedError, "broadcast sender connection is gone");
    endMeasure(now);
    phase_ = Phase::kDone;
    return;
  }
  roundActive_ = true;
  roundReceived_ = 0;
  roundStartNs_ = now;
  if (queueMessage(sender, makeTag(0, round_), now)) flush(sender);
}

void Loadgen::checkIdleReady(uint64_t now) {
  if (phase_ != Phase::kHolding || readyPrinted_) return;
  if (options_.idleMessages > 0 && idleDone_ < openNow_) return;
  readyPrinted_ = true;
  // The hold is the measured window; the echoes before it still count.
  const uint64_t echoed = messages_;
  beginMeasure(now);
  messages_ = echoed;
  phaseEndNs_ = now + secondsToNs(options_.holdSeconds);
  printReady(now);
}

void Loadgen::onTick(uint64_t now) {
  if (gStopRequested != 0 && phase_ != Phase::kDone) {
    interrupted_ = true;
    if (phase_ == Phase::kMeasuring || phase_ == Phase::kHolding ||
        phase_ == Phase::kRounds) {
      endMeasure(now);
    }
    phase_ = Phase::kDone;
    return;
  }
  switch (phase_) {
    case Phase::kConnecting:
      if (now >= connectDeadlineNs_) {
        for (Connection& c : connections_) {
          if (c.state == State::kConnecting || c.state == State::kHandshaking) {
            fail(c, kTimeoutError, "not open within --connect-timeout");
          }
        }
        // Never started: counted once, as the run cannot be what was asked.
        if (nextToStart_ < options_.connections) {
          countError(kTimeoutError,
                     std::to_string(options_.connections - nextToStart_) +
                         " connections never started");
          nextToStart_ = options_.connections;
          maybeAllConnected(now);
        }
      }
      break;
    case Phase::kWarmup:
      if (now >= phaseEndNs_) {
        beginMeasure(now);
        phase_ = Phase::kMeasuring;
        phaseEndNs_ = now + secondsToNs(options_.durationSeconds);
      }
      break;
    case Phase::kMeasuring:
      if (now >= phaseEndNs_) {
        endMeasure(now);
        phase_ = Phase::kDone;
      }
      break;
    case Phase::kHolding:
      if (!readyPrinted_) break;
      if ((options_.holdSeconds > 0 && now >= phaseEndNs_) ||
          (options_.holdSeconds == 0 &&
           (!options_.holdUntilStdinCloses || !stdinOpen_))) {
        endMeasure(now);
        phase_ = Phase::kDone;
      }
      return;  // held connections are silent: no stall check
    case Phase::kRounds:
      if (!roundActive_ && now >= nextRoundNs_) {
        startRound(now);
      } else if (roundActive_ &&
                 now - roundStartNs_ >
                     secondsToNs(options_.roundTimeoutSeconds)) {
        countError(kTimeoutError, "broadcast round " + std::to_string(round_) +
                                      ": " + std::to_string(roundReceived_) +
                                      " of " + std::to_string(openNow_) +
                                      " received");
        endMeasure(now);
        phase_ = Phase::kDone;
      }
      return;
    case Phase::kDone:
      return;
  }
  if ((phase_ == Phase::kWarmup || phase_ == Phase::kMeasuring ||
       (phase_ == Phase::kHolding && !readyPrinted_)) &&
      now - lastProgressNs_ > secondsToNs(options_.stallSeconds)) {
    countError(kTimeoutError, "no reply for " +
                                  std::to_string(options_.stallSeconds) +
                                  " s (stalled)");
    endMeasure(now);
    phase_ = Phase::kDone;
  }
}

uint64_t Loadgen::totalErrors() const {
  uint64_t total = 0;
  for (uint64_t count : errors_) total += count;
  return total;
}

void Loadgen::printReady(uint64_t now) {
  Json json;
  json.open();
  json.key("event").string("ready");
  json.key("mode").string("idle");
  json.key("connections").integer(options_.connections);
  json.key("connections_open").integer(openNow_);
  json.key("connect_s").number(static_cast<double>(now - startNs_) / 1e9);
  json.key("messages").integer(messages_);
  json.key("errors").integer(totalErrors());
  json.close();
  std::printf("%s\n", json.text().c_str());
  std::fflush(stdout);
}

void Loadgen::printReport() {
  const char* modeName = options_.mode == Mode::kEcho   ? "echo"
                         : options_.mode == Mode::kIdle ? "idle"
                                                        : "broadcast";
  const double seconds =
      t1Ns_ > t0Ns_ ? static_cast<double>(t1Ns_ - t0Ns_) / 1e9 : 0.0;
  const double perSecond = seconds > 0 ? 1.0 / seconds : 0.0;
  Json json;
  json.open();
  json.key("mode").string(modeName);
  json.key("host").string(options_.host);
  json.key("port").integer(options_.port);
  json.key("connections").integer(options_.connections);
  json.key("connections_open").integer(openNow_);
  json.key("connections_opened").integer(openedEver_);
  json.key("size").integer(options_.messageBytes);
  json.key("type").string(options_.kind == PayloadKind::kText ? "text"
                                                              : "binary");
  json.key("deflate").boolean(options_.deflate);
  json.key("deflate_negotiated").boolean(anyDeflate_);
  if (options_.deflate)
    json.key("deflate_level").integer(options_.deflateLevel);
  json.key("connect_s")
      .number(allConnectedNs_ > 0
                  ? static_cast<double>(allConnectedNs_ - startNs_) / 1e9
                  : 0.0);
  json.key("duration_s").number(seconds);
  json.key("messages").integer(messages_);
  if (options_.mode == Mode::kEcho) {
    json.key("depth").integer(options_.depth);
    json.key("warmup_s").number(options_.warmupSeconds);
    json.key("messages_per_s")
        .number(static_cast<double>(messages_) * perSecond);
    json.key("mb_per_s")
        .number(static_cast<double>(messages_) *
                static_cast<double>(options_.messageBytes) / 1e6 * perSecond);
    writeLatency(json, "latency_us", latency_);
  } else if (options_.mode == Mode::kBroadcast) {
    json.key("rounds").integer(roundMs_.size());
    std::vector<double> sorted = roundMs_;
    std::sort(sorted.begin(), sorted.end());
    double sum = 0;
    for (double ms : sorted) sum += ms;
    json.key("round_ms").open();
    json.key("p50").number(sorted.empty() ? 0 : sorted[sorted.size() / 2]);
    json.key("min").number(sorted.empty() ? 0 : sorted.front());
    json.key("max").number(sorted.empty() ? 0 : sorted.back());
    json.key("mean").number(
        sorted.empty() ? 0 : sum / static_cast<double>(sorted.size()));
    json.close();
    json.key("deliveries_per_s")
        .number(sum > 0 ? static_cast<double>(messages_) / (sum / 1e3) : 0);
    writeLatency(json, "delivery_latency_us", latency_);
  }
  json.key("wire_in_mb_per_s")
      .number(static_cast<double>(wireIn_ - wireIn0_) / 1e6 * perSecond);
  json.key("wire_out_mb_per_s")
      .number(static_cast<double>(wireOut_ - wireOut0_) / 1e6 * perSecond);
  json.key("errors").integer(totalErrors());
  json.key("error_kinds").open();
  for (int kind = 0; kind < kErrorKindCount; ++kind) {
    json.key(kErrorNames[kind]).integer(errors_[kind]);
  }
  json.close();
  json.key("first_error").string(firstError_);
  json.key("interrupted").boolean(interrupted_);
  json.key("loadgen_cpu_s").number(cpu1_ - cpu0_);
  json.key("loadgen_cpu_util").number((cpu1_ - cpu0_) * perSecond);
  // How busy each CPU was over the window, whoever used it: with the server
  // and this process pinned, the rest is other load that skews the numbers.
  json.key("cpu_busy").open();
  for (size_t i = 0; i < cpus0_.size() && i < cpus1_.size(); ++i) {
    const uint64_t total = cpus1_[i].total - cpus0_[i].total;
    const uint64_t busy = cpus1_[i].busy - cpus0_[i].busy;
    json.key(("cpu" + std::to_string(i)).c_str())
        .number(total > 0
                    ? static_cast<double>(busy) / static_cast<double>(total)
                    : 0.0);
  }
  json.close();
  json.key("server");
  if (options_.serverPid > 0 && server0_.ok && server1_.ok) {
    const double cpu = server1_.cpuSeconds - server0_.cpuSeconds;
    json.open();
    json.key("pid").integer(static_cast<uint64_t>(options_.serverPid));
    json.key("cpu_s").number(cpu);
    json.key("cpu_util").number(cpu * perSecond);
    if (options_.mode == Mode::kBroadcast) {
      json.key("cpu_ms_per_round")
          .number(roundMs_.empty()
                      ? 0
                      : cpu * 1e3 / static_cast<double>(roundMs_.size()));
    } else if (messages_ > 0) {
      json.key("cpu_us_per_message")
          .number(cpu * 1e6 / static_cast<double>(messages_));
    }
    json.key("rss_kb").integer(static_cast<uint64_t>(server1_.rssKb));
    json.key("hwm_kb").integer(static_cast<uint64_t>(server1_.hwmKb));
    json.close();
  } else {
    json.null();
  }
  json.close();
  std::printf("%s\n", json.text().c_str());
  std::fflush(stdout);
}

}  // namespace wsn::bench
