// Thread registration, reservations and teardown (see registry.h).
#pragma once

#include <string>

#include "registry.h"

namespace tk {

// Registers the calling thread (idempotent). Returns null if the context has
// no Node environment.
Entry* RegisterCurrentThread(v8::Isolate* isolate, int64_t thread_id,
                             bool is_main, const std::string& name,
                             v8::Local<v8::Function> event_handler);

// KillableWorker: make `thread_id` known before its thread registers, so a
// kill aimed at it is remembered and lands at registration. False if the id
// is already known (registered, reserved or dead).
bool ReserveThread(int64_t thread_id, int64_t reserved_by, const std::string& name);

// The reserved thread exited without registering. False if not a reservation.
bool ReleaseReservation(int64_t thread_id);

}  // namespace tk
