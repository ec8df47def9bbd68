// Debugging/measurement aid, not product code: floods a UDP echo service with small
// datagrams (sendmmsg, batch 64) for N seconds, counts echoes (recvmmsg) and prints
// sent/received rates. Run it in the peer namespace.
//   g++ -std=c++20 -O2 native/tools/udp_flood.cc -o /tmp/udp_flood -lpthread
//   ip netns exec PEER_NS /tmp/udp_flood ADDR PORT SECONDS [payload_bytes] [pps_limit]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s ADDR PORT SECONDS [payload] [pps]\n", argv[0]);
    return 2;
  }
  int secs = atoi(argv[3]);
  int payload = argc > 4 ? atoi(argv[4]) : 18;  // 18 bytes: 64-byte frames over IPv4
  double pps = argc > 5 ? atof(argv[5]) : 0;
  sockaddr_storage ss{};
  socklen_t sl;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  int fam;
  if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
    fam = AF_INET, s4->sin_family = AF_INET, s4->sin_port = htons(atoi(argv[2])), sl = sizeof *s4;
  } else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
    fam = AF_INET6, s6->sin6_family = AF_INET6, s6->sin6_port = htons(atoi(argv[2])), sl = sizeof *s6;
  } else {
    return 2;
  }
  int fd = socket(fam, SOCK_DGRAM, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), sl)) { perror("connect"); return 1; }
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> rcvd{0};
  std::thread rx([&] {
    constexpr int B = 64;
    std::vector<char> bufs(B * 2048);
    mmsghdr m[B];
    iovec io[B];
    while (!stop) {
      for (int i = 0; i < B; i++) {
        io[i] = {&bufs[i * 2048], 2048};
        memset(&m[i], 0, sizeof m[i]);
        m[i].msg_hdr.msg_iov = &io[i];
        m[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd, m, B, MSG_WAITFORONE, nullptr);
      if (n > 0) rcvd += n;
    }
  });
  constexpr int B = 64;
  std::vector<char> data(payload, 'x');
  mmsghdr m[B];
  iovec io[B];
  for (int i = 0; i < B; i++) {
    io[i] = {data.data(), size_t(payload)};
    memset(&m[i], 0, sizeof m[i]);
    m[i].msg_hdr.msg_iov = &io[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto end = t0 + std::chrono::seconds(secs);
  while (std::chrono::steady_clock::now() < end) {
    if (pps > 0) {
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (sent > el * pps) { std::this_thread::sleep_for(std::chrono::microseconds(50)); continue; }
    }
    int n = sendmmsg(fd, m, B, 0);
    if (n > 0) sent += n;
  }
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  rx.join();
  printf("sent %lu (%.0f pps) received %lu (%.0f pps) loss %.1f%%\n", (unsigned long)sent,
         sent / el, (unsigned long)rcvd.load(), rcvd / el, sent ? 100.0 * (sent - rcvd) / sent : 0);
  return 0;
}
