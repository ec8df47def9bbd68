// A Link: one backend (interface or in-process switch), its classifier and its ports.
// Port 0 is the kernel port (frames nobody owns). Control calls (add/remove port,
// claim/release, pcap) come from the main thread and are serialized; data calls
// (rx_to_guest, tx_from_guest, wait) come from each port's worker thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "backend.h"
#include "classifier.h"
#include "counters.h"
#include "guest_ring.h"
#include "pcap.h"

namespace msh {

struct Port {
  enum State : uint32_t { kFree = 0, kActive = 1, kRemoving = 2 };
  uint32_t id = 0;
  std::atomic<uint32_t> state{kFree};
  std::atomic<uint32_t> inflight{0};  // data calls currently running on this port
  PortCounters counters;
  // pcap: pcap_on is read once per batch without the lock; the writer is used under
  // pcap_mu (set_pcap may replace it from the main thread at any time).
  std::atomic<bool> pcap_on{false};
  std::mutex pcap_mu;
  std::unique_ptr<PcapWriter> pcap;
  // TX rate limit (wit/ABI.md "Limits"): a token bucket of frames. tx_rate and
  // tx_rate_gen are set by any thread (set_tx_rate); the bucket below is touched only by
  // tx_from_guest on the port's worker thread, which starts a fresh bucket whenever
  // tx_rate_gen changed.
  std::atomic<uint64_t> tx_rate{0};  // frames per second, 0 = unlimited
  std::atomic<uint32_t> tx_rate_gen{0};
  struct TxBucket {
    uint32_t gen = ~0u;
    uint64_t last_ns = 0;
    double tokens = 0;
    uint32_t held_upto = 0;  // ring index up to which held-back frames were counted
  } tx_bucket;
};

// Token bucket depth: the larger of this many frames and this many seconds at the rate,
// so a worker that sleeps a few milliseconds between batches still reaches the rate.
constexpr uint32_t kTxRateMinBurst = 32;
constexpr double kTxRateBurstSeconds = 0.02;

class Link {
 public:
  Link(const uint8_t mac[6], uint32_t mtu);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Installs the backend and calls its attach(). Once, before anything else.
  int attach_backend(std::unique_ptr<Backend> be);

  // The backend. Use it only inside a Call (or a PortRef for port data calls): after
  // close() it is a do-nothing stand-in.
  Backend& backend() { return backend_ ? *backend_ : closed_backend(); }
  Classifier& classifier() { return classifier_; }
  LinkCounters& counters() { return counters_; }
  const uint8_t* mac() const { return mac_; }
  uint32_t mtu() const { return mtu_; }

  // --- control (main thread) --- 0 or negative errno with an error message set.
  int add_port(uint32_t* id);
  int remove_port(uint32_t id);
  int claim(uint32_t port, const TupleKey& key);
  int release(uint32_t port, const TupleKey& key);
  int set_pcap(uint32_t port, const char* path);  // nullptr closes
  // TX rate limit of the port in frames per second (0: unlimited); starts a fresh bucket
  // (full). Any thread; takes effect on the port's next tx_from_guest.
  int set_tx_rate(uint32_t port, uint64_t frames_per_second);
  // Parks (true) or unparks a port whose stack is not running (Backend::set_port_parked):
  // its frames are dropped and what the backend holds for it is given back. The caller
  // guarantees the port's worker is gone; data calls still running are waited for.
  int park_port(uint32_t port, bool parked);
  // Stops everything: marks all ports removed, wakes waiters, waits for data calls.
  void shutdown();
  // shutdown(), then waits for every Call in flight and destroys the backend, so that
  // device resources (XDP program, sockets, tap device) are gone when close() returns,
  // whoever still holds a reference to the Link. Idempotent; later Calls fail.
  void close();

  // Holds the link open for one call that uses the backend outside a port's data path
  // (counters, the switch's inject/drain, ...). False once close() started.
  class Call {
   public:
    explicit Call(Link& l);
    ~Call();
    explicit operator bool() const { return ok_; }

   private:
    Link& l_;
    bool ok_ = false;
  };

  // Port for reading counters (any thread); nullptr if the id was never a port.
  Port* port_for_stats(uint32_t id) const;
  bool port_active(uint32_t id) const;

  // --- data (the port's worker thread) ---
  // Frames published to the guest RX ring (>= 0), or a negative ring/port error.
  int rx_to_guest(uint32_t port, const GuestMemory& m, uint32_t ring_off, uint32_t max);
  // Frames taken off the guest TX ring (>= 0), or a negative ring/port error. Takes at
  // most `max` frames and, with a rate limit, at most the bucket's tokens: the rest stay
  // on the ring for a later call (back-pressure) and are counted in tx_rate_limited.
  int tx_from_guest(uint32_t port, const GuestMemory& m, uint32_t ring_off, uint32_t max);
  int wait(uint32_t port, int timeout_ms);
  void wake(uint32_t port);

  // Holds a port active for the duration of one data call.
  class PortRef {
   public:
    PortRef(Link& l, uint32_t id);
    ~PortRef();
    explicit operator bool() const { return p_ != nullptr; }
    Port* operator->() const { return p_; }
    Port& operator*() const { return *p_; }

   private:
    Port* p_ = nullptr;
  };

 private:
  void retire_port_locked(Port& p);
  static Backend& closed_backend();

  uint8_t mac_[6];
  uint32_t mtu_;
  std::unique_ptr<Backend> backend_;
  Classifier classifier_;
  LinkCounters counters_;
  std::mutex ctl_mu_;
  uint32_t next_port_ = 1;
  std::unique_ptr<Port> port_store_[kMaxPorts];  // owned here, never freed before ~Link
  std::atomic<Port*> ports_[kMaxPorts] = {};
  std::atomic<bool> closed_{false};
  std::atomic<uint32_t> calls_{0};  // Calls in flight
};

}  // namespace msh
