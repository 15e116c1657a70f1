#include "stack.h"

#include <algorithm>

namespace tk {

namespace {

// One frame's four fields, as V8 values.
struct FrameFields {
  v8::Local<v8::String> function;
  v8::Local<v8::String> script;
  int line;
  int column;
};

// Frame `i` of `trace`; a missing name or script is the empty string.
FrameFields FieldsAt(v8::Isolate* isolate, v8::Local<v8::StackTrace> trace, int i) {
  v8::Local<v8::StackFrame> f = trace->GetFrame(isolate, i);
  v8::Local<v8::String> fn = f->GetFunctionName();
  v8::Local<v8::String> script = f->GetScriptNameOrSourceURL();
  v8::Local<v8::String> empty = v8::String::Empty(isolate);
  return FrameFields{fn.IsEmpty() ? empty : fn, script.IsEmpty() ? empty : script,
                     f->GetLineNumber(), f->GetColumn()};
}

std::string ToUtf8(v8::Isolate* isolate, v8::Local<v8::String> s) {
  v8::String::Utf8Value utf8(isolate, s);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string();
}

v8::Local<v8::String> Str(v8::Isolate* isolate, const std::string& s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .FromMaybe(v8::String::Empty(isolate));
}

// [[function, script, line, column], ...] of `n` frames, frame i from
// `fields_at(i)`. Arrays are built from their elements, never with [[Set]],
// which would run any setter a program put on Array.prototype.
template <typename FieldsAtFn>
v8::Local<v8::Array> RowsToArray(v8::Isolate* isolate, int n, FieldsAtFn fields_at) {
  std::vector<v8::Local<v8::Value>> rows;
  rows.reserve(std::max(0, n));
  for (int i = 0; i < n; i++) {
    const FrameFields f = fields_at(i);
    v8::Local<v8::Value> items[] = {f.function, f.script, v8::Integer::New(isolate, f.line),
                                    v8::Integer::New(isolate, f.column)};
    rows.push_back(v8::Array::New(isolate, items, 4));
  }
  return v8::Array::New(isolate, rows.data(), rows.size());
}

}  // namespace

std::vector<Frame> CaptureStack(v8::Isolate* isolate, int limit) {
  std::vector<Frame> out;
  v8::HandleScope scope(isolate);
  v8::Local<v8::StackTrace> trace = v8::StackTrace::CurrentStackTrace(
      isolate, limit, v8::StackTrace::kDetailed);
  if (trace.IsEmpty()) return out;
  const int n = trace->GetFrameCount();
  out.reserve(n);
  std::vector<v8::Local<v8::StackFrame>> frames;
  frames.reserve(n);
  for (int i = 0; i < n; i++) {
    v8::Local<v8::StackFrame> f = frames.emplace_back(trace->GetFrame(isolate, i));
    v8::Local<v8::String> fn = f->GetFunctionName();
    v8::Local<v8::String> script = f->GetScriptNameOrSourceURL();
    out.push_back(Frame{fn.IsEmpty() ? std::string() : ToUtf8(isolate, fn),
                        script.IsEmpty() ? std::string() : ToUtf8(isolate, script), 0, 0});
  }
  // Line and column for every frame down to the last one outside Node's own
  // modules, and below it for the `node:` frames of a module already done
  // above; the other `node:` frames down there (the bootstrap that called
  // into the thread's code) keep their function and module only. A line
  // number costs V8 a scan of its whole script for line ends, once per script
  // and thread: for Node's modules (tens of KB each) ≈0.1 ms, paid by the
  // dying thread before it can die (measured). A stack of nothing but Node's
  // frames keeps every line.
  int last = n - 1;
  while (last >= 0 && out[last].script.rfind("node:", 0) == 0) last--;
  if (last < 0) last = n - 1;  // only Node's own frames (killed in its code): they are all there is
  std::vector<int> scanned;
  for (int i = 0; i < n; i++) {
    v8::Local<v8::StackFrame> f = frames[i];
    const int id = f->GetScriptId();
    if (i > last && std::find(scanned.begin(), scanned.end(), id) == scanned.end()) continue;
    if (i <= last) scanned.push_back(id);
    out[i].line = f->GetLineNumber();
    out[i].column = f->GetColumn();
  }
  return out;
}

v8::Local<v8::Array> FramesToArray(v8::Isolate* isolate,
                                   const std::vector<Frame>& frames) {
  return RowsToArray(isolate, static_cast<int>(frames.size()), [&](int i) {
    const Frame& f = frames[i];
    return FrameFields{Str(isolate, f.function), Str(isolate, f.script), f.line, f.column};
  });
}

v8::Local<v8::Array> TraceToArray(v8::Isolate* isolate,
                                  v8::Local<v8::StackTrace> trace, int from,
                                  int to) {
  to = std::min(to, trace->GetFrameCount());
  return RowsToArray(isolate, to - from,
                     [&](int i) { return FieldsAt(isolate, trace, from + i); });
}

}  // namespace tk
