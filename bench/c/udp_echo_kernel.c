// The kernel's own UDP echo, the baseline of bench/udp-veth.ts: one thread, one socket,
// recvmmsg then sendmmsg of the same batch (up to BATCH datagrams) back to each sender.
// Prints "ready" once bound; on SIGTERM/SIGINT prints one JSON line with its counts and
// exits 0.
//
//   udp_echo_kernel ADDR PORT [BATCH]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define SLOT 2048

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s ADDR PORT [BATCH]\n", argv[0]);
    return 2;
  }
  int batch = argc > 3 ? atoi(argv[3]) : 256;
  if (batch < 1 || batch > MAX_BATCH) { fprintf(stderr, "udp_echo_kernel: bad batch\n"); return 2; }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "udp_echo_kernel: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_signal};  // no SA_RESTART: recvmmsg returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int big = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr)) { perror("bind"); return 1; }
  printf("ready\n");
  fflush(stdout);

  static uint8_t bufs[MAX_BATCH][SLOT];
  static struct sockaddr_in peers[MAX_BATCH];
  static struct mmsghdr m[MAX_BATCH];
  static struct iovec io[MAX_BATCH];
  unsigned long long rx = 0, tx = 0, tx_short = 0;
  while (!stop) {
    for (int i = 0; i < batch; i++) {
      io[i].iov_base = bufs[i];
      io[i].iov_len = SLOT;
      memset(&m[i], 0, sizeof m[i]);
      m[i].msg_hdr.msg_iov = &io[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_name = &peers[i];
      m[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
    int n = recvmmsg(fd, m, batch, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    rx += n;
    // Reply with exactly what came in: the received length becomes the iovec length.
    for (int i = 0; i < n; i++) io[i].iov_len = m[i].msg_len;
    int off = 0;
    while (off < n) {
      int k = sendmmsg(fd, m + off, n - off, 0);
      if (k <= 0) {
        if (errno == EINTR && !stop) continue;
        break;  // ENOBUFS/EAGAIN: drop the rest of this batch, as a full queue would
      }
      off += k;
    }
    tx += off;
    tx_short += n - off;
  }
  printf("{\"rx\":%llu,\"tx\":%llu,\"tx_dropped\":%llu}\n", rx, tx, tx_short);
  return 0;
}
