/* msh XDP steering program.
 *
 * For every frame on the interface: parse Ethernet (at most one 802.1Q/802.1ad tag),
 * IPv4 (options skipped through IHL) or IPv6 (a bounded chain of extension headers),
 * then the TCP/UDP destination port, and look {proto, destination address, destination
 * port} up in `tuples`. A hit redirects to the owning port's XSK socket for the RX
 * queue the frame arrived on; if that socket is missing the frame is DROPPED (so the
 * kernel never answers with RST / ICMP unreachable for a tuple a stack owns). A miss,
 * and anything that is not TCP/UDP over IP, goes to the kernel stack (XDP_PASS): ARP,
 * ICMP, neighbour discovery and unowned ports keep working.
 *
 * Fragments: a first fragment (offset 0) carries the L4 header and is steered like any
 * frame; when its tuple is owned the datagram is remembered in the `frags` LRU map so
 * that its later fragments follow it to the same socket. A non-first fragment whose
 * first fragment was not seen (reordered ahead of it, or the map entry was evicted) goes
 * to the kernel, which will eventually drop the incomplete datagram: fragments that
 * overtake the first one are lost for the stack.
 *
 * Malformed or truncated headers go to the kernel (it drops them itself) and are
 * counted as parse errors. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "msh_steer.h"

/* Sizes are placeholders: the loader sets max_entries before load. */
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} xsks SEC(".maps");

/* Not preallocated: the loader sizes it for many tuples, most links own a few. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 1);
  __type(key, struct msh_tuple_key);
  __type(value, struct msh_tuple_val);
} tuples SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct msh_frag_key);
  __type(value, struct msh_tuple_val);
} frags SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, MSH_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define ETH_P_IP_BE bpf_htons(0x0800)
#define ETH_P_IPV6_BE bpf_htons(0x86DD)

#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60

static __always_inline void count(__u32 idx) {
  __u64 *c = bpf_map_lookup_elem(&counters, &idx);
  if (c) *c += 1;
}

static __always_inline int pass(void) {
  count(MSH_CNT_PASS);
  return XDP_PASS;
}

static __always_inline int parse_error(void) {
  count(MSH_CNT_PARSE_ERROR);
  return XDP_PASS;
}

/* Redirect to the socket of `val`'s port on this frame's RX queue; drop when that
 * socket does not exist (bpf_redirect_map returns the fallback action then). */
static __always_inline int to_socket(struct xdp_md *ctx, const struct msh_tuple_val *val) {
  __u32 q = ctx->rx_queue_index;
  if (q >= val->nqueues) {
    count(MSH_CNT_DROP_NO_SOCKET);
    return XDP_DROP;
  }
  int act = bpf_redirect_map(&xsks, val->xsk_base + q, XDP_DROP);
  count(act == XDP_REDIRECT ? MSH_CNT_REDIRECT : MSH_CNT_DROP_NO_SOCKET);
  return act;
}

/* Destination port of the TCP/UDP header at l4 (network order), or -1 if truncated. */
static __always_inline int dst_port(void *l4, void *end, __be16 *port) {
  /* Both headers start with source port, destination port. */
  __be16 *p = l4;
  if ((void *)(p + 2) > end) return -1;
  *port = p[1];
  return 0;
}

static __always_inline void map_v4(__u8 out[16], __be32 a) {
  __builtin_memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  __builtin_memcpy(out + 12, &a, 4);
}

static __always_inline int handle_ipv4(struct xdp_md *ctx, void *l3, void *end) {
  struct iphdr *ip = l3;
  if ((void *)(ip + 1) > end) return parse_error();
  if (ip->version != 4 || ip->ihl < 5) return parse_error();
  if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) return pass();

  __u16 frag = bpf_ntohs(ip->frag_off);
  if (frag & IP_OFFMASK) {
    /* Non-first fragment: no L4 header; follow the first fragment if it was owned. */
    struct msh_frag_key fk = {};
    map_v4(fk.src, ip->saddr);
    map_v4(fk.dst, ip->daddr);
    fk.id = ip->id;
    fk.proto = ip->protocol;
    struct msh_tuple_val *fv = bpf_map_lookup_elem(&frags, &fk);
    if (!fv) {
      count(MSH_CNT_FRAG_PASS);
      return pass();
    }
    count(MSH_CNT_FRAG_REDIRECT);
    return to_socket(ctx, fv);
  }

  void *l4 = l3 + ip->ihl * 4;
  struct msh_tuple_key key = {};
  if (dst_port(l4, end, &key.port) < 0) return parse_error();
  map_v4(key.addr, ip->daddr);
  key.proto = ip->protocol;

  struct msh_tuple_val *val = bpf_map_lookup_elem(&tuples, &key);
  if (frag & IP_MF) {
    /* First fragment: remember (or forget a stale entry for) the datagram. */
    struct msh_frag_key fk = {};
    map_v4(fk.src, ip->saddr);
    map_v4(fk.dst, ip->daddr);
    fk.id = ip->id;
    fk.proto = ip->protocol;
    if (val)
      bpf_map_update_elem(&frags, &fk, val, BPF_ANY);
    else
      bpf_map_delete_elem(&frags, &fk);
  }
  if (!val) return pass();
  return to_socket(ctx, val);
}

static __always_inline int handle_ipv6(struct xdp_md *ctx, void *l3, void *end) {
  struct ipv6hdr *ip6 = l3;
  if ((void *)(ip6 + 1) > end) return parse_error();
  if (ip6->version != 6) return parse_error();

  __u8 nh = ip6->nexthdr;
  void *p = ip6 + 1;
  int is_frag = 0, first_frag = 1, more_frags = 0;
  __u32 frag_id = 0;
  __u8 frag_nh = 0;

#pragma unroll
  for (int i = 0; i < MSH_IPV6_MAX_EXT; i++) {
    if (nh == IPPROTO_TCP || nh == IPPROTO_UDP) break;
    __u8 *h = p;
    if ((void *)(h + 8) > end) return parse_error();
    switch (nh) {
    case NEXTHDR_HOP:
    case NEXTHDR_ROUTING:
    case NEXTHDR_DEST:
      nh = h[0];
      p += ((__u32)h[1] + 1) * 8;
      break;
    case NEXTHDR_AUTH:
      nh = h[0];
      p += ((__u32)h[1] + 2) * 4;
      break;
    case NEXTHDR_FRAGMENT: {
      __u16 off = ((__u16)h[2] << 8) | h[3];
      is_frag = 1;
      first_frag = (off & 0xfff8) == 0;
      more_frags = off & 1;
      __builtin_memcpy(&frag_id, h + 4, 4);
      frag_nh = h[0];
      nh = h[0];
      p += 8;
      if (!first_frag) goto nonfirst;
      break;
    }
    default:
      /* ICMPv6, ESP, no-next-header, ...: not steerable by port. */
      return pass();
    }
  }
  if (nh != IPPROTO_TCP && nh != IPPROTO_UDP) {
    /* Only reached when the chain is longer than MSH_IPV6_MAX_EXT. */
    return parse_error();
  }

  struct msh_tuple_key key = {};
  if (dst_port(p, end, &key.port) < 0) return parse_error();
  __builtin_memcpy(key.addr, &ip6->daddr, 16);
  key.proto = nh;
  struct msh_tuple_val *val = bpf_map_lookup_elem(&tuples, &key);
  if (is_frag && more_frags) {
    struct msh_frag_key fk = {};
    __builtin_memcpy(fk.src, &ip6->saddr, 16);
    __builtin_memcpy(fk.dst, &ip6->daddr, 16);
    fk.id = frag_id;
    fk.proto = frag_nh;
    if (val)
      bpf_map_update_elem(&frags, &fk, val, BPF_ANY);
    else
      bpf_map_delete_elem(&frags, &fk);
  }
  if (!val) return pass();
  return to_socket(ctx, val);

nonfirst: {
    struct msh_frag_key fk = {};
    __builtin_memcpy(fk.src, &ip6->saddr, 16);
    __builtin_memcpy(fk.dst, &ip6->daddr, 16);
    fk.id = frag_id;
    fk.proto = frag_nh;
    struct msh_tuple_val *fv = bpf_map_lookup_elem(&frags, &fk);
    if (!fv) {
      count(MSH_CNT_FRAG_PASS);
      return pass();
    }
    count(MSH_CNT_FRAG_REDIRECT);
    return to_socket(ctx, fv);
  }
}

SEC("xdp")
int msh_steer(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return parse_error();

  __be16 type = eth->h_proto;
  void *l3 = eth + 1;
  if (type == ETH_P_8021Q_BE || type == ETH_P_8021AD_BE) {
    /* One tag: TCI, then the encapsulated EtherType. */
    __be16 *tag = l3;
    if ((void *)(tag + 2) > end) return parse_error();
    type = tag[1];
    l3 = tag + 2;
  }
  if (type == ETH_P_IP_BE) return handle_ipv4(ctx, l3, end);
  if (type == ETH_P_IPV6_BE) return handle_ipv6(ctx, l3, end);
  return pass();
}

char LICENSE[] SEC("license") = "GPL";
