#include "backends/demux.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "errors.h"
#include "guest_ring.h"  // kBatch

namespace msh {

// ---------------------------------------------------------------------------------------
// Checksum completion

namespace {

// One's-complement sum of [p, p + n) as big-endian 16-bit words (odd tail padded with 0),
// added to `acc` (a big-endian-word sum). The bulk is summed 32 bits at a time in native
// byte order into a 64-bit accumulator (no overflow below 2^32 words); the one's-complement
// sum is byte-order independent up to a final byte swap of the folded result.
static_assert(std::endian::native == std::endian::little, "sum16 assumes a little-endian host");
uint64_t sum16(const uint8_t* p, uint32_t n, uint64_t acc) {
  uint64_t native = 0;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    native += (v & 0xffffffffu) + (v >> 32);
    p += 8;
    n -= 8;
  }
  if (native) {
    while (native >> 16) native = (native & 0xffff) + (native >> 16);
    acc += __builtin_bswap16(uint16_t(native));  // little-endian host
  }
  while (n >= 2) {
    acc += load_be16(p);
    p += 2;
    n -= 2;
  }
  if (n) acc += uint64_t(p[0]) << 8;
  return acc;
}

uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(acc);
}

// Pseudo-header sum (RFC 793 / RFC 8200 8.1) for an upper-layer length `l4len`.
uint64_t pseudo_sum(const uint8_t* frame, const ParsedFrame& pf, uint32_t l4len) {
  uint64_t acc = 0;
  if (pf.ip_version == 4) {
    acc = sum16(frame + pf.l3_off + 12, 8, 0);  // source and destination addresses
  } else {
    acc = sum16(pf.src, 16, 0);
    acc = sum16(pf.dst, 16, acc);
  }
  return acc + pf.proto + l4len;
}

}  // namespace

bool complete_l4_checksum(uint8_t* frame, uint32_t len, const ParsedFrame& pf) {
  if (pf.status != ParseStatus::Ok || !pf.has_ports || pf.is_fragment()) return false;
  uint32_t field;
  if (pf.proto == kProtoTcp)
    field = 16;
  else if (pf.proto == kProtoUdp)
    field = 6;
  else
    return false;
  const uint32_t start = pf.l4_off, end = pf.l3_end;
  if (end > len || start + field + 2 > end) return false;
  // The field already holds the folded pseudo-header sum (not complemented): summing the
  // segment with it in place and complementing gives the final checksum.
  uint16_t c = uint16_t(~fold(sum16(frame + start, end - start, 0)));
  if (pf.proto == kProtoUdp && c == 0) c = 0xffff;  // RFC 768: 0 means "no checksum"
  frame[start + field] = uint8_t(c >> 8);
  frame[start + field + 1] = uint8_t(c);
  return true;
}

uint32_t split_tcp_aggregate(const uint8_t* frame, const ParsedFrame& pf, uint32_t mtu,
                             PortQueue& q, uint32_t* dropped) {
  *dropped = 0;
  const uint32_t l3 = pf.l3_off, l4 = pf.l4_off;
  const uint32_t thl = uint32_t(frame[l4 + 12] >> 4) * 4;
  const uint32_t hdr = l4 + thl;  // Ethernet + IP (+ options / extension headers) + TCP
  const uint32_t ip_hdr = l4 - l3;
  if (pf.l3_end < hdr || mtu <= ip_hdr + thl) return 0;
  const uint32_t mss = mtu - ip_hdr - thl;
  const uint32_t payload = pf.l3_end - hdr;
  const uint32_t nseg = payload ? (payload + mss - 1) / mss : 1;
  const uint32_t seq0 = load_be32(frame + l4 + 4);
  const uint8_t flags = frame[l4 + 13];
  const uint16_t id0 = pf.ip_version == 4 ? load_be16(frame + l3 + 4) : 0;
  uint32_t done = 0;
  for (uint32_t i = 0; i < nseg; ++i) {
    const uint32_t off = i * mss;
    const uint32_t n = payload - off < mss ? payload - off : mss;
    const uint32_t seglen = hdr + n;
    uint8_t* d = q.reserve(seglen);
    if (!d) {
      *dropped = nseg - i;
      break;
    }
    std::memcpy(d, frame, hdr);
    std::memcpy(d + hdr, frame + hdr + off, n);
    const bool first = i == 0, last = i + 1 == nseg;
    // FIN and PSH belong to the last segment, CWR to the first (as Linux's GSO does).
    d[l4 + 13] = uint8_t(flags & ~((last ? 0 : 0x09) | (first ? 0 : 0x80)));
    const uint32_t seq = seq0 + off;
    d[l4 + 4] = uint8_t(seq >> 24);
    d[l4 + 5] = uint8_t(seq >> 16);
    d[l4 + 6] = uint8_t(seq >> 8);
    d[l4 + 7] = uint8_t(seq);
    if (pf.ip_version == 4) {
      const uint16_t tot = uint16_t(ip_hdr + thl + n), id = uint16_t(id0 + i);
      d[l3 + 2] = uint8_t(tot >> 8);
      d[l3 + 3] = uint8_t(tot);
      d[l3 + 4] = uint8_t(id >> 8);
      d[l3 + 5] = uint8_t(id);
      d[l3 + 10] = d[l3 + 11] = 0;
      const uint16_t c = uint16_t(~fold(sum16(d + l3, ip_hdr, 0)));
      d[l3 + 10] = uint8_t(c >> 8);
      d[l3 + 11] = uint8_t(c);
    } else {
      const uint16_t plen = uint16_t(ip_hdr - 40 + thl + n);
      d[l3 + 4] = uint8_t(plen >> 8);
      d[l3 + 5] = uint8_t(plen);
    }
    d[l4 + 16] = d[l4 + 17] = 0;
    const uint16_t c = uint16_t(~fold(sum16(d + l4, thl + n, pseudo_sum(d, pf, thl + n))));
    d[l4 + 16] = uint8_t(c >> 8);
    d[l4 + 17] = uint8_t(c);
    q.commit(seglen);
    ++done;
  }
  return done;
}

// ---------------------------------------------------------------------------------------
// DeliveryBatch

DemuxBackend::DeliveryBatch::DeliveryBatch(DemuxBackend& b)
    : b_(b), lk_(b.ports_mu_), reader_(*b.ctx_.classifier) {}

uint32_t DemuxBackend::DeliveryBatch::deliver(const uint8_t* data, uint32_t len,
                                              bool csum_partial) {
  ++frames_;
  bool bad = false;
  const uint32_t owner = reader_.rx_frame_owner(data, len, pf_, &bad);
  malformed_ += bad;
  if (owner == kKernelPort) {
    ++to_kernel_;
    return kKernelPort;
  }
  DemuxPort* p = owner < kMaxPorts ? b_.live_[owner].load(std::memory_order_relaxed) : nullptr;
  if (!p) [[unlikely]] {  // claimed by a port the backend does not know (yet / any more)
    ++no_port_;
    return kKernelPort;
  }
  if (pf_.l3_end - pf_.l3_off > b_.ctx_.mtu) [[unlikely]] {
    // Larger than the link MTU: a GRO/GSO aggregate (fragments never are). TCP is cut
    // back into MTU-sized segments, which is what the wire carried and what a stack's
    // RX slots are sized for; anything else is too big for any stack.
    if (pf_.status != ParseStatus::Ok || pf_.proto != kProtoTcp || !pf_.has_ports ||
        pf_.is_fragment()) {
      ++oversize_;
      return kKernelPort;
    }
    uint32_t dropped = 0;
    const uint32_t segs = split_tcp_aggregate(data, pf_, b_.ctx_.mtu, *p->q, &dropped);
    ++split_;
    full_ += dropped;
    p->rx_dropped_queue_full.fetch_add(dropped, std::memory_order_relaxed);
    if (!segs) return kKernelPort;
    p->rx_queued.fetch_add(segs, std::memory_order_relaxed);
    to_ports_ += segs;
    if (!p->touched) {
      p->touched = true;
      b_.touched_.push_back(p);
    }
    return owner;
  }
  uint8_t* dst = p->q->reserve(len);
  if (!dst) [[unlikely]] {
    if (len > p->q->max_frame()) {
      ++oversize_;
    } else {
      ++full_;
      p->rx_dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
    }
    return kKernelPort;
  }
  std::memcpy(dst, data, len);
  if (csum_partial) csum_ += complete_l4_checksum(dst, len, pf_);
  p->q->commit(len);
  p->rx_queued.fetch_add(1, std::memory_order_relaxed);
  if (!p->touched) {
    p->touched = true;
    b_.touched_.push_back(p);  // capacity kMaxPorts reserved: no allocation
  }
  ++to_ports_;
  return owner;
}

DemuxBackend::DeliveryBatch::~DeliveryBatch() {
  for (DemuxPort* p : b_.touched_) {
    p->touched = false;
    p->q->publish();
    p->ev.signal();
  }
  b_.touched_.clear();
  LinkCounters& c = *b_.ctx_.counters;
  count(c.rx_malformed, malformed_);
  count(c.rx_to_kernel, to_kernel_);
  count(c.rx_to_ports, to_ports_);
  count(c.rx_dropped_oversize, oversize_);
  count(b_.st_frames_, frames_);
  count(b_.st_batches_, 1);
  count(b_.st_to_ports_, to_ports_);
  count(b_.st_to_kernel_, to_kernel_);
  count(b_.st_no_port_, no_port_);
  count(b_.st_full_, full_);
  count(b_.st_oversize_, oversize_);
  count(b_.st_csum_, csum_);
  count(b_.st_split_, split_);
}

// ---------------------------------------------------------------------------------------
// DemuxBackend

DemuxBackend::~DemuxBackend() {
  stop_io();
  if (stop_fd_ >= 0) close(stop_fd_);
}

int DemuxBackend::attach(const LinkContext& ctx) {
  ctx_ = ctx;
  touched_.reserve(kMaxPorts);
  return start_io();
}

int DemuxBackend::start_io() {
  if (io_.joinable()) return 0;
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    const int e = errno;
    set_errno_error(e, "eventfd", "%s: eventfd: %s", name(), strerror(e));
    return -e;
  }
  stop_.store(false);
  io_ = std::thread([this] {
    const int err = io_loop();
    if (err) {
      io_error_.store(err, std::memory_order_release);
      // Wake every worker so it sees the error at once.
      for (auto& s : store_)
        if (DemuxPort* p = s.load(std::memory_order_acquire)) p->ev.signal();
    }
  });
  return 0;
}

void DemuxBackend::stop_io() {
  if (!io_.joinable()) return;
  stop_.store(true);
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
  io_.join();
}

int DemuxBackend::on_port_added(uint32_t port) {
  if (port == kKernelPort || port >= kMaxPorts) {
    set_errno_error(EINVAL, "", "%s: invalid port id %u", name(), port);
    return -EINVAL;
  }
  DemuxPort* p = store_[port].load(std::memory_order_acquire);
  if (!p) {
    owned_.push_back(make_port());
    p = owned_.back().get();
    p->id = port;
  }
  p->q = std::make_unique<PortQueue>(opt_.port_queue_bytes);
  const int rc = open_port(*p);
  if (rc < 0) {
    p->q.reset();
    return rc;
  }
  store_[port].store(p, std::memory_order_release);
  std::lock_guard<std::mutex> lk(ports_mu_);
  live_[port].store(p, std::memory_order_release);
  return 0;
}

void DemuxBackend::on_port_removed(uint32_t port) {
  DemuxPort* p = port_obj(port);
  if (!p) return;
  {
    std::lock_guard<std::mutex> lk(ports_mu_);  // the I/O thread is between batches
    live_[port].store(nullptr, std::memory_order_release);
  }
  // The Link guarantees no data call of this port runs any more.
  close_port(*p);
  p->q.reset();
}

uint32_t DemuxBackend::rx_peek(uint32_t port, FrameRef* out, uint32_t max) {
  DemuxPort* p = port_obj(port);
  return p && p->q ? p->q->peek(out, max) : 0;
}

void DemuxBackend::rx_release(uint32_t port, uint32_t n) {
  DemuxPort* p = port_obj(port);
  if (p && p->q) p->q->release(n);
}

uint32_t DemuxBackend::receive(uint32_t port, uint32_t max, const FrameSink& sink) {
  DemuxPort* p = port_obj(port);
  if (!p || !p->q) return 0;
  FrameRef refs[64];
  uint32_t done = 0;
  while (done < max) {
    const uint32_t got = p->q->peek(refs, std::min<uint32_t>(max - done, 64));
    uint32_t i = 0;
    while (i < got && sink(refs[i].data, refs[i].len)) ++i;
    p->q->release(i);
    done += i;
    if (i < got || got == 0) break;
  }
  return done;
}

int DemuxBackend::wait(uint32_t port, int timeout_ms) {
  DemuxPort* p = port_obj(port);
  if (!p || !p->q) {
    set_errno_error(ENOENT, "", "%s: port %u does not exist", name(), port);
    return -ENOENT;
  }
  PortQueue* q = p->q.get();
  const bool ready = p->ev.wait(timeout_ms, [&] {
    return !q->empty() || io_error_.load(std::memory_order_relaxed) != 0;
  });
  if (!q->empty()) return 1;  // frames already queued are still delivered
  if (const int e = io_error()) {
    set_errno_error(e, "", "%s: the device failed: %s", name(), strerror(e));
    return -e;
  }
  return ready ? 1 : 0;
}

void DemuxBackend::wake(uint32_t port) {
  if (DemuxPort* p = port_obj(port)) p->ev.signal();
}

DemuxBackend::IoStats DemuxBackend::io_stats() const {
  IoStats s;
  s.frames = st_frames_.load(std::memory_order_relaxed);
  s.batches = st_batches_.load(std::memory_order_relaxed);
  s.to_ports = st_to_ports_.load(std::memory_order_relaxed);
  s.to_kernel = st_to_kernel_.load(std::memory_order_relaxed);
  s.no_port = st_no_port_.load(std::memory_order_relaxed);
  s.queue_full = st_full_.load(std::memory_order_relaxed);
  s.oversize = st_oversize_.load(std::memory_order_relaxed);
  s.csum_completed = st_csum_.load(std::memory_order_relaxed);
  s.gso_split = st_split_.load(std::memory_order_relaxed);
  return s;
}

size_t DemuxBackend::extra_counters(uint32_t port, const char** names, uint64_t* values,
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
    const IoStats s = io_stats();
    put("io_frames", s.frames);
    put("io_batches", s.batches);
    put("io_no_port", s.no_port);
    put("io_queue_full", s.queue_full);
    put("io_csum_completed", s.csum_completed);
    put("io_gso_split", s.gso_split);
    put("io_error", uint64_t(io_error()));
    return n + link_counters(names + n, values + n, max - n);
  }
  DemuxPort* p = port_obj(port);
  if (!p) return 0;
  put("rx_queued", p->rx_queued.load(std::memory_order_relaxed));
  put("rx_dropped_queue_full", p->rx_dropped_queue_full.load(std::memory_order_relaxed));
  put("tx_device_errors", p->tx_errors.load(std::memory_order_relaxed));
  put("tx_device_retries", p->tx_retries.load(std::memory_order_relaxed));
  return n + port_counters(*p, names + n, values + n, max - n);
}

}  // namespace msh
