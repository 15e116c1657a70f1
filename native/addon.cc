// The addon's JS surface. Thin on purpose: primitives in, primitives out.
// Validation, error types and messages live in TypeScript (src/); these
// functions only defend against misuse of the private binding by returning
// neutral values, never by asserting.
#include <napi.h>
#include <node.h>
#include <v8.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <mutex>

#include "compat.h"
#include "kill.h"
#include "landing.h"
#include "peers.h"
#include "platform.h"
#include "region.h"
#include "registry.h"
#include "thread.h"
#include "unblock.h"

namespace tk {
namespace {

// napi_value and v8::Local<T> are both one pointer to a handle slot; Node's
// own N-API implementation converts between them the same way
// (v8impl::JsValueFromV8LocalValue). We need it for the few functions that
// must be raw V8: the region hot path and SharedArrayBuffers over a shared
// BackingStore, which Node-API cannot express.
static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>),
              "napi_value must be a V8 handle");
napi_value ToNapi(v8::Local<v8::Value> local) {
  napi_value out;
  std::memcpy(&out, &local, sizeof(out));
  return out;
}
v8::Local<v8::Value> ToV8(napi_value value) {
  v8::Local<v8::Value> out;
  std::memcpy(static_cast<void*>(&out), &value, sizeof(out));
  return out;
}

int64_t IntArg(const Napi::CallbackInfo& info, size_t i, int64_t fallback = -1) {
  if (info.Length() <= i || !info[i].IsNumber()) return fallback;
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= -1 && d <= 9007199254740991.0)) return fallback;
  return static_cast<int64_t>(d);
}
bool BoolArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsBoolean() && info[i].As<Napi::Boolean>().Value();
}
// A kill's exit code: 1 when absent, clamped to 0..255 (TS validates it).
int32_t ExitCodeArg(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<int32_t>(std::clamp<int64_t>(IntArg(info, i, 1), 0, 255));
}
int64_t CallerId() {
  Entry* e = CurrentEntry();
  return e == nullptr ? -1 : e->thread_id;
}

Napi::Value Register(const Napi::CallbackInfo& info) {
  std::string name = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::Function> handler;
  if (info.Length() > 3 && info[3].IsFunction()) handler = ToV8(info[3]).As<v8::Function>();
  Entry* e = RegisterCurrentThread(isolate, IntArg(info, 0), BoolArg(info, 1), name, handler);
  return Napi::Boolean::New(info.Env(), e != nullptr);
}

Napi::Value Reserve(const Napi::CallbackInfo& info) {
  std::string name = info.Length() > 1 && info[1].IsString()
                         ? info[1].As<Napi::String>().Utf8Value()
                         : "";
  return Napi::Boolean::New(info.Env(), ReserveThread(IntArg(info, 0), CallerId(), name));
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ReleaseReservation(IntArg(info, 0)));
}

Napi::Value Terminate(const Napi::CallbackInfo& info) {
  TerminateOptions opts;
  opts.watch = BoolArg(info, 1);
  opts.capture_stack = BoolArg(info, 2);
  opts.mark_only = BoolArg(info, 3);
  opts.exit_code = ExitCodeArg(info, 4);
  opts.quiet = BoolArg(info, 5);
  TerminateStatus s = TerminateThread(IntArg(info, 0), CallerId(), opts);
  // A primitive only: after terminating our own thread, building objects would
  // fail (the isolate is terminating).
  return Napi::Number::New(info.Env(), static_cast<int32_t>(s));
}

// A reason, as the codec's bytes (src/shared/reason.ts). Besides the bytes
// themselves, its common encodings may come as the JS values they encode,
// turned here into exactly the bytes the codec would have made: building
// them in JS (a typed array, a Buffer of the text) costs more than this copy
// on an interrupt's latency path. A number (tag 2, the double's bytes), true
// (3), false (4), null (5), or a string whose first character is its tag
// (1, a string; 7, a JSON text), which is one UTF-8 byte.
std::string BytesArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i) return std::string();
  Napi::Value v = info[i];
  switch (v.Type()) {
    case napi_number: {
      const double d = v.As<Napi::Number>().DoubleValue();
      std::string out(1 + sizeof d, '\2');
      memcpy(out.data() + 1, &d, sizeof d);
      return out;
    }
    case napi_boolean:
      return std::string(1, v.As<Napi::Boolean>().Value() ? '\3' : '\4');
    case napi_null:
      return std::string(1, '\5');
    case napi_string:
      return v.As<Napi::String>().Utf8Value();
    default:
      break;
  }
  if (!v.IsTypedArray()) return std::string();
  // CopyContents, not Napi's Data(): a small typed array keeps its bytes on
  // V8's heap, and asking for its buffer moves them off it first (an
  // allocation and a copy, ≈0.5 µs on an interrupt's latency path, measured).
  v8::Local<v8::ArrayBufferView> view = ToV8(v).As<v8::ArrayBufferView>();
  std::string out(view->ByteLength(), '\0');
  if (!out.empty()) view->CopyContents(out.data(), out.size());
  return out;
}

Napi::Value Announce(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(
      info.Env(), AnnounceKill(IntArg(info, 0), BytesArg(info, 1), ExitCodeArg(info, 2), BoolArg(info, 3)));
}

Napi::Value StartKillFn(const Napi::CallbackInfo& info) {
  int32_t code = ExitCodeArg(info, 2);
  return Napi::Number::New(info.Env(), StartKill(IntArg(info, 0), CallerId(), BytesArg(info, 1), code,
                                                 BoolArg(info, 3), BoolArg(info, 4), BoolArg(info, 5)));
}

Napi::Value KillReason(const Napi::CallbackInfo& info) {
  std::string bytes;
  if (!TakeKillReason(&bytes)) return info.Env().Null();
  if (bytes.empty()) return info.Env().Undefined();
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), bytes.size());
  std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

Napi::Value KilledCode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), KilledExitCode(IntArg(info, 0)));
}

Napi::Value AskCreator(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), AskCreatorToTerminate(IntArg(info, 0)));
}

Napi::Value MarkAbandonedFn(const Napi::CallbackInfo& info) {
  MarkAbandoned(IntArg(info, 0));
  return info.Env().Undefined();
}

Napi::Value AbandonedAlive(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CountAbandonedAlive()));
}

Napi::Value Unwatch(const Napi::CallbackInfo& info) {
  UnwatchThread(IntArg(info, 0), CallerId());
  return info.Env().Undefined();
}

Napi::Value KillInterruptedFn(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), KillInterrupted(IntArg(info, 0)));
}

Napi::Value SetHasKillHooks(const Napi::CallbackInfo& info) {
  if (Entry* e = CurrentEntry()) e->has_kill_hooks.store(BoolArg(info, 0));
  return info.Env().Undefined();
}

Napi::Value Lookup(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int32_t>(LookupThread(IntArg(info, 0))));
}

Napi::Value Watch(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), WatchThread(IntArg(info, 0), CallerId(), BoolArg(info, 1)));
}

Napi::Value Ping(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), PingThread(IntArg(info, 0)));
}

Napi::Value ReadBeat(const Napi::CallbackInfo& info) {
  Heartbeat hb = ReadHeartbeat(IntArg(info, 0));
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Boolean::New(info.Env(), hb.live));
  out.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(hb.beats)));
  out.Set(2u, Napi::Number::New(info.Env(), static_cast<double>(hb.beats_js)));
  return out;
}

Napi::Value CapturedStack(const Napi::CallbackInfo& info) {
  std::vector<Frame> frames;
  if (!TakeCapturedStack(IntArg(info, 0), &frames)) return info.Env().Null();
  return Napi::Value(info.Env(), ToNapi(FramesToArray(v8::Isolate::GetCurrent(), frames)));
}

Napi::Value Interrupt(const Napi::CallbackInfo& info) {
  InterruptRequest r;
  int64_t seq = IntArg(info, 1, 0);
  r.region_seq = seq > 0 ? static_cast<uint64_t>(seq) : 0;
  r.reason = BytesArg(info, 2);
  r.pending = BoolArg(info, 3);
  r.by = CallerId();
  r.notify = BoolArg(info, 4) ? r.by : -1;
  r.kill = BoolArg(info, 5);
  uint64_t id = 0;
  InterruptStatus s = RequestRegionInterrupt(IntArg(info, 0), std::move(r), &id);
  // One number, not an array: this is on the latency path of every
  // interrupt. Request ids stay far below 2^50.
  return Napi::Number::New(info.Env(), static_cast<double>(id) * 8 + static_cast<int32_t>(s));
}

Napi::Value Reissue(const Napi::CallbackInfo& info) {
  int64_t id = IntArg(info, 1, 0);
  return Napi::Boolean::New(
      info.Env(), id > 0 && ReissueRegionInterrupt(IntArg(info, 0), static_cast<uint64_t>(id)));
}

Napi::Value CancelInterrupt(const Napi::CallbackInfo& info) {
  int64_t id = IntArg(info, 1, 0);
  return Napi::Boolean::New(
      info.Env(), id > 0 && CancelRegionInterrupt(IntArg(info, 0), static_cast<uint64_t>(id)));
}

// What threads()/threadInfo() report of one thread: a plain copy, taken
// under the mutex. JS values are built only after it is released, and
// without [[Set]] (which runs prototype setters, i.e. user JS): nothing a
// thread does with the values can run while the mutex is held.
struct ThreadRow {
  int64_t thread_id;
  int32_t os_tid;
  std::string name;
  bool is_main;
  double registered_at;
  int32_t state;
  uint32_t region_depth;
  bool token_observed;
  size_t watchers;
  bool has_kill_hooks;
  // A delivery waiting under the landing rule: for how long (ms; -1 = none),
  // and where ("function (node:script:line:col): why").
  double deferred_ms;
  std::string deferred_where;
};

ThreadRow RowLocked(const Entry* e) {
  const int64_t since = e->deferred_since_ns.load();
  const bool deferred = since != 0 && e->queued_requests.load() != 0;
  return ThreadRow{e->thread_id, e->os_tid, e->name, e->is_main, e->registered_at,
                   e->state.load(), e->region_depth.load(), e->token_observed.load(),
                   e->watchers.size() + e->quiet_watchers.size(), e->has_kill_hooks.load(),
                   deferred ? static_cast<double>(MonotonicNs() - since) / 1e6 : -1.0,
                   deferred ? e->deferred_where + ": " + e->deferred_why : std::string()};
}

v8::Local<v8::Value> RowToJs(v8::Isolate* isolate, const ThreadRow& r) {
  v8::Local<v8::Value> items[] = {
      v8::Number::New(isolate, static_cast<double>(r.thread_id)),
      v8::Integer::New(isolate, r.os_tid),
      v8::String::NewFromUtf8(isolate, r.name.data(), v8::NewStringType::kNormal,
                              static_cast<int>(r.name.size()))
          .FromMaybe(v8::String::Empty(isolate)),
      v8::Boolean::New(isolate, r.is_main),
      v8::Number::New(isolate, r.registered_at),
      v8::Integer::New(isolate, r.state),
      v8::Integer::NewFromUnsigned(isolate, r.region_depth),
      v8::Boolean::New(isolate, r.token_observed),
      v8::Number::New(isolate, static_cast<double>(r.watchers)),
      v8::Boolean::New(isolate, r.has_kill_hooks),
      v8::Number::New(isolate, r.deferred_ms),
      v8::String::NewFromUtf8(isolate, r.deferred_where.data(), v8::NewStringType::kNormal,
                              static_cast<int>(r.deferred_where.size()))
          .FromMaybe(v8::String::Empty(isolate))};
  return v8::Array::New(isolate, items, sizeof(items) / sizeof(items[0]));
}

Napi::Value Threads(const Napi::CallbackInfo& info) {
  std::vector<ThreadRow> rows;
  {
    Registry& reg = Registry::Get();
    RegistryLock lock;
    rows.reserve(reg.live.size());
    for (auto& kv : reg.live) rows.push_back(RowLocked(kv.second));
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::vector<v8::Local<v8::Value>> out;
  out.reserve(rows.size());
  for (const ThreadRow& r : rows) out.push_back(RowToJs(isolate, r));
  return Napi::Value(info.Env(), ToNapi(v8::Array::New(isolate, out.data(), out.size())));
}

Napi::Value ThreadInfoOf(const Napi::CallbackInfo& info) {
  ThreadRow row;
  {
    Registry& reg = Registry::Get();
    RegistryLock lock;
    Entry* e = reg.FindLocked(IntArg(info, 0));
    if (e == nullptr) return info.Env().Undefined();
    row = RowLocked(e);
  }
  return Napi::Value(info.Env(), ToNapi(RowToJs(v8::Isolate::GetCurrent(), row)));
}

// The (source, offset) arguments of the source reader's test hooks; false
// if they are not a string and an offset inside it.
bool SourceAndOffset(const Napi::CallbackInfo& info, std::u16string* text, size_t* offset) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) return false;
  *text = info[0].As<Napi::String>().Utf16Value();
  const double at = info[1].As<Napi::Number>().DoubleValue();
  if (!(at >= 0) || at >= static_cast<double>(text->size())) return false;
  *offset = static_cast<size_t>(at);
  return true;
}

// classifySourcePosition(source, offset) -> 0..4 (landing.h): the landing
// rule's source reader, for its unit tests.
Napi::Value ClassifySourcePositionFn(const Napi::CallbackInfo& info) {
  std::u16string text;
  size_t offset = 0;
  if (!SourceAndOffset(info, &text, &offset)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), ClassifySourcePosition(text, offset));
}

// isTailCallPosition(source, offset) -> boolean (landing.h), for the same tests.
Napi::Value IsTailCallPositionFn(const Napi::CallbackInfo& info) {
  std::u16string text;
  size_t offset = 0;
  if (!SourceAndOffset(info, &text, &offset)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), IsTailCallPosition(text, offset));
}

Napi::Value StopCell(const Napi::CallbackInfo& info) {
  int64_t target = IntArg(info, 0);
  bool observe = BoolArg(info, 1);
  std::shared_ptr<v8::BackingStore> cell;
  {
    Registry& reg = Registry::Get();
    RegistryLock lock;
    Entry* e = reg.FindLocked(target);
    if (e == nullptr) return info.Env().Undefined();
    if (observe) e->token_observed.store(true);
    cell = e->stop_cell;
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  return Napi::Value(info.Env(), ToNapi(v8::SharedArrayBuffer::New(isolate, cell)));
}

Napi::Value MarkExiting(const Napi::CallbackInfo& info) {
  // The thread's 'exit' event ran: it is leaving (what threads() and kill()
  // say of it). Its regions still work — a deadline inside an 'exit'
  // handler fires — and Node's own stop of it afterwards (the worker's
  // process.exit(), its parent's or the process's exit) is never swallowed:
  // a region's boundary asks Node whether it is stopping (NodeIsStopping).
  if (Entry* e = CurrentEntry()) e->state.store(static_cast<int32_t>(ThreadState::kExiting));
  return info.Env().Undefined();
}

Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  // std::_Exit (_exit): no atexit handlers, no joining of worker threads (which is what
  // makes process.exit() hang on a worker stuck in native code).
  std::_Exit(static_cast<int>(IntArg(info, 0, 1)));
}

// The calling thread's inbox keeps its event loop alive while holds > 0:
// kill() waits for its first retry with Atomics.waitAsync (no JS timer, whose
// first use in a process costs ≈0.3 ms), which does not keep a loop alive.
Napi::Value HoldLoop(const Napi::CallbackInfo& info) {
  Entry* e = CurrentEntry();
  if (e == nullptr || e->inbox_async == nullptr) return info.Env().Undefined();
  e->loop_holds += BoolArg(info, 0) ? 1 : -1;
  if (e->loop_holds < 0) e->loop_holds = 0;
  uv_handle_t* h = reinterpret_cast<uv_handle_t*>(e->inbox_async);
  if (e->loop_holds > 0) uv_ref(h); else uv_unref(h);
  return info.Env().Undefined();
}

Napi::Value OsTid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), CurrentOsTid());
}

// `data` is bound as the function's Data(); the only one bound is
// runRegion's RegionStack, hence its tag.
void SetRaw(v8::Isolate* isolate, v8::Local<v8::Context> context,
            v8::Local<v8::Object> target, const char* name,
            v8::FunctionCallback fn, void* data = nullptr) {
  v8::Local<v8::Value> bound = data == nullptr
                                   ? v8::Local<v8::Value>()
                                   : NewExternal(isolate, data, kExternalRegionStack).As<v8::Value>();
  v8::Local<v8::Function> f = v8::Function::New(context, fn, bound).ToLocalChecked();
  v8::Local<v8::String> key = v8::String::NewFromUtf8(isolate, name).ToLocalChecked();
  f->SetName(key);
  target->CreateDataProperty(context, key, f).FromMaybe(false);
}

// The binding describes itself: every status, event and state code the TS
// side decodes comes from here (as Node's own bindings export their
// constants), so nothing is mirrored by hand.
void SetConstants(v8::Isolate* isolate, v8::Local<v8::Context> context,
                  v8::Local<v8::Object> target) {
  auto object = [&](std::initializer_list<std::pair<const char*, int32_t>> fields) {
    v8::Local<v8::Object> o = v8::Object::New(isolate);
    for (const auto& [name, value] : fields)
      o->CreateDataProperty(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(),
                            v8::Integer::New(isolate, value))
          .FromMaybe(false);
    return o;
  };
  auto i = [](auto v) { return static_cast<int32_t>(v); };
  v8::Local<v8::Object> constants = v8::Object::New(isolate);
  auto set = [&](const char* name, v8::Local<v8::Value> v) {
    constants->CreateDataProperty(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(), v)
        .FromMaybe(false);
  };
  set("terminate", object({{"UnknownThread", i(TerminateStatus::kUnknownThread)},
                           {"Issued", i(TerminateStatus::kIssued)},
                           {"ReservedOnly", i(TerminateStatus::kReservedOnly)},
                           {"DeadKilled", i(TerminateStatus::kDeadKilled)},
                           {"DeadNatural", i(TerminateStatus::kDeadNatural)}}));
  set("startKill", object({{"Cooperative", kKillCooperative},
                           {"InterruptFirst", kKillInterruptFirst},
                           {"TakesPart", kKillTakesPart},
                           {"InRegion", kKillInRegion}}));
  set("interrupt", object({{"UnknownThread", i(InterruptStatus::kUnknownThread)},
                           {"Hit", i(InterruptStatus::kHit)},
                           {"NoRegion", i(InterruptStatus::kNoRegion)},
                           {"QueuedPending", i(InterruptStatus::kQueuedPending)},
                           {"ThreadDead", i(InterruptStatus::kThreadDead)},
                           {"RegionInactive", i(InterruptStatus::kRegionInactive)}}));
  set("event", object({{"ThreadDead", i(EventType::kThreadDead)},
                       {"InterruptResult", i(EventType::kInterruptResult)},
                       {"KillReached", i(EventType::kKillReached)},
                       {"TerminateWorker", i(EventType::kTerminateWorker)},
                       {"Abandoned", i(EventType::kAbandoned)}}));
  set("delivery", object({{"RegionFinished", i(DeliveryResult::kRegionFinished)},
                          {"Delivered", i(DeliveryResult::kDelivered)},
                          {"ThreadExited", i(DeliveryResult::kThreadExited)}}));
  set("cause", object({{"Natural", i(ExitCause::kNatural)}, {"Killed", i(ExitCause::kKilled)}}));
  set("state", object({{"starting", i(ThreadState::kStarting)},
                       {"running", i(ThreadState::kRunning)},
                       {"stopping", i(ThreadState::kStopping)},
                       {"exiting", i(ThreadState::kExiting)}}));
  set("stopCellBytes", v8::Integer::New(isolate, static_cast<int32_t>(kStopCellBytes)));
  target->CreateDataProperty(context, v8::String::NewFromUtf8Literal(isolate, "constants"), constants)
      .FromMaybe(false);
}

// The registry is process-wide state living in this shared object, and our
// cleanup hooks and uv close callbacks run during worker teardown. Node
// dlclose()s addons loaded by a worker when that worker's environment is
// freed; if no other thread had us loaded, the code and the registry would
// vanish under the callbacks (a segfault, and a reset registry). Pin it.
void PinSharedObject() {
  static std::once_flag once;
  std::call_once(once, [] {
    platform::PinModule(reinterpret_cast<void*>(&PinSharedObject));
  });
}

// What the KillableWorker bootstrap needs (see src/bootstrap.cts), which
// marks its exports object with `bootstrapOnly` and then gets only these: it
// runs before every KillableWorker's own code, and each function created
// costs microseconds of worker startup. A later require() of the library in
// the same thread initialises the full set (these and the rest).
void InitBootstrap(Napi::Env env, Napi::Object exports) {
  exports.Set("register", Napi::Function::New(env, Register));
  exports.Set("markExiting", Napi::Function::New(env, MarkExiting));
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> raw = ToV8(exports).As<v8::Object>();
  SetRaw(isolate, context, raw, "setInterruptFactory", SetInterruptFactory);
  SetRaw(isolate, context, raw, "traceFrames", TraceFrames);
}

#define TK_STR2(x) #x
#define TK_STR(x) TK_STR2(x)

// Read by the JS loader from the file's bytes before it dlopen()s it
// (src/shared/binary.ts abiOfBinary): a binary for another ABI is refused without
// ever being loaded. `used` keeps it through -O3, and stripping keeps
// .rodata. The format is fixed: "thread-kill:abi=<N>;node=<major>;".
__attribute__((used)) const char kAbiMarker[] =
    "thread-kill:abi=" TK_STR(TK_NODE_MODULE_VERSION) ";node=" TK_STR(NODE_MAJOR_VERSION) ";";

// The second guard, for a binary loaded around the loader (a bare
// require/process.dlopen of the file). We register as a Node-API module, so
// Node does not compare ABIs for us, yet we call V8's C++ API, whose symbols
// and layouts differ per Node major: in another Node the first such call
// ends the process ("symbol lookup error", exit 127) or worse. So this runs
// first and uses Node-API only. Returns false with a JS exception pending
// when the running Node is not the one we were compiled for.
bool CheckAbi(Napi::Env env) {
  // process.versions.modules is what users and the loader see; the major
  // from napi_get_node_version cannot be altered by JS, so check both.
  const napi_node_version* version = nullptr;
  uint32_t running_major = 0;
  if (napi_get_node_version(env, &version) == napi_ok && version != nullptr)
    running_major = version->major;
  std::string running_abi;
  Napi::Value process = env.Global().Get("process");
  if (process.IsObject()) {
    Napi::Value versions = process.As<Napi::Object>().Get("versions");
    if (versions.IsObject()) {
      Napi::Value modules = versions.As<Napi::Object>().Get("modules");
      if (modules.IsString()) running_abi = modules.As<Napi::String>().Utf8Value();
    }
  }
  if (env.IsExceptionPending()) return false;
  if (running_major == NODE_MAJOR_VERSION && running_abi == TK_STR(TK_NODE_MODULE_VERSION))
    return true;
  std::string message =
      "thread-kill: this native addon was built for Node.js " TK_STR(NODE_MAJOR_VERSION)
      " (ABI " TK_STR(TK_NODE_MODULE_VERSION) ") but is loaded in Node.js " +
      std::to_string(running_major) + " (ABI " + (running_abi.empty() ? "?" : running_abi) +
      "). Let thread-kill load its own binary; where none matches, build one with this Node: `npx thread-kill build` (`npm run build` in a clone).";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_THREAD_KILL_ABI_MISMATCH"));
  error.ThrowAsJavaScriptException();
  return false;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!CheckAbi(env)) return exports;
  PinSharedObject();
  InitBootstrap(env, exports);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> raw = ToV8(exports).As<v8::Object>();
  v8::Local<v8::String> key = v8::String::NewFromUtf8Literal(isolate, "bootstrapOnly");
  if (raw->HasOwnProperty(context, key).FromMaybe(false)) return exports;

  exports.Set("reserve", Napi::Function::New(env, Reserve));
  exports.Set("release", Napi::Function::New(env, Release));
  exports.Set("terminate", Napi::Function::New(env, Terminate));
  exports.Set("lookup", Napi::Function::New(env, Lookup));
  exports.Set("watch", Napi::Function::New(env, Watch));
  exports.Set("ping", Napi::Function::New(env, Ping));
  exports.Set("heartbeat", Napi::Function::New(env, ReadBeat));
  exports.Set("capturedStack", Napi::Function::New(env, CapturedStack));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  exports.Set("reissueInterrupt", Napi::Function::New(env, Reissue));
  exports.Set("cancelInterrupt", Napi::Function::New(env, CancelInterrupt));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("threadInfo", Napi::Function::New(env, ThreadInfoOf));
  exports.Set("classifySourcePosition", Napi::Function::New(env, ClassifySourcePositionFn));
  exports.Set("isTailCallPosition", Napi::Function::New(env, IsTailCallPositionFn));
  exports.Set("announceKill", Napi::Function::New(env, Announce));
  exports.Set("startKill", Napi::Function::New(env, StartKillFn));
  exports.Set("killReason", Napi::Function::New(env, KillReason));
  exports.Set("killedExitCode", Napi::Function::New(env, KilledCode));
  exports.Set("askCreatorToTerminate", Napi::Function::New(env, AskCreator));
  exports.Set("unwatch", Napi::Function::New(env, Unwatch));
  exports.Set("markAbandoned", Napi::Function::New(env, MarkAbandonedFn));
  exports.Set("abandonedAlive", Napi::Function::New(env, AbandonedAlive));
  exports.Set("setHasKillHooks", Napi::Function::New(env, SetHasKillHooks));
  exports.Set("killInterrupted", Napi::Function::New(env, KillInterruptedFn));
  exports.Set("stopCell", Napi::Function::New(env, StopCell));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow));
  exports.Set("osTid", Napi::Function::New(env, OsTid));
  exports.Set("holdLoop", Napi::Function::New(env, HoldLoop));
  BindThreadNapiEnv(env);
  SetRaw(isolate, context, raw, "runRegion", RunRegion, ThreadRegionsData());
  SetRaw(isolate, context, raw, "runRegionDeadline", RunRegionDeadline, ThreadRegionsData());
  SetRaw(isolate, context, raw, "rearmDeadline", RearmDeadline);
  SetRaw(isolate, context, raw, "setStuckGuard", SetStuckGuardFn);
  SetRaw(isolate, context, raw, "currentRegion", CurrentRegionSeq);
  SetRaw(isolate, context, raw, "lastRegionSeq", LastRegionSeq);
  SetConstants(isolate, context, raw);
  InitUnblock(env, exports);
  InitPeers(env, exports);
  return exports;
}

}  // namespace
}  // namespace tk

static Napi::Object InitThreadKill(Napi::Env env, Napi::Object exports) {
  return tk::Init(env, exports);
}
NODE_API_MODULE(thread_kill, InitThreadKill)
