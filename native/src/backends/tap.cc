// TAP backend. See tap.h. Platform facts (/work/shared/notes/platform.md): IFF_TAP |
// IFF_NO_PI works; one read/write per frame collapses above ~150-200 kpps, acceptable
// for a fallback.
#include "backends/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "errors.h"

namespace msh {

namespace {

constexpr uint32_t kRxBatch = 64;        // reads per DeliveryBatch
constexpr uint32_t kReadBuf = 64 * 1024;  // > any frame a tap without offloads can carry
constexpr int kTxMaxWaits = 2;           // 1 ms waits for room per transmit call

}  // namespace

std::unique_ptr<TapBackend> TapBackend::create(const TapOptions& opts) {
  if (opts.name.empty() || opts.name.size() >= IFNAMSIZ) {
    set_errno_error(EINVAL, "", "tap: invalid device name '%s' (1..%d bytes)", opts.name.c_str(),
                    IFNAMSIZ - 1);
    return nullptr;
  }
  std::unique_ptr<TapBackend> b(new TapBackend(opts));
  b->fd_ = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (b->fd_ < 0) {
    const int e = errno;
    set_errno_error(e, "open", "tap: open /dev/net/tun: %s%s", strerror(e),
                    e == ENOENT ? " (no TUN/TAP support in this kernel or container)" : "");
    return nullptr;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", opts.name.c_str());
  // Not TUNSETPERSIST: the device lives exactly as long as this fd.
  if (ioctl(b->fd_, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    set_errno_error(e, "ioctl", "tap: creating tap device '%s' (TUNSETIFF): %s%s",
                    opts.name.c_str(), strerror(e),
                    e == EPERM ? " (needs CAP_NET_ADMIN)"
                    : e == EBUSY || e == EINVAL
                        ? " (a device with that name exists and is not a free tap)"
                        : "");
    return nullptr;
  }
  b->ifname_ = ifr.ifr_name;
  b->ifindex_ = int(if_nametoindex(ifr.ifr_name));
  return b;
}

TapBackend::~TapBackend() {
  stop_io();
  if (fd_ >= 0) close(fd_);
}

uint32_t TapBackend::transmit(uint32_t port, const FrameRef* frames, uint32_t n) {
  DemuxPort* p = port_obj(port);
  uint32_t sent = 0, i = 0;
  uint64_t bytes = 0, errors = 0, retries = 0;
  int waits = 0;
  while (i < n) {
    const ssize_t r = write(fd_, frames[i].data, frames[i].len);
    if (r >= 0) {
      bytes += frames[i].len;
      ++sent;
      ++i;
      continue;
    }
    const int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == ENOBUFS) {
      if (waits++ >= kTxMaxWaits) break;
      ++retries;
      pollfd pf{fd_, POLLOUT, 0};
      (void)poll(&pf, 1, 1);
      continue;
    }
    // EIO: the tap is down; EINVAL: a frame the tap refuses. Skip the frame; when the
    // device is down the rest fails the same way.
    ++errors;
    ++i;
    if (e == EIO || e == EBADFD) {
      errors += n - i;
      break;
    }
  }
  if (p) {
    count(p->tx_errors, errors);
    count(p->tx_retries, retries);
  }
  count(tx_frames_, sent);
  count(tx_bytes_, bytes);
  count(tx_errors_, errors);
  count(tx_retries_, retries);
  return sent;
}

int TapBackend::io_loop() {
  std::vector<uint8_t> buf(kReadBuf);
  pollfd pfds[2] = {{fd_, POLLIN, 0}, {stop_fd(), POLLIN, 0}};
  while (!stopping()) {
    const int r = poll(pfds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (pfds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) return EBADFD;
    if (!(pfds[0].revents & POLLIN)) continue;
    uint64_t got = 0, errs = 0;
    int fatal = 0;
    {
      DeliveryBatch batch(*this);
      for (uint32_t i = 0; i < kRxBatch; ++i) {
        const ssize_t len = read(fd_, buf.data(), buf.size());
        if (len < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          // EBADFD: the device was deleted under us.
          if (errno == EBADFD || errno == EIO) fatal = errno;
          ++errs;
          break;
        }
        ++got;
        batch.deliver(buf.data(), uint32_t(len), false);
      }
    }
    count(rx_frames_, got);
    count(rx_read_errors_, errs);
    if (fatal) return fatal;
  }
  return 0;
}

TapStats TapBackend::stats() const {
  TapStats s;
  s.rx_frames = rx_frames_.load(std::memory_order_relaxed);
  s.rx_read_errors = rx_read_errors_.load(std::memory_order_relaxed);
  s.tx_frames = tx_frames_.load(std::memory_order_relaxed);
  s.tx_bytes = tx_bytes_.load(std::memory_order_relaxed);
  s.tx_errors = tx_errors_.load(std::memory_order_relaxed);
  s.tx_retries = tx_retries_.load(std::memory_order_relaxed);
  return s;
}

size_t TapBackend::link_counters(const char** names, uint64_t* values, size_t max) {
  const TapStats s = stats();
  const std::pair<const char*, uint64_t> all[] = {
      {"tap_rx_frames", s.rx_frames}, {"tap_rx_read_errors", s.rx_read_errors},
      {"tx_frames", s.tx_frames},     {"tx_bytes", s.tx_bytes},
      {"tx_device_errors", s.tx_errors}, {"tx_device_retries", s.tx_retries},
  };
  size_t n = 0;
  for (const auto& [k, v] : all) {
    if (n == max) break;
    names[n] = k;
    values[n] = v;
    ++n;
  }
  return n;
}

}  // namespace msh
