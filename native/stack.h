// Capturing a thread's JS stack from inside an interrupt callback, where no
// JS may run: only v8::StackTrace, which walks frames without calling JS.
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tk {

struct Frame {
  std::string function;
  std::string script;
  int32_t line = 0;
  int32_t column = 0;
};

constexpr int kMaxCapturedFrames = 64;

// Must run on the isolate's own thread. Never calls JS.
std::vector<Frame> CaptureStack(v8::Isolate* isolate, int limit);

// Frames as JS sees them: [[function, script, line, column], ...], from
// frames copied off another thread (FramesToArray) or from frames [from, to)
// of a trace captured on this thread, taken straight from V8's strings, no
// UTF-8 round trip (TraceToArray). Both build every row the same way.
v8::Local<v8::Array> FramesToArray(v8::Isolate* isolate,
                                   const std::vector<Frame>& frames);
v8::Local<v8::Array> TraceToArray(v8::Isolate* isolate,
                                  v8::Local<v8::StackTrace> trace, int from,
                                  int to);

}  // namespace tk
