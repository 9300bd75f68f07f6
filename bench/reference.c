/*
 * The benchmark's yardstick: a plain C server doing the same job as numbers-server, as a
 * competent programmer would write it without tuning. It is a measuring instrument, not
 * part of the product: `bun run bench` compiles it with `cc -O2` into a temp directory and
 * runs it interleaved with ours; the build and the binary never include it.
 *
 * One thread and epoll (level-triggered); reads of 256 KiB into one buffer; each line is
 * checked and parsed on its own (nine digits and LF, or `terminate` and LF); a 10^9-bit
 * bitmap from calloc, every page touched before the readiness line (as ours is); new lines
 * copied into a 1 MiB log buffer written out with write() when full. Same rules as ours: a
 * line is bad as soon as it cannot become valid, and a bad line closes its client with a
 * reset; at most --max-clients clients (the next is closed at once, unread); a client that
 * half-closes is closed once its bytes are consumed (they are, by the time read() returns 0)
 * and the log buffer is written out, so its close says its numbers are in the log (with a
 * reset instead if its last line is unfinished); `terminate`
 * closes the listener and every client, flushes and fsyncs the log and exits 0. A report
 * line every --report-interval seconds. SIGINT/SIGTERM exit without a flush (the bench
 * always stops it with `terminate`).
 *
 *   reference [serve] [--host H] [--port P] [--log FILE] [--max-clients N]
 *             [--report-interval S] [--workers W (ignored: one thread)]
 * Prints `listening on HOST:PORT` on stderr once it accepts connections.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (256 * 1024)
#define LOG_BYTES (1024 * 1024)
#define LINE 10
#define MAX_FDS 1024

struct client {
  int open;
  unsigned char carry[LINE];
  int carry_len;
};

static struct client clients[MAX_FDS];
static int client_count;
static int max_clients = 5;
static int listen_fd = -1;
static int epoll_fd;
static uint8_t *bits;
static unsigned char read_buf[READ_BYTES];
static unsigned char log_buf[LOG_BYTES];
static size_t log_len;
static int log_fd;
static const char *log_path = "numbers.log";
static long long unique_period, dup_period, unique_total;

static void die(const char *what) {
  fprintf(stderr, "reference: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_all(const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(log_fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("cannot write log");
    }
    p += w;
    n -= (size_t)w;
  }
}

static void flush_log(void) {
  write_all(log_buf, log_len);
  log_len = 0;
}

/* Value of nine digits and LF at p, or -1. */
static int parse_line(const unsigned char *p) {
  int v = 0;
  for (int k = 0; k < 9; k++) {
    unsigned d = (unsigned)p[k] - '0';
    if (d > 9) return -1;
    v = v * 10 + (int)d;
  }
  return p[9] == '\n' ? v : -1;
}

static int is_terminate(const unsigned char *p) { return memcmp(p, "terminate\n", LINE) == 0; }

/* Whether the first len (< 10) bytes of a line can still become a valid line. */
static int prefix_ok(const unsigned char *p, int len) {
  int digits = 1, word = 1;
  for (int k = 0; k < len; k++) {
    if (p[k] < '0' || p[k] > '9') digits = 0;
    if (p[k] != (unsigned char)"terminate"[k]) word = 0;
  }
  return digits || word;
}

static void record(const unsigned char *line, int v) {
  uint8_t mask = (uint8_t)(1u << (v & 7));
  uint8_t *b = &bits[v >> 3];
  if (*b & mask) {
    dup_period++;
    return;
  }
  *b |= mask;
  unique_period++;
  if (log_len + LINE > LOG_BYTES) flush_log();
  memcpy(log_buf + log_len, line, LINE);
  log_len += LINE;
}

enum { KEEP, CLOSE, TERMINATE };

/* Consumes one line of 10 bytes. */
static int line_verdict(const unsigned char *p) {
  int v = parse_line(p);
  if (v >= 0) {
    record(p, v);
    return KEEP;
  }
  return is_terminate(p) ? TERMINATE : CLOSE;
}

static int feed(struct client *c, const unsigned char *p, size_t n) {
  size_t i = 0;
  if (c->carry_len > 0) {
    while (c->carry_len < LINE && i < n) c->carry[c->carry_len++] = p[i++];
    if (c->carry_len < LINE) return prefix_ok(c->carry, c->carry_len) ? KEEP : CLOSE;
    c->carry_len = 0;
    int verdict = line_verdict(c->carry);
    if (verdict != KEEP) return verdict;
  }
  for (; i + LINE <= n; i += LINE) {
    int verdict = line_verdict(p + i);
    if (verdict != KEEP) return verdict;
  }
  size_t rest = n - i;
  if (rest > 0) {
    memcpy(c->carry, p + i, rest);
    c->carry_len = (int)rest;
    if (!prefix_ok(c->carry, c->carry_len)) return CLOSE;
  }
  return KEEP;
}

static void close_client(int fd, int reset) {
  if (reset) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  clients[fd].open = 0;
  client_count--;
}

static void shutdown_server(void) {
  close(listen_fd);
  for (int fd = 0; fd < MAX_FDS; fd++)
    if (clients[fd].open) close_client(fd, 0);
  flush_log();
  if (fsync(log_fd) < 0 && errno != EINVAL) die("cannot fsync log");
  close(log_fd);
  exit(0);
}

static void accept_clients(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      die("accept");
    }
    if (client_count >= max_clients || fd >= MAX_FDS) {
      close(fd);
      continue;
    }
    clients[fd].open = 1;
    clients[fd].carry_len = 0;
    client_count++;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }
}

/* Reads what a client has sent until the socket is drained or the client is gone. */
static void serve_client(int fd) {
  struct client *c = &clients[fd];
  for (;;) {
    ssize_t n = read(fd, read_buf, READ_BYTES);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      close_client(fd, 0);
      return;
    }
    if (n == 0) {
      /* As ours does: an unfinished last line is invalid input (a reset); else the close
       * says the client's numbers are in the log, so that the bench times both to a
       * complete log. */
      if (c->carry_len > 0) {
        close_client(fd, 1);
        return;
      }
      flush_log();
      close_client(fd, 0);
      return;
    }
    int verdict = feed(c, read_buf, (size_t)n);
    if (verdict == TERMINATE) shutdown_server();
    if (verdict == CLOSE) {
      close_client(fd, 1);
      return;
    }
    if (n < READ_BYTES) return;
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(void) {
  flush_log();
  unique_total += unique_period;
  printf("Received %lld unique numbers, %lld duplicates. Unique total: %lld\n", unique_period, dup_period, unique_total);
  fflush(stdout);
  unique_period = dup_period = 0;
}

static void usage(const char *why) {
  fprintf(stderr, "reference: %s\n", why);
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 4000;
  double interval = 10;
  int i = 1;
  if (i < argc && strcmp(argv[i], "serve") == 0) i++;
  for (; i < argc; i += 2) {
    if (i + 1 >= argc) usage("every flag takes a value");
    const char *flag = argv[i], *value = argv[i + 1];
    if (strcmp(flag, "--host") == 0) host = value;
    else if (strcmp(flag, "--port") == 0) port = atoi(value);
    else if (strcmp(flag, "--log") == 0) log_path = value;
    else if (strcmp(flag, "--max-clients") == 0) max_clients = atoi(value);
    else if (strcmp(flag, "--report-interval") == 0) interval = atof(value);
    else if (strcmp(flag, "--workers") != 0) usage("unknown flag");
  }
  if (interval <= 0 || max_clients < 1) usage("bad value");

  bits = calloc(1000000000 / 8, 1);
  if (!bits) die("calloc");
  /* Every page mapped before the readiness line, as ours does, so that neither pays for its
   * page faults in the timed run. */
  for (size_t i = 0; i < 1000000000 / 8; i += 4096) ((volatile unsigned char *)bits)[i] = 0;

  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (listen_fd < 0) die("socket");
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage("--host must be an IPv4 address");
  if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("cannot listen");
  if (listen(listen_fd, 128) < 0) die("listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd, (struct sockaddr *)&addr, &len);

  log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (log_fd < 0) die("cannot open log");

  epoll_fd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listen_fd};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
  fprintf(stderr, "listening on %s:%d\n", host, ntohs(addr.sin_port));

  double next_report = now_s() + interval;
  struct epoll_event events[64];
  for (;;) {
    int wait_ms = (int)((next_report - now_s()) * 1000);
    int n = epoll_wait(epoll_fd, events, 64, wait_ms < 0 ? 0 : wait_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      int fd = events[e].data.fd;
      if (fd == listen_fd) accept_clients();
      else if (clients[fd].open) serve_client(fd);
    }
    if (now_s() >= next_report) {
      report();
      next_report += interval;
    }
  }
}
