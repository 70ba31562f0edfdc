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

ParserOptions parseOptions(const Napi::CallbackInfo& info) {
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

class ParserWrap : public Napi::ObjectWrap<ParserWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "FrameParser",
        {InstanceMethod<&ParserWrap::execute>("execute"),
         InstanceMethod<&ParserWrap::takeOwned>("takeOwned"),
         InstanceAccessor<&ParserWrap::bufferedBytes>("bufferedBytes")});
  }

  explicit ParserWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ParserWrap>(info) {
    const ParserOptions options = parseOptions(info);
    try {
      parser_ = std::make_unique<FrameParser>(options);
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), "ws-native: out of memory");
    }
  }

 private:
  // Fills instanceData(env).events as binding.d.ts documents; offsets are
  // relative to `chunk`, so `start` is added back.
  Napi::Value execute(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      size_t length = 0;
      uint8_t* data = bufferData(info[0], "chunk", &length);
      const uint32_t start = uint32Arg(info[1], "start");
      if (start > length) {
        throw Napi::RangeError::New(
            env, "The \"start\" argument must not exceed the chunk length");
      }
      // Event words are 32-bit; Node's Buffers stay below 4 GiB.
      if (length > UINT32_MAX) {
        throw Napi::RangeError::New(env, "The chunk must be under 4 GiB");
      }
      InstanceData& instance = instanceData(env);
      ParserEvent* events = instance.scratch.get();
      const ExecuteResult result = parser_->execute(
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
      return Napi::Number::New(env, static_cast<double>(result.eventCount));
    });
  }

  Napi::Value takeOwned(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      std::vector<ByteBuffer>& owned = parser_->ownedPayloads();
      Napi::Array result = Napi::Array::New(env, owned.size());
      for (size_t i = 0; i < owned.size(); ++i) {
        result.Set(static_cast<uint32_t>(i), toBuffer(env, owned[i]));
      }
      owned.clear();
      return result;
    });
  }

  static Napi::Value toBuffer(Napi::Env env, ByteBuffer& payload) {
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

  Napi::Value bufferedBytes(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(),
                               static_cast<double>(parser_->bufferedBytes()));
    });
  }

  std::unique_ptr<FrameParser> parser_;
};

}  // namespace

void initParser(Napi::Env env, Napi::Object exports) {
  detail::allocUnsafeFor(env);
  Napi::Function constructor = ParserWrap::define(env);
  instanceData(env).parserConstructor = Napi::Persistent(constructor);
  exports.Set("FrameParser", constructor);
}

}  // namespace wsn::binding
