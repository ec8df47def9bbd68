#include "addon_util.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "errors.h"

namespace msh::js {

static std::vector<Registrar>& registrars() {
  static std::vector<Registrar> r;
  return r;
}
RegisterBindings::RegisterBindings(Registrar r) { registrars().push_back(r); }
void run_registrars(Napi::Env env, Napi::Object exports) {
  for (Registrar r : registrars()) r(env, exports);
}

namespace {
std::mutex g_mu;
std::unordered_map<uint32_t, std::shared_ptr<Link>> g_links;
uint32_t g_next_id = 1;
std::atomic<uint64_t> g_generation{1};  // bumped by every unregister_link

struct LinkCache {
  uint32_t id = 0;
  uint64_t generation = 0;
  std::shared_ptr<Link> link;
};
thread_local LinkCache t_cache;
}  // namespace

uint32_t register_link(std::shared_ptr<Link> link) {
  std::lock_guard<std::mutex> lk(g_mu);
  while (g_links.count(g_next_id) || g_next_id == 0) ++g_next_id;
  const uint32_t id = g_next_id++;
  g_links.emplace(id, std::move(link));
  return id;
}

std::shared_ptr<Link> find_link(uint32_t id) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_links.find(id);
  return it == g_links.end() ? nullptr : it->second;
}

std::shared_ptr<Link> unregister_link(uint32_t id) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_links.find(id);
  if (it == g_links.end()) return nullptr;
  auto l = std::move(it->second);
  g_links.erase(it);
  g_generation.fetch_add(1, std::memory_order_release);
  return l;
}

Link* find_link_cached(uint32_t id) {
  LinkCache& c = t_cache;
  const uint64_t gen = g_generation.load(std::memory_order_acquire);
  if (c.link && c.id == id && c.generation == gen) return c.link.get();
  c.link = find_link(id);
  c.id = id;
  c.generation = gen;
  return c.link.get();
}

Napi::Error errno_error(Napi::Env env, int err, const char* syscall, const char* message) {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, message);
  const char* name = err ? strerrorname_np(err) : nullptr;
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  if (syscall && *syscall) e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Value throw_errno(Napi::Env env, int err, const char* syscall, const char* message) {
  errno_error(env, err, syscall, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value throw_last_error(Napi::Env env, int rc) {
  const ErrorInfo& li = last_error();
  const int err = li.err ? li.err : (rc < 0 ? -rc : EIO);
  const char* msg = li.message[0] ? li.message : strerror(err);
  return throw_errno(env, err, li.syscall, msg);
}

static Napi::Value throw_coded(Napi::Error e, const char* code) {
  e.Set("code", Napi::String::New(e.Env(), code));
  e.ThrowAsJavaScriptException();
  return e.Env().Undefined();
}
Napi::Value throw_type(Napi::Env env, const char* message) {
  return throw_coded(Napi::TypeError::New(env, message), "ERR_INVALID_ARG_TYPE");
}
Napi::Value throw_range(Napi::Env env, const char* message) {
  return throw_coded(Napi::RangeError::New(env, message), "ERR_OUT_OF_RANGE");
}

bool arg_u32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    std::string m = std::string(name) + " must be a number";
    throw_type(info.Env(), m.c_str());
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != double(uint32_t(d))) {
    std::string m = std::string(name) + " must be an integer in 0..2^32-1";
    throw_range(info.Env(), m.c_str());
    return false;
  }
  *out = uint32_t(d);
  return true;
}

bool arg_i32(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    std::string m = std::string(name) + " must be a number";
    throw_type(info.Env(), m.c_str());
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != double(int32_t(d))) {
    std::string m = std::string(name) + " must be a 32-bit integer";
    throw_range(info.Env(), m.c_str());
    return false;
  }
  *out = int32_t(d);
  return true;
}

bool arg_bytes(const Napi::CallbackInfo& info, size_t i, const char* name, const uint8_t** data,
               size_t* len) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    napi_typedarray_type type;
    size_t length;
    void* p;
    if (napi_get_typedarray_info(info.Env(), v, &type, &length, &p, nullptr, nullptr) ==
        napi_ok) {
      *data = static_cast<const uint8_t*>(p);
      *len = v.As<Napi::TypedArray>().ByteLength();
      if (!*data) *len = 0;  // detached
      return true;
    }
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer b = v.As<Napi::ArrayBuffer>();
    *data = static_cast<const uint8_t*>(b.Data());
    *len = b.ByteLength();
    return true;
  }
  std::string m = std::string(name) + " must be a Uint8Array";
  throw_type(info.Env(), m.c_str());
  return false;
}

Link* arg_link_cached(const Napi::CallbackInfo& info, size_t i) {
  uint32_t id;
  if (!arg_u32(info, i, "linkId", &id)) return nullptr;
  Link* l = find_link_cached(id);
  if (!l) {
    char m[64];
    snprintf(m, sizeof m, "link %u does not exist", id);
    throw_errno(info.Env(), ENOENT, "", m);
  }
  return l;
}

std::shared_ptr<Link> arg_link(const Napi::CallbackInfo& info, size_t i) {
  uint32_t id;
  if (!arg_u32(info, i, "linkId", &id)) return nullptr;
  auto l = find_link(id);
  if (!l) {
    char m[64];
    snprintf(m, sizeof m, "link %u does not exist", id);
    throw_errno(info.Env(), ENOENT, "", m);
  }
  return l;
}

}  // namespace msh::js
