#include "classifier.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>

namespace msh {

bool TupleKey::is_v4() const {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(addr, prefix, 12) == 0;
}

const char* tx_verdict_name(TxVerdict v) {
  switch (v) {
    case TxVerdict::Ok: return "ok";
    case TxVerdict::BadSrcMac: return "tx_bad_src_mac";
    case TxVerdict::BadEthertype: return "tx_bad_ethertype";
    case TxVerdict::BadTuple: return "tx_bad_tuple";
    case TxVerdict::Malformed: return "tx_malformed";
    case TxVerdict::TooLong: return "tx_too_long";
  }
  return "unknown";
}

TupleKey make_tuple_key(uint8_t proto, const uint8_t* addr, uint32_t addr_len, uint16_t port) {
  TupleKey k;
  std::memset(&k, 0, sizeof k);
  k.proto = proto;
  if (addr_len == 4) {
    k.addr[10] = k.addr[11] = 0xff;
    std::memcpy(k.addr + 12, addr, 4);
  } else {
    std::memcpy(k.addr, addr, 16);
  }
  k.port = port;
  return k;
}

void format_tuple(const TupleKey& k, char* buf, size_t size) {
  const char* p = k.proto == kProtoTcp ? "tcp" : k.proto == kProtoUdp ? "udp" : "proto?";
  char a[INET6_ADDRSTRLEN] = "?";
  if (k.is_v4()) {
    inet_ntop(AF_INET, k.addr + 12, a, sizeof a);
    snprintf(buf, size, "%s %s:%u", p, a, k.port);
  } else {
    inet_ntop(AF_INET6, k.addr, a, sizeof a);
    snprintf(buf, size, "%s [%s]:%u", p, a, k.port);
  }
}

using detail::hash_tuple;
using detail::load64;
using detail::TupleEntry;

size_t Classifier::KeyHash::operator()(const TupleKey& k) const {
  return hash_tuple(load64(k.addr), load64(k.addr + 8), uint32_t(k.proto) << 16 | k.port);
}
bool Classifier::KeyEq::operator()(const TupleKey& a, const TupleKey& b) const {
  return a.proto == b.proto && a.port == b.port && std::memcmp(a.addr, b.addr, 16) == 0;
}

Classifier::Classifier() {
  auto* s = new Snapshot;
  s->mask = 15;
  s->slots = new TupleEntry[16]();
  snap_.store(s, std::memory_order_release);
}

Classifier::~Classifier() { delete snap_.load(std::memory_order_acquire); }

void Classifier::publish_locked() {
  auto* s = new Snapshot;
  uint32_t cap = 16;
  while (cap < master_.size() * 2) cap <<= 1;
  s->mask = cap - 1;
  s->count = uint32_t(master_.size());
  s->slots = new TupleEntry[cap]();
  for (const auto& [k, owner] : master_) {
    TupleEntry e{load64(k.addr), load64(k.addr + 8), uint32_t(k.proto) << 16 | k.port, owner};
    uint32_t i = hash_tuple(e.a0, e.a1, e.pp) & s->mask;
    while (s->slots[i].owner != 0) i = (i + 1) & s->mask;
    s->slots[i] = e;
  }
  const Snapshot* old = snap_.exchange(s, std::memory_order_seq_cst);
  // Grace period: readers that entered under the old generation may hold `old`.
  const uint32_t g = gen_.load(std::memory_order_relaxed);
  gen_.store(g + 1, std::memory_order_seq_cst);
  while (readers_[g & 1].n.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  delete old;
}

int Classifier::claim(uint32_t port, const TupleKey& key, uint32_t* owner) {
  if (port == kKernelPort || port >= kMaxPorts) return -EINVAL;
  if (key.proto != kProtoTcp && key.proto != kProtoUdp) return -EINVAL;
  std::lock_guard<std::mutex> lk(write_mu_);
  auto it = master_.find(key);
  if (it != master_.end()) {
    if (owner) *owner = it->second;
    return it->second == port ? 0 : -EADDRINUSE;
  }
  master_.emplace(key, port);
  publish_locked();
  return 0;
}

int Classifier::release(uint32_t port, const TupleKey& key, uint32_t* owner) {
  std::lock_guard<std::mutex> lk(write_mu_);
  auto it = master_.find(key);
  if (it == master_.end()) return -ENOENT;
  if (it->second != port) {
    if (owner) *owner = it->second;
    return -EPERM;
  }
  master_.erase(it);
  publish_locked();
  return 0;
}

std::vector<TupleKey> Classifier::release_all(uint32_t port) {
  std::vector<TupleKey> out;
  {
    std::lock_guard<std::mutex> lk(write_mu_);
    for (auto it = master_.begin(); it != master_.end();) {
      if (it->second == port) {
        out.push_back(it->first);
        it = master_.erase(it);
      } else {
        ++it;
      }
    }
    if (!out.empty()) publish_locked();
  }
  rx_frags_.purge(port);
  tx_frags_.purge(port);
  return out;
}

std::vector<TupleKey> Classifier::tuples_of(uint32_t port) const {
  std::lock_guard<std::mutex> lk(write_mu_);
  std::vector<TupleKey> out;
  for (const auto& [k, owner] : master_)
    if (owner == port) out.push_back(k);
  return out;
}

uint32_t Classifier::owner_of(const TupleKey& key) const {
  std::lock_guard<std::mutex> lk(write_mu_);
  auto it = master_.find(key);
  return it == master_.end() ? kKernelPort : it->second;
}

size_t Classifier::size() const {
  std::lock_guard<std::mutex> lk(write_mu_);
  return master_.size();
}

// ---------------------------------------------------------------------------------------
// Reader

Classifier::Reader::Reader(Classifier& c) : c_(c) {
  for (;;) {
    const uint32_t g = c.gen_.load(std::memory_order_seq_cst);
    c.readers_[g & 1].n.fetch_add(1, std::memory_order_seq_cst);
    if (c.gen_.load(std::memory_order_seq_cst) == g) {
      parity_ = g & 1;
      break;
    }
    c.readers_[g & 1].n.fetch_sub(1, std::memory_order_seq_cst);
  }
  t_ = c.snap_.load(std::memory_order_seq_cst);
}

Classifier::Reader::~Reader() { c_.readers_[parity_].n.fetch_sub(1, std::memory_order_release); }

uint64_t Classifier::Reader::now() {
  if (now_ == 0) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now_ = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
  }
  return now_;
}

uint32_t Classifier::Reader::rx_owner_fragment(const ParsedFrame& f) {
  if (f.is_later_fragment()) return c_.rx_frags_.lookup(f, now());
  if (!f.has_ports) return kKernelPort;
  const uint32_t owner = lookup(f.proto, f.dst, f.dport);
  if (owner != kKernelPort) c_.rx_frags_.record(f, owner, now());
  return owner;
}

TxVerdict Classifier::Reader::tx_validate_fragment(uint32_t port, const uint8_t* d,
                                                   const ParsedFrame& f) {
  if (f.is_later_fragment())
    return c_.tx_frags_.lookup(f, now()) == port ? TxVerdict::Ok : TxVerdict::BadTuple;
  if (lookup(f.proto, f.src, f.sport) != port) return TxVerdict::BadTuple;
  c_.tx_frags_.record(f, port, now());
  return TxVerdict::Ok;
}

// ---------------------------------------------------------------------------------------
// FragTable

// IPv4 reassembles by (src, dst, id, proto); IPv6 by (src, dst, id): its fragment
// header's next-header may differ from the upper layer, so proto is not part of the key.
static inline uint8_t frag_proto(const ParsedFrame& f) { return f.ip_version == 4 ? f.proto : 0; }

uint32_t FragTable::bucket_of(const ParsedFrame& f) {
  return hash_tuple(load64(f.src + 8) ^ load64(f.src), load64(f.dst + 8) ^ load64(f.dst),
                    f.frag_id ^ frag_proto(f)) %
         kBuckets;
}

bool FragTable::matches(const Entry& e, const ParsedFrame& f) {
  return e.owner != 0 && e.id == f.frag_id && e.proto == frag_proto(f) &&
         std::memcmp(e.src, f.src, 16) == 0 && std::memcmp(e.dst, f.dst, 16) == 0;
}

void FragTable::record(const ParsedFrame& f, uint32_t owner, uint64_t now) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry* b = &e_[bucket_of(f) * kWays];
  Entry* victim = nullptr;
  for (uint32_t w = 0; w < kWays && !victim; ++w)
    if (matches(b[w], f)) victim = &b[w];
  // Otherwise an empty or expired way, else the entry closest to expiry.
  for (uint32_t w = 0; w < kWays && !victim; ++w)
    if (b[w].owner == 0 || b[w].expires <= now) victim = &b[w];
  if (!victim) {
    victim = &b[0];
    for (uint32_t w = 1; w < kWays; ++w)
      if (b[w].expires < victim->expires) victim = &b[w];
  }
  std::memcpy(victim->src, f.src, 16);
  std::memcpy(victim->dst, f.dst, 16);
  victim->id = f.frag_id;
  victim->proto = frag_proto(f);
  victim->owner = owner;
  victim->expires = now + kExpiryNs;
}

uint32_t FragTable::lookup(const ParsedFrame& f, uint64_t now) {
  std::lock_guard<std::mutex> lk(mu_);
  Entry* b = &e_[bucket_of(f) * kWays];
  for (uint32_t w = 0; w < kWays; ++w)
    if (matches(b[w], f)) return b[w].expires > now ? b[w].owner : kKernelPort;
  return kKernelPort;
}

void FragTable::purge(uint32_t owner) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& e : e_)
    if (e.owner == owner) e.owner = 0;
}

uint32_t FragTable::size(uint64_t now) {
  std::lock_guard<std::mutex> lk(mu_);
  uint32_t n = 0;
  for (auto& e : e_) n += e.owner != 0 && e.expires > now;
  return n;
}

}  // namespace msh
