// AF_XDP backend. See xdp.h for the shape; the facts it relies on (veth: copy mode
// only, one kick moves at most 32 frames, shared UMEM per queue, bpf_link attach) are in
// /work/shared/notes/platform.md.
#include "backends/xdp.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>

#include "../../bpf/msh_steer.h"
#include "errors.h"
#include "gso.h"

namespace msh {

namespace {

constexpr uint32_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;  // 4096
constexpr uint64_t kFrameMask = ~uint64_t(kFrameSize - 1);
constexpr uint32_t kFillSize = 4096;   // fill ring entries per UMEM
// Frames kept in the fill ring to start with (Umem::fill_target): it grows, up to
// kFillSize, whenever the kernel used up 3/4 of it before the next refill.
constexpr uint32_t kFillStart = 256;
constexpr uint32_t kCompSize = 4096;   // completion ring entries per UMEM
constexpr uint32_t kRxSize = 4096;     // RX ring entries per socket
constexpr uint32_t kTxSize = 2048;     // TX ring entries per socket
constexpr uint32_t kRxBatch = 64;      // frames peeked from an RX ring at once
constexpr uint32_t kTxBatch = 64;      // frames copied into the TX ring at once
// In copy mode the kernel takes at most 32 descriptors per sendto. A kick that moves
// nothing (completion ring full, device queue busy) is retried this many times, with
// the completion ring reaped in between, before the rest is left for the next call.
constexpr int kMaxIdleKicks = 8;

// libbpf prints through a global callback; keep the last lines so that a failed load
// can say why (verifier log, missing file, ...). Printed to stderr only with MSH_DEBUG.
std::mutex g_libbpf_log_mu;
std::string g_libbpf_log;

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  char buf[1024];
  va_list ap2;
  va_copy(ap2, ap);
  vsnprintf(buf, sizeof buf, fmt, ap2);
  va_end(ap2);
  if (getenv("MSH_DEBUG")) fputs(buf, stderr);
  if (level == LIBBPF_DEBUG) return 0;
  std::lock_guard<std::mutex> g(g_libbpf_log_mu);
  g_libbpf_log += buf;
  if (g_libbpf_log.size() > 4096) g_libbpf_log.erase(0, g_libbpf_log.size() - 4096);
  return 0;
}

std::string take_libbpf_log() {
  std::lock_guard<std::mutex> g(g_libbpf_log_mu);
  std::string s;
  s.swap(g_libbpf_log);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Records the failure (errno, failing call or "" , message) through msh's error helper;
// returns -err so callers can `return fail(...)`.
[[gnu::format(printf, 3, 4)]] int fail(int err, const char* syscall, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  err = std::abs(err);
  set_errno_error(err, syscall, "%s", buf);
  return -err;
}

const char* perm_hint(int err) {
  err = std::abs(err);
  return (err == EPERM || err == EACCES)
             ? " (AF_XDP needs root: CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW)"
             : "";
}

// RX queues of the interface: ETHTOOL_GCHANNELS (rx + combined), else the number of
// /sys/class/net/<if>/queues/rx-* entries, else 1.
uint32_t count_rx_queues(const std::string& ifname) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    ifreq ifr{};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
    ifr.ifr_data = reinterpret_cast<char*>(&ch);
    int r = ioctl(fd, SIOCETHTOOL, &ifr);
    close(fd);
    uint32_t n = ch.rx_count + ch.combined_count;
    if (r == 0 && n > 0) return n;
  }
  std::string dir = "/sys/class/net/" + ifname + "/queues";
  uint32_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (strncmp(e->d_name, "rx-", 3) == 0) n++;
    closedir(d);
  }
  return n ? n : 1;
}

using KeyBytes = std::array<uint8_t, sizeof(msh_tuple_key)>;

msh_tuple_key to_bpf_key(const TupleKey& k) {
  msh_tuple_key b{};
  memcpy(b.addr, k.addr, 16);
  b.port = htons(k.port);
  b.proto = k.proto;
  b.pad = 0;
  return b;
}

KeyBytes key_bytes(const msh_tuple_key& k) {
  KeyBytes b;
  memcpy(b.data(), &k, sizeof k);
  return b;
}

inline uint32_t tx_pending(const xsk_ring_prod& tx) {
  return *tx.producer - __atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE);
}

}  // namespace

// One UMEM per RX queue. fill/comp/free are shared by every socket bound to the queue
// and touched only under `mu`; the frame bytes are owned by whoever holds the address.
struct XdpBackend::Umem {
  uint32_t queue = 0;
  uint8_t* area = nullptr;
  size_t size = 0;
  xsk_umem* umem = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  std::mutex mu;
  std::vector<uint64_t> free;  // frame addresses owned by user space, not in any ring
  uint32_t nsocks = 0;         // main thread only

  // Fair sharing of the completion ring. The kernel takes a TX descriptor only while it
  // can reserve a completion entry for it, and in copy mode an entry is filled only when
  // the peer frees the frame's skb (e.g. when an application reads it). Without a limit
  // one port flooding a slow peer would hold the whole completion ring and every other
  // port of the UMEM could not send. So each port may have at most tx_share() frames in
  // flight (taken for TX, not yet reaped): kCompSize split evenly over the ports that
  // transmit through this UMEM, never less than one TX batch. Under mu.
  std::vector<uint16_t> tx_owner;     // per frame: port slot + 1 while in flight, else 0
  std::vector<uint32_t> tx_inflight;  // per port slot
  uint32_t tx_ports = 0;
  uint32_t tx_share() const { return std::max(kTxBatch, kCompSize / std::max(1u, tx_ports)); }

  // Returns completed TX frames to the free list. Caller holds mu.
  void reap_locked() {
    uint32_t idx;
    uint32_t n = xsk_ring_cons__peek(&comp, kCompSize, &idx);
    for (uint32_t i = 0; i < n; i++) {
      const uint64_t a = *xsk_ring_cons__comp_addr(&comp, idx + i) & kFrameMask;
      const uint64_t f = a / kFrameSize;
      if (f < tx_owner.size() && tx_owner[f]) {
        uint32_t& c = tx_inflight[tx_owner[f] - 1];
        if (c) c--;
        tx_owner[f] = 0;
      }
      free.push_back(a);
    }
    if (n) xsk_ring_cons__release(&comp, n);
  }
  // A port starts or stops transmitting through this UMEM (main thread).
  void add_tx_port() {
    std::lock_guard<std::mutex> g(mu);
    tx_ports++;
  }
  void remove_tx_port(uint32_t slot) {
    std::lock_guard<std::mutex> g(mu);
    tx_ports--;
    // Frames of the port still in flight come back through reap without an owner.
    for (auto& o : tx_owner)
      if (o == slot + 1) o = 0;
    tx_inflight[slot] = 0;
  }
  // How many frames the fill ring holds. The kernel takes fill entries in order, so
  // with all kFillSize of them in the ring every received frame (and its kernel-side
  // buffer head) had not been touched for 4096 frames and was cold in the cache: the
  // copy into it and the first reads of it missed. A shallow ring keeps the frames
  // recycled through it warm; it deepens when traffic comes in bursts (refill found
  // less than a quarter of it left), so that it seldom runs dry (when it does, the
  // kernel drops the frame and counts it: xsk_fill_ring_empty in msh status --link).
  uint32_t fill_target = kFillStart;

  // Gives frames to the kernel for RX: `addrs` (frames just released) first, then the
  // most recently freed ones, up to fill_target frames in the ring; the rest goes to the
  // free list. Caller holds mu.
  void refill_locked(const uint64_t* addrs, uint32_t n) {
    const uint32_t in_ring = kFillSize - xsk_prod_nb_free(&fill, kFillSize);
    if (n > 0 && in_ring < fill_target / 4 && fill_target < kFillSize) fill_target *= 2;
    const uint32_t want = n + static_cast<uint32_t>(free.size());
    uint32_t room = in_ring < fill_target ? fill_target - in_ring : 0;
    if (room > want) room = want;
    uint32_t idx = 0;
    if (room && xsk_ring_prod__reserve(&fill, room, &idx) == room) {
      uint32_t i = 0;
      for (; i < room && i < n; i++) *xsk_ring_prod__fill_addr(&fill, idx + i) = addrs[i];
      for (; i < room; i++) {
        *xsk_ring_prod__fill_addr(&fill, idx + i) = free.back();
        free.pop_back();
      }
      xsk_ring_prod__submit(&fill, room);
    } else {
      room = 0;
    }
    for (uint32_t i = room; i < n; i++) free.push_back(addrs[i]);
  }
};

struct XdpBackend::Sock {
  xsk_socket* xsk = nullptr;  // libxdp keeps pointers to rx/tx: never move a Sock
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  int fd = -1;
  Umem* umem = nullptr;
  uint32_t queue = 0;
};

struct XdpBackend::Port {
  uint32_t id = 0;
  uint32_t slot = 0;
  uint32_t xsk_base = 0;
  bool zero_copy = false;
  std::vector<std::unique_ptr<Sock>> socks;  // index = RX queue
  Sock* txs = nullptr;                       // the socket transmit() uses
  int evfd = -1;
  std::vector<pollfd> pfds;  // socks' fds, then evfd
  uint32_t rr = 0;           // RX queue receive() starts at (worker thread only)
  // Frames lent by rx_peek, in order: `cnt` descriptors from `idx` on `s`'s RX ring
  // (worker thread only).
  struct Lent {
    Sock* s;
    uint32_t idx, cnt;
  };
  std::vector<Lent> lent;
  bool parked = false;  // main thread (set_port_parked)
  // Sends runs of segments as GSO packets (gso.h); null when GSO is off or the socket
  // could not be made, or after the kernel refused a GSO packet (gso_error then).
  std::unique_ptr<GsoSocket> gso;
  GsoCounters gso_counters;
  std::atomic<uint64_t> rx{0}, tx{0}, tx_no_frame{0}, tx_too_long{0}, kick_err{0},
      tx_over_share{0};
};

std::unique_ptr<XdpBackend> XdpBackend::create(const XdpOptions& opts) {
  // Maps and UMEM are charged to the memory cgroup on recent kernels, and CAP_IPC_LOCK
  // lifts the UMEM limit; raising RLIMIT_MEMLOCK only helps older set-ups. Without
  // CAP_SYS_RESOURCE it fails with EPERM: not fatal.
  rlimit rl{RLIM_INFINITY, RLIM_INFINITY};
  (void)setrlimit(RLIMIT_MEMLOCK, &rl);

  static std::once_flag print_once;
  std::call_once(print_once, [] { libbpf_set_print(libbpf_print); });

  if (opts.ifname.empty() || opts.ifname.size() >= IFNAMSIZ) {
    fail(EINVAL, "", "af_xdp: invalid interface name '%s'", opts.ifname.c_str());
    return nullptr;
  }
  if (opts.frames_per_queue < 2 * kFillSize || opts.max_ports == 0 || opts.max_tuples == 0) {
    fail(EINVAL, "", "af_xdp: frames_per_queue must be >= %u, max_ports and max_tuples > 0",
         2 * kFillSize);
    return nullptr;
  }
  std::unique_ptr<XdpBackend> b(new XdpBackend());
  b->ifname_ = opts.ifname;
  b->ifindex_ = static_cast<int>(if_nametoindex(opts.ifname.c_str()));
  if (b->ifindex_ == 0) {
    fail(ENODEV, "if_nametoindex", "af_xdp: no such interface '%s' in this network namespace",
         opts.ifname.c_str());
    return nullptr;
  }
  b->nqueues_ = count_rx_queues(opts.ifname);
  b->frames_per_queue_ = opts.frames_per_queue;
  b->gso_ = opts.gso;
  b->max_ports_ = opts.max_ports;
  b->slot_used_.assign(opts.max_ports, false);

  take_libbpf_log();
  b->obj_ = bpf_object__open_file(opts.bpf_object.c_str(), nullptr);
  if (!b->obj_) {
    int e = errno;
    fail(e, "open", "af_xdp: cannot open the XDP program %s: %s%s", opts.bpf_object.c_str(),
         strerror(e), e == ENOENT ? " (build it: bash scripts/build.sh)" : "");
    return nullptr;
  }
  bpf_map* xsks = bpf_object__find_map_by_name(b->obj_, "xsks");
  bpf_map* tuples = bpf_object__find_map_by_name(b->obj_, "tuples");
  bpf_map* frags = bpf_object__find_map_by_name(b->obj_, "frags");
  bpf_map* counters = bpf_object__find_map_by_name(b->obj_, "counters");
  bpf_program* prog = bpf_object__find_program_by_name(b->obj_, "msh_steer");
  if (!xsks || !tuples || !frags || !counters || !prog) {
    fail(EINVAL, "", "af_xdp: %s is not the msh_steer program (maps/program missing)",
         opts.bpf_object.c_str());
    return nullptr;
  }
  bpf_map__set_max_entries(xsks, opts.max_ports * b->nqueues_);
  bpf_map__set_max_entries(tuples, opts.max_tuples);
  int err = bpf_object__load(b->obj_);
  if (err) {
    // libbpf's own advice on EPERM (kernel config, RLIMIT_MEMLOCK) misleads here.
    std::string log = take_libbpf_log();
    if (std::abs(err) == EPERM) log.clear();
    if (log.size() > 300) log = "..." + log.substr(log.size() - 300);
    fail(err, "bpf", "af_xdp: loading the XDP program failed: %s%s%s%s", strerror(-err), perm_hint(err),
         log.empty() ? "" : "\n", log.c_str());
    return nullptr;
  }
  b->prog_fd_ = bpf_program__fd(prog);
  b->xsks_fd_ = bpf_map__fd(xsks);
  b->tuples_fd_ = bpf_map__fd(tuples);
  b->frags_fd_ = bpf_map__fd(frags);
  b->counters_fd_ = bpf_map__fd(counters);

  // Attach through a bpf_link: the kernel detaches it when the last fd closes, which
  // includes the process dying. bpf_link_create (not bpf_program__attach_xdp, which has
  // no mode flags in libbpf 1.1) lets us pick the mode.
  auto attach = [&](uint32_t flags) -> int {
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags);
    int fd = bpf_link_create(bpf_program__fd(prog), b->ifindex_, BPF_XDP, &lo);
    return fd < 0 ? -errno : fd;
  };
  auto why = [&opts](int e) -> std::string {
    e = std::abs(e);
    std::string s = strerror(e);
    if (e == EEXIST || e == EBUSY)
      s += " (another XDP program is attached; `ip link set dev " + opts.ifname +
           " xdp off` removes a stale one)";
    else if (e == EOPNOTSUPP)
      s += " (the driver has no native XDP)";
    else if (e == ERANGE)
      s += " (MTU too large for XDP on this driver: use 1500 or less)";
    else
      s += perm_hint(e);
    return s;
  };
  int fd = -1;
  std::string native_err;
  if (opts.mode != XdpOptions::Mode::Generic) {
    fd = attach(XDP_FLAGS_DRV_MODE);
    if (fd >= 0) {
      b->native_ = true;
    } else {
      native_err = why(fd);
      if (opts.mode == XdpOptions::Mode::Native) {
        fail(fd, "bpf", "af_xdp: attaching XDP to %s in native mode failed: %s", opts.ifname.c_str(),
             native_err.c_str());
        return nullptr;
      }
    }
  }
  if (fd < 0) {
    fd = attach(XDP_FLAGS_SKB_MODE);
    if (fd < 0) {
      if (opts.mode == XdpOptions::Mode::Generic)
        fail(fd, "bpf", "af_xdp: attaching XDP to %s in generic mode failed: %s", opts.ifname.c_str(),
             why(fd).c_str());
      else
        fail(fd, "bpf", "af_xdp: attaching XDP to %s failed: native mode: %s; generic mode: %s",
             opts.ifname.c_str(), native_err.c_str(), why(fd).c_str());
      return nullptr;
    }
    b->native_ = false;
  }
  b->link_fd_ = fd;
  return b;
}

XdpBackend::~XdpBackend() {
  std::map<uint32_t, std::shared_ptr<Port>> ports;
  {
    std::lock_guard<std::mutex> g(ports_mu_);
    ports.swap(ports_);
  }
  for (auto& [id, p] : ports) destroy_port(*p);
  teardown_umems();
  if (link_fd_ >= 0) close(link_fd_);  // detaches the program
  if (obj_) bpf_object__close(obj_);
}

namespace {
uint32_t prog_id_of(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  return fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}
uint32_t map_id_of(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  return fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}
}  // namespace

uint32_t XdpBackend::prog_id() const { return prog_id_of(prog_fd_); }
uint32_t XdpBackend::xsks_map_id() const { return map_id_of(xsks_fd_); }
uint32_t XdpBackend::tuples_map_id() const { return map_id_of(tuples_fd_); }

std::vector<XdpBackend::SocketInfo> XdpBackend::sockets() const {
  std::vector<SocketInfo> v;
  std::lock_guard<std::mutex> g(ports_mu_);
  for (auto& [id, p] : ports_)
    for (auto& s : p->socks) v.push_back({id, s->queue, p->xsk_base + s->queue});
  return v;
}

int XdpBackend::attach(const LinkContext& ctx) {
  // Ethernet + one VLAN tag + IP MTU must fit what a UMEM frame can receive.
  if (ctx.mtu + 18 > kXdpMaxFrame)
    return fail(EMSGSIZE, "", "af_xdp: MTU %u of %s is too large for 4 KiB UMEM frames (max %u)",
                ctx.mtu, ifname_.c_str(), kXdpMaxFrame - 18);
  return 0;
}

const char* XdpBackend::bind_mode() const {
  return zero_copy_ < 0 ? "none" : zero_copy_ ? "zerocopy" : "copy";
}

std::shared_ptr<XdpBackend::Port> XdpBackend::get(uint32_t port) const {
  std::lock_guard<std::mutex> g(ports_mu_);
  auto it = ports_.find(port);
  return it == ports_.end() ? nullptr : it->second;
}

int XdpBackend::setup_umems() {
  for (uint32_t q = 0; q < nqueues_; q++) {
    auto u = std::make_unique<Umem>();
    u->queue = q;
    u->size = size_t(frames_per_queue_) * kFrameSize;
    void* area = mmap(nullptr, u->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
      int e = errno;
      teardown_umems();
      return fail(e, "mmap", "af_xdp: cannot allocate %zu MiB of UMEM for %s queue %u: %s",
                  u->size >> 20, ifname_.c_str(), q, strerror(e));
    }
    u->area = static_cast<uint8_t*>(area);
    xsk_umem_config cfg{};
    cfg.fill_size = kFillSize;
    cfg.comp_size = kCompSize;
    cfg.frame_size = kFrameSize;
    cfg.frame_headroom = 0;
    cfg.flags = 0;
    int err = xsk_umem__create(&u->umem, u->area, u->size, &u->fill, &u->comp, &cfg);
    if (err) {
      munmap(u->area, u->size);
      teardown_umems();
      return fail(err, "setsockopt", "af_xdp: registering the UMEM (%zu MiB) for %s queue %u failed: %s%s%s",
                  u->size >> 20, ifname_.c_str(), q, strerror(-err), perm_hint(err),
                  std::abs(err) == ENOMEM || std::abs(err) == EPERM
                      ? " (locked memory: needs CAP_IPC_LOCK or a higher RLIMIT_MEMLOCK)"
                      : "");
    }
    u->tx_owner.assign(frames_per_queue_, 0);
    u->tx_inflight.assign(max_ports_, 0);
    u->free.reserve(frames_per_queue_);
    for (uint32_t i = frames_per_queue_; i-- > 0;) u->free.push_back(uint64_t(i) * kFrameSize);
    u->refill_locked(nullptr, 0);
    umems_.push_back(std::move(u));
  }
  return 0;
}

void XdpBackend::teardown_umems() {
  for (auto& u : umems_) {
    if (u->umem) xsk_umem__delete(u->umem);
    if (u->area) munmap(u->area, u->size);
  }
  umems_.clear();
}

int XdpBackend::on_port_added(uint32_t port) {
  if (get(port)) return fail(EEXIST, "", "af_xdp: port %u already has sockets", port);
  uint32_t slot = 0;
  while (slot < max_ports_ && slot_used_[slot]) slot++;
  if (slot == max_ports_)
    return fail(ENOSPC, "", "af_xdp: too many ports on %s (max %u)", ifname_.c_str(), max_ports_);
  if (umems_.empty()) {
    int err = setup_umems();
    if (err) return err;
  }
  auto p = std::make_shared<Port>();
  p->id = port;
  p->slot = slot;
  p->xsk_base = slot * nqueues_;
  p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->evfd < 0) {
    int e = errno;
    if (ports_.empty()) teardown_umems();
    return fail(e, "eventfd", "af_xdp: eventfd: %s", strerror(e));
  }
  int err = 0;
  for (uint32_t q = 0; q < nqueues_ && !err; q++) {
    Umem& u = *umems_[q];
    auto s = std::make_unique<Sock>();
    s->umem = &u;
    s->queue = q;
    xsk_socket_config cfg{};
    cfg.rx_size = kRxSize;
    cfg.tx_size = kTxSize;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    cfg.xdp_flags = 0;
    // Zero-copy first; copy mode when the driver (e.g. veth) refuses. Sockets sharing a
    // UMEM inherit its mode (the kernel ignores their flags).
    bool try_zc = zero_copy_ != 0;
    for (;;) {
      cfg.bind_flags = XDP_USE_NEED_WAKEUP | (try_zc ? XDP_ZEROCOPY : XDP_COPY);
      err = xsk_socket__create_shared(&s->xsk, ifname_.c_str(), q, u.umem, &s->rx, &s->tx,
                                      &u.fill, &u.comp, &cfg);
      if (err && try_zc && zero_copy_ < 0) {
        try_zc = false;
        continue;
      }
      break;
    }
    if (err) {
      fail(err, "bind", "af_xdp: creating the socket for %s queue %u failed: %s%s", ifname_.c_str(), q,
           strerror(-err), perm_hint(err));
      break;
    }
    if (zero_copy_ < 0) zero_copy_ = try_zc ? 1 : 0;
    u.nsocks++;
    s->fd = xsk_socket__fd(s->xsk);
    int fd = s->fd;
    uint32_t key = p->xsk_base + q;
    if (bpf_map_update_elem(xsks_fd_, &key, &fd, BPF_ANY)) {
      int e = errno;
      xsk_socket__delete(s->xsk);
      u.nsocks--;
      err = fail(e, "bpf", "af_xdp: adding the socket for %s queue %u to the XSKMAP failed: %s",
                 ifname_.c_str(), q, strerror(e));
      break;
    }
    p->socks.push_back(std::move(s));
  }
  if (err) {
    destroy_port(*p);
    if (ports_.empty()) teardown_umems();
    return err;
  }
  p->zero_copy = zero_copy_ == 1;
  if (gso_) p->gso = GsoSocket::open(ifindex_, ifname_.c_str(), true);  // null: frame by frame
  // Spread the ports' transmissions over the queues.
  p->txs = p->socks[slot % nqueues_].get();
  p->txs->umem->add_tx_port();
  for (auto& s : p->socks) p->pfds.push_back({s->fd, POLLIN, 0});
  p->pfds.push_back({p->evfd, POLLIN, 0});
  slot_used_[slot] = true;
  std::lock_guard<std::mutex> g(ports_mu_);
  ports_[port] = std::move(p);
  return 0;
}

// Frames on a socket's RX ring, also ones rx_peek lent and nobody released, go back to
// the UMEM (fill ring, then free list). Only while no data call for the port runs.
void XdpBackend::give_back_rx(Sock& s) {
  Umem& u = *s.umem;
  s.rx.cached_cons = *s.rx.consumer;  // forget peeks that were never released
  for (;;) {
    uint32_t idx;
    const uint32_t n = xsk_ring_cons__peek(&s.rx, kRxBatch, &idx);
    if (n == 0) break;
    uint64_t addrs[kRxBatch];
    for (uint32_t i = 0; i < n; i++) addrs[i] = xsk_ring_cons__rx_desc(&s.rx, idx + i)->addr & kFrameMask;
    xsk_ring_cons__release(&s.rx, n);
    std::lock_guard<std::mutex> g(u.mu);
    u.refill_locked(addrs, n);
  }
}

// Frames on a socket's TX ring that the kernel never took go back to the free list (copy
// mode: the kernel takes TX descriptors only inside our sendto kicks). For a socket about
// to be deleted; its port no longer counts in the UMEM's TX accounting (remove_tx_port).
void XdpBackend::give_back_tx(Sock& s) {
  if (zero_copy_ == 1) return;
  Umem& u = *s.umem;
  const uint32_t cons = __atomic_load_n(s.tx.consumer, __ATOMIC_ACQUIRE);
  const uint32_t prod = *s.tx.producer;
  std::lock_guard<std::mutex> g(u.mu);
  for (uint32_t i = cons; i != prod; i++) {
    const uint64_t a = xsk_ring_prod__tx_desc(&s.tx, i)->addr & kFrameMask;
    const uint64_t f = a / kFrameSize;
    if (f < u.tx_owner.size()) u.tx_owner[f] = 0;
    u.free.push_back(a);
  }
}

void XdpBackend::destroy_port(Port& p) {
  // Stop steering to the sockets, let redirects already under way land, then give the
  // frames the sockets hold back to the UMEM: a deleted socket's rings take them along.
  for (auto& s : p.socks) {
    uint32_t key = p.xsk_base + s->queue;
    bpf_map_delete_elem(xsks_fd_, &key);
  }
  if (!p.socks.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& s : p.socks) {
    give_back_rx(*s);
    give_back_tx(*s);
    xsk_socket__delete(s->xsk);
    s->umem->nsocks--;
  }
  p.lent.clear();
  p.socks.clear();
  p.txs = nullptr;
  p.gso.reset();
  if (p.evfd >= 0) close(p.evfd);
  p.evfd = -1;
}

void XdpBackend::flush_frags(uint32_t xsk_base) {
  msh_frag_key key{}, next{};
  msh_tuple_val val{};
  std::vector<msh_frag_key> doomed;
  void* prev = nullptr;
  while (bpf_map_get_next_key(frags_fd_, prev, &next) == 0) {
    if (bpf_map_lookup_elem(frags_fd_, &next, &val) == 0 && val.xsk_base == xsk_base)
      doomed.push_back(next);
    key = next;
    prev = &key;
  }
  for (auto& k : doomed) bpf_map_delete_elem(frags_fd_, &k);
}

void XdpBackend::on_port_removed(uint32_t port) {
  std::shared_ptr<Port> p;
  {
    std::lock_guard<std::mutex> g(ports_mu_);
    auto it = ports_.find(port);
    if (it == ports_.end()) return;
    p = std::move(it->second);
    ports_.erase(it);
  }
  // Stop steering to the port first (its tuples are then dropped by the program until
  // the classifier hands them to someone else), then wait for its worker to leave any
  // receive/transmit/wait call before the sockets go.
  for (auto it = owners_.begin(); it != owners_.end();) {
    if (it->second == port) {
      bpf_map_delete_elem(tuples_fd_, it->first.data());
      it = owners_.erase(it);
    } else {
      ++it;
    }
  }
  flush_frags(p->xsk_base);
  while (p.use_count() > 1) {
    uint64_t one = 1;
    (void)!write(p->evfd, &one, sizeof one);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  gone_rx_ += p->rx;
  gone_tx_ += p->tx;
  gone_tx_no_frame_ += p->tx_no_frame;
  gone_tx_too_long_ += p->tx_too_long;
  gone_kick_err_ += p->kick_err;
  gone_tx_over_share_ += p->tx_over_share;
  gone_gso_packets_ += p->gso_counters.packets;
  gone_gso_frames_ += p->gso_counters.frames;
  gone_gso_fallback_ += p->gso_counters.fallback;
  if (p->txs) p->txs->umem->remove_tx_port(p->slot);
  destroy_port(*p);
  slot_used_[p->slot] = false;
  bool last;
  {
    std::lock_guard<std::mutex> g(ports_mu_);
    last = ports_.empty();
  }
  // libxdp reuses the UMEM's own fd for the first socket created on an unused UMEM; that
  // fd is still bound, so an emptied UMEM cannot take sockets again: free it.
  if (last) teardown_umems();
}

void XdpBackend::set_port_parked(uint32_t port, bool parked) {
  auto p = get(port);
  if (!p || p->parked == parked) return;
  p->parked = parked;
  if (!parked) {
    for (auto& s : p->socks) {
      uint32_t key = p->xsk_base + s->queue;
      int fd = s->fd;
      bpf_map_update_elem(xsks_fd_, &key, &fd, BPF_ANY);
    }
    return;
  }
  // Its tuples stay in the steering map: without a socket the program drops their frames
  // (counted as xdp_drop_no_socket) instead of handing them to the kernel.
  for (auto& s : p->socks) {
    uint32_t key = p->xsk_base + s->queue;
    bpf_map_delete_elem(xsks_fd_, &key);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& s : p->socks) give_back_rx(*s);
  p->lent.clear();
}

int XdpBackend::on_claim(uint32_t port, const TupleKey& key) {
  auto p = get(port);
  if (!p) return fail(ENOENT, "", "af_xdp: claim for port %u, which has no sockets", port);
  msh_tuple_key k = to_bpf_key(key);
  msh_tuple_val v{p->xsk_base, nqueues_};
  if (bpf_map_update_elem(tuples_fd_, &k, &v, BPF_ANY)) {
    int e = errno;
    return fail(e, "bpf", "af_xdp: adding the tuple to the steering map failed: %s%s", strerror(e),
                e == E2BIG ? " (tuple map full)" : "");
  }
  owners_[key_bytes(k)] = port;
  return 0;
}

void XdpBackend::on_release(uint32_t port, const TupleKey& key) {
  msh_tuple_key k = to_bpf_key(key);
  auto it = owners_.find(key_bytes(k));
  if (it == owners_.end() || it->second != port) return;
  bpf_map_delete_elem(tuples_fd_, &k);
  owners_.erase(it);
}

uint32_t XdpBackend::receive(uint32_t port, uint32_t max, const FrameSink& sink) {
  auto p = get(port);
  if (!p || max == 0) return 0;
  uint32_t done = 0;
  const uint32_t ns = static_cast<uint32_t>(p->socks.size());
  bool full = false;
  for (uint32_t k = 0; k < ns && !full && done < max; k++) {
    Sock& s = *p->socks[(p->rr + k) % ns];
    Umem& u = *s.umem;
    while (done < max) {
      uint32_t idx;
      uint32_t n = xsk_ring_cons__peek(&s.rx, std::min(max - done, kRxBatch), &idx);
      if (n == 0) break;
      uint64_t addrs[kRxBatch];
      uint32_t i = 0;
      for (; i < n; i++) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&s.rx, idx + i);
        if (!sink(u.area + d->addr, d->len)) break;
        addrs[i] = d->addr & kFrameMask;
      }
      // A refused frame stays on the RX ring for the next call.
      if (i < n) {
        xsk_ring_cons__cancel(&s.rx, n - i);
        full = true;
      }
      xsk_ring_cons__release(&s.rx, i);
      done += i;
      if (i) {
        std::lock_guard<std::mutex> g(u.mu);
        u.refill_locked(addrs, i);
      }
      // Zero-copy drivers stop RX when the fill ring ran dry until woken.
      if (p->zero_copy && xsk_ring_prod__needs_wakeup(&u.fill))
        recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
      if (full) break;
    }
  }
  p->rr++;
  if (done) p->rx.fetch_add(done, std::memory_order_relaxed);
  return done;
}

uint32_t XdpBackend::rx_peek(uint32_t port, FrameRef* out, uint32_t max) {
  auto p = get(port);
  if (!p) return 0;
  p->lent.clear();
  uint32_t got = 0;
  const uint32_t ns = static_cast<uint32_t>(p->socks.size());
  for (uint32_t k = 0; k < ns && got < max; k++) {
    Sock& s = *p->socks[(p->rr + k) % ns];
    uint32_t idx;
    uint32_t n = xsk_ring_cons__peek(&s.rx, max - got, &idx);
    if (n == 0) continue;
    for (uint32_t i = 0; i < n; i++) {
      const xdp_desc* d = xsk_ring_cons__rx_desc(&s.rx, idx + i);
      out[got + i] = {s.umem->area + d->addr, d->len};
    }
    p->lent.push_back({&s, idx, n});
    got += n;
  }
  p->rr++;
  return got;
}

void XdpBackend::rx_release(uint32_t port, uint32_t n) {
  auto p = get(port);
  if (!p) return;
  uint32_t total = n;
  for (auto& l : p->lent) {
    uint32_t take = std::min(n, l.cnt);
    n -= take;
    Sock& s = *l.s;
    Umem& u = *s.umem;
    if (take < l.cnt) xsk_ring_cons__cancel(&s.rx, l.cnt - take);
    if (take == 0) continue;
    for (uint32_t done = 0; done < take;) {
      uint64_t addrs[kRxBatch];
      uint32_t m = std::min(take - done, kRxBatch);
      for (uint32_t i = 0; i < m; i++)
        addrs[i] = xsk_ring_cons__rx_desc(&s.rx, l.idx + done + i)->addr & kFrameMask;
      std::lock_guard<std::mutex> g(u.mu);
      u.refill_locked(addrs, m);
      done += m;
    }
    xsk_ring_cons__release(&s.rx, take);
    if (p->zero_copy && xsk_ring_prod__needs_wakeup(&u.fill))
      recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  }
  p->lent.clear();
  if (total) p->rx.fetch_add(total - n, std::memory_order_relaxed);
}

namespace {
// Makes the kernel send what is on the socket's TX ring. Copy mode moves at most 32
// descriptors per sendto, so loop while the ring drains; a kick that moves nothing is
// retried a few times (reaping completions, which may be what blocks it), then the
// rest waits for the next call.
template <typename Reap>
void kick_tx(XdpBackend::Sock& s, bool zero_copy, std::atomic<uint64_t>& kick_err, Reap reap) {
  int idle = 0;
  while (tx_pending(s.tx) > 0) {
    if (zero_copy && !xsk_ring_prod__needs_wakeup(&s.tx)) return;
    uint32_t before = __atomic_load_n(s.tx.consumer, __ATOMIC_ACQUIRE);
    if (sendto(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 && errno != EAGAIN &&
        errno != ENOBUFS && errno != EBUSY && errno != EINTR) {
      kick_err.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (__atomic_load_n(s.tx.consumer, __ATOMIC_ACQUIRE) == before) {
      if (++idle > kMaxIdleKicks) return;
      reap();
    } else {
      idle = 0;
    }
  }
}
}  // namespace

uint32_t XdpBackend::transmit(uint32_t port, const FrameRef* frames, uint32_t n) {
  auto p = get(port);
  if (!p || !p->txs || n == 0) return 0;
  GsoSent via_gso;
  const uint32_t sent = send_with_gso(p->gso, p->gso_counters, frames, n, &via_gso,
                                      [&](const FrameRef* f, uint32_t k) { return transmit_xsk(*p, f, k); });
  if (via_gso.frames) p->tx.fetch_add(via_gso.frames, std::memory_order_relaxed);
  return sent;
}

uint32_t XdpBackend::transmit_xsk(Port& port, const FrameRef* frames, uint32_t n) {
  Port* p = &port;
  Sock& s = *p->txs;
  Umem& u = *s.umem;
  auto reap = [&u] {
    std::lock_guard<std::mutex> g(u.mu);
    u.reap_locked();
    u.refill_locked(nullptr, 0);
  };
  uint32_t queued = 0, too_long = 0, i = 0;
  bool stuck = false, over_share = false;
  while (i < n && !stuck) {
    // Pick the next batch of frames that fit a UMEM frame.
    uint32_t sel[kTxBatch];
    uint32_t m = 0;
    for (; i < n && m < kTxBatch; i++) {
      if (frames[i].len == 0 || frames[i].len > kFrameSize) {
        too_long++;
        continue;
      }
      sel[m++] = i;
    }
    if (m == 0) break;
    uint32_t room = xsk_prod_nb_free(&s.tx, m);
    if (room < m) {
      kick_tx(s, p->zero_copy, p->kick_err, reap);
      room = xsk_prod_nb_free(&s.tx, m);
    }
    uint64_t addrs[kTxBatch];
    uint32_t got = 0;
    {
      std::lock_guard<std::mutex> g(u.mu);
      u.reap_locked();
      uint32_t& inflight = u.tx_inflight[p->slot];
      const uint32_t share = u.tx_share();
      const uint32_t allowed = inflight >= share ? 0 : share - inflight;
      got = std::min<uint32_t>({room, m, static_cast<uint32_t>(u.free.size())});
      if (allowed < got) {
        got = allowed;
        over_share = true;
      }
      for (uint32_t k = 0; k < got; k++) {
        addrs[k] = u.free.back();
        u.free.pop_back();
        u.tx_owner[addrs[k] / kFrameSize] = uint16_t(p->slot + 1);
      }
      inflight += got;
    }
    uint32_t idx = 0;
    if (got == 0 || xsk_ring_prod__reserve(&s.tx, got, &idx) != got) {
      if (got) {
        std::lock_guard<std::mutex> g(u.mu);
        for (uint32_t k = 0; k < got; k++) u.tx_owner[addrs[k] / kFrameSize] = 0;
        u.tx_inflight[p->slot] -= got;
        u.free.insert(u.free.end(), addrs, addrs + got);
      }
      // The frames of this batch (and all after it) are not queued.
      stuck = true;
      break;
    }
    for (uint32_t k = 0; k < got; k++) {
      const FrameRef& f = frames[sel[k]];
      memcpy(u.area + addrs[k], f.data, f.len);
      xdp_desc* d = xsk_ring_prod__tx_desc(&s.tx, idx + k);
      d->addr = addrs[k];
      d->len = f.len;
      d->options = 0;
    }
    xsk_ring_prod__submit(&s.tx, got);
    queued += got;
    if (got < m) stuck = true;
  }
  kick_tx(s, p->zero_copy, p->kick_err, reap);
  if (queued) p->tx.fetch_add(queued, std::memory_order_relaxed);
  if (too_long) p->tx_too_long.fetch_add(too_long, std::memory_order_relaxed);
  if (queued + too_long < n)
    (over_share ? p->tx_over_share : p->tx_no_frame)
        .fetch_add(n - queued - too_long, std::memory_order_relaxed);
  return queued;
}

int XdpBackend::wait(uint32_t port, int timeout_ms) {
  auto p = get(port);
  if (!p) return -ENOENT;
  // The fill ring is refilled when a port releases RX frames or reaps TX ones. When no
  // port of a UMEM does (all idle, or a neighbour's RX ring took what the fill ring had),
  // frames on the free list must still get there, or nobody can receive at all.
  for (auto& s : p->socks) {
    Umem& u = *s->umem;
    std::lock_guard<std::mutex> g(u.mu);
    if (!u.free.empty() && xsk_prod_nb_free(&u.fill, 1)) u.refill_locked(nullptr, 0);
  }
  for (auto& s : p->socks)
    if (xsk_cons_nb_avail(&s->rx, 1)) return 1;
  // Frames left on the TX ring by an earlier kick that made no progress.
  if (p->txs && tx_pending(p->txs->tx) > 0) {
    Umem& u = *p->txs->umem;
    kick_tx(*p->txs, p->zero_copy, p->kick_err, [&u] {
      std::lock_guard<std::mutex> g(u.mu);
      u.reap_locked();
      u.refill_locked(nullptr, 0);
    });
  }
  int r = poll(p->pfds.data(), p->pfds.size(), timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : -errno;
  if (p->pfds.back().revents & POLLIN) {
    uint64_t v;
    (void)!read(p->evfd, &v, sizeof v);
  }
  return r;
}

void XdpBackend::wake(uint32_t port) {
  auto p = get(port);
  if (!p) return;
  uint64_t one = 1;
  (void)!write(p->evfd, &one, sizeof one);
}

void XdpBackend::add_port_stats(const Port& p, XdpStats* st) {
  st->rx_frames += p.rx;
  st->tx_frames += p.tx;
  st->tx_no_frame += p.tx_no_frame;
  st->tx_too_long += p.tx_too_long;
  st->tx_kick_errors += p.kick_err;
  st->tx_over_share += p.tx_over_share;
  st->gso_packets += p.gso_counters.packets;
  st->gso_frames += p.gso_counters.frames;
  st->gso_fallback += p.gso_counters.fallback;
  if (p.gso_counters.error) st->gso_error = p.gso_counters.error;
  for (auto& s : p.socks) {
    xdp_statistics xs{};
    socklen_t len = sizeof xs;
    if (getsockopt(s->fd, SOL_XDP, XDP_STATISTICS, &xs, &len)) continue;
    st->xsk_rx_dropped += xs.rx_dropped;
    st->xsk_rx_invalid += xs.rx_invalid_descs;
    st->xsk_tx_invalid += xs.tx_invalid_descs;
    st->xsk_rx_ring_full += xs.rx_ring_full;
    st->xsk_fill_ring_empty += xs.rx_fill_ring_empty_descs;
  }
}

bool XdpBackend::port_stats(uint32_t port, XdpStats* out) const {
  auto p = get(port);
  if (!p) return false;
  *out = XdpStats{};
  add_port_stats(*p, out);
  return true;
}

XdpStats XdpBackend::stats() const {
  XdpStats st;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu > 0) {
    std::vector<uint64_t> v(ncpu);
    uint64_t* out[] = {&st.prog_pass,          &st.prog_redirect,     &st.prog_drop_no_socket,
                       &st.prog_parse_error,   &st.prog_frag_redirect, &st.prog_frag_pass};
    for (uint32_t i = 0; i < sizeof out / sizeof out[0]; i++) {
      if (bpf_map_lookup_elem(counters_fd_, &i, v.data())) continue;
      for (uint64_t x : v) *out[i] += x;
    }
  }
  st.rx_frames = gone_rx_;
  st.tx_frames = gone_tx_;
  st.tx_no_frame = gone_tx_no_frame_;
  st.tx_too_long = gone_tx_too_long_;
  st.tx_kick_errors = gone_kick_err_;
  st.tx_over_share = gone_tx_over_share_;
  st.gso_packets = gone_gso_packets_;
  st.gso_frames = gone_gso_frames_;
  st.gso_fallback = gone_gso_fallback_;
  std::vector<std::shared_ptr<Port>> ports;
  {
    std::lock_guard<std::mutex> g(ports_mu_);
    for (auto& [id, p] : ports_) ports.push_back(p);
  }
  for (auto& p : ports) add_port_stats(*p, &st);
  return st;
}

size_t XdpBackend::extra_counters(uint32_t port, const char** names, uint64_t* values,
                                  size_t max) {
  XdpStats st;
  std::vector<std::pair<const char*, uint64_t>> v;
  if (port == kLinkScope) {
    st = stats();
    v = {{"xdp_pass", st.prog_pass},
         {"xdp_redirect", st.prog_redirect},
         {"xdp_drop_no_socket", st.prog_drop_no_socket},
         {"xdp_parse_error", st.prog_parse_error},
         {"xdp_frag_redirect", st.prog_frag_redirect},
         {"xdp_frag_pass", st.prog_frag_pass}};
  } else if (!port_stats(port, &st)) {
    return 0;
  }
  v.insert(v.end(), {{"xsk_rx_dropped", st.xsk_rx_dropped},
                     {"xsk_rx_ring_full", st.xsk_rx_ring_full},
                     {"xsk_fill_ring_empty", st.xsk_fill_ring_empty},
                     {"xsk_rx_invalid", st.xsk_rx_invalid},
                     {"xsk_tx_invalid", st.xsk_tx_invalid},
                     {"xsk_tx_no_frame", st.tx_no_frame},
                     {"xsk_tx_kick_errors", st.tx_kick_errors},
                     {"xsk_tx_over_share", st.tx_over_share},
                     {"gso_packets", st.gso_packets},
                     {"gso_frames", st.gso_frames},
                     {"gso_fallback", st.gso_fallback},
                     {"gso_error", st.gso_error}});
  size_t n = std::min(max, v.size());
  for (size_t i = 0; i < n; i++) names[i] = v[i].first, values[i] = v[i].second;
  return n;
}

}  // namespace msh
