/*
 * The TLS load generator of the @proj/tcp benchmark: load.c over OpenSSL, so
 * that a TLS echo server, not the load, sets the pace (a Node.js TLS client on
 * the same 2 cores spends more per message than the server it drives).
 * Usage: tls-load PORT CONNS SIZE WINDOW MS
 * Opens CONNS TLS connections to 127.0.0.1:PORT (server name localhost; the
 * certificate is not checked: it is the benchmark's own, made for the run),
 * keeps WINDOW messages of SIZE bytes in flight on each, and after MS
 * milliseconds prints the number of messages echoed back in full; a negative
 * MS, -COUNT, sends exactly COUNT messages a connection, as load.c does.
 * Built at bench time with gcc where OpenSSL's headers are (Debian:
 * libssl-dev).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "quota.h"

struct conn {
  int fd;
  SSL *ssl;
  long pending_out; /* bytes still to write */
  long out_at;      /* where the next write starts in the message */
  long got;         /* bytes received towards the current message */
  int want_out;     /* waiting for the socket to take more (EPOLLOUT armed) */
  struct quota quota; /* with -COUNT (quota.h) */
};

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void fail(const char *what) {
  fprintf(stderr, "tls-load: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static void arm(int ep, struct conn *c, int i, int want_out) {
  if (c->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u32 = i};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want_out;
}

/* Writes what is pending; arms EPOLLOUT when the socket is full. */
static void flush(int ep, struct conn *c, int i, const char *out, long size) {
  while (c->pending_out > 0) {
    long chunk = size - c->out_at;
    if (chunk > c->pending_out) chunk = c->pending_out;
    int w = SSL_write(c->ssl, out + c->out_at, (int)chunk);
    if (w <= 0) {
      int e = SSL_get_error(c->ssl, w);
      if (e == SSL_ERROR_WANT_WRITE) {
        arm(ep, c, i, 1);
        return;
      }
      if (e == SSL_ERROR_WANT_READ) return;
      fail("write failed");
    }
    c->pending_out -= w;
    c->out_at = (c->out_at + w) % size;
  }
  arm(ep, c, i, 0);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: tls-load PORT CONNS SIZE WINDOW MS\n");
    return 2;
  }
  int port = atoi(argv[1]), conns = atoi(argv[2]), window = atoi(argv[4]);
  long size = atol(argv[3]);
  long long ms = atoll(argv[5]);
  long long per_conn = count_mode(&ms, &window);
  char *out = calloc(1, size), *in = malloc(65536);
  struct conn *cs = calloc(conns, sizeof *cs);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) fail("no TLS context");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  int ep = epoll_create1(0), one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < conns; i++) {
    struct conn *c = &cs[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr)) fail("cannot connect");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    /* The handshake blocks; the messages do not. */
    if (SSL_connect(c->ssl) != 1) fail("handshake failed");
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->pending_out = size * window;
    c->quota = quota_of(per_conn, window);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  for (int i = 0; i < conns; i++) flush(ep, &cs[i], i, out, size);
  long long count = 0, end = now_ms() + ms;
  int finished = 0;
  struct epoll_event events[256];
  while (now_ms() < end && (per_conn == 0 || finished < conns)) {
    int n = epoll_wait(ep, events, 256, 50);
    for (int e = 0; e < n; e++) {
      int i = events[e].data.u32;
      struct conn *c = &cs[i];
      for (;;) {
        int r = SSL_read(c->ssl, in, 65536);
        if (r <= 0) {
          int err = SSL_get_error(c->ssl, r);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
          fail("the server closed the connection or sent bad data");
        }
        c->got += r;
        while (c->got >= size) {
          c->got -= size;
          count++;
          finished += answered(&c->quota, &c->pending_out, size, per_conn);
        }
      }
      flush(ep, c, i, out, size);
    }
  }
  if (per_conn > 0 && finished < conns) fail("the server stopped answering");
  printf("%lld\n", count);
  for (int i = 0; i < conns; i++) {
    SSL_free(cs[i].ssl);
    close(cs[i].fd);
  }
  SSL_CTX_free(ctx);
  return 0;
}
