// Command line of wsn-loadgen. Parsing only; no I/O beyond the usage text.
#ifndef WSN_BENCH_LOADGEN_OPTIONS_H_
#define WSN_BENCH_LOADGEN_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "payload.h"

namespace wsn::bench {

enum class Mode {
  kEcho,       // D messages in flight per connection, warmup then T seconds
  kIdle,       // open N, optionally echo K messages each, then hold
  kBroadcast,  // connection 0 sends, every connection must receive it
};

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/";
  Mode mode = Mode::kEcho;
  uint32_t connections = 1;
  uint32_t depth = 1;
  size_t messageBytes = 32;
  PayloadKind kind = PayloadKind::kBinary;
  bool deflate = false;
  // -1: 1 for text; 0 for binary, whose random bodies zlib sends as stored
  // blocks at any level, so level 0 gives the server the same kind of
  // message without the futile match search that made the load generator
  // the bottleneck.
  int deflateLevel = -1;
  double warmupSeconds = 1;
  double durationSeconds = 5;
  uint32_t connectConcurrency = 256;
  double connectTimeoutSeconds = 60;
  double stallSeconds = 10;
  bool acceptMasked = false;
  int serverPid = 0;
  // kIdle
  uint32_t idleMessages = 0;
  double holdSeconds = 0;
  bool holdUntilStdinCloses = false;
  // kBroadcast
  uint32_t rounds = 20;
  uint32_t warmupRounds = 3;
  double roundGapMs = 20;
  double roundTimeoutSeconds = 30;
  // Larger frames or messages from the server fail the connection.
  size_t maxMessageBytes = 64 * 1024 * 1024;
};

// Fills *options from argv. On a bad argument returns false with *error set;
// on --help returns false with *error empty.
bool parseOptions(int argc, char** argv, Options* options, std::string* error);

extern const char kUsage[];

}  // namespace wsn::bench

#endif  // WSN_BENCH_LOADGEN_OPTIONS_H_
