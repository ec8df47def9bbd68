#include "guest_ring.h"

#include <cerrno>

#include "errors.h"

namespace msh {

int ring_open(const GuestMemory& m, uint32_t off, const char* which, RingHeader* h) {
  if (!m.data || m.size == 0) {
    set_error("ring corrupted: %s ring: guest memory is empty or detached", which);
    return -EFAULT;
  }
  if (off & 7) {
    set_error("ring corrupted: %s ring header offset 0x%x is not 8-byte aligned", which, off);
    return -EINVAL;
  }
  if (uint64_t(off) + kRingHeaderBytes > m.size) {
    set_error("ring corrupted: %s ring header at 0x%x outside memory (size 0x%llx)", which, off,
              (unsigned long long)m.size);
    return -EFAULT;
  }
  const uint8_t* p = m.data + off;
  h->head = ld32(p + kRingHead);
  h->tail = ld32(p + kRingTail);
  h->num_slots = ld32(p + kRingNumSlots);
  h->slot_size = ld32(p + kRingSlotSize);
  if (h->num_slots == 0 || h->num_slots > kRingMaxSlots || (h->num_slots & (h->num_slots - 1))) {
    set_error("ring corrupted: %s num_slots=%u (must be a power of two, 1..%u)", which,
              h->num_slots, kRingMaxSlots);
    return -EINVAL;
  }
  if (h->slot_size < kRingMinSlotSize || h->slot_size > kRingMaxSlotSize) {
    set_error("ring corrupted: %s slot_size=%u (must be %u..%u)", which, h->slot_size,
              kRingMinSlotSize, kRingMaxSlotSize);
    return -EINVAL;
  }
  if (uint64_t(off) + kRingHeaderBytes + uint64_t(h->num_slots) * kRingSlotBytes > m.size) {
    set_error("ring corrupted: %s slots at 0x%x..0x%llx outside memory (size 0x%llx)", which,
              off + kRingHeaderBytes,
              (unsigned long long)(uint64_t(off) + kRingHeaderBytes +
                                   uint64_t(h->num_slots) * kRingSlotBytes),
              (unsigned long long)m.size);
    return -EFAULT;
  }
  if (uint32_t(h->tail - h->head) > h->num_slots) {
    set_error("ring corrupted: %s tail-head=%u exceeds num_slots=%u (head=%u tail=%u)", which,
              uint32_t(h->tail - h->head), h->num_slots, h->head, h->tail);
    return -EINVAL;
  }
  h->slots = m.data + off + kRingHeaderBytes;
  return 0;
}

int ring_slot_error(const GuestMemory& m, const RingHeader& h, uint32_t s, const char* which,
                    uint32_t buf, uint32_t len) {
  if (uint64_t(buf) + h.slot_size > m.size) {
    set_error("ring corrupted: %s slot %u buf=0x%x outside memory (size 0x%llx, slot_size %u)",
              which, s, buf, (unsigned long long)m.size, h.slot_size);
    return -EFAULT;
  }
  set_error("ring corrupted: %s slot %u len=%u exceeds slot_size=%u", which, s, len, h.slot_size);
  return -EINVAL;
}

int ring_check_all(const GuestMemory& m, uint32_t off, const char* which) {
  RingHeader h;
  int rc = ring_open(m, off, which, &h);
  if (rc < 0) return rc;
  for (uint32_t i = 0; i < h.num_slots; ++i) {
    uint8_t* d = nullptr;
    uint32_t buf = 0, len = 0;
    rc = ring_slot(m, h, i, which, false, &d, &buf, &len);
    if (rc < 0) return rc;
  }
  return 0;
}

}  // namespace msh

// ---------------------------------------------------------------------------------------
// The per-batch guest ring data path of a Link (declared in link.h).

#include <time.h>

#include <algorithm>

#include "link.h"

namespace msh {

namespace {
// Locks the port's pcap writer for one batch when capture is on; one timestamp per batch.
class PcapBatch {
 public:
  explicit PcapBatch(Port& p) {
    if (!p.pcap_on.load(std::memory_order_relaxed)) return;
    lk_ = std::unique_lock<std::mutex>(p.pcap_mu);
    w_ = p.pcap.get();
    if (w_) ts_ = PcapWriter::now_ns();
  }
  ~PcapBatch() {
    if (w_) w_->flush();
  }
  explicit operator bool() const { return w_ != nullptr; }
  void write(const uint8_t* d, uint32_t len) { w_->write(d, len, ts_); }

 private:
  std::unique_lock<std::mutex> lk_;
  PcapWriter* w_ = nullptr;
  uint64_t ts_ = 0;
};

int port_gone(uint32_t id) {
  if (id == kKernelPort)
    set_errno_error(ENOENT, "", "port 0 is the kernel port: it has no guest rings");
  else
    set_errno_error(ENOENT, "", "port %u does not exist or is being removed", id);
  return -ENOENT;
}
}  // namespace

int Link::rx_to_guest(uint32_t port_id, const GuestMemory& m, uint32_t off, uint32_t max) {
  // Port 0's frames belong to the kernel side (e.g. the switch's drain): one consumer.
  PortRef port(*this, port_id == kKernelPort ? kMaxPorts : port_id);
  if (!port) return port_gone(port_id);
  RingHeader h;
  int rc = ring_open(m, off, "rx", &h);
  if (rc < 0) return rc;
  uint32_t budget = std::min(h.num_slots - (h.tail - h.head), max);
  if (budget == 0) return 0;

  Backend& be = backend();
  uint32_t tail = h.tail;
  uint64_t bytes = 0, too_big = 0, malformed = 0;
  PcapBatch pc(*port);

  if (be.supports_rx_peek()) {
    const bool parse = be.rx_needs_parse();
    FrameRef refs[kBatch];
    while (budget) {
      const uint32_t want = std::min(budget, kBatch);
      const uint32_t got = be.rx_peek(port_id, refs, want);
      for (uint32_t i = 0; i < got; ++i) {
        const uint32_t len = refs[i].len;
        if (len > h.slot_size) [[unlikely]] {
          ++too_big;  // cannot fit any slot of this guest: consumed and counted
          continue;
        }
        if (parse) {
          ParsedFrame f;
          if (parse_frame(refs[i].data, len, f) != ParseStatus::Ok) [[unlikely]] {
            ++malformed;  // the guest never sees a frame the host's parser rejects
            continue;
          }
        }
        uint8_t* d = nullptr;
        uint32_t buf = 0, unused = 0;
        rc = ring_slot(m, h, tail, "rx", false, &d, &buf, &unused);
        if (rc < 0) [[unlikely]] {
          be.rx_release(port_id, 0);
          return rc;
        }
        copy_frame(m.data + buf, refs[i].data, len);
        st32(d + kSlotLen, len);
        st32(d + kSlotFlags, 0);
        if (pc) pc.write(refs[i].data, len);
        bytes += len;
        ++tail;
      }
      be.rx_release(port_id, got);
      budget -= got;
      if (got < want) break;
    }
  } else {
    int err = 0;
    be.receive(port_id, budget, [&](const uint8_t* data, uint32_t len) -> bool {
      if (len > h.slot_size) {
        ++too_big;
        return true;
      }
      uint8_t* d = nullptr;
      uint32_t buf = 0, unused = 0;
      err = ring_slot(m, h, tail, "rx", false, &d, &buf, &unused);
      if (err < 0) return false;
      copy_frame(m.data + buf, data, len);
      st32(d + kSlotLen, len);
      st32(d + kSlotFlags, 0);
      if (pc) pc.write(data, len);
      bytes += len;
      ++tail;
      return true;
    });
    if (err < 0) return err;
  }

  st32(m.data + off + kRingTail, tail);  // publish once per batch
  PortCounters& c = port->counters;
  count(c.rx_frames, tail - h.tail);
  count(c.rx_batches, tail != h.tail ? 1 : 0);
  count(c.rx_bytes, bytes);
  count(c.rx_dropped_too_big, too_big);
  count(c.rx_dropped_malformed, malformed);
  count(counters_.rx_malformed, malformed);
  return int(tail - h.tail);
}

// Token bucket of the port's TX rate limit: how many of the `want` frames from ring index
// `head` on may go now. The frames held back stay on the guest's ring; each is counted in
// tx_rate_limited once (held_upto remembers how far the ring was counted).
static uint32_t take_tx_tokens(Port& p, uint64_t rate, uint32_t head, uint32_t want) {
  Port::TxBucket& b = p.tx_bucket;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now = uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
  const double burst = std::max<double>(kTxRateMinBurst, double(rate) * kTxRateBurstSeconds);
  const uint32_t gen = p.tx_rate_gen.load(std::memory_order_acquire);
  if (b.gen != gen) {  // new rate or new port: a full bucket, nothing counted yet
    b.gen = gen;
    b.tokens = burst;
    b.held_upto = head;
  } else {
    b.tokens = std::min(burst, b.tokens + double(now - b.last_ns) * 1e-9 * double(rate));
  }
  b.last_ns = now;
  const uint32_t allowed = b.tokens >= double(want) ? want : uint32_t(b.tokens);
  b.tokens -= allowed;
  const uint32_t end = head + want;
  if (allowed < want) {
    uint32_t from = head + allowed;
    // Frames up to held_upto were counted by an earlier call (if held_upto is in range).
    if (uint32_t(b.held_upto - from) <= want - allowed) from = b.held_upto;
    count(p.counters.tx_rate_limited, end - from);
    b.held_upto = end;
  }
  return allowed;
}

int Link::tx_from_guest(uint32_t port_id, const GuestMemory& m, uint32_t off, uint32_t max) {
  PortRef port(*this, port_id == kKernelPort ? kMaxPorts : port_id);
  if (!port) return port_gone(port_id);
  RingHeader h;
  int rc = ring_open(m, off, "tx", &h);
  if (rc < 0) return rc;
  uint32_t n = std::min(h.tail - h.head, max);
  if (n == 0) return 0;
  if (const uint64_t rate = port->tx_rate.load(std::memory_order_relaxed)) {
    n = take_tx_tokens(*port, rate, h.head, n);
    if (n == 0) return 0;
  }

  Backend& be = backend();
  Classifier::Reader reader(classifier_);
  ParsedFrame pf;
  FrameRef refs[kBatch];
  uint64_t verdicts[6] = {};
  uint64_t frames = 0, bytes = 0, full = 0;
  uint32_t head = h.head;
  const uint32_t end = h.head + n;
  PcapBatch pc(*port);

  while (head != end) {
    const uint32_t chunk = std::min(end - head, kBatch);
    uint32_t k = 0;
    for (uint32_t i = 0; i < chunk; ++i) {
      uint8_t* d = nullptr;
      uint32_t buf = 0, len = 0;
      rc = ring_slot(m, h, head + i, "tx", true, &d, &buf, &len);
      if (rc < 0) [[unlikely]]
        break;
      const uint8_t* frame = m.data + buf;
      const TxVerdict v = reader.tx_validate(port_id, frame, len, mac_, mtu_, pf);
      if (v == TxVerdict::Ok) [[likely]]
        refs[k++] = FrameRef{frame, len};
      else
        ++verdicts[size_t(v)];
    }
    if (rc < 0) break;  // nothing of the chunk with the bad slot is sent
    if (k) {
      if (pc)
        for (uint32_t j = 0; j < k; ++j) pc.write(refs[j].data, refs[j].len);
      const uint32_t sent = be.transmit(port_id, refs, k);
      for (uint32_t j = 0; j < sent; ++j) bytes += refs[j].len;
      frames += sent;
      full += k - sent;
    }
    head += chunk;
  }

  st32(m.data + off + kRingHead, head);  // once per call
  PortCounters& c = port->counters;
  count(c.tx_frames, frames);
  count(c.tx_bytes, bytes);
  count(c.tx_backend_full, full);
  count(c.tx_bad_src_mac, verdicts[size_t(TxVerdict::BadSrcMac)]);
  count(c.tx_bad_ethertype, verdicts[size_t(TxVerdict::BadEthertype)]);
  count(c.tx_bad_tuple, verdicts[size_t(TxVerdict::BadTuple)]);
  count(c.tx_malformed, verdicts[size_t(TxVerdict::Malformed)]);
  count(c.tx_too_long, verdicts[size_t(TxVerdict::TooLong)]);
  return rc < 0 ? rc : int(n);
}

}  // namespace msh
