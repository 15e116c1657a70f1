#include "deadline.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "platform.h"
#include "region.h"
#include "registry.h"

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
void Fire(const std::vector<std::pair<int64_t, uint64_t>>& expired, const std::vector<int64_t>& retries) {
  Registry& reg = Registry::Get();
  RegistryLock lock;
  const int64_t now = MonotonicNs();
  for (const int64_t tid : retries) {
    Entry* e = reg.FindLocked(tid);
    if (e == nullptr || e->env == nullptr) continue;
    int64_t r = e->deadline.retry_ns.load();
    if (r > now || !e->deadline.retry_ns.compare_exchange_strong(r, kNoDeadline)) continue;
    RetryQueuedInterruptsLocked(e);
  }
  for (const auto& [tid, seq] : expired) {
    Entry* e = reg.FindLocked(tid);
    if (e == nullptr || e->env == nullptr) continue;
    int64_t d = e->deadline.deadline_ns.load();
    if (d > now || e->deadline.seq.load() != seq || e->deadline.deadline_ns.load() != d) continue;
    // Disarm it (unless the owner just changed it): it fires once.
    if (!e->deadline.deadline_ns.compare_exchange_strong(d, kNoDeadline)) continue;
    QueueTimeoutLocked(e, seq);
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
    for (DeadlineSlot* s : w.slots) {
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
    if (!expired.empty() || !retries.empty()) {
      lock.unlock();
      Fire(expired, retries);
      lock.lock();
      continue;
    }
    if (next <= now) continue;
    w.next_wake.store(next);
    // A deadline armed after the scan but before `next` was published did
    // not kick (it saw 0): look once more.
    bool missed = false;
    for (DeadlineSlot* s : w.slots)
      missed = missed || s->deadline_ns.load() < next || s->retry_ns.load() < next;
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
