// Native socket I/O after the upgrade: a duplicate of a connected socket's
// descriptor polled on Node's own libuv loop. Reads become Buffers handed to
// one JS function; writes go straight to the kernel through core/socket_io.
// The only file that knows libuv; built only when uv.h was found.
#include "binding.h"

#ifdef WSN_HAVE_UV

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <vector>

#include "js_buffer.h"
#include "socket_io.h"

namespace wsn::binding {
namespace {

// One read takes at most this much; Node's own stream reads use 64 KiB too.
constexpr size_t kReadBytes = 64 * 1024;
// Reads per wake-up while the kernel keeps filling the buffer, so one busy
// connection cannot starve the others on the loop.
constexpr int kMaxReadsPerWake = 16;
// How much one read takes when the kernel holds more than kReadBytes. Up to
// kHeapReadBytes the Buffer stays under glibc's 128 KiB mmap threshold and
// comes from the heap; a larger Buffer is a fresh mmap that is faulted in and
// unmapped again, which only pays when that much is waiting: then a large
// message arrives in one Buffer instead of being reassembled from pieces.
// Measured (bench/run-all.js, binary echoes): reading up to 1 MiB whenever
// more was waiting put a quarter of the server's CPU in page faults at
// 64 KiB x 100 connections (63 us per message against ws's 53); capping every
// read at 124 KiB cost 1.45-1.59x ws's CPU at 1 MiB (reassembly).
constexpr size_t kHeapReadBytes = 124 * 1024;
constexpr size_t kLargeReadMinBytes = 512 * 1024;
constexpr size_t kMaxReadBytes = 1024 * 1024;
// After a read of at least this much, a connection asks the kernel how much
// is waiting (FIONREAD) before its next reads and, when that is at least this
// much too, reads it straight into a Buffer of that size instead of copying
// it out of the scratch buffer. Large messages arrive unevenly: counted at
// 64 KiB text echoes x 100 connections, half the wake-ups found about 125 KiB
// waiting and the other half about 4 KiB, so a few small ones in a row are
// allowed before the connection goes back to plain scratch reads.
constexpr size_t kSizedReadMinBytes = 16 * 1024;
constexpr uint8_t kSizedReadTries = 4;
// A frame with at least this much payload still to come is read straight
// into the parser's message buffer (FrameParser::directWindow).
constexpr size_t kDirectMinBytes = 16 * 1024;

// What onEvent(kind, value) reports; lib/native-socket.js has the same list.
enum EventKind : uint32_t {
  kEventEnd = 0,      // the peer sent FIN; value 0
  kEventError = 1,    // value: errno
  kEventFlushed = 2,  // value: bytes written to the kernel so far
};

class SocketWrap;

// The error of a parser method called before createParser() (or after
// releaseParser()).
constexpr const char* kNoParser = "No parser: call createParser() first";

// Lives from the constructor until libuv's close callback, which may run
// after the JS object is gone; the JS object may also outlive it. Never
// touched by another thread.
struct Connection {
  napi_env env = nullptr;
  uv_poll_t poll;
  int fd = -1;
  int polledEvents = 0;
  bool reading = false;
  bool closed = false;
  // The handle's own reference (its ObjectWrap's), strong while open; the
  // handle's `owner` property holds the JS NativeSocket. (A reference of its
  // own to the owner would be another 60 bytes of malloc'd memory and a
  // global handle per connection.)
  napi_ref self = nullptr;
  OutboundQueue queue;
  // Direct payload reads (linkParser): the parser of this connection's
  // Receiver (owned by the SocketWrap, which outlives the link), and a word
  // the Receiver keeps at 1 while it has parsed every byte delivered to it
  // and holds no event back. Only then may bytes skip it: the parser state is
  // then exactly where the socket stream is.
  FrameParser* parser = nullptr;
  Napi::ObjectReference idleOwner;
  const int32_t* receiverIdle = nullptr;
  // Bytes read straight into the parser and not yet counted by JS.
  size_t directBytes = 0;
  // Reads left that ask how much is waiting first (see kSizedReadTries).
  uint8_t sizedReadTries = 0;
};

void onClosed(uv_handle_t* handle) {
  delete static_cast<Connection*>(handle->data);
}

// Polls for exactly what is wanted now. uv_poll_start drops and re-adds the
// descriptor in epoll (two system calls), so only call it on a change.
void updatePoll(Connection* connection);

// Calls fn(args) with the handle as `this`, from the event loop:
// MakeCallback runs the nextTick and microtask queues afterwards, as Node
// does after a socket's 'data'. An exception is the process's uncaught
// exception, as a throwing 'data' listener's would be.
void callOwner(Connection* connection, napi_value fn, size_t argc,
               const napi_value* argv) {
  napi_env env = connection->env;
  napi_value self = nullptr;
  if (napi_get_reference_value(env, connection->self, &self) != napi_ok ||
      self == nullptr) {
    return;
  }
  napi_value result;
  napi_status status =
      napi_make_callback(env, nullptr, self, fn, argc, argv, &result);
  if (status == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      napi_fatal_exception(env, error);
    }
  }
}

void emitEvent(Connection* connection, EventKind kind, double value) {
  Napi::Env env(connection->env);
  napi_value argv[2] = {Napi::Number::New(env, static_cast<double>(kind)),
                        Napi::Number::New(env, value)};
  callOwner(connection, instanceData(env).socketOnEvent.Value(), 2, argv);
}

// Keeps a Buffer that the outbound queue points into alive.
class BufferKeeper : public Keeper {
 public:
  explicit BufferKeeper(Napi::Value buffer)
      : reference_(Napi::Persistent(buffer)) {}

 private:
  Napi::Reference<Napi::Value> reference_;
};

struct WriteArguments {
  Napi::Value single;
  Napi::Array list;
};

std::unique_ptr<Keeper> borrowBuffer(void* context, size_t index) {
  auto* arguments = static_cast<WriteArguments*>(context);
  Napi::Value buffer = arguments->list.IsEmpty()
                           ? arguments->single
                           : arguments->list.Get(static_cast<uint32_t>(index));
  return std::make_unique<BufferKeeper>(buffer);
}

// Bytes the kernel holds for us now (0 when unknown).
size_t bytesWaiting(int fd) {
  int available = 0;
  if (::ioctl(fd, FIONREAD, &available) != 0 || available <= 0) return 0;
  return static_cast<size_t>(available);
}

// How much one read into a Buffer of its own takes when `waiting` bytes are
// there, capped so one connection cannot make us allocate without bound.
// While the parser assembles a fragmented message, every chunk is copied into
// its message buffer and then dropped, so a chunk past glibc's mmap threshold
// would only be faulted in to be copied out: such reads stay heap-sized.
size_t readBytesFor(const Connection* connection, size_t waiting) {
  const bool copiedOut = connection->parser != nullptr &&
                         connection->parser->assemblingFragments();
  if (waiting >= kLargeReadMinBytes && !copiedOut) {
    return std::min(waiting, kMaxReadBytes);
  }
  return std::min(waiting, kHeapReadBytes);
}

// Bytes the kernel holds for us beyond what one full scratch read took.
size_t moreAvailable(const Connection* connection) {
  const size_t waiting = bytesWaiting(connection->fd);
  return waiting == 0
             ? 0
             : readBytesFor(connection, kReadBytes + waiting) - kReadBytes;
}

// Hands `chunk` to JS: onData(chunk, bytes read straight into the parser
// since the last call). An empty chunk only makes the Receiver run its
// parser, which then reports what direct reads completed.
void deliver(Connection* connection, napi_value chunk) {
  Napi::Env env(connection->env);
  napi_value argv[2] = {
      chunk,
      Napi::Number::New(env, static_cast<double>(connection->directBytes))};
  connection->directBytes = 0;
  callOwner(connection, instanceData(env).socketOnData.Value(), 2, argv);
}

void deliverEmpty(Connection* connection) {
  Napi::HandleScope scope(Napi::Env(connection->env));
  deliver(connection, newUninitializedBuffer(connection->env, 0));
}

// A read at end of stream or failure: JS first hears of what direct reads
// took, then of the end or the error.
void finishReading(Connection* connection, const ReadResult& result) {
  if (connection->directBytes != 0) deliverEmpty(connection);
  if (connection->closed) return;
  if (result.error != 0) {
    emitEvent(connection, kEventError, result.error);
    return;
  }
  connection->reading = false;
  updatePoll(connection);
  emitEvent(connection, kEventEnd, 0);
}

enum class DirectRead { kNone, kDrained, kMore, kFinal };

// One read straight into the parser's message buffer, when the Receiver is
// caught up and the frame being read has a large payload still to come. The
// kernel then copies the payload once, to where the message is assembled,
// instead of into a chunk the parser copies from again.
DirectRead readDirect(Connection* connection, ReadResult* result) {
  if (connection->parser == nullptr || *connection->receiverIdle != 1) {
    return DirectRead::kNone;
  }
  uint8_t* destination = nullptr;
  const size_t window =
      connection->parser->directWindow(kDirectMinBytes, &destination);
  if (window == 0) return DirectRead::kNone;
  *result = readSome(connection->fd, destination, window);
  if (result->bytes == 0) return DirectRead::kFinal;
  connection->directBytes += result->bytes;
  if (connection->parser->commitDirect(result->bytes)) {
    // The frame is complete (or was invalid): the Receiver reports it.
    deliverEmpty(connection);
  }
  return result->bytes < window ? DirectRead::kDrained : DirectRead::kMore;
}

enum class SizedRead { kNone, kDrained, kMore, kFinal };

// While large amounts arrive, one read of what the kernel says is waiting,
// straight into a Buffer of that size.
SizedRead readSized(Connection* connection) {
  if (connection->sizedReadTries == 0) return SizedRead::kNone;
  const size_t waiting = bytesWaiting(connection->fd);
  if (waiting < kSizedReadMinBytes) {
    // Little is waiting: the scratch buffer takes it (and sees the end of
    // the stream or an error).
    --connection->sizedReadTries;
    return SizedRead::kNone;
  }
  connection->sizedReadTries = kSizedReadTries;
  Napi::Env env(connection->env);
  Napi::HandleScope scope(env);
  const size_t capacity = readBytesFor(connection, waiting);
  Napi::Buffer<uint8_t> chunk = newUninitializedBuffer(env, capacity);
  const ReadResult result = readSome(connection->fd, chunk.Data(), capacity);
  if (result.wouldBlock) return SizedRead::kDrained;
  if (result.error != 0 || result.bytes == 0) {
    finishReading(connection, result);
    return SizedRead::kFinal;
  }
  if (result.bytes < capacity) {
    // FIONREAD promised more than the read returned (rare): trim.
    chunk = copyToBuffer(env, chunk.Data(), result.bytes);
  }
  deliver(connection, chunk);
  // Unless a cap cut it short, this read took everything that was waiting.
  return result.bytes < waiting ? SizedRead::kMore : SizedRead::kDrained;
}

void readAvailable(Connection* connection) {
  Napi::Env env(connection->env);
  InstanceData& data = instanceData(env);
  uint8_t* scratch = data.readScratch.get();
  for (int reads = 0; reads < kMaxReadsPerWake; ++reads) {
    if (connection->closed || !connection->reading) return;
    ReadResult direct;
    switch (readDirect(connection, &direct)) {
      case DirectRead::kNone:
        break;
      case DirectRead::kDrained:
        return;
      case DirectRead::kMore:
        continue;
      case DirectRead::kFinal:
        if (!direct.wouldBlock) finishReading(connection, direct);
        return;
    }
    switch (readSized(connection)) {
      case SizedRead::kNone:
        break;
      case SizedRead::kMore:
        continue;
      case SizedRead::kDrained:
      case SizedRead::kFinal:
        return;
    }
    const ReadResult result = readSome(connection->fd, scratch, kReadBytes);
    if (result.wouldBlock) return;
    if (result.error != 0 || result.bytes == 0) {
      finishReading(connection, result);
      return;
    }
    Napi::HandleScope scope(env);
    if (result.bytes >= kSizedReadMinBytes) {
      connection->sizedReadTries = kSizedReadTries;
    }
    // A full read means a large message is arriving: take what else the
    // kernel holds straight into the same Buffer, so the parser sees big
    // chunks and only the first 64 KiB are copied.
    const size_t more =
        result.bytes == kReadBytes ? moreAvailable(connection) : 0;
    Napi::Buffer<uint8_t> chunk =
        newUninitializedBuffer(env, result.bytes + more);
    std::memcpy(chunk.Data(), scratch, result.bytes);
    size_t filled = result.bytes;
    if (more > 0) {
      const ReadResult rest =
          readSome(connection->fd, chunk.Data() + filled, more);
      filled += rest.bytes;
    }
    if (filled < chunk.Length()) {
      // FIONREAD promised more than the read returned (rare): trim.
      chunk = copyToBuffer(env, chunk.Data(), filled);
    }
    deliver(connection, chunk);
    // A short read emptied the kernel's buffer: wait for the next wake-up
    // rather than pay for a read that returns EAGAIN.
    if (result.bytes < kReadBytes) return;
  }
}

// Writes what the kernel takes of the queue, then reports how far it got
// (kEventFlushed) or the error. Returns false when the connection failed or
// was closed meanwhile.
bool flushQueue(Connection* connection) {
  const uint64_t before = connection->queue.flushedBytes();
  const int error = connection->queue.flush(connection->fd);
  if (error != 0) {
    emitEvent(connection, kEventError, error);
    return false;
  }
  updatePoll(connection);
  if (connection->queue.flushedBytes() != before) {
    emitEvent(connection, kEventFlushed,
              static_cast<double>(connection->queue.flushedBytes()));
  }
  return !connection->closed;
}

void onPoll(uv_poll_t* handle, int status, int events) {
  auto* connection = static_cast<Connection*>(handle->data);
  if (connection->closed) return;
  Napi::HandleScope scope(Napi::Env(connection->env));
  if (status < 0) {
    // libuv reports -errno on Unix, and an EPOLLERR wake-up as UV_EBADF: the
    // socket's pending error then says what happened (ECONNRESET after the
    // peer's RST), as a read would have.
    int pending = 0;
    socklen_t length = sizeof pending;
    const int fd = connection->fd;
    const bool known =
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length) == 0;
    emitEvent(connection, kEventError,
              known && pending != 0 ? pending : -status);
    return;
  }
  if ((events & UV_WRITABLE) != 0 && !connection->queue.empty() &&
      !flushQueue(connection)) {
    return;
  }
  if ((events & UV_READABLE) != 0) readAvailable(connection);
}

void updatePoll(Connection* connection) {
  if (connection->closed) return;
  const int wanted = (connection->reading ? UV_READABLE : 0) |
                     (connection->queue.empty() ? 0 : UV_WRITABLE);
  if (wanted == connection->polledEvents) return;
  connection->polledEvents = wanted;
  if (wanted == 0) {
    uv_poll_stop(&connection->poll);
  } else {
    uv_poll_start(&connection->poll, wanted, onPoll);
  }
}

// The JS face of a Connection: new NativeSocket(fd, owner) duplicates `fd`
// (the caller then closes its own copy), keeps `owner` as its `owner`
// property and reports to the functions given to setSocketCallbacks() with
// itself as `this`. It also holds the frame
// parser of the connection's Receiver (createParser), with FrameParser's
// methods: a separate FrameParser object would cost about 350 bytes per idle
// connection in wrappers and references.
class SocketWrap : public Napi::ObjectWrap<SocketWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "NativeSocket",
        {InstanceMethod<&SocketWrap::readStart>("readStart"),
         InstanceMethod<&SocketWrap::readStop>("readStop"),
         InstanceMethod<&SocketWrap::write>("write"),
         InstanceMethod<&SocketWrap::createParser>("createParser"),
         rawMethod<SocketWrap>("execute", execute),
         InstanceMethod<&SocketWrap::takeOwned>("takeOwned"),
         InstanceMethod<&SocketWrap::releaseParser>("releaseParser"),
         InstanceMethod<&SocketWrap::linkParser>("linkParser"),
         InstanceAccessor<&SocketWrap::maxPayload>("maxPayload"),
         InstanceMethod<&SocketWrap::shutdown>("shutdown"),
         InstanceMethod<&SocketWrap::close>("close"),
         InstanceMethod<&SocketWrap::setNoDelay>("setNoDelay"),
         InstanceMethod<&SocketWrap::setKeepAlive>("setKeepAlive"),
         InstanceMethod<&SocketWrap::ref>("ref"),
         InstanceMethod<&SocketWrap::unref>("unref")});
  }

  explicit SocketWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<SocketWrap>(info) {
    Napi::Env env = info.Env();
    const uint32_t fd = uint32Arg(info[0], "fd");
    if (!info[1].IsObject()) {
      throw Napi::TypeError::New(env,
                                 "The \"owner\" argument must be an object");
    }
    InstanceData& data = instanceData(env);
    if (data.socketOnData.IsEmpty() || data.socketOnEvent.IsEmpty()) {
      throw Napi::Error::New(env, "ws-native: setSocketCallbacks() first");
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "ws-native: no event loop");
    }
    const int copy = ::fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      throw Napi::Error::New(
          env, std::string("ws-native: dup failed: ") + std::strerror(errno));
    }
    auto* connection = new Connection();
    connection->env = env;
    connection->fd = copy;
    const int status = uv_poll_init(loop, &connection->poll, copy);
    if (status != 0) {
      ::close(copy);
      delete connection;
      throw Napi::Error::New(
          env, std::string("ws-native: uv_poll_init: ") + uv_strerror(status));
    }
    connection->poll.data = connection;
    info.This().As<Napi::Object>().Set("owner", info[1]);
    connection_ = connection;
    // Open connections stay alive without a JS reference, as a net.Socket
    // does while its handle is active.
    Ref();
    connection->self = static_cast<const Napi::Reference<Napi::Object>&>(*this);
  }

  // Only reached once release() ran (Ref() holds an open socket), or when
  // the environment is torn down with the socket still open.
  ~SocketWrap() override { release(false); }

 private:
  Napi::Value readStart(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr) {
      connection_->reading = true;
      updatePoll(connection_);
    }
    return info.Env().Undefined();
  }

  Napi::Value readStop(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr) {
      connection_->reading = false;
      updatePoll(connection_);
    }
    return info.Env().Undefined();
  }

  // write(Buffer | Buffer[]) -> bytes still queued (>= 0) or -errno.
  Napi::Value write(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      if (connection_ == nullptr) return Napi::Number::New(env, -EBADF);
      std::vector<struct iovec> pieces;
      WriteArguments arguments;
      if (info[0].IsArray()) {
        auto list = info[0].As<Napi::Array>();
        arguments.list = list;
        const uint32_t count = list.Length();
        pieces.resize(count);
        for (uint32_t i = 0; i < count; ++i) {
          size_t length = 0;
          pieces[i].iov_base = bufferData(list.Get(i), "data", &length);
          pieces[i].iov_len = length;
        }
      } else {
        size_t length = 0;
        struct iovec piece;
        piece.iov_base = bufferData(info[0], "data", &length);
        piece.iov_len = length;
        pieces.push_back(piece);
        arguments.single = info[0];
      }
      const int error =
          connection_->queue.write(connection_->fd, pieces.data(),
                                   pieces.size(), borrowBuffer, &arguments);
      if (error != 0) return Napi::Number::New(env, -error);
      updatePoll(connection_);
      return Napi::Number::New(
          env, static_cast<double>(connection_->queue.queuedBytes()));
    });
  }

  // createParser(options) -> this: FrameParser's constructor, for this
  // connection.
  Napi::Value createParser(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      const ParserOptions options = parserOptionsFrom(info);
      unlinkOwnParser();
      parser_.emplace(options);
      return info.This();
    });
  }

  static napi_value execute(napi_env env, napi_callback_info info) {
    return executeParser(env, info, parserOf);
  }

  static FrameParser* parserOf(napi_env env, napi_value self) {
    return unwrapParser<SocketWrap>(env, self, kNoParser);
  }

  Napi::Value takeOwned(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      if (!parser_) throw Napi::Error::New(info.Env(), kNoParser);
      return takeOwnedPayloads(info.Env(), *parser_);
    });
  }

  Napi::Value maxPayload(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      if (!parser_) throw Napi::Error::New(info.Env(), kNoParser);
      return maxPayloadOf(info.Env(), *parser_);
    });
  }

  // Frees the parser (and its zlib state) now, unlinking it first.
  Napi::Value releaseParser(const Napi::CallbackInfo& info) {
    unlinkOwnParser();
    parser_.reset();
    return info.Env().Undefined();
  }

  // linkParser(idle) lets reads skip the Receiver (readDirect) into this
  // handle's parser while idle[0] is 1. `idle` is an Int32Array over an
  // ArrayBuffer (its bytes do not move). linkParser(null) unlinks.
  Napi::Value linkParser(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      if (connection_ == nullptr) return env.Undefined();
      unlink(connection_);
      if (info[0].IsNull() || info[0].IsUndefined()) return env.Undefined();
      if (!parser_) throw Napi::Error::New(env, kNoParser);
      if (!info[0].IsTypedArray() ||
          info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
          info[0].As<Napi::Int32Array>().ElementLength() < 1) {
        throw Napi::TypeError::New(
            env, "The \"idle\" argument must be an Int32Array");
      }
      auto idle = info[0].As<Napi::Int32Array>();
      connection_->parser = heldParser();
      connection_->idleOwner = Napi::Persistent(idle.As<Napi::Object>());
      connection_->receiverIdle = idle.Data();
      return env.Undefined();
    });
  }

  // Before the parser is replaced or freed: no direct read may use it.
  void unlinkOwnParser() {
    if (connection_ != nullptr && connection_->parser == heldParser()) {
      unlink(connection_);
    }
  }

  static void unlink(Connection* connection) {
    connection->parser = nullptr;
    connection->receiverIdle = nullptr;
    connection->idleOwner.Reset();
  }

  // shutdown() -> 0 or errno. The caller waits until nothing is queued.
  Napi::Value shutdown(const Napi::CallbackInfo& info) {
    int error = EBADF;
    if (connection_ != nullptr) {
      error = ::shutdown(connection_->fd, SHUT_WR) == 0 ? 0 : errno;
    }
    return Napi::Number::New(info.Env(), error);
  }

  // close(reset): with reset, SO_LINGER 0 first, so the kernel answers the
  // close with a RST instead of a FIN (net.Socket#resetAndDestroy()).
  Napi::Value close(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr && info[0].ToBoolean()) {
      const struct linger abort = {1, 0};
      (void)::setsockopt(connection_->fd, SOL_SOCKET, SO_LINGER, &abort,
                         sizeof abort);
    }
    release(true);
    return info.Env().Undefined();
  }

  Napi::Value setNoDelay(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr) {
      const int on = info[0].ToBoolean() ? 1 : 0;
      // Fails harmlessly (ENOTSUP) on a Unix-domain socket.
      (void)::setsockopt(connection_->fd, IPPROTO_TCP, TCP_NODELAY, &on,
                         sizeof on);
    }
    return info.Env().Undefined();
  }

  Napi::Value setKeepAlive(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr) {
      const int on = info[0].ToBoolean() ? 1 : 0;
      (void)::setsockopt(connection_->fd, SOL_SOCKET, SO_KEEPALIVE, &on,
                         sizeof on);
      if (on != 0 && info[1].IsNumber()) {
        const int seconds = info[1].As<Napi::Number>().Int32Value();
        if (seconds > 0) {
          (void)::setsockopt(connection_->fd, IPPROTO_TCP, TCP_KEEPIDLE,
                             &seconds, sizeof seconds);
        }
      }
    }
    return info.Env().Undefined();
  }

  Napi::Value ref(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr) {
      uv_ref(reinterpret_cast<uv_handle_t*>(&connection_->poll));
    }
    return info.Env().Undefined();
  }

  Napi::Value unref(const Napi::CallbackInfo& info) {
    if (connection_ != nullptr) {
      uv_unref(reinterpret_cast<uv_handle_t*>(&connection_->poll));
    }
    return info.Env().Undefined();
  }

  // Closes the descriptor (queued bytes are dropped: the caller waited for
  // them or chose not to) and lets the JS objects go.
  void release(bool unref) {
    Connection* connection = connection_;
    if (connection == nullptr) return;
    connection_ = nullptr;
    connection->closed = true;
    unlink(connection);
    connection->queue.clear();
    connection->self = nullptr;
    ::close(connection->fd);
    connection->fd = -1;
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->poll), onClosed);
    if (unref) Unref();
  }

  Connection* connection_ = nullptr;
  // In place rather than behind another allocation.
  std::optional<FrameParser> parser_;

 public:
  FrameParser* heldParser() { return parser_ ? &*parser_ : nullptr; }
};

Napi::Value setSocketCallbacks(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(
          env, "setSocketCallbacks(onData, onEvent) takes two functions");
    }
    InstanceData& data = instanceData(env);
    data.socketOnData = Napi::Persistent(info[0].As<Napi::Function>());
    data.socketOnEvent = Napi::Persistent(info[1].As<Napi::Function>());
    if (!data.readScratch) data.readScratch.reset(new uint8_t[kReadBytes]);
    return env.Undefined();
  });
}

}  // namespace

void initSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeSocket", SocketWrap::define(env));
  exports.Set("setSocketCallbacks", Napi::Function::New<setSocketCallbacks>(
                                        env, "setSocketCallbacks"));
}

}  // namespace wsn::binding

#else  // !WSN_HAVE_UV

namespace wsn::binding {

// Built without uv.h: lib/native-socket.js sees no NativeSocket and keeps
// every connection on the stream path.
void initSocket(Napi::Env, Napi::Object) {}

}  // namespace wsn::binding

#endif
