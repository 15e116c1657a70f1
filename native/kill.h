// Hard termination (node::Stop) of another thread's environment, and the
// probes the kill ladder uses while it waits (heartbeat, captured stack).
// "Stop" alone is the cooperative stop (StopToken, src/stop.ts); the hard
// one is called "terminate" everywhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "registry.h"

namespace tk {

enum class TerminateStatus : int32_t {
  kUnknownThread = 0,  // never registered
  kIssued = 1,         // node::Stop was called on the live environment
  kReservedOnly = 2,   // reserved, not registered yet: lands at registration
  kDeadKilled = 3,     // already gone, after a kill had been requested
  kDeadNatural = 4,    // already gone by itself
};

struct TerminateOptions {
  bool watch = false;          // post kThreadDead to the caller when it dies
  bool capture_stack = false;  // first attempt: capture the JS stack, then terminate
  bool mark_only = false;      // record the kill, terminate nothing (Worker#terminate() will)
  int32_t exit_code = 1;       // what the thread's 'exit' event reports (first kill wins)
  bool quiet = false;          // with watch: counted as a watcher, told nothing (Entry::quiet_watchers)
};

// Any thread. `caller` is the calling thread's threadId (for watch).
TerminateStatus TerminateThread(int64_t target, int64_t caller, const TerminateOptions& opts);

// Any thread: kill()'s cooperative phase. Records the kill (reason, exit
// code) and, if the thread takes part (it has onKill hooks or looked at its
// stop token), posts it a kKillReached event so its own event loop runs the
// hooks. False if the thread is not live.
bool AnnounceKill(int64_t target, const std::string& reason, int32_t exit_code, bool notify);

// Any thread: kill()'s first step, in one locked section, so that a thread
// neither cooperative phase can reach is stopped before any bookkeeping of
// the caller runs. Records the kill like AnnounceKill; then:
//   * `grace` and the thread has onKill hooks or looked at its stop token:
//     posts it kKillReached (if registered) and returns kKillCooperative;
//   * `grace` and it is in an interruptible() region: returns
//     kKillInterruptFirst (the caller interrupts it);
//   * otherwise: TerminateThread(watch, capture_stack, quiet) and returns its status.
// An absent thread is left alone (kUnknownThread, kDeadKilled, kDeadNatural).
// Bits 3 and 4 of the result say whether the thread had hooks/a token and
// whether it was in a region (the reasons phases were skipped).
constexpr int32_t kKillCooperative = 5;
constexpr int32_t kKillInterruptFirst = 6;
constexpr int32_t kKillTakesPart = 8;
constexpr int32_t kKillInRegion = 16;
int32_t StartKill(int64_t target, int64_t caller, const std::string& reason, int32_t exit_code,
                  bool grace, bool capture_stack, bool quiet);

// onUnkillable: 'abandon'. The thread is remembered as abandoned and the main
// thread is told (kAbandoned), so that the process's normal end leaves
// without joining it.
void MarkAbandoned(int64_t target);
// How many abandoned threads are still alive.
size_t CountAbandonedAlive();

// The calling thread's announced kill reason (serialized); false if none.
bool TakeKillReason(std::string* out);

// The exit code a killed thread's 'exit' event must report, or -1 if it was
// not killed (or is unknown).
int32_t KilledExitCode(int64_t target);

// Any thread: a reserved KillableWorker thread that has not registered
// cannot be stopped through the registry; ask the thread that created it
// (and holds its Worker) to Worker#terminate() it. False if not a
// reservation or its creator is gone.
bool AskCreatorToTerminate(int64_t target);

// Any thread: whether a kill()'s interrupt already fired in one of the
// thread's regions (Entry::kill_interrupted). False if it is gone.
bool KillInterrupted(int64_t target);

// Any thread: stop watching (a kill() that ends without the death).
void UnwatchThread(int64_t target, int64_t caller);

// Any thread: what TerminateThread would find, without terminating anything
// (kIssued = live and registered).
TerminateStatus LookupThread(int64_t target);

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

// Any thread: watch without stopping (join()); `quiet` as in TerminateOptions.
// False if already gone.
bool WatchThread(int64_t target, int64_t caller, bool quiet = false);

}  // namespace tk
