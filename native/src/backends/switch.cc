#include "backends/switch.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>

#include "errors.h"
#include "guest_ring.h"

namespace msh {

// ---------------------------------------------------------------------------------------
// WakeEvent

void WakeEvent::signal() {
  seq_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) != 0)
    syscall(SYS_futex, &seq_, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void WakeEvent::sleep(uint32_t seen, int timeout_ms) {
  timespec ts{timeout_ms / 1000, long(timeout_ms % 1000) * 1000000L};
  // EINTR, EAGAIN (seq moved) and ETIMEDOUT all mean "look again": the caller rechecks.
  syscall(SYS_futex, &seq_, FUTEX_WAIT_PRIVATE, seen, timeout_ms < 0 ? nullptr : &ts, nullptr,
          0);
}

// ---------------------------------------------------------------------------------------
// FrameQueue

FrameQueue::FrameQueue(uint32_t capacity, uint32_t max_frame) {
  uint32_t cap = 1;
  while (cap < capacity) cap <<= 1;
  mask_ = cap - 1;
  // Odd number of 64-byte lines per buffer: frame starts spread over all cache sets.
  uint32_t lines = (max_frame + 63) / 64;
  if ((lines & 1) == 0) ++lines;
  stride_ = lines * 64;
  bufs_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, size_t(cap) * stride_)));
  lens_.reset(new (std::nothrow) uint32_t[cap]);
  scratch_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, stride_)));
}

// ---------------------------------------------------------------------------------------
// SwitchBackend

SwitchBackend::~SwitchBackend() {
  for (auto& q : queues_) delete q.exchange(nullptr);
}

int SwitchBackend::attach(const LinkContext& ctx) {
  ctx_ = ctx;
  // Room for one 802.1Q tag on the wire side.
  max_frame_ = kEthHdrLen + 4 + ctx.mtu;
  auto kernel = std::make_unique<FrameQueue>(opt_.kernel_queue, max_frame_);
  wire_ = std::make_unique<FrameQueue>(opt_.wire_queue, max_frame_);
  if (!kernel->ok() || !wire_->ok()) {
    set_errno_error(ENOMEM, "", "switch: cannot allocate queues");
    return -ENOMEM;
  }
  queues_[kKernelPort].store(kernel.release(), std::memory_order_release);
  return 0;
}

int SwitchBackend::on_port_added(uint32_t port) {
  if (port >= kMaxPorts) return -EINVAL;
  auto* q = new FrameQueue(opt_.port_queue, max_frame_);
  if (!q->ok()) {
    delete q;
    set_errno_error(ENOMEM, "", "switch: cannot allocate the queue of port %u", port);
    return -ENOMEM;
  }
  std::lock_guard<std::mutex> lk(inject_mu_);
  delete queues_[port].exchange(q, std::memory_order_acq_rel);
  return 0;
}

void SwitchBackend::on_port_removed(uint32_t port) {
  if (port >= kMaxPorts) return;
  // The injector reads queues_ under inject_mu_; the Link guarantees no data call of
  // this port runs; the kernel queue's drainers hold kernel_drain_mu_.
  std::lock_guard<std::mutex> lk(inject_mu_);
  std::lock_guard<std::mutex> lk2(kernel_drain_mu_);
  delete queues_[port].exchange(nullptr, std::memory_order_acq_rel);
}

uint32_t SwitchBackend::inject(const FrameRef* frames, uint32_t n) {
  std::lock_guard<std::mutex> lk(inject_mu_);
  FrameQueue* kernel = queue(kKernelPort);
  if (!kernel) return 0;  // shut down
  Classifier::Reader reader(*ctx_.classifier);
  ParsedFrame pf;
  uint64_t touched[kMaxPorts / 64] = {};
  uint64_t malformed = 0, to_kernel = 0, to_ports = 0, oversize = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* d = frames[i].data;
    const uint32_t len = frames[i].len;
    if (len > max_frame_) [[unlikely]] {
      ++oversize;
      continue;
    }
    bool bad;
    uint32_t owner = reader.rx_frame_owner(d, len, pf, &bad);
    malformed += bad;
    FrameQueue* q = owner == kKernelPort ? kernel : queues_[owner].load(std::memory_order_relaxed);
    if (!q) [[unlikely]] {  // owner's queue already gone: the kernel gets it
      owner = kKernelPort;
      q = kernel;
    }
    if (q->push(d, len)) {
      touched[owner >> 6] |= 1ull << (owner & 63);
      if (owner == kKernelPort)
        ++to_kernel;
      else
        ++to_ports;
    }
  }
  for (uint32_t w = 0; w < kMaxPorts / 64; ++w) {
    for (uint64_t bits = touched[w]; bits; bits &= bits - 1) {
      const uint32_t port = w * 64 + uint32_t(__builtin_ctzll(bits));
      queues_[port].load(std::memory_order_relaxed)->ev.signal();
    }
  }
  LinkCounters& c = *ctx_.counters;
  count(c.rx_malformed, malformed);
  count(c.rx_to_kernel, to_kernel);
  count(c.rx_to_ports, to_ports);
  count(c.rx_dropped_oversize, oversize);
  return uint32_t(to_kernel + to_ports);
}

uint32_t SwitchBackend::generate(const uint8_t* frame, uint32_t len, uint32_t count) {
  FrameRef refs[kBatch];
  for (uint32_t i = 0; i < kBatch; ++i) refs[i] = FrameRef{frame, len};
  uint32_t queued = 0;
  while (count) {
    const uint32_t n = std::min(count, kBatch);
    queued += inject(refs, n);
    count -= n;
  }
  return queued;
}

uint32_t SwitchBackend::rx_peek(uint32_t port, FrameRef* out, uint32_t max) {
  FrameQueue* q = queue(port);
  return q ? q->peek(out, max) : 0;
}

void SwitchBackend::rx_release(uint32_t port, uint32_t n) {
  if (FrameQueue* q = queue(port)) q->release(n);
}

uint32_t SwitchBackend::receive(uint32_t port, uint32_t max, const FrameSink& sink) {
  FrameQueue* q = queue(port);
  if (!q) return 0;
  FrameRef refs[kBatch];
  uint32_t done = 0;
  while (done < max) {
    const uint32_t got = q->peek(refs, std::min(max - done, kBatch));
    uint32_t i = 0;
    while (i < got && sink(refs[i].data, refs[i].len)) ++i;
    q->release(i);
    done += i;
    if (i < got || got == 0) break;
  }
  return done;
}

uint32_t SwitchBackend::transmit(uint32_t port, const FrameRef* frames, uint32_t n) {
  uint64_t bytes = 0;
  uint32_t sent = 0;
  FrameQueue* q = queue(port);
  if (discard_.load(std::memory_order_relaxed) && q) {
    // Benchmark sink: the copy a device backend makes into its own buffers, then gone.
    uint8_t* scratch = q->scratch();
    for (; sent < n; ++sent) {
      if (frames[sent].len > max_frame_) break;
      copy_frame(scratch, frames[sent].data, frames[sent].len);
      bytes += frames[sent].len;
    }
  } else {
    std::lock_guard<std::mutex> lk(wire_mu_);
    for (; sent < n; ++sent) {
      if (frames[sent].len > max_frame_ || !wire_->push(frames[sent].data, frames[sent].len))
        break;
      bytes += frames[sent].len;
    }
  }
  count(wire_dropped_, n - sent);  // the caller counts them too (tx_backend_full)
  count(wire_frames_, sent);
  count(wire_bytes_, bytes);
  return sent;
}

int SwitchBackend::wait(uint32_t port, int timeout_ms) {
  FrameQueue* q = queue(port);
  if (!q) return -ENOENT;
  return q->ev.wait(timeout_ms, [q] { return q->depth() != 0; }) ? int(std::max(q->depth(), 1u))
                                                                   : 0;
}

void SwitchBackend::wake(uint32_t port) {
  if (FrameQueue* q = queue(port)) q->ev.signal();
}

uint32_t SwitchBackend::drain_locked(FrameQueue* q, uint32_t max, const FrameSink& sink) {
  if (!q) return 0;
  FrameRef refs[kBatch];
  uint32_t done = 0;
  while (done < max) {
    const uint32_t got = q->peek(refs, std::min(max - done, kBatch));
    uint32_t i = 0;
    while (i < got && sink(refs[i].data, refs[i].len)) ++i;
    q->release(i);
    done += i;
    if (i < got || got == 0) break;
  }
  return done;
}

uint32_t SwitchBackend::drain_kernel(uint32_t max, const FrameSink& sink) {
  std::lock_guard<std::mutex> lk(kernel_drain_mu_);
  uint64_t bytes = 0;
  const uint32_t n = drain_locked(queue(kKernelPort), max, [&](const uint8_t* d, uint32_t len) {
    if (!sink(d, len)) return false;
    bytes += len;
    return true;
  });
  // Handed to the kernel: port 0's RX.
  if (ctx_.kernel_port) {
    count(ctx_.kernel_port->rx_frames, n);
    count(ctx_.kernel_port->rx_bytes, bytes);
  }
  return n;
}

uint32_t SwitchBackend::drain_wire(uint32_t max, const FrameSink& sink) {
  std::lock_guard<std::mutex> lk(wire_mu_);
  return drain_locked(wire_.get(), max, sink);
}

size_t SwitchBackend::extra_counters(uint32_t port, const char** names, uint64_t* values,
                                     size_t max) {
  size_t n = 0;
  auto put = [&](const char* name, uint64_t v) {
    if (n < max) {
      names[n] = name;
      values[n] = v;
      ++n;
    }
  };
  if (port == kLinkScope) {
    put("wire_frames", wire_frames_.load(std::memory_order_relaxed));
    put("wire_bytes", wire_bytes_.load(std::memory_order_relaxed));
    put("wire_dropped_full", wire_dropped_.load(std::memory_order_relaxed));
    if (wire_) put("wire_queue_depth", wire_->depth());
    return n;
  }
  // Read under inject_mu_ so a concurrent on_port_removed cannot free the queue.
  std::lock_guard<std::mutex> lk(inject_mu_);
  if (FrameQueue* q = queue(port)) {
    put("rx_queued", q->queued.load(std::memory_order_relaxed));
    put("rx_dropped_queue_full", q->dropped_full.load(std::memory_order_relaxed));
    put("rx_queue_depth", q->depth());
  }
  return n;
}

}  // namespace msh
