/*
 * A load generator in C on epoll, for the @proj/tcp benchmark: it drives an
 * echo server without being the bottleneck (a Node.js load generator on the
 * same 2 cores can be). Usage: load PORT CONNS SIZE WINDOW MS
 * Opens CONNS connections to 127.0.0.1:PORT, keeps WINDOW messages of SIZE
 * bytes in flight on each (1 = ping-pong), and after MS milliseconds prints
 * the number of messages echoed back in full. Built at bench time with gcc.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  long pending_out; /* bytes still to write */
  long got;         /* bytes received towards the current message */
};

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: load PORT CONNS SIZE WINDOW MS\n");
    return 2;
  }
  int port = atoi(argv[1]), conns = atoi(argv[2]), window = atoi(argv[4]);
  long size = atol(argv[3]);
  long long ms = atoll(argv[5]);
  char *out = calloc(1, size), *in = malloc(65536);
  struct conn *cs = calloc(conns, sizeof *cs);
  int ep = epoll_create1(0), one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < conns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
      perror("connect");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    cs[i].fd = fd;
    cs[i].pending_out = size * window;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  long long count = 0, end = now_ms() + ms;
  struct epoll_event events[256];
  while (now_ms() < end) {
    int n = epoll_wait(ep, events, 256, 50);
    for (int e = 0; e < n; e++) {
      struct conn *c = &cs[events[e].data.u32];
      for (;;) {
        ssize_t r = read(c->fd, in, 65536);
        if (r <= 0) break;
        c->got += r;
        while (c->got >= size) {
          c->got -= size;
          count++;
          c->pending_out += size;
        }
      }
      while (c->pending_out > 0) {
        long chunk = c->pending_out < size ? c->pending_out : size;
        ssize_t w = write(c->fd, out, chunk);
        if (w <= 0) break;
        c->pending_out -= w;
      }
    }
  }
  printf("%lld\n", count);
  for (int i = 0; i < conns; i++) close(cs[i].fd);
  return 0;
}
