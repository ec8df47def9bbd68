// AF_PACKET backend (`--backend packet`): the fallback for interfaces where AF_XDP is
// not available. The kernel keeps receiving every frame too; the host's nftables table
// (host/src/backends/nft.ts) drops owned tuples in the input hook so the kernel does not
// answer them with RST / ICMP port unreachable.
//
// Shape (per interface):
//   - RX: one AF_PACKET socket with a TPACKET_V3 (block-based) mmap ring. Before bind()
//     it gets a classic BPF filter that keeps only IPv4/IPv6 frames that can carry
//     TCP/UDP (see packet.cc), and PACKET_IGNORE_OUTGOING, so the ring holds neither
//     unrelated traffic nor msh's (or the kernel's) own transmissions. The DemuxBackend
//     I/O thread walks retired blocks, classifies each frame and copies owned ones to the
//     owner's PortQueue; unowned frames are left alone (the kernel handles its copy).
//   - TX: one AF_PACKET socket per port (protocol 0: it receives nothing), written with
//     sendmmsg in batches by the port's own worker, so ports never share a lock on TX.
//     PACKET_QDISC_BYPASS optional.
// Frames flagged TP_STATUS_CSUMNOTREADY (checksum offload on a local sender, e.g. a
// veth peer) get their TCP/UDP checksum completed on the copy.
//
// Latency: a TPACKET_V3 block reaches user space when full or after block_timeout_ms: at
// low rates a frame waits up to that long (measured on veth with 1 ms: UDP echo RTT
// 1.1-1.7 ms).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "backends/demux.h"

namespace msh {

struct PacketOptions {
  std::string ifname;
  uint32_t block_size = 1u << 20;  // bytes per ring block (power of two, >= page size)
  uint32_t block_count = 16;       // ring blocks
  uint32_t block_timeout_ms = 1;   // retire a partly filled block after this long
  bool qdisc_bypass = false;       // PACKET_QDISC_BYPASS on the TX sockets
  uint32_t tx_sndbuf = 4u << 20;   // SO_SNDBUF(FORCE) of each TX socket
  bool gso = true;                 // runs of segments leave as GSO packets (gso.h)
  size_t port_queue_bytes = 4u << 20;
};

struct PacketStats {
  // PACKET_STATISTICS of the RX socket, accumulated (the kernel resets them on read).
  uint64_t ring_packets = 0, ring_drops = 0, ring_freezes = 0;
  uint64_t blocks = 0;  // ring blocks processed
  uint64_t tx_frames = 0, tx_bytes = 0, tx_errors = 0, tx_retries = 0;
};

class PacketBackend final : public DemuxBackend {
 public:
  // Opens the RX socket and its ring. nullptr on failure, with msh::set_error set.
  static std::unique_ptr<PacketBackend> create(const PacketOptions& opts);
  ~PacketBackend() override;

  const char* name() const override { return "packet"; }
  uint32_t transmit(uint32_t port, const FrameRef* frames, uint32_t n) override;

  PacketStats stats();
  int ifindex() const { return ifindex_; }
  const std::string& ifname() const { return opt_pkt_.ifname; }

  // Whether runs of segments leave as GSO packets (PacketOptions::gso).
  bool gso() const { return opt_pkt_.gso; }
  struct Port;

 private:
  explicit PacketBackend(const PacketOptions& o);
  int io_loop() override;
  std::unique_ptr<DemuxPort> make_port() override;
  int open_port(DemuxPort& p) override;
  void close_port(DemuxPort& p) override;
  size_t link_counters(const char** names, uint64_t* values, size_t max) override;
  size_t port_counters(DemuxPort& p, const char** names, uint64_t* values, size_t max) override;
  uint32_t transmit_frames(Port& p, const FrameRef* frames, uint32_t n);
  void read_socket_stats();

  PacketOptions opt_pkt_;
  int ifindex_ = 0;
  int fd_ = -1;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  std::mutex stats_mu_;
  uint64_t ring_packets_ = 0, ring_drops_ = 0, ring_freezes_ = 0;
  Counter blocks_{0}, tx_frames_{0}, tx_bytes_{0};
};

}  // namespace msh
