#include "link.h"

#include <cerrno>
#include <cstring>
#include <thread>

#include "errors.h"

namespace msh {

Link::Link(const uint8_t mac[6], uint32_t mtu) : mtu_(mtu) {
  std::memcpy(mac_, mac, 6);
  // Port 0, the kernel: always present, owns no tuple.
  port_store_[0] = std::make_unique<Port>();
  port_store_[0]->id = 0;
  port_store_[0]->state.store(Port::kActive);
  ports_[0].store(port_store_[0].get(), std::memory_order_release);
}

Link::~Link() {
  // The backend goes before the classifier and counters: it may run threads using them.
  close();
}

namespace {
// What backend() returns after close(): nothing queued, nothing sent.
class ClosedBackend final : public Backend {
 public:
  const char* name() const override { return "closed"; }
  uint32_t receive(uint32_t, uint32_t, const FrameSink&) override { return 0; }
  uint32_t transmit(uint32_t, const FrameRef*, uint32_t) override { return 0; }
  int wait(uint32_t, int) override { return -ENOENT; }
  void wake(uint32_t) override {}
};
}  // namespace

Backend& Link::closed_backend() {
  static ClosedBackend b;
  return b;
}

Link::Call::Call(Link& l) : l_(l) {
  l.calls_.fetch_add(1, std::memory_order_seq_cst);
  ok_ = !l.closed_.load(std::memory_order_seq_cst);
  if (!ok_) l.calls_.fetch_sub(1, std::memory_order_release);
}

Link::Call::~Call() {
  if (ok_) l_.calls_.fetch_sub(1, std::memory_order_release);
}

void Link::close() {
  if (closed_.exchange(true, std::memory_order_seq_cst)) return;
  shutdown();
  while (calls_.load(std::memory_order_seq_cst) != 0)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  std::unique_ptr<Backend> be;
  {
    std::lock_guard<std::mutex> lk(ctl_mu_);
    be = std::move(backend_);
  }
  be.reset();
}

int Link::attach_backend(std::unique_ptr<Backend> be) {
  LinkContext ctx{&classifier_, &counters_, mac_, mtu_, &port_store_[kKernelPort]->counters};
  const int rc = be->attach(ctx);
  if (rc < 0) return rc;
  backend_ = std::move(be);
  return 0;
}

Port* Link::port_for_stats(uint32_t id) const {
  return id < kMaxPorts ? ports_[id].load(std::memory_order_acquire) : nullptr;
}

bool Link::port_active(uint32_t id) const {
  Port* p = port_for_stats(id);
  return p && p->state.load(std::memory_order_acquire) == Port::kActive;
}

Link::PortRef::PortRef(Link& l, uint32_t id) {
  if (id >= kMaxPorts) return;
  Port* p = l.ports_[id].load(std::memory_order_acquire);
  if (!p) return;
  p->inflight.fetch_add(1, std::memory_order_seq_cst);
  if (p->state.load(std::memory_order_seq_cst) != Port::kActive) {
    p->inflight.fetch_sub(1, std::memory_order_release);
    return;
  }
  p_ = p;
}

Link::PortRef::~PortRef() {
  if (p_) p_->inflight.fetch_sub(1, std::memory_order_release);
}

int Link::add_port(uint32_t* id) {
  Call call(*this);
  std::lock_guard<std::mutex> lk(ctl_mu_);
  if (!call || !backend_) {
    set_errno_error(ENOENT, "", "link is closed or has no backend");
    return -ENOENT;
  }
  // Round-robin over ids so a removed port's id is not reused at once.
  for (uint32_t i = 0; i < kMaxPorts - 1; ++i) {
    const uint32_t cand = next_port_;
    next_port_ = next_port_ + 1 >= kMaxPorts ? 1 : next_port_ + 1;
    if (!port_store_[cand]) {
      port_store_[cand] = std::make_unique<Port>();
      port_store_[cand]->id = cand;
      ports_[cand].store(port_store_[cand].get(), std::memory_order_release);
    }
    Port& p = *port_store_[cand];
    if (p.state.load() != Port::kFree) continue;
    const int rc = backend_->on_port_added(cand);
    if (rc < 0) return rc;
    p.counters.reset();
    p.tx_rate.store(0, std::memory_order_relaxed);
    p.tx_rate_gen.fetch_add(1, std::memory_order_release);
    p.state.store(Port::kActive, std::memory_order_seq_cst);
    *id = cand;
    return 0;
  }
  set_errno_error(ENOSPC, "", "link has no free port (max %u)", kMaxPorts - 1);
  return -ENOSPC;
}

void Link::retire_port_locked(Port& p) {
  p.state.store(Port::kRemoving, std::memory_order_seq_cst);
  // Unblock a worker waiting on this port, then wait until no data call is running.
  if (backend_) backend_->wake(p.id);
  while (p.inflight.load(std::memory_order_seq_cst) != 0) {
    if (backend_) backend_->wake(p.id);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  for (const TupleKey& k : classifier_.release_all(p.id))
    if (backend_) backend_->on_release(p.id, k);
  if (backend_) backend_->on_port_removed(p.id);
  {
    std::lock_guard<std::mutex> lk(p.pcap_mu);
    p.pcap_on.store(false);
    p.pcap.reset();
  }
}

int Link::remove_port(uint32_t id) {
  std::lock_guard<std::mutex> lk(ctl_mu_);
  if (id == kKernelPort || id >= kMaxPorts || !port_store_[id] ||
      port_store_[id]->state.load() != Port::kActive) {
    set_errno_error(ENOENT, "", "port %u does not exist%s", id,
                    id == kKernelPort ? " (port 0 is the kernel and cannot be removed)" : "");
    return -ENOENT;
  }
  Port& p = *port_store_[id];
  retire_port_locked(p);
  p.state.store(Port::kFree, std::memory_order_seq_cst);
  return 0;
}

void Link::shutdown() {
  std::lock_guard<std::mutex> lk(ctl_mu_);
  for (uint32_t i = 0; i < kMaxPorts; ++i) {
    if (!port_store_[i]) continue;
    Port& p = *port_store_[i];
    if (p.state.load() == Port::kActive) retire_port_locked(p);
  }
}

int Link::claim(uint32_t port, const TupleKey& key) {
  Call call(*this);
  std::lock_guard<std::mutex> lk(ctl_mu_);
  char t[80];
  format_tuple(key, t, sizeof t);
  if (!call || port == kKernelPort || !port_active(port)) {
    set_errno_error(ENOENT, "", "cannot claim %s: port %u does not exist", t, port);
    return -ENOENT;
  }
  uint32_t owner = 0;
  int rc = classifier_.claim(port, key, &owner);
  if (rc == -EADDRINUSE) {
    set_errno_error(EADDRINUSE, "", "%s is already owned by port %u", t, owner);
    return rc;
  }
  if (rc < 0) {
    set_errno_error(-rc, "", "cannot claim %s: invalid tuple", t);
    return rc;
  }
  if (owner == port) return 0;  // already ours
  rc = backend().on_claim(port, key);
  if (rc < 0) {
    classifier_.release(port, key);
    return rc;  // backend set the message
  }
  return 0;
}

int Link::release(uint32_t port, const TupleKey& key) {
  Call call(*this);
  if (!call) {
    set_errno_error(ENOENT, "", "link is closed");
    return -ENOENT;
  }
  std::lock_guard<std::mutex> lk(ctl_mu_);
  char t[80];
  format_tuple(key, t, sizeof t);
  uint32_t owner = 0;
  const int rc = classifier_.release(port, key, &owner);
  if (rc == -ENOENT) {
    set_errno_error(ENOENT, "", "%s is not owned by any port", t);
    return rc;
  }
  if (rc == -EPERM) {
    set_errno_error(EPERM, "", "%s is owned by port %u, not port %u", t, owner, port);
    return rc;
  }
  backend().on_release(port, key);
  return 0;
}

int Link::set_pcap(uint32_t id, const char* path) {
  std::lock_guard<std::mutex> lk(ctl_mu_);
  if (!port_active(id)) {
    set_errno_error(ENOENT, "", "port %u does not exist", id);
    return -ENOENT;
  }
  Port& p = *port_store_[id];
  std::unique_ptr<PcapWriter> w;
  if (path) {
    w = PcapWriter::open(path);
    if (!w) return -last_error().err;
  }
  std::lock_guard<std::mutex> plk(p.pcap_mu);
  p.pcap = std::move(w);
  p.pcap_on.store(p.pcap != nullptr, std::memory_order_relaxed);
  return 0;
}

int Link::set_tx_rate(uint32_t id, uint64_t frames_per_second) {
  Port* p = port_for_stats(id);
  if (id == kKernelPort || !p || p->state.load(std::memory_order_acquire) != Port::kActive) {
    set_errno_error(ENOENT, "", "port %u does not exist", id);
    return -ENOENT;
  }
  p->tx_rate.store(frames_per_second, std::memory_order_relaxed);
  p->tx_rate_gen.fetch_add(1, std::memory_order_release);
  return 0;
}

int Link::park_port(uint32_t id, bool parked) {
  Call call(*this);
  std::lock_guard<std::mutex> lk(ctl_mu_);
  if (!call || !backend_ || id == kKernelPort || !port_active(id)) {
    set_errno_error(ENOENT, "", "port %u does not exist", id);
    return -ENOENT;
  }
  Port& p = *port_store_[id];
  while (p.inflight.load(std::memory_order_seq_cst) != 0) {
    backend_->wake(id);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  backend_->set_port_parked(id, parked);
  return 0;
}

int Link::wait(uint32_t port_id, int timeout_ms) {
  PortRef port(*this, port_id);
  if (!port) {
    set_errno_error(ENOENT, "", "port %u does not exist or is being removed", port_id);
    return -ENOENT;
  }
  return backend().wait(port_id, timeout_ms);
}

void Link::wake(uint32_t port_id) {
  Call call(*this);
  if (call && port_for_stats(port_id)) backend().wake(port_id);
}

}  // namespace msh
