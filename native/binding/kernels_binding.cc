// Node-API surface of the kernels: masking with bufferutil's signatures, UTF-8
// validation (one-shot and streaming), per-ISA entry points for tests and
// benches, and the CSPRNG pool. Every argument is checked here; core never sees
// a bad pointer or length.
#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "cpu.h"
#include "mask.h"
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

// The bytes of a Uint8Array (or Buffer) argument, else TypeError with
// bufferData's message. One napi_get_typedarray_info call, where bufferData
// makes four: at 125 bytes the crossing is most of the cost of a mask() call
// (measured: 8-byte mask() went from ~200 to ~120 ns per call).
uint8_t* bytesArg(const Napi::Value& value, const char* what, size_t* length) {
  napi_typedarray_type type = napi_int8_array;
  size_t count = 0;
  void* data = nullptr;
  const napi_status status = napi_get_typedarray_info(
      value.Env(), value, &type, &count, &data, nullptr, nullptr);
  if (status != napi_ok || type != napi_uint8_array) {
    throw Napi::TypeError::New(
        value.Env(), std::string("The \"") + what +
                         "\" argument must be a Buffer or Uint8Array");
  }
  *length = count;
  return static_cast<uint8_t*>(data);
}

// A byte offset or count: an integer in [0, 2^53 - 1]. TypeError for a
// non-number, RangeError otherwise. One N-API call.
size_t indexArg(const Napi::Value& value, const char* what) {
  double number = 0;
  if (napi_get_value_double(value.Env(), value, &number) != napi_ok) {
    throw Napi::TypeError::New(value.Env(), std::string("The \"") + what +
                                                "\" argument must be a number");
  }
  // In range first, so the integer test is one exact int64 round trip.
  if (!(number >= 0 && number <= 9007199254740991.0) ||
      number != static_cast<double>(static_cast<int64_t>(number))) {
    throw Napi::RangeError::New(
        value.Env(), std::string("The \"") + what +
                         "\" argument must be a non-negative integer");
  }
  return static_cast<size_t>(number);
}

// RFC 6455 §5.3 keys are 4 bytes; like bufferutil, only the first 4 of a longer
// buffer count.
const uint8_t* keyArg(const Napi::Value& value) {
  size_t keyBytes = 0;
  const uint8_t* key = bytesArg(value, "mask", &keyBytes);
  if (keyBytes < 4) {
    throw Napi::RangeError::New(
        value.Env(), "The \"mask\" argument must be at least 4 bytes long");
  }
  return key;
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

// The void entry points return an empty Napi::Value, which reaches JS as
// undefined without the napi_get_undefined call (about 10 ns of a ~100 ns
// call, measured with a no-op addon).

// mask(source, mask, output, offset, length): output[offset + i] = source[i] ^
// mask[i % 4] for i < length, as bufferutil does.
Napi::Value mask(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    size_t sourceBytes = 0;
    size_t outputBytes = 0;
    const uint8_t* source = bytesArg(info[0], "source", &sourceBytes);
    const uint8_t* key = keyArg(info[1]);
    uint8_t* output = bytesArg(info[2], "output", &outputBytes);
    const size_t offset = indexArg(info[3], "offset");
    const size_t length = indexArg(info[4], "length");
    if (length > sourceBytes) {
      throw Napi::RangeError::New(
          info.Env(), "The \"length\" argument exceeds the source length");
    }
    if (offset > outputBytes || length > outputBytes - offset) {
      throw Napi::RangeError::New(
          info.Env(),
          "The \"offset\" and \"length\" arguments exceed the output length");
    }
    if (length == 0) return Napi::Value();
    uint8_t* destination = output + offset;
    // The kernels allow exact aliasing only. A partly overlapping view of the
    // same memory is masked from a copy, so every source byte is read before
    // any is overwritten.
    const bool overlaps =
        source < destination + length && destination < source + length;
    if (overlaps && source != destination) {
      std::vector<uint8_t> copy(source, source + length);
      maskBytes(copy.data(), destination, length, key, 0);
    } else {
      maskBytes(source, destination, length, key, 0);
    }
    return Napi::Value();
  });
}

Napi::Value unmask(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    size_t length = 0;
    uint8_t* buffer = bytesArg(info[0], "buffer", &length);
    const uint8_t* key = keyArg(info[1]);
    unmaskInPlace(buffer, length, key, 0);
    return Napi::Value();
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

Napi::Value isValidUtf8Js(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    size_t length = 0;
    const uint8_t* data = bytesArg(info[0], "buffer", &length);
    return Napi::Boolean::New(info.Env(), isValidUtf8(data, length));
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

}  // namespace

void initKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelInfo", Napi::Function::New<kernelInfo>(env, "kernelInfo"));
  exports.Set("mask", Napi::Function::New<mask>(env, "mask"));
  exports.Set("unmask", Napi::Function::New<unmask>(env, "unmask"));
  exports.Set("maskWith", Napi::Function::New<maskWith>(env, "maskWith"));
  exports.Set("isValidUtf8",
              Napi::Function::New<isValidUtf8Js>(env, "isValidUtf8"));
  exports.Set("isValidUtf8With",
              Napi::Function::New<isValidUtf8With>(env, "isValidUtf8With"));
  exports.Set("randomFill", Napi::Function::New<randomFill>(env, "randomFill"));

  Napi::Function utf8Stream = Utf8StreamWrap::define(env);
  instanceData(env).utf8StreamConstructor = Napi::Persistent(utf8Stream);
  exports.Set("Utf8Stream", utf8Stream);
}

}  // namespace wsn::binding
