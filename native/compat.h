// Every difference between the Node/V8 versions we build against, in one
// place: the rest of native/ calls these and never tests a version itself.
// Supported: Node 20 (V8 11.3), 22 (V8 12.4), 24 (V8 13.6), 26 (V8 14.6).
// Adding a Node major means: build on it with -Werror-free output, and when a
// V8 API changed, add the shim here (never an #if at a call site).
#pragma once

#include <node_version.h>
#include <v8-version.h>
#include <v8.h>

#include <cstdint>

// The ABI this file was compiled for. The loader reads it from the binary
// before dlopen (see kAbiMarker in addon.cc) and Init compares it with the
// running Node's; both must agree or the binary is refused.
#define TK_NODE_MODULE_VERSION NODE_MODULE_VERSION

// V8 14.3 added type tags to v8::External (a sandbox defence against one
// C++ type being read as another) and deprecated the untagged New/Value.
#define TK_V8_HAS_EXTERNAL_TAGS \
  (V8_MAJOR_VERSION > 14 || (V8_MAJOR_VERSION == 14 && V8_MINOR_VERSION >= 3))

// V8 13 added String::WriteV2 (and deprecated Write, which V8 14 removed).
#define TK_V8_HAS_WRITE_V2 (V8_MAJOR_VERSION >= 13)

namespace tk {

// One tag per C++ type we wrap (V8 allows 0..V8_EXTERNAL_POINTER_TAG_COUNT-1;
// 0 is V8's default, so ours start above it). Ignored before V8 14.3.
enum ExternalTag : uint16_t {
  kExternalRegionStack = 1,    // region.h RegionStack, bound to runRegion
  kExternalCapturedTrace = 2,  // region.cc CapturedTrace, a factory's `trace`
};

inline v8::Local<v8::External> NewExternal(v8::Isolate* isolate, void* value, ExternalTag tag) {
#if TK_V8_HAS_EXTERNAL_TAGS
  return v8::External::New(isolate, value, tag);
#else
  (void)tag;
  return v8::External::New(isolate, value);
#endif
}

inline void* ExternalValue(v8::Local<v8::External> external, ExternalTag tag) {
#if TK_V8_HAS_EXTERNAL_TAGS
  return external->Value(tag);
#else
  (void)tag;
  return external->Value();
#endif
}

// Copies all of `text`'s UTF-16 units into `buffer` (text->Length() of them).
inline void WriteUtf16(v8::Isolate* isolate, v8::Local<v8::String> text, uint16_t* buffer) {
#if TK_V8_HAS_WRITE_V2
  text->WriteV2(isolate, 0, static_cast<uint32_t>(text->Length()), buffer);
#else
  text->Write(isolate, buffer, 0, text->Length(), v8::String::NO_NULL_TERMINATION);
#endif
}

}  // namespace tk
