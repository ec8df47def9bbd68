#include "gso.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "guest_ring.h"

namespace msh {

namespace {

// struct virtio_net_hdr of <linux/virtio_net.h> (that header does not compile as C++:
// it has a field named `class`). Little-endian fields for a packet socket.
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");
constexpr uint8_t kVnetNeedsCsum = 1;
constexpr uint8_t kVnetGsoTcp4 = 1, kVnetGsoTcp6 = 4;
// UDP segmentation (USO): since Linux 6.2; Debian 12's uapi headers predate it.
constexpr uint8_t kVnetGsoUdpL4 = 5;

enum class Kind : uint8_t { None, Tcp4, Tcp6, Udp4, Udp6 };

// What plan_tx_runs needs of one frame.
struct Seg {
  Kind kind = Kind::None;
  uint32_t hdr_len = 0;  // Ethernet + IP + TCP/UDP header
  uint32_t payload = 0;  // bytes after the headers, up to the end of the IP datagram
  uint32_t seq = 0;      // TCP
  uint8_t flags = 0;     // TCP
};

constexpr uint8_t kFin = 0x01, kPsh = 0x08, kAck = 0x10;

Seg describe(const FrameRef& f) {
  Seg s;
  ParsedFrame pf;
  if (parse_frame(f.data, f.len, pf) != ParseStatus::Ok || pf.has_vlan || !pf.has_ports ||
      pf.is_fragment())
    return s;
  const uint8_t* d = f.data;
  // No IPv4 options and no IPv6 extension headers: the kernel's GSO copies them to every
  // segment, which is right for some and wrong for others; not worth telling apart.
  if (pf.ip_version == 4 ? pf.l4_off != kEthHdrLen + 20 : pf.l4_off != kEthHdrLen + 40) return s;
  uint32_t l4_hdr = 0;
  if (pf.proto == kProtoTcp) {
    l4_hdr = uint32_t(d[pf.l4_off + 12] >> 4) * 4;
    s.flags = d[pf.l4_off + 13];
    // Plain data segments only: no SYN/RST/URG, no ECN signalling (GSO treats CWR and
    // ECE specially), ACK set, FIN only on what will be the last segment.
    if ((s.flags & ~(kFin | kPsh | kAck)) || !(s.flags & kAck)) return s;
    s.seq = load_be32(d + pf.l4_off + 4);
    s.kind = pf.ip_version == 4 ? Kind::Tcp4 : Kind::Tcp6;
  } else {
    // The UDP length must end where the IP datagram ends (it may legally end earlier;
    // such a datagram is sent as it is).
    if (load_be16(d + pf.l4_off + 4) != pf.l3_end - pf.l4_off) return s;
    l4_hdr = 8;
    s.kind = pf.ip_version == 4 ? Kind::Udp4 : Kind::Udp6;
  }
  s.hdr_len = pf.l4_off + l4_hdr;
  if (pf.l3_end <= s.hdr_len) {  // nothing to carry
    s.kind = Kind::None;
    return s;
  }
  s.payload = pf.l3_end - s.hdr_len;
  return s;
}

bool same(const uint8_t* a, const uint8_t* b, uint32_t from, uint32_t to) {
  return memcmp(a + from, b + from, to - from) == 0;
}

// May frame `b` (described by sb) follow a run that starts with `a` and ends with `prev`?
bool extends(const FrameRef& a, const Seg& sa, const Seg& sprev, const FrameRef& b,
             const Seg& sb) {
  if (sb.kind != sa.kind || sb.hdr_len != sa.hdr_len || sb.payload > sa.payload ||
      sprev.payload != sa.payload)  // only the last segment may be short
    return false;
  const uint8_t *x = a.data, *y = b.data;
  const uint32_t l3 = kEthHdrLen;
  if (!same(x, y, 0, l3)) return false;  // MACs and EtherType
  const bool v4 = sa.kind == Kind::Tcp4 || sa.kind == Kind::Udp4;
  // IP header: all but the lengths, the IPv4 id and the IPv4 checksum.
  if (v4 ? !(same(x, y, l3, l3 + 2) && same(x, y, l3 + 6, l3 + 10) && same(x, y, l3 + 12, l3 + 20))
         : !(same(x, y, l3, l3 + 4) && same(x, y, l3 + 6, l3 + 40)))
    return false;
  const uint32_t l4 = l3 + (v4 ? 20 : 40);
  if (sa.kind == Kind::Udp4 || sa.kind == Kind::Udp6) return same(x, y, l4, l4 + 4);  // ports
  // TCP: ports, ack, offset, window, urgent pointer and options equal; contiguous data;
  // no FIN before the last segment.
  if (sprev.flags & kFin) return false;
  if (sb.seq != sprev.seq + sprev.payload) return false;
  return same(x, y, l4, l4 + 4) && same(x, y, l4 + 8, l4 + 13) && same(x, y, l4 + 14, l4 + 16) &&
         same(x, y, l4 + 18, sa.hdr_len);
}

// 16-bit one's complement sum of big-endian words (len even).
uint32_t sum16(const uint8_t* p, uint32_t len, uint32_t sum) {
  for (uint32_t i = 0; i < len; i += 2) sum += load_be16(p + i);
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}
void store_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

}  // namespace

uint32_t plan_tx_runs(const FrameRef* frames, uint32_t n, TxGroup* out, const GsoLimits& limits) {
  const uint32_t max_segs = std::min(limits.max_segments, kGsoMaxSegments);
  const uint32_t max_len = std::min<uint32_t>(limits.max_ip_len, 65535);
  uint32_t ng = 0;
  auto add_single = [&](uint32_t first) {
    // Consecutive single frames form one group.
    if (ng && !out[ng - 1].gso && out[ng - 1].first + out[ng - 1].count == first)
      out[ng - 1].count++;
    else
      out[ng++] = TxGroup{first, 1, false};
  };
  uint32_t i = 0;
  Seg next = n ? describe(frames[0]) : Seg{};
  while (i < n) {
    const Seg head = next;
    uint32_t j = i + 1;
    Seg prev = head;
    if (head.kind != Kind::None) {
      const uint32_t l3_hdr = head.hdr_len - kEthHdrLen;
      uint32_t ip_len = l3_hdr + head.payload;
      for (; j < n && j - i < max_segs; ++j) {
        const Seg s = describe(frames[j]);
        if (!extends(frames[i], head, prev, frames[j], s) || ip_len + s.payload > max_len) {
          next = s;
          break;
        }
        ip_len += s.payload;
        prev = s;
      }
      if (j == n || j - i == max_segs) next = j < n ? describe(frames[j]) : Seg{};
    } else {
      next = j < n ? describe(frames[j]) : Seg{};
    }
    if (j - i >= 2)
      out[ng++] = TxGroup{i, j - i, true, uint16_t(head.hdr_len), uint16_t(head.payload),
                          uint16_t(prev.payload)};
    else
      add_single(i);
    i = j;
  }
  return ng;
}

uint32_t build_gso_header(const FrameRef* frames, const TxGroup& g, uint8_t* hdr) {
  const uint8_t* first = frames[g.first].data;
  const uint8_t* last = frames[g.first + g.count - 1].data;
  const uint32_t payload = (g.count - 1) * g.seg_len + g.last_len;
  // plan_tx_runs accepted only untagged IPv4 without options and IPv6 without extension
  // headers, TCP or UDP: the EtherType and the protocol byte say which.
  const bool v4 = first[12] == 0x08;
  const uint32_t l3 = kEthHdrLen, l4 = l3 + (v4 ? 20 : 40);
  const bool tcp = first[l3 + (v4 ? 9 : 6)] == kProtoTcp;
  const uint32_t l4_len = g.hdr_len - l4 + payload;

  VnetHdr vh{};
  vh.flags = kVnetNeedsCsum;
  vh.gso_type = tcp ? (v4 ? kVnetGsoTcp4 : kVnetGsoTcp6) : kVnetGsoUdpL4;
  // Little-endian fields, like the host (x86-64).
  vh.hdr_len = g.hdr_len;
  vh.gso_size = g.seg_len;
  vh.csum_start = uint16_t(l4);
  vh.csum_offset = tcp ? 16 : 6;
  memcpy(hdr, &vh, sizeof vh);

  uint8_t* h = hdr + sizeof vh;
  memcpy(h, first, g.hdr_len);
  uint32_t pseudo = 0;
  if (v4) {
    store_be16(h + l3 + 2, uint16_t(20 + l4_len));
    store_be16(h + l3 + 10, 0);
    store_be16(h + l3 + 10, uint16_t(~fold(sum16(h + l3, 20, 0))));
    pseudo = sum16(h + l3 + 12, 8, 0);
  } else {
    store_be16(h + l3 + 4, uint16_t(l4_len));
    pseudo = sum16(h + l3 + 8, 32, 0);
  }
  pseudo += (tcp ? kProtoTcp : kProtoUdp) + l4_len;
  if (tcp) {
    h[l4 + 13] = last[l4 + 13];  // PSH/FIN of the last frame
  } else {
    store_be16(h + l4 + 4, uint16_t(l4_len));
  }
  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the kernel adds the rest.
  store_be16(h + l4 + (tcp ? 16 : 6), fold(pseudo));
  return uint32_t(sizeof vh) + g.hdr_len;
}

GsoLimits gso_limits_of(const char* ifname) {
  GsoLimits l;
  auto read_u32 = [&](const char* what, uint32_t* out) {
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/%s", ifname, what);
    FILE* f = fopen(path, "re");
    if (!f) return;
    unsigned long v = 0;
    if (fscanf(f, "%lu", &v) == 1 && v > 0 && v < *out) *out = uint32_t(v);
    fclose(f);
  };
  // gso_max_size counts the whole packet; an IP datagram of that size minus the Ethernet
  // header fits.
  uint32_t max_size = 65535 + kEthHdrLen;
  read_u32("gso_max_size", &max_size);
  l.max_ip_len = max_size > kEthHdrLen ? std::min<uint32_t>(max_size - kEthHdrLen, 65535) : 0;
  read_u32("gso_max_segs", &l.max_segments);
  return l;
}

std::unique_ptr<GsoSocket> GsoSocket::open(int ifindex, const char* ifname, bool qdisc_bypass) {
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return nullptr;
  const int one = 1;
  // The send buffer bounds what this port may have in flight; 4 MiB holds a few
  // full-size GSO packets per ms at line rate (FORCE needs CAP_NET_ADMIN, which msh has).
  const int sndbuf = 4 << 20;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0 ||
      (qdisc_bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)) {
    close(fd);
    return nullptr;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return std::make_unique<GsoSocket>(fd, ifindex, gso_limits_of(ifname));
}

GsoSocket::~GsoSocket() {
  if (fd_ >= 0) close(fd_);
}

uint32_t GsoSocket::send(const FrameRef* frames, const TxGroup* groups, uint32_t ng, int* err) {
  *err = 0;
  constexpr uint32_t kMaxMsgs = 32;
  uint8_t hdrs[kMaxMsgs][kGsoHdrMax];
  iovec iov[kMaxMsgs * (kGsoMaxSegments + 1)];
  mmsghdr msgs[kMaxMsgs];
  sockaddr_ll addr[kMaxMsgs];
  uint32_t done = 0;
  while (done < ng) {
    const uint32_t m = std::min(ng - done, kMaxMsgs);
    uint32_t v = 0;
    for (uint32_t k = 0; k < m; ++k) {
      const TxGroup& g = groups[done + k];
      const FrameRef* f = frames + g.first;
      msgs[k] = mmsghdr{};
      msgs[k].msg_hdr.msg_iov = iov + v;
      iov[v++] = iovec{hdrs[k], build_gso_header(frames, g, hdrs[k])};
      for (uint32_t s = 0; s < g.count; ++s) {
        const FrameRef p = gso_payload(frames, g, s);
        iov[v++] = iovec{const_cast<uint8_t*>(p.data), p.len};
      }
      msgs[k].msg_hdr.msg_iovlen = g.count + 1;
      addr[k] = sockaddr_ll{};
      addr[k].sll_family = AF_PACKET;
      addr[k].sll_ifindex = ifindex_;
      addr[k].sll_protocol = uint16_t(f[0].data[12] | f[0].data[13] << 8);  // EtherType, as is
      msgs[k].msg_hdr.msg_name = &addr[k];
      msgs[k].msg_hdr.msg_namelen = sizeof addr[k];
    }
    const int r = sendmmsg(fd_, msgs, m, MSG_DONTWAIT);
    if (r < 0) {
      *err = errno;
      return done;
    }
    done += uint32_t(r);
    if (uint32_t(r) < m) {
      *err = EAGAIN;
      return done;
    }
  }
  return done;
}

}  // namespace msh
