// AF_PACKET backend. See packet.h for the shape; the platform facts it relies on
// (TPACKET_V3 + filter before bind works; the kernel also answers owned tuples unless nft
// drops them; TP_STATUS_CSUMNOTREADY) are in /work/shared/notes/platform.md.
#include "backends/packet.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "errors.h"
#include "gso.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace msh {

namespace {

constexpr uint32_t kTxBatch = 64;  // messages per sendmmsg
// A sendmmsg that finds the socket / device full waits for room at most this often per
// transmit call (1 ms each) before the rest is reported as not queued.
constexpr int kTxMaxWaits = 2;

[[gnu::format(printf, 3, 4)]] int fail(int err, const char* syscall, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  err = std::abs(err);
  const char* hint =
      (err == EPERM || err == EACCES) ? " (AF_PACKET needs root or CAP_NET_RAW)" : "";
  set_errno_error(err, syscall, "%s%s", buf, hint);
  return -err;
}

// The pre-filter: only frames that can carry a TCP/UDP datagram reach the ring. The
// classifier decides ownership exactly; this keeps ARP, ICMP, NDP, MLD and other
// protocols (which the kernel handles alone) from filling the ring and waking the I/O
// thread.
//   IPv4: protocol TCP or UDP (every fragment carries it).
//   IPv6: next header TCP, UDP, fragment, routing or destination options; hop-by-hop
//         unless the header after it is ICMPv6 (MLD reports carry a router alert).
//   802.1Q / 802.1ad tagged: passed whole (the classifier parses the tag).
// The return value is the snap length: the whole frame.
constexpr sock_filter kFilter[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),  // -> 2 : 5
    /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 14, 0),   // -> accept
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 13, 12),  // -> accept : reject
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 9),  // -> 6 : 15
    /* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
    /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 10, 0),       // -> accept
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 9, 0),        // -> accept
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_FRAGMENT, 8, 0),   // -> accept
    /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ROUTING, 7, 0),   // -> accept
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_DSTOPTS, 6, 0),   // -> accept
    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_HOPOPTS, 0, 4),   // -> 13 : reject
    /* 13 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),  // the hop-by-hop header's next header
    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 2, 3),    // -> reject : accept
    /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_8021Q, 2, 0),       // -> accept
    /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_8021AD, 1, 0),      // -> accept : reject
    /* 17 */ BPF_STMT(BPF_RET | BPF_K, 0),            // reject
    /* 18 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),  // accept
};

inline tpacket_block_desc* block_at(uint8_t* ring, uint32_t block_size, uint32_t i) {
  return reinterpret_cast<tpacket_block_desc*>(ring + size_t(i) * block_size);
}

}  // namespace

struct PacketBackend::Port : DemuxPort {
  int tx_fd = -1;
  // sendmmsg scratch (the port's worker only).
  mmsghdr msgs[kTxBatch];
  iovec iov[kTxBatch];
  Counter tx_frames{0}, tx_bytes{0};
  // Runs of segments leave as GSO packets (gso.h) when PacketOptions::gso.
  std::unique_ptr<GsoSocket> gso;
  GsoCounters gso_counters;
};

PacketBackend::PacketBackend(const PacketOptions& o)
    : DemuxBackend(DemuxOptions{o.port_queue_bytes}), opt_pkt_(o) {}

std::unique_ptr<PacketBackend> PacketBackend::create(const PacketOptions& opts) {
  if (opts.ifname.empty() || opts.ifname.size() >= IFNAMSIZ) {
    fail(EINVAL, "", "packet: invalid interface name '%s'", opts.ifname.c_str());
    return nullptr;
  }
  const long page = sysconf(_SC_PAGESIZE);
  if (opts.block_size < uint32_t(page) || (opts.block_size & (opts.block_size - 1)) ||
      opts.block_count < 2 || opts.block_timeout_ms == 0) {
    fail(EINVAL, "",
         "packet: block_size must be a power of two >= %ld, block_count >= 2, "
         "block_timeout_ms >= 1",
         page);
    return nullptr;
  }
  std::unique_ptr<PacketBackend> b(new PacketBackend(opts));
  b->ifindex_ = int(if_nametoindex(opts.ifname.c_str()));
  if (!b->ifindex_) {
    fail(ENODEV, "if_nametoindex", "packet: no such interface '%s' in this network namespace",
         opts.ifname.c_str());
    return nullptr;
  }
  // Protocol 0: the socket receives nothing until bind() names a protocol, so no frame
  // can enter the ring before the filter is in place.
  b->fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (b->fd_ < 0) {
    fail(errno, "socket", "packet: socket(AF_PACKET): %s", strerror(errno));
    return nullptr;
  }
  const int fd = b->fd_;
  int v = TPACKET_V3;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0) {
    fail(errno, "setsockopt", "packet: PACKET_VERSION TPACKET_V3: %s", strerror(errno));
    return nullptr;
  }
  tpacket_req3 req{};
  req.tp_block_size = opts.block_size;
  req.tp_block_nr = opts.block_count;
  req.tp_frame_size = 2048;  // V3 packs frames by size; this only has to divide the block
  req.tp_frame_nr = (opts.block_size / req.tp_frame_size) * opts.block_count;
  req.tp_retire_blk_tov = opts.block_timeout_ms;
  req.tp_sizeof_priv = 0;
  req.tp_feature_req_word = 0;
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
    fail(errno, "setsockopt", "packet: PACKET_RX_RING (%u blocks of %u bytes): %s",
         opts.block_count, opts.block_size, strerror(errno));
    return nullptr;
  }
  b->ring_bytes_ = size_t(opts.block_size) * opts.block_count;
  void* m = mmap(nullptr, b->ring_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    fail(errno, "mmap", "packet: mapping the RX ring (%zu bytes): %s", b->ring_bytes_,
         strerror(errno));
    return nullptr;
  }
  b->ring_ = static_cast<uint8_t*>(m);
  sock_fprog prog{static_cast<unsigned short>(sizeof kFilter / sizeof kFilter[0]),
                  const_cast<sock_filter*>(kFilter)};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    fail(errno, "setsockopt", "packet: SO_ATTACH_FILTER: %s", strerror(errno));
    return nullptr;
  }
  v = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof v) < 0) {
    fail(errno, "setsockopt", "packet: PACKET_IGNORE_OUTGOING: %s", strerror(errno));
    return nullptr;
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = b->ifindex_;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
    fail(errno, "bind", "packet: bind to %s: %s", opts.ifname.c_str(), strerror(errno));
    return nullptr;
  }
  return b;
}

PacketBackend::~PacketBackend() {
  stop_io();
  if (ring_) munmap(ring_, ring_bytes_);
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<DemuxPort> PacketBackend::make_port() { return std::make_unique<Port>(); }

int PacketBackend::open_port(DemuxPort& dp) {
  Port& p = static_cast<Port&>(dp);
  // Protocol 0 again: a send-only socket, no receive hook in the kernel.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno, "socket", "packet: TX socket: %s", strerror(errno));
  int sz = int(opt_pkt_.tx_sndbuf);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  if (opt_pkt_.qdisc_bypass) {
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) {
      const int e = errno;
      close(fd);
      return fail(e, "setsockopt", "packet: PACKET_QDISC_BYPASS: %s", strerror(e));
    }
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex_;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
    const int e = errno;
    close(fd);
    return fail(e, "bind", "packet: TX socket bind to %s: %s", opt_pkt_.ifname.c_str(),
                strerror(e));
  }
  for (uint32_t i = 0; i < kTxBatch; ++i) {
    p.msgs[i] = mmsghdr{};
    p.msgs[i].msg_hdr.msg_iov = &p.iov[i];
    p.msgs[i].msg_hdr.msg_iovlen = 1;
  }
  p.tx_fd = fd;
  if (opt_pkt_.gso)  // null: frame by frame
    p.gso = GsoSocket::open(ifindex_, opt_pkt_.ifname.c_str(), opt_pkt_.qdisc_bypass);
  return 0;
}

void PacketBackend::close_port(DemuxPort& dp) {
  Port& p = static_cast<Port&>(dp);
  if (p.tx_fd >= 0) close(p.tx_fd);
  p.tx_fd = -1;
  p.gso.reset();
}

size_t PacketBackend::port_counters(DemuxPort& dp, const char** names, uint64_t* values,
                                    size_t max) {
  Port& p = static_cast<Port&>(dp);
  const std::pair<const char*, uint64_t> v[] = {
      {"gso_packets", p.gso_counters.packets.load(std::memory_order_relaxed)},
      {"gso_frames", p.gso_counters.frames.load(std::memory_order_relaxed)},
      {"gso_fallback", p.gso_counters.fallback.load(std::memory_order_relaxed)},
      {"gso_error", p.gso_counters.error.load(std::memory_order_relaxed)}};
  size_t n = 0;
  for (; n < max && n < sizeof v / sizeof v[0]; ++n) names[n] = v[n].first, values[n] = v[n].second;
  return n;
}

uint32_t PacketBackend::transmit(uint32_t port, const FrameRef* frames, uint32_t n) {
  Port* p = static_cast<Port*>(port_obj(port));
  if (!p || p->tx_fd < 0) return 0;
  GsoSent via_gso;
  const uint32_t sent = send_with_gso(p->gso, p->gso_counters, frames, n, &via_gso,
                                      [&](const FrameRef* f, uint32_t k) { return transmit_frames(*p, f, k); });
  count(p->tx_frames, via_gso.frames);  // transmit_frames counts the others
  count(p->tx_bytes, via_gso.bytes);
  count(tx_frames_, via_gso.frames);
  count(tx_bytes_, via_gso.bytes);
  return sent;
}

// Frame by frame through the port's TX socket (sendmmsg, without blocking).
uint32_t PacketBackend::transmit_frames(Port& port, const FrameRef* frames, uint32_t n) {
  Port* p = &port;
  uint32_t sent = 0, i = 0;
  uint64_t bytes = 0, errors = 0, retries = 0;
  int waits = 0;
  while (i < n) {
    const uint32_t k = std::min(n - i, kTxBatch);
    for (uint32_t j = 0; j < k; ++j) {
      p->iov[j].iov_base = const_cast<uint8_t*>(frames[i + j].data);
      p->iov[j].iov_len = frames[i + j].len;
    }
    const int r = sendmmsg(p->tx_fd, p->msgs, k, MSG_DONTWAIT);
    if (r > 0) {
      for (int j = 0; j < r; ++j) bytes += frames[i + j].len;
      sent += uint32_t(r);
      i += uint32_t(r);
      continue;
    }
    const int e = r < 0 ? errno : EAGAIN;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == ENOBUFS) {
      // Socket buffer or device queue full: wait a little for room, then give up (the
      // caller counts the rest as tx_backend_full).
      if (waits++ >= kTxMaxWaits) break;
      ++retries;
      pollfd pf{p->tx_fd, POLLOUT, 0};
      (void)poll(&pf, 1, 1);
      continue;
    }
    // This frame is refused for good (EMSGSIZE, ENETDOWN, ENXIO, ...): skip it.
    ++errors;
    ++i;
    if (e == ENETDOWN || e == ENXIO || e == ENODEV) {
      errors += n - i;  // the device is gone or down: the rest would fail the same way
      break;
    }
  }
  count(p->tx_frames, sent);
  count(p->tx_bytes, bytes);
  count(p->tx_errors, errors);
  count(p->tx_retries, retries);
  count(tx_frames_, sent);
  count(tx_bytes_, bytes);
  return sent;
}

int PacketBackend::io_loop() {
  const uint32_t bsize = opt_pkt_.block_size, nblocks = opt_pkt_.block_count;
  uint32_t cur = 0;
  pollfd pfds[2] = {{fd_, POLLIN, 0}, {stop_fd(), POLLIN, 0}};
  while (!stopping()) {
    tpacket_block_desc* bd = block_at(ring_, bsize, cur);
    const uint32_t status = __atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
    if (!(status & TP_STATUS_USER)) {
      const int r = poll(pfds, 2, -1);
      if (r < 0 && errno != EINTR) return errno;
      if (pfds[0].revents & POLLERR) {
        // A pending socket error (e.g. ENETDOWN when the link went down; the socket
        // resumes when it comes back up). Read it to clear it; stop only if the
        // interface is gone.
        int err = 0;
        socklen_t len = sizeof err;
        (void)getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (if_nametoindex(opt_pkt_.ifname.c_str()) != unsigned(ifindex_)) return ENODEV;
      }
      continue;
    }
    {
      DeliveryBatch batch(*this);
      const uint32_t num = bd->hdr.bh1.num_pkts;
      uint8_t* fp = reinterpret_cast<uint8_t*>(bd) + bd->hdr.bh1.offset_to_first_pkt;
      uint8_t* const bend = reinterpret_cast<uint8_t*>(bd) + bsize;
      for (uint32_t i = 0; i < num; ++i) {
        auto* h = reinterpret_cast<tpacket3_hdr*>(fp);
        if (fp + sizeof(tpacket3_hdr) > bend || fp + h->tp_mac + h->tp_snaplen > bend) break;
        if (h->tp_snaplen == h->tp_len) {  // truncated frames are the kernel's alone
          batch.deliver(fp + h->tp_mac, h->tp_snaplen, h->tp_status & TP_STATUS_CSUMNOTREADY);
        } else {
          count(ctx_.counters->rx_dropped_oversize, 1);
        }
        if (!h->tp_next_offset) break;
        fp += h->tp_next_offset;
      }
    }
    __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    count(blocks_, 1);
    cur = (cur + 1) % nblocks;
  }
  return 0;
}

void PacketBackend::read_socket_stats() {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    ring_packets_ += st.tp_packets;
    ring_drops_ += st.tp_drops;
    ring_freezes_ += st.tp_freeze_q_cnt;
  }
}

PacketStats PacketBackend::stats() {
  PacketStats s;
  {
    std::lock_guard<std::mutex> lk(stats_mu_);
    read_socket_stats();
    s.ring_packets = ring_packets_;
    s.ring_drops = ring_drops_;
    s.ring_freezes = ring_freezes_;
  }
  s.blocks = blocks_.load(std::memory_order_relaxed);
  s.tx_frames = tx_frames_.load(std::memory_order_relaxed);
  s.tx_bytes = tx_bytes_.load(std::memory_order_relaxed);
  // Port objects live as long as the backend (ids are reused), so this sums every port
  // that ever existed.
  for (uint32_t id = 1; id < kMaxPorts; ++id)
    if (DemuxPort* p = port_obj(id)) {
      s.tx_errors += p->tx_errors.load(std::memory_order_relaxed);
      s.tx_retries += p->tx_retries.load(std::memory_order_relaxed);
    }
  return s;
}

size_t PacketBackend::link_counters(const char** names, uint64_t* values, size_t max) {
  const PacketStats s = stats();
  const std::pair<const char*, uint64_t> all[] = {
      {"ring_packets", s.ring_packets}, {"ring_drops", s.ring_drops},
      {"ring_freezes", s.ring_freezes}, {"ring_blocks", s.blocks},
      {"tx_frames", s.tx_frames},       {"tx_bytes", s.tx_bytes},
      {"tx_device_errors", s.tx_errors}, {"tx_device_retries", s.tx_retries},
  };
  size_t n = 0;
  for (const auto& [k, v] : all) {
    if (n == max) break;
    names[n] = k;
    values[n] = v;
    ++n;
  }
  return n;
}

}  // namespace msh
