// Deadlines for interruptible regions: one watchdog thread per process,
// started lazily, never joined (it cannot keep the process alive), shared by
// every thread. A region with a deadline arms its thread's slot with a few
// atomic stores — no system call and no lock that another thread's hot path
// takes — unless its deadline is earlier than the watchdog's next wake-up.
// When a deadline passes, the watchdog queues an interrupt request for that
// region (the interrupt machinery does the rest, with all its guarantees).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace tk {

struct Entry;

constexpr int64_t kNoDeadline = INT64_MAX;

// One per thread (inside its Entry). Written by the owner thread; read by
// the watchdog without the registry mutex (it holds its own while the slot is
// listed). The owner writes `deadline_ns` = kNoDeadline, then `seq`, then the
// new deadline, so a reader that sees the same deadline before and after
// reading `seq` has a consistent pair.
struct DeadlineSlot {
  std::atomic<int64_t> deadline_ns{kNoDeadline};
  std::atomic<uint64_t> seq{0};
  // When to arm the thread's interrupt again (kNoDeadline: never): a delivery
  // that waits for Node's module loader (region.cc, DeferFired). Written by
  // the owner, taken (exchanged back to kNoDeadline) by the watchdog.
  std::atomic<int64_t> retry_ns{kNoDeadline};
  // When to check that a labelled region whose deadline fired has ended
  // (kNoDeadline: none), and which: see SetStuckGuard. Written and taken by
  // the watchdog only.
  std::atomic<int64_t> escalate_ns{kNoDeadline};
  std::atomic<uint64_t> escalate_seq{0};
  // How often that check was put off because the thread was about to settle
  // (the watchdog's own count; see Fire).
  uint32_t escalate_postponed = 0;
  int64_t thread_id = -1;
  bool listed = false;  // owner only: registered with the watchdog
};

// Monotonic time in ns (CLOCK_MONOTONIC through the vDSO: no system call).
int64_t MonotonicNs();

// Owner thread: make (deadline_ns, seq) the slot's armed deadline.
void ArmDeadline(Entry* e, int64_t deadline_ns, uint64_t seq);
// Owner thread: put back what the slot held before ArmDeadline.
void RestoreDeadline(Entry* e, int64_t deadline_ns, uint64_t seq);
// Owner thread: have the watchdog arm the thread's interrupt again at
// `at_ns` if requests still wait in its queue then.
void RetryInterruptAt(Entry* e, int64_t at_ns);
// Owner thread, from the environment cleanup hook, before the entry is freed.
void UnlistDeadline(Entry* e);

// The stuck guard of the test-runner plugins: a run never hangs silently.
// Owner thread: regions of this thread entered with a label (a test's name)
// whose deadline fired and that are still running `grace_ns` later end the
// process — the label, the timeout and where the thread is stuck written to
// stderr, exit code `exit_code` — from the watchdog thread (the stuck thread
// cannot). 0 turns it off.
void SetStuckGuard(Entry* e, int64_t grace_ns, int32_t exit_code);
// Owner thread: region `seq` (a deadline region of `timeout_ms`) runs `label`,
// taken by swapping: `label` is left holding the previous one (a buffer to reuse).
void LabelRegion(Entry* e, uint64_t seq, std::u16string& label, double timeout_ms);

}  // namespace tk
