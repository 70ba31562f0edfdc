// wsn-loadgen argument parsing: every option has a range, checked here, so
// the event loop can trust its inputs. Depends on the standard library only.
#include "options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace wsn::bench {

const char kUsage[] =
    "usage: wsn-loadgen --port P [options]\n"
    "  --host H                 server address, IPv4 (default 127.0.0.1)\n"
    "  --path /p                request path (default /)\n"
    "  --mode echo|idle|broadcast   (default echo)\n"
    "  --connections N          connections (default 1)\n"
    "  --depth D                echo: messages in flight per connection\n"
    "  --size S                 message bytes (default 32)\n"
    "  --type text|binary       text is valid mixed UTF-8 (default binary)\n"
    "  --deflate                offer permessage-deflate, compress every "
    "message\n"
    "  --deflate-level L        zlib level of our side, 0..9 (default 1 for\n"
    "                           text, 0 for binary: random bytes)\n"
    "  --warmup SECONDS         echo: unrecorded time first (default 1)\n"
    "  --duration SECONDS       echo: recorded time (default 5)\n"
    "  --connect-concurrency C  handshakes in progress at once (default 256)\n"
    "  --connect-timeout SECONDS   all connections open within (default 60)\n"
    "  --stall SECONDS          fail when no echo arrives for this long "
    "(default 10)\n"
    "  --accept-masked          accept masked server frames (raw echo "
    "floor)\n"
    "  --server-pid PID         sample the server's CPU and RSS from /proc\n"
    "  --idle-messages K        idle: echo K messages per connection first\n"
    "  --hold SECONDS           idle: hold this long after 'ready'\n"
    "  --hold-stdin             idle: hold until stdin closes\n"
    "  --rounds R               broadcast: recorded rounds (default 20)\n"
    "  --warmup-rounds W        broadcast: unrecorded rounds (default 3)\n"
    "  --round-gap-ms MS        broadcast: pause between rounds (default 20)\n"
    "  --max-message BYTES      largest accepted server message (default "
    "64 MiB)\n";

namespace {

bool parseUnsigned(const char* text, uint64_t low, uint64_t high,
                   uint64_t* out) {
  if (text == nullptr || *text == '\0' || *text == '-') return false;
  errno = 0;
  char* end;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < low || value > high) return false;
  *out = value;
  return true;
}

bool parseSeconds(const char* text, double low, double high, double* out) {
  if (text == nullptr || *text == '\0') return false;
  errno = 0;
  char* end;
  const double value = std::strtod(text, &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(value) || value < low ||
      value > high) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

bool parseOptions(int argc, char** argv, Options* options, std::string* error) {
  Options result;
  bool portSeen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    uint64_t number = 0;
    bool ok = true;
    bool takesValue = true;
    if (name == "--help" || name == "-h") {
      error->clear();
      return false;
    } else if (name == "--host") {
      ok = value != nullptr;
      if (ok) result.host = value;
    } else if (name == "--port") {
      ok = parseUnsigned(value, 1, 65535, &number);
      result.port = static_cast<uint16_t>(number);
      portSeen = ok;
    } else if (name == "--path") {
      ok = value != nullptr && value[0] == '/' &&
           std::strpbrk(value, " \r\n") == nullptr;
      if (ok) result.path = value;
    } else if (name == "--mode") {
      ok = value != nullptr;
      if (ok && std::strcmp(value, "echo") == 0) {
        result.mode = Mode::kEcho;
      } else if (ok && std::strcmp(value, "idle") == 0) {
        result.mode = Mode::kIdle;
      } else if (ok && std::strcmp(value, "broadcast") == 0) {
        result.mode = Mode::kBroadcast;
      } else {
        ok = false;
      }
    } else if (name == "--connections") {
      ok = parseUnsigned(value, 1, 1000000, &number);
      result.connections = static_cast<uint32_t>(number);
    } else if (name == "--depth") {
      ok = parseUnsigned(value, 1, 65536, &number);
      result.depth = static_cast<uint32_t>(number);
    } else if (name == "--size") {
      ok = parseUnsigned(value, 1, 256 * 1024 * 1024, &number);
      result.messageBytes = static_cast<size_t>(number);
    } else if (name == "--type") {
      ok = value != nullptr;
      if (ok && std::strcmp(value, "text") == 0) {
        result.kind = PayloadKind::kText;
      } else if (ok && std::strcmp(value, "binary") == 0) {
        result.kind = PayloadKind::kBinary;
      } else {
        ok = false;
      }
    } else if (name == "--deflate") {
      takesValue = false;
      result.deflate = true;
    } else if (name == "--deflate-level") {
      ok = parseUnsigned(value, 0, 9, &number);
      result.deflateLevel = static_cast<int>(number);
    } else if (name == "--warmup") {
      ok = parseSeconds(value, 0, 3600, &result.warmupSeconds);
    } else if (name == "--duration") {
      ok = parseSeconds(value, 0.01, 3600, &result.durationSeconds);
    } else if (name == "--connect-concurrency") {
      ok = parseUnsigned(value, 1, 100000, &number);
      result.connectConcurrency = static_cast<uint32_t>(number);
    } else if (name == "--connect-timeout") {
      ok = parseSeconds(value, 0.1, 3600, &result.connectTimeoutSeconds);
    } else if (name == "--stall") {
      ok = parseSeconds(value, 0.1, 3600, &result.stallSeconds);
    } else if (name == "--accept-masked") {
      takesValue = false;
      result.acceptMasked = true;
    } else if (name == "--server-pid") {
      ok = parseUnsigned(value, 1, 1u << 30, &number);
      result.serverPid = static_cast<int>(number);
    } else if (name == "--idle-messages") {
      ok = parseUnsigned(value, 0, 1000000, &number);
      result.idleMessages = static_cast<uint32_t>(number);
    } else if (name == "--hold") {
      ok = parseSeconds(value, 0, 86400, &result.holdSeconds);
    } else if (name == "--hold-stdin") {
      takesValue = false;
      result.holdUntilStdinCloses = true;
    } else if (name == "--rounds") {
      ok = parseUnsigned(value, 1, 1000000, &number);
      result.rounds = static_cast<uint32_t>(number);
    } else if (name == "--warmup-rounds") {
      ok = parseUnsigned(value, 0, 1000000, &number);
      result.warmupRounds = static_cast<uint32_t>(number);
    } else if (name == "--round-gap-ms") {
      ok = parseSeconds(value, 0, 60000, &result.roundGapMs);
    } else if (name == "--max-message") {
      ok = parseUnsigned(value, 1, uint64_t{1} << 32, &number);
      result.maxMessageBytes = static_cast<size_t>(number);
    } else {
      *error = "unknown option " + name;
      return false;
    }
    if (!ok) {
      *error = "bad value for " + name;
      return false;
    }
    if (takesValue) ++i;
  }
  if (!portSeen) {
    *error = "--port is required";
    return false;
  }
  if (result.deflateLevel < 0) {
    result.deflateLevel = result.kind == PayloadKind::kBinary ? 0 : 1;
  }
  if (result.maxMessageBytes < result.messageBytes) {
    *error = "--max-message is smaller than --size";
    return false;
  }
  *options = result;
  return true;
}

}  // namespace wsn::bench
