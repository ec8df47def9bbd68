// JS bindings of the fallback backends, AF_PACKET and TAP (registered through
// msh::js::RegisterBindings, so addon.cc needs no edit). Links are destroyed with the
// common destroyLink(linkId); ports, claims, rxToGuest/txFromGuest, wait/wake and
// counters are the common functions too.
//
//   createPacketLink({ ifname, mac?, mtu?, blockSize?, blockCount?, blockTimeoutMs?,
//                      qdiscBypass?, txSndbuf?, portQueueBytes?, gso? }) -> linkId
//     ifname          interface in the calling process's network namespace
//     mac             Uint8Array(6); default: the interface's MAC
//     mtu             IP MTU; default: the interface's MTU
//     blockSize       TPACKET_V3 block bytes (power of two >= page), default 1 MiB
//     blockCount      ring blocks, default 16
//     blockTimeoutMs  a partly filled block is handed over after this long, default 1
//     qdiscBypass     PACKET_QDISC_BYPASS on the TX sockets, default false (keeps the
//                     qdisc and tcpdump's view of msh's transmissions)
//     txSndbuf        SO_SNDBUF of each port's TX socket, default 4 MiB
//     portQueueBytes  RX queue per port, default 4 MiB (frames up to a quarter of it)
//     gso             send runs of segments as GSO packets (native/src/gso.h), default true
//   The kernel also receives every frame: the host must install the nft drop rules
//   (host/src/backends/nft.ts) for owned tuples.
//
//   packetLinkInfo(linkId) -> { backend: 'packet', ifname, ifindex, ioError,
//                               counters: { ring_packets, ring_drops, ... } }
//
//   createTapLink({ tapName, mac, mtu?, portQueueBytes? }) -> linkId
//     tapName         device name (1..15 bytes; "%d" lets the kernel number it)
//     mac             Uint8Array(6): the stacks' MAC (not the tap device's own MAC,
//                     which is the kernel's end of the segment)
//     mtu             IP MTU, default 1500 (the host sets the device's MTU to match)
//   The device exists while the link does (or until the process dies).
//
//   tapLinkInfo(linkId) -> { backend: 'tap', ifname, ifindex, ioError, counters }
//
// Errors: Error with code/errno/syscall (ENODEV no such interface, EPERM not root,
// EBUSY tap name taken, ...).
#include <napi.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "addon_util.h"
#include "backends/packet.h"
#include "backends/tap.h"
#include "errors.h"

namespace {

using Napi::CallbackInfo;
using Napi::Value;

// Optional unsigned option in [lo, hi]; false after throwing.
bool opt_u64(Napi::Object o, const char* fn, const char* key, double lo, double hi,
             uint64_t* out) {
  Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= lo && d <= hi) || d != std::floor(d)) {
    std::string m = std::string(fn) + ": option " + key + " must be an integer in " +
                    std::to_string(uint64_t(lo)) + ".." + std::to_string(uint64_t(hi));
    msh::js::throw_range(o.Env(), m.c_str());
    return false;
  }
  *out = uint64_t(d);
  return true;
}

bool opt_mac(Napi::Object o, const char* fn, uint8_t mac[6], bool* given) {
  Value v = o.Get("mac");
  *given = false;
  if (v.IsUndefined()) return true;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().ByteLength() != 6) {
    std::string m = std::string(fn) + ": mac must be a Uint8Array of 6 bytes";
    msh::js::throw_type(o.Env(), m.c_str());
    return false;
  }
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  const uint8_t* p = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  std::memcpy(mac, p, 6);
  *given = true;
  return true;
}

// The interface's MAC and MTU. 0 or -errno.
int read_if(const std::string& ifname, uint8_t mac[6], uint32_t* mtu) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ifreq ifr{};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  int rc = 0;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
    std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  else
    rc = -errno;
  if (!rc) {
    if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
      *mtu = uint32_t(ifr.ifr_mtu);
    else
      rc = -errno;
  }
  close(fd);
  return rc;
}

Napi::Object counters_object(Napi::Env env, msh::Backend& be) {
  const char* names[32];
  uint64_t values[32];
  const size_t n = be.extra_counters(msh::Backend::kLinkScope, names, values, 32);
  Napi::Object c = Napi::Object::New(env);
  for (size_t i = 0; i < n; ++i) c.Set(names[i], Napi::Number::New(env, double(values[i])));
  return c;
}

Value CreatePacketLink(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* fn = "createPacketLink";
  if (info.Length() < 1 || !info[0].IsObject())
    return msh::js::throw_type(env, "createPacketLink: expected an options object { ifname, ... }");
  Napi::Object o = info[0].As<Napi::Object>();
  Value ifv = o.Get("ifname");
  if (!ifv.IsString()) return msh::js::throw_type(env, "createPacketLink: ifname must be a string");
  msh::PacketOptions opts;
  opts.ifname = ifv.As<Napi::String>().Utf8Value();
  if (opts.ifname.empty() || opts.ifname.size() >= IFNAMSIZ)
    return msh::js::throw_range(env, "createPacketLink: ifname must be 1 to 15 characters");

  uint64_t block_size = opts.block_size, block_count = opts.block_count,
           tov = opts.block_timeout_ms, sndbuf = opts.tx_sndbuf,
           qbytes = opts.port_queue_bytes, mtu_opt = 0;
  if (!opt_u64(o, fn, "blockSize", 4096, 1u << 30, &block_size) ||
      !opt_u64(o, fn, "blockCount", 2, 65536, &block_count) ||
      !opt_u64(o, fn, "blockTimeoutMs", 1, 60000, &tov) ||
      !opt_u64(o, fn, "txSndbuf", 4096, 1u << 30, &sndbuf) ||
      !opt_u64(o, fn, "portQueueBytes", 65536, 1ull << 32, &qbytes) ||
      !opt_u64(o, fn, "mtu", 68, 65535, &mtu_opt))
    return env.Undefined();
  opts.block_size = uint32_t(block_size);
  opts.block_count = uint32_t(block_count);
  opts.block_timeout_ms = uint32_t(tov);
  opts.tx_sndbuf = uint32_t(sndbuf);
  opts.port_queue_bytes = size_t(qbytes);
  Value qb = o.Get("qdiscBypass");
  if (qb.IsBoolean())
    opts.qdisc_bypass = qb.As<Napi::Boolean>().Value();
  else if (!qb.IsUndefined())
    return msh::js::throw_type(env, "createPacketLink: qdiscBypass must be a boolean");
  Value gso = o.Get("gso");
  if (gso.IsBoolean())
    opts.gso = gso.As<Napi::Boolean>().Value();
  else if (!gso.IsUndefined())
    return msh::js::throw_type(env, "createPacketLink: gso must be a boolean");

  if (if_nametoindex(opts.ifname.c_str()) == 0) {
    std::string m = "packet: no such interface '" + opts.ifname + "' in this network namespace";
    return msh::js::throw_errno(env, ENODEV, "if_nametoindex", m.c_str());
  }
  uint8_t mac[6] = {0};
  uint32_t mtu = 0;
  int rc = read_if(opts.ifname, mac, &mtu);
  if (rc < 0) {
    std::string m = "packet: cannot read MAC/MTU of " + opts.ifname + ": " + strerror(-rc);
    return msh::js::throw_errno(env, rc, "ioctl", m.c_str());
  }
  bool given;
  if (!opt_mac(o, fn, mac, &given)) return env.Undefined();
  if (mtu_opt) mtu = uint32_t(mtu_opt);

  msh::clear_error();
  std::unique_ptr<msh::PacketBackend> be = msh::PacketBackend::create(opts);
  if (!be) return msh::js::throw_last_error(env, -EIO);
  auto link = std::make_shared<msh::Link>(mac, mtu);
  rc = link->attach_backend(std::move(be));
  if (rc < 0) return msh::js::throw_last_error(env, rc);
  return Napi::Number::New(env, msh::js::register_link(std::move(link)));
}

// packetLinkInfo / tapLinkInfo(linkId): the backend's interface, I/O error and counters.
template <class B>
Value LinkInfo(const CallbackInfo& info, const char* what) {
  Napi::Env env = info.Env();
  std::shared_ptr<msh::Link> link = msh::js::arg_link(info, 0);
  if (!link) return env.Undefined();
  auto* be = dynamic_cast<B*>(&link->backend());
  if (!be) return msh::js::throw_errno(env, EINVAL, "", what);
  Napi::Object r = Napi::Object::New(env);
  r.Set("backend", be->name());
  r.Set("ifname", be->ifname());
  r.Set("ifindex", be->ifindex());
  if (auto* pb = dynamic_cast<msh::PacketBackend*>(be)) r.Set("gso", pb->gso());
  r.Set("ioError", be->io_error() ? Value(Napi::String::New(env, strerror(be->io_error())))
                                  : env.Null());
  r.Set("counters", counters_object(env, *be));
  return r;
}

Value PacketLinkInfo(const CallbackInfo& info) {
  return LinkInfo<msh::PacketBackend>(info, "packetLinkInfo: not an AF_PACKET link");
}

Value CreateTapLink(const CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* fn = "createTapLink";
  if (info.Length() < 1 || !info[0].IsObject())
    return msh::js::throw_type(env, "createTapLink: expected an options object { tapName, mac, ... }");
  Napi::Object o = info[0].As<Napi::Object>();
  Value nv = o.Get("tapName");
  if (!nv.IsString()) return msh::js::throw_type(env, "createTapLink: tapName must be a string");
  msh::TapOptions opts;
  opts.name = nv.As<Napi::String>().Utf8Value();
  if (opts.name.empty() || opts.name.size() >= IFNAMSIZ)
    return msh::js::throw_range(env, "createTapLink: tapName must be 1 to 15 characters");
  uint8_t mac[6];
  bool given;
  if (!opt_mac(o, fn, mac, &given)) return env.Undefined();
  if (!given) return msh::js::throw_type(env, "createTapLink: mac (the stacks' MAC) is required");
  uint64_t mtu = 1500, qbytes = opts.port_queue_bytes;
  if (!opt_u64(o, fn, "mtu", 68, 65521, &mtu) ||
      !opt_u64(o, fn, "portQueueBytes", 65536, 1ull << 32, &qbytes))
    return env.Undefined();
  opts.port_queue_bytes = size_t(qbytes);

  msh::clear_error();
  std::unique_ptr<msh::TapBackend> be = msh::TapBackend::create(opts);
  if (!be) return msh::js::throw_last_error(env, -EIO);
  auto link = std::make_shared<msh::Link>(mac, uint32_t(mtu));
  const int rc = link->attach_backend(std::move(be));
  if (rc < 0) return msh::js::throw_last_error(env, rc);
  return Napi::Number::New(env, msh::js::register_link(std::move(link)));
}

Value TapLinkInfo(const CallbackInfo& info) {
  return LinkInfo<msh::TapBackend>(info, "tapLinkInfo: not a TAP link");
}

msh::js::RegisterBindings g_register([](Napi::Env env, Napi::Object exports) {
  exports.Set("createPacketLink", Napi::Function::New(env, CreatePacketLink, "createPacketLink"));
  exports.Set("packetLinkInfo", Napi::Function::New(env, PacketLinkInfo, "packetLinkInfo"));
  exports.Set("createTapLink", Napi::Function::New(env, CreateTapLink, "createTapLink"));
  exports.Set("tapLinkInfo", Napi::Function::New(env, TapLinkInfo, "tapLinkInfo"));
});

}  // namespace
