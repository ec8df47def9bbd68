// Per-port hand-off for backends that demux in user space (packet, tap): one I/O thread
// classifies frames and copies the owned ones into the owning port's PortQueue; the
// port's stack worker lends them out in order (rx_peek / rx_release) and sleeps on a
// WakeEvent (backends/switch.h) when the queue is empty.
//
// Unlike the switch's FrameQueue (fixed slots of MTU size), records here have the size
// of the frame: AF_PACKET sees GRO aggregates up to 64 KiB on real NICs, which fixed
// MTU-sized slots would have to drop.
//
// PortQueue is a single-producer / single-consumer byte ring of variable-size records,
// so a 64-byte frame costs 72 bytes and a 64 KiB GRO/GSO aggregate still fits, without
// a fixed slot size. A record is {u32 len, u32 kind} + data, padded to 8 bytes, and is
// always contiguous: when it does not fit before the end of the buffer, a pad record
// fills the rest and the frame starts again at offset 0.
//
// Ownership: the producer owns bytes [tail, head + capacity), the consumer [head, tail)
// (free-running u64 byte counters). The producer publishes `tail` once per batch
// (release), the consumer publishes `head` once per rx_release (release). Lent frames
// stay valid until released because the producer never writes into [head, tail).
// A full queue drops the new frame (the caller counts it): never block the data path.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "backend.h"

namespace msh {

class PortQueue {
 public:
  // `capacity` bytes, rounded up to a power of two (>= 64 KiB).
  explicit PortQueue(size_t capacity) {
    size_t c = 64 * 1024;
    while (c < capacity) c <<= 1;
    cap_ = c;
    buf_.reset(new uint8_t[c]);
  }
  PortQueue(const PortQueue&) = delete;
  PortQueue& operator=(const PortQueue&) = delete;

  size_t capacity() const { return cap_; }
  // Largest frame the queue can ever hold.
  uint32_t max_frame() const { return static_cast<uint32_t>(cap_ / 4); }

  // --- producer (the I/O thread) ---
  // Reserves room for a `len`-byte frame and returns where to write it, or nullptr when
  // the queue is full (or the frame is larger than max_frame()). Nothing is visible to
  // the consumer before publish(). At most one reservation is open at a time.
  uint8_t* reserve(uint32_t len) {
    if (len > max_frame()) return nullptr;
    const uint64_t need = record_size(len);
    uint64_t off = ptail_ & (cap_ - 1);
    uint64_t pad = (off + need > cap_) ? cap_ - off : 0;
    if (ptail_ + pad + need - head_cache_ > cap_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (ptail_ + pad + need - head_cache_ > cap_) return nullptr;
    }
    if (pad) {
      write_hdr(off, 0, kPad);
      ptail_ += pad;
      off = 0;
    }
    write_hdr(off, len, kFrame);
    pending_ = need;
    return buf_.get() + off + kHdr;
  }
  // Makes the reserved frame part of the next publish(); `len` may shrink it.
  void commit(uint32_t len) {
    const uint64_t off = ptail_ & (cap_ - 1);
    write_hdr(off, len, kFrame);
    ptail_ += record_size(len) <= pending_ ? record_size(len) : pending_;
    pending_ = 0;
  }
  // Copies a frame in; false when the queue is full.
  bool push(const uint8_t* data, uint32_t len) {
    uint8_t* p = reserve(len);
    if (!p) return false;
    memcpy(p, data, len);
    commit(len);
    return true;
  }
  // Publishes every committed frame to the consumer. Returns true when something new was
  // published.
  bool publish() {
    if (ptail_ == tail_.load(std::memory_order_relaxed)) return false;
    tail_.store(ptail_, std::memory_order_release);
    return true;
  }

  // --- consumer (the port's worker) ---
  // Bytes queued (records and padding); any thread, approximate.
  uint64_t depth_bytes() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  bool empty() const {
    return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire);
  }
  // Lends up to `max` frames in order (they stay queued); see Backend::rx_peek.
  uint32_t peek(FrameRef* out, uint32_t max) {
    if (ends_.size() < max) ends_.resize(max);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    uint64_t pos = head_.load(std::memory_order_relaxed);
    uint32_t n = 0;
    while (n < max && pos != tail) {
      const uint64_t off = pos & (cap_ - 1);
      uint32_t len, kind;
      memcpy(&len, buf_.get() + off, 4);
      memcpy(&kind, buf_.get() + off + 4, 4);
      if (kind == kPad) {
        pos += cap_ - off;
        continue;
      }
      out[n].data = buf_.get() + off + kHdr;
      out[n].len = len;
      pos += record_size(len);
      ends_[n++] = pos;
    }
    lent_ = n;
    return n;
  }
  // Consumes the first `n` frames lent by the last peek().
  void release(uint32_t n) {
    if (n > lent_) n = lent_;
    if (n) head_.store(ends_[n - 1], std::memory_order_release);
    lent_ = 0;
  }

 private:
  static constexpr uint32_t kHdr = 8, kFrame = 1, kPad = 2;
  static uint64_t record_size(uint32_t len) { return (kHdr + uint64_t(len) + 7) & ~uint64_t(7); }
  void write_hdr(uint64_t off, uint32_t len, uint32_t kind) {
    memcpy(buf_.get() + off, &len, 4);
    memcpy(buf_.get() + off + 4, &kind, 4);
  }

  size_t cap_;
  std::unique_ptr<uint8_t[]> buf_;
  alignas(64) std::atomic<uint64_t> head_{0};  // consumer-written
  alignas(64) std::atomic<uint64_t> tail_{0};  // producer-written
  // Producer-private.
  alignas(64) uint64_t ptail_ = 0;
  uint64_t head_cache_ = 0;
  uint64_t pending_ = 0;
  // Consumer-private: end position of each lent frame.
  alignas(64) std::vector<uint64_t> ends_;
  uint32_t lent_ = 0;
};

}  // namespace msh
