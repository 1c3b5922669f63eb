/*
 * A user engine in C speaking powercut's engine protocol v1 (docs/engine-protocol.md):
 * pwrite + fdatasync per write, one checksummed page per logical page.
 *
 *   engine run     --store PATH [--page-size N] [--direct] [--writers N] [--pause-at NAME]...
 *                  (workload on stdin)
 *   engine recover --store PATH [--page-size N]
 *   engine dump    --store PATH [--page-size N]
 *
 * Page layout (little-endian): magic "CENG" | page u32 | length u32 | crc32c u32 | value bytes.
 * The CRC covers the whole page with the crc field zeroed, so a torn or corrupt page is
 * reported as {"error":"checksum"} instead of being returned as data.
 *
 * It also implements the protocol's optional `--pause-at` extension (declare it in a scenario
 * with `supports: [pause-at]`): at a workload mark NAME, or after every ack for `--pause-at ack`,
 * it prints the event with "paused":true and does no I/O until {"op":"resume"} arrives. Lines
 * that arrive meanwhile are queued, not lost.
 *
 * Build: cc -O2 -static -o engine engine.c   (static so it runs in the minimal guest)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x474e4543u /* "CENG" */
#define HEADER 16

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
}

static uint32_t crc32c(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Finds "key": in a JSON line and returns a pointer just after the colon (inputs are ours, flat). */
static const char *field(const char *line, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *p = strstr(line, pattern);
  return p ? p + strlen(pattern) : NULL;
}

static int store_open(const char *path, int direct) {
  int fd = open(path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0) {
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return fd;
}

#define LINE 8192
#define MAX_PAUSES 16

static const char *pause_at[MAX_PAUSES];
static int pause_count;

/* Lines read while paused, replayed in order afterwards (a FIFO of heap copies). */
static char **queued;
static size_t queued_head, queued_len, queued_cap;

static int pauses_at(const char *name, size_t len) {
  for (int i = 0; i < pause_count; i++)
    if (strlen(pause_at[i]) == len && strncmp(pause_at[i], name, len) == 0) return 1;
  return 0;
}

static int is_resume(const char *line) {
  const char *op = field(line, "op");
  return op && strncmp(op, "\"resume\"", 8) == 0;
}

/* The next workload line: queued ones first, then stdin. Stray resume lines are skipped. */
static int next_line(char *line) {
  for (;;) {
    if (queued_head < queued_len) {
      snprintf(line, LINE, "%s", queued[queued_head]);
      free(queued[queued_head++]);
    } else if (!fgets(line, LINE, stdin)) {
      return 0;
    }
    if (!is_resume(line)) return 1;
  }
}

/* Paused: read stdin until a resume arrives (or stdin ends), queueing everything else. */
static void wait_for_resume(void) {
  char line[LINE];
  while (fgets(line, sizeof line, stdin)) {
    if (is_resume(line)) return;
    if (queued_len == queued_cap) {
      queued_cap = queued_cap ? queued_cap * 2 : 64;
      queued = realloc(queued, queued_cap * sizeof *queued);
      if (!queued) exit(1);
    }
    queued[queued_len++] = strdup(line);
  }
}

static int run(const char *path, size_t page_size, int direct) {
  int fd = store_open(path, direct);
  unsigned char *page;
  if (posix_memalign((void **)&page, 4096, page_size) != 0) return 1;
  char line[LINE];
  while (next_line(line)) {
    const char *op = field(line, "op");
    const char *idp = field(line, "id");
    if (!op || !idp) continue;
    long id = strtol(idp, NULL, 10);
    if (strncmp(op, "\"write\"", 7) != 0) {
      const char *name = field(line, "name");
      if (strncmp(op, "\"mark\"", 6) == 0 && name && *name == '"') {
        name++;
        size_t len = strcspn(name, "\"");
        int pause = pauses_at(name, len);
        printf("{\"id\":%ld,\"type\":\"mark\",\"t\":%lld,\"name\":\"%.*s\"%s}\n", id, now_ns(),
               (int)len, name, pause ? ",\"paused\":true" : "");
        fflush(stdout);
        if (pause) wait_for_resume();
      }
      continue; /* commit lines: nothing to do for a non-transactional engine */
    }
    long pg = strtol(field(line, "page"), NULL, 10);
    const char *v = field(line, "value");
    if (!v || *v != '"') continue;
    v++;
    size_t len = strcspn(v, "\"");
    if (len > page_size - HEADER) len = page_size - HEADER;
    printf("{\"id\":%ld,\"type\":\"invoke\",\"t\":%lld}\n", id, now_ns());
    fflush(stdout);
    memset(page, 0, page_size);
    put32(page, MAGIC);
    put32(page + 4, (uint32_t)pg);
    put32(page + 8, (uint32_t)len);
    memcpy(page + HEADER, v, len);
    put32(page + 12, crc32c(page, page_size));
    const char *err = NULL;
    if (pwrite(fd, page, page_size, (off_t)pg * (off_t)page_size) != (ssize_t)page_size) err = strerrorname_np(errno);
    else if (fdatasync(fd) != 0) err = strerrorname_np(errno);
    if (err) printf("{\"id\":%ld,\"type\":\"fail\",\"t\":%lld,\"err\":\"%s\"}\n", id, now_ns(), err);
    else printf("{\"id\":%ld,\"type\":\"ok\",\"t\":%lld}\n", id, now_ns());
    fflush(stdout);
    if (!err && pauses_at("ack", 3)) {
      printf("{\"id\":%ld,\"type\":\"mark\",\"t\":%lld,\"name\":\"ack\",\"paused\":true}\n", id, now_ns());
      fflush(stdout);
      wait_for_resume();
    }
  }
  return 0;
}

static int dump(const char *path, size_t page_size) {
  int fd = store_open(path, 0);
  struct stat st;
  fstat(fd, &st);
  unsigned char *page = malloc(page_size);
  for (off_t pg = 0; (pg + 1) * (off_t)page_size <= st.st_size; pg++) {
    if (pread(fd, page, page_size, pg * (off_t)page_size) != (ssize_t)page_size) {
      printf("{\"page\":%lld,\"error\":\"%s\"}\n", (long long)pg, strerrorname_np(errno));
      continue;
    }
    int zero = 1;
    for (size_t i = 0; i < page_size && zero; i++) zero = page[i] == 0;
    if (zero) { printf("{\"page\":%lld,\"value\":null}\n", (long long)pg); continue; }
    uint32_t stored = get32(page + 12), len = get32(page + 8);
    put32(page + 12, 0);
    if (get32(page) != MAGIC || crc32c(page, page_size) != stored || get32(page + 4) != pg || len > page_size - HEADER) {
      printf("{\"page\":%lld,\"error\":\"checksum\"}\n", (long long)pg);
      continue;
    }
    printf("{\"page\":%lld,\"value\":\"%.*s\"}\n", (long long)pg, (int)len, (const char *)page + HEADER);
  }
  return 0;
}

int main(int argc, char **argv) {
  crc_init();
  if (argc < 2) { fprintf(stderr, "usage: engine run|recover|dump --store PATH [--page-size N] [--direct]\n"); return 2; }
  const char *verb = argv[1], *store = NULL;
  size_t page_size = 4096;
  int direct = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--store") && i + 1 < argc) store = argv[++i];
    else if (!strcmp(argv[i], "--page-size") && i + 1 < argc) page_size = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--direct")) direct = 1;
    else if (!strcmp(argv[i], "--writers") && i + 1 < argc) i++; /* one writer is enough here */
    else if (!strcmp(argv[i], "--pause-at") && i + 1 < argc && pause_count < MAX_PAUSES) pause_at[pause_count++] = argv[++i];
  }
  if (!store) { fprintf(stderr, "--store is required\n"); return 2; }
  if (!strcmp(verb, "run")) return run(store, page_size, direct);
  if (!strcmp(verb, "dump")) return dump(store, page_size);
  if (!strcmp(verb, "recover")) { close(store_open(store, 0)); return 0; }
  fprintf(stderr, "unknown verb %s\n", verb);
  return 2;
}
