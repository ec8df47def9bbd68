// AF_XDP backend: one Linux interface, steered by the msh_steer XDP program.
//
// Shape (per interface):
//   - one XDP program (native/bpf/msh_steer.bpf.c) attached through a bpf_link, so it
//     goes away with the process, even on SIGKILL;
//   - per RX queue: one UMEM (frames_per_queue x 4 KiB) with its fill/completion rings
//     and a free list, shared by every socket bound to that queue (lock: Umem::mu); each
//     port may hold at most an even share of the completion ring in flight, so one
//     flooding port cannot stop the others' TX;
//   - per (port, RX queue): one XSK socket with its own RX and TX ring; its fd sits in
//     the `xsks` XSKMAP at slot port_slot * nqueues + queue;
//   - `tuples` hash map {proto, dst addr, dst port} -> port_slot * nqueues, mirrored
//     from the classifier by on_claim/on_release.
// An owned tuple whose socket is missing is dropped by the program, never passed to
// the kernel (which would answer with RST / ICMP unreachable).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend.h"

struct bpf_object;
struct xsk_umem;

namespace msh {

struct XdpOptions {
  std::string ifname;
  // Path of the compiled msh_steer.bpf.o.
  std::string bpf_object;
  // "auto": native (driver) mode, generic (SKB) mode if native fails.
  enum class Mode { Auto, Native, Generic } mode = Mode::Auto;
  // UMEM frames per RX queue (4 KiB each). Copy mode returns TX frames only when the
  // peer frees the skb: fewer than ~16384 starves the fill ring under load.
  uint32_t frames_per_queue = 16384;
  // Ports that can have sockets at once (sizes the XSKMAP).
  uint32_t max_ports = 1024;
  // Entries of the tuple map.
  uint32_t max_tuples = 65536;
  // Send runs of TCP segments / equal UDP datagrams as GSO packets through a packet
  // socket (gso.h) instead of frame by frame.
  bool gso = true;
};

// Counters of the whole interface, summed over CPUs and sockets.
struct XdpStats {
  // From the XDP program (enum msh_steer_counter).
  uint64_t prog_pass = 0, prog_redirect = 0, prog_drop_no_socket = 0, prog_parse_error = 0,
           prog_frag_redirect = 0, prog_frag_pass = 0;
  // From the sockets (XDP_STATISTICS, summed over live sockets).
  uint64_t xsk_rx_dropped = 0, xsk_rx_ring_full = 0, xsk_fill_ring_empty = 0,
           xsk_rx_invalid = 0, xsk_tx_invalid = 0;
  // From the backend.
  uint64_t rx_frames = 0, tx_frames = 0, tx_no_frame = 0, tx_too_long = 0,
           tx_kick_errors = 0;
  // Frames refused because their port had its share of the completion ring in flight
  // (fair sharing between the ports of one UMEM, see Umem::tx_share in xdp.cc).
  uint64_t tx_over_share = 0;
  // GSO (gso.h): packets sent, the frames they carried, frames sent one by one because
  // the packet socket's buffer was full, and the errno of a GSO packet the kernel
  // refused (GSO is then off for that port).
  uint64_t gso_packets = 0, gso_frames = 0, gso_fallback = 0, gso_error = 0;
};

// The largest frame (Ethernet header included) a UMEM frame can receive in copy mode:
// the kernel keeps XDP_PACKET_HEADROOM (256) bytes in front of the data.
constexpr uint32_t kXdpMaxFrame = 4096 - 256;

class XdpBackend final : public Backend {
 public:
  // Loads and attaches the program. On failure returns nullptr with the reason set
  // through msh::set_error.
  static std::unique_ptr<XdpBackend> create(const XdpOptions& opts);
  ~XdpBackend() override;

  const char* name() const override { return "af_xdp"; }
  int attach(const LinkContext& ctx) override;
  int on_port_added(uint32_t port) override;
  void on_port_removed(uint32_t port) override;
  void set_port_parked(uint32_t port, bool parked) override;
  int on_claim(uint32_t port, const TupleKey& key) override;
  void on_release(uint32_t port, const TupleKey& key) override;
  uint32_t receive(uint32_t port, uint32_t max, const FrameSink& sink) override;
  // Lent frames point into the UMEM; they stay on the sockets' RX rings until released.
  bool supports_rx_peek() const override { return true; }
  uint32_t rx_peek(uint32_t port, FrameRef* out, uint32_t max) override;
  void rx_release(uint32_t port, uint32_t n) override;
  bool rx_needs_parse() const override { return true; }
  uint32_t transmit(uint32_t port, const FrameRef* frames, uint32_t n) override;
  int wait(uint32_t port, int timeout_ms) override;
  void wake(uint32_t port) override;
  // Link scope: the program's counters, the sockets' XDP_STATISTICS and the backend's
  // TX troubles; port scope: the port's share of the last two.
  size_t extra_counters(uint32_t port, const char** names, uint64_t* values,
                        size_t max) override;

  // "native" or "generic": the XDP mode the program is attached in.
  const char* mode() const { return native_ ? "native" : "generic"; }
  uint32_t queues() const { return nqueues_; }
  // Whether runs are sent as GSO packets (XdpOptions::gso).
  bool gso() const { return gso_; }
  int ifindex() const { return ifindex_; }
  const std::string& ifname() const { return ifname_; }
  // "zerocopy", "copy", or "none" before the first socket exists.
  const char* bind_mode() const;
  XdpStats stats() const;
  // Kernel ids, for bpftool and tests (0 if unknown).
  uint32_t prog_id() const;
  uint32_t xsks_map_id() const;
  uint32_t tuples_map_id() const;
  // Where each port's sockets sit in the XSKMAP (main thread).
  struct SocketInfo {
    uint32_t port, queue, xsk_slot;
  };
  std::vector<SocketInfo> sockets() const;
  // One port's share of the socket and backend counters (false: no such port).
  bool port_stats(uint32_t port, XdpStats* out) const;

  struct Umem;
  struct Sock;
  struct Port;

 private:
  XdpBackend() = default;
  int setup_umems();
  void teardown_umems();
  std::shared_ptr<Port> get(uint32_t port) const;
  void destroy_port(Port& p);
  void give_back_rx(Sock& s);
  void give_back_tx(Sock& s);
  void flush_frags(uint32_t xsk_base);
  uint32_t transmit_xsk(Port& p, const FrameRef* frames, uint32_t n);
  static void add_port_stats(const Port& p, XdpStats* st);

  std::string ifname_;
  int ifindex_ = 0;
  uint32_t nqueues_ = 1;
  uint32_t frames_per_queue_ = 0;
  uint32_t max_ports_ = 0;
  bool native_ = false;
  bool gso_ = true;
  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  int link_fd_ = -1;
  int xsks_fd_ = -1, tuples_fd_ = -1, frags_fd_ = -1, counters_fd_ = -1;

  // Main-thread state: UMEMs (created with the first port, freed with the last),
  // slot allocation.
  std::vector<std::unique_ptr<Umem>> umems_;
  std::vector<bool> slot_used_;
  // Owner port of every tuple in the `tuples` map, keyed by its msh_tuple_key bytes.
  std::map<std::array<uint8_t, 20>, uint32_t> owners_;
  int zero_copy_ = -1;  // -1 unknown, 0 copy, 1 zero-copy

  // Port table: read by worker threads (get), written by the main thread.
  mutable std::mutex ports_mu_;
  std::map<uint32_t, std::shared_ptr<Port>> ports_;

  // Counters of ports already removed, folded into stats().
  std::atomic<uint64_t> gone_rx_{0}, gone_tx_{0}, gone_tx_no_frame_{0}, gone_tx_too_long_{0},
      gone_kick_err_{0}, gone_tx_over_share_{0}, gone_gso_packets_{0}, gone_gso_frames_{0},
      gone_gso_fallback_{0};
};

}  // namespace msh
