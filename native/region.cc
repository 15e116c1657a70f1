#include "region.h"

#include <node.h>
#include <node_api.h>
#include <node_buffer.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
#include <unordered_map>
#include <unordered_set>

#include "compat.h"
#include "landing.h"
#include "stack.h"

namespace tk {

namespace {

// runRegion's flags, read only when a region throws: nothing on the hot path
// needs them.
int32_t RegionFlags(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return info.Length() > 1 && info[1]->IsInt32() ? info[1].As<v8::Int32>()->Value() : 0;
}

struct RegionStack;

// A captured stack handed to JS as an opaque v8::External (kept by the
// InterruptedError), so its frames are only turned into strings if someone
// reads the error's `stack`. Owned by the RegionStack, which frees what is
// left at thread teardown; freed earlier by a weak callback once JS drops
// the handle.
struct CapturedTrace {
  RegionStack* owner;
  v8::Global<v8::StackTrace> trace;
  v8::Global<v8::External> handle;  // weak
};

// The owner thread's view of its regions. Only ever touched on that thread
// (region entry/exit and the interrupt callback both run there), which is
// what makes "is the addressed region still active?" race-free.
struct RegionStack {
  // Active regions, outermost first: how many is the entry's region_depth,
  // their sequence numbers live in its region_seqs (both read by
  // interrupters as a pre-check) and, past kTrackedRegions levels, in its
  // deep_seqs. Nothing to allocate on the hot path.
  uint64_t next_seq = 0;
  // The region our interrupt callback aimed a TerminateExecution at, and
  // what to tell it. 0 = none.
  uint64_t fired_seq = 0;
  InterruptRequest fired;
  // Further requests for that same region that arrived while it was being
  // interrupted: it throws once, and they are answered with the same result.
  std::vector<InterruptRequest> merged;
  v8::Global<v8::StackTrace> fired_trace;
  // How many frames at the top of fired_trace belong to the interrupted region.
  int fired_cut = 0;
  v8::Global<v8::Function> factory;
  // How a region's own frame looks in a captured stack: the script id of
  // the JS function that calls runRegion (interruptible(), learned from the
  // first region entry) and its name. Finding the addressed region's frame
  // this way needs no string conversion of the frames below it.
  bool region_frame_learned = false;
  int region_script_id = -1;
  v8::Global<v8::String> region_function_name;
  // What the landing rule has learned of the scripts it judged (landing.h).
  LandingCache* landing = nullptr;
  // Regions whose scope has closed (or not yet opened) while JS runs from
  // their native frame (the error factory): their boundary frames are still
  // on the stack, above every active region's, and RegionFrameIndex must
  // skip them to find an active region's boundary.
  uint32_t unwinding = 0;
  // Active deadline regions whose deadline did not take the thread's slot
  // (an outer one's was earlier): (seq, deadline ns). See DeferFired.
  std::vector<std::pair<uint64_t, int64_t>> shadowed;
  // A refire's judgement is not repeated before this (monotonic ns): see
  // OnInterrupt.
  int64_t refire_not_before_ns = 0;
  // The last rearmDeadline(): a timeout of that region reports this budget.
  uint64_t rearmed_seq = 0;
  double rearmed_ms = 0;
  // Captured stacks JS still holds (see CapturedTrace).
  std::unordered_set<CapturedTrace*> traces;
  // This thread's registry entry, once registered. Cached here so the hot
  // path reaches everything through the function's data pointer, without a
  // thread_local lookup (which costs a __tls_get_addr call in a shared object).
  Entry* entry = nullptr;
  // The addon's first Node-API environment on this thread: only to ask
  // whether Node is stopping the thread (see NodeIsStopping).
  napi_env napi = nullptr;
  // A JS function that does nothing: calling it makes a termination
  // requested from this thread land at once (see LandTermination).
  v8::Global<v8::Function> noop;
};

thread_local RegionStack* tl_regions = nullptr;

RegionStack& Regions() {
  if (tl_regions == nullptr) {
    tl_regions = new RegionStack();
    tl_regions->landing = NewLandingCache();
  }
  return *tl_regions;
}

std::atomic<uint64_t> g_next_request{0};

// Tells an untilDelivered interrupter how its request ended, and forgets it
// as in flight. Mutex held.
void PostResult(Entry* e, const InterruptRequest& r, DeliveryResult result) {
  AssertRegistryLocked();
  if (r.notify < 0) return;
  auto& f = e->in_flight;
  f.erase(std::remove_if(f.begin(), f.end(), [&](const auto& p) { return p.first == r.id; }),
          f.end());
  Registry::Get().PostLocked(
      r.notify, Event{EventType::kInterruptResult, static_cast<int64_t>(r.id),
                      static_cast<int64_t>(result)});
}

bool Notifies(const InterruptRequest& r) { return r.notify >= 0; }

// The fired request (taken out of `rs`) and everything merged into it,
// answered at once. Most interrupters do not ask to be told (only
// untilDelivered does): skip the registry lock for them.
InterruptRequest ResolveFired(Entry* e, RegionStack& rs, DeliveryResult result);

// How many regions are active; owner thread.
uint32_t Depth(const RegionStack& rs) {
  return rs.entry == nullptr ? 0 : rs.entry->region_depth.load(std::memory_order_relaxed);
}

// The sequence number of active region `i` (0 = outermost); owner thread.
uint64_t SeqAt(const RegionStack& rs, uint32_t i) {
  return i < kTrackedRegions ? rs.entry->region_seqs[i].load(std::memory_order_relaxed)
                             : rs.entry->deep_seqs[i - kTrackedRegions];
}

int IndexOfSeq(const RegionStack& rs, uint64_t seq) {
  for (uint32_t i = 0, depth = Depth(rs); i < depth; i++)
    if (SeqAt(rs, i) == seq) return static_cast<int>(i);
  return -1;
}

// Frames captured below the interrupted region (V8's default for errors).
constexpr int kShortTrace = 10;

v8::Local<v8::StackTrace> CurrentTrace(v8::Isolate* isolate, int limit) {
  return v8::StackTrace::CurrentStackTrace(isolate, limit, v8::StackTrace::kDetailed);
}

void FreeTrace(CapturedTrace* ct) {
  ct->handle.Reset();
  ct->trace.Reset();
  ct->owner->traces.erase(ct);
  delete ct;
}

// An opaque JS handle for `trace`, resolved later by TraceFrames().
v8::Local<v8::External> TraceHandle(v8::Isolate* isolate, RegionStack& rs,
                                    v8::Local<v8::StackTrace> trace) {
  auto* ct = new CapturedTrace{&rs, {}, {}};
  v8::Local<v8::External> handle = NewExternal(isolate, ct, kExternalCapturedTrace);
  ct->trace.Reset(isolate, trace);
  ct->handle.Reset(isolate, handle);
  ct->handle.SetWeak(
      ct, [](const v8::WeakCallbackInfo<CapturedTrace>& data) { FreeTrace(data.GetParameter()); },
      v8::WeakCallbackType::kParameter);
  rs.traces.insert(ct);
  return handle;
}

// Index of the frame of the region `boundary` levels up from the top of
// `trace` (its interruptible() call), or the frame count if it lies deeper
// than was captured. Frames above it are the interrupted region's own.
int RegionFrameIndex(v8::Isolate* isolate, RegionStack& rs,
                     v8::Local<v8::StackTrace> trace, uint32_t boundary) {
  const int n = trace->GetFrameCount();
  if (boundary == 0) return 0;
  if (rs.region_script_id < 0 || rs.region_function_name.IsEmpty()) return n;
  v8::Local<v8::String> name = rs.region_function_name.Get(isolate);
  uint32_t seen = 0;
  for (int i = 0; i < n; i++) {
    v8::Local<v8::StackFrame> f = trace->GetFrame(isolate, i);
    if (f->GetScriptId() != rs.region_script_id) continue;
    v8::Local<v8::String> fn = f->GetFunctionName();
    if (!fn.IsEmpty() && fn->StrictEquals(name) && ++seen == boundary) return i;
  }
  return n;
}

// The stack at the moment of stopping a region `boundary` region frames down
// from the top: every frame of that region, however deep (the landing rule
// judges them all), and about kShortTrace below. Frame walking costs per
// frame, and this runs on every interrupt: try a short capture first.
// `*cut` is set to the number of frames that belong to the region,
// `*complete` to whether the capture reached the region's boundary (or the
// bottom of the stack).
constexpr int kWholeStack = 1 << 20;
v8::Local<v8::StackTrace> CaptureForRegion(v8::Isolate* isolate, RegionStack& rs,
                                           uint32_t boundary, int* cut, bool* complete) {
  v8::Local<v8::StackTrace> trace = CurrentTrace(isolate, kShortTrace);
  *cut = RegionFrameIndex(isolate, rs, trace, boundary);
  if (*cut >= trace->GetFrameCount() && trace->GetFrameCount() == kShortTrace) {
    trace = CurrentTrace(isolate, kWholeStack);
    *cut = RegionFrameIndex(isolate, rs, trace, boundary);
  }
  *complete = *cut < trace->GetFrameCount() || trace->GetFrameCount() < kWholeStack;
  return trace;
}

// How often a waiting delivery looks again: about every 20 µs for its first
// 500 looks (most waits for Node's code end sooner: in a loop over
// console.log a look finds a landing point about one time in 15), then about
// every 100 µs for as long as it waits — there is no time bound (landing.h).
// A look costs a short stack capture, a few µs: a thread that runs Node's
// code for a long time pays a few percent for it, and a loop over a sync API
// whose JavaScript goes on after its C++ part (execSync, zlib's sync API),
// which can only be cut in the microseconds between two calls, is found
// there within some tens of calls.
constexpr uint32_t kQuickLooks = 500;
constexpr int64_t kRetryQuickNs = 20'000;
constexpr int64_t kRetryNs = 100'000;
// Every wait is looked at again by these timed looks, also one for a call
// that returns to the user's code within microseconds. A callback cannot arm
// the next check itself: V8 runs an interrupt requested from inside an
// interrupt callback in the same loop, at the same check (Isolate::
// InvokeApiInterruptCallbacks pops its queue until empty). And the watchdog
// spinning to re-arm at once (tried, and removed) gained nothing measurable
// in a loop over a sync API and took a CPU of a 2-core machine.

// Whether Node is stopping this thread's environment (Environment::
// ExitEnv: worker.terminate(), process.exit() in a worker, the parent's
// exit). Node has no public API for it, but Node-API reports it: each of its
// calls that may run JS first checks `can_call_into_js()`, which is false
// once the environment is stopping, and napi_strict_equals() is one that
// runs none. (A pending Node-API exception would fail it too: then this
// cannot tell, and says no, as before this check existed.)
bool NodeIsStopping(RegionStack& rs) {
  napi_env env = rs.napi;
  if (env == nullptr) return false;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return false;
  napi_value undefined;
  if (napi_get_undefined(env, &undefined) != napi_ok) return false;
  bool same = false;
  return napi_strict_equals(env, undefined, undefined, &same) != napi_ok;
}

// Requests a termination and makes it land now, before the caller's next
// statement (which might be an Atomics.wait that nothing would wake): a
// termination requested on the isolate's own thread lands at the next
// interrupt check, and the entry of a JS function is one.
void LandTermination(v8::Isolate* isolate, RegionStack& rs) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (rs.noop.IsEmpty()) {
    v8::ScriptCompiler::Source source(v8::String::NewFromUtf8Literal(isolate, ""));
    v8::Local<v8::Function> fn;
    if (v8::ScriptCompiler::CompileFunction(context, &source).ToLocal(&fn)) rs.noop.Reset(isolate, fn);
  }
  isolate->TerminateExecution();
  if (rs.noop.IsEmpty()) return;
  v8::MaybeLocal<v8::Value> landed = rs.noop.Get(isolate)->Call(context, v8::Undefined(isolate), 0, nullptr);
  (void)landed;  // empty: the termination is now in effect
}

// First region entry on a thread: the caller of runRegion is the region
// function itself; remember how its frame looks (see RegionStack).
void LearnRegionFrame(v8::Isolate* isolate, RegionStack& rs) {
  v8::HandleScope scope(isolate);
  v8::Local<v8::StackTrace> top = CurrentTrace(isolate, 1);
  rs.region_frame_learned = true;  // even if there is nothing to learn
  if (top.IsEmpty() || top->GetFrameCount() < 1) return;
  v8::Local<v8::StackFrame> f = top->GetFrame(isolate, 0);
  v8::Local<v8::String> fn = f->GetFunctionName();
  if (fn.IsEmpty()) return;
  rs.region_script_id = f->GetScriptId();
  rs.region_function_name.Reset(isolate, fn);
}

// Puts the chosen delivery (rs.fired and what merged into it) back into the
// thread's queue, untouched, says where it waits (threads(), diagnose(),
// untilDelivered), and has the watchdog arm the interrupt again shortly: it
// lands at a look that finds the rule met, or at the region's boundary, like
// any request still queued when a region exits. No time bound (landing.h).
void DeferRequests(Entry* e, RegionStack& rs, std::vector<InterruptRequest>&& requests, const LandingVerdict& verdict) {
  int64_t since = 0;
  uint32_t looks = 0;
  for (const InterruptRequest& m : requests) {
    if (m.deferred_since_ns != 0 && (since == 0 || m.deferred_since_ns < since)) since = m.deferred_since_ns;
    looks = std::max(looks, m.deferred_looks);
  }
  if (since == 0) since = MonotonicNs();
  looks++;
  {
    RegistryLock lock(RegistryLock::kBlock, e->isolate);
    for (InterruptRequest& m : requests) {
      m.deferred_since_ns = since;
      m.deferred_looks = looks;
      e->requests.push_back(std::move(m));
    }
    e->queued_requests.fetch_add(static_cast<uint32_t>(requests.size()));
    e->deferred_since_ns.store(since, std::memory_order_relaxed);
    e->deferred_where = verdict.where;
    e->deferred_why = verdict.why;
  }
  // The thread's deadline slot holds one deadline: a region inside one whose
  // earlier deadline fired and now waits gets its own armed, so that it can
  // still fire (its boundary may lie above what the outer one waits for).
  if (!rs.shadowed.empty() && e->deadline.deadline_ns.load(std::memory_order_relaxed) == kNoDeadline) {
    auto next = std::min_element(rs.shadowed.begin(), rs.shadowed.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    ArmDeadline(e, next->second, next->first);
    rs.shadowed.erase(next);
  }
  const int64_t period = looks > kQuickLooks ? kRetryNs : kRetryQuickNs;
  // Jittered (half to one and a half periods): a thread that loops over a
  // sync API lands only in the short gap between its calls, and a fixed
  // period can stay in phase with the calls and miss that gap every time.
  static thread_local uint64_t jitter = 0x9e3779b97f4a7c15ull ^ reinterpret_cast<uintptr_t>(&jitter);
  jitter ^= jitter << 13;
  jitter ^= jitter >> 7;
  jitter ^= jitter << 17;
  const int64_t delay = period / 2 + static_cast<int64_t>(jitter % static_cast<uint64_t>(period));
  RetryInterruptAt(e, MonotonicNs() + delay);
}

// The chosen delivery (rs.fired and what merged into it), put back.
void DeferFired(Entry* e, RegionStack& rs, const LandingVerdict& verdict) {
  std::vector<InterruptRequest> requests;
  requests.push_back(std::move(rs.fired));
  for (InterruptRequest& m : rs.merged) requests.push_back(std::move(m));
  rs.fired = InterruptRequest();
  rs.merged.clear();
  rs.fired_seq = 0;
  rs.fired_cut = 0;
  e->termination_in_flight.store(false, std::memory_order_release);
  DeferRequests(e, rs, std::move(requests), verdict);
}

// The landing rule's verdict for a delivery to active region `idx` now, and
// (if `trace` is given) the stack it judged and how many of its top frames
// are the region's (empty when the top frame alone decided). The caller
// holds a HandleScope.
LandingVerdict JudgeRegion(v8::Isolate* isolate, RegionStack& rs, int idx,
                           v8::Local<v8::StackTrace>* trace = nullptr, int* cut = nullptr) {
  LandingVerdict verdict;
  if (TopForbidsLanding(isolate, *rs.landing, CurrentTrace(isolate, 1), &verdict)) return verdict;
  int frames = 0;
  bool complete = true;
  v8::Local<v8::StackTrace> captured =
      CaptureForRegion(isolate, rs, Depth(rs) + rs.unwinding - static_cast<uint32_t>(idx), &frames, &complete);
  if (trace != nullptr) *trace = captured;
  if (cut != nullptr) *cut = frames;
  return JudgeLanding(isolate, *rs.landing, captured, frames, complete);
}

// A delivery stopped waiting (it fired, or its region ended): it is no
// longer shown as deferred.
void ClearDeferral(Entry* e) {
  if (e->deferred_since_ns.load(std::memory_order_relaxed) == 0) return;
  RegistryLock lock(RegistryLock::kBlock, e->isolate);
  e->deferred_since_ns.store(0, std::memory_order_relaxed);
  e->deferred_where.clear();
}

// Runs on the target thread, from V8's interrupt check while JS runs. It
// never calls JS (a NoJsScope for the whole callback enforces it) and never
// throws: it only decides whether an addressed region is active right now
// and, if so, asks V8 to terminate — on this very thread, so the region
// cannot exit in between. The registry mutex is held only to move plain
// data: the stack capture (which allocates, and so may collect garbage)
// happens outside it.
void OnInterrupt(void*) {
  Entry* e = CurrentEntry();
  if (e == nullptr || tl_regions == nullptr) return;
  RegionStack& rs = *tl_regions;
  v8::Isolate* isolate = e->isolate;
  NoJsScope no_js(isolate);
  // Before taking the queue: a request queued from now on arms a new call.
  e->interrupt_armed.store(false);
  std::vector<InterruptRequest> taken;
  // While this look holds requests it took off the queue (until it fires
  // them or puts them back), the queue does not show them: the stuck guard
  // must not read that as "no delivery waits" (deadline.cc, Fire).
  struct LookScope {
    Entry* e;
    ~LookScope() { e->look_in_progress.store(false, std::memory_order_release); }
  } look{e};
  {
    RegistryLock lock(RegistryLock::kSpinFirst, isolate);
    auto keep = std::stable_partition(
        e->requests.begin(), e->requests.end(),
        [](const InterruptRequest& r) { return r.pending; });
    for (auto it = keep; it != e->requests.end(); ++it) taken.push_back(std::move(*it));
    e->requests.erase(keep, e->requests.end());
    e->queued_requests.fetch_sub(static_cast<uint32_t>(taken.size()));
    if (!taken.empty()) e->look_in_progress.store(true, std::memory_order_release);
  }

  const bool shutting_down = e->kill_requested.load() || NodeIsStopping(rs);
  int best = rs.fired_seq ? IndexOfSeq(rs, rs.fired_seq) : -1;
  // Our termination for a region that is still running was cancelled by
  // someone else (Node's vm timeout calls CancelTerminateExecution when its
  // own watchdog fired at the same time): fire it again. Harmless when it is
  // merely still pending. Never while the thread is shutting down: then the
  // termination in flight is not ours to renew.
  bool refire = best >= 0 && !shutting_down && !isolate->IsExecutionTerminating();
  if (refire && MonotonicNs() < rs.refire_not_before_ns) {
    refire = false;  // (judged moments ago; the watchdog looks again)
  } else if (refire) {
    // The thread ran on after the cancel — into Node's code, perhaps (the
    // user's code caught the vm's error and went on): the rule is applied
    // again where it is now. Where it must wait, nothing changes: the
    // delivery stays in flight and the watchdog's next look (kRefireCheckNs)
    // judges again. Not put back in the queue: "not terminating" is also
    // what V8 says while our termination is merely pending (a second entry
    // of V8's interrupt queue, run at the check where this callback fired
    // it), and then it still acts — on a delivery no longer marked fired,
    // which the region's boundary would not answer.
    // The judgement reads the whole stack down to the region: 45,000 frames
    // of a recursion at the stack's limit (whose overflows keep dropping the
    // termination) took 8-36 ms a look, and looks back to back left the
    // thread no time to run: the next one waits four times as long as this
    // one took.
    const int64_t t0 = MonotonicNs();
    v8::HandleScope scope(isolate);
    v8::Local<v8::StackTrace> trace;
    int cut = 0;
    const bool land = JudgeRegion(isolate, rs, best, &trace, &cut).land;
    const int64_t t1 = MonotonicNs();
    rs.refire_not_before_ns = t1 + 4 * (t1 - t0);
    if (land) {
      rs.fired_trace.Reset(isolate, trace);  // where it stops now
      rs.fired_cut = cut;
    } else {
      refire = false;
    }
  }
  if (taken.empty() && !refire) return;
  // Nothing of ours in flight: a new delivery may still wait (see below).
  const bool may_wait = best < 0 && !isolate->IsExecutionTerminating();

  // A termination of ours is in flight for an inner region, and requests
  // aim further out: the outer region takes over only where the rule allows
  // a landing for it; else they wait, and the inner one goes on.
  if (best >= 0 && !shutting_down && !isolate->IsExecutionTerminating()) {
    int outermost = best;
    for (const InterruptRequest& r : taken) {
      const int idx = IndexOfSeq(rs, r.region_seq);
      if (idx >= 0 && idx < outermost) outermost = idx;
    }
    if (outermost < best) {
      v8::HandleScope scope(isolate);
      LandingVerdict verdict = JudgeRegion(isolate, rs, outermost);
      if (!verdict.land) {
        std::vector<InterruptRequest> outer;
        auto keep = std::stable_partition(taken.begin(), taken.end(), [&](const InterruptRequest& r) {
          const int idx = IndexOfSeq(rs, r.region_seq);
          return !(idx >= 0 && idx < best);
        });
        for (auto it = keep; it != taken.end(); ++it) outer.push_back(std::move(*it));
        taken.erase(keep, taken.end());
        DeferRequests(e, rs, std::move(outer), verdict);
        if (taken.empty() && !refire) return;
      }
    }
  }

  std::vector<std::pair<InterruptRequest, DeliveryResult>> answers;
  // Requests for active regions inside the one chosen: they unwind with it,
  // or, if it must wait, the outermost of them is judged next (its own
  // boundary may lie above the frames of Node's the outer one waits for).
  std::vector<std::pair<int, InterruptRequest>> deeper;
  bool changed = false;
  for (InterruptRequest& r : taken) {
    int idx = shutting_down ? -1 : IndexOfSeq(rs, r.region_seq);
    if (idx < 0) {
      // The region already finished (or the thread is going away): no effect.
      answers.emplace_back(std::move(r), DeliveryResult::kRegionFinished);
    } else if (best < 0 || idx < best) {
      // An outer region wins: whatever was aimed further in unwinds with it
      // (unless the outer one must wait: see below).
      if (best >= 0) {
        deeper.emplace_back(best, std::move(rs.fired));
        for (InterruptRequest& m : rs.merged) deeper.emplace_back(best, std::move(m));
        rs.merged.clear();
      }
      best = idx;
      rs.fired = std::move(r);
      changed = true;
    } else if (idx == best) {
      // The same region, already being interrupted: it throws once, for both.
      // A kill's request takes the lead (its error must say kill), and an
      // interrupt's takes it from the region's own deadline (its interrupter
      // is told it was delivered: its reason must be what arrives).
      if ((r.kill && !rs.fired.kill) || (!r.kill && !rs.fired.kill && rs.fired.timeout && !r.timeout))
        std::swap(r, rs.fired);
      rs.merged.push_back(std::move(r));
    } else if (may_wait) {
      // Aimed inside the region chosen in this look.
      deeper.emplace_back(idx, std::move(r));
    } else {
      // Aimed inside a region that is already being interrupted.
      answers.emplace_back(std::move(r), DeliveryResult::kRegionFinished);
    }
  }

  bool top_forbids = false;
  while (changed) {
    rs.fired_seq = SeqAt(rs, static_cast<uint32_t>(best));
    const uint32_t boundary = Depth(rs) + rs.unwinding - static_cast<uint32_t>(best);
    // The stack at the moment of stopping, before the termination unwinds it.
    // Only V8's frame records: turning them into strings waits until after
    // the region has thrown, and most of it until someone reads err.stack.
    v8::HandleScope scope(isolate);
    // Only where an exception thrown by the user's code would leave Node as
    // the termination will (the landing rule, landing.h): else the delivery
    // waits, without a time bound, and says where.
    // A look that finds Node's code running on top (most looks that wait)
    // needs one frame, not the whole stack.
    LandingVerdict verdict;
    v8::Local<v8::StackTrace> trace;
    if (may_wait && TopForbidsLanding(isolate, *rs.landing, CurrentTrace(isolate, 1), &verdict)) {
      top_forbids = true;  // (the same for every region: all wait)
    } else {
      bool complete = true;
      trace = CaptureForRegion(isolate, rs, boundary, &rs.fired_cut, &complete);
      if (may_wait) verdict = JudgeLanding(isolate, *rs.landing, trace, rs.fired_cut, complete);
    }
    if (verdict.land) {
      rs.fired_trace.Reset(isolate, trace);
      ClearDeferral(e);
      break;
    }
    DeferFired(e, rs, verdict);
    changed = false;
    if (deeper.empty()) break;
    // The next region in: the outermost of the deeper requests, with the
    // others for the same region merged into it.
    best = deeper.front().first;
    for (const auto& d : deeper) best = std::min(best, d.first);
    std::vector<std::pair<int, InterruptRequest>> rest;
    for (auto& d : deeper) {
      if (d.first != best) {
        rest.push_back(std::move(d));
      } else if (!changed) {
        rs.fired = std::move(d.second);
        changed = true;
      } else {
        rs.merged.push_back(std::move(d.second));
      }
    }
    deeper = std::move(rest);
    if (top_forbids) {
      // Nothing can land in this look: put them all back at once.
      for (auto& d : deeper) rs.merged.push_back(std::move(d.second));
      deeper.clear();
      DeferFired(e, rs, verdict);
      changed = false;
      break;
    }
  }
  // A region that fired takes those inside it along.
  for (auto& d : deeper) answers.emplace_back(std::move(d.second), DeliveryResult::kRegionFinished);
  deeper.clear();
  if (changed || refire) {
    isolate->TerminateExecution();
    // Looked at again until the region resolves it: a termination someone
    // else cancels meanwhile is fired again by the `refire` above.
    e->termination_in_flight.store(true, std::memory_order_release);
    RetryInterruptAt(e, MonotonicNs() + kRefireCheckNs);
  }
  if (rs.fired_seq != 0 && rs.fired.kill) e->kill_interrupted.store(true, std::memory_order_release);

  // Publish what is in flight (so untilDelivered retries can re-arm it and a
  // death can answer it) and answer the rest.
  bool any = !answers.empty() || Notifies(rs.fired);
  for (const InterruptRequest& m : rs.merged) any = any || Notifies(m);
  if (!any) return;
  RegistryLock lock(RegistryLock::kBlock, isolate);
  for (auto& [r, result] : answers) PostResult(e, r, result);
  auto track = [e](const InterruptRequest& r) {
    if (!Notifies(r)) return;
    for (const auto& p : e->in_flight)
      if (p.first == r.id) return;
    e->in_flight.emplace_back(r.id, r.notify);
  };
  if (rs.fired_seq != 0) track(rs.fired);
  for (const InterruptRequest& m : rs.merged) track(m);
}

InterruptRequest ResolveFired(Entry* e, RegionStack& rs, DeliveryResult result) {
  InterruptRequest fired = std::move(rs.fired);
  rs.fired = InterruptRequest();
  bool any = Notifies(fired);
  for (const InterruptRequest& m : rs.merged) any = any || Notifies(m);
  if (any) {
    RegistryLock lock;
    PostResult(e, fired, result);
    for (const InterruptRequest& m : rs.merged) PostResult(e, m, result);
  }
  rs.merged.clear();
  return fired;
}

// A region can only be active while its thread runs JS, so V8's own
// interrupt is enough: no need for node::RequestInterrupt's extra queue,
// mutex and loop wake-up (an eventfd write) on this latency-critical path.
// The callback owns no data, so one dropped at isolate disposal leaks nothing.
// At most one is pending per thread (`interrupt_armed`, cleared by the
// callback before it takes the queue): each RequestInterrupt is an entry in
// V8's queue, and V8 runs every queued entry in one loop at one interrupt
// check — inside the region, which stays active meanwhile. An interrupter
// faster than the callbacks (a storm of interrupt() calls at a tiny region)
// kept that loop from ever emptying: the thread stopped making progress, and
// the queue grew without bound. `force`: arm even if one seems pending and
// has been for 10 ms (the watchdog's and untilDelivered's retries: a safety
// net should V8 ever drop a queued entry).
void ArmInterrupt(Entry* e, bool force = false) {
  AssertRegistryLocked();  // lifetime rule 2: `e` was found in `live`
  const int64_t now = MonotonicNs();
  if (e->interrupt_armed.exchange(true)) {
    if (!force || now - e->interrupt_armed_at_ns.load(std::memory_order_relaxed) < 10'000'000) return;
  }
  e->interrupt_armed_at_ns.store(now, std::memory_order_relaxed);
  e->isolate->RequestInterrupt([](v8::Isolate*, void*) { OnInterrupt(nullptr); }, nullptr);
}

// What a region's factory call is told about the error (its `kind` bits).
constexpr int32_t kKindKill = 1;      // the request came from kill()
constexpr int32_t kKindHasCause = 2;  // the region's own exception is `cause`
constexpr int32_t kKindTimeout = 4;   // the region's own deadline passed

// Throws the InterruptedError for `r` through the JS factory. Runs after the
// termination was cancelled, outside any TryCatch and with no exception
// pending, so JS may run again. `trace` is the stack at the moment of
// stopping; its top `cut` frames are the interrupted region's own (0 for
// pending and boundary deliveries). `cause` is what the region itself threw
// as the interrupt arrived (empty if nothing).
void ThrowInterrupted(v8::Isolate* isolate, RegionStack& rs,
                      const InterruptRequest& r, v8::Local<v8::StackTrace> trace,
                      int cut, uint64_t seq, int32_t flags, v8::Local<v8::Value> cause,
                      double timeout_ms = 0) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> reason = v8::Undefined(isolate);
  // The codec's common encodings (src/shared/reason.ts) cross as JS values it
  // reads without decoding anything itself: a number (tag 2) or a boolean
  // (3, 4) as itself; the text ones (tag 1, a string; tag 7, a JSON text),
  // valid UTF-8 tag byte included, as one JS string.
  constexpr char kTagString = 1;
  constexpr char kTagNumber = 2;
  constexpr char kTagTrue = 3;
  constexpr char kTagFalse = 4;
  constexpr char kTagJson = 7;
  v8::Local<v8::String> text;
  if (r.reason.size() == 1 + sizeof(double) && r.reason[0] == kTagNumber) {
    double value;
    memcpy(&value, r.reason.data() + 1, sizeof value);
    reason = v8::Number::New(isolate, value);
  } else if (r.reason.size() == 1 && (r.reason[0] == kTagTrue || r.reason[0] == kTagFalse)) {
    reason = v8::Boolean::New(isolate, r.reason[0] == kTagTrue);
  } else if (!r.reason.empty() && (r.reason[0] == kTagString || r.reason[0] == kTagJson) &&
      v8::String::NewFromUtf8(isolate, r.reason.data(), v8::NewStringType::kNormal,
                              static_cast<int>(r.reason.size()))
          .ToLocal(&text)) {
    reason = text;
  } else if (!r.reason.empty()) {
    // A Buffer, not a bare Uint8Array: the codec decodes its text with one
    // call (toString) instead of wrapping it first, on the latency path.
    v8::Local<v8::Object> bytes;
    if (node::Buffer::Copy(isolate, r.reason.data(), r.reason.size()).ToLocal(&bytes)) {
      reason = bytes;
    } else {  // (no Node environment on this thread: a plain Uint8Array)
      std::shared_ptr<v8::BackingStore> store =
          v8::ArrayBuffer::NewBackingStore(isolate, r.reason.size());
      memcpy(store->Data(), r.reason.data(), r.reason.size());
      reason = v8::Uint8Array::New(v8::ArrayBuffer::New(isolate, store), 0, r.reason.size());
    }
  }
  // Only the handle and how many of its top frames are the region's: the
  // frames become JS objects when someone reads the error's stack (a JS
  // object per frame cost ≈1 µs of every interrupt's latency, measured).
  v8::Local<v8::Value> handle = v8::Undefined(isolate);
  if (!trace.IsEmpty()) {
    handle = TraceHandle(isolate, rs, trace);
  } else {
    cut = 0;
  }
  const int32_t kind = (r.kill ? kKindKill : 0) | (cause.IsEmpty() ? 0 : kKindHasCause) |
                       (r.timeout ? kKindTimeout : 0);
  v8::Local<v8::Value> argv[] = {
      reason,
      v8::Number::New(isolate, static_cast<double>(r.by)),
      v8::Integer::New(isolate, cut),
      handle,
      v8::Number::New(isolate, static_cast<double>(seq)),
      v8::Integer::New(isolate, flags),
      v8::Integer::New(isolate, kind),
      cause.IsEmpty() ? v8::Undefined(isolate).As<v8::Value>() : cause,
      v8::Number::New(isolate, timeout_ms)};
  if (rs.factory.IsEmpty()) {
    isolate->ThrowException(v8::Exception::Error(
        v8::String::NewFromUtf8Literal(isolate, "thread-kill: interrupted")));
    return;
  }
  v8::Local<v8::Value> err;
  // The factory's JS runs while this region's frames are still on the stack
  // but no longer active: interrupts that look meanwhile must count them
  // (see `unwinding`).
  rs.unwinding++;
  const bool built = rs.factory.Get(isolate)->Call(context, v8::Undefined(isolate), 9, argv).ToLocal(&err);
  rs.unwinding--;
  if (built) isolate->ThrowException(err);
  // else the factory threw (it should not), or the thread is being
  // terminated meanwhile (a hook ran into a kill): that propagates.
}

// { pending: true } requests wait for the next outermost region entry.
bool TakePendingRequest(Entry* e, InterruptRequest* out) {
  RegistryLock lock;
  bool found = false;
  for (auto it = e->requests.begin(); it != e->requests.end(); ++it) {
    if (it->pending) {
      *out = std::move(*it);
      e->requests.erase(it);
      found = true;
      break;
    }
  }
  bool more = std::any_of(e->requests.begin(), e->requests.end(),
                          [](const InterruptRequest& r) { return r.pending; });
  e->has_pending_interrupt.store(more, std::memory_order_relaxed);
  if (found) PostResult(e, *out, DeliveryResult::kDelivered);
  return found;
}

// A request aimed at region `seq` that is still queued (its interrupt
// callback has not run: the region spent the time in native code).
bool TakeQueuedRequestFor(Entry* e, uint64_t seq, InterruptRequest* out) {
  RegistryLock lock;
  for (auto it = e->requests.begin(); it != e->requests.end(); ++it) {
    if (!it->pending && it->region_seq == seq) {
      *out = std::move(*it);
      e->requests.erase(it);
      e->queued_requests.fetch_sub(1);
      return true;
    }
  }
  return false;
}

// Regions nested past kTrackedRegions levels keep their sequence numbers in
// the entry's deep_seqs, which interrupters read under the mutex: the owner
// writes it under the mutex too (a rare, deep case).
[[gnu::noinline]] void PushDeep(Entry* e, uint64_t seq) {
  RegistryLock lock;
  e->deep_seqs.push_back(seq);
}
[[gnu::noinline]] void PopDeep(Entry* e) {
  RegistryLock lock;
  e->deep_seqs.pop_back();
}

}  // namespace

void* ThreadRegionsData() { return &Regions(); }

void BindThreadRegions(Entry* e) { Regions().entry = e; }

void BindThreadNapiEnv(napi_env env) {
  RegionStack& rs = Regions();
  if (rs.napi == nullptr) rs.napi = env;
}

void ResetThreadRegions() {
  if (tl_regions == nullptr) return;
  while (!tl_regions->traces.empty()) FreeTrace(*tl_regions->traces.begin());
  tl_regions->fired_trace.Reset();
  tl_regions->region_function_name.Reset();

  tl_regions->factory.Reset();
  tl_regions->noop.Reset();
  FreeLandingCache(tl_regions->landing);
  delete tl_regions;
  tl_regions = nullptr;
}

void SetInterruptFactory(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (info.Length() < 1 || !info[0]->IsFunction()) return;
  Regions().factory.Reset(info.GetIsolate(), info[0].As<v8::Function>());
}

void TraceFrames(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (tl_regions == nullptr || info.Length() < 1 || !info[0]->IsExternal()) return;
  // Only handles this thread made and still owns are dereferenced.
  auto* ct = static_cast<CapturedTrace*>(ExternalValue(info[0].As<v8::External>(), kExternalCapturedTrace));
  if (tl_regions->traces.count(ct) == 0) return;
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::StackTrace> trace = ct->trace.Get(isolate);
  info.GetReturnValue().Set(TraceToArray(isolate, trace, 0, trace->GetFrameCount()));
}

void CurrentRegionSeq(const v8::FunctionCallbackInfo<v8::Value>& info) {
  RegionStack& rs = Regions();
  const uint32_t depth = Depth(rs);
  double seq = depth == 0 ? 0 : static_cast<double>(SeqAt(rs, depth - 1));
  info.GetReturnValue().Set(seq);
}

void LastRegionSeq(const v8::FunctionCallbackInfo<v8::Value>& info) {
  info.GetReturnValue().Set(static_cast<double>(Regions().next_seq));
}

namespace {

// Region entry, the rare cases: learning what the region frame looks like
// (first region on the thread) and a { pending: true } interrupt waiting for
// this outermost entry. True if it threw. Out of line: the hot path stays
// small.
[[gnu::noinline]] bool EnterSlow(const v8::FunctionCallbackInfo<v8::Value>& info,
                                 RegionStack& rs, Entry* e, uint64_t seq, uint32_t depth) {
  v8::Isolate* isolate = info.GetIsolate();
  if (!rs.region_frame_learned) LearnRegionFrame(isolate, rs);
  if (depth == 0 && e->has_pending_interrupt.load(std::memory_order_relaxed)) {
    InterruptRequest r;
    if (TakePendingRequest(e, &r)) {
      ThrowInterrupted(isolate, rs, r, CurrentTrace(isolate, kShortTrace), 0, seq,
                       RegionFlags(info), v8::Local<v8::Value>());
      return true;
    }
  }
  return false;
}

// Region exit when the call was terminated, threw while an interrupt was
// in flight, or an interrupt is in flight for some region of this thread.
// `caught` is the region's own exception, held back because an interrupt
// may replace it; it is rethrown unless one does.
[[gnu::noinline]] void ExitSlow(const v8::FunctionCallbackInfo<v8::Value>& info,
                                RegionStack& rs, Entry* e, uint64_t seq, bool terminated,
                                v8::Local<v8::Value> value, v8::Local<v8::Value> caught,
                                double timeout_ms) {
  v8::Isolate* isolate = info.GetIsolate();
  // An interrupt that arrived while the region was inside a native call may
  // not have found a JS interrupt check before the region returned: deliver
  // it here, at the boundary. Never when terminating for another reason.
  if (!terminated && rs.fired_seq != seq &&
      e->queued_requests.load(std::memory_order_acquire) != 0) {
    InterruptRequest queued;
    if (TakeQueuedRequestFor(e, seq, &queued)) {
      ClearDeferral(e);
      if (rs.fired_seq == 0) {
        rs.fired_seq = seq;
        rs.fired = std::move(queued);
        rs.fired_trace.Reset(isolate, CurrentTrace(isolate, kShortTrace));
        rs.fired_cut = 0;
      } else {
        // An outer region is already being interrupted.
        RegistryLock lock;
        PostResult(e, queued, DeliveryResult::kRegionFinished);
      }
    }
  }

  if (rs.fired_seq == seq) {
    rs.fired_seq = 0;
    e->termination_in_flight.store(false, std::memory_order_release);
    ClearDeferral(e);
    v8::Local<v8::StackTrace> trace;
    if (!rs.fired_trace.IsEmpty()) trace = rs.fired_trace.Get(isolate);
    rs.fired_trace.Reset();
    // A real shutdown (kill(), or Node stopping the thread: a plain
    // worker.terminate(), the worker's own process.exit(), its parent's or
    // the process's exit) that arrived meanwhile wins: its termination
    // merged into ours, so it is left in place and the thread dies.
    if (e->kill_requested.load() || NodeIsStopping(rs)) {
      ResolveFired(e, rs, DeliveryResult::kRegionFinished);
      if (!terminated && !caught.IsEmpty()) isolate->ThrowException(caught);
      return;
    }
    // Ours: cancel it (also when it had not landed yet, so it can never hit
    // the code after the region) and throw an ordinary error instead. Must
    // happen after the TryCatch scope closed, or the throw is swallowed.
    isolate->CancelTerminateExecution();
    // Node marks the environment stopping before it terminates the isolate,
    // so a stop that came after the look above and before the cancel is
    // seen now: its termination was cancelled with ours, so renew it.
    if (NodeIsStopping(rs)) {
      ResolveFired(e, rs, DeliveryResult::kRegionFinished);
      LandTermination(isolate, rs);
      return;
    }
    // Answered before the factory runs: it may run onKill hooks, which may
    // take long; the interrupters' answer does not depend on them.
    InterruptRequest r = ResolveFired(e, rs, DeliveryResult::kDelivered);
    if (rs.rearmed_seq == seq) timeout_ms = rs.rearmed_ms;
    ThrowInterrupted(isolate, rs, r, trace, rs.fired_cut, seq, RegionFlags(info), caught, timeout_ms);
    return;
  }
  if (terminated) return;  // not ours (kill/terminate) or aimed further out
  if (!caught.IsEmpty()) {
    isolate->ThrowException(caught);
    return;
  }
  if (!value.IsEmpty()) info.GetReturnValue().Set(value);
}

// A deadline region whose deadline is later than an outer one's (rare).
[[gnu::noinline]] void Shadow(uint64_t seq, int64_t at) { Regions().shadowed.emplace_back(seq, at); }
[[gnu::noinline]] void Unshadow(uint64_t seq) {
  auto& v = Regions().shadowed;
  v.erase(std::remove_if(v.begin(), v.end(), [seq](const auto& p) { return p.first == seq; }), v.end());
}

// The label is the string arguments from the 4th on, joined: a runner
// passes its suite's cached head, the test's name and the closing quote, so
// nothing is concatenated (or flattened) per test. Every test of a runner is
// labelled: copied as V8 holds it (UTF-16) into this thread's buffer, which
// LabelRegion swaps with the previous label's — no allocation once it has
// grown, no encoding unless a test gets stuck.
[[gnu::noinline]] void LabelRegionFrom(const v8::FunctionCallbackInfo<v8::Value>& info, Entry* e, uint64_t seq,
                                       double timeout_ms) {
  static thread_local std::u16string text;
  size_t length = 0;
  int end = 3;
  for (; end < info.Length() && info[end]->IsString(); end++)
    length += static_cast<size_t>(info[end].As<v8::String>()->Length());
  text.resize(length);
  size_t at = 0;
  for (int i = 3; i < end; i++) {
    v8::Local<v8::String> part = info[i].As<v8::String>();
    WriteUtf16(info.GetIsolate(), part, reinterpret_cast<uint16_t*>(text.data() + at));
    at += static_cast<size_t>(part->Length());
  }
  LabelRegion(e, seq, text, timeout_ms);
}

}  // namespace

namespace {

// A region's entry and exit, paired by construction: the constructor makes
// the region active (its sequence number at its depth, then the depth,
// which interrupters read) and, with kDeadline, arms the thread's deadline
// slot; the destructor puts back exactly what was there. Whatever way the
// region's call ends (a value, an exception, a termination) or a future
// edit leaves this scope early, the region is never left active. It closes
// before the boundary work (ExitSlow, the factory's JS), which must see the
// region as finished. Everything inlines: the hot path is the same stores as
// written by hand (measured, DESIGN.md lifetime rule 10).
template <bool kDeadline>
class RegionScope {
 public:
  RegionScope(Entry* e, uint64_t seq, uint32_t depth, double timeout_ms)
      : e_(e), seq_(seq), depth_(depth) {
    if (__builtin_expect(depth < kTrackedRegions, 1))
      e->region_seqs[depth].store(seq, std::memory_order_relaxed);
    else
      PushDeep(e, seq);
    e->region_depth.store(depth + 1, std::memory_order_release);
    if constexpr (kDeadline) {
      // The slot holds the earliest deadline among the active regions; this
      // one takes it only if it is earlier, and puts back what was there
      // when it leaves (so an outer deadline fires at the outer region).
      prev_deadline_ = e->deadline.deadline_ns.load(std::memory_order_relaxed);
      prev_seq_ = e->deadline.seq.load(std::memory_order_relaxed);
      if (timeout_ms > 0 && timeout_ms < 9.0e12) {
        const int64_t at = MonotonicNs() + static_cast<int64_t>(timeout_ms * 1e6);
        if (at < prev_deadline_) {
          ArmDeadline(e, at, seq);
        } else {
          Shadow(seq, at);
          shadowed_ = true;
        }
      }
    }
  }

  ~RegionScope() {
    if constexpr (kDeadline) {
      // The slot is ours (we armed it, or rearmDeadline() did): put back what
      // was there before this region. Sequence numbers are unique per thread.
      if (e_->deadline.seq.load(std::memory_order_relaxed) == seq_)
        RestoreDeadline(e_, prev_deadline_, prev_seq_);
    }
    if constexpr (kDeadline) {
      if (shadowed_) Unshadow(seq_);
    }
    if (__builtin_expect(depth_ >= kTrackedRegions, 0)) PopDeep(e_);
    e_->region_depth.store(depth_, std::memory_order_release);
  }

  RegionScope(const RegionScope&) = delete;
  RegionScope& operator=(const RegionScope&) = delete;

 private:
  Entry* const e_;
  const uint64_t seq_;
  const uint32_t depth_;
  bool shadowed_ = false;                // kDeadline only
  int64_t prev_deadline_ = kNoDeadline;  // kDeadline only
  uint64_t prev_seq_ = 0;                // kDeadline only
};

}  // namespace

// The region itself; kDeadline adds the thread's deadline slot (a
// compile-time switch, so the plain region's hot path is unchanged).
template <bool kDeadline>
inline void RunRegionImpl(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  // The thread's RegionStack, bound as this function's data when the addon
  // was initialised on this thread (see ThreadRegionsData()).
  RegionStack& rs = *static_cast<RegionStack*>(ExternalValue(info.Data().As<v8::External>(), kExternalRegionStack));
  Entry* e = rs.entry;
  if (e == nullptr || info.Length() < 1 || !info[0]->IsFunction()) {
    // The TS wrapper validates; this is only reachable by misuse of the
    // private binding. Never assert on it.
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8Literal(
        isolate, "thread-kill: runRegion needs a function on a registered thread")));
    return;
  }
  const uint32_t depth = e->region_depth.load(std::memory_order_relaxed);
  const uint64_t seq = ++rs.next_seq;
  if (__builtin_expect(!rs.region_frame_learned ||
                           (depth == 0 && e->has_pending_interrupt.load(std::memory_order_relaxed)),
                       0)) {
    if (EnterSlow(info, rs, e, seq, depth)) return;
  }

  double timeout_ms = 0;
  if constexpr (kDeadline)
    timeout_ms = info.Length() > 2 && info[2]->IsNumber() ? info[2].As<v8::Number>()->Value() : 0;

  v8::Local<v8::Value> value;
  v8::Local<v8::Value> caught;
  bool terminated = false;
  {
    RegionScope<kDeadline> region(e, seq, depth, timeout_ms);
    if constexpr (kDeadline) {
      // A test-runner plugin's region: its label names it if it gets stuck.
      if (info.Length() > 3 && info[3]->IsString() && e->stuck_grace_ns.load(std::memory_order_relaxed) > 0)
        LabelRegionFrom(info, e, seq, timeout_ms);
    }
    v8::TryCatch try_catch(isolate);
    // A call that returned a value threw nothing: only ask the TryCatch
    // (two calls into V8) when it did not.
    if (!info[0].As<v8::Function>()
             ->Call(isolate->GetCurrentContext(), v8::Undefined(isolate), 0, nullptr)
             .ToLocal(&value)) {
      terminated = try_catch.HasTerminated();
      if (!terminated && try_catch.HasCaught()) {
        // An interrupt aimed at this region may be about to replace this
        // exception (the region threw before our termination landed): hold
        // it back, so the InterruptedError is never built with an exception
        // pending, and it becomes the error's `cause`.
        if (rs.fired_seq == seq || e->queued_requests.load(std::memory_order_acquire) != 0)
          caught = try_catch.Exception();
        else
          try_catch.ReThrow();
      }
    }
  }  // the TryCatch closes, then the region (reverse order of their opening)

  if (__builtin_expect(terminated || rs.fired_seq != 0 ||
                           e->queued_requests.load(std::memory_order_acquire) != 0,
                       0)) {
    ExitSlow(info, rs, e, seq, terminated, value, caught, timeout_ms);
    return;
  }
  if (!caught.IsEmpty()) {  // held back, and no interrupt came after all
    isolate->ThrowException(caught);
    return;
  }
  if (!value.IsEmpty()) info.GetReturnValue().Set(value);
}

void RunRegion(const v8::FunctionCallbackInfo<v8::Value>& info) { RunRegionImpl<false>(info); }

void RunRegionDeadline(const v8::FunctionCallbackInfo<v8::Value>& info) { RunRegionImpl<true>(info); }

void SetStuckGuardFn(const v8::FunctionCallbackInfo<v8::Value>& info) {
  Entry* e = Regions().entry;
  if (e == nullptr || info.Length() < 2 || !info[0]->IsNumber() || !info[1]->IsInt32()) return;
  const double ms = info[0].As<v8::Number>()->Value();
  if (!(ms >= 0 && ms < 9.0e12)) return;
  SetStuckGuard(e, static_cast<int64_t>(ms * 1e6), info[1].As<v8::Int32>()->Value());
}

void RearmDeadline(const v8::FunctionCallbackInfo<v8::Value>& info) {
  RegionStack& rs = Regions();
  Entry* e = rs.entry;
  info.GetReturnValue().Set(false);
  if (e == nullptr || info.Length() < 2 || !info[0]->IsNumber() || !info[1]->IsNumber()) return;
  const double seq_d = info[0].As<v8::Number>()->Value();
  const double ms = info[1].As<v8::Number>()->Value();
  if (!(seq_d >= 1) || !(ms >= 0 && ms < 9.0e12)) return;
  const uint64_t seq = static_cast<uint64_t>(seq_d);
  if (IndexOfSeq(rs, seq) < 0) return;  // not an active region of this thread
  DeadlineSlot& slot = e->deadline;
  // Only a deadline region whose slot is its own (or free) can be rearmed:
  // its exit puts back what was there before it.
  const bool own = slot.seq.load(std::memory_order_relaxed) == seq;
  if (!own && slot.deadline_ns.load(std::memory_order_relaxed) != kNoDeadline) return;
  rs.rearmed_seq = seq;
  rs.rearmed_ms = ms;
  if (e->stuck_grace_ns.load(std::memory_order_relaxed) > 0) {
    RegistryLock lock;
    if (e->stuck_seq == seq) e->stuck_timeout_ms = ms;  // (what the stuck guard's message says)
  }
  if (ms == 0) {
    if (own) slot.deadline_ns.store(kNoDeadline);
  } else {
    ArmDeadline(e, MonotonicNs() + static_cast<int64_t>(ms * 1e6), seq);
  }
  info.GetReturnValue().Set(true);
}

void RetryQueuedInterruptsLocked(Entry* e, bool force) {
  AssertRegistryLocked();
  if (e->queued_requests.load() != 0 || e->termination_in_flight.load(std::memory_order_acquire)) ArmInterrupt(e, force);
}

void QueueTimeoutLocked(Entry* e, uint64_t seq) {
  AssertRegistryLocked();
  InterruptRequest r;
  r.id = ++g_next_request;
  r.by = e->thread_id;
  r.timeout = true;
  r.region_seq = seq;
  e->requests.push_back(std::move(r));
  e->queued_requests.fetch_add(1);
  ArmInterrupt(e);
}

InterruptStatus RequestRegionInterrupt(int64_t target, InterruptRequest r,
                                       uint64_t* request_id) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr)
    return reg.EverSeenLocked(target) ? InterruptStatus::kThreadDead
                                      : InterruptStatus::kUnknownThread;
  r.id = ++g_next_request;
  r.timeout = false;  // only the watchdog's (QueueTimeoutLocked)
  // Only a request for the outermost region with none active waits.
  const bool may_wait = r.pending;
  r.pending = false;

  const uint32_t depth =
      e->env == nullptr ? 0 : e->region_depth.load(std::memory_order_acquire);
  if (r.region_seq != 0) {
    // A region handle: a pre-check here (exact but for a region that is
    // exiting this very moment); the interrupt callback on the target thread
    // makes the final, race-free decision.
    bool maybe_active = false;
    for (uint32_t i = 0; i < std::min(depth, kTrackedRegions); i++)
      if (e->region_seqs[i].load(std::memory_order_relaxed) == r.region_seq)
        maybe_active = true;
    for (uint64_t deep : e->deep_seqs) maybe_active = maybe_active || deep == r.region_seq;
    if (!maybe_active) return InterruptStatus::kRegionInactive;
  } else if (depth == 0) {
    if (!may_wait) return InterruptStatus::kNoRegion;
    r.pending = true;
    *request_id = r.id;
    e->requests.push_back(std::move(r));
    e->has_pending_interrupt.store(true, std::memory_order_relaxed);
    return InterruptStatus::kQueuedPending;
  } else {
    r.region_seq = e->region_seqs[0].load(std::memory_order_relaxed);
  }
  *request_id = r.id;
  e->requests.push_back(std::move(r));
  e->queued_requests.fetch_add(1);
  ArmInterrupt(e);
  return InterruptStatus::kHit;
}

bool CancelRegionInterrupt(int64_t target, uint64_t request_id) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return false;
  for (auto it = e->requests.begin(); it != e->requests.end(); ++it) {
    if (it->id == request_id) {
      if (!it->pending) e->queued_requests.fetch_sub(1);
      e->requests.erase(it);
      if (e->queued_requests.load() == 0) {
        e->deferred_since_ns.store(0, std::memory_order_relaxed);
        e->deferred_where.clear();
      }
      e->has_pending_interrupt.store(
          std::any_of(e->requests.begin(), e->requests.end(),
                      [](const InterruptRequest& r) { return r.pending; }),
          std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

bool ReissueRegionInterrupt(int64_t target, uint64_t request_id) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  Entry* e = reg.FindLocked(target);
  if (e == nullptr || e->env == nullptr) return false;
  for (const InterruptRequest& r : e->requests) {
    if (r.id == request_id) {
      if (!r.pending) ArmInterrupt(e, true);
      return true;
    }
  }
  // Taken and fired, not yet resolved: its termination may have been
  // cancelled by someone else (a vm timeout); the callback re-fires it.
  for (const auto& p : e->in_flight) {
    if (p.first == request_id) {
      ArmInterrupt(e, true);
      return true;
    }
  }
  return false;
}

}  // namespace tk
