// Interruptible regions: a native frame around a JS call that turns a
// termination *it asked for* into an ordinary, catchable InterruptedError.
#pragma once

#include <node_api.h>
#include <v8.h>

#include <cstdint>

#include "registry.h"

namespace tk {

enum class InterruptStatus : int32_t {
  kUnknownThread = 0,   // never registered
  kHit = 1,             // an active region was addressed; request queued
  kNoRegion = 2,        // nothing active; no effect at all
  kQueuedPending = 3,   // { pending: true }: waits for the next region entry
  kThreadDead = 4,      // the thread has exited
  kRegionInactive = 5,  // the addressed region handle has finished
};

// Any thread. `request` says who asks (by, notify), what for (kill, reason)
// and where: `region_seq` a region handle, or 0 for the thread's outermost
// region — then `pending` waits for the next entry if none is active. Its id
// is assigned here; `*request_id` is set when it was queued.
InterruptStatus RequestRegionInterrupt(int64_t target, InterruptRequest request,
                                       uint64_t* request_id);

// Any thread: re-arm the target's interrupt for a still-queued request.
// False once the request was resolved (or the thread is gone).
bool ReissueRegionInterrupt(int64_t target, uint64_t request_id);

// Any thread: drop a still-queued request (untilDelivered timed out). False
// if it was already taken by the target (it may still be delivered).
bool CancelRegionInterrupt(int64_t target, uint64_t request_id);

// The JS-facing region function (raw V8 for the hot path):
//   runRegion(fn, flags) -> fn()
void RunRegion(const v8::FunctionCallbackInfo<v8::Value>& info);
// The same with a deadline: runRegionDeadline(fn, flags, timeoutMs) -> fn().
// When timeoutMs pass, the region throws a timeout InterruptedError.
void RunRegionDeadline(const v8::FunctionCallbackInfo<v8::Value>& info);
// rearmDeadline(seq, timeoutMs) -> whether the active deadline region `seq`
// of this thread now has `timeoutMs` left (0 = none). Only a region started
// with runRegionDeadline whose slot is its own (or free) can be rearmed.
void RearmDeadline(const v8::FunctionCallbackInfo<v8::Value>& info);
// Registry mutex held, `e` found in live: queue a timeout for region `seq`
// of `e` and arm its interrupt (the deadline watchdog).
void QueueTimeoutLocked(Entry* e, uint64_t seq);
// Registry mutex held, `e` found in live: arm its interrupt again if requests
// wait in its queue (the watchdog, for deliveries that wait: the landing
// rule) or a termination of ours is in flight (it may have been cancelled).
void RetryQueuedInterruptsLocked(Entry* e, bool force);
// How often a termination of ours still in flight is looked at again (see
// Entry::termination_in_flight; the watchdog keeps the period while it is
// set). It normally reaches its boundary within microseconds, and then this
// costs nothing.
constexpr int64_t kRefireCheckNs = 1'000'000;
// setStuckGuard(graceMs, exitCode): this thread's labelled deadline regions
// (runRegionDeadline's 4th argument, a test's name) end the process if still
// running graceMs after their deadline fired (deadline.h, SetStuckGuard).
void SetStuckGuardFn(const v8::FunctionCallbackInfo<v8::Value>& info);
// currentRegion() -> seq of the innermost active region, or 0.
void CurrentRegionSeq(const v8::FunctionCallbackInfo<v8::Value>& info);
// lastRegionSeq() -> the last sequence number a region of this thread got
// (regions entered later get larger ones): module loads are stamped with it.
void LastRegionSeq(const v8::FunctionCallbackInfo<v8::Value>& info);
// setInterruptFactory(fn): fn(reason, by, regionFrames, trace, seq, flags,
// kind, cause, timeoutMs) returns the error object a region throws. `trace`
// is an opaque handle of the whole captured stack, for traceFrames(), or
// undefined; its top `regionFrames` frames are the region's own; `kind`
// bit 1 = sent by kill(), bit 2 = `cause` is what the region itself threw,
// bit 4 = the region's own deadline (of `timeoutMs`) passed.
void SetInterruptFactory(const v8::FunctionCallbackInfo<v8::Value>& info);
// traceFrames(trace) -> every frame of a stack a region captured, as
// [[function, script, line, column], ...]; undefined for anything else.
void TraceFrames(const v8::FunctionCallbackInfo<v8::Value>& info);

// The calling thread's region state, to bind as RunRegion's function data.
void* ThreadRegionsData();
// Owner thread, at registration: lets RunRegion reach the entry directly.
void BindThreadRegions(Entry* e);
// Owner thread, at addon initialisation: the Node-API environment regions
// ask whether Node is stopping the thread (the first one is kept).
void BindThreadNapiEnv(napi_env env);
// Owner thread, from the environment cleanup hook.
void ResetThreadRegions();

}  // namespace tk
