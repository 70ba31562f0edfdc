// Node-API surface of the kernels: masking with bufferutil's signatures, UTF-8
// validation (one-shot and streaming), per-ISA entry points for tests and
// benches, and the CSPRNG pool. Every argument is checked here; core never sees
// a bad pointer or length.
#include <cstring>
#include <string>

#include "binding.h"
#include "cpu.h"
#include "utf8.h"

namespace wsn::binding {

namespace {

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kSse2, Isa::kAvx2};

// An ISA name from JS: TypeError for a non-string, RangeError for a name that
// is unknown or that this CPU or build cannot run.
const KernelTable& isaArg(const Napi::Value& value) {
  if (!value.IsString()) {
    throw Napi::TypeError::New(value.Env(),
                               "The \"isa\" argument must be a string");
  }
  const std::string name = value.As<Napi::String>().Utf8Value();
  for (Isa isa : kAllIsas) {
    if (name == isaName(isa)) {
      const KernelTable* table = kernelsFor(isa);
      if (table == nullptr) {
        throw Napi::RangeError::New(
            value.Env(),
            "The ISA '" + name + "' is not available on this CPU or build");
      }
      return *table;
    }
  }
  throw Napi::RangeError::New(value.Env(),
                              "The \"isa\" argument must be one of 'scalar', "
                              "'sse2' or 'avx2'. Received '" +
                                  name + "'");
}

// Argument readers that never throw, shared by the hot C callbacks below and
// by the node-addon-api entry points (which turn a refusal into a thrown
// Napi::Error). A refusal is the JS error type and its message; the messages
// are literals so refusing never allocates.
enum class ErrorType : uint8_t { kNone, kType, kRange };

struct Refusal {
  ErrorType type = ErrorType::kNone;
  const char* message = nullptr;
};

constexpr Refusal kAccepted{};

#define WSN_BYTES_REFUSAL(name)                                    \
  Refusal {                                                        \
    ErrorType::kType,                                              \
        "The \"" name "\" argument must be a Buffer or Uint8Array" \
  }
#define WSN_NUMBER_REFUSAL(name) \
  Refusal { ErrorType::kType, "The \"" name "\" argument must be a number" }
#define WSN_INDEX_REFUSAL(name)                                    \
  Refusal {                                                        \
    ErrorType::kRange,                                             \
        "The \"" name "\" argument must be a non-negative integer" \
  }

// The bytes of a Uint8Array (or Buffer, its subclass). Other typed arrays and
// DataViews are refused, unlike bufferutil, which takes any view as raw bytes:
// a Uint16Array reaching mask() is a bug in the caller, and refusing it costs
// about 1 ns (napi_get_buffer_info, which takes any view, measured 17 ns for
// data and length against 18 ns for this one call with the type). A detached
// buffer reads as 0 bytes (data may be null; no caller touches data when the
// length is 0).
bool readBytes(napi_env env, napi_value value, uint8_t** data,
               size_t* length) noexcept {
  napi_typedarray_type type = napi_int8_array;
  size_t count = 0;
  void* bytes = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &count, &bytes, nullptr,
                               nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return false;
  }
  *data = static_cast<uint8_t*>(bytes);
  *length = count;
  return true;
}

// A byte offset or count: an integer in [0, 2^53 - 1]. One N-API call.
enum class IndexRead : uint8_t { kOk, kNotNumber, kOutOfRange };

IndexRead readIndex(napi_env env, napi_value value, size_t* index) noexcept {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    return IndexRead::kNotNumber;
  }
  // In range first, so the integer test is one exact int64 round trip.
  if (!(number >= 0 && number <= 9007199254740991.0) ||
      number != static_cast<double>(static_cast<int64_t>(number))) {
    return IndexRead::kOutOfRange;
  }
  *index = static_cast<size_t>(number);
  return IndexRead::kOk;
}

// RFC 6455 §5.3 keys are 4 bytes; like bufferutil, only the first 4 of a
// longer buffer count.
Refusal readKey(napi_env env, napi_value value, const uint8_t** key) noexcept {
  uint8_t* bytes = nullptr;
  size_t keyBytes = 0;
  if (!readBytes(env, value, &bytes, &keyBytes)) {
    return WSN_BYTES_REFUSAL("mask");
  }
  if (keyBytes < 4) {
    return {ErrorType::kRange,
            "The \"mask\" argument must be at least 4 bytes long"};
  }
  *key = bytes;
  return kAccepted;
}

// mask()'s whole argument check, in the order the arguments come, so the
// first bad one is the one reported.
struct MaskCall {
  const uint8_t* source = nullptr;
  const uint8_t* key = nullptr;
  uint8_t* destination = nullptr;
  size_t length = 0;
};

Refusal readMaskCall(napi_env env, const napi_value argv[5],
                     MaskCall* call) noexcept {
  uint8_t* source = nullptr;
  size_t sourceBytes = 0;
  if (!readBytes(env, argv[0], &source, &sourceBytes)) {
    return WSN_BYTES_REFUSAL("source");
  }
  const Refusal keyRefusal = readKey(env, argv[1], &call->key);
  if (keyRefusal.type != ErrorType::kNone) return keyRefusal;
  uint8_t* output = nullptr;
  size_t outputBytes = 0;
  if (!readBytes(env, argv[2], &output, &outputBytes)) {
    return WSN_BYTES_REFUSAL("output");
  }
  size_t offset = 0;
  switch (readIndex(env, argv[3], &offset)) {
    case IndexRead::kNotNumber:
      return WSN_NUMBER_REFUSAL("offset");
    case IndexRead::kOutOfRange:
      return WSN_INDEX_REFUSAL("offset");
    case IndexRead::kOk:
      break;
  }
  size_t length = 0;
  switch (readIndex(env, argv[4], &length)) {
    case IndexRead::kNotNumber:
      return WSN_NUMBER_REFUSAL("length");
    case IndexRead::kOutOfRange:
      return WSN_INDEX_REFUSAL("length");
    case IndexRead::kOk:
      break;
  }
  if (length > sourceBytes) {
    return {ErrorType::kRange,
            "The \"length\" argument exceeds the source length"};
  }
  if (offset > outputBytes || length > outputBytes - offset) {
    return {ErrorType::kRange,
            "The \"offset\" and \"length\" arguments exceed the output "
            "length"};
  }
  call->source = source;
  call->destination = output + offset;
  call->length = length;
  return kAccepted;
}

// Sets the JS exception of a refusal. Returns nullptr, what a C callback
// returns when it throws.
napi_value throwRefusal(napi_env env, const Refusal& refusal) noexcept {
  if (refusal.type == ErrorType::kRange) {
    napi_throw_range_error(env, nullptr, refusal.message);
  } else {
    napi_throw_type_error(env, nullptr, refusal.message);
  }
  return nullptr;
}

// The node-addon-api side of the same checks: a refusal becomes a thrown
// Napi::Error, which `guarded` passes on to JS.
[[noreturn]] void throwNapi(Napi::Env env, const Refusal& refusal) {
  if (refusal.type == ErrorType::kRange) {
    throw Napi::RangeError::New(env, refusal.message);
  }
  throw Napi::TypeError::New(env, refusal.message);
}

// The bytes of a Uint8Array (or Buffer) argument, else TypeError with
// bufferData's message.
uint8_t* bytesArg(const Napi::Value& value, const char* what, size_t* length) {
  uint8_t* data = nullptr;
  if (!readBytes(value.Env(), value, &data, length)) {
    throw Napi::TypeError::New(
        value.Env(), std::string("The \"") + what +
                         "\" argument must be a Buffer or Uint8Array");
  }
  return data;
}

const uint8_t* keyArg(const Napi::Value& value) {
  const uint8_t* key = nullptr;
  const Refusal refusal = readKey(value.Env(), value, &key);
  if (refusal.type != ErrorType::kNone) throwNapi(value.Env(), refusal);
  return key;
}

// Hot entry points: mask(), unmask() and isValidUtf8() are plain Node-API C
// callbacks, not node-addon-api functions run through `guarded`. `guarded`
// exists because node-addon-api converts only its own Napi::Error into a JS
// exception, and any other C++ exception leaving a callback would end the
// process; these callbacks cannot throw at all (no allocation, no
// node-addon-api call, noexcept readers and kernels) and report a refusal
// with napi_throw_*_error and a nullptr return, so the purpose is kept.
// Measured per call at 8 bytes (Node 20, x86-64, one pinned core, best of 300
// turns): mask 104 -> 92 ns, unmask 67 -> 60 ns, isValidUtf8 56 -> 48 ns.
// What remains is mostly Node-API: 14 ns to enter any callback, 4 ns for the
// arguments, 18 ns per napi_get_typedarray_info (type, length and data) and
// 5 ns per number. bufferutil's mask (66 ns) reads its three buffers with
// data-only napi_get_buffer_info (12 ns each) and checks nothing, so it
// accepts any view, a 1-byte key or an offset past the end; the checks below
// are what memory safety costs, and they are not traded for speed.

// mask(source, mask, output, offset, length): output[offset + i] = source[i] ^
// mask[i % 4] for i < length, as bufferutil does. Returns undefined.
napi_value maskHot(napi_env env, napi_callback_info info) noexcept {
  size_t argc = 5;
  napi_value argv[5];
  // Missing arguments read as undefined (napi_get_cb_info fills the rest of
  // argv), so they are refused like any other wrong value.
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
    return nullptr;
  }
  MaskCall call;
  const Refusal refusal = readMaskCall(env, argv, &call);
  if (refusal.type != ErrorType::kNone) return throwRefusal(env, refusal);
  const size_t length = call.length;
  if (length == 0) return nullptr;
  // The key may be a view of the bytes being written: read it first.
  uint8_t key[4];
  std::memcpy(key, call.key, sizeof(key));
  // The kernels allow exact aliasing only. A partly overlapping view of the
  // same memory is moved into place first and masked there, so every source
  // byte is read before any is overwritten, without allocating.
  const uint8_t* source = call.source;
  uint8_t* destination = call.destination;
  if (source != destination && source < destination + length &&
      destination < source + length) {
    std::memmove(destination, source, length);
    source = destination;
  }
  kernels().mask(source, destination, length, key);
  return nullptr;
}

// unmask(buffer, mask): masks `buffer` in place. Returns undefined.
napi_value unmaskHot(napi_env env, napi_callback_info info) noexcept {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
    return nullptr;
  }
  uint8_t* buffer = nullptr;
  size_t length = 0;
  if (!readBytes(env, argv[0], &buffer, &length)) {
    return throwRefusal(env, WSN_BYTES_REFUSAL("buffer"));
  }
  const uint8_t* keyBytes = nullptr;
  const Refusal refusal = readKey(env, argv[1], &keyBytes);
  if (refusal.type != ErrorType::kNone) return throwRefusal(env, refusal);
  if (length == 0) return nullptr;
  // The key may be a view of the buffer itself: read it before masking.
  uint8_t key[4];
  std::memcpy(key, keyBytes, sizeof(key));
  kernels().mask(buffer, buffer, length, key);
  return nullptr;
}

// isValidUtf8(buffer): RFC 3629 validation of the whole buffer.
napi_value isValidUtf8Hot(napi_env env, napi_callback_info info) noexcept {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
    return nullptr;
  }
  uint8_t* data = nullptr;
  size_t length = 0;
  if (!readBytes(env, argv[0], &data, &length)) {
    return throwRefusal(env, WSN_BYTES_REFUSAL("buffer"));
  }
  napi_value result = nullptr;
  napi_get_boolean(env, isValidUtf8(data, length), &result);
  return result;
}

Napi::Value kernelInfo(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("isa", isaName(kernels().isa));
    Napi::Array available = Napi::Array::New(env);
    uint32_t count = 0;
    for (Isa isa : kAllIsas) {
      if (kernelsFor(isa) != nullptr) available.Set(count++, isaName(isa));
    }
    result.Set("available", available);
    return result;
  });
}

Napi::Value maskWith(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const KernelTable& table = isaArg(info[0]);
    size_t length = 0;
    uint8_t* buffer = bytesArg(info[1], "buffer", &length);
    const uint8_t* key = keyArg(info[2]);
    const uint32_t keyPhase = uint32Arg(info[3], "keyPhase");
    if (keyPhase > 3) {
      throw Napi::RangeError::New(
          info.Env(), "The \"keyPhase\" argument must be 0, 1, 2 or 3");
    }
    if (length > 0) {
      const uint8_t rotated[4] = {key[keyPhase], key[(keyPhase + 1) & 3],
                                  key[(keyPhase + 2) & 3],
                                  key[(keyPhase + 3) & 3]};
      table.mask(buffer, buffer, length, rotated);
    }
    return Napi::Number::New(info.Env(),
                             static_cast<double>((keyPhase + length) & 3));
  });
}

Napi::Value isValidUtf8With(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const KernelTable& table = isaArg(info[0]);
    size_t length = 0;
    const uint8_t* data = bytesArg(info[1], "buffer", &length);
    const bool valid =
        length == 0 || table.validUtf8Prefix(data, length) == length;
    return Napi::Boolean::New(info.Env(), valid);
  });
}

Napi::Value randomFill(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    size_t length = 0;
    uint8_t* buffer = bytesArg(info[0], "buffer", &length);
    if (length > 0 && !instanceData(info.Env()).random.fill(buffer, length)) {
      throw Napi::Error::New(
          info.Env(),
          "ws-native: the OpenSSL CSPRNG could not produce random bytes");
    }
    return Napi::Value();
  });
}

// JS class over wsn::Utf8Stream: one per text message being received.
class Utf8StreamWrap : public Napi::ObjectWrap<Utf8StreamWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Utf8Stream",
                       {InstanceMethod<&Utf8StreamWrap::feed>("feed"),
                        InstanceMethod<&Utf8StreamWrap::finish>("finish"),
                        InstanceMethod<&Utf8StreamWrap::reset>("reset")});
  }

  explicit Utf8StreamWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Utf8StreamWrap>(info) {}

 private:
  Napi::Value feed(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      size_t length = 0;
      const uint8_t* data = bytesArg(info[0], "buffer", &length);
      return Napi::Boolean::New(info.Env(), stream_.feed(data, length));
    });
  }

  Napi::Value finish(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      return Napi::Boolean::New(info.Env(), stream_.finish());
    });
  }

  Napi::Value reset(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      stream_.reset();
      return Napi::Value();
    });
  }

  Utf8Stream stream_;
};

#undef WSN_BYTES_REFUSAL
#undef WSN_NUMBER_REFUSAL
#undef WSN_INDEX_REFUSAL

}  // namespace

void initKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelInfo", Napi::Function::New<kernelInfo>(env, "kernelInfo"));
  // The hot C callbacks (see maskHot for why they bypass node-addon-api),
  // named like the others so stack traces and `.name` read the same.
  const struct {
    const char* name;
    napi_callback callback;
  } hot[] = {{"mask", maskHot},
             {"unmask", unmaskHot},
             {"isValidUtf8", isValidUtf8Hot}};
  for (const auto& entry : hot) {
    napi_value function = nullptr;
    NAPI_THROW_IF_FAILED_VOID(
        env, napi_create_function(env, entry.name, NAPI_AUTO_LENGTH,
                                  entry.callback, nullptr, &function));
    exports.Set(entry.name, Napi::Value(env, function));
  }
  exports.Set("maskWith", Napi::Function::New<maskWith>(env, "maskWith"));
  exports.Set("isValidUtf8With",
              Napi::Function::New<isValidUtf8With>(env, "isValidUtf8With"));
  exports.Set("randomFill", Napi::Function::New<randomFill>(env, "randomFill"));

  Napi::Function utf8Stream = Utf8StreamWrap::define(env);
  instanceData(env).utf8StreamConstructor = Napi::Persistent(utf8Stream);
  exports.Set("Utf8Stream", utf8Stream);
}

}  // namespace wsn::binding
