// Kernel port reservations. While a stack owns a tuple, msh holds a kernel socket bound
// to that exact (protocol, address, port) and never reads on it: the kernel then refuses
// the port to every kernel application (EADDRINUSE), as MultiStack requires. Closing the
// fd (or the process dying) releases it.
//
// TCP: the socket is bound with SO_REUSEADDR and put in LISTEN (backlog 0). SO_REUSEADDR
// lets msh take a port on which only TIME-WAIT sockets of a stopped server remain (their
// servers set it too, as nginx does); a live listener or connection of an application
// still makes the bind fail. LISTEN is what keeps others out: nobody binds a port a
// listener holds, SO_REUSEADDR or not (a bound, non-listening SO_REUSEADDR socket would
// let another SO_REUSEADDR socket share it). No SYN for the tuple ever reaches this
// listener: the backend steers them to the stack (XDP program, nftables, tap routing).
#include <napi.h>

#include "addon_util.h"
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const std::string m = what + ": " + strerror(err);
  return msh::js::throw_errno(env, err, syscall, m.c_str());
}

// reservePort(proto: 6|17, addr: Uint8Array(4|16), port: number) -> fd
Napi::Value ReservePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "reservePort(proto, addr, port)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int proto = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array addr = info[1].As<Napi::Uint8Array>();
  int port = info[2].As<Napi::Number>().Int32Value();
  bool v6 = addr.ByteLength() == 16;
  if ((!v6 && addr.ByteLength() != 4) || (proto != 6 && proto != 17) || port < 1 || port > 65535) {
    Napi::TypeError::New(env, "reservePort: bad protocol, address or port").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, (proto == 6 ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket", "cannot create the reservation socket");
  int rc;
  const int one = 1;
  if (proto == 6) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    memcpy(&sa.sin6_addr, addr.Data(), 16);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    memcpy(&sa.sin_addr, addr.Data(), 4);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "bind", "cannot reserve the port in the kernel");
  }
  if (proto == 6 && listen(fd, 0) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "listen", "cannot reserve the port in the kernel");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ReleasePort(const Napi::CallbackInfo& info) {
  if (info.Length() >= 1 && info[0].IsNumber()) close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

namespace msh {
void RegisterReserve(Napi::Env env, Napi::Object exports) {
  exports.Set("reservePort", Napi::Function::New(env, ReservePort));
  exports.Set("releasePort", Napi::Function::New(env, ReleasePort));
}
}  // namespace msh

static msh::js::RegisterBindings g_register_reserve(msh::RegisterReserve);
