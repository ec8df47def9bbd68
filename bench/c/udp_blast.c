// Load generator for bench/udp-veth.ts, run in the peer namespace: sends small UDP
// datagrams to ADDR:PORT with sendmmsg (flat out, or paced to a fixed offered rate) on
// the main thread, and counts the echoes with recvmmsg on a second thread, on the same
// connected socket. After WARMUP seconds it measures for WINDOW seconds and prints one
// JSON line with the rates over that window only:
//   {"offered_pps":..,"sent_pps":..,"echo_pps":..,"sent":..,"echoed":..,"bad":..,"window_s":..}
// An echo counts only if its payload is byte-for-byte the datagram that was sent (a
// 8-byte magic unique to this process, then filler), so stray or mangled replies show up
// in "bad" instead of the rate.
//
//   udp_blast ADDR PORT WARMUP_S WINDOW_S [RATE_PPS (0: flat out)] [PAYLOAD] [BATCH]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define RX_BATCH 256
#define RX_SLOT 2048

static int fd;
static int payload_len;
static uint8_t payload[1472];
static atomic_int stop_rx;
static atomic_uint_fast64_t echoed, bad;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void* rx_main(void* arg) {
  (void)arg;
  static uint8_t bufs[RX_BATCH][RX_SLOT];
  struct mmsghdr m[RX_BATCH];
  struct iovec io[RX_BATCH];
  while (!atomic_load_explicit(&stop_rx, memory_order_relaxed)) {
    for (int i = 0; i < RX_BATCH; i++) {
      io[i].iov_base = bufs[i];
      io[i].iov_len = RX_SLOT;
      memset(&m[i], 0, sizeof m[i]);
      m[i].msg_hdr.msg_iov = &io[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, m, RX_BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;  // SO_RCVTIMEO expired (checks stop_rx) or ECONNREFUSED
    uint64_t good = 0;
    for (int i = 0; i < n; i++)
      good += m[i].msg_len == (unsigned)payload_len && memcmp(bufs[i], payload, payload_len) == 0;
    atomic_fetch_add_explicit(&echoed, good, memory_order_relaxed);
    if (good != (uint64_t)n) atomic_fetch_add_explicit(&bad, n - good, memory_order_relaxed);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s ADDR PORT WARMUP_S WINDOW_S [RATE_PPS] [PAYLOAD] [BATCH]\n", argv[0]);
    return 2;
  }
  double warmup = atof(argv[3]), window = atof(argv[4]);
  double rate = argc > 5 ? atof(argv[5]) : 0;
  payload_len = argc > 6 ? atoi(argv[6]) : 18;  // 18: a 64-byte Ethernet frame with FCS
  int batch = argc > 7 ? atoi(argv[7]) : 64;
  if (payload_len < 8 || payload_len > (int)sizeof payload || batch < 1 || batch > MAX_BATCH || window <= 0) {
    fprintf(stderr, "udp_blast: bad arguments\n");
    return 2;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
    fprintf(stderr, "udp_blast: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  // Payload: magic (pid, time) then filler.
  uint64_t magic = ((uint64_t)getpid() << 32) ^ (uint64_t)(now_s() * 1e6);
  memcpy(payload, &magic, 8);
  for (int i = 8; i < payload_len; i++) payload[i] = (uint8_t)(0x40 + i);

  fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int big = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr*)&to, sizeof to)) { perror("connect"); return 1; }
  prctl(PR_SET_TIMERSLACK, 1UL);  // pacing sleeps of tens of microseconds

  pthread_t rx;
  if (pthread_create(&rx, NULL, rx_main, NULL)) { fprintf(stderr, "pthread_create failed\n"); return 1; }

  struct mmsghdr m[MAX_BATCH];
  struct iovec io[MAX_BATCH];
  for (int i = 0; i < batch; i++) {
    io[i].iov_base = payload;
    io[i].iov_len = payload_len;
    memset(&m[i], 0, sizeof m[i]);
    m[i].msg_hdr.msg_iov = &io[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0, send_err = 0;
  double t0 = now_s(), tw = t0 + warmup, te = tw + window;
  int in_window = 0;
  uint64_t sent_w0 = 0, echoed_w0 = 0, bad_w0 = 0;
  double tw_real = 0, te_real = 0;
  struct timespec pause = {0, 20000};
  for (;;) {
    double t = now_s();
    if (!in_window && t >= tw) {
      in_window = 1;
      tw_real = t;
      sent_w0 = sent;
      echoed_w0 = atomic_load(&echoed);
      bad_w0 = atomic_load(&bad);
    }
    if (t >= te) { te_real = t; break; }
    int want = batch;
    if (rate > 0) {
      // Pace against the start: the send count may not run ahead of rate * elapsed.
      double allowed = (t - t0) * rate - (double)sent;
      if (allowed < 1) { nanosleep(&pause, NULL); continue; }
      if (allowed < want) want = (int)allowed;
    }
    int n = sendmmsg(fd, m, want, 0);
    if (n > 0) sent += n;
    else if (errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED && errno != EINTR) send_err++;
  }
  uint64_t echoed_w = atomic_load(&echoed) - echoed_w0, bad_w = atomic_load(&bad) - bad_w0;
  uint64_t sent_w = sent - sent_w0;
  double el = te_real - tw_real;
  atomic_store(&stop_rx, 1);
  pthread_join(rx, NULL);
  printf("{\"offered_pps\":%.0f,\"sent_pps\":%.0f,\"echo_pps\":%.0f,\"sent\":%llu,\"echoed\":%llu,"
         "\"bad\":%llu,\"send_errors\":%llu,\"window_s\":%.3f}\n",
         rate, sent_w / el, echoed_w / el, (unsigned long long)sent_w, (unsigned long long)echoed_w,
         (unsigned long long)bad_w, (unsigned long long)send_err, el);
  return 0;
}
