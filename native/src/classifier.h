// The 3-tuple table: one exact-match map (proto, address, port) -> owner port, used for
// RX demux (destination tuple) and TX validation (source tuple), plus IP fragment
// tracking so fragments of an owned datagram follow its first fragment.
//
// Concurrency: writers (claim/release, main thread) are serialized by a mutex and
// publish an immutable snapshot of the table through an atomic pointer. Readers (stack
// workers, the switch's injector) enter a Reader once per batch: two atomic
// increments per batch, no lock, no allocation, and nothing per frame but the lookup.
// A writer frees the previous snapshot only after every Reader that could have seen it
// has left (two-counter grace period). Readers must not block inside a Reader.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "frame.h"

namespace msh {

constexpr uint32_t kKernelPort = 0;  // frames nobody owns go to the kernel (port 0)
// Port ids are < kMaxPorts (port 0 is the kernel).
constexpr uint32_t kMaxPorts = 1024;

enum class TxVerdict : uint8_t {
  Ok = 0,
  BadSrcMac,     // Ethernet source != link MAC
  BadEthertype,  // not IPv4/IPv6 (ARP, VLAN-tagged, anything else)
  BadTuple,      // source (proto, address, port) not owned by the sending port; ICMP
  Malformed,     // header/length errors, IP lengths inconsistent with the frame
  TooLong,       // longer than the link MTU + Ethernet header
};
const char* tx_verdict_name(TxVerdict v);

// Builds a key; `addr` is 4 (IPv4, stored mapped) or 16 bytes.
TupleKey make_tuple_key(uint8_t proto, const uint8_t* addr, uint32_t addr_len, uint16_t port);
// "udp 10.0.0.1:53" / "tcp [2001:db8::1]:80"
void format_tuple(const TupleKey& k, char* buf, size_t size);

// Fragment tracking: (src, dst, id, proto) -> owner port, bounded and expiring.
// Set-associative (4 ways per bucket): a full bucket evicts its oldest entry. Only
// frames that are IP fragments touch it, so a plain mutex is fine here.
class FragTable {
 public:
  static constexpr uint32_t kBuckets = 256, kWays = 4;
  static constexpr uint64_t kExpiryNs = 30ull * 1000 * 1000 * 1000;  // as Linux ipfrag_time
  void record(const ParsedFrame& f, uint32_t owner, uint64_t now_ns);
  uint32_t lookup(const ParsedFrame& f, uint64_t now_ns);  // owner, or kKernelPort on miss
  void purge(uint32_t owner);
  uint32_t size(uint64_t now_ns);

 private:
  struct Entry {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t proto;
    uint32_t owner;  // 0: empty
    uint64_t expires;
  };
  static uint32_t bucket_of(const ParsedFrame& f);
  static bool matches(const Entry& e, const ParsedFrame& f);
  std::mutex mu_;
  Entry e_[kBuckets * kWays] = {};
};

namespace detail {
// One slot of a published snapshot (open addressing, linear probing, load <= 1/2).
struct TupleEntry {
  uint64_t a0, a1;  // address bytes 0..7, 8..15 (memory order)
  uint32_t pp;      // proto << 16 | port
  uint32_t owner;   // 0: empty slot
};
struct TupleSnapshot {
  uint32_t mask = 0;
  uint32_t count = 0;
  TupleEntry* slots = nullptr;  // mask + 1 entries, owned
  ~TupleSnapshot() { delete[] slots; }
};
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
// One multiply: the high half of (a0 ^ a1 ^ pp<<13) * odd constant. Bytes 8..15 carry the
// IPv4 address or the IPv6 interface id, where keys differ most; collisions only cost a
// probe.
inline uint32_t hash_tuple(uint64_t a0, uint64_t a1, uint32_t pp) {
  const uint64_t x = a0 ^ a1 ^ (uint64_t(pp) << 13);
  return uint32_t((x * 0x9E3779B97F4A7C15ull) >> 32);
}
}  // namespace detail

class Classifier {
  using Snapshot = detail::TupleSnapshot;

 public:
  Classifier();
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // --- writers (main thread) ---
  // 0, or -EADDRINUSE with *owner set to the current owner (a port's re-claim of its
  // own tuple succeeds), or -EINVAL (bad port/proto).
  int claim(uint32_t port, const TupleKey& key, uint32_t* owner = nullptr);
  // 0, -ENOENT (nobody owns it) or -EPERM (another port owns it; *owner set).
  int release(uint32_t port, const TupleKey& key, uint32_t* owner = nullptr);
  // Releases every tuple of `port`; returns them (for the backend's mirror).
  std::vector<TupleKey> release_all(uint32_t port);
  std::vector<TupleKey> tuples_of(uint32_t port) const;
  uint32_t owner_of(const TupleKey& key) const;  // kKernelPort when unowned
  size_t size() const;

  // --- readers (any thread), one per batch ---
  class Reader {
   public:
    explicit Reader(Classifier& c);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // Owner of (proto, addr, port), or kKernelPort. A one-entry cache of the last hit
    // makes runs of frames of one flow (the common case in a batch) skip the table.
    uint32_t lookup(uint8_t proto, const uint8_t addr[16], uint16_t port) {
      const uint64_t a0 = detail::load64(addr), a1 = detail::load64(addr + 8);
      const uint32_t pp = uint32_t(proto) << 16 | port;
      if (a1 == last_a1_ && pp == last_pp_ && a0 == last_a0_) return last_owner_;
      const Snapshot* t = t_;
      if (t->count == 0) return kKernelPort;
      const detail::TupleEntry* s = t->slots;
      for (uint32_t i = detail::hash_tuple(a0, a1, pp) & t->mask;; i = (i + 1) & t->mask) {
        const detail::TupleEntry& e = s[i];
        if (e.owner == 0) return kKernelPort;
        if (e.pp == pp && e.a0 == a0 && e.a1 == a1) {
          last_a0_ = a0;
          last_a1_ = a1;
          last_pp_ = pp;
          last_owner_ = e.owner;
          return e.owner;
        }
      }
    }
    // RX demux of a parsed frame: the owner of its destination tuple; fragments follow
    // their first fragment; anything else (not IP, malformed, no ports, unknown
    // fragment) goes to kKernelPort.
    uint32_t rx_owner(const ParsedFrame& f) {
      if (f.status != ParseStatus::Ok) [[unlikely]]
        return kKernelPort;
      if (f.frag != kFragNone) [[unlikely]]
        return rx_owner_fragment(f);
      if (!f.has_ports) return kKernelPort;
      return lookup(f.proto, f.dst, f.dport);
    }
    // Parse + rx_owner for backends that demux raw frames. *malformed is set when the
    // parser rejected the frame (it then goes to the kernel, like XDP_PASS would).
    uint32_t rx_frame_owner(const uint8_t* frame, uint32_t len, ParsedFrame& f,
                            bool* malformed) {
      const ParseStatus s = parse_frame(frame, len, f);
      *malformed = s != ParseStatus::Ok && s != ParseStatus::NotIp;
      return rx_owner(f);
    }
    // TX check of a frame `port` wants to send (ABI.md "What a transmitted frame must
    // carry"). `f` is scratch (filled by the parse). `mtu` is the IP MTU.
    TxVerdict tx_validate(uint32_t port, const uint8_t* d, uint32_t len,
                          const uint8_t link_mac[6], uint32_t mtu, ParsedFrame& f) {
      if (len < kEthHdrLen) [[unlikely]]
        return TxVerdict::Malformed;
      if (len > kEthHdrLen + mtu) [[unlikely]]
        return TxVerdict::TooLong;
      if (__builtin_memcmp(d + 6, link_mac, 6) != 0) [[unlikely]]
        return TxVerdict::BadSrcMac;
      const uint16_t et = load_be16(d + 12);
      if (et != kEtherIPv4 && et != kEtherIPv6) [[unlikely]]
        return TxVerdict::BadEthertype;
      if (parse_frame(d, len, f) != ParseStatus::Ok) [[unlikely]]
        return TxVerdict::Malformed;
      // The frame ends where the datagram ends; only padding up to the Ethernet minimum
      // (60 bytes without FCS) may follow.
      if (f.l3_end != len && len > 60) [[unlikely]]
        return TxVerdict::Malformed;
      if (f.proto != kProtoTcp && f.proto != kProtoUdp) [[unlikely]]
        return TxVerdict::BadTuple;
      if (f.frag != kFragNone) [[unlikely]]
        return tx_validate_fragment(port, d, f);
      if (f.proto == kProtoUdp && load_be16(d + f.l4_off + 4) != f.l3_end - f.l4_off)
          [[unlikely]]
        return TxVerdict::Malformed;
      return lookup(f.proto, f.src, f.sport) == port ? TxVerdict::Ok : TxVerdict::BadTuple;
    }

   private:
    uint64_t now();
    uint32_t rx_owner_fragment(const ParsedFrame& f);
    TxVerdict tx_validate_fragment(uint32_t port, const uint8_t* d, const ParsedFrame& f);
    Classifier& c_;
    const Snapshot* t_;
    uint32_t parity_;
    uint64_t now_ = 0;
    // Last hit (proto/port 0 never matches a real key: claims need port >= 1).
    uint64_t last_a0_ = 0, last_a1_ = 0;
    uint32_t last_pp_ = 0, last_owner_ = kKernelPort;
  };

  FragTable& rx_frags() { return rx_frags_; }
  FragTable& tx_frags() { return tx_frags_; }

 private:
  struct KeyHash {
    size_t operator()(const TupleKey& k) const;
  };
  struct KeyEq {
    bool operator()(const TupleKey& a, const TupleKey& b) const;
  };
  void publish_locked();  // builds and publishes a snapshot of master_, frees the old one

  std::atomic<const Snapshot*> snap_;
  std::atomic<uint32_t> gen_{0};
  struct alignas(64) Counter {
    std::atomic<uint32_t> n{0};
  };
  Counter readers_[2];
  mutable std::mutex write_mu_;
  std::unordered_map<TupleKey, uint32_t, KeyHash, KeyEq> master_;
  FragTable rx_frags_, tx_frags_;
};

}  // namespace msh
