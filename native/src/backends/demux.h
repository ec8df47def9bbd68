// Common part of the backends that receive every frame of a device on one descriptor and
// demux in user space (packet: an AF_PACKET ring; tap: a tap fd).
//
// Shape: one I/O thread per link (the subclass's io_loop) takes frames from the device,
// opens a DeliveryBatch, and for each frame: parse + classify (Classifier::Reader, once
// per batch), copy owned frames into the owner port's PortQueue (full: count and drop),
// leave the rest to the kernel (packet) or drop them (tap). At the end of the batch it
// publishes each touched queue once and signals its WakeEvent. Port workers lend frames
// straight out of their queue (rx_peek / rx_release) and sleep in wait().
//
// Synchronisation: the I/O thread holds ports_mu_ for the length of a batch; port
// add/remove (main thread) take it too, so the I/O thread never sees a half-built or
// dying port. Workers reach their own port through port_obj(), whose object lives until
// the backend is destroyed (a re-added id reuses it), so a late wake() is harmless.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backend.h"
#include "backends/switch.h"  // WakeEvent
#include "classifier.h"
#include "counters.h"
#include "port_queue.h"

namespace msh {

struct DemuxPort {
  virtual ~DemuxPort() = default;
  uint32_t id = 0;
  std::unique_ptr<PortQueue> q;  // null while the port does not exist
  WakeEvent ev;
  bool touched = false;  // I/O thread only: in the current batch's touched list
  // Counters (any thread reads).
  Counter rx_queued{0}, rx_dropped_queue_full{0};
  Counter tx_errors{0};   // frames the device refused (other than "try again")
  Counter tx_retries{0};  // times transmit waited for room in the device / socket
};

struct DemuxOptions {
  // PortQueue bytes per port (frames of any size up to a quarter of it).
  size_t port_queue_bytes = 4u << 20;
};

class DemuxBackend : public Backend {
 public:
  ~DemuxBackend() override;

  int attach(const LinkContext& ctx) override;
  int on_port_added(uint32_t port) override;
  void on_port_removed(uint32_t port) override;
  uint32_t receive(uint32_t port, uint32_t max, const FrameSink& sink) override;
  bool supports_rx_peek() const override { return true; }
  uint32_t rx_peek(uint32_t port, FrameRef* out, uint32_t max) override;
  void rx_release(uint32_t port, uint32_t n) override;
  int wait(uint32_t port, int timeout_ms) override;
  void wake(uint32_t port) override;
  size_t extra_counters(uint32_t port, const char** names, uint64_t* values,
                        size_t max) override;

  // Frames that reached the I/O thread, and how many it could not hand to their owner.
  struct IoStats {
    uint64_t frames = 0, batches = 0, to_ports = 0, to_kernel = 0, no_port = 0,
             queue_full = 0, oversize = 0, csum_completed = 0,
             gso_split = 0;  // TCP aggregates larger than the MTU cut into segments
  };
  IoStats io_stats() const;
  // Non-zero (a positive errno) once the I/O thread stopped on a device error.
  int io_error() const { return io_error_.load(std::memory_order_acquire); }

 protected:
  explicit DemuxBackend(const DemuxOptions& o) : opt_(o) {}

  // Runs on the I/O thread until stopping() (poll stop_fd() alongside the device).
  // Returns 0, or a positive errno when the device failed for good (wait() then reports
  // it to every port).
  virtual int io_loop() = 0;
  // Creates the subclass's port object (e.g. with a TX socket). Main thread.
  virtual std::unique_ptr<DemuxPort> make_port() { return std::make_unique<DemuxPort>(); }
  // Per-port device resources, called under no lock (main thread). 0 or -errno.
  virtual int open_port(DemuxPort& p) { return 0; }
  virtual void close_port(DemuxPort& p) {}
  // Extra link-wide counters of the subclass.
  virtual size_t link_counters(const char** names, uint64_t* values, size_t max) { return 0; }
  // Extra counters of one of the subclass's ports (any thread).
  virtual size_t port_counters(DemuxPort& p, const char** names, uint64_t* values, size_t max) {
    return 0;
  }

  // Starts / stops the I/O thread. Subclasses call stop_io() in their destructor, before
  // their own members go.
  int start_io();
  void stop_io();
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  int stop_fd() const { return stop_fd_; }

  // The worker's port (any id < kMaxPorts that was ever added), else nullptr.
  DemuxPort* port_obj(uint32_t port) const {
    return port < kMaxPorts ? store_[port].load(std::memory_order_acquire) : nullptr;
  }

  // One batch of frames on the I/O thread.
  class DeliveryBatch {
   public:
    explicit DeliveryBatch(DemuxBackend& b);
    ~DeliveryBatch();
    DeliveryBatch(const DeliveryBatch&) = delete;
    DeliveryBatch& operator=(const DeliveryBatch&) = delete;
    // Classifies the frame and copies it to its owner's queue. `csum_partial`: the L4
    // checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL offload); the
    // copy gets the complete checksum. A TCP frame whose IP datagram is larger than the
    // link MTU (a GRO/GSO aggregate: AF_PACKET sees them on veth and on NICs with GRO)
    // is delivered as MTU-sized segments with complete checksums. Returns the owner
    // port, kKernelPort when the frame is not owned (or was not delivered).
    uint32_t deliver(const uint8_t* data, uint32_t len, bool csum_partial);

   private:
    DemuxBackend& b_;
    std::lock_guard<std::mutex> lk_;
    Classifier::Reader reader_;
    ParsedFrame pf_;
    uint64_t frames_ = 0, malformed_ = 0, to_kernel_ = 0, to_ports_ = 0, no_port_ = 0,
             full_ = 0, oversize_ = 0, csum_ = 0, split_ = 0;
  };

  DemuxOptions opt_;
  LinkContext ctx_{};

 private:
  std::mutex ports_mu_;                               // see the file comment
  std::atomic<DemuxPort*> live_[kMaxPorts] = {};      // ports that exist (under ports_mu_)
  std::atomic<DemuxPort*> store_[kMaxPorts] = {};     // every port object ever made
  std::vector<std::unique_ptr<DemuxPort>> owned_;     // owns store_'s objects
  std::vector<DemuxPort*> touched_;                   // I/O thread: ports of this batch

  std::thread io_;
  std::atomic<bool> stop_{false};
  int stop_fd_ = -1;
  std::atomic<int> io_error_{0};
  Counter st_frames_{0}, st_batches_{0}, st_to_ports_{0}, st_to_kernel_{0}, st_no_port_{0},
      st_full_{0}, st_oversize_{0}, st_csum_{0}, st_split_{0};
};

// Writes the complete TCP/UDP checksum of a frame whose checksum field holds the
// pseudo-header sum (Linux CHECKSUM_PARTIAL). No-op for fragments and non-TCP/UDP.
// Returns true when it wrote a checksum.
bool complete_l4_checksum(uint8_t* frame, uint32_t len, const ParsedFrame& pf);

// Cuts a TCP aggregate (IP datagram longer than `mtu`) into segments of at most `mtu`
// bytes of IP datagram, each with its own sequence number, lengths, IPv4 id and header
// checksum and a complete TCP checksum, queued to `q`. Returns the segments queued;
// *dropped counts those that did not fit. The caller has checked pf is Ok, TCP, not a
// fragment.
uint32_t split_tcp_aggregate(const uint8_t* frame, const ParsedFrame& pf, uint32_t mtu,
                             PortQueue& q, uint32_t* dropped);

}  // namespace msh
