// FrameParser for JavaScript: option checks, one execute() per socket chunk
// into the shared result area, owned payloads handed over as Buffers. The
// protocol work is all in core/frame_parser; nothing here calls into JS.
#include <cmath>
#include <cstdlib>
#include <string>

#include "binding.h"
#include "js_buffer.h"

namespace wsn::binding {
namespace {

// Owned payloads below this size are copied into a Buffer from Node's pool;
// from it on the malloc'd block becomes an external Buffer without a copy.
// Measured (Node 20, x86-64, taskset -c 1; a 2-fragment message parsed and
// taken, ns per message, copy vs external): 256 B 430 vs 1000, 1 KiB 690 vs
// 860, 2 KiB 930 vs 980, 4 KiB 1700 vs 1380, 16 KiB 3500 vs 3160, 256 KiB
// 160000 vs 42000. 4 KiB is also where Buffer.allocUnsafe stops pooling.
constexpr size_t kCopyBelowBytes = 4096;

Napi::Value optionValue(const Napi::Object& options, const char* name) {
  return options.Get(name);
}

[[noreturn]] void throwType(Napi::Env env, const char* name,
                            const char* expected) {
  throw Napi::TypeError::New(env, std::string("The \"options.") + name +
                                      "\" property must be of type " +
                                      expected);
}

bool boolOption(const Napi::Object& options, const char* name, bool optional,
                bool fallback) {
  Napi::Value value = optionValue(options, name);
  if (optional && value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) throwType(options.Env(), name, "boolean");
  return value.As<Napi::Boolean>().Value();
}

// A limit: ws applies one only when it is > 0 (`limit > 0 && size > limit`),
// so zero, negative and NaN all mean "no limit".
double limitOption(const Napi::Object& options, const char* name) {
  Napi::Value value = optionValue(options, name);
  if (!value.IsNumber()) throwType(options.Env(), name, "number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number > 0)) return 0;
  return std::floor(number);
}

uint32_t countOption(const Napi::Object& options, const char* name) {
  const double number = limitOption(options, name);
  return number >= 4294967295.0 ? UINT32_MAX : static_cast<uint32_t>(number);
}

}  // namespace

ParserOptions parserOptionsFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(
        env, "The \"options\" argument must be of type object");
  }
  Napi::Object object = info[0].As<Napi::Object>();
  ParserOptions options;
  options.role = boolOption(object, "isServer", false, false) ? Role::kServer
                                                              : Role::kClient;
  const double maxPayload = limitOption(object, "maxPayload");
  options.maxPayloadBytes = maxPayload >= 18446744073709551615.0
                                ? UINT64_MAX
                                : static_cast<uint64_t>(maxPayload);
  options.maxFragments = countOption(object, "maxFragments");
  options.maxBufferedChunks = countOption(object, "maxBufferedChunks");
  options.skipUtf8Validation =
      boolOption(object, "skipUTF8Validation", false, false);
  options.perMessageDeflate =
      boolOption(object, "perMessageDeflate", false, false);
  Napi::Value windowBits = optionValue(object, "inflateWindowBits");
  if (!windowBits.IsUndefined()) {
    if (!windowBits.IsNumber()) {
      throwType(env, "inflateWindowBits", "number");
    }
    const double bits = windowBits.As<Napi::Number>().DoubleValue();
    // RFC 7692 §7.1.2: window bits are 8..15.
    if (!(bits >= 8 && bits <= 15) || bits != std::floor(bits)) {
      throw Napi::RangeError::New(
          env,
          "The \"options.inflateWindowBits\" property must be an "
          "integer in 8..15");
    }
    options.inflateWindowBits = static_cast<int>(bits);
  }
  options.inflateNoContextTakeover =
      boolOption(object, "inflateNoContextTakeover", true, false);
  return options;
}

namespace {

// Parses and writes the result area; returns the event count.
uint32_t runParser(FrameParser& parser, InstanceData& instance, uint8_t* data,
                   size_t length, uint32_t start) noexcept {
  ParserEvent* events = instance.scratch.get();
  const ExecuteResult result = parser.execute(
      data + start, length - start, events, InstanceData::kEventCapacity);
  uint32_t* words = instance.events;
  words[0] = static_cast<uint32_t>(result.eventCount);
  words[1] = static_cast<uint32_t>(result.bytesConsumed);
  words[2] = static_cast<uint32_t>(result.status);
  words[3] = static_cast<uint32_t>(result.statusDetail);
  uint32_t* out = words + InstanceData::kHeaderWords;
  for (size_t i = 0; i < result.eventCount; ++i, out += 4) {
    const ParserEvent& event = events[i];
    out[0] = event.opcode | (event.owned ? 0x100u : 0u);
    out[1] = event.owned ? event.ownedIndex : event.offset + start;
    out[2] = event.length;
    out[3] = event.opcode == kOpClose ? event.closeCode : 0;
  }
  return static_cast<uint32_t>(result.eventCount);
}

Napi::Value toBuffer(Napi::Env env, ByteBuffer& payload) {
  const size_t size = payload.size();
  if (size < kCopyBelowBytes) return copyToBuffer(env, payload.data(), size);
  const size_t capacity = payload.capacity();
  uint8_t* data = payload.release();
  // Geometric growth can leave up to half the block unused; give it back
  // before JS holds the block for the Buffer's lifetime (shrinking realloc
  // does not move the data in glibc).
  if (capacity - size > size / 16) {
    void* shrunk = std::realloc(data, size);
    if (shrunk != nullptr) data = static_cast<uint8_t*>(shrunk);
  }
  try {
    return Napi::Buffer<uint8_t>::NewOrCopy(
        env, data, size, [](Napi::Env, uint8_t* bytes) { std::free(bytes); });
  } catch (...) {
    std::free(data);
    throw;
  }
}

}  // namespace

// Fills the shared result area as binding.d.ts documents; offsets are
// relative to `chunk`, so `start` is added back. This is the one crossing per
// socket chunk, so it is written against the Node-API C calls: one
// napi_get_cb_info, one napi_unwrap (in parserOf), one
// napi_get_typedarray_info (type, length and data together), one
// napi_get_value_double, a Smi for the result, and no C++ exception set-up.
// Measured (Node 20, x86-64, one 64-byte masked frame per call, best of many
// samples, taskset -c 1, the old and new builds alternated): 265-382 ns
// through node-addon-api's wrappers (IsTypedArray, TypedArrayType and
// As<Uint8Array> each asked V8 again, and the count came back as a heap
// number), 130-213 ns this way. About 50 ns of the rest is napi_unwrap's
// private-symbol lookup.
napi_value executeParser(napi_env env, napi_callback_info info,
                         ParserOf parserOf) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value self = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, &self, nullptr) != napi_ok) {
    return nullptr;
  }
  FrameParser* parser = parserOf(env, self);
  if (parser == nullptr) return nullptr;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* bytes = nullptr;
  if (argc < 1 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, nullptr,
                               nullptr) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(
        env, nullptr, "The \"chunk\" argument must be a Buffer or Uint8Array");
    return nullptr;
  }
  double startNumber = 0;
  if (argc < 2 ||
      napi_get_value_double(env, argv[1], &startNumber) != napi_ok) {
    napi_throw_type_error(env, nullptr,
                          "The \"start\" argument must be a number");
    return nullptr;
  }
  if (!(startNumber >= 0 && startNumber <= static_cast<double>(length)) ||
      startNumber != static_cast<double>(static_cast<size_t>(startNumber))) {
    napi_throw_range_error(
        env, nullptr,
        "The \"start\" argument must be an integer not exceeding the "
        "chunk length");
    return nullptr;
  }
  // Event words are 32-bit; Node's Buffers stay below 4 GiB.
  if (length > UINT32_MAX) {
    napi_throw_range_error(env, nullptr, "The chunk must be under 4 GiB");
    return nullptr;
  }
  const uint32_t count = runParser(*parser, instanceData(Napi::Env(env)),
                                   static_cast<uint8_t*>(bytes), length,
                                   static_cast<uint32_t>(startNumber));
  napi_value result = nullptr;
  napi_create_uint32(env, count, &result);
  return result;
}

Napi::Value takeOwnedPayloads(Napi::Env env, FrameParser& parser) {
  std::vector<ByteBuffer>& owned = parser.ownedPayloads();
  Napi::Array result = Napi::Array::New(env, owned.size());
  for (size_t i = 0; i < owned.size(); ++i) {
    result.Set(static_cast<uint32_t>(i), toBuffer(env, owned[i]));
  }
  owned.clear();
  return result;
}

Napi::Value maxPayloadOf(Napi::Env env, const FrameParser& parser) {
  // Limits come from JS Numbers, so they fit a double (UINT64_MAX rounds).
  return Napi::Number::New(env, static_cast<double>(parser.maxPayloadBytes()));
}

namespace {

class ParserWrap : public Napi::ObjectWrap<ParserWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "FrameParser",
        {rawMethod<ParserWrap>("execute", execute),
         InstanceMethod<&ParserWrap::takeOwned>("takeOwned"),
         InstanceMethod<&ParserWrap::releaseParser>("releaseParser"),
         InstanceAccessor<&ParserWrap::bufferedBytes>("bufferedBytes"),
         InstanceAccessor<&ParserWrap::maxPayload>("maxPayload")});
  }

  explicit ParserWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ParserWrap>(info) {
    const ParserOptions options = parserOptionsFrom(info);
    try {
      parser_ = std::make_unique<FrameParser>(options);
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), "ws-native: out of memory");
    }
  }

 private:
  static napi_value execute(napi_env env, napi_callback_info info) {
    return executeParser(env, info, parserOf);
  }

  static FrameParser* parserOf(napi_env env, napi_value self) {
    return unwrapParser<ParserWrap>(env, self, "The parser was released");
  }

  Napi::Value takeOwned(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      return takeOwnedPayloads(info.Env(), parser());
    });
  }

  // Frees the parser and any zlib state now rather than when this object is
  // collected; later calls throw.
  Napi::Value releaseParser(const Napi::CallbackInfo& info) {
    parser_.reset();
    return info.Env().Undefined();
  }

  Napi::Value bufferedBytes(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(),
                               static_cast<double>(parser().bufferedBytes()));
    });
  }

  Napi::Value maxPayload(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      return maxPayloadOf(info.Env(), parser());
    });
  }

  FrameParser& parser() {
    if (parser_ == nullptr) {
      throw Napi::Error::New(Env(), "The parser was released");
    }
    return *parser_;
  }

  std::unique_ptr<FrameParser> parser_;

 public:
  FrameParser* heldParser() { return parser_.get(); }
};

}  // namespace

void initParser(Napi::Env env, Napi::Object exports) {
  detail::allocUnsafeFor(env);
  exports.Set("FrameParser", ParserWrap::define(env));
}

}  // namespace wsn::binding
