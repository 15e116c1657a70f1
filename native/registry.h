// The process-wide thread registry.
//
// One Entry per thread (main or worker) that loaded thread-kill, plus
// "reservations" for KillableWorker threads that have been created but have
// not registered yet. Lifetime and locking rules are in docs/DESIGN.md; the
// short version:
//   * Registry::mutex guards the map and every non-atomic field of every
//     Entry that another thread may read or write. It is only ever taken
//     through a RegistryLock, which also disallows JavaScript on the calling
//     thread's isolate for as long (see the guards at the end of this file).
//   * An Entry is removed from the map and deleted only by its own thread's
//     environment cleanup hook (or, for a reservation that never started,
//     by Unreserve), always under the mutex. So a pointer found in the map
//     stays valid for as long as the finder holds the mutex.
//   * Cross-thread calls into V8/Node (node::Stop, node::RequestInterrupt)
//     are made only while holding the mutex, on an Entry found in the map.
//     Both are safe on an environment that is tearing down, until it is
//     freed, which happens strictly after our cleanup hook ran.
#pragma once

#include <node.h>
#include <uv.h>
#include <v8.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "deadline.h"
#include "stack.h"

namespace tk {

enum class ThreadState : int32_t {
  kStarting = 0,  // reserved by KillableWorker, not registered yet
  kRunning = 1,
  kStopping = 2,  // a kill was requested
  kExiting = 3,   // the thread's 'exit' event ran or its cleanup started
};

// What a dead thread leaves behind, so late kill() calls can tell the truth.
enum class ExitCause : int32_t { kUnknown = 0, kNatural = 1, kKilled = 2 };

// Events delivered to a thread's JS through its uv_async_t inbox.
enum class EventType : int32_t {
  kThreadDead = 1,        // a = threadId, b = ExitCause
  kInterruptResult = 2,   // a = request id, b = DeliveryResult
  kKillReached = 3,       // a kill() announced itself: run the onKill hooks, then stop
  kTerminateWorker = 4,   // a = threadId of a reserved child: Worker#terminate() it
  kAbandoned = 5,         // (main thread) a thread was abandoned: never join it at exit
};

// The outcome of an untilDelivered interrupt, as posted to the interrupter.
enum class DeliveryResult : int32_t {
  kRegionFinished = 0,  // the addressed region ended (or unwound) first
  kDelivered = 1,
  kThreadExited = 2,
};

struct Event {
  EventType type;
  int64_t a;
  int64_t b;
};

// An interrupt waiting to be resolved on its target thread.
struct InterruptRequest {
  uint64_t id = 0;
  int64_t by = -1;          // the interrupting thread's threadId
  int64_t notify = -1;      // threadId to tell the outcome (untilDelivered)
  uint64_t region_seq = 0;  // addressed region; 0 = outermost at delivery
  bool pending = false;     // { pending: true }: wait for the next entry
  // Sent by kill()'s interrupt phase. Out of band on purpose: no reason value
  // can make an ordinary interrupt() behave like a kill.
  bool kill = false;
  // Queued by the deadline watchdog: the addressed region's own deadline passed.
  bool timeout = false;
  // When its delivery first had to wait (the landing rule, landing.h; 0:
  // never), and how many times it looked and waited.
  int64_t deferred_since_ns = 0;
  uint32_t deferred_looks = 0;
  std::string reason;       // v8.serialize()d reason, may be empty
};

constexpr uint32_t kTrackedRegions = 32;
constexpr size_t kStopCellBytes = 4096;

struct Entry {
  int64_t thread_id = -1;
  int32_t os_tid = 0;
  bool is_main = false;
  std::string name;
  double registered_at = 0;  // ms since the epoch
  int64_t reserved_by = -1;  // threadId of the KillableWorker's creator

  // Null while kStarting. Set once by the owner thread under the mutex.
  v8::Isolate* isolate = nullptr;
  node::Environment* env = nullptr;
  uv_async_t* inbox_async = nullptr;
  // Owner thread only: kill() calls of this thread waiting without a JS
  // timer (holdLoop); while > 0 the inbox keeps the event loop alive.
  int32_t loop_holds = 0;

  std::atomic<int32_t> state{static_cast<int32_t>(ThreadState::kStarting)};
  // Set under the mutex before any node::Stop aimed at this thread, and by
  // the thread's own 'exit' event; read by regions (without the lock) so an
  // interrupt never swallows a kill or a shutdown.
  std::atomic<bool> kill_requested{false};
  // A kill (or KillableWorker#terminate()) was aimed at this thread: its
  // death is recorded as killed, with kill_exit_code. Guarded by the mutex.
  bool killed = false;
  int32_t kill_exit_code = -1;
  // The first kill that announced itself (cooperative phase or its
  // interrupt): the reason its onKill hooks get. Guarded by the mutex.
  bool kill_announced = false;
  bool abandoned = false;  // onUnkillable: 'abandon' gave up on it
  std::string kill_reason;
  // The thread registered onKill hooks (set by its own JS).
  std::atomic<bool> has_kill_hooks{false};
  // A kill()'s interrupt fired in one of this thread's regions (set by its
  // interrupt callback, before the region unwinds): its onKill hooks run at
  // that region's boundary, so a concurrent kill() that finds no region
  // waits for them instead of terminating the thread in the middle of them.
  std::atomic<bool> kill_interrupted{false};
  std::atomic<bool> token_observed{false};
  std::atomic<uint64_t> heartbeat{0};
  std::atomic<uint64_t> heartbeat_js{0};

  // Region bookkeeping published by the owner for other threads' fast
  // pre-checks. The owner's thread-local RegionStack is the source of truth.
  std::atomic<uint32_t> region_depth{0};
  std::atomic<uint64_t> region_seqs[kTrackedRegions];
  std::atomic<bool> has_pending_interrupt{false};
  // Non-pending requests queued and not yet taken by the target. A region
  // checks it on exit so a request that arrived while it sat in native code
  // is delivered at its boundary instead of being lost.
  std::atomic<uint32_t> queued_requests{0};
  // An interrupt callback of ours is pending in V8's queue (region.cc,
  // ArmInterrupt), and since when (monotonic ns).
  std::atomic<bool> interrupt_armed{false};
  std::atomic<int64_t> interrupt_armed_at_ns{0};
  // A termination of ours was requested for a region that has not reached
  // its boundary yet (set by the interrupt callback that fired it, cleared
  // when the region resolves or puts back the delivery). While set, the
  // watchdog arms the interrupt every kRefireCheckNs: someone else may have
  // cancelled it (Node's vm timeout cancels every termination when its own
  // fires at the same moment), and only a callback can fire it again.
  std::atomic<bool> termination_in_flight{false};
  // The interrupt callback took requests off `requests` and has not yet
  // fired them or put them back: set under the mutex with the take, cleared
  // when the callback returns, read by the stuck guard under the mutex
  // (region.cc, OnInterrupt; deadline.cc, Fire).
  std::atomic<bool> look_in_progress{false};
  // A delivery that waits (the landing rule): since when (monotonic ns; 0 =
  // none), and where: the frame of Node's it waits for, and why. Written by
  // the owner under the mutex; shown only while requests are queued.
  std::atomic<int64_t> deferred_since_ns{0};
  std::string deferred_where;
  const char* deferred_why = "";
  // The stuck guard (deadline.h, SetStuckGuard): set by the owner; the label
  // of its last labelled region, guarded by the mutex (UTF-16 as JS has it:
  // one is copied per test, and only a stuck one is ever printed).
  std::atomic<int64_t> stuck_grace_ns{0};
  int32_t stuck_exit_code = 1;
  uint64_t stuck_seq = 0;
  double stuck_timeout_ms = 0;
  std::u16string stuck_label;

  // Guarded by the mutex (written by the owner only, under the mutex; the
  // owner may read without it). Sequence numbers of active regions past
  // kTrackedRegions levels.
  std::vector<uint64_t> deep_seqs;
  // Ids of untilDelivered requests the owner has fired or merged into a
  // firing and not yet resolved (so a retry can re-arm them, and a death
  // can answer them).
  // (request id, interrupter threadId).
  std::vector<std::pair<uint64_t, int64_t>> in_flight;

  // Guarded by the mutex.
  std::vector<InterruptRequest> requests;
  std::vector<Event> inbox;
  std::vector<int64_t> watchers;  // threadIds to tell when this one dies
  // Waiting too, but told by other means (a parent's kill(worker) waits for
  // the Worker's 'exit'): counted in threads().watchers, never posted to.
  std::vector<int64_t> quiet_watchers;
  std::vector<Frame> last_stack;  // captured just before a kill landed
  bool has_last_stack = false;
  // Identity for the unblock rung (native/unblock.cc): the thread's start
  // time from /proc, captured when a kill starts. 0 = not captured.
  uint64_t start_time = 0;

  // The earliest deadline among the thread's active regions (deadline.h).
  DeadlineSlot deadline;

  // The thread's own stop token storage, shareable with any isolate.
  std::shared_ptr<v8::BackingStore> stop_cell;

  // Owner-thread only.
  v8::Global<v8::Context> context;
  v8::Global<v8::Function> event_handler;

  Entry() {
    for (auto& s : region_seqs) s.store(0, std::memory_order_relaxed);
  }
};

struct DeadRecord {
  ExitCause cause = ExitCause::kUnknown;
  int32_t exit_code = -1;  // the kill's exit code (killed only)
  bool has_stack = false;
  std::vector<Frame> stack;
};

class Registry {
 public:
  static Registry& Get();

  std::unordered_map<int64_t, Entry*> live;
  // Recently dead threads (bounded) and every id ever seen (a bitset).
  std::unordered_map<int64_t, DeadRecord> dead;
  std::vector<int64_t> dead_order;
  std::vector<bool> ever_seen;

  // All of these require the caller to hold a RegistryLock.
  Entry* FindLocked(int64_t thread_id);
  void MarkSeenLocked(int64_t thread_id);
  bool EverSeenLocked(int64_t thread_id) const;
  const DeadRecord* FindDeadLocked(int64_t thread_id) const;
  // Removes `e` from the map, records it as dead and tells its watchers.
  // Does not delete `e`.
  void RetireLocked(Entry* e);
  // Queues an event for `thread_id`'s JS and wakes its loop.
  void PostLocked(int64_t thread_id, Event ev);
  // Marks `e` as killed with `exit_code` (the first kill's code wins).
  static void MarkKilledLocked(Entry* e, int32_t exit_code);

 private:
  friend class RegistryLock;
  Registry() = default;
  std::mutex mutex_;
};

// ---- Guards: invariants enforced rather than commented.
//
// Built with TK_DEBUG_CHECKS (node-gyp's Debug configuration, the sanitizer
// run of `npm run test:sanitize`), a violation stops the process on the spot,
// naming what was broken. A release build keeps every guard but never turns
// a violation into a crash (see NoJsScope).
#if defined(TK_DEBUG_CHECKS)
constexpr bool kDebugChecks = true;
#else
constexpr bool kDebugChecks = false;
#endif

// While open, V8 refuses to run JavaScript in `isolate`, which must be the
// calling thread's own (null: a thread without one, nothing to guard). The
// code inside may still use V8 (handles, stack traces, TerminateExecution);
// it can never re-enter user code (a setter, a getter, a finalizer's JS).
// The mode: with debug checks CRASH_ON_FAILURE, so any JS call is a V8 fatal
// error ("Invoke in DisallowJavascriptExecutionScope") and the sanitizer run
// proves the invariant; in release THROW_ON_FAILURE, as Node's own
// FreeEnvironment uses it: the call fails with an exception instead of
// running, and the process lives. DESIGN.md, "Guards".
class NoJsScope {
 public:
  explicit NoJsScope(v8::Isolate* isolate) {
    if (isolate != nullptr) scope_.emplace(isolate, kOnFailure);
  }

 private:
  static constexpr v8::Isolate::DisallowJavascriptExecutionScope::OnFailure kOnFailure =
      kDebugChecks ? v8::Isolate::DisallowJavascriptExecutionScope::CRASH_ON_FAILURE
                   : v8::Isolate::DisallowJavascriptExecutionScope::THROW_ON_FAILURE;
  std::optional<v8::Isolate::DisallowJavascriptExecutionScope> scope_;
};

// The registry mutex, held for this object's scope, with JavaScript
// disallowed on the calling thread's isolate (if it has one; the deadline
// watchdog has none) for at least as long: nothing a locked section calls can
// run user code, which could deadlock every thread (reliability rule 1).
// kSpinFirst: try_lock a few thousand times before sleeping on the mutex
// (the interrupt callback: the interrupter usually releases it within
// instructions, and a futex sleep/wake costs microseconds of latency).
class RegistryLock {
 public:
  enum Wait { kBlock, kSpinFirst };
  explicit RegistryLock(Wait wait = kBlock, v8::Isolate* isolate = v8::Isolate::TryGetCurrent());
  ~RegistryLock();
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;

 private:
  NoJsScope no_js_;  // opened before the mutex is taken, closed after it is released
};

// Debug checks: stops the process unless the calling thread holds the
// registry mutex (through a RegistryLock). Release: nothing. Called by every
// *Locked function and by the cross-thread calls that need the lock.
#if defined(TK_DEBUG_CHECKS)
void AssertRegistryLocked();
#else
inline void AssertRegistryLocked() {}
#endif

// The entry of the calling thread, or null (not registered / torn down).
Entry* CurrentEntry();
void SetCurrentEntry(Entry* e);

double NowMs();
int32_t CurrentOsTid();

}  // namespace tk
