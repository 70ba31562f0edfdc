// The Deflater and Inflater classes of binding.d.ts over native/core/deflate.h:
// synchronous calls on the JS thread, asynchronous ones on the libuv
// threadpool, one at a time per object and in call order, because a zlib stream
// must never be touched by two threads.
#include <cmath>
#include <cstdlib>
#include <deque>
#include <utility>

#include "binding.h"
#include "deflate.h"

namespace wsn::binding {
namespace {

// Results up to this size are copied into a JS Buffer; larger ones are handed
// over without a copy, which costs a finalizer per Buffer.
constexpr size_t kCopyMaxBytes = 64 * 1024;
// The per-thread output buffer of synchronous calls keeps its storage up to
// this size.
constexpr size_t kScratchKeepBytes = 256 * 1024;

ByteBuffer& syncScratch() {
  thread_local ByteBuffer scratch;
  return scratch;
}

// Turns `bytes` into a Buffer and leaves `bytes` empty.
Napi::Buffer<uint8_t> toBuffer(Napi::Env env, ByteBuffer& bytes) {
  const size_t size = bytes.size();
  if (size == 0) return Napi::Buffer<uint8_t>::New(env, 0);
  if (size <= kCopyMaxBytes) {
    auto copy = Napi::Buffer<uint8_t>::Copy(env, bytes.data(), size);
    bytes.clear();
    if (bytes.capacity() > kScratchKeepBytes) bytes.reset();
    return copy;
  }
  const size_t capacity = bytes.capacity();
  uint8_t* data = bytes.release();
  // Growth left up to a third unused: give it back before JS holds the block
  // for its lifetime.
  if (capacity - size > size / 8) {
    if (void* trimmed = std::realloc(data, size))
      data = static_cast<uint8_t*>(trimmed);
  }
  return Napi::Buffer<uint8_t>::NewOrCopy(
      env, data, size, [](Napi::Env, uint8_t* block) { std::free(block); });
}

Napi::Error outOfMemory(Napi::Env env) {
  return Napi::Error::New(env, "ws-native: out of memory");
}

int intOption(const Napi::Object& options, const char* name, int fallback,
              int low, int high) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(options.Env(), std::string("The \"") + name +
                                                  "\" option must be a number");
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= low && number <= high) || std::floor(number) != number) {
    throw Napi::RangeError::New(
        options.Env(), std::string("The \"") + name +
                           "\" option must be an integer in " +
                           std::to_string(low) + ".." + std::to_string(high));
  }
  return static_cast<int>(number);
}

int windowBitsArg(const Napi::Value& value) {
  const double number = numberArg(value, "windowBits");
  if (!(number >= 8 && number <= 15) || std::floor(number) != number) {
    throw Napi::RangeError::New(
        value.Env(), "The \"windowBits\" argument must be an integer in 8..15");
  }
  return static_cast<int>(number);
}

// maxPayload as ws takes it: 0 (or Infinity) means no limit; a fraction limits
// like its floor.
uint64_t maxPayloadArg(const Napi::Value& value) {
  const double number = numberArg(value, "maxPayload");
  if (std::isnan(number) || number < 0) {
    throw Napi::RangeError::New(
        value.Env(),
        "The \"maxPayload\" argument must be a non-negative number");
  }
  if (std::isinf(number) || number >= 18446744073709549568.0) return 0;
  return static_cast<uint64_t>(number);
}

bool boolArg(const Napi::Value& value, const char* what) {
  if (!value.IsBoolean()) {
    throw Napi::TypeError::New(
        value.Env(),
        std::string("The \"") + what + "\" argument must be a boolean");
  }
  return value.As<Napi::Boolean>().Value();
}

Napi::Function callbackArg(const Napi::Value& value) {
  if (!value.IsFunction()) {
    throw Napi::TypeError::New(value.Env(),
                               "The \"callback\" argument must be a function");
  }
  return value.As<Napi::Function>();
}

// Constructors may only throw Napi::Error: node-addon-api converts nothing else
// there.
template <typename Core, typename... Args>
std::unique_ptr<Core> makeCore(Napi::Env env, Args&&... args) {
  try {
    return std::make_unique<Core>(std::forward<Args>(args)...);
  } catch (const std::bad_alloc&) {
    throw outOfMemory(env);
  }
}

// A call waiting for its turn. The input is copied at call time: the caller may
// reuse or detach its buffer while the work runs on another thread.
struct Job {
  ByteBuffer input;
  bool fin = false;
  uint64_t maxPayloadBytes = 0;
  Napi::FunctionReference callback;
};

// Runs one Job of `Wrap` on the threadpool. The receiver reference keeps the JS
// object, and so the core object, alive until the callback has run.
template <typename Wrap>
class ZlibWorker final : public Napi::AsyncWorker {
 public:
  ZlibWorker(Wrap* owner, Job&& job)
      : Napi::AsyncWorker(owner->Value(), job.callback.Value(),
                          Wrap::kResourceName),
        owner_(owner),
        job_(std::move(job)) {}

  void Execute() override { status_ = owner_->run(job_, output_); }

  // Gives the call back when the worker could not be queued.
  Job takeJob() { return std::move(job_); }

  void OnOK() override {
    Napi::Env env = Env();
    owner_->busy_ = false;
    owner_->memoryBytes_ = owner_->core_->memoryBytes();
    Status status = status_;
    Napi::Value result;
    try {
      result = owner_->deliver(env, status_, output_);
    } catch (const Napi::Error& error) {
      result = error.Value();
      status = Status::kOutOfMemory;
    } catch (const std::exception&) {
      result = outOfMemory(env).Value();
      status = Status::kOutOfMemory;
    }
    // The next waiting call starts before this callback runs, so work the
    // callback queues lines up behind calls made earlier. If it cannot start,
    // every waiting call fails in order.
    std::deque<Job> orphans;
    try {
      Wrap::startNext(owner_);
    } catch (const std::exception&) {
      orphans.swap(owner_->queue_);
    }
    owner_->complete(env, Callback(), Receiver().Value(), status, result);
    for (Job& orphan : orphans) {
      owner_->complete(env, orphan.callback, Receiver().Value(),
                       Status::kOutOfMemory, outOfMemory(env).Value());
    }
  }

 private:
  Wrap* owner_;
  Job job_;
  ByteBuffer output_;
  Status status_ = Status::kOk;
};

// What Deflater and Inflater share: the busy flag and the queue of waiting
// calls.
template <typename Derived>
class QueuedWrap : public Napi::ObjectWrap<Derived> {
 public:
  using Napi::ObjectWrap<Derived>::ObjectWrap;

  // Starts the next waiting call, if any and if nothing runs. If the worker
  // cannot be made, the call stays at the front of the queue and the exception
  // propagates.
  static void startNext(Derived* self) {
    if (self->busy_ || self->queue_.empty()) return;
    auto* worker =
        new ZlibWorker<Derived>(self, std::move(self->queue_.front()));
    self->queue_.pop_front();
    self->busy_ = true;
    try {
      worker->Queue();
    } catch (...) {
      self->queue_.push_front(worker->takeJob());
      self->busy_ = false;
      delete worker;
      throw;
    }
  }

  void submit(Job&& job) {
    queue_.push_back(std::move(job));
    try {
      startNext(static_cast<Derived*>(this));
    } catch (...) {
      // Only a call that was to start at once can fail here: the caller gets
      // the exception instead of a callback.
      queue_.pop_back();
      throw;
    }
  }

  Napi::Value memoryBytesGetter(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      // While a worker runs the core is not ours to read: report the last
      // settled figure.
      if (!busy_)
        memoryBytes_ = static_cast<Derived*>(this)->core_->memoryBytes();
      return Napi::Number::New(info.Env(), static_cast<double>(memoryBytes_));
    });
  }

  void ensureIdle(Napi::Env env, const char* what) const {
    if (busy_) {
      throw Napi::Error::New(
          env, std::string("ws-native: ") + what +
                   " was called while an asynchronous call on the same " +
                   "object is still running");
    }
  }

  bool busy_ = false;
  size_t memoryBytes_ = 0;
  std::deque<Job> queue_;
};

Job jobOf(const Napi::CallbackInfo& info, size_t callbackIndex) {
  size_t length = 0;
  const uint8_t* data = bufferData(info[0], "data", &length);
  Job job;
  if (!job.input.append(data, length)) throw std::bad_alloc();
  job.fin = boolArg(info[1], "fin");
  job.callback = Napi::Persistent(callbackArg(info[callbackIndex]));
  return job;
}

class DeflaterWrap final : public QueuedWrap<DeflaterWrap> {
 public:
  static constexpr const char* kResourceName = "ws-native:Deflater";

  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "Deflater",
        {InstanceMethod<&DeflaterWrap::compress>("compress"),
         InstanceMethod<&DeflaterWrap::compressAsync>("compressAsync"),
         InstanceAccessor<&DeflaterWrap::memoryBytes>("memoryBytes")});
  }

  explicit DeflaterWrap(const Napi::CallbackInfo& info) : QueuedWrap(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      throw Napi::TypeError::New(env,
                                 "The \"options\" argument must be an object");
    }
    const Napi::Object options = info[0].As<Napi::Object>();
    DeflateOptions core;
    core.windowBits = intOption(options, "windowBits", 15, 8, 15);
    core.level = intOption(options, "level", -1, -1, 9);
    core.memLevel = intOption(options, "memLevel", 8, 1, 9);
    core.strategy = intOption(options, "strategy", 0, 0, 4);
    const Napi::Value reset = options.Get("noContextTakeover");
    core.noContextTakeover =
        reset.IsUndefined() ? false : reset.ToBoolean().Value();
    core_ = makeCore<Deflater>(env, core);
  }

  Status run(Job& job, ByteBuffer& output) {
    return core_->compress(job.input.data(), job.input.size(), job.fin, output);
  }

  Napi::Value deliver(Napi::Env env, Status status, ByteBuffer& output) {
    if (status != Status::kOk) return outOfMemory(env).Value();
    return toBuffer(env, output);
  }

  // compressAsync's callback: (error, result).
  void complete(Napi::Env env, Napi::FunctionReference& callback,
                Napi::Value receiver, Status status, Napi::Value result) {
    if (status != Status::kOk) {
      callback.Call(receiver, {result});
    } else {
      callback.Call(receiver, {env.Null(), result});
    }
  }

  std::unique_ptr<Deflater> core_;

 private:
  Napi::Value memoryBytes(const Napi::CallbackInfo& info) {
    return memoryBytesGetter(info);
  }

  Napi::Value compress(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      size_t length = 0;
      const uint8_t* data = bufferData(info[0], "data", &length);
      const bool fin = boolArg(info[1], "fin");
      ensureIdle(env, "compress()");
      ByteBuffer& out = syncScratch();
      out.clear();
      if (core_->compress(data, length, fin, out) != Status::kOk)
        throw outOfMemory(env);
      return toBuffer(env, out);
    });
  }

  Napi::Value compressAsync(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      submit(jobOf(info, 2));
      return info.Env().Undefined();
    });
  }
};

class InflaterWrap final : public QueuedWrap<InflaterWrap> {
 public:
  static constexpr const char* kResourceName = "ws-native:Inflater";

  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "Inflater",
        {InstanceMethod<&InflaterWrap::inflate>("inflate"),
         InstanceMethod<&InflaterWrap::inflateAsync>("inflateAsync"),
         InstanceAccessor<&InflaterWrap::memoryBytes>("memoryBytes")});
  }

  explicit InflaterWrap(const Napi::CallbackInfo& info) : QueuedWrap(info) {
    const int windowBits = windowBitsArg(info[0]);
    const bool noContextTakeover = boolArg(info[1], "noContextTakeover");
    core_ = makeCore<Inflater>(info.Env(), windowBits, noContextTakeover);
  }

  Status run(Job& job, ByteBuffer& output) {
    return core_->inflate(job.input.data(), job.input.size(), job.fin, output,
                          job.maxPayloadBytes);
  }

  Napi::Value deliver(Napi::Env env, Status status, ByteBuffer& output) {
    if (status != Status::kOk) return env.Undefined();
    return toBuffer(env, output);
  }

  // inflateAsync's callback: (status, result); status 0 with the Buffer, else
  // alone.
  void complete(Napi::Env env, Napi::FunctionReference& callback,
                Napi::Value receiver, Status status, Napi::Value result) {
    const auto code = Napi::Number::New(env, static_cast<double>(status));
    if (status != Status::kOk) {
      callback.Call(receiver, {code});
    } else {
      callback.Call(receiver, {code, result});
    }
  }

  std::unique_ptr<Inflater> core_;

 private:
  Napi::Value memoryBytes(const Napi::CallbackInfo& info) {
    return memoryBytesGetter(info);
  }

  Napi::Value inflate(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      size_t length = 0;
      const uint8_t* data = bufferData(info[0], "data", &length);
      const bool fin = boolArg(info[1], "fin");
      const uint64_t maxPayloadBytes = maxPayloadArg(info[2]);
      ensureIdle(env, "inflate()");
      ByteBuffer& out = syncScratch();
      out.clear();
      const Status status =
          core_->inflate(data, length, fin, out, maxPayloadBytes);
      if (status != Status::kOk) {
        // A bomb leaves up to maxPayload + 1 bytes behind: do not keep them.
        out.reset();
        return Napi::Number::New(env, static_cast<double>(status));
      }
      return toBuffer(env, out);
    });
  }

  Napi::Value inflateAsync(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      const uint64_t maxPayloadBytes = maxPayloadArg(info[2]);
      Job job = jobOf(info, 3);
      job.maxPayloadBytes = maxPayloadBytes;
      submit(std::move(job));
      return info.Env().Undefined();
    });
  }
};

}  // namespace

void initDeflate(Napi::Env env, Napi::Object exports) {
  InstanceData& data = instanceData(env);
  Napi::Function deflater = DeflaterWrap::define(env);
  Napi::Function inflater = InflaterWrap::define(env);
  data.deflaterConstructor = Napi::Persistent(deflater);
  data.inflaterConstructor = Napi::Persistent(inflater);
  exports.Set("Deflater", deflater);
  exports.Set("Inflater", inflater);
}

}  // namespace wsn::binding
