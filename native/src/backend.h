// The seam between a link's packet I/O and the rest of the native data path.
//
// A Link (one interface, or the in-process switch) owns one Backend, one Classifier
// (the 3-tuple table) and the stack Ports. The Link keeps the classifier authoritative;
// the backend mirrors ownership into whatever steers packets (XDP map, nft set, ...)
// through on_claim/on_release, and moves frames for one port at a time.
//
// Threading contract: receive/transmit/wait for port P are called only from P's stack
// worker thread (one thread per port), concurrently with calls for other ports. Ownership
// and port add/remove calls come from the main thread. Backends lock what they share
// (e.g. an AF_XDP fill ring shared by all sockets of one queue).
// The Link guarantees that no data-path call for P is running or starts once
// on_port_removed(P) is called (it marks P dead, calls wake(P), and waits for in-flight
// calls to return first).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace msh {

class Classifier;
struct LinkCounters;

enum class L4Proto : uint8_t { TCP = 6, UDP = 17 };

// One 3-tuple. IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d) so one key type
// serves both families.
struct TupleKey {
  uint8_t proto;      // L4Proto value
  uint8_t addr[16];   // network byte order
  uint16_t port;      // host byte order
  bool is_v4() const;
};

struct FrameRef {
  const uint8_t* data;
  uint32_t len;
};

// Receives one frame; returns false to stop the batch (e.g. guest RX ring full), in which
// case the backend keeps that frame for the next receive call.
using FrameSink = std::function<bool(const uint8_t* data, uint32_t len)>;

// What a backend gets from its Link (attach(), before any port is added). Pointers stay
// valid for the backend's lifetime. Backends that demux in user space (switch, packet,
// tap) classify with `Classifier::Reader r(*ctx.classifier); r.rx_frame_owner(...)`
// once per batch and count parser rejects in ctx.counters->rx_malformed (counters.h).
struct PortCounters;
struct LinkContext {
  Classifier* classifier;
  LinkCounters* counters;
  const uint8_t* mac;  // 6 bytes, the link's MAC
  uint32_t mtu;        // IP MTU
  // Port 0's counters: a backend that hands frames to the kernel itself (the switch's
  // drain) counts them here as rx_frames/rx_bytes (counters.h, count()).
  PortCounters* kernel_port = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Called once by the Link before any other call (main thread). 0 or negative errno.
  virtual int attach(const LinkContext& ctx) { return 0; }

  // Port lifecycle (main thread). Return 0 or a negative errno; set an error message
  // through msh::set_error (errors.h) when failing.
  virtual int on_port_added(uint32_t port) { return 0; }
  virtual void on_port_removed(uint32_t port) {}
  // A port whose stack is not running (failed, or waiting for a restart): the backend
  // stops steering frames to it (they are dropped, not given to the kernel: the tuples
  // stay owned) and takes back what it holds for it, e.g. AF_XDP frames on its RX ring,
  // so a dead stack cannot pin buffers its neighbours need. parked=false undoes it.
  // Main thread, only while the port's worker is gone (no data call for it runs).
  virtual void set_port_parked(uint32_t port, bool parked) {}
  // Ownership mirror (main thread), called after the classifier accepted the change.
  virtual int on_claim(uint32_t port, const TupleKey& key) { return 0; }
  virtual void on_release(uint32_t port, const TupleKey& key) {}

  // Data path (the port's worker thread). Hands at most `max` frames for `port` to
  // `sink`; returns how many were handed over and accepted.
  virtual uint32_t receive(uint32_t port, uint32_t max, const FrameSink& sink) = 0;

  // Batch RX without a call per frame (optional; the Link prefers it when
  // supports_rx_peek() is true). rx_peek lends up to `max` frames of `port` in order:
  // out[i] stays valid until rx_release(port, n), which consumes the first n lent frames
  // (n <= the count rx_peek returned; the rest stay queued for the next rx_peek).
  // Exactly one rx_release follows every rx_peek, on the same thread.
  virtual bool supports_rx_peek() const { return false; }
  virtual uint32_t rx_peek(uint32_t port, FrameRef* out, uint32_t max) { return 0; }
  virtual void rx_release(uint32_t port, uint32_t n) {}
  // True when the frames a port receives were steered by something that does not check
  // their structure (the XDP program reads only up to the ports): the Link then parses
  // each one before it reaches the guest and drops (and counts) the malformed ones.
  // False when the backend already parsed them with parse_frame to classify them.
  virtual bool rx_needs_parse() const { return false; }

  // Sends frames the classifier has already validated as coming from `port`. Returns
  // how many were queued; the rest are counted as dropped by the caller. frames[i].data
  // points into guest memory and is valid only during the call: copy before returning.
  virtual uint32_t transmit(uint32_t port, const FrameRef* frames, uint32_t n) = 0;
  // Blocks until `port` may have frames to receive or `timeout_ms` passed (0: poll).
  // Returns >0 if frames may be ready, 0 on timeout, negative errno on error.
  virtual int wait(uint32_t port, int timeout_ms) = 0;
  // Wakes a thread blocked in wait(port) (used for shutdown).
  virtual void wake(uint32_t port) = 0;

  // Backend-specific counters of `port` (e.g. drops in its own queues), reported with
  // the port's counters; port == kLinkScope asks for link-wide ones. Writes up to `max`
  // entries (names are static strings), returns how many. Any thread.
  static constexpr uint32_t kLinkScope = 0xffffffffu;
  virtual size_t extra_counters(uint32_t port, const char** names, uint64_t* values,
                                size_t max) {
    return 0;
  }
};

}  // namespace msh
