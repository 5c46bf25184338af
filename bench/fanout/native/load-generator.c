/*
 * The fan-out load generator: one source and N receivers on raw WebSockets, all on one epoll loop,
 * in C — so that the load costs far less than the relays it measures (a Node client spends
 * several microseconds of JavaScript per socket read) and the source reacts to the receivers'
 * progress within the same loop, with no process hop in between.
 *
 * Usage: load-generator HOST PORT RECEIVER_PATH N SOURCE_PATH [options]
 *   --expect P / --send T          receivers' app-level handshake after the upgrade, in order
 *   --src-expect P / --src-send T  the source's
 *   --reply-equal M R              answer a text frame equal to M with R (app-level pings)
 *   --reply-prefix P R             answer a text frame starting with P with R
 *   --msg OPCODE PREFIX_HEX BODY SUFFIX_HEX
 *                                  a message: PREFIX, then the stamp padded with 'x' to BODY
 *                                  bytes, then SUFFIX, sent as one frame of OPCODE (1 or 2)
 *   --spin                         poll without sleeping (the load core never idles)
 *   --port2 P                      connect the second half of the receivers to port P of the same
 *                                  host (a second relay node; the source stays on PORT); the
 *                                  report then gives each half's deliveries and latencies too
 * Text arguments accept \r and \n escapes.
 *
 * Every message carries a stamp "#S<index>T<microseconds>#" (CLOCK_MONOTONIC) wherever the
 * system puts it; a received frame counts one delivery per stamp, and the stamp gives the
 * source→receiver latency with no agreement on message order (conflated state counts once).
 *
 * Commands on stdin, a line each:
 *   reset            zero the delivery count, histogram and busy time
 *   measure 1|0      record latencies
 *   latency R MS     send R messages per second for MS milliseconds, then print "latency-done"
 *   saturate W       keep W messages in flight: sent minus the newest index every one of three
 *                    probe receivers has seen
 *   stop             stop sending
 *   report           print "r {json}"
 * Output: "ready <receivers connected>" once the source is connected too, "latency-done", "r …".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUCKET_US 10
#define BUCKETS 500000 /* 5 s */
#define MAX_STEPS 8
#define MAX_REPLIES 4
#define SAT_BASE 10000000LL /* first index of the saturation phase */
#define OUT_LIMIT (1 << 20)  /* the source stops adding while this much is unsent */
/* Stamps are at least 84 bytes apart in every system's framing (each sits in its own ~100-byte
 * payload), so after one the scan may skip ahead; only probes and the latency phase parse the
 * digits — at saturation the receivers only count. */
#define STAMP_SKIP 64
#define ID_STDIN UINT32_MAX
#define ID_TIMER (UINT32_MAX - 1)

enum { ST_HTTP, ST_HANDSHAKE, ST_READY, ST_DEAD };

typedef struct { int expect; const char *text; size_t n; } step_t;
typedef struct { int prefix; const char *match; size_t mn; const char *reply; size_t rn; } reply_t;
typedef struct { step_t s[MAX_STEPS]; int n; } script_t;

typedef struct {
  int fd;
  int state;
  int step;
  const script_t *script;
  unsigned char *buf;
  size_t len, cap;
  int64_t latest;
  int probe;
  int is_source;
  int group; /* 0: receivers on PORT, 1: on --port2 */
  /* unsent bytes (the source only) */
  unsigned char *out;
  size_t out_len, out_cap;
  int want_out; /* EPOLLOUT is registered */
} conn_t;

static script_t recv_script, src_script;
static reply_t replies[MAX_REPLIES];
static int nreplies;
static conn_t *conns; /* receivers, then the source */
static int nconns;
static conn_t *source;
static uint32_t *hist[2]; /* latency histogram of each receiver group */
static uint64_t delivered, delivered_group[2];
static int measuring;
static int spin;
static int64_t busy_us;
static int ep;

static int msg_opcode = 2;
static unsigned char msg_prefix[256], msg_suffix[256];
static size_t msg_prefix_n, msg_suffix_n, msg_body = 84;

/* Sending state. */
static enum { SEND_NONE, SEND_RATE, SEND_WINDOW } mode;
static int64_t next_index, rate_t0, rate_total;
static double rate_per_s;
static int64_t window_size;
static int timer_fd;
static int probe_ids[3];

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] == 'r') { *w++ = '\r'; r++; }
    else if (r[0] == '\\' && r[1] == 'n') { *w++ = '\n'; r++; }
    else *w++ = *r;
  }
  *w = 0;
  return s;
}

static size_t unhex(const char *h, unsigned char *out, size_t cap) {
  size_t n = 0;
  for (; h[0] && h[1] && n < cap; h += 2) {
    unsigned v;
    if (sscanf(h, "%2x", &v) != 1) break;
    out[n++] = (unsigned char)v;
  }
  return n;
}

/* Appends one masked frame (zero key: the payload goes as is) to the connection's output. */
static void queue_frame(conn_t *c, int opcode, const void *p, size_t n) {
  size_t need = c->out_len + n + 14;
  if (need > c->out_cap) {
    while (c->out_cap < need) c->out_cap = c->out_cap ? c->out_cap * 2 : 65536;
    c->out = realloc(c->out, c->out_cap);
  }
  unsigned char *o = c->out + c->out_len;
  size_t h;
  o[0] = 0x80 | opcode;
  if (n < 126) { o[1] = 0x80 | (unsigned char)n; h = 2; }
  else if (n < 65536) { o[1] = 0x80 | 126; o[2] = n >> 8; o[3] = n & 0xff; h = 4; }
  else { o[1] = 0x80 | 127; for (int i = 0; i < 8; i++) o[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i)); h = 10; }
  memset(o + h, 0, 4);
  memcpy(o + h + 4, p, n);
  c->out_len += h + 4 + n;
}

/* Writes what the socket takes; waits for EPOLLOUT while anything is left. */
static void flush_out(conn_t *c) {
  size_t off = 0;
  while (off < c->out_len) {
    ssize_t w = write(c->fd, c->out + off, c->out_len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  if (off) {
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
  }
  /* Re-register only when the interest changes: pumps and pongs stay one syscall each. */
  int want = c->out_len > 0;
  if (want != c->want_out) {
    struct epoll_event e = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns)};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->want_out = want;
  }
}

static void send_now(conn_t *c, int opcode, const void *p, size_t n) {
  queue_frame(c, opcode, p, n);
  flush_out(c);
}

/* Queues message `index` from the source (not flushed). */
static void queue_message(int64_t index) {
  unsigned char m[1024];
  size_t n = 0;
  memcpy(m, msg_prefix, msg_prefix_n);
  n += msg_prefix_n;
  int s = snprintf((char *)m + n, sizeof m - n, "#S%lldT%lld#", (long long)index, (long long)now_us());
  size_t body = (size_t)s < msg_body ? msg_body : (size_t)s;
  memset(m + n + s, 'x', body - (size_t)s);
  n += body;
  memcpy(m + n, msg_suffix, msg_suffix_n);
  n += msg_suffix_n;
  queue_frame(source, msg_opcode, m, n);
}

static void run_sends(conn_t *c) {
  const script_t *sc = c->script;
  while (c->step < sc->n && !sc->s[c->step].expect) {
    send_now(c, 1, sc->s[c->step].text, sc->s[c->step].n);
    c->step++;
  }
  if (c->step >= sc->n) c->state = ST_READY;
}

static int64_t digits(const unsigned char **pp, const unsigned char *end) {
  const unsigned char *p = *pp, *start = p;
  int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  *pp = p;
  return p == start ? -1 : v;
}

static void count_stamps(conn_t *c, const unsigned char *p, size_t n, int64_t now) {
  const unsigned char *end = p + n;
  int full = measuring || c->probe;
  while (p < end) {
    const unsigned char *q = memchr(p, '#', (size_t)(end - p));
    if (!q) break;
    p = q + 1;
    if (end - q < 6 || q[1] != 'S' || q[2] < '0' || q[2] > '9') continue;
    if (!full) {
      delivered++;
      delivered_group[c->group]++;
      p = q + STAMP_SKIP < end ? q + STAMP_SKIP : end;
      continue;
    }
    p = q + 2;
    int64_t index = digits(&p, end);
    if (index < 0 || p >= end || *p != 'T') continue;
    p++;
    int64_t t = digits(&p, end);
    if (t < 0 || p >= end || *p != '#') continue;
    p++;
    delivered++;
    delivered_group[c->group]++;
    if (index > c->latest) c->latest = index;
    if (measuring) {
      int64_t b = (now - t) / BUCKET_US;
      if (b < 0) b = 0;
      if (b >= BUCKETS) b = BUCKETS - 1;
      hist[c->group][b]++;
    }
  }
}

static void on_message(conn_t *c, int opcode, const unsigned char *p, size_t n, int64_t now) {
  if (opcode == 0x9) { send_now(c, 0xA, p, n); return; }
  if (opcode == 0x8) { c->state = ST_DEAD; return; }
  if (opcode == 0xA) return;
  if (c->state == ST_HANDSHAKE) {
    const step_t *s = &c->script->s[c->step];
    if (n >= s->n && memcmp(p, s->text, s->n) == 0) {
      c->step++;
      run_sends(c);
    }
    return;
  }
  for (int i = 0; i < nreplies; i++) {
    reply_t *r = &replies[i];
    if (r->prefix ? (n >= r->mn && memcmp(p, r->match, r->mn) == 0) : (n == r->mn && memcmp(p, r->match, n) == 0)) {
      send_now(c, 1, r->reply, r->rn);
      return;
    }
  }
  if (!c->is_source) count_stamps(c, p, n, now);
}

/* Consumes whole frames from the connection's buffer; returns -1 when the peer is gone. */
static int on_readable(conn_t *c, int64_t now) {
  if (c->cap - c->len < 4096) {
    c->cap *= 2;
    c->buf = realloc(c->buf, c->cap);
  }
  ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
  if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return -1;
  if (got < 0) return 0;
  c->len += (size_t)got;
  size_t off = 0;
  if (c->state == ST_HTTP) {
    unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return 0;
    if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0) return -1;
    off = (size_t)(end - c->buf) + 4;
    c->state = ST_HANDSHAKE;
    run_sends(c);
  }
  while (c->len - off >= 2) {
    unsigned char *f = c->buf + off;
    int opcode = f[0] & 0x0f;
    uint64_t plen = f[1] & 0x7f;
    size_t h = 2;
    if (plen == 126) {
      if (c->len - off < 4) break;
      plen = ((uint64_t)f[2] << 8) | f[3];
      h = 4;
    } else if (plen == 127) {
      if (c->len - off < 10) break;
      plen = 0;
      for (int i = 2; i < 10; i++) plen = (plen << 8) | f[i];
      h = 10;
    }
    if (f[1] & 0x80) h += 4; /* servers do not mask; skip a key if one does */
    if (c->len - off < h + plen) {
      while (c->cap < h + plen + 4096) c->cap *= 2;
      c->buf = realloc(c->buf, c->cap);
      break;
    }
    on_message(c, opcode, f + h, (size_t)plen, now);
    if (c->state == ST_DEAD) return -1;
    off += h + plen;
  }
  if (off) {
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
  }
  return 0;
}

static void open_conn(conn_t *c, uint32_t id, const struct sockaddr_in *addr, const char *host, const char *port, const char *path) {
  c->cap = 16384;
  c->buf = malloc(c->cap);
  c->latest = -1;
  c->state = ST_DEAD;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0) { close(fd); return; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  if (write(fd, req, (size_t)n) != n) { close(fd); return; }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  c->fd = fd;
  c->state = ST_HTTP;
  struct epoll_event e = {.events = EPOLLIN, .data.u32 = id};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

/* Latency percentile of the groups in `mask` (bit 0: group 0, bit 1: group 1), in ms. */
static uint64_t count_at(int mask, int i) { return ((mask & 1) ? hist[0][i] : 0) + ((mask & 2) ? hist[1][i] : 0); }

static uint64_t samples_of(int mask) {
  uint64_t total = 0;
  for (int i = 0; i < BUCKETS; i++) total += count_at(mask, i);
  return total;
}

static double percentile(int mask, double p) {
  uint64_t total = samples_of(mask), acc = 0;
  if (!total) return -1;
  double target = (double)total * p;
  for (int i = 0; i < BUCKETS; i++) {
    acc += count_at(mask, i);
    if ((double)acc >= target) return (i + 0.5) * BUCKET_US / 1000.0;
  }
  return -1;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void arm_timer(int64_t at_us) {
  struct itimerspec its = {0};
  its.it_value.tv_sec = at_us / 1000000;
  its.it_value.tv_nsec = (at_us % 1000000) * 1000;
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Sends what is due: at a fixed rate, or up to the window. */
static void pump(void) {
  if (mode == SEND_RATE) {
    int64_t now = now_us();
    while (next_index < rate_total && rate_t0 + (int64_t)(next_index * 1e6 / rate_per_s) <= now) queue_message(next_index++);
    flush_out(source);
    if (next_index >= rate_total) {
      mode = SEND_NONE;
      printf("latency-done\n");
      fflush(stdout);
    } else {
      arm_timer(rate_t0 + (int64_t)(next_index * 1e6 / rate_per_s));
    }
  } else if (mode == SEND_WINDOW) {
    int64_t least = INT64_MAX;
    for (int k = 0; k < 3; k++) if (conns[probe_ids[k]].latest < least) least = conns[probe_ids[k]].latest;
    int64_t done = least >= SAT_BASE ? least - SAT_BASE + 1 : 0;
    while (next_index - SAT_BASE - done < window_size && source->out_len < OUT_LIMIT) queue_message(next_index++);
    if (source->out_len) flush_out(source);
  }
}

static void report(void) {
  int connected = 0, connected_group[2] = {0, 0};
  for (int i = 0; i < nconns; i++) {
    connected += conns[i].state == ST_READY;
    connected_group[conns[i].group] += conns[i].state == ST_READY;
  }
  printf("r {\"delivered\":%llu,\"samples\":%llu,\"p50\":%.3f,\"p99\":%.3f,\"cpuSeconds\":%.3f,\"busySeconds\":%.3f,\"connected\":%d,\"sent\":%lld,"
         "\"groups\":[",
         (unsigned long long)delivered, (unsigned long long)samples_of(3), percentile(3, 0.5), percentile(3, 0.99), cpu_seconds(), busy_us / 1e6,
         connected, (long long)next_index);
  for (int g = 0; g < 2; g++)
    printf("%s{\"connected\":%d,\"delivered\":%llu,\"samples\":%llu,\"p50\":%.3f,\"p99\":%.3f}", g ? "," : "", connected_group[g],
           (unsigned long long)delivered_group[g], (unsigned long long)samples_of(1 << g), percentile(1 << g, 0.5), percentile(1 << g, 0.99));
  printf("]}\n");
  fflush(stdout);
}

static void command(const char *line) {
  if (!strncmp(line, "reset", 5)) {
    delivered = delivered_group[0] = delivered_group[1] = 0;
    memset(hist[0], 0, BUCKETS * sizeof *hist[0]);
    memset(hist[1], 0, BUCKETS * sizeof *hist[1]);
    busy_us = 0;
  } else if (!strncmp(line, "measure ", 8)) {
    measuring = line[8] == '1';
  } else if (!strncmp(line, "latency ", 8)) {
    double ms = 0;
    sscanf(line + 8, "%lf %lf", &rate_per_s, &ms);
    mode = SEND_RATE;
    next_index = 0;
    rate_total = (int64_t)(rate_per_s * ms / 1000);
    rate_t0 = now_us();
    pump();
  } else if (!strncmp(line, "saturate ", 9)) {
    window_size = atoll(line + 9);
    mode = SEND_WINDOW;
    next_index = SAT_BASE;
    pump();
  } else if (!strncmp(line, "stop", 4)) {
    mode = SEND_NONE;
  } else if (!strncmp(line, "report", 6)) {
    report();
  }
}

static void add_step(script_t *sc, int expect, char *text) {
  if (sc->n >= MAX_STEPS) return;
  unescape(text);
  sc->s[sc->n++] = (step_t){expect, text, strlen(text)};
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: load-generator HOST PORT RECEIVER_PATH N SOURCE_PATH [options] (see the source)\n");
    return 2;
  }
  const char *host = argv[1], *port = argv[2], *rpath = argv[3], *spath = argv[5];
  const char *port2 = NULL;
  nconns = atoi(argv[4]);
  for (int i = 6; i < argc; i++) {
    const char *a = argv[i];
    int more = argc - i - 1;
    if (!strcmp(a, "--spin")) spin = 1;
    else if (!strcmp(a, "--port2") && more >= 1) port2 = argv[++i];
    else if (!strcmp(a, "--expect") && more >= 1) add_step(&recv_script, 1, argv[++i]);
    else if (!strcmp(a, "--send") && more >= 1) add_step(&recv_script, 0, argv[++i]);
    else if (!strcmp(a, "--src-expect") && more >= 1) add_step(&src_script, 1, argv[++i]);
    else if (!strcmp(a, "--src-send") && more >= 1) add_step(&src_script, 0, argv[++i]);
    else if (!strncmp(a, "--reply-", 8) && more >= 2 && nreplies < MAX_REPLIES) {
      char *m = unescape(argv[i + 1]), *r = unescape(argv[i + 2]);
      replies[nreplies++] = (reply_t){a[8] == 'p', m, strlen(m), r, strlen(r)};
      i += 2;
    } else if (!strcmp(a, "--msg") && more >= 4) {
      msg_opcode = atoi(argv[i + 1]);
      msg_prefix_n = unhex(argv[i + 2], msg_prefix, sizeof msg_prefix);
      msg_body = (size_t)atoi(argv[i + 3]);
      msg_suffix_n = unhex(argv[i + 4], msg_suffix, sizeof msg_suffix);
      i += 4;
    } else {
      fprintf(stderr, "bad argument: %s\n", a);
      return 2;
    }
  }
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(host, port, &hints, &ai) != 0) { fprintf(stderr, "cannot resolve %s\n", host); return 1; }
  struct sockaddr_in addr = *(struct sockaddr_in *)ai->ai_addr, addr2 = addr;
  freeaddrinfo(ai);
  if (port2) addr2.sin_port = htons((uint16_t)atoi(port2));

  hist[0] = calloc(BUCKETS, sizeof *hist[0]);
  hist[1] = calloc(BUCKETS, sizeof *hist[1]);
  conns = calloc((size_t)nconns + 1, sizeof *conns);
  source = &conns[nconns];
  source->is_source = 1;
  source->state = ST_DEAD; /* until it is opened, after the receivers */
  source->script = &src_script;
  ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = ID_STDIN};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  ev.data.u32 = ID_TIMER;
  epoll_ctl(ep, EPOLL_CTL_ADD, timer_fd, &ev);
  /* Probes at both ends and the middle: with --port2, the slowest of both nodes sets the pace. */
  probe_ids[1] = nconns / 2;
  probe_ids[2] = nconns - 1;
  for (int k = 0; k < 3; k++) conns[probe_ids[k]].probe = 1;

  char cmd[256];
  size_t cmdlen = 0;
  static struct epoll_event events[8192];
  int opened = 0;   /* receivers connected so far, in waves of 50 */
  int source_opened = 0;
  int announced = 0;
  int64_t deadline = 0;

  for (;;) {
    if (!announced) {
      int pending = 0;
      for (int i = 0; i < opened; i++) pending += conns[i].state == ST_HTTP || conns[i].state == ST_HANDSHAKE;
      pending += source->state == ST_HTTP || source->state == ST_HANDSHAKE;
      if (pending == 0 || now_us() > deadline) {
        if (opened < nconns) {
          /* No server should see thousands of handshakes at once. */
          for (int k = 0; k < 50 && opened < nconns; k++, opened++) {
            conn_t *c = &conns[opened];
            c->script = &recv_script;
            c->group = port2 && opened >= nconns / 2;
            open_conn(c, (uint32_t)opened, c->group ? &addr2 : &addr, host, c->group ? port2 : port, rpath);
          }
        } else if (!source_opened) {
          open_conn(source, (uint32_t)nconns, &addr, host, port, spath);
          source_opened = 1;
        } else {
          int ready = 0;
          for (int i = 0; i < nconns; i++) ready += conns[i].state == ST_READY;
          if (source->state != ST_READY) ready = -1;
          printf("ready %d\n", ready);
          fflush(stdout);
          announced = 1;
        }
        deadline = now_us() + 10000000;
      }
    }

    /* While a window is open, a quiet 50 ms re-checks it (in case nothing is in flight). */
    int n = epoll_wait(ep, events, 8192, spin ? 0 : !announced ? 1 : mode == SEND_WINDOW ? 50 : -1);
    if (n == 0 && mode == SEND_WINDOW) pump();
    if (n <= 0) continue;
    int64_t t0 = now_us();
    int progressed = 0;
    for (int i = 0; i < n; i++) {
      uint32_t id = events[i].data.u32;
      if (id == ID_STDIN) {
        ssize_t got = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
        if (got == 0) return 0; /* the orchestrator went away */
        if (got < 0) continue;
        cmdlen += (size_t)got;
        char *nl;
        while ((nl = memchr(cmd, '\n', cmdlen))) {
          *nl = 0;
          command(cmd);
          size_t used = (size_t)(nl - cmd) + 1;
          memmove(cmd, nl + 1, cmdlen - used);
          cmdlen -= used;
        }
        if (cmdlen == sizeof cmd - 1) cmdlen = 0;
        continue;
      }
      if (id == ID_TIMER) {
        uint64_t expirations;
        if (read(timer_fd, &expirations, sizeof expirations) < 0) { /* spurious */ }
        if (mode == SEND_RATE) pump();
        continue;
      }
      conn_t *c = &conns[id];
      if ((events[i].events & EPOLLOUT) && c->out_len) {
        flush_out(c);
        progressed |= c == source;
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      if (on_readable(c, t0) < 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->state = ST_DEAD;
        if (c == source) {
          fprintf(stderr, "the source's connection closed\n");
          return 1;
        }
      }
      progressed |= c->probe;
    }
    if (mode == SEND_WINDOW && progressed) pump();
    busy_us += now_us() - t0;
  }
}
