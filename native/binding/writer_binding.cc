// Frame building for JavaScript: frame(), frameHeader(), closePayload() and the
// flag constants. Argument checks and ws's error messages live here; the bytes
// are written by core/frame_writer and core/mask.
#include <cmath>
#include <cstring>
#include <string>

#include "binding.h"
#include "frame_writer.h"
#include "js_buffer.h"
#include "mask.h"

namespace wsn::binding {
namespace {

constexpr uint32_t kFlagFin = 1;
constexpr uint32_t kFlagRsv1 = 2;
constexpr uint32_t kFlagMask = 4;
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

uint8_t opcodeArg(const Napi::Value& value) {
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(),
                               "The \"opcode\" argument must be a number");
  }
  const double opcode = value.As<Napi::Number>().DoubleValue();
  if (!(opcode >= 0 && opcode <= 15) || opcode != std::floor(opcode)) {
    throw Napi::RangeError::New(
        value.Env(), "The \"opcode\" argument must be an integer in 0..15");
  }
  return static_cast<uint8_t>(opcode);
}

uint32_t flagsArg(const Napi::Value& value) {
  const uint32_t flags = uint32Arg(value, "flags");
  if (flags > (kFlagFin | kFlagRsv1 | kFlagMask)) {
    throw Napi::RangeError::New(
        value.Env(), "The \"flags\" argument must combine FIN, RSV1 and MASK");
  }
  return flags;
}

void checkControlLength(Napi::Env env, uint8_t opcode, double payloadBytes) {
  // RFC 6455 §5.5: control frames carry at most 125 bytes.
  if ((opcode & 0x8) != 0 && payloadBytes > kMaxControlPayloadBytes) {
    throw Napi::RangeError::New(
        env, "The data size must not be greater than 125 bytes");
  }
}

// The key for a masked frame: the caller's (first 4 bytes of `value`), or a
// fresh one from the CSPRNG pool (RFC 6455 §5.3: unpredictable per frame).
// Returns false when the frame is not masked.
bool maskKeyFor(const Napi::CallbackInfo& info, size_t index, uint32_t flags,
                uint8_t key[4]) {
  Napi::Env env = info.Env();
  const bool given = info.Length() > index && !info[index].IsUndefined();
  if (given) {
    size_t keyBytes = 0;
    const uint8_t* bytes = bufferData(info[index], "maskKey", &keyBytes);
    if (keyBytes < 4) {
      throw Napi::RangeError::New(env,
                                  "The \"maskKey\" argument must hold 4 bytes");
    }
    std::memcpy(key, bytes, 4);
  }
  if ((flags & kFlagMask) == 0) return false;
  if (!given && !instanceData(env).random.fill(key, 4)) {
    throw Napi::Error::New(env, "ws-native: no random bytes for a mask key");
  }
  return true;
}

FrameFlags frameFlags(uint32_t flags) {
  FrameFlags out;
  out.fin = (flags & kFlagFin) != 0;
  out.rsv1 = (flags & kFlagRsv1) != 0;
  return out;
}

Napi::Value frame(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    size_t payloadBytes = 0;
    const uint8_t* payload = bufferData(info[0], "data", &payloadBytes);
    const uint8_t opcode = opcodeArg(info[1]);
    const uint32_t flags = flagsArg(info[2]);
    checkControlLength(env, opcode, static_cast<double>(payloadBytes));
    uint8_t key[4] = {0, 0, 0, 0};
    const bool masked = maskKeyFor(info, 3, flags, key);
    const size_t headerBytes = frameHeaderBytes(payloadBytes, masked);
    // Every byte is written below: the header, then the whole payload.
    Napi::Buffer<uint8_t> buffer =
        newUninitializedBuffer(env, headerBytes + payloadBytes);
    uint8_t* out = buffer.Data();
    writeFrameHeader(out, opcode, frameFlags(flags), payloadBytes,
                     masked ? key : nullptr);
    // Mask while copying: one pass over the payload.
    if (masked) {
      maskBytes(payload, out + headerBytes, payloadBytes, key, 0);
    } else if (payloadBytes != 0) {
      std::memcpy(out + headerBytes, payload, payloadBytes);
    }
    return buffer;
  });
}

Napi::Value frameHeader(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const double length = numberArg(info[0], "payloadLength");
    if (!(length >= 0 && length <= kMaxSafeInteger) ||
        length != std::floor(length)) {
      throw Napi::RangeError::New(
          env,
          "The \"payloadLength\" argument must be an integer in 0..2^53-1");
    }
    const uint8_t opcode = opcodeArg(info[1]);
    const uint32_t flags = flagsArg(info[2]);
    checkControlLength(env, opcode, length);
    uint8_t key[4] = {0, 0, 0, 0};
    const bool masked = maskKeyFor(info, 3, flags, key);
    const auto payloadBytes = static_cast<uint64_t>(length);
    uint8_t header[kMaxFrameHeaderBytes];
    const size_t written =
        writeFrameHeader(header, opcode, frameFlags(flags), payloadBytes,
                         masked ? key : nullptr);
    return copyToBuffer(env, header, written);
  });
}

// ws's Sender#close messages and checks, in its order.
Napi::Value closePayload(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const char* badCode = "First argument must be a valid error code number";
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, badCode);
    const double code = info[0].As<Napi::Number>().DoubleValue();
    // ws tests the number itself (isValidStatusCode), then writes it as a
    // 16-bit integer.
    const bool wsValid = (code >= 1000 && code <= 1014 && code != 1004 &&
                          code != 1005 && code != 1006) ||
                         (code >= 3000 && code <= 4999);
    if (!wsValid) throw Napi::TypeError::New(env, badCode);
    size_t reasonBytes = 0;
    const uint8_t* reason = nullptr;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      reason = bufferData(info[1], "reason", &reasonBytes);
    }
    uint8_t payload[kMaxControlPayloadBytes];
    size_t written = 0;
    const Status status = writeClosePayload(
        payload, static_cast<uint16_t>(code), reason, reasonBytes, &written);
    switch (status) {
      case Status::kOk:
        break;
      case Status::kInvalidCloseCode:
        throw Napi::TypeError::New(env, badCode);
      case Status::kInvalidControlPayloadLength:
        throw Napi::RangeError::New(
            env, "The message must not be greater than 123 bytes");
      default:
        throw Napi::TypeError::New(env, "The message must be valid UTF-8");
    }
    return copyToBuffer(env, payload, written);
  });
}

}  // namespace

void initWriter(Napi::Env env, Napi::Object exports) {
  detail::allocUnsafeFor(env);
  exports.Set("FIN", Napi::Number::New(env, kFlagFin));
  exports.Set("RSV1", Napi::Number::New(env, kFlagRsv1));
  exports.Set("MASK", Napi::Number::New(env, kFlagMask));
  exports.Set("frame", Napi::Function::New(env, frame, "frame"));
  exports.Set("frameHeader",
              Napi::Function::New(env, frameHeader, "frameHeader"));
  exports.Set("closePayload",
              Napi::Function::New(env, closePayload, "closePayload"));
}

}  // namespace wsn::binding
