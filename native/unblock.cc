#include "unblock.h"

#include <napi.h>
#include <uv.h>

#include <string>

#include "platform.h"
#include "registry.h"

// The rung's rules (which thread, when, checked under the registry mutex);
// how a thread is signalled, read or its wait satisfied is the platform's
// (native/platform.h).

namespace tk {

int UnblockSignal() { return platform::UnblockSignal(); }

int UnblockHandlerState() { return platform::UnblockHandlerState(false); }

bool ArmUnblock(int64_t thread_id, uint64_t test_start_time) {
  if (platform::UnblockSignal() == 0) return false;
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->env == nullptr || e->os_tid <= 0) return false;
  // The entry is in `live`, so its thread has not run its cleanup hook and
  // is alive: this start time is the thread's own.
  if (test_start_time > 0) e->start_time = test_start_time;
  if (e->start_time == 0) e->start_time = platform::ThreadStartTime(e->os_tid);
  return e->start_time != 0;
}

UnblockStatus SignalBlockedThread(int64_t thread_id) {
  if (platform::UnblockSignal() == 0) return UnblockStatus::kUnsupported;
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->env == nullptr || e->os_tid <= 0) return UnblockStatus::kNotLive;
  // Never before termination: without a pending termination the EINTR
  // would surface in user code as an error.
  if (!e->kill_requested.load()) return UnblockStatus::kNotKilled;
  if (e->start_time == 0) return UnblockStatus::kNotArmed;
  if (platform::ThreadStartTime(e->os_tid) != e->start_time) return UnblockStatus::kIdentityChanged;
  platform::BlockedCall call;
  if (!platform::CurrentCall(e->os_tid, &call) || !platform::IsReadCall(call.nr)) return UnblockStatus::kNotInRead;
  if (platform::UnblockHandlerState(true) != 1) return UnblockStatus::kHandlerOwned;
  if (!platform::SignalThread(e->os_tid)) return UnblockStatus::kFailed;
  return UnblockStatus::kSent;
}

OpenWaitStatus SatisfyFifoOpen(int64_t thread_id, std::string* path_out, bool* for_reading) {
  if (platform::UnblockSignal() == 0) return OpenWaitStatus::kUnsupported;
  platform::FifoOpenWait wait;
  {
    Registry& reg = Registry::Get();
    RegistryLock lock;
    Entry* e = reg.FindLocked(thread_id);
    if (e == nullptr || e->env == nullptr || e->os_tid <= 0) return OpenWaitStatus::kNotLive;
    if (!e->kill_requested.load()) return OpenWaitStatus::kNotKilled;
    if (e->start_time == 0) return OpenWaitStatus::kNotArmed;
    if (platform::ThreadStartTime(e->os_tid) != e->start_time) return OpenWaitStatus::kIdentityChanged;
    platform::BlockedCall call;
    if (!platform::CurrentCall(e->os_tid, &call) || !platform::IsOpenCall(call.nr)) return OpenWaitStatus::kNotInOpen;
    if (!platform::ReadFifoOpenWait(e->os_tid, call, &wait)) return OpenWaitStatus::kNotFifo;
  }
  // Outside the registry mutex: opening touches no entry, and the thread
  // resolved this very path an instant ago (it is waiting inside the FIFO's
  // open, past the lookup). If it left open() meanwhile, the worst case is
  // one more brief open/close of a FIFO's other end (see DESIGN.md).
  *path_out = wait.path;
  int r = platform::SatisfyFifoOpenWait(wait, for_reading);
  return r == 1 ? OpenWaitStatus::kSatisfied : r == 0 ? OpenWaitStatus::kNotInOpen : OpenWaitStatus::kFailed;
}

int ThreadLoopFd(int64_t thread_id) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->inbox_async == nullptr || e->inbox_async->loop == nullptr) return -1;
  // backend_fd is set once by uv_loop_init; reading it is a plain int load.
  return uv_backend_fd(e->inbox_async->loop);
}

int SignalProcessChecked(int32_t pid, uint64_t start_time, bool hard) {
  return platform::SignalProcessChecked(pid, start_time, hard);
}

namespace {

double NumArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) return -1;
  double d = info[i].As<Napi::Number>().DoubleValue();
  return d >= 0 && d <= 9007199254740991.0 ? d : -1;
}

Napi::Value JsArm(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  double test_start = NumArg(info, 1);
  return Napi::Boolean::New(info.Env(), tid >= 0 && ArmUnblock(static_cast<int64_t>(tid),
                                                               test_start > 0 ? static_cast<uint64_t>(test_start) : 0));
}

Napi::Value JsSignal(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  UnblockStatus s = tid < 0 ? UnblockStatus::kNotLive : SignalBlockedThread(static_cast<int64_t>(tid));
  return Napi::Number::New(info.Env(), static_cast<int32_t>(s));
}

Napi::Value JsInfo(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), UnblockSignal()));
  out.Set(1u, Napi::Number::New(info.Env(), UnblockHandlerState()));
  return out;
}

Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  std::string path;
  bool for_reading = false;
  OpenWaitStatus s = tid < 0 ? OpenWaitStatus::kNotLive : SatisfyFifoOpen(static_cast<int64_t>(tid), &path, &for_reading);
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<int32_t>(s)));
  out.Set(1u, Napi::String::New(info.Env(), path));
  out.Set(2u, Napi::Boolean::New(info.Env(), for_reading));
  return out;
}

// The syscall numbers this build uses, for the tests: [read-type, open].
Napi::Value JsSyscalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 2);
  Napi::Array reads = Napi::Array::New(env);
  Napi::Array opens = Napi::Array::New(env);
  for (long r : platform::ReadCallNumbers()) reads.Set(reads.Length(), Napi::Number::New(env, static_cast<double>(r)));
  for (long r : platform::OpenCallNumbers()) opens.Set(opens.Length(), Napi::Number::New(env, static_cast<double>(r)));
  out.Set(0u, reads);
  out.Set(1u, opens);
  return out;
}

Napi::Value JsLoopFd(const Napi::CallbackInfo& info) {
  double tid = NumArg(info, 0);
  return Napi::Number::New(info.Env(), tid < 0 ? -1 : ThreadLoopFd(static_cast<int64_t>(tid)));
}

Napi::Value JsSignalProcess(const Napi::CallbackInfo& info) {
  double pid = NumArg(info, 0);
  double start = NumArg(info, 1);
  double sig = NumArg(info, 2);
  // The JS side speaks POSIX numbers: 15 SIGTERM, 9 SIGKILL (nothing else).
  if (pid < 2 || pid > 0x7fffffff || start <= 0 || (sig != 15 && sig != 9))
    return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), SignalProcessChecked(static_cast<int32_t>(pid),
                                                            static_cast<uint64_t>(start), sig == 9));
}

}  // namespace

void InitUnblock(Napi::Env env, Napi::Object exports) {
  exports.Set("unblockArm", Napi::Function::New(env, JsArm));
  exports.Set("unblockSignal", Napi::Function::New(env, JsSignal));
  exports.Set("unblockInfo", Napi::Function::New(env, JsInfo));
  exports.Set("unblockOpen", Napi::Function::New(env, JsOpen));
  exports.Set("unblockSyscalls", Napi::Function::New(env, JsSyscalls));
  exports.Set("loopFd", Napi::Function::New(env, JsLoopFd));
  exports.Set("signalProcess", Napi::Function::New(env, JsSignalProcess));
}

}  // namespace tk
