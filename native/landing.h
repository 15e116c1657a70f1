// The landing rule: where a delivery (an interrupt, a deadline, a kill's
// interrupt phase) may cut a region short. One rule, stated in
// docs/DESIGN.md ("Where a delivery may land"):
//
//   A delivery leaves Node exactly as an exception thrown by the user's code
//   at that point would.
//
// It lands only when the topmost frame with a script is the user's (or a
// Node function stopped at its entry that a done frame of Node's — one with
// nothing left to do but return that call's value — calls by name on its
// way back to the user's code, and whose code up to its first call changes
// nothing: V8 acts on a termination at the check after the one judged, see
// docs/DESIGN.md), and no frame of Node's between there and the region's
// boundary stands inside a `try` block whose handler an exception would run
// (explicitly, or implicitly: the body of an async function or generator, a
// Promise executor). Otherwise it waits, without a time bound.
//
// Everything here runs on the target thread inside V8's interrupt callback:
// it never calls JS; it reads frames and script sources only.
#pragma once

#include <v8.h>

#include <string>

namespace tk {

// A thread's memory of the scripts it has judged: what kind each is, and for
// Node's own scripts the source read once with its functions and `try`
// blocks. Owned by the thread's region state; freed at thread teardown.
struct LandingCache;
LandingCache* NewLandingCache();
void FreeLandingCache(LandingCache* cache);

struct LandingVerdict {
  bool land = true;
  // When it must wait: the frame of Node's it waits for, as
  // "function (node:script:line:column)", and why.
  std::string where;
  const char* why = "";
};

// Judges the top `cut` frames of `trace` (those a termination unwinds: above
// the region's boundary). `complete` says whether the trace reaches the
// boundary; if not, every captured frame is judged and the rest is taken to
// be protected (the delivery waits).
LandingVerdict JudgeLanding(v8::Isolate* isolate, LandingCache& cache,
                            v8::Local<v8::StackTrace> trace, int cut, bool complete);

// The cheap first look: whether the topmost frame alone already forbids a
// landing (a frame of Node's that is not at its entry). Only then is the
// whole stack not needed: `trace` may hold just the top frame.
bool TopForbidsLanding(v8::Isolate* isolate, LandingCache& cache, v8::Local<v8::StackTrace> trace,
                       LandingVerdict* verdict);

// Exposed for the unit test of the source reader (native test hook): the
// verdict for a position in a source text. Returns 0 = unprotected,
// 1 = inside a protecting `try`, 2 = inside an implicit one (async function,
// generator, Promise executor), 3 = at a function's entry, 4 = at its entry
// but its code may write state before its first interrupt check (WritesState).
int ClassifySourcePosition(const std::u16string& source, size_t offset);
// Whether the position is a call its function returns as is (AtTailCall).
bool IsTailCallPosition(const std::u16string& source, size_t offset);

}  // namespace tk
