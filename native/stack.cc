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
      .ToLocalChecked();
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
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Array> arr = v8::Array::New(isolate, frames.size());
  for (size_t i = 0; i < frames.size(); i++) {
    const Frame& f = frames[i];
    v8::Local<v8::Value> items[] = {
        Str(isolate, f.function), Str(isolate, f.script),
        v8::Integer::New(isolate, f.line), v8::Integer::New(isolate, f.column)};
    arr->Set(context, static_cast<uint32_t>(i), v8::Array::New(isolate, items, 4))
        .FromMaybe(false);  // cannot fail on a fresh array; never abort on it
  }
  return arr;
}

v8::Local<v8::Array> TraceToArray(v8::Isolate* isolate,
                                  v8::Local<v8::StackTrace> trace, int from,
                                  int to) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  to = std::min(to, trace->GetFrameCount());
  v8::Local<v8::Array> arr = v8::Array::New(isolate, std::max(0, to - from));
  v8::Local<v8::String> empty = v8::String::Empty(isolate);
  for (int i = from; i < to; i++) {
    v8::Local<v8::StackFrame> f = trace->GetFrame(isolate, i);
    v8::Local<v8::String> fn = f->GetFunctionName();
    v8::Local<v8::String> script = f->GetScriptNameOrSourceURL();
    v8::Local<v8::Value> items[] = {
        fn.IsEmpty() ? empty : fn, script.IsEmpty() ? empty : script,
        v8::Integer::New(isolate, f->GetLineNumber()),
        v8::Integer::New(isolate, f->GetColumn())};
    arr->Set(context, static_cast<uint32_t>(i - from), v8::Array::New(isolate, items, 4))
        .FromMaybe(false);  // cannot fail on a fresh array; never abort on it
  }
  return arr;
}

}  // namespace tk
