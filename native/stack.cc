#include "stack.h"

#include <algorithm>

namespace tk {

namespace {
std::string ToUtf8(v8::Isolate* isolate, v8::Local<v8::String> s) {
  if (s.IsEmpty()) return std::string();
  v8::String::Utf8Value utf8(isolate, s);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string();
}

v8::Local<v8::String> Str(v8::Isolate* isolate, const std::string& s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .FromMaybe(v8::String::Empty(isolate));
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
  for (int i = 0; i < n; i++) {
    v8::Local<v8::StackFrame> f = trace->GetFrame(isolate, i);
    Frame frame;
    frame.function = ToUtf8(isolate, f->GetFunctionName());
    frame.script = ToUtf8(isolate, f->GetScriptNameOrSourceURL());
    frame.line = f->GetLineNumber();
    frame.column = f->GetColumn();
    out.push_back(std::move(frame));
  }
  return out;
}

v8::Local<v8::Array> FramesToArray(v8::Isolate* isolate,
                                   const std::vector<Frame>& frames) {
  // Arrays are built from their elements, never with [[Set]], which would
  // run any setter a program put on Array.prototype.
  std::vector<v8::Local<v8::Value>> rows;
  rows.reserve(frames.size());
  for (const Frame& f : frames) {
    v8::Local<v8::Value> items[] = {
        Str(isolate, f.function), Str(isolate, f.script),
        v8::Integer::New(isolate, f.line), v8::Integer::New(isolate, f.column)};
    rows.push_back(v8::Array::New(isolate, items, 4));
  }
  return v8::Array::New(isolate, rows.data(), rows.size());
}

v8::Local<v8::Array> TraceToArray(v8::Isolate* isolate,
                                  v8::Local<v8::StackTrace> trace, int from,
                                  int to) {
  to = std::min(to, trace->GetFrameCount());
  std::vector<v8::Local<v8::Value>> rows;
  rows.reserve(std::max(0, to - from));
  v8::Local<v8::String> empty = v8::String::Empty(isolate);
  for (int i = from; i < to; i++) {
    v8::Local<v8::StackFrame> f = trace->GetFrame(isolate, i);
    v8::Local<v8::String> fn = f->GetFunctionName();
    v8::Local<v8::String> script = f->GetScriptNameOrSourceURL();
    v8::Local<v8::Value> items[] = {
        fn.IsEmpty() ? empty : fn, script.IsEmpty() ? empty : script,
        v8::Integer::New(isolate, f->GetLineNumber()),
        v8::Integer::New(isolate, f->GetColumn())};
    rows.push_back(v8::Array::New(isolate, items, 4));
  }
  return v8::Array::New(isolate, rows.data(), rows.size());
}

}  // namespace tk
