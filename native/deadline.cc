#include "deadline.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform.h"
#include "region.h"
#include "registry.h"
#include "utf8.h"

namespace tk {

namespace {

struct Watchdog {
  std::mutex mutex;  // guards `slots` and `kicked`; never held with the registry mutex
  std::condition_variable cv;
  bool kicked = false;
  std::vector<DeadlineSlot*> slots;
  // When the watchdog wakes next (kNoDeadline: not before a kick); 0 while
  // it scans. An owner that arms an earlier deadline kicks it.
  std::atomic<int64_t> next_wake{kNoDeadline};
  std::once_flag started;
};

// Leaked on purpose, like the registry: threads may use it while the
// process runs static destructors.
Watchdog& Dog() {
  static Watchdog* w = new Watchdog();
  return *w;
}

// Under the registry mutex: the slot's deadline for region `seq` passed and
// is still armed → queue the timeout for that region. The entry is found in
// `live`, so it cannot be freed meanwhile (DESIGN.md, lifetime rule 2).
// Whether region `seq` of `e` is still running. Mutex held.
bool RegionActiveLocked(Entry* e, uint64_t seq) {
  const uint32_t depth = e->region_depth.load();
  for (uint32_t i = 0; i < std::min(depth, kTrackedRegions); i++)
    if (e->region_seqs[i].load() == seq) return true;
  for (uint64_t deep : e->deep_seqs)
    if (deep == seq) return true;
  return false;
}

// Mutex held, the labelled region of `e` still running past its grace: say
// which and where, and end the process. Nothing here can wait on the stuck
// thread. (No JS: this is the watchdog thread.)
[[noreturn]] void EscalateLocked(Entry* e) {
  std::string where;
  if (e->deferred_since_ns.load() != 0 && e->queued_requests.load() != 0) {
    where = "its timeout waits for Node's code to return (an exception there would be handled by Node; a termination "
            "would skip that): " + e->deferred_where + ": " + e->deferred_why;
  } else {
    const std::string wchan = platform::ThreadWaitChannel(e->os_tid);
    where = "it never got back to JavaScript: it is blocked in native code or a system call" +
            (wchan.empty() || wchan == "0" ? std::string() : " (kernel wait: " + wchan + ")");
  }
  char head[160];
  snprintf(head, sizeof(head), "ran past its %.0f ms timeout and could not be stopped within %.0f ms more",
           e->stuck_timeout_ms, static_cast<double>(e->stuck_grace_ns.load()) / 1e6);
  const std::string msg = "\nthread-kill: " + Utf16ToUtf8(e->stuck_label) + " " + head + ": " + where +
                          ".\nthread-kill: ending the run (exit code " + std::to_string(e->stuck_exit_code) +
                          "); everything reported above stands. kill() or a timeout in your code can end such a "
                          "thread; see the README, \"What a delivery waits for\".\n";
  platform::WriteStderr(msg);
  std::_Exit(e->stuck_exit_code);
}

void Fire(const std::vector<std::pair<int64_t, uint64_t>>& expired, const std::vector<int64_t>& retries,
          const std::vector<int64_t>& escalations) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  const int64_t now = MonotonicNs();
  for (const int64_t tid : escalations) {
    Entry* e = reg.FindLocked(tid);
    if (e == nullptr || e->env == nullptr) continue;
    int64_t at = e->deadline.escalate_ns.load();
    if (at > now || !e->deadline.escalate_ns.compare_exchange_strong(at, kNoDeadline)) continue;
    const uint64_t seq = e->deadline.escalate_seq.load();
    if (!(e->stuck_grace_ns.load() > 0 && e->stuck_seq == seq && RegionActiveLocked(e, seq))) continue;
    // The thread is in the middle of settling: a look holds its requests
    // (the queue reads empty for a few µs), or our termination was just fired
    // and is unwinding the region. Look again in a millisecond — for a
    // termination at most 100 times: one that does not arrive means the
    // thread went into native code, which is what the report then says.
    if (e->look_in_progress.load(std::memory_order_acquire) ||
        (e->termination_in_flight.load(std::memory_order_acquire) && e->deadline.escalate_postponed < 100)) {
      e->deadline.escalate_postponed++;
      e->deadline.escalate_ns.store(now + 1'000'000);
      continue;
    }
    EscalateLocked(e);
  }
  for (const int64_t tid : retries) {
    Entry* e = reg.FindLocked(tid);
    if (e == nullptr || e->env == nullptr) continue;
    int64_t r = e->deadline.retry_ns.load();
    if (r > now || !e->deadline.retry_ns.compare_exchange_strong(r, kNoDeadline)) continue;
    RetryQueuedInterruptsLocked(e, true);
    // A termination still in flight: again after the period, also while the
    // thread cannot run the callback (in a native call, or terminating).
    int64_t none = kNoDeadline;
    if (e->termination_in_flight.load(std::memory_order_acquire))
      e->deadline.retry_ns.compare_exchange_strong(none, now + kRefireCheckNs);
  }
  for (const auto& [tid, seq] : expired) {
    Entry* e = reg.FindLocked(tid);
    if (e == nullptr || e->env == nullptr) continue;
    int64_t d = e->deadline.deadline_ns.load();
    if (d > now || e->deadline.seq.load() != seq || e->deadline.deadline_ns.load() != d) continue;
    // Disarm it (unless the owner just changed it): it fires once.
    if (!e->deadline.deadline_ns.compare_exchange_strong(d, kNoDeadline)) continue;
    QueueTimeoutLocked(e, seq);
    const int64_t grace = e->stuck_grace_ns.load();
    if (grace > 0 && e->stuck_seq == seq) {
      e->deadline.escalate_seq.store(seq);
      e->deadline.escalate_postponed = 0;
      e->deadline.escalate_ns.store(now + grace);
    }
  }
}

void Run() {
  // Wake-ups as close to the deadline as the OS allows.
  platform::UsePreciseTimers();
  Watchdog& w = Dog();
  std::unique_lock<std::mutex> lock(w.mutex);
  for (;;) {
    w.next_wake.store(0);
    const int64_t now = MonotonicNs();
    int64_t next = kNoDeadline;
    std::vector<std::pair<int64_t, uint64_t>> expired;
    std::vector<int64_t> retries;
    std::vector<int64_t> escalations;
    for (DeadlineSlot* s : w.slots) {
      const int64_t x = s->escalate_ns.load();
      if (x != kNoDeadline) {
        if (x <= now)
          escalations.push_back(s->thread_id);
        else if (x < next)
          next = x;
      }
      const int64_t r = s->retry_ns.load();
      if (r != kNoDeadline) {
        if (r <= now)
          retries.push_back(s->thread_id);
        else if (r < next)
          next = r;
      }
      const int64_t d1 = s->deadline_ns.load();
      if (d1 == kNoDeadline) continue;
      const uint64_t seq = s->seq.load();
      if (s->deadline_ns.load() != d1) {
        next = now;  // changing under us: look again right away
        continue;
      }
      if (d1 <= now)
        expired.emplace_back(s->thread_id, seq);
      else if (d1 < next)
        next = d1;
    }
    if (!expired.empty() || !retries.empty() || !escalations.empty()) {
      lock.unlock();
      Fire(expired, retries, escalations);
      lock.lock();
      continue;
    }
    if (next <= now) continue;
    w.next_wake.store(next);
    // A deadline armed after the scan but before `next` was published did
    // not kick (it saw 0): look once more.
    bool missed = false;
    for (DeadlineSlot* s : w.slots)
      missed = missed || s->deadline_ns.load() < next || s->retry_ns.load() < next || s->escalate_ns.load() < next;
    if (missed) continue;
    auto kicked = [&] { return w.kicked; };
    if (next == kNoDeadline) {
      w.cv.wait(lock, kicked);
    } else {
      std::chrono::steady_clock::time_point at{std::chrono::nanoseconds(next)};
      w.cv.wait_until(lock, at, kicked);
    }
    w.kicked = false;
  }
}

// The rare path: a deadline earlier than the watchdog's next wake-up.
[[gnu::noinline]] void Kick() {
  Watchdog& w = Dog();
  std::call_once(w.started, [] { std::thread(Run).detach(); });
  {
    std::lock_guard<std::mutex> lock(w.mutex);
    w.kicked = true;
  }
  w.cv.notify_one();
}

[[gnu::noinline]] void List(Entry* e) {
  Watchdog& w = Dog();
  std::lock_guard<std::mutex> lock(w.mutex);
  e->deadline.thread_id = e->thread_id;
  w.slots.push_back(&e->deadline);
  e->deadline.listed = true;
}

inline void Publish(Entry* e, int64_t deadline_ns, uint64_t seq) {
  DeadlineSlot& s = e->deadline;
  s.deadline_ns.store(kNoDeadline);
  s.seq.store(seq);
  s.deadline_ns.store(deadline_ns);
  // Sequentially consistent with the watchdog's publication of next_wake:
  // either it sees this deadline, or this sees its next wake-up.
  if (deadline_ns < Dog().next_wake.load()) Kick();
}

}  // namespace

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ArmDeadline(Entry* e, int64_t deadline_ns, uint64_t seq) {
  if (__builtin_expect(!e->deadline.listed, 0)) List(e);
  Publish(e, deadline_ns, seq);
}

void RetryInterruptAt(Entry* e, int64_t at_ns) {
  if (__builtin_expect(!e->deadline.listed, 0)) List(e);
  int64_t r = e->deadline.retry_ns.load();
  while (at_ns < r && !e->deadline.retry_ns.compare_exchange_weak(r, at_ns)) {
  }
  // (As in Publish: either the watchdog sees it, or this sees its next wake-up.)
  if (at_ns < Dog().next_wake.load()) Kick();
}

void RestoreDeadline(Entry* e, int64_t deadline_ns, uint64_t seq) {
  if (deadline_ns == kNoDeadline) {
    e->deadline.deadline_ns.store(kNoDeadline);
    return;
  }
  Publish(e, deadline_ns, seq);
}

void SetStuckGuard(Entry* e, int64_t grace_ns, int32_t exit_code) {
  RegistryLock lock;
  e->stuck_exit_code = exit_code;
  e->stuck_grace_ns.store(grace_ns > 0 ? grace_ns : 0);
}

void LabelRegion(Entry* e, uint64_t seq, std::u16string& label, double timeout_ms) {
  RegistryLock lock;
  e->stuck_seq = seq;
  e->stuck_timeout_ms = timeout_ms;
  e->stuck_label.swap(label);
}

void UnlistDeadline(Entry* e) {
  if (!e->deadline.listed) return;
  Watchdog& w = Dog();
  std::lock_guard<std::mutex> lock(w.mutex);
  auto& v = w.slots;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (*it == &e->deadline) {
      v.erase(it);
      break;
    }
  }
  e->deadline.listed = false;
}

}  // namespace tk
