/*
 * A load generator in C on epoll, for the @proj/tcp benchmark: it drives an
 * echo server without being the bottleneck (a Node.js load generator on the
 * same 2 cores can be). Usage: load PORT CONNS SIZE WINDOW MS
 * Opens CONNS connections to 127.0.0.1:PORT, keeps WINDOW messages of SIZE
 * bytes in flight on each (1 = ping-pong), and after MS milliseconds prints
 * the number of messages echoed back in full. A negative MS, -COUNT, makes
 * each connection send exactly COUNT messages instead, and exits once all of
 * them are echoed (for counting a server's instructions per message). Built
 * at bench time with gcc.
 *
 * Usage for a request/response protocol: load PORT CONNS REQUEST_HEX
 * RESPONSE_SIZE WINDOW MS sends the bytes REQUEST_HEX as each message and
 * counts one answer per RESPONSE_SIZE bytes received (every answer the same
 * size, e.g. an RPC echo whose requests all carry the same id).
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

#include "quota.h"

struct conn {
  int fd;
  long pending_out; /* bytes still to write */
  long out_at;      /* where the next write starts in the message */
  long got;         /* bytes received towards the current message */
  struct quota quota; /* with -COUNT (quota.h) */
};

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: load PORT CONNS SIZE WINDOW MS\n   or: load PORT CONNS REQUEST_HEX RESPONSE_SIZE WINDOW MS\n");
    return 2;
  }
  int framed = argc == 7, port = atoi(argv[1]), conns = atoi(argv[2]), window = atoi(argv[framed ? 5 : 4]);
  long size, answer;
  long long ms = atoll(argv[framed ? 6 : 5]);
  long long per_conn = count_mode(&ms, &window);
  char *out, *in = malloc(65536);
  if (framed) {
    size = (long)strlen(argv[3]) / 2;
    answer = atol(argv[4]);
    out = malloc(size);
    for (long i = 0; i < size; i++) sscanf(argv[3] + 2 * i, "%2hhx", (unsigned char *)out + i);
  } else {
    size = answer = atol(argv[3]);
    out = calloc(1, size);
  }
  if (size <= 0 || answer <= 0) {
    fprintf(stderr, "load: empty message\n");
    return 2;
  }
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
    cs[i].quota = quota_of(per_conn, window);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  long long count = 0, end = now_ms() + ms;
  int finished = 0;
  struct epoll_event events[256];
  while (now_ms() < end && (per_conn == 0 || finished < conns)) {
    int n = epoll_wait(ep, events, 256, 50);
    for (int e = 0; e < n; e++) {
      struct conn *c = &cs[events[e].data.u32];
      for (;;) {
        ssize_t r = read(c->fd, in, 65536);
        if (r <= 0) break;
        c->got += r;
        while (c->got >= answer) {
          c->got -= answer;
          count++;
          finished += answered(&c->quota, &c->pending_out, size, per_conn);
        }
      }
      while (c->pending_out > 0) {
        long chunk = size - c->out_at;
        if (chunk > c->pending_out) chunk = c->pending_out;
        ssize_t w = write(c->fd, out + c->out_at, chunk);
        if (w <= 0) break;
        c->pending_out -= w;
        c->out_at = (c->out_at + w) % size;
      }
    }
  }
  if (per_conn > 0 && finished < conns) {
    fprintf(stderr, "load: the server stopped answering\n");
    return 1;
  }
  printf("%lld\n", count);
  for (int i = 0; i < conns; i++) close(cs[i].fd);
  return 0;
}
