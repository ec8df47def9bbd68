// TAP backend (`--backend tap`): the stacks sit behind a tap device, as a separate host
// on a tiny Ethernet segment whose other end is the kernel. Frames the kernel sends into
// the tap are read by the DemuxBackend I/O thread, classified and queued to their owner
// port; frames nobody owns are dropped (there is no other consumer behind the tap).
// Stacks transmit with one write() per frame on the same fd (a tap fd takes concurrent
// writers; each write is one frame).
//
// The device is created IFF_TAP | IFF_NO_PI and not persistent: it disappears when the
// last fd closes, i.e. when msh exits or dies. Addresses, routes, neighbours and the
// link state are the host's job (host/src/backends/tap.ts), through `ip`.
//
// The kernel side has no checksum offload on a tap unless TUNSETOFFLOAD enables it (it
// is never called here), so frames read from the tap carry complete checksums and are
// never larger than the tap's MTU + Ethernet header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "backends/demux.h"

namespace msh {

struct TapOptions {
  // Device name (< 16 bytes); may contain "%d" (the kernel picks the number).
  std::string name;
  size_t port_queue_bytes = 4u << 20;
};

struct TapStats {
  uint64_t rx_frames = 0, rx_read_errors = 0;
  uint64_t tx_frames = 0, tx_bytes = 0, tx_errors = 0, tx_retries = 0;
};

class TapBackend final : public DemuxBackend {
 public:
  // Creates the device. nullptr on failure, with msh::set_error set.
  static std::unique_ptr<TapBackend> create(const TapOptions& opts);
  ~TapBackend() override;

  const char* name() const override { return "tap"; }
  uint32_t transmit(uint32_t port, const FrameRef* frames, uint32_t n) override;

  // The name the kernel gave the device.
  const std::string& ifname() const { return ifname_; }
  int ifindex() const { return ifindex_; }
  TapStats stats() const;

 private:
  explicit TapBackend(const TapOptions& o) : DemuxBackend(DemuxOptions{o.port_queue_bytes}) {}
  int io_loop() override;
  size_t link_counters(const char** names, uint64_t* values, size_t max) override;

  std::string ifname_;
  int ifindex_ = 0;
  int fd_ = -1;
  Counter rx_frames_{0}, rx_read_errors_{0}, tx_frames_{0}, tx_bytes_{0}, tx_errors_{0},
      tx_retries_{0};
};

}  // namespace msh
