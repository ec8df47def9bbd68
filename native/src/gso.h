// Transmit segmentation offload for backends that have none (AF_XDP).
//
// A stack's TX batch often holds runs that one GSO packet would have produced: the
// segments of a TCP flight (consecutive sequence numbers, same headers and options) or a
// burst of equal-sized UDP datagrams to one destination. Over AF_XDP each frame costs
// its own skb, its own trip through the device and, on veth, its own receive in the
// peer's stack. plan_tx_runs() finds such runs among frames the classifier has already
// validated; GsoSocket sends each run as ONE packet through an AF_PACKET socket with a
// virtio_net_hdr (PACKET_VNET_HDR), as a virtual machine's NIC would: veth hands it to
// the peer whole (as GRO would have merged it), a NIC with TSO/USO cuts it in hardware,
// anything else gets the kernel's software GSO.
//
// What the receiver sees is what the stack wrote: the segments are the stack's own
// payloads, in order, behind the first frame's headers (so the stack's source tuple,
// addresses, TCP options and window). Differences, all allowed by the protocols: IPv4
// ids count up from the first frame's, checksums are recomputed by the kernel, and a
// TCP PSH on a segment other than the last is dropped (the last frame's flags are kept).
#pragma once
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>

#include "backend.h"

namespace msh {

// One group of a TX batch, in order: `count` frames from `first` on, to send either one
// by one (gso false) or as one GSO packet (gso true, count >= 2). For a GSO group, what
// plan_tx_runs found so nothing is parsed twice: every frame's headers are `hdr_len`
// bytes (Ethernet to the end of TCP/UDP), followed by `seg_len` bytes of payload, the
// last frame's by `last_len`.
struct TxGroup {
  uint32_t first, count;
  bool gso;
  uint16_t hdr_len = 0, seg_len = 0, last_len = 0;
};

// At most this many segments in one GSO packet (the kernel's UDP limit is 64 or 128
// depending on version; TCP stops earlier at 64 KiB).
constexpr uint32_t kGsoMaxSegments = 64;

// What the device takes in one GSO packet: the length of the whole packet's IP datagram
// and its segment count (its gso_max_size / gso_max_segs; veth: 65536 / 65535).
struct GsoLimits {
  uint32_t max_ip_len = 65535;
  uint32_t max_segments = kGsoMaxSegments;
};
// The limits of interface `ifname` in this network namespace (sysfs), capped at the
// defaults above; the defaults when they cannot be read.
GsoLimits gso_limits_of(const char* ifname);

// Splits frames[0..n) into groups covering all of them, in order; writes at most n
// groups to `out` and returns how many. Frames that cannot be coalesced (not IP, VLAN,
// IPv4 options, IPv6 extension headers, fragments, SYN/RST/URG/ECN-flagged TCP,
// no payload, ...) are single frames. Pure function of the bytes; never reads outside
// the frames.
uint32_t plan_tx_runs(const FrameRef* frames, uint32_t n, TxGroup* out,
                      const GsoLimits& limits = GsoLimits{});

// Writes the virtio_net_hdr and the GSO packet's headers for the gso group `g` of
// `frames` (plan_tx_runs' input) to `hdr` (room for kGsoHdrMax bytes); the packet is
// that header followed by each frame's payload (gso_payload). Returns the header length.
constexpr uint32_t kGsoHdrMax = 10 + 14 + 40 + 60;
uint32_t build_gso_header(const FrameRef* frames, const TxGroup& g, uint8_t* hdr);
// The payload of the k-th frame of gso group `g`.
inline FrameRef gso_payload(const FrameRef* frames, const TxGroup& g, uint32_t k) {
  return FrameRef{frames[g.first + k].data + g.hdr_len, k + 1 == g.count ? g.last_len : g.seg_len};
}

// An AF_PACKET socket that sends GSO packets on one interface. It receives nothing
// (protocol 0, never bound). One per port, so that a flooding port fills only its own
// socket's send buffer.
class GsoSocket {
 public:
  // The socket for interface `ifname` (index `ifindex`), with its limits (gso_limits_of);
  // nullptr when it cannot be made (the caller then sends frame by frame). qdisc_bypass:
  // PACKET_QDISC_BYPASS, as the backend's own transmissions do (AF_XDP always does).
  static std::unique_ptr<GsoSocket> open(int ifindex, const char* ifname, bool qdisc_bypass);
  GsoSocket(int fd, int ifindex, const GsoLimits& limits)
      : fd_(fd), ifindex_(ifindex), limits_(limits) {}
  const GsoLimits& limits() const { return limits_; }
  ~GsoSocket();
  GsoSocket(const GsoSocket&) = delete;
  GsoSocket& operator=(const GsoSocket&) = delete;

  // Sends the gso groups groups[0..ng) of `frames` (all with gso == true) with one
  // sendmmsg, without blocking. Returns how many groups the kernel took (a prefix);
  // *err is set to the errno that stopped it, 0 if all went.
  uint32_t send(const FrameRef* frames, const TxGroup* groups, uint32_t ng, int* err);

 private:
  int fd_;
  int ifindex_;
  GsoLimits limits_;
};

// A port's GSO counters: packets sent, the frames they carried, frames of runs sent one by
// one because the socket's buffer was full, and the errno of a GSO packet the kernel
// refused (GSO is then off for the port).
struct GsoCounters {
  std::atomic<uint64_t> packets{0}, frames{0}, fallback{0}, error{0};
};

// The frames (and their bytes, as the stack wrote them) that left inside GSO packets.
struct GsoSent {
  uint32_t frames = 0;
  uint64_t bytes = 0;
};

// Sends frames[0..n) in order: the runs plan_tx_runs finds as GSO packets through *gso,
// everything else (and runs the socket could not take) through
// send_frames(const FrameRef*, uint32_t count) -> frames sent, which must have them on
// the wire before it returns (so order holds across the two paths). Returns the frames
// sent, *via_gso of them in GSO packets. After the kernel refused a GSO packet, *gso is
// reset: this kernel or device does not take them.
template <typename SendFrames>
uint32_t send_with_gso(std::unique_ptr<GsoSocket>& gso, GsoCounters& c, const FrameRef* frames,
                       uint32_t n, GsoSent* via_gso, SendFrames&& send_frames) {
  constexpr uint32_t kChunk = 256;
  *via_gso = GsoSent{};
  if (!gso || n < 2) return send_frames(frames, n);
  uint32_t sent = 0;
  TxGroup groups[kChunk];
  for (uint32_t at = 0; at < n; at += kChunk) {
    const FrameRef* f = frames + at;
    const uint32_t ng = plan_tx_runs(f, n - at < kChunk ? n - at : kChunk, groups, gso->limits());
    for (uint32_t g = 0; g < ng;) {
      if (!groups[g].gso || !gso) {  // single frames
        sent += send_frames(f + groups[g].first, groups[g].count);
        g++;
        continue;
      }
      uint32_t e = g + 1;  // the runs up to the next single frames: one sendmmsg
      while (e < ng && groups[e].gso) e++;
      int err = 0;
      const uint32_t ok = gso->send(f, groups + g, e - g, &err);
      uint32_t segs = 0;
      for (uint32_t k = g; k < g + ok; k++) {
        segs += groups[k].count;
        for (uint32_t j = 0; j < groups[k].count; j++) via_gso->bytes += f[groups[k].first + j].len;
      }
      sent += segs;
      via_gso->frames += segs;
      c.packets.fetch_add(ok, std::memory_order_relaxed);
      c.frames.fetch_add(segs, std::memory_order_relaxed);
      if (ok < e - g) {
        // A full buffer (EAGAIN, ENOBUFS) or a link that is down passes; a packet the
        // kernel or device refuses (EINVAL, EOPNOTSUPP, ...) will be refused again.
        if (err == EINVAL || err == EOPNOTSUPP || err == EPROTONOSUPPORT || err == EMSGSIZE) {
          c.error.store(uint64_t(err), std::memory_order_relaxed);
          gso.reset();
        }
        for (uint32_t k = g + ok; k < e; k++) {
          sent += send_frames(f + groups[k].first, groups[k].count);
          c.fallback.fetch_add(groups[k].count, std::memory_order_relaxed);
        }
      }
      g = e;
    }
  }
  return sent;
}

}  // namespace msh
