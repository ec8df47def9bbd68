// In-process switch: a Backend with no device behind it. Frames come from "the wire"
// through inject()/generate() (tests, benchmarks), are parsed and classified once, and
// are queued to the owning port's RX queue or to the kernel port (0), which tests drain.
// Frames stacks transmit go to a bounded "wire out" queue that tests drain, or, in
// discard mode (benchmarks), are copied to a scratch buffer and counted.
//
// Every queue is bounded; a full queue counts and drops, never blocks. Frame storage is
// preallocated per queue (no allocation per frame). Buffer stride is an odd number of
// cache lines so consecutive frames do not alias in the caches.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "backend.h"
#include "classifier.h"
#include "counters.h"
#include "frame.h"

namespace msh {

// Wake-up for one consumer: wait(timeout, ready) sleeps on a futex unless ready();
// signal() is cheap when nobody sleeps (one atomic add + one load).
class WakeEvent {
 public:
  template <class Ready>
  bool wait(int timeout_ms, Ready ready) {
    if (ready()) return true;
    if (timeout_ms == 0) return false;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    const uint32_t s = seq_.load(std::memory_order_seq_cst);
    if (!ready()) sleep(s, timeout_ms);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return ready();
  }
  void signal();

 private:
  void sleep(uint32_t seen, int timeout_ms);  // timeout_ms < 0: no timeout
  std::atomic<uint32_t> seq_{0};
  std::atomic<uint32_t> waiters_{0};
};

// Bounded frame queue with inline buffers. One producer and one consumer at a time
// (callers serialize each side); the two sides run concurrently without locks.
class FrameQueue {
 public:
  FrameQueue(uint32_t capacity, uint32_t max_frame);  // capacity rounded up to 2^k
  // Producer: copies the frame in; false (and counted) when full.
  bool push(const uint8_t* data, uint32_t len) {
    const uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t - head_cache_ > mask_) {
        dropped_full.store(dropped_full.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
        return false;
      }
    }
    const uint32_t s = t & mask_;
    copy_frame(bufs_.get() + size_t(s) * stride_, data, len);
    lens_[s] = len;
    tail_.store(t + 1, std::memory_order_release);
    queued.store(queued.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }
  // Consumer: lends up to `max` frames in order, valid until release().
  uint32_t peek(FrameRef* out, uint32_t max) {
    const uint32_t h = head_.load(std::memory_order_relaxed);
    const uint32_t avail = tail_.load(std::memory_order_acquire) - h;
    const uint32_t n = avail < max ? avail : max;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t s = (h + i) & mask_;
      out[i] = FrameRef{bufs_.get() + size_t(s) * stride_, lens_[s]};
    }
    return n;
  }
  void release(uint32_t n) {
    head_.store(head_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
  uint32_t depth() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  uint32_t capacity() const { return mask_ + 1; }
  bool ok() const { return bufs_ && lens_ && scratch_; }  // false if allocation failed

  WakeEvent ev;
  Counter queued{0}, dropped_full{0};  // written by the producer only
  // Where the discard mode copies this port's transmitted frames (the port's worker only).
  uint8_t* scratch() { return scratch_.get(); }

 private:
  alignas(64) std::atomic<uint32_t> head_{0};  // consumer-owned
  alignas(64) std::atomic<uint32_t> tail_{0};  // producer-owned
  uint32_t head_cache_ = 0;                    // producer's view of head_
  alignas(64) uint32_t mask_;
  uint32_t stride_;
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> bufs_;
  std::unique_ptr<uint32_t[]> lens_;
  std::unique_ptr<uint8_t[], Free> scratch_;
};

struct SwitchOptions {
  uint32_t port_queue = 1024;    // frames per stack port RX queue
  uint32_t kernel_queue = 4096;  // frames queued for the kernel port
  uint32_t wire_queue = 4096;    // frames queued on the wire-out side
};

class SwitchBackend final : public Backend {
 public:
  explicit SwitchBackend(const SwitchOptions& o) : opt_(o) {}
  ~SwitchBackend() override;
  const char* name() const override { return "switch"; }

  int attach(const LinkContext& ctx) override;
  int on_port_added(uint32_t port) override;
  void on_port_removed(uint32_t port) override;

  uint32_t receive(uint32_t port, uint32_t max, const FrameSink& sink) override;
  bool supports_rx_peek() const override { return true; }
  uint32_t rx_peek(uint32_t port, FrameRef* out, uint32_t max) override;
  void rx_release(uint32_t port, uint32_t n) override;
  uint32_t transmit(uint32_t port, const FrameRef* frames, uint32_t n) override;
  int wait(uint32_t port, int timeout_ms) override;
  void wake(uint32_t port) override;
  size_t extra_counters(uint32_t port, const char** names, uint64_t* values,
                        size_t max) override;

  // --- the wire side (any thread) ---
  // Parses, classifies and queues frames; returns how many were queued (to a stack port
  // or the kernel port). Concurrent injections are serialized.
  uint32_t inject(const FrameRef* frames, uint32_t n);
  // Injects `count` copies of one frame (each parsed and classified like any other).
  uint32_t generate(const uint8_t* frame, uint32_t len, uint32_t count);
  // Hands up to `max` frames queued for the kernel port / the wire to `sink`.
  uint32_t drain_kernel(uint32_t max, const FrameSink& sink);
  uint32_t drain_wire(uint32_t max, const FrameSink& sink);
  void set_wire_discard(bool on) { discard_.store(on, std::memory_order_relaxed); }
  uint32_t max_frame() const { return max_frame_; }

 private:
  FrameQueue* queue(uint32_t port) const {
    return port < kMaxPorts ? queues_[port].load(std::memory_order_acquire) : nullptr;
  }
  static uint32_t drain_locked(FrameQueue* q, uint32_t max, const FrameSink& sink);

  SwitchOptions opt_;
  LinkContext ctx_{};
  uint32_t max_frame_ = 0;
  std::atomic<FrameQueue*> queues_[kMaxPorts] = {};
  std::mutex inject_mu_;        // one producer at a time for every port queue
  std::mutex kernel_drain_mu_;  // one consumer at a time for the kernel queue
  std::mutex wire_mu_;          // wire-out queue, both sides (many transmitting ports)
  std::unique_ptr<FrameQueue> wire_;
  std::atomic<bool> discard_{false};
  Counter wire_frames_{0}, wire_bytes_{0}, wire_dropped_{0};
};

}  // namespace msh
