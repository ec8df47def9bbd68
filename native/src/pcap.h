// Classic pcap writer (nanosecond variant, magic 0xa1b23c4d, linktype Ethernet).
// Not thread-safe: the owner serializes writes (a Port takes its pcap mutex once per
// batch). Records are buffered and flush() is called at the end of every batch, so a
// reader (tshark) never sees a partial record between batches.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>

namespace msh {

class PcapWriter {
 public:
  // Creates/truncates `path` and writes the file header. nullptr on failure (error set).
  static std::unique_ptr<PcapWriter> open(const char* path);
  ~PcapWriter();
  void write(const uint8_t* frame, uint32_t len, uint64_t realtime_ns);
  void flush();
  static uint64_t now_ns();  // CLOCK_REALTIME

 private:
  explicit PcapWriter(FILE* f) : f_(f) {}
  FILE* f_;
};

}  // namespace msh
