// Hard stop of another thread's environment, and the probes the kill ladder
// uses while it waits (heartbeat, captured stack).
#pragma once

#include <cstdint>
#include <vector>

#include "registry.h"

namespace tk {

enum class StopStatus : int32_t {
  kUnknownThread = 0,  // never registered
  kIssued = 1,         // node::Stop was called on the live environment
  kReservedOnly = 2,   // reserved, not registered yet: lands at registration
  kDeadKilled = 3,     // already gone, after a kill had been requested
  kDeadNatural = 4,    // already gone by itself
};

struct StopOptions {
  bool watch = false;          // post kThreadDead to the caller when it dies
  bool capture_stack = false;  // first attempt: capture the JS stack, then stop
};

// Any thread. `caller` is the calling thread's threadId (for watch).
StopStatus StopThread(int64_t target, int64_t caller, const StopOptions& opts,
                      uint32_t* attempts);

// Any thread: what StopThread would find, without stopping anything
// (kIssued = live and registered).
StopStatus LookupThread(int64_t target);

// Any thread: ask the target to bump its heartbeat at its next interrupt
// check (JS) or loop turn (idle). False if the thread is not live.
bool PingThread(int64_t target);

struct Heartbeat {
  bool live = false;
  uint64_t beats = 0;     // callbacks serviced
  uint64_t beats_js = 0;  // ... of which while JS frames were on the stack
};
Heartbeat ReadHeartbeat(int64_t target);

// The stack captured when a kill landed (live or dead thread).
bool TakeCapturedStack(int64_t target, std::vector<Frame>* out);

// Any thread: watch without stopping (join()). False if already gone.
bool WatchThread(int64_t target, int64_t caller);

}  // namespace tk
