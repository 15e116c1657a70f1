#include "registry.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "platform.h"

namespace tk {

namespace {
thread_local Entry* tl_entry = nullptr;
// Dead records kept for late kill() calls; ever_seen remembers every id.
constexpr size_t kMaxDeadRecords = 4096;
constexpr size_t kDeadStacksKept = 64;

#if defined(TK_DEBUG_CHECKS)
// Whether this thread holds the registry mutex (debug checks only: a
// thread_local costs a __tls_get_addr call in a shared object).
thread_local bool tl_holds_registry = false;

[[noreturn]] void DebugCheckFailed(const char* what) {
  std::fprintf(stderr, "thread-kill: debug check failed: %s\n", what);
  std::abort();
}
#endif
}  // namespace

RegistryLock::RegistryLock(Wait wait, v8::Isolate* isolate) : no_js_(isolate) {
#if defined(TK_DEBUG_CHECKS)
  // std::mutex is not recursive: a second lock by the same thread would
  // deadlock silently. Say so instead.
  if (tl_holds_registry) DebugCheckFailed("the registry mutex taken twice by one thread");
#endif
  std::mutex& m = Registry::Get().mutex_;
  if (wait == kSpinFirst) {
    for (int spins = 0; !m.try_lock(); spins++) {
      if (spins == 4096) {
        m.lock();
        break;
      }
    }
  } else {
    m.lock();
  }
#if defined(TK_DEBUG_CHECKS)
  tl_holds_registry = true;
#endif
}

RegistryLock::~RegistryLock() {
#if defined(TK_DEBUG_CHECKS)
  tl_holds_registry = false;
#endif
  Registry::Get().mutex_.unlock();
}

#if defined(TK_DEBUG_CHECKS)
void AssertRegistryLocked() {
  if (!tl_holds_registry) DebugCheckFailed("registry state touched without the registry mutex");
}
#endif

Entry* CurrentEntry() { return tl_entry; }
void SetCurrentEntry(Entry* e) { tl_entry = e; }

double NowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(system_clock::now().time_since_epoch())
      .count();
}

int32_t CurrentOsTid() { return platform::CurrentOsTid(); }

Registry& Registry::Get() {
  // Deliberately leaked: worker threads may still be tearing down while the
  // process runs static destructors, and they take this mutex.
  static Registry* instance = new Registry();
  return *instance;
}

Entry* Registry::FindLocked(int64_t thread_id) {
  AssertRegistryLocked();
  auto it = live.find(thread_id);
  return it == live.end() ? nullptr : it->second;
}

void Registry::MarkSeenLocked(int64_t thread_id) {
  AssertRegistryLocked();
  if (thread_id < 0) return;
  size_t i = static_cast<size_t>(thread_id);
  if (ever_seen.size() <= i) ever_seen.resize(i + 1024, false);
  ever_seen[i] = true;
}

bool Registry::EverSeenLocked(int64_t thread_id) const {
  AssertRegistryLocked();
  return thread_id >= 0 && static_cast<size_t>(thread_id) < ever_seen.size() &&
         ever_seen[static_cast<size_t>(thread_id)];
}

const DeadRecord* Registry::FindDeadLocked(int64_t thread_id) const {
  AssertRegistryLocked();
  auto it = dead.find(thread_id);
  return it == dead.end() ? nullptr : &it->second;
}

void Registry::PostLocked(int64_t thread_id, Event ev) {
  AssertRegistryLocked();
  Entry* w = FindLocked(thread_id);
  if (w == nullptr || w->inbox_async == nullptr) return;
  w->inbox.push_back(ev);
  // uv_async_send is thread-safe; the handle is closed only by the owner's
  // cleanup hook, after it removed the entry under this same mutex.
  uv_async_send(w->inbox_async);
}

void Registry::MarkKilledLocked(Entry* e, int32_t exit_code) {
  AssertRegistryLocked();
  if (!e->killed) e->kill_exit_code = exit_code;
  e->killed = true;
}

void Registry::RetireLocked(Entry* e) {
  AssertRegistryLocked();
  live.erase(e->thread_id);
  DeadRecord rec;
  // Only a kill counts: the thread's own 'exit' event also sets
  // kill_requested (so regions stop converting terminations), and a
  // natural exit must not read as a kill.
  rec.cause = e->killed ? ExitCause::kKilled : ExitCause::kNatural;
  rec.exit_code = e->killed ? e->kill_exit_code : -1;
  rec.has_stack = e->has_last_stack;
  rec.stack = std::move(e->last_stack);
  dead[e->thread_id] = std::move(rec);
  dead_order.push_back(e->thread_id);
  if (dead_order.size() > kMaxDeadRecords) {
    dead.erase(dead_order.front());
    dead_order.erase(dead_order.begin());
  }
  // Captured stacks are only read by the kills that were waiting for this
  // death (right away); keep them for the most recent deaths only, so the
  // dead records stay a few bytes each.
  if (dead_order.size() > kDeadStacksKept) {
    auto old = dead.find(dead_order[dead_order.size() - kDeadStacksKept - 1]);
    if (old != dead.end() && old->second.has_stack) {
      old->second.has_stack = false;
      std::vector<Frame>().swap(old->second.stack);
    }
  }
  for (int64_t watcher : e->watchers) {
    PostLocked(watcher, Event{EventType::kThreadDead, e->thread_id,
                              static_cast<int64_t>(dead[e->thread_id].cause)});
  }
  e->watchers.clear();
  e->quiet_watchers.clear();
  // Outstanding untilDelivered interrupts can no longer be delivered.
  const int64_t exited = static_cast<int64_t>(DeliveryResult::kThreadExited);
  for (const InterruptRequest& r : e->requests) {
    if (r.notify >= 0)
      PostLocked(r.notify, Event{EventType::kInterruptResult, static_cast<int64_t>(r.id), exited});
  }
  e->requests.clear();
  // Fired ones whose region never reached its boundary (the thread ended
  // abruptly): their interrupters learn it here. The owner normally
  // resolves and removes them itself.
  for (const auto& [id, notify] : e->in_flight)
    PostLocked(notify, Event{EventType::kInterruptResult, static_cast<int64_t>(id), exited});
  e->in_flight.clear();
}

}  // namespace tk
