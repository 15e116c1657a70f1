// Prebuilds only (binding.gyp: tk_glibc_floor=1, set by scripts/prebuild.js):
// keeps a binary built on a new glibc loadable down to glibc 2.28, the floor
// of the official Node builds. libstdc++ is linked statically (its own
// GLIBCXX_3.4.30 would not load on older systems), and the references that
// it and our code make to glibc symbols newer than 2.28 are redirected here
// by `ld --wrap=<symbol>` (binding.gyp lists them): each wrapper calls the
// oldest version of the symbol, pinned with .symver, or stands in for a
// symbol an old glibc lacks. scripts/check-glibc-floor.js fails the package
// test if a new reference appears. docs/DESIGN.md, "Prebuilt binaries".
#include <dlfcn.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

#if defined(__x86_64__)
#define TK_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define TK_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc_floor.cc: the base glibc symbol version of this architecture is not known"
#endif

// glibc 2.34 moved these into libc.so.6 under new versions; the base
// versions stay exported (from libc.so.6, or before 2.34 from libdl.so.2 and
// libpthread.so.0, which every Node build loads). The list: binding.gyp.
#define TK_PIN(ret, name, params, args)                                 \
  __asm__(".symver tk_" #name ", " #name "@" TK_GLIBC_BASE);            \
  extern "C" ret tk_##name params;                                      \
  extern "C" ret __wrap_##name params { return tk_##name args; }

TK_PIN(int, pthread_once, (pthread_once_t* o, void (*f)()), (o, f))
TK_PIN(int, pthread_mutex_trylock, (pthread_mutex_t* m), (m))
TK_PIN(int, pthread_create, (pthread_t* t, const pthread_attr_t* a, void* (*f)(void*), void* p), (t, a, f, p))
TK_PIN(int, pthread_detach, (pthread_t t), (t))
TK_PIN(int, pthread_join, (pthread_t t, void** r), (t, r))
TK_PIN(int, pthread_key_create, (pthread_key_t* k, void (*d)(void*)), (k, d))
TK_PIN(int, pthread_key_delete, (pthread_key_t k), (k))
TK_PIN(void*, pthread_getspecific, (pthread_key_t k), (k))
TK_PIN(int, pthread_setspecific, (pthread_key_t k, const void* v), (k, v))
TK_PIN(void*, dlopen, (const char* f, int m), (f, m))
TK_PIN(int, dladdr, (const void* a, Dl_info* i), (a, i))
TK_PIN(void*, dlsym, (void* h, const char* n), (h, n))

extern "C" {
// glibc 2.32's "no other thread was ever started" flag lets libstdc++ skip
// atomics in shared_ptr counts. An addon always runs in a multi-threaded
// Node, so "not single-threaded" is the true answer (and the safe one).
char __wrap___libc_single_threaded = 0;

// glibc 2.30+: std::condition_variable::wait_until on steady_clock (the
// deadline watchdog) waits on CLOCK_MONOTONIC with it. The real one when the
// running glibc has it; else what libstdc++ itself does without it: the
// same remaining time as a CLOCK_REALTIME deadline (test/glibc-floor.test.ts
// runs this fallback, which no glibc here would take).
int tk_clockwait_by_realtime(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock,
                             const struct timespec* abstime) {
  if (clock == CLOCK_REALTIME) return pthread_cond_timedwait(cond, mutex, abstime);
  struct timespec now, wall;
  clock_gettime(clock, &now);
  clock_gettime(CLOCK_REALTIME, &wall);
  long long ns = (static_cast<long long>(abstime->tv_sec) - now.tv_sec) * 1000000000LL +
                 (abstime->tv_nsec - now.tv_nsec) + wall.tv_nsec;
  struct timespec deadline;
  deadline.tv_sec = wall.tv_sec + ns / 1000000000LL;
  deadline.tv_nsec = ns % 1000000000LL;
  if (deadline.tv_nsec < 0) {
    deadline.tv_nsec += 1000000000LL;
    deadline.tv_sec -= 1;
  }
  return pthread_cond_timedwait(cond, mutex, &deadline);
}

int __wrap_pthread_cond_clockwait(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock,
                                  const struct timespec* abstime) {
  using ClockWait = int (*)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*);
  static const ClockWait real = reinterpret_cast<ClockWait>(tk_dlsym(RTLD_DEFAULT, "pthread_cond_clockwait"));
  if (real != nullptr) return real(cond, mutex, clock, abstime);
  return tk_clockwait_by_realtime(cond, mutex, clock, abstime);
}

// glibc 2.36: libstdc++'s std::random_device source, linked in with the COW
// strings though the addon never makes one. Kernel randomness (getrandom:
// glibc 2.25, Linux 3.17) when the running glibc lacks arc4random.
uint32_t __wrap_arc4random() {
  using Arc4Random = uint32_t (*)();
  static const Arc4Random real = reinterpret_cast<Arc4Random>(tk_dlsym(RTLD_DEFAULT, "arc4random"));
  if (real != nullptr) return real();
  uint32_t value = 0;
  while (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value) && errno == EINTR) {
  }
  return value;
}
}
