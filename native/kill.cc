#include "kill.h"

#include <node.h>

#include <algorithm>

#include "stack.h"

namespace tk {

namespace {

// Interrupt callbacks (node::RequestInterrupt): they run on the target thread,
// from V8's interrupt check or from its event loop, and never call JS (a
// NoJsScope for the whole callback enforces it).

// Target thread: take a picture of the JS stack, then terminate our own
// environment. The capture happens first because after node::Stop() the
// termination unwinds every frame (isolated-vm does the same).
void CaptureThenTerminate(void*) {
  Entry* e = CurrentEntry();
  if (e == nullptr) return;
  NoJsScope no_js(e->isolate);
  std::vector<Frame> frames = CaptureStack(e->isolate, kMaxCapturedFrames);
  RegistryLock lock;
  if (!e->has_last_stack) {
    e->last_stack = std::move(frames);
    e->has_last_stack = true;
  }
  node::Stop(e->env);
}

void Beat(void*) {
  Entry* e = CurrentEntry();
  if (e == nullptr) return;
  NoJsScope no_js(e->isolate);
  e->heartbeat.fetch_add(1);
  v8::HandleScope scope(e->isolate);
  v8::Local<v8::StackTrace> trace =
      v8::StackTrace::CurrentStackTrace(e->isolate, 1);
  if (!trace.IsEmpty() && trace->GetFrameCount() > 0) e->heartbeat_js.fetch_add(1);
}

}  // namespace

namespace {
// `target` is not in `live`: never seen, or dead (killed if its dead record,
// while kept, says so).
TerminateStatus AbsentStatusLocked(const Registry& reg, int64_t target) {
  if (!reg.EverSeenLocked(target)) return TerminateStatus::kUnknownThread;
  const DeadRecord* d = reg.FindDeadLocked(target);
  return d != nullptr && d->cause == ExitCause::kKilled ? TerminateStatus::kDeadKilled
                                                        : TerminateStatus::kDeadNatural;
}
}  // namespace

TerminateStatus LookupThread(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return AbsentStatusLocked(reg, target);
  return e->env == nullptr ? TerminateStatus::kReservedOnly : TerminateStatus::kIssued;
}

namespace {
TerminateStatus TerminateLocked(Entry* e, int64_t target, int64_t caller, const TerminateOptions& opts) {
  if (opts.watch && caller >= 0 && caller != target) {
    std::vector<int64_t>& list = opts.quiet ? e->quiet_watchers : e->watchers;
    bool present = false;
    for (int64_t w : list) present = present || w == caller;
    if (!present) list.push_back(caller);
  }
  // Set before node::Stop so that a region on the target never mistakes this
  // termination for one of its interrupts.
  e->kill_requested.store(true);
  Registry::MarkKilledLocked(e, opts.exit_code);
  int32_t running = static_cast<int32_t>(ThreadState::kRunning);
  e->state.compare_exchange_strong(running,
                                   static_cast<int32_t>(ThreadState::kStopping));
  if (e->env == nullptr) return TerminateStatus::kReservedOnly;
  if (opts.mark_only) return TerminateStatus::kIssued;
  if (opts.capture_stack && !e->has_last_stack) {
    // Lands within microseconds if the thread runs JS or idles in its loop;
    // a thread in native code is reached by the plain node::Stop() of the retries.
    node::RequestInterrupt(e->env, CaptureThenTerminate, nullptr);
  } else {
    node::Stop(e->env);
  }
  return TerminateStatus::kIssued;
}

void AnnounceLocked(Entry* e, const std::string& reason, int32_t exit_code) {
  Registry::MarkKilledLocked(e, exit_code);
  if (!e->kill_announced) {
    e->kill_announced = true;
    e->kill_reason = reason;
  }
}
}  // namespace

TerminateStatus TerminateThread(int64_t target, int64_t caller, const TerminateOptions& opts) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return AbsentStatusLocked(reg, target);
  return TerminateLocked(e, target, caller, opts);
}

int32_t StartKill(int64_t target, int64_t caller, const std::string& reason, int32_t exit_code,
                  bool grace, bool capture_stack, bool quiet) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return static_cast<int32_t>(AbsentStatusLocked(reg, target));
  AnnounceLocked(e, reason, exit_code);
  const bool takes_part = e->has_kill_hooks.load() || e->token_observed.load();
  // A region another kill() already interrupted counts: its boundary runs the
  // thread's onKill hooks, which terminating at once would cut short.
  const bool in_region = e->env != nullptr && (e->region_depth.load(std::memory_order_acquire) > 0 ||
                                               e->kill_interrupted.load(std::memory_order_acquire));
  const int32_t bits = (takes_part ? kKillTakesPart : 0) | (in_region ? kKillInRegion : 0);
  if (grace && takes_part) {
    if (e->env != nullptr) reg.PostLocked(target, Event{EventType::kKillReached, target, 0});
    return kKillCooperative | bits;
  }
  if (grace && in_region) return kKillInterruptFirst | bits;
  TerminateOptions opts;
  opts.watch = true;
  opts.capture_stack = capture_stack;
  opts.exit_code = exit_code;
  opts.quiet = quiet;
  return static_cast<int32_t>(TerminateLocked(e, target, caller, opts)) | bits;
}

bool PingThread(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr || e->env == nullptr) return false;
  node::RequestInterrupt(e->env, Beat, nullptr);
  return true;
}

Heartbeat ReadHeartbeat(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Heartbeat hb;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return hb;
  hb.live = true;
  hb.beats = e->heartbeat.load();
  hb.beats_js = e->heartbeat_js.load();
  return hb;
}

bool TakeCapturedStack(int64_t target, std::vector<Frame>* out) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  if (Entry* e = reg.FindLocked(target)) {
    if (!e->has_last_stack) return false;
    *out = e->last_stack;
    return true;
  }
  const DeadRecord* d = reg.FindDeadLocked(target);
  if (d == nullptr || !d->has_stack) return false;
  *out = d->stack;
  return true;
}

bool AnnounceKill(int64_t target, const std::string& reason, int32_t exit_code, bool notify) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return false;
  AnnounceLocked(e, reason, exit_code);
  if (notify && e->env != nullptr && (e->has_kill_hooks.load() || e->token_observed.load()))
    reg.PostLocked(target, Event{EventType::kKillReached, target, 0});
  return true;
}

void MarkAbandoned(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr || e->abandoned) return;
  e->abandoned = true;
  reg.PostLocked(0, Event{EventType::kAbandoned, target, 0});
}

size_t CountAbandonedAlive() {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  size_t n = 0;
  for (auto& kv : reg.live) n += kv.second->abandoned ? 1 : 0;
  return n;
}

bool TakeKillReason(std::string* out) {
  Entry* e = CurrentEntry();
  if (e == nullptr) return false;
  RegistryLock lock;
  if (!e->kill_announced) return false;
  *out = e->kill_reason;
  return true;
}

int32_t KilledExitCode(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  if (Entry* e = reg.FindLocked(target)) return e->killed ? e->kill_exit_code : -1;
  const DeadRecord* d = reg.FindDeadLocked(target);
  return d != nullptr && d->cause == ExitCause::kKilled ? d->exit_code : -1;
}

bool AskCreatorToTerminate(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr || e->env != nullptr || e->reserved_by < 0) return false;
  if (reg.FindLocked(e->reserved_by) == nullptr) return false;
  reg.PostLocked(e->reserved_by, Event{EventType::kTerminateWorker, target, 0});
  return true;
}

bool KillInterrupted(int64_t target) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  return e != nullptr && e->kill_interrupted.load(std::memory_order_acquire);
}

void UnwatchThread(int64_t target, int64_t caller) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return;
  for (auto* w : {&e->watchers, &e->quiet_watchers})
    w->erase(std::remove(w->begin(), w->end(), caller), w->end());
}

bool WatchThread(int64_t target, int64_t caller, bool quiet) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return false;
  std::vector<int64_t>& list = quiet ? e->quiet_watchers : e->watchers;
  for (int64_t w : list)
    if (w == caller) return true;
  list.push_back(caller);
  return true;
}

}  // namespace tk
