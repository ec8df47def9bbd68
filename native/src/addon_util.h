// Helpers shared by every file that defines JS bindings, and the process-global link
// registry. Links live here, addressed by integer ids, so any worker thread that loads
// the addon reaches the same links; each call holds a reference for its duration.
//
// Other link kinds (xdp, packet, tap) add their JS functions without editing addon.cc:
//   static msh::js::RegisterBindings reg([](Napi::Env env, Napi::Object exports) {
//     exports.Set("createXdpLink", Napi::Function::New(env, CreateXdpLink));
//   });
// and register their Link with msh::js::register_link().
#pragma once
#include <napi.h>

#include <memory>

#include "link.h"

namespace msh::js {

using Registrar = void (*)(Napi::Env env, Napi::Object exports);
struct RegisterBindings {
  explicit RegisterBindings(Registrar r);
};

// Registry (any thread).
uint32_t register_link(std::shared_ptr<Link> link);
std::shared_ptr<Link> find_link(uint32_t id);
std::shared_ptr<Link> unregister_link(uint32_t id);
// Data-path lookup without the registry lock or a reference count per call: the link is
// kept in a per-thread cache, revalidated against a generation counter that changes on
// every unregister. The pointer is valid until this thread's next lookup (a destroyed
// link's memory is held by the cache until then; shutdown() has already stopped it).
Link* find_link_cached(uint32_t id);

// Throws a JS Error with `code` (errno name, e.g. 'EADDRINUSE'), `errno` (negative, as
// Node does) and `syscall` (if non-empty). Returns undefined for `return throw_...`.
Napi::Value throw_errno(Napi::Env env, int err, const char* syscall, const char* message);
// The same Error, not thrown yet (to add fields).
Napi::Error errno_error(Napi::Env env, int err, const char* syscall, const char* message);
// Throws from a native failure code (negative errno) and the thread's last error.
Napi::Value throw_last_error(Napi::Env env, int rc);
// TypeError with code 'ERR_INVALID_ARG_TYPE' / RangeError 'ERR_OUT_OF_RANGE'.
Napi::Value throw_type(Napi::Env env, const char* message);
Napi::Value throw_range(Napi::Env env, const char* message);

// Argument readers: false after throwing.
bool arg_u32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out);
bool arg_i32(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out);
bool arg_bytes(const Napi::CallbackInfo& info, size_t i, const char* name, const uint8_t** data,
               size_t* len);  // Uint8Array / Buffer / any TypedArray / ArrayBuffer
// Looks the link up and throws ENOENT if unknown.
std::shared_ptr<Link> arg_link(const Napi::CallbackInfo& info, size_t i);
// Same through find_link_cached (data-path calls): valid until the thread's next lookup.
Link* arg_link_cached(const Napi::CallbackInfo& info, size_t i);

}  // namespace msh::js
