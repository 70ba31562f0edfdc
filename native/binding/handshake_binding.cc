// isValidKey, acceptKey and parseExtensions of binding.d.ts over
// native/core/handshake.h and extension.h: argument checks, and ws's object
// shape for parsed extension headers.
#include <string>

#include "binding.h"
#include "extension.h"
#include "handshake.h"

namespace wsn::binding {
namespace {

std::string stringArg(const Napi::Value& value, const char* what) {
  if (!value.IsString()) {
    throw Napi::TypeError::New(value.Env(), std::string("The \"") + what +
                                                "\" argument must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

Napi::Value isValidKey(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    // Non-ASCII characters become several UTF-8 bytes, none of them base64:
    // still rejected.
    const std::string key = stringArg(info[0], "key");
    return Napi::Boolean::New(info.Env(),
                              isValidWebSocketKey(key.data(), key.size()));
  });
}

Napi::Value acceptKey(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    // UTF-8, as Node's crypto hashes a string by default (what ws does).
    const std::string key = stringArg(info[0], "key");
    char accept[28];
    if (!computeAcceptKey(key.data(), key.size(), accept)) {
      throw Napi::Error::New(info.Env(), "ws-native: SHA-1 failed in OpenSSL");
    }
    return Napi::String::New(info.Env(), accept, sizeof(accept));
  });
}

// Appends `value` to the array under `name` in `target`, creating the array on
// first use (ws's shape: every name maps to all its values, in order).
void pushUnder(Napi::Object target, const std::string& name,
               Napi::Value value) {
  Napi::Value existing = target.Get(name);
  if (existing.IsArray()) {
    Napi::Array array = existing.As<Napi::Array>();
    array.Set(array.Length(), value);
    return;
  }
  Napi::Array array = Napi::Array::New(target.Env(), 1);
  array.Set(uint32_t{0}, value);
  target.Set(name, array);
}

Napi::Value parseExtensionsEntry(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    // Any non-ASCII character is rejected at its own index, and every character
    // before it is ASCII, so UTF-8 byte indexes equal the UTF-16 indexes ws
    // reports.
    const std::string header = stringArg(info[0], "header");
    const ExtensionParseResult parsed =
        parseExtensions(header.data(), header.size());
    if (!parsed.ok) {
      // Napi::SyntaxError needs Node-API 9; the global constructor gives the
      // same object.
      Napi::Function syntaxError =
          env.Global().Get("SyntaxError").As<Napi::Function>();
      throw Napi::Error(
          env, syntaxError.New({Napi::String::New(env, parsed.error)}));
    }

    // Null-prototype objects, as ws builds them, so "__proto__" or
    // "constructor" are plain keys.
    Napi::Function create = env.Global()
                                .Get("Object")
                                .As<Napi::Object>()
                                .Get("create")
                                .As<Napi::Function>();
    const auto dictionary = [&]() {
      return create.Call({env.Null()}).As<Napi::Object>();
    };

    Napi::Object offers = dictionary();
    for (const ExtensionOffer& offer : parsed.offers) {
      Napi::Object params = dictionary();
      for (const ExtensionParam& param : offer.params) {
        pushUnder(params, param.name,
                  param.hasValue
                      ? Napi::String::New(env, param.value).As<Napi::Value>()
                      : Napi::Boolean::New(env, true).As<Napi::Value>());
      }
      pushUnder(offers, offer.name, params);
    }
    return offers;
  });
}

}  // namespace

void initHandshake(Napi::Env env, Napi::Object exports) {
  exports.Set("isValidKey", Napi::Function::New(env, isValidKey, "isValidKey"));
  exports.Set("acceptKey", Napi::Function::New(env, acceptKey, "acceptKey"));
  exports.Set("parseExtensions", Napi::Function::New(env, parseExtensionsEntry,
                                                     "parseExtensions"));
}

}  // namespace wsn::binding
