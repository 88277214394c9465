/*
 * An echo server in C on epoll, single-threaded, edge-triggered, for the
 * @proj/tcp benchmark: what one core of this machine can do, the ceiling
 * the Node.js servers are measured against. Prints its port on stdout, then
 * serves until stdin closes; on a line "cpu" on stdin it prints its CPU time
 * in microseconds. Built at bench time: gcc -O2 -o epoll-echo epoll-echo.c
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int main(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 1024)) { perror("listen"); return 1; }
  socklen_t len = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &len);
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  nonblock(lfd);
  nonblock(0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = 0;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  static char buf[65536];
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == 0) {
        char line[64];
        ssize_t r = read(0, line, sizeof line);
        if (r <= 0) return 0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        long long us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
        printf("%lld\n", us);
        fflush(stdout);
      } else if (fd == lfd) {
        int c;
        while ((c = accept(lfd, NULL, NULL)) >= 0) {
          nonblock(c);
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN | EPOLLET, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
      } else {
        for (;;) {
          ssize_t r = read(fd, buf, sizeof buf);
          if (r > 0) {
            ssize_t off = 0;
            while (off < r) {
              ssize_t w = write(fd, buf + off, r - off);
              if (w > 0) off += w;
              else if (w < 0 && errno == EAGAIN) {
                /* The peer is slow: wait until it can take more (a bench peer reads as it writes). */
                struct epoll_event wev = {.events = EPOLLOUT, .data.fd = fd};
                int wep = epoll_create1(0);
                epoll_ctl(wep, EPOLL_CTL_ADD, fd, &wev);
                epoll_wait(wep, &wev, 1, 1000);
                close(wep);
              } else break;
            }
            continue;
          }
          if (r == 0 || errno != EAGAIN) close(fd);
          break;
        }
      }
    }
  }
}
