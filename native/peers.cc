#include "peers.h"

#include <string>
#include <vector>

#include "platform.h"

namespace tk {

namespace {

// unixPeers(inodes: number[]) -> number[] (UnixSocketPeer of each).
Napi::Value JsUnixPeers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (info.Length() < 1 || !info[0].IsArray()) return out;
  Napi::Array in = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < in.Length() && i < 64; i++) {
    Napi::Value v = in.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
    int64_t peer = d > 0 && d <= 4294967295.0 ? platform::UnixSocketPeer(static_cast<uint64_t>(d)) : 0;
    out.Set(i, Napi::Number::New(env, static_cast<double>(peer)));
  }
  return out;
}

// fdHolders(targets: string[]) -> number[] (pid, fd, target index; flat).
Napi::Value JsFdHolders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (info.Length() < 1 || !info[0].IsArray()) return out;
  Napi::Array in = info[0].As<Napi::Array>();
  std::vector<std::string> targets;
  for (uint32_t i = 0; i < in.Length() && i < 64; i++) {
    Napi::Value v = in.Get(i);
    targets.push_back(v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string());
  }
  uint32_t k = 0;
  for (const platform::FdHolder& h : platform::FdHolders(targets)) {
    out.Set(k++, Napi::Number::New(env, h.pid));
    out.Set(k++, Napi::Number::New(env, h.fd));
    out.Set(k++, Napi::Number::New(env, h.target));
  }
  return out;
}

}  // namespace

void InitPeers(Napi::Env env, Napi::Object exports) {
  exports.Set("unixPeers", Napi::Function::New(env, JsUnixPeers));
  exports.Set("fdHolders", Napi::Function::New(env, JsFdHolders));
}

}  // namespace tk
