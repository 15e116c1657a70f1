// Registering the calling thread, reservations for KillableWorker, the
// environment cleanup hook that retires an entry, and the per-thread inbox
// (a uv_async_t) that carries events from other threads into this thread's JS.
#include "thread.h"

#include <cstdlib>
#include <cstring>

#include <mutex>

#include "region.h"
#include "stack.h"

namespace tk {

namespace {

std::shared_ptr<v8::BackingStore> NewStopCell() {
  // Our own allocation and deleter: the cell may outlive the isolate that
  // created it (it is shared by every isolate that looked at the token), so
  // it must not be tied to any isolate's ArrayBuffer allocator.
  void* data = std::calloc(1, kStopCellBytes);
  return v8::SharedArrayBuffer::NewBackingStore(
      data, kStopCellBytes,
      [](void* d, size_t, void*) { std::free(d); }, nullptr);
}

void OnInbox(uv_async_t* handle) {
  Entry* e = static_cast<Entry*>(handle->data);
  std::vector<Event> events;
  {
    RegistryLock lock;
    events.swap(e->inbox);
  }
  if (events.empty() || e->event_handler.IsEmpty()) return;
  v8::Isolate* isolate = e->isolate;
  v8::HandleScope scope(isolate);
  v8::Local<v8::Context> context = e->context.Get(isolate);
  v8::Context::Scope context_scope(context);
  // Built from its elements, not with [[Set]]: that would run any setter a
  // program put on Array.prototype.
  std::vector<v8::Local<v8::Value>> items;
  items.reserve(events.size() * 3);
  for (const Event& ev : events) {
    items.push_back(v8::Number::New(isolate, static_cast<double>(ev.type)));
    items.push_back(v8::Number::New(isolate, static_cast<double>(ev.a)));
    items.push_back(v8::Number::New(isolate, static_cast<double>(ev.b)));
  }
  v8::Local<v8::Value> argv[] = {v8::Array::New(isolate, items.data(), items.size())};
  // MakeCallback runs microtasks and routes exceptions to 'uncaughtException'
  // like any other event-loop callback. It returns empty when JS can no
  // longer run (the thread is stopping), which is fine to ignore.
  node::MakeCallback(isolate, context->Global(), e->event_handler.Get(isolate),
                     1, argv, node::async_context{0, 0});
}

// Runs on the owning thread inside FreeEnvironment(), before the
// Environment is deleted. After the entry leaves the map under the mutex, no
// other thread can reach this environment through us.
void OnEnvironmentCleanup(void* arg) {
  Entry* e = static_cast<Entry*>(arg);
  // Node's FreeEnvironment already refuses JS here (THROW_ON_FAILURE); with
  // debug checks this makes it a crash, like every other guarded place.
  NoJsScope no_js(e->isolate);
  uv_async_t* inbox = nullptr;
  Registry& reg = Registry::Get();
  {
    RegistryLock lock;
    e->state.store(static_cast<int32_t>(ThreadState::kExiting));
    reg.RetireLocked(e);
    // Reservations this thread made for children that never started die
    // with it (the children are stopped by Node as part of this teardown).
    std::vector<Entry*> orphans;
    for (auto& kv : reg.live)
      if (kv.second->env == nullptr && kv.second->reserved_by == e->thread_id)
        orphans.push_back(kv.second);
    for (Entry* o : orphans) {
      reg.RetireLocked(o);
      delete o;
    }
    inbox = e->inbox_async;
    e->inbox_async = nullptr;
  }
  // After it left `live`, so the watchdog can no longer fire at it; before
  // it is freed, so the watchdog no longer reads its slot.
  UnlistDeadline(e);
  SetCurrentEntry(nullptr);
  ResetThreadRegions();
  e->event_handler.Reset();
  e->context.Reset();
  if (inbox != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(inbox), [](uv_handle_t* h) {
      delete reinterpret_cast<uv_async_t*>(h);
    });
  }
  delete e;
}

// Binds, once per process, the V8, Node and libuv functions a kill calls on
// the dying thread and on the killer. The addon's imports are bound lazily
// (the ABI refusal depends on it: docs/DESIGN.md, "Binaries: one per Node
// ABI"), so the first call of each one waits for the dynamic linker's symbol
// lookup in Node's symbol table — measured in fresh processes, 35 µs of the
// first startKill() and more of the dying thread's stack capture, before it
// could die. These calls change nothing: a one-frame capture, two interrupts that do nothing,
// and one wake of this thread's own inbox, which finds no events.
void BindKillPathOnce(v8::Isolate* isolate, node::Environment* env, uv_async_t* inbox) {
  static std::once_flag once;
  std::call_once(once, [&] {
    {
      NoJsScope no_js(isolate);
      v8::HandleScope scope(isolate);
      std::vector<Frame> frames = CaptureStack(isolate, 1);
      (void)isolate->IsExecutionTerminating();
    }
    node::RequestInterrupt(env, [](void*) {}, nullptr);
    isolate->RequestInterrupt([](v8::Isolate*, void*) {}, nullptr);
    uv_async_send(inbox);
  });
}

}  // namespace

Entry* RegisterCurrentThread(v8::Isolate* isolate, int64_t thread_id,
                             bool is_main, const std::string& name,
                             v8::Local<v8::Function> event_handler) {
  if (Entry* existing = CurrentEntry()) {
    // Loaded again in this thread (a second module-cache instance, or the
    // library after the KillableWorker bootstrap). One handler per thread:
    // the JS layer keeps its per-thread state in one place whichever
    // instance receives the events (src/shared/thread-state.ts). The bootstrap
    // registers none; the first real one is kept.
    if (existing->event_handler.IsEmpty() && !event_handler.IsEmpty())
      existing->event_handler.Reset(isolate, event_handler);
    return existing;
  }
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  node::Environment* env = node::GetCurrentEnvironment(context);
  if (env == nullptr) return nullptr;

  auto* inbox = new uv_async_t();
  uv_async_init(node::GetCurrentEventLoop(isolate), inbox, OnInbox);
  // The inbox must never keep a thread alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(inbox));

  Registry& reg = Registry::Get();
  Entry* e = nullptr;
  bool terminate_now = false;
  {
    RegistryLock lock;
    e = reg.FindLocked(thread_id);
    if (e == nullptr) {
      e = new Entry();
      e->thread_id = thread_id;
      e->stop_cell = NewStopCell();
      reg.live[thread_id] = e;
      reg.MarkSeenLocked(thread_id);
    }
    e->os_tid = CurrentOsTid();
    e->is_main = is_main;
    if (!name.empty() || e->name.empty()) e->name = name;
    e->registered_at = NowMs();
    e->isolate = isolate;
    e->env = env;
    e->inbox_async = inbox;
    inbox->data = e;
    e->context.Reset(isolate, context);
    if (!event_handler.IsEmpty()) e->event_handler.Reset(isolate, event_handler);
    terminate_now = e->kill_requested.load();
    e->state.store(static_cast<int32_t>(terminate_now ? ThreadState::kStopping
                                                      : ThreadState::kRunning));
    SetCurrentEntry(e);
    BindThreadRegions(e);
    // A kill that arrived while this thread was only reserved lands now,
    // before any user code of the thread runs.
    if (terminate_now) node::Stop(env);
  }
  // Registered after the inbox exists so that it runs first (cleanup hooks
  // run last-in, first-out) and the entry is gone before anything it points
  // at is torn down.
  node::AddEnvironmentCleanupHook(isolate, OnEnvironmentCleanup, e);
  BindKillPathOnce(isolate, env, inbox);
  return e;
}

bool ReserveThread(int64_t thread_id, int64_t reserved_by,
                   const std::string& name) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  if (reg.EverSeenLocked(thread_id)) return false;  // registered or dead
  Entry* e = new Entry();
  e->thread_id = thread_id;
  e->reserved_by = reserved_by;
  e->name = name;
  e->registered_at = NowMs();
  e->stop_cell = NewStopCell();
  reg.live[thread_id] = e;
  reg.MarkSeenLocked(thread_id);
  return true;
}

bool ReleaseReservation(int64_t thread_id) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(thread_id);
  if (e == nullptr || e->env != nullptr) return false;
  reg.RetireLocked(e);
  delete e;
  return true;
}

}  // namespace tk
