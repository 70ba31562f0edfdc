// Shared pieces of the Node-API binding: per-instance data, the guard that
// turns C++ exceptions into JS errors, and the registration functions each
// binding file provides. The only directory that includes napi.h.
#pragma once

#include <napi.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <new>

#include "frame_parser.h"
#include "random.h"

namespace wsn::binding {

// Per addon instance (one per worker thread): Node may load the addon in
// several threads.
struct InstanceData {
  RandomPool random;
  // Shared parse-result area (see binding.d.ts: ParserEvents). Filled by
  // FrameParser#execute and read by JS at once, before any event is emitted.
  static constexpr size_t kEventCapacity = 1024;
  static constexpr size_t kHeaderWords = 4;
  static constexpr size_t kWordsPerEvent = 4;
  Napi::Reference<Napi::Uint32Array> eventsRef;
  uint32_t* events = nullptr;
  std::unique_ptr<ParserEvent[]> scratch{new ParserEvent[kEventCapacity]};
  Napi::FunctionReference deflaterConstructor;
  Napi::FunctionReference inflaterConstructor;
  Napi::FunctionReference utf8StreamConstructor;
  // Native socket I/O (socket_binding.cc): the two JS functions every
  // connection reports to, and the buffer reads land in before they are
  // copied into a Buffer of the right size.
  Napi::FunctionReference socketOnData;
  Napi::FunctionReference socketOnEvent;
  std::unique_ptr<uint8_t[]> readScratch;
};

inline InstanceData& instanceData(Napi::Env env) {
  return *env.GetInstanceData<InstanceData>();
}

// Runs `body` and converts any C++ exception into a pending JS exception,
// because node-addon-api only converts its own Napi::Error. Every entry point
// goes through here.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, Body&& body) {
  Napi::Env env = info.Env();
  try {
    return body();
  } catch (const Napi::Error& error) {
    error.ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    Napi::Error::New(env, "ws-native: out of memory")
        .ThrowAsJavaScriptException();
  } catch (const std::exception& error) {
    Napi::Error::New(env, std::string("ws-native: ") + error.what())
        .ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// Argument helpers: throw TypeError on a wrong call, never crash.
uint8_t* bufferData(const Napi::Value& value, const char* what, size_t* length);
uint32_t uint32Arg(const Napi::Value& value, const char* what);
double numberArg(const Napi::Value& value, const char* what);

// An instance method written against the Node-API C calls (no C++ exception
// may leave it). napi_define_class gives it a signature, so V8 itself refuses
// a `this` that is not a T ("Illegal invocation").
template <typename T>
Napi::ClassPropertyDescriptor<T> rawMethod(const char* name,
                                           napi_callback callback) {
  napi_property_descriptor descriptor{};
  descriptor.utf8name = name;
  descriptor.method = callback;
  descriptor.attributes = napi_default;
  return Napi::ClassPropertyDescriptor<T>(descriptor);
}

// The parser methods of a JS FrameParser, shared with the NativeSocket
// handle, which holds the parser of its own connection (parser_binding.cc).
//
// The options object of `new FrameParser(options)`, checked (info[0]).
ParserOptions parserOptionsFrom(const Napi::CallbackInfo& info);
// Finds the parser of `self`, or throws and returns nullptr.
using ParserOf = FrameParser* (*)(napi_env env, napi_value self);
// A ParserOf for an ObjectWrap class with a heldParser() accessor:
// napi_define_class's signature check means napi_unwrap finds a Wrap; one
// that holds no parser throws Error(`missing`).
template <typename Wrap>
FrameParser* unwrapParser(napi_env env, napi_value self, const char* missing) {
  void* wrapped = nullptr;
  if (napi_unwrap(env, self, &wrapped) != napi_ok || wrapped == nullptr) {
    napi_throw_type_error(env, nullptr, "Illegal invocation");
    return nullptr;
  }
  auto* wrap =
      static_cast<Wrap*>(static_cast<Napi::ObjectWrap<Wrap>*>(wrapped));
  FrameParser* parser = wrap->heldParser();
  if (parser == nullptr) napi_throw_error(env, nullptr, missing);
  return parser;
}
// execute(chunk, start): parses into the shared result area.
napi_value executeParser(napi_env env, napi_callback_info info,
                         ParserOf parserOf);
// takeOwned(): the payloads the last execute() assembled, as Buffers.
Napi::Value takeOwnedPayloads(Napi::Env env, FrameParser& parser);
// maxPayload: the parser's message limit (0 = none), as a Number.
Napi::Value maxPayloadOf(Napi::Env env, const FrameParser& parser);

// Each binding file registers its exports.
void initKernels(Napi::Env env, Napi::Object exports);
void initParser(Napi::Env env, Napi::Object exports);
void initWriter(Napi::Env env, Napi::Object exports);
void initDeflate(Napi::Env env, Napi::Object exports);
void initHandshake(Napi::Env env, Napi::Object exports);
void initSocket(Napi::Env env, Napi::Object exports);

}  // namespace wsn::binding
