// JS bindings of the AF_XDP backend (registered through msh::js::RegisterBindings, so
// addon.cc needs no edit):
//
//   createXdpLink({ ifname, mac?, mtu?, mode?, bpfObject?, framesPerQueue?, gso? }) -> linkId
//     ifname          interface in the calling process's network namespace
//     mac             Uint8Array(6); default: the interface's MAC
//     mtu             IP MTU; default: the interface's MTU
//     mode            'auto' (native, else generic) | 'native' | 'generic'
//     bpfObject       path of msh_steer.bpf.o; default: ../bpf/msh_steer.bpf.o next to
//                     the addon's directory (build/Release -> build/bpf)
//     framesPerQueue  UMEM frames (4 KiB) per RX queue, default 16384
//     gso             send runs of segments as GSO packets (native/src/gso.h), default true
//   Throws an Error with code/errno/syscall: ENODEV (no such interface), EPERM (not
//   root), EEXIST/EBUSY (another XDP program attached), ... with a message that says
//   which step and which XDP mode failed.
//
//   xdpLinkInfo(linkId) -> { backend: 'af_xdp', ifname, ifindex, mode: 'native'|'generic',
//     bind: 'copy'|'zerocopy'|'none', queues, gso, bpfObject, progId, xsksMapId, tuplesMapId,
//     sockets: [{ port, queue, xskSlot }], counters: { ... } }
//   The link is destroyed with the common destroyLink(linkId).
#include <dlfcn.h>
#include <limits.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "addon_util.h"
#include "backends/xdp.h"
#include "errors.h"

namespace {

// build/Release/msh_native.node -> build/bpf/msh_steer.bpf.o
std::string default_bpf_object() {
  Dl_info di{};
  if (dladdr(reinterpret_cast<void*>(&default_bpf_object), &di) && di.dli_fname) {
    std::string p = di.dli_fname;
    size_t slash = p.rfind('/');
    std::string dir = slash == std::string::npos ? "." : p.substr(0, slash);
    std::string cand = dir + "/../bpf/msh_steer.bpf.o";
    char real[PATH_MAX];
    if (realpath(cand.c_str(), real)) return real;
    return cand;
  }
  return "build/bpf/msh_steer.bpf.o";
}

// The interface's MAC and MTU (SIOCGIFHWADDR / SIOCGIFMTU). 0 or -errno.
int read_if(const std::string& ifname, uint8_t mac[6], uint32_t* mtu) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ifreq ifr{};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  int rc = 0;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  else
    rc = -errno;
  if (!rc && ioctl(fd, SIOCGIFMTU, &ifr) == 0)
    *mtu = static_cast<uint32_t>(ifr.ifr_mtu);
  else if (!rc)
    rc = -errno;
  close(fd);
  return rc;
}

Napi::Value CreateXdpLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    return msh::js::throw_type(env, "createXdpLink: expected an options object { ifname, ... }");
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value ifv = o.Get("ifname");
  if (!ifv.IsString()) return msh::js::throw_type(env, "createXdpLink: ifname must be a string");

  msh::XdpOptions opts;
  opts.ifname = ifv.As<Napi::String>().Utf8Value();
  if (opts.ifname.empty() || opts.ifname.size() >= IFNAMSIZ)
    return msh::js::throw_range(env, "createXdpLink: ifname must be 1 to 15 characters");

  Napi::Value mv = o.Get("mode");
  if (!mv.IsUndefined()) {
    std::string m = mv.IsString() ? mv.As<Napi::String>().Utf8Value() : "";
    if (m == "auto")
      opts.mode = msh::XdpOptions::Mode::Auto;
    else if (m == "native")
      opts.mode = msh::XdpOptions::Mode::Native;
    else if (m == "generic")
      opts.mode = msh::XdpOptions::Mode::Generic;
    else
      return msh::js::throw_type(env, "createXdpLink: mode must be 'auto', 'native' or 'generic'");
  }
  Napi::Value bo = o.Get("bpfObject");
  if (bo.IsString())
    opts.bpf_object = bo.As<Napi::String>().Utf8Value();
  else if (!bo.IsUndefined())
    return msh::js::throw_type(env, "createXdpLink: bpfObject must be a path string");
  else
    opts.bpf_object = default_bpf_object();
  Napi::Value fq = o.Get("framesPerQueue");
  if (fq.IsNumber())
    opts.frames_per_queue = fq.As<Napi::Number>().Uint32Value();
  else if (!fq.IsUndefined())
    return msh::js::throw_type(env, "createXdpLink: framesPerQueue must be a number");
  Napi::Value gso = o.Get("gso");
  if (gso.IsBoolean())
    opts.gso = gso.As<Napi::Boolean>().Value();
  else if (!gso.IsUndefined())
    return msh::js::throw_type(env, "createXdpLink: gso must be a boolean");

  uint8_t mac[6] = {0};
  uint32_t mtu = 0;
  if (if_nametoindex(opts.ifname.c_str()) == 0) {
    std::string msg = "af_xdp: no such interface '" + opts.ifname + "' in this network namespace";
    return msh::js::throw_errno(env, ENODEV, "if_nametoindex", msg.c_str());
  }
  int rc = read_if(opts.ifname, mac, &mtu);
  if (rc < 0) {
    std::string msg = "af_xdp: cannot read MAC/MTU of " + opts.ifname + ": " + strerror(-rc);
    return msh::js::throw_errno(env, rc, "ioctl", msg.c_str());
  }
  Napi::Value macv = o.Get("mac");
  if (!macv.IsUndefined()) {
    if (!macv.IsTypedArray() || macv.As<Napi::TypedArray>().ByteLength() != 6)
      return msh::js::throw_type(env, "createXdpLink: mac must be a Uint8Array of 6 bytes");
    Napi::Uint8Array a = macv.As<Napi::Uint8Array>();
    memcpy(mac, a.Data(), 6);
  }
  Napi::Value mtuv = o.Get("mtu");
  if (mtuv.IsNumber())
    mtu = mtuv.As<Napi::Number>().Uint32Value();
  else if (!mtuv.IsUndefined())
    return msh::js::throw_type(env, "createXdpLink: mtu must be a number");

  msh::clear_error();
  std::unique_ptr<msh::XdpBackend> be = msh::XdpBackend::create(opts);
  if (!be) return msh::js::throw_last_error(env, -EIO);
  auto link = std::make_shared<msh::Link>(mac, mtu);
  rc = link->attach_backend(std::move(be));
  if (rc < 0) return msh::js::throw_last_error(env, rc);
  return Napi::Number::New(env, msh::js::register_link(std::move(link)));
}

Napi::Value XdpLinkInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<msh::Link> link = msh::js::arg_link(info, 0);
  if (!link) return env.Undefined();
  auto* be = dynamic_cast<msh::XdpBackend*>(&link->backend());
  if (!be) {
    return msh::js::throw_errno(env, EINVAL, "", "xdpLinkInfo: the link is not an AF_XDP link");
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("backend", be->name());
  r.Set("ifname", be->ifname());
  r.Set("ifindex", be->ifindex());
  r.Set("mode", be->mode());
  r.Set("bind", be->bind_mode());
  r.Set("queues", be->queues());
  r.Set("gso", be->gso());
  r.Set("progId", be->prog_id());
  r.Set("xsksMapId", be->xsks_map_id());
  r.Set("tuplesMapId", be->tuples_map_id());
  Napi::Array socks = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& s : be->sockets()) {
    Napi::Object so = Napi::Object::New(env);
    so.Set("port", s.port);
    so.Set("queue", s.queue);
    so.Set("xskSlot", s.xsk_slot);
    socks.Set(i++, so);
  }
  r.Set("sockets", socks);
  const msh::XdpStats st = be->stats();
  Napi::Object c = Napi::Object::New(env);
  auto put = [&](const char* k, uint64_t v) { c.Set(k, Napi::Number::New(env, double(v))); };
  put("xdp_pass", st.prog_pass);
  put("xdp_redirect", st.prog_redirect);
  put("xdp_drop_no_socket", st.prog_drop_no_socket);
  put("xdp_parse_error", st.prog_parse_error);
  put("xdp_frag_redirect", st.prog_frag_redirect);
  put("xdp_frag_pass", st.prog_frag_pass);
  put("xsk_rx_dropped", st.xsk_rx_dropped);
  put("xsk_rx_ring_full", st.xsk_rx_ring_full);
  put("xsk_fill_ring_empty", st.xsk_fill_ring_empty);
  put("xsk_rx_invalid", st.xsk_rx_invalid);
  put("xsk_tx_invalid", st.xsk_tx_invalid);
  put("rx_frames", st.rx_frames);
  put("tx_frames", st.tx_frames);
  put("tx_no_frame", st.tx_no_frame);
  put("tx_too_long", st.tx_too_long);
  put("tx_kick_errors", st.tx_kick_errors);
  r.Set("counters", c);
  return r;
}

msh::js::RegisterBindings g_register([](Napi::Env env, Napi::Object exports) {
  exports.Set("createXdpLink", Napi::Function::New(env, CreateXdpLink, "createXdpLink"));
  exports.Set("xdpLinkInfo", Napi::Function::New(env, XdpLinkInfo, "xdpLinkInfo"));
});

}  // namespace
