// JS entry points of msh_native (typed in native/index.d.ts, loaded by host/src/native.ts).
//
// Control functions throw Errors with `code`/`errno`/`syscall`. Data-path functions
// (rxToGuest, txFromGuest) return a count >= 0, or a negative code when the guest's ring
// is corrupt (message in lastError()); they throw only for caller bugs (bad argument,
// unknown link or port). Everything may be called from any worker_thread: the links are
// process-global (addon_util.h).
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <vector>

#include "addon_util.h"
#include "backends/switch.h"
#include "bench_reference.h"
#include "errors.h"
#include "frame.h"
#include "guest_ring.h"
#include "link.h"

namespace msh::js {

void run_registrars(Napi::Env env, Napi::Object exports);

namespace {

using Napi::CallbackInfo;
using Napi::Value;

// --- small helpers -----------------------------------------------------------------------

bool opt_u32(Napi::Object o, const char* key, uint32_t lo, uint32_t hi, uint32_t* out) {
  Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) {
    throw_type(o.Env(), (std::string("option ") + key + " must be a number").c_str());
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != std::floor(d)) {
    throw_range(o.Env(), (std::string("option ") + key + " must be an integer in " +
                          std::to_string(lo) + ".." + std::to_string(hi))
                             .c_str());
    return false;
  }
  *out = uint32_t(d);
  return true;
}

bool opt_double(Napi::Object o, const char* key, double lo, double hi, double* out) {
  Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() >= lo) ||
      !(v.As<Napi::Number>().DoubleValue() <= hi)) {
    throw_range(o.Env(), (std::string("option ") + key + " out of range").c_str());
    return false;
  }
  *out = v.As<Napi::Number>().DoubleValue();
  return true;
}

bool arg_memory(const CallbackInfo& info, size_t i, GuestMemory* m) {
  Value v = info[i];
  if (!v.IsArrayBuffer()) {
    throw_type(info.Env(), "memory must be an ArrayBuffer (the guest's memory.buffer)");
    return false;
  }
  Napi::ArrayBuffer b = v.As<Napi::ArrayBuffer>();
  m->data = static_cast<uint8_t*>(b.Data());
  m->size = m->data ? b.ByteLength() : 0;  // a detached buffer has no data
  return true;
}

// (proto, addr, port) from args i..i+2.
bool arg_tuple(const CallbackInfo& info, size_t i, TupleKey* key) {
  uint32_t proto, port;
  const uint8_t* addr;
  size_t alen;
  if (!arg_u32(info, i, "proto", &proto) || !arg_bytes(info, i + 1, "addr", &addr, &alen) ||
      !arg_u32(info, i + 2, "port", &port))
    return false;
  if (proto != kProtoTcp && proto != kProtoUdp) {
    throw_range(info.Env(), "proto must be 6 (tcp) or 17 (udp)");
    return false;
  }
  if (alen != 4 && alen != 16) {
    throw_range(info.Env(), "addr must be 4 (IPv4) or 16 (IPv6) bytes");
    return false;
  }
  if (port == 0 || port > 65535) {
    throw_range(info.Env(), "port must be 1..65535");
    return false;
  }
  *key = make_tuple_key(uint8_t(proto), addr, uint32_t(alen), uint16_t(port));
  return true;
}

// For calls that use the backend outside a port's data path: holds the link open.
#define MSH_LINK_CALL(env, l)                                          \
  Link::Call link_call_(*(l));                                         \
  if (!link_call_) return throw_errno((env), ENOENT, "", "link is closed")

SwitchBackend* switch_of(const CallbackInfo& info, Link* l) {
  auto* sw = dynamic_cast<SwitchBackend*>(&l->backend());
  if (!sw) throw_errno(info.Env(), EINVAL, "", "link is not a switch link");
  return sw;
}

Napi::Uint8Array copy_bytes(Napi::Env env, const uint8_t* d, size_t len) {
  Napi::Uint8Array a = Napi::Uint8Array::New(env, len);
  if (len) std::memcpy(a.Data(), d, len);
  return a;
}

Napi::Uint8Array address_bytes(Napi::Env env, const uint8_t a[16], bool v4) {
  return v4 ? copy_bytes(env, a + 12, 4) : copy_bytes(env, a, 16);
}

// --- links and ports ---------------------------------------------------------------------

Value CreateSwitchLink(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) return throw_type(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value macv = o.Get("mac");
  if (!macv.IsTypedArray() || macv.As<Napi::TypedArray>().ByteLength() != 6)
    return throw_type(env, "options.mac must be a Uint8Array of 6 bytes");
  napi_typedarray_type t;
  size_t n;
  void* p = nullptr;
  napi_get_typedarray_info(env, macv, &t, &n, &p, nullptr, nullptr);
  if (!p) return throw_type(env, "options.mac is detached");
  const uint8_t* mac = static_cast<const uint8_t*>(p);
  uint32_t mtu = 1500;
  SwitchOptions so;
  if (!opt_u32(o, "mtu", 68, 9000, &mtu) || !opt_u32(o, "portQueue", 1, 65536, &so.port_queue) ||
      !opt_u32(o, "kernelQueue", 1, 65536, &so.kernel_queue) ||
      !opt_u32(o, "wireQueue", 1, 65536, &so.wire_queue))
    return env.Undefined();
  auto link = std::make_shared<Link>(mac, mtu);
  const int rc = link->attach_backend(std::make_unique<SwitchBackend>(so));
  if (rc < 0) return throw_last_error(env, rc);
  return Napi::Number::New(env, register_link(std::move(link)));
}

Value DestroyLink(const CallbackInfo& info) {
  uint32_t id;
  if (!arg_u32(info, 0, "linkId", &id)) return info.Env().Undefined();
  auto l = unregister_link(id);
  if (!l) {
    std::string m = "link " + std::to_string(id) + " does not exist";
    return throw_errno(info.Env(), ENOENT, "", m.c_str());
  }
  // Stops the ports (waking blocked waiters), waits for calls in flight and destroys the
  // backend now; the Link object itself goes when the last reference does.
  l->close();
  return info.Env().Undefined();
}

Value AddPort(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  if (!l) return info.Env().Undefined();
  uint32_t id;
  const int rc = l->add_port(&id);
  if (rc < 0) return throw_last_error(info.Env(), rc);
  return Napi::Number::New(info.Env(), id);
}

Value RemovePort(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  uint32_t port;
  if (!l || !arg_u32(info, 1, "portId", &port)) return info.Env().Undefined();
  const int rc = l->remove_port(port);
  if (rc < 0) return throw_last_error(info.Env(), rc);
  return info.Env().Undefined();
}

Value ParkPort(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  uint32_t port;
  if (!l || !arg_u32(info, 1, "portId", &port)) return info.Env().Undefined();
  const int rc = l->park_port(port, info.Length() > 2 && info[2].ToBoolean().Value());
  if (rc < 0) return throw_last_error(info.Env(), rc);
  return info.Env().Undefined();
}

Value Claim(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  uint32_t port;
  TupleKey key;
  if (!l || !arg_u32(info, 1, "portId", &port) || !arg_tuple(info, 2, &key))
    return info.Env().Undefined();
  const int rc = l->claim(port, key);
  if (rc == -EADDRINUSE) {
    // `ownerPort`: which port holds the tuple, for the caller's own message.
    Napi::Error e = errno_error(info.Env(), EADDRINUSE, "", last_error().message);
    e.Set("ownerPort", Napi::Number::New(info.Env(), l->classifier().owner_of(key)));
    e.ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (rc < 0) return throw_last_error(info.Env(), rc);
  return info.Env().Undefined();
}

Value Release(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  uint32_t port;
  TupleKey key;
  if (!l || !arg_u32(info, 1, "portId", &port) || !arg_tuple(info, 2, &key))
    return info.Env().Undefined();
  const int rc = l->release(port, key);
  if (rc < 0) return throw_last_error(info.Env(), rc);
  return info.Env().Undefined();
}

Value Tuples(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  uint32_t port;
  if (!l || !arg_u32(info, 1, "portId", &port)) return env.Undefined();
  auto keys = l->classifier().tuples_of(port);
  Napi::Array a = Napi::Array::New(env, keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("proto", keys[i].proto);
    o.Set("addr", address_bytes(env, keys[i].addr, keys[i].is_v4()));
    o.Set("port", keys[i].port);
    a.Set(uint32_t(i), o);
  }
  return a;
}

Value SetPcap(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  uint32_t port;
  if (!l || !arg_u32(info, 1, "portId", &port)) return env.Undefined();
  std::string path;
  if (info[2].IsString())
    path = info[2].As<Napi::String>().Utf8Value();
  else if (!info[2].IsNull() && !info[2].IsUndefined())
    return throw_type(env, "path must be a string or null");
  const int rc = l->set_pcap(port, path.empty() ? nullptr : path.c_str());
  if (rc < 0) return throw_last_error(env, rc);
  return env.Undefined();
}

Value SetTxRate(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  uint32_t port, rate;
  if (!l || !arg_u32(info, 1, "portId", &port) || !arg_u32(info, 2, "framesPerSecond", &rate))
    return env.Undefined();
  const int rc = l->set_tx_rate(port, rate);
  if (rc < 0) return throw_last_error(env, rc);
  return env.Undefined();
}

void put_extra(Napi::Object o, Backend& be, uint32_t scope) {
  const char* names[32];
  uint64_t values[32];
  const size_t n = be.extra_counters(scope, names, values, 32);
  for (size_t i = 0; i < n; ++i) o.Set(names[i], Napi::Number::New(o.Env(), double(values[i])));
}

Value Counters(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  uint32_t port;
  if (!l || !arg_u32(info, 1, "portId", &port)) return env.Undefined();
  MSH_LINK_CALL(env, l);
  Port* p = l->port_for_stats(port);
  if (!p || p->state.load() != Port::kActive) {
    std::string m = "port " + std::to_string(port) + " does not exist";
    return throw_errno(env, ENOENT, "", m.c_str());
  }
  Napi::Object o = Napi::Object::New(env);
#define X(n) o.Set(#n, Napi::Number::New(env, double(p->counters.n.load(std::memory_order_relaxed))));
  MSH_PORT_COUNTERS(X)
#undef X
  put_extra(o, l->backend(), port);
  return o;
}

Value LinkCountersFn(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  if (!l) return env.Undefined();
  MSH_LINK_CALL(env, l);
  Napi::Object o = Napi::Object::New(env);
  LinkCounters& c = l->counters();
#define X(n) o.Set(#n, Napi::Number::New(env, double(c.n.load(std::memory_order_relaxed))));
  MSH_LINK_COUNTERS(X)
#undef X
  put_extra(o, l->backend(), Backend::kLinkScope);
  o.Set("tuples", Napi::Number::New(env, double(l->classifier().size())));
  return o;
}

// --- data path ---------------------------------------------------------------------------

// rxToGuest / txFromGuest(linkId, portId, memory, ringOffset, max?): the same arguments,
// one Link method each. Returns frames moved, or a negative ring error (the stack's fault:
// the worker fails it); a port that is gone throws.
using RingCall = int (Link::*)(uint32_t, const GuestMemory&, uint32_t, uint32_t);
Value GuestRingCall(const CallbackInfo& info, RingCall call) {
  Napi::Env env = info.Env();
  Link* l = arg_link_cached(info, 0);
  uint32_t port, off, max = UINT32_MAX;
  GuestMemory m;
  if (!l || !arg_u32(info, 1, "portId", &port) || !arg_memory(info, 2, &m) ||
      !arg_u32(info, 3, "ringOffset", &off) ||
      (!info[4].IsUndefined() && !arg_u32(info, 4, "max", &max)))
    return env.Undefined();
  const int rc = (l->*call)(port, m, off, max);
  if (rc == -ENOENT) return throw_last_error(env, rc);
  return Napi::Number::New(env, rc);
}

Value RxToGuest(const CallbackInfo& info) { return GuestRingCall(info, &Link::rx_to_guest); }
Value TxFromGuest(const CallbackInfo& info) { return GuestRingCall(info, &Link::tx_from_guest); }

Value CheckRing(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  GuestMemory m;
  uint32_t off;
  if (!arg_memory(info, 0, &m) || !arg_u32(info, 1, "ringOffset", &off)) return env.Undefined();
  std::string which = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "ring";
  return Napi::Number::New(env, ring_check_all(m, off, which.c_str()));
}

Value Wait(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  Link* l = arg_link_cached(info, 0);
  uint32_t port;
  int32_t timeout;
  if (!l || !arg_u32(info, 1, "portId", &port) || !arg_i32(info, 2, "timeoutMs", &timeout))
    return env.Undefined();
  const int rc = l->wait(port, timeout);
  if (rc < 0) return throw_last_error(env, rc);
  return Napi::Number::New(env, rc);
}

Value Wake(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  uint32_t port;
  if (!l || !arg_u32(info, 1, "portId", &port)) return info.Env().Undefined();
  l->wake(port);
  return info.Env().Undefined();
}

Value LastError(const CallbackInfo& info) {
  return Napi::String::New(info.Env(), last_error().message);
}

// --- switch ------------------------------------------------------------------------------

Value SwitchInject(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  if (!l) return env.Undefined();
  MSH_LINK_CALL(env, l);
  SwitchBackend* sw = switch_of(info, &*l);
  if (!sw) return env.Undefined();
  if (!info[1].IsArray()) return throw_type(env, "frames must be an array of Uint8Array");
  Napi::Array arr = info[1].As<Napi::Array>();
  const uint32_t n = arr.Length();
  std::vector<FrameRef> refs;
  refs.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Value v = arr.Get(i);
    if (!v.IsTypedArray()) return throw_type(env, "frames must be an array of Uint8Array");
    napi_typedarray_type t;
    size_t len;
    void* p;
    napi_get_typedarray_info(env, v, &t, &len, &p, nullptr, nullptr);
    const size_t bytes = v.As<Napi::TypedArray>().ByteLength();
    if (bytes > UINT32_MAX) return throw_range(env, "frame too large");
    refs.push_back(FrameRef{static_cast<const uint8_t*>(p), p ? uint32_t(bytes) : 0});
  }
  // The arrays stay alive (and undetached) for the duration of this call.
  uint32_t queued = 0;
  for (uint32_t i = 0; i < n; i += kBatch)
    queued += sw->inject(refs.data() + i, std::min<uint32_t>(kBatch, n - i));
  return Napi::Number::New(env, queued);
}

Value SwitchGenerate(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  Link* l = arg_link_cached(info, 0);
  const uint8_t* d;
  size_t len;
  uint32_t count;
  if (!l || !arg_bytes(info, 1, "template", &d, &len) || !arg_u32(info, 2, "count", &count))
    return env.Undefined();
  MSH_LINK_CALL(env, l);
  SwitchBackend* sw = switch_of(info, &*l);
  if (!sw) return env.Undefined();
  if (len > UINT32_MAX) return throw_range(env, "frame too large");
  return Napi::Number::New(env, sw->generate(d, uint32_t(len), count));
}

Value Drain(const CallbackInfo& info, bool wire) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  uint32_t max = UINT32_MAX;
  if (!l || (!info[1].IsUndefined() && !arg_u32(info, 1, "max", &max))) return env.Undefined();
  MSH_LINK_CALL(env, l);
  SwitchBackend* sw = switch_of(info, &*l);
  if (!sw) return env.Undefined();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  FrameSink sink = [&](const uint8_t* d, uint32_t len) {
    out.Set(i++, copy_bytes(env, d, len));
    return true;
  };
  if (wire)
    sw->drain_wire(max, sink);
  else
    sw->drain_kernel(max, sink);
  return out;
}
Value SwitchDrainKernel(const CallbackInfo& info) { return Drain(info, false); }
Value SwitchDrainWire(const CallbackInfo& info) { return Drain(info, true); }

Value SwitchSetWireDiscard(const CallbackInfo& info) {
  auto l = arg_link(info, 0);
  if (!l) return info.Env().Undefined();
  MSH_LINK_CALL(info.Env(), l);
  SwitchBackend* sw = switch_of(info, &*l);
  if (!sw) return info.Env().Undefined();
  sw->set_wire_discard(info[1].ToBoolean().Value());
  return info.Env().Undefined();
}

// --- diagnostics -------------------------------------------------------------------------

Value ParseFrame(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* d;
  size_t len;
  if (!arg_bytes(info, 0, "frame", &d, &len)) return env.Undefined();
  ParsedFrame f;
  parse_frame(d, uint32_t(std::min<size_t>(len, UINT32_MAX)), f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("status", parse_status_name(f.status));
  o.Set("ethertype", f.ethertype);
  o.Set("vlan", f.has_vlan ? Value(Napi::Number::New(env, f.vlan_tci & 0x0fff)) : env.Null());
  o.Set("ipVersion", f.ip_version);
  if (f.ip_version) {
    o.Set("proto", f.proto);
    o.Set("src", address_bytes(env, f.src, f.ip_version == 4));
    o.Set("dst", address_bytes(env, f.dst, f.ip_version == 4));
    o.Set("l3Offset", f.l3_off);
    o.Set("l3End", f.l3_end);
    o.Set("l4Offset", f.l4_off);
  }
  o.Set("hasPorts", f.has_ports);
  if (f.has_ports) {
    o.Set("srcPort", f.sport);
    o.Set("dstPort", f.dport);
  }
  if (f.is_fragment()) {
    Napi::Object fr = Napi::Object::New(env);
    fr.Set("id", f.frag_id);
    fr.Set("offset", f.frag_offset);
    fr.Set("more", bool(f.frag & kFragMore));
    o.Set("fragment", fr);
  } else {
    o.Set("fragment", env.Null());
  }
  return o;
}

Value ClassifyRx(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  const uint8_t* d;
  size_t len;
  if (!l || !arg_bytes(info, 1, "frame", &d, &len)) return env.Undefined();
  Classifier::Reader r(l->classifier());
  ParsedFrame f;
  bool bad;
  return Napi::Number::New(
      env, r.rx_frame_owner(d, uint32_t(std::min<size_t>(len, UINT32_MAX)), f, &bad));
}

Value TxCheck(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto l = arg_link(info, 0);
  uint32_t port;
  const uint8_t* d;
  size_t len;
  if (!l || !arg_u32(info, 1, "portId", &port) || !arg_bytes(info, 2, "frame", &d, &len))
    return env.Undefined();
  Classifier::Reader r(l->classifier());
  ParsedFrame f;
  const TxVerdict v = r.tx_validate(port, d, uint32_t(std::min<size_t>(len, UINT32_MAX)),
                                    l->mac(), l->mtu(), f);
  return Napi::String::New(env, tx_verdict_name(v));
}

Value BenchReference(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  BenchOptions o;
  if (info[0].IsObject()) {
    Napi::Object a = info[0].As<Napi::Object>();
    if (!opt_double(a, "seconds", 0.001, 3600, &o.seconds) ||
        !opt_u32(a, "frameSize", 42, 1514, &o.frame_size) ||
        !opt_u32(a, "batch", 1, kRingMaxSlots, &o.batch) ||
        !opt_u32(a, "numSlots", 1, kRingMaxSlots, &o.num_slots) ||
        !opt_u32(a, "bufStride", kRingMinSlotSize, 65536, &o.buf_stride))
      return env.Undefined();
  }
  BenchResult r;
  const int rc = bench_reference(o, &r);
  if (rc < 0) return throw_last_error(env, rc);
  Napi::Object out = Napi::Object::New(env);
  out.Set("mpps", r.mpps);
  out.Set("frames", double(r.frames));
  out.Set("seconds", r.seconds);
  out.Set("nsPerFrame", r.ns_per_frame);
  out.Set("dropped", double(r.dropped));
  return out;
}

Value BenchUdpFrame(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* mac;
  size_t maclen;
  uint32_t size = 64;
  if (!arg_bytes(info, 0, "mac", &mac, &maclen) ||
      (!info[1].IsUndefined() && !arg_u32(info, 1, "size", &size)))
    return env.Undefined();
  if (maclen != 6) return throw_range(env, "mac must be 6 bytes");
  if (size < 42 || size > 1514) return throw_range(env, "size must be 42..1514");
  Napi::Uint8Array a = Napi::Uint8Array::New(env, size);
  bench_udp_frame(a.Data(), size, mac);
  return a;
}

}  // namespace

}  // namespace msh::js

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace msh::js;
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name));
  };
  fn("createSwitchLink", CreateSwitchLink);
  fn("destroyLink", DestroyLink);
  fn("addPort", AddPort);
  fn("removePort", RemovePort);
  fn("parkPort", ParkPort);
  fn("claim", Claim);
  fn("release", Release);
  fn("tuples", Tuples);
  fn("setPcap", SetPcap);
  fn("counters", Counters);
  fn("linkCounters", LinkCountersFn);
  fn("rxToGuest", RxToGuest);
  fn("txFromGuest", TxFromGuest);
  fn("setTxRate", SetTxRate);
  fn("checkRing", CheckRing);
  fn("wait", Wait);
  fn("wake", Wake);
  fn("lastError", LastError);
  fn("switchInject", SwitchInject);
  fn("switchGenerate", SwitchGenerate);
  fn("switchDrainKernel", SwitchDrainKernel);
  fn("switchDrainWire", SwitchDrainWire);
  fn("switchSetWireDiscard", SwitchSetWireDiscard);
  fn("parseFrame", ParseFrame);
  fn("classifyRx", ClassifyRx);
  fn("txCheck", TxCheck);
  fn("benchReference", BenchReference);
  fn("benchUdpFrame", BenchUdpFrame);
  run_registrars(env, exports);
  return exports;
}

NODE_API_MODULE(msh_native, Init)
