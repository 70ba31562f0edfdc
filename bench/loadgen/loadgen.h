// The load generator's event loop: N client connections on one epoll
// instance, one thread. It owns every socket and buffer; nothing here is
// thread-safe. Modes are described in options.h.
#ifndef WSN_BENCH_LOADGEN_LOADGEN_H_
#define WSN_BENCH_LOADGEN_LOADGEN_H_

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "frame.h"
#include "histogram.h"
#include "options.h"
#include "payload.h"
#include "pmd.h"
#include "proc_stat.h"

namespace wsn::bench {

// A growable byte buffer that does not zero what it grows into: a 1 MiB
// message is written once, not cleared first and then written.
class ByteBuffer {
 public:
  uint8_t* data() { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void reserve(size_t bytes);
  // Appends `bytes` uninitialized bytes and returns where they start.
  uint8_t* grow(size_t bytes);
  void append(const uint8_t* bytes, size_t count);
  void truncate(size_t bytes) { size_ = bytes; }
  void clear() { size_ = 0; }
  // Drops the first `bytes` bytes, keeping the rest at the front.
  void consumeFront(size_t bytes);
  // Frees the storage (idle connections keep none).
  void release();

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class Loadgen {
 public:
  explicit Loadgen(const Options& options);
  ~Loadgen();
  Loadgen(const Loadgen&) = delete;
  Loadgen& operator=(const Loadgen&) = delete;

  // Runs the selected mode to the end and prints its JSON line(s) to stdout.
  // Returns 0 when no error was seen, 1 otherwise.
  int run();

 private:
  enum class State { kPending, kConnecting, kHandshaking, kOpen, kClosed };
  enum class Phase {
    kConnecting,
    kWarmup,
    kMeasuring,
    kHolding,
    kRounds,
    kDone
  };
  enum ErrorKind {
    kConnectError,
    kHandshakeError,
    kProtocolError,
    kVerifyError,
    kClosedError,
    kTimeoutError,
    kIoError,
    kErrorKindCount
  };

  struct Connection {
    int fd = -1;
    uint32_t index = 0;
    State state = State::kPending;
    bool wantsWrite = false;  // EPOLLOUT is registered
    std::string accept;       // expected Sec-WebSocket-Accept
    ByteBuffer out;
    size_t outOffset = 0;
    ByteBuffer pending;    // an incomplete handshake or frame
    ByteBuffer fragments;  // a fragmented message so far
    bool inMessage = false;
    uint8_t messageOpcode = 0;
    bool messageCompressed = false;
    bool deflate = false;
    DeflateParams deflateParams;
    std::unique_ptr<MessageDeflater> deflater;
    std::unique_ptr<MessageInflater> inflater;
    uint64_t sentCount = 0;
    uint64_t receivedCount = 0;
    std::vector<uint64_t> sendTimes;  // ring of depth entries, ns
  };

  void setUp();
  void startConnections(uint64_t now);
  void startConnect(Connection& c, uint64_t now);
  void handleEvent(uint64_t token, uint32_t events, uint64_t now);
  void onConnected(Connection& c);
  void onReadable(Connection& c);
  bool consumeInput(Connection& c, uint8_t* data, size_t size);
  bool parseBuffered(Connection& c);
  bool parseFrames(Connection& c, uint8_t* data, size_t size, size_t* consumed,
                   size_t* neededBytes);
  bool handleFrame(Connection& c, const FrameHeader& header, uint8_t* payload,
                   size_t payloadBytes);
  bool completeMessage(Connection& c, uint8_t opcode, bool compressed,
                       const uint8_t* data, size_t size);
  bool verifyPayload(const uint8_t* data, size_t size, uint64_t tag,
                     std::string* why) const;
  void onMessage(Connection& c, uint64_t now);
  bool queueMessage(Connection& c, uint64_t tag, uint64_t now);
  void queueControl(Connection& c, uint8_t opcode, const uint8_t* payload,
                    size_t size);
  bool flush(Connection& c);
  void setWantsWrite(Connection& c, bool wants);
  void fail(Connection& c, ErrorKind kind, const std::string& why);
  void countError(ErrorKind kind, const std::string& why);
  void closeConnection(Connection& c);
  void onOpen(Connection& c, uint64_t now);
  void maybeAllConnected(uint64_t now);
  void onAllConnected(uint64_t now);
  void beginMeasure(uint64_t now);
  void endMeasure(uint64_t now);
  void startRound(uint64_t now);
  void checkIdleReady(uint64_t now);
  void onTick(uint64_t now);
  int timeoutMs(uint64_t now) const;
  void printReport();
  void printReady(uint64_t now);
  uint64_t totalErrors() const;

  Options options_;
  int epoll_ = -1;
  sockaddr_in address_{};
  RandomPool random_;
  std::vector<Connection> connections_;
  PayloadSource payload_;
  CompressedBodies compressedBodies_;  // with --deflate
  std::vector<uint8_t> plain_;         // one whole message, for deflate
  std::vector<uint8_t> compressed_;    // deflate output scratch
  std::vector<uint8_t> inflated_;      // inflate output scratch, size + 1
  std::vector<uint8_t> scratch_;       // recv buffer shared by connections

  Phase phase_ = Phase::kConnecting;
  uint32_t nextToStart_ = 0;
  uint32_t inProgress_ = 0;
  uint32_t openNow_ = 0;
  uint32_t openedEver_ = 0;
  bool anyDeflate_ = false;
  bool stdinOpen_ = false;
  bool interrupted_ = false;

  uint64_t startNs_ = 0;
  uint64_t connectDeadlineNs_ = 0;
  uint64_t allConnectedNs_ = 0;
  uint64_t phaseEndNs_ = 0;  // end of warmup, measurement or hold
  uint64_t lastProgressNs_ = 0;

  // The measured window.
  uint64_t t0Ns_ = 0;
  uint64_t t1Ns_ = 0;
  double cpu0_ = 0;
  double cpu1_ = 0;
  ProcSample server0_;
  ProcSample server1_;
  std::vector<CpuTimes> cpus0_;
  std::vector<CpuTimes> cpus1_;
  uint64_t messages_ = 0;
  uint64_t wireIn_ = 0;
  uint64_t wireOut_ = 0;
  uint64_t wireIn0_ = 0;
  uint64_t wireOut0_ = 0;
  LatencyHistogram latency_;

  // kIdle
  uint32_t idleDone_ = 0;
  bool readyPrinted_ = false;

  // kBroadcast
  uint64_t round_ = 0;
  uint64_t roundStartNs_ = 0;
  uint64_t nextRoundNs_ = 0;
  uint32_t roundReceived_ = 0;
  bool roundActive_ = false;
  std::vector<double> roundMs_;

  uint64_t errors_[kErrorKindCount] = {};
  std::string firstError_;
};

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_LOADGEN_H_
