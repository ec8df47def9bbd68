#include "pcap.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "errors.h"

namespace msh {

namespace {
constexpr uint32_t kMagicNs = 0xa1b23c4d;
constexpr uint32_t kSnapLen = 262144;
constexpr uint32_t kLinkTypeEthernet = 1;

struct FileHeader {
  uint32_t magic;
  uint16_t major, minor;
  int32_t thiszone;
  uint32_t sigfigs, snaplen, network;
};
struct RecordHeader {
  uint32_t ts_sec, ts_nsec, incl_len, orig_len;
};
}  // namespace

std::unique_ptr<PcapWriter> PcapWriter::open(const char* path) {
  FILE* f = fopen(path, "wb");
  if (!f) {
    set_errno_error(errno, "open", "cannot open pcap file %s: %s", path, strerror(errno));
    return nullptr;
  }
  setvbuf(f, nullptr, _IOFBF, 1 << 18);
  const FileHeader h{kMagicNs, 2, 4, 0, 0, kSnapLen, kLinkTypeEthernet};
  if (fwrite(&h, sizeof h, 1, f) != 1 || fflush(f) != 0) {
    const int e = errno;
    fclose(f);
    set_errno_error(e, "write", "cannot write pcap file %s: %s", path, strerror(e));
    return nullptr;
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(f));
}

PcapWriter::~PcapWriter() { fclose(f_); }

void PcapWriter::write(const uint8_t* frame, uint32_t len, uint64_t ns) {
  const uint32_t incl = len < kSnapLen ? len : kSnapLen;
  const RecordHeader r{uint32_t(ns / 1000000000ull), uint32_t(ns % 1000000000ull), incl, len};
  fwrite(&r, sizeof r, 1, f_);
  fwrite(frame, 1, incl, f_);
}

void PcapWriter::flush() { fflush(f_); }

uint64_t PcapWriter::now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace msh
