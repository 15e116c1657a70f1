// Runs native/glibc_floor.cc's pthread_cond_clockwait fallback (the path a
// glibc older than 2.30 takes) directly: compiled and run by
// test/glibc-floor.test.ts. Prints one line per check; exit 0 when all hold.
#include <pthread.h>
#include <time.h>

#include <cerrno>
#include <cstdio>

extern "C" int tk_clockwait_by_realtime(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*);

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool ready = false;

static long long NowNs(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static timespec In(long long ns) {
  long long at = NowNs(CLOCK_MONOTONIC) + ns;
  return timespec{static_cast<time_t>(at / 1000000000LL), static_cast<long>(at % 1000000000LL)};
}

static void* Signaller(void*) {
  pthread_mutex_lock(&mutex);
  ready = true;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&mutex);
  return nullptr;
}

int main() {
  int failed = 0;
  // 1. Nobody signals: times out, and not before the monotonic deadline.
  const long long waits[] = {50000000LL, 120000000LL};
  for (long long wait : waits) {
    pthread_mutex_lock(&mutex);
    long long t0 = NowNs(CLOCK_MONOTONIC);
    timespec at = In(wait);
    int r;
    do r = tk_clockwait_by_realtime(&cond, &mutex, CLOCK_MONOTONIC, &at); while (r == 0);  // spurious wakeups
    long long waited = NowNs(CLOCK_MONOTONIC) - t0;
    pthread_mutex_unlock(&mutex);
    bool ok = r == ETIMEDOUT && waited >= wait;
    std::printf("%s timeout after %lld ns (deadline %lld ns, result %d)\n", ok ? "ok" : "FAILED", waited, wait, r);
    failed += !ok;
  }
  // 2. A deadline already past: returns at once with ETIMEDOUT.
  {
    pthread_mutex_lock(&mutex);
    timespec past = In(-1000000LL);
    int r = tk_clockwait_by_realtime(&cond, &mutex, CLOCK_MONOTONIC, &past);
    pthread_mutex_unlock(&mutex);
    std::printf("%s past deadline (result %d)\n", r == ETIMEDOUT ? "ok" : "FAILED", r);
    failed += r != ETIMEDOUT;
  }
  // 3. Signalled before a far deadline: wakes with 0.
  {
    pthread_mutex_lock(&mutex);
    pthread_t t;
    pthread_create(&t, nullptr, Signaller, nullptr);
    timespec far = In(60LL * 1000000000LL);
    int r = 0;
    while (!ready && r == 0) r = tk_clockwait_by_realtime(&cond, &mutex, CLOCK_MONOTONIC, &far);
    pthread_mutex_unlock(&mutex);
    pthread_join(t, nullptr);
    std::printf("%s signalled (result %d)\n", r == 0 && ready ? "ok" : "FAILED", r);
    failed += !(r == 0 && ready);
  }
  return failed == 0 ? 0 : 1;
}
