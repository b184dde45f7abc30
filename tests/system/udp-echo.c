/* A UDP echo server for the network tests (busybox has no UDP server):
   udp-echo PORT — sends every datagram back to its sender. Built static by
   the test, copied into a test image. */
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char** argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(argc > 1 ? argv[1] : "9999"));
  if (s < 0 || bind(s, (struct sockaddr*)&a, sizeof a) != 0) return 1;
  for (;;) {
    char buf[2048];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
    if (n >= 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr*)&from, len);
  }
}
