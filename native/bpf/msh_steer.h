/* Layouts shared by the XDP steering program (msh_steer.bpf.c) and its loader
 * (native/src/backends/xdp.cc). Both sides compile this header, so a change here
 * changes both; keep every struct free of implicit padding (explicit pad fields,
 * always zeroed by the writer) because BPF hash keys are compared byte for byte. */
#ifndef MSH_STEER_H
#define MSH_STEER_H

#include <linux/types.h>

/* Key of the `tuples` hash map: one owned 3-tuple, exact match only (the host expands
 * "every address" into one key per link address, as the classifier does). IPv4
 * addresses are IPv4-mapped (::ffff:a.b.c.d), like msh::TupleKey. `port` is in network
 * byte order so the program compares it with the wire value without swapping. */
struct msh_tuple_key {
  __u8 addr[16];
  __be16 port;
  __u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
  __u8 pad;   /* 0 */
};

/* Value of `tuples` (and of `frags`): where the owning port's sockets are. The port's
 * socket for RX queue q sits in the XSKMAP at xsk_base + q, for q < nqueues; a frame
 * from a queue without a socket is dropped. */
struct msh_tuple_val {
  __u32 xsk_base;
  __u32 nqueues;
};

/* Key of the `frags` LRU map: one IP datagram being fragmented. Learnt from a first
 * fragment whose tuple is owned so that later fragments (no L4 header) follow it. For
 * IPv6, `proto` is the Next Header of the Fragment header and `id` its identification;
 * for IPv4 the protocol field and the 16-bit identification. */
struct msh_frag_key {
  __u8 src[16];
  __u8 dst[16];
  __u32 id;
  __u8 proto;
  __u8 pad[3]; /* 0 */
};

/* Indexes of the per-CPU `counters` array (u64 each). */
enum msh_steer_counter {
  MSH_CNT_PASS = 0,           /* handed to the kernel stack (not owned) */
  MSH_CNT_REDIRECT = 1,       /* redirected to an XSK socket */
  MSH_CNT_DROP_NO_SOCKET = 2, /* owned, but no socket in the slot: dropped */
  MSH_CNT_PARSE_ERROR = 3,    /* truncated/malformed headers: passed to the kernel */
  MSH_CNT_FRAG_REDIRECT = 4,  /* non-first fragments of an owned datagram (then counted
                                 as redirected or dropped-no-socket too) */
  MSH_CNT_FRAG_PASS = 5,      /* non-first fragments of unknown datagrams: passed */
  MSH_CNT_MAX = 8,
};

/* Longest chain of IPv6 extension headers the program walks before giving up (and
 * passing the packet to the kernel, counted as a parse error). */
#define MSH_IPV6_MAX_EXT 8

#endif
