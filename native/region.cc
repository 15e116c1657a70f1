#include "region.h"

#include <node.h>

#include <algorithm>
#include <unordered_set>

#include "compat.h"
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
  // interrupters as a pre-check) and, past kTrackedRegions levels, in `deep`.
  // Nothing to allocate on the hot path.
  std::vector<uint64_t> deep;
  uint64_t next_seq = 0;
  // The region our interrupt callback aimed a TerminateExecution at, and
  // what to tell it. 0 = none.
  uint64_t fired_seq = 0;
  InterruptRequest fired;
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
  // Captured stacks JS still holds (see CapturedTrace).
  std::unordered_set<CapturedTrace*> traces;
  // This thread's registry entry, once registered. Cached here so the hot
  // path reaches everything through the function's data pointer, without a
  // thread_local lookup (which costs a __tls_get_addr call in a shared object).
  Entry* entry = nullptr;
};

thread_local RegionStack* tl_regions = nullptr;

RegionStack& Regions() {
  if (tl_regions == nullptr) tl_regions = new RegionStack();
  return *tl_regions;
}

std::atomic<uint64_t> g_next_request{0};

void PostResult(const InterruptRequest& r, bool delivered) {
  if (r.notify < 0) return;
  Registry::Get().PostLocked(
      r.notify, Event{EventType::kInterruptResult, static_cast<int64_t>(r.id),
                      delivered ? 1 : 0});
}

// Most interrupters do not ask to be told (only untilDelivered does): skip
// the registry lock for them.
void PostResultLocking(const InterruptRequest& r, bool delivered) {
  if (r.notify < 0) return;
  std::lock_guard<std::mutex> lock(Registry::Get().mutex);
  PostResult(r, delivered);
}

// How many regions are active; owner thread.
uint32_t Depth(const RegionStack& rs) {
  return rs.entry == nullptr ? 0 : rs.entry->region_depth.load(std::memory_order_relaxed);
}

// The sequence number of active region `i` (0 = outermost); owner thread.
uint64_t SeqAt(const RegionStack& rs, uint32_t i) {
  return i < kTrackedRegions ? rs.entry->region_seqs[i].load(std::memory_order_relaxed)
                             : rs.deep[i - kTrackedRegions];
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
// from the top: every frame of that region (up to kMaxCapturedFrames) and
// about kShortTrace below. Frame walking costs per frame, and this runs on
// every interrupt: try a short capture first. `*cut` is set to the number of
// frames that belong to the region.
v8::Local<v8::StackTrace> CaptureForRegion(v8::Isolate* isolate, RegionStack& rs,
                                           uint32_t boundary, int* cut) {
  v8::Local<v8::StackTrace> trace = CurrentTrace(isolate, kShortTrace);
  *cut = RegionFrameIndex(isolate, rs, trace, boundary);
  if (*cut >= trace->GetFrameCount() && trace->GetFrameCount() == kShortTrace) {
    trace = CurrentTrace(isolate, kMaxCapturedFrames);
    *cut = RegionFrameIndex(isolate, rs, trace, boundary);
  }
  return trace;
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

// Runs on the target thread, either from V8's interrupt check while JS runs
// or from the event loop. It never calls JS and never throws: it only decides
// whether an addressed region is active right now and, if so, asks V8 to
// terminate — on this very thread, so the region cannot exit in between.
void OnInterrupt(void*) {
  Entry* e = CurrentEntry();
  if (e == nullptr || tl_regions == nullptr) return;
  RegionStack& rs = *tl_regions;
  std::vector<InterruptRequest> taken;
  Registry& reg = Registry::Get();
  // Spin briefly first: the interrupter usually still holds the mutex for a
  // few more instructions, and a futex sleep/wake here costs microseconds of
  // interrupt latency.
  for (int spins = 0; !reg.mutex.try_lock(); spins++) {
    if (spins == 4096) {
      reg.mutex.lock();
      break;
    }
  }
  std::lock_guard<std::mutex> lock(reg.mutex, std::adopt_lock);
  auto keep = std::stable_partition(
      e->requests.begin(), e->requests.end(),
      [](const InterruptRequest& r) { return r.pending; });
  for (auto it = keep; it != e->requests.end(); ++it) taken.push_back(std::move(*it));
  e->requests.erase(keep, e->requests.end());
  e->queued_requests.fetch_sub(static_cast<uint32_t>(taken.size()));
  if (taken.empty()) return;

  const bool shutting_down = e->kill_requested.load() || g_process_exiting.load();
  int best = rs.fired_seq ? IndexOfSeq(rs, rs.fired_seq) : -1;
  bool changed = false;
  for (InterruptRequest& r : taken) {
    int idx = shutting_down ? -1 : IndexOfSeq(rs, r.region_seq);
    if (idx < 0) {
      PostResult(r, false);  // region already finished: no effect at all
      continue;
    }
    if (best < 0 || idx < best) {
      if (changed) PostResult(rs.fired, false);  // superseded by an outer one
      best = idx;
      rs.fired = std::move(r);
      changed = true;
    } else {
      PostResult(r, false);  // an outer region is already being interrupted
    }
  }
  if (!changed) return;
  rs.fired_seq = SeqAt(rs, static_cast<uint32_t>(best));
  const uint32_t boundary = Depth(rs) - static_cast<uint32_t>(best);
  // The stack at the moment of stopping, before the termination unwinds it.
  // Only V8's frame records: turning them into strings waits until after
  // the region has thrown, and most of it until someone reads err.stack.
  v8::HandleScope scope(e->isolate);
  rs.fired_trace.Reset(e->isolate, CaptureForRegion(e->isolate, rs, boundary, &rs.fired_cut));
  e->isolate->TerminateExecution();
}

// A region can only be active while its thread runs JS, so V8's own
// interrupt is enough: no need for node::RequestInterrupt's extra queue,
// mutex and loop wake-up (an eventfd write) on this latency-critical path.
// The callback owns no data, so one dropped at isolate disposal leaks nothing.
void ArmInterrupt(Entry* e) {
  e->isolate->RequestInterrupt([](v8::Isolate*, void*) { OnInterrupt(nullptr); }, nullptr);
}

// Throws the InterruptedError for `r` through the JS factory. Runs after the
// termination was cancelled, outside any TryCatch, so JS may run again.
// `trace` is the stack at the moment of stopping; its top `cut` frames are
// the interrupted region's own (0 for pending and boundary deliveries).
void ThrowInterrupted(v8::Isolate* isolate, RegionStack& rs,
                      const InterruptRequest& r, v8::Local<v8::StackTrace> trace,
                      int cut, uint64_t seq, int32_t flags) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> reason = v8::Undefined(isolate);
  if (!r.reason.empty()) {
    std::shared_ptr<v8::BackingStore> store =
        v8::ArrayBuffer::NewBackingStore(isolate, r.reason.size());
    memcpy(store->Data(), r.reason.data(), r.reason.size());
    v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, store);
    reason = v8::Uint8Array::New(ab, 0, r.reason.size());
  }
  v8::Local<v8::Value> in_region = v8::Array::New(isolate, 0);
  v8::Local<v8::Value> handle = v8::Undefined(isolate);
  if (!trace.IsEmpty()) {
    in_region = TraceToArray(isolate, trace, 0, cut);
    handle = TraceHandle(isolate, rs, trace);
  }
  v8::Local<v8::Value> argv[] = {
      reason,
      v8::Number::New(isolate, static_cast<double>(r.by)),
      in_region,
      handle,
      v8::Number::New(isolate, static_cast<double>(seq)),
      v8::Integer::New(isolate, flags)};
  if (rs.factory.IsEmpty()) {
    isolate->ThrowException(v8::Exception::Error(
        v8::String::NewFromUtf8Literal(isolate, "thread-kill: interrupted")));
    return;
  }
  v8::Local<v8::Value> err;
  if (rs.factory.Get(isolate)
          ->Call(context, v8::Undefined(isolate), 6, argv)
          .ToLocal(&err))
    isolate->ThrowException(err);
  // else the factory threw (it should not): that exception propagates.
}

// { pending: true } requests wait for the next outermost region entry.
bool TakePendingRequest(Entry* e, InterruptRequest* out) {
  Registry& reg = Registry::Get();
  std::lock_guard<std::mutex> lock(reg.mutex);
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
  if (found) PostResult(*out, true);
  return found;
}

// A request aimed at region `seq` that is still queued (its interrupt
// callback has not run: the region spent the time in native code).
bool TakeQueuedRequestFor(Entry* e, uint64_t seq, InterruptRequest* out) {
  std::lock_guard<std::mutex> lock(Registry::Get().mutex);
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

}  // namespace

void* ThreadRegionsData() { return &Regions(); }

void BindThreadRegions(Entry* e) { Regions().entry = e; }

void ResetThreadRegions() {
  if (tl_regions == nullptr) return;
  while (!tl_regions->traces.empty()) FreeTrace(*tl_regions->traces.begin());
  tl_regions->fired_trace.Reset();
  tl_regions->region_function_name.Reset();

  tl_regions->factory.Reset();
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
                       RegionFlags(info));
      return true;
    }
  }
  return false;
}

// Region exit when the call was terminated, or an interrupt is in flight
// for some region of this thread.
[[gnu::noinline]] void ExitSlow(const v8::FunctionCallbackInfo<v8::Value>& info,
                                RegionStack& rs, Entry* e, uint64_t seq, bool terminated,
                                v8::Local<v8::Value> value) {
  v8::Isolate* isolate = info.GetIsolate();
  // An interrupt that arrived while the region was inside a native call may
  // not have found a JS interrupt check before the region returned: deliver
  // it here, at the boundary. Never when terminating for another reason.
  if (!terminated && rs.fired_seq != seq &&
      e->queued_requests.load(std::memory_order_acquire) != 0) {
    InterruptRequest queued;
    if (TakeQueuedRequestFor(e, seq, &queued)) {
      if (rs.fired_seq == 0) {
        rs.fired_seq = seq;
        rs.fired = std::move(queued);
        rs.fired_trace.Reset(isolate, CurrentTrace(isolate, kShortTrace));
        rs.fired_cut = 0;
      } else {
        PostResultLocking(queued, false);  // an outer region is already interrupted
      }
    }
  }

  if (rs.fired_seq == seq) {
    rs.fired_seq = 0;
    InterruptRequest r = std::move(rs.fired);
    v8::Local<v8::StackTrace> trace;
    if (!rs.fired_trace.IsEmpty()) trace = rs.fired_trace.Get(isolate);
    rs.fired_trace.Reset();
    // A real shutdown (kill(), process exit) that arrived meanwhile wins: the
    // termination is left in place and the thread dies.
    if (e->kill_requested.load() || g_process_exiting.load()) {
      PostResultLocking(r, false);
      return;
    }
    // Ours: cancel it (also when it had not landed yet, so it can never hit
    // the code after the region) and throw an ordinary error instead. Must
    // happen after the TryCatch scope closed, or the throw is swallowed.
    isolate->CancelTerminateExecution();
    PostResultLocking(r, true);
    ThrowInterrupted(isolate, rs, r, trace, rs.fired_cut, seq, RegionFlags(info));
    return;
  }
  if (terminated) return;  // not ours (kill/terminate) or aimed further out
  if (!value.IsEmpty()) info.GetReturnValue().Set(value);
}

}  // namespace

void RunRegion(const v8::FunctionCallbackInfo<v8::Value>& info) {
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

  if (__builtin_expect(depth < kTrackedRegions, 1))
    e->region_seqs[depth].store(seq, std::memory_order_relaxed);
  else
    rs.deep.push_back(seq);
  e->region_depth.store(depth + 1, std::memory_order_release);

  v8::Local<v8::Value> value;
  bool terminated = false;
  {
    v8::TryCatch try_catch(isolate);
    // A call that returned a value threw nothing: only ask the TryCatch
    // (two calls into V8) when it did not.
    if (!info[0].As<v8::Function>()
             ->Call(isolate->GetCurrentContext(), v8::Undefined(isolate), 0, nullptr)
             .ToLocal(&value)) {
      terminated = try_catch.HasTerminated();
      if (!terminated && try_catch.HasCaught()) try_catch.ReThrow();
    }
  }

  if (__builtin_expect(depth >= kTrackedRegions, 0)) rs.deep.pop_back();
  e->region_depth.store(depth, std::memory_order_release);

  if (__builtin_expect(terminated || rs.fired_seq != 0 ||
                           e->queued_requests.load(std::memory_order_acquire) != 0,
                       0)) {
    ExitSlow(info, rs, e, seq, terminated, value);
    return;
  }
  if (!value.IsEmpty()) info.GetReturnValue().Set(value);
}

InterruptStatus RequestRegionInterrupt(const InterruptArgs& args,
                                       uint64_t* request_id) {
  Registry& reg = Registry::Get();
  std::lock_guard<std::mutex> lock(reg.mutex);
  Entry* e = reg.FindLocked(args.target);
  if (e == nullptr)
    return reg.EverSeenLocked(args.target) ? InterruptStatus::kThreadDead
                                           : InterruptStatus::kUnknownThread;
  InterruptRequest r;
  r.id = ++g_next_request;
  r.by = args.by;
  r.notify = args.notify;
  r.reason = args.reason;

  const uint32_t depth =
      e->env == nullptr ? 0 : e->region_depth.load(std::memory_order_acquire);
  if (args.region_seq != 0) {
    // A region handle: a cheap pre-check here; the interrupt callback on the
    // target thread makes the final, race-free decision.
    bool maybe_active = depth > kTrackedRegions;
    for (uint32_t i = 0; i < std::min(depth, kTrackedRegions); i++)
      if (e->region_seqs[i].load(std::memory_order_relaxed) == args.region_seq)
        maybe_active = true;
    if (!maybe_active) return InterruptStatus::kRegionInactive;
    r.region_seq = args.region_seq;
  } else if (depth == 0) {
    if (!args.pending) return InterruptStatus::kNoRegion;
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
  std::lock_guard<std::mutex> lock(reg.mutex);
  Entry* e = reg.FindLocked(target);
  if (e == nullptr) return false;
  for (auto it = e->requests.begin(); it != e->requests.end(); ++it) {
    if (it->id == request_id) {
      if (!it->pending) e->queued_requests.fetch_sub(1);
      e->requests.erase(it);
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
  std::lock_guard<std::mutex> lock(reg.mutex);
  Entry* e = reg.FindLocked(target);
  if (e == nullptr || e->env == nullptr) return false;
  for (const InterruptRequest& r : e->requests) {
    if (r.id == request_id) {
      if (!r.pending) ArmInterrupt(e);
      return true;
    }
  }
  return false;
}

}  // namespace tk
