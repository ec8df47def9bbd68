// The C++ reference for the switch benchmark: the msh data path (switch generate ->
// parse + classify -> rx_to_guest -> guest echo -> tx_from_guest -> validate -> copy to
// the discard sink) with the Wasm guest replaced by a C++ echo working on a ring laid
// out in a C++ buffer exactly like a guest's. Same Link, switch and ring code as msh.
#pragma once
#include <cstdint>

namespace msh {

struct BenchOptions {
  double seconds = 1.0;
  uint32_t frame_size = 64;   // bytes in the buffer (no FCS); >= 42 (Eth + IPv4 + UDP)
  uint32_t batch = 256;       // frames generated / moved per round
  uint32_t num_slots = 256;   // guest ring size
  uint32_t buf_stride = 2048; // distance between guest slot buffers (>= slot_size 2048)
};

struct BenchResult {
  uint64_t frames = 0;  // echoed frames that passed validation and reached the sink
  double seconds = 0;
  double mpps = 0;
  double ns_per_frame = 0;
  uint64_t dropped = 0;  // frames lost anywhere (should be 0)
};

// 0 or negative errno (message set).
int bench_reference(const BenchOptions& o, BenchResult* out);

// The benchmark's frames, shared with the JS side's Wasm benchmark: a UDP/IPv4 frame
// of `size` bytes from 10.0.0.1:1234 (02:00:00:00:00:01) to 10.0.0.2:7 (`link_mac`),
// valid IPv4 and UDP checksums. `out` must hold `size` bytes.
void bench_udp_frame(uint8_t* out, uint32_t size, const uint8_t link_mac[6]);
// The C++ echo of one frame in place: swap MACs, IPs, ports; recompute checksums.
void bench_echo_udp4(uint8_t* frame, uint32_t len);

}  // namespace msh
