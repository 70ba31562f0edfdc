// Module init: creates the per-instance data and lets each binding file
// register its exports.
#include "binding.h"

namespace wsn::binding {

uint8_t* bufferData(const Napi::Value& value, const char* what,
                    size_t* length) {
  if (!value.IsTypedArray()) {
    throw Napi::TypeError::New(
        value.Env(), std::string("The \"") + what +
                         "\" argument must be a Buffer or Uint8Array");
  }
  auto array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(
        value.Env(), std::string("The \"") + what +
                         "\" argument must be a Buffer or Uint8Array");
  }
  auto bytes = value.As<Napi::Uint8Array>();
  *length = bytes.ElementLength();
  return bytes.Data();
}

uint32_t uint32Arg(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(), std::string("The \"") + what +
                                                "\" argument must be a number");
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0 && number <= 4294967295.0) ||
      number != static_cast<double>(static_cast<uint32_t>(number))) {
    throw Napi::RangeError::New(
        value.Env(), std::string("The \"") + what +
                         "\" argument must be an integer in 0..2^32-1");
  }
  return static_cast<uint32_t>(number);
}

double numberArg(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) {
    throw Napi::TypeError::New(value.Env(), std::string("The \"") + what +
                                                "\" argument must be a number");
  }
  return value.As<Napi::Number>().DoubleValue();
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  env.SetInstanceData<InstanceData>(data);

  const size_t words =
      InstanceData::kHeaderWords +
      InstanceData::kEventCapacity * InstanceData::kWordsPerEvent;
  auto events = Napi::Uint32Array::New(env, words);
  data->events = events.Data();
  data->eventsRef = Napi::Persistent(events);
  exports.Set("parserEvents", events);

  initKernels(env, exports);
  initParser(env, exports);
  initWriter(env, exports);
  initDeflate(env, exports);
  initHandshake(env, exports);
  initSocket(env, exports);
  return exports;
}

}  // namespace wsn::binding

static Napi::Object initAddon(Napi::Env env, Napi::Object exports) {
  return wsn::binding::init(env, exports);
}

NODE_API_MODULE(ws_native, initAddon)
