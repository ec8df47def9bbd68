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
#include <cstdint>

#include "backend.h"

namespace msh {

// One group of a TX batch, in order: `count` frames from `first` on, to send either one
// by one (gso false) or as one GSO packet (gso true, count >= 2).
struct TxGroup {
  uint32_t first, count;
  bool gso;
};

// At most this many segments in one GSO packet (the kernel's UDP limit is 64 or 128
// depending on version; TCP stops earlier at 64 KiB).
constexpr uint32_t kGsoMaxSegments = 64;

// Splits frames[0..n) into groups covering all of them, in order; writes at most n
// groups to `out` and returns how many. Frames that cannot be coalesced (not IP, VLAN,
// IPv4 options, IPv6 extension headers, fragments, SYN/RST/URG/ECN-flagged TCP,
// no payload, ...) are single frames. Pure function of the bytes; never reads outside
// the frames.
uint32_t plan_tx_runs(const FrameRef* frames, uint32_t n, TxGroup* out);

// Writes the virtio_net_hdr and the GSO packet's headers for the run frames[0..count)
// (a gso group of plan_tx_runs) to `hdr` (room for kGsoHdrMax bytes); the packet is
// that header followed by each frame's payload (gso_payload). Returns the header length.
constexpr uint32_t kGsoHdrMax = 10 + 14 + 40 + 60;
uint32_t build_gso_header(const FrameRef* frames, uint32_t count, uint8_t* hdr);
// Where frame f's payload starts and how long it is (f must be part of a run).
FrameRef gso_payload(const FrameRef& f);

// An AF_PACKET socket that sends GSO packets on one interface. It receives nothing
// (protocol 0, never bound). One per port, so that a flooding port fills only its own
// socket's send buffer.
class GsoSocket {
 public:
  // -1 with errno on failure (the caller keeps sending frame by frame).
  static int open_fd();
  explicit GsoSocket(int fd, int ifindex) : fd_(fd), ifindex_(ifindex) {}
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
};

}  // namespace msh
