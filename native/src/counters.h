// Always-on counters. Each field is an atomic u64 updated with relaxed ordering, once
// per batch (never per frame), and read by any thread at any time.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace msh {

using Counter = std::atomic<uint64_t>;

inline void count(Counter& c, uint64_t n) {
  if (n) c.fetch_add(n, std::memory_order_relaxed);
}

// X-macro lists: the names are the keys JS sees.
#define MSH_PORT_COUNTERS(X)                                                          \
  X(rx_frames)          /* frames copied into the guest RX ring */                    \
  X(rx_bytes)                                                                         \
  X(rx_batches)         /* data-loop turns that moved frames (rx_frames / rx_batches:  \
                           the mean batch, see --rx-coalesce) */                      \
  X(rx_dropped_too_big) /* frame longer than the guest's slot_size */                 \
  X(rx_dropped_malformed) /* steered to the port, but parse_frame rejects it (XDP)  */ \
  X(tx_frames)          /* frames validated and accepted by the backend */            \
  X(tx_bytes)                                                                         \
  X(tx_bad_src_mac)                                                                   \
  X(tx_bad_tuple)                                                                     \
  X(tx_bad_ethertype)                                                                 \
  X(tx_malformed)                                                                     \
  X(tx_too_long)                                                                      \
  X(tx_backend_full)    /* valid frames the backend could not queue */                \
  X(tx_rate_limited)    /* frames --tx-rate held back on the guest's TX ring (each     \
                           frame once, however long it waited) */

#define MSH_LINK_COUNTERS(X)                                                          \
  X(rx_malformed)       /* frames the parser rejected (sent to the kernel) */        \
  X(rx_to_kernel)       /* frames demuxed to the kernel port */                       \
  X(rx_to_ports)        /* frames demuxed to a stack port */                          \
  X(rx_dropped_oversize) /* frames larger than the backend's buffers */

struct PortCounters {
#define X(n) Counter n{0};
  MSH_PORT_COUNTERS(X)
#undef X
  void reset() {
#define X(n) n.store(0, std::memory_order_relaxed);
    MSH_PORT_COUNTERS(X)
#undef X
  }
};

struct LinkCounters {
#define X(n) Counter n{0};
  MSH_LINK_COUNTERS(X)
#undef X
};

}  // namespace msh
