/*
 * The disk's own numbers for group commit, in C, so the engine is compared with what the disk
 * allows and with what writers that each sync would get:
 *
 *   sync-ceiling batch N FILE OPS    one thread: N pwrites of 4 KiB pages, then one fdatasync
 *                                    (the group-commit ceiling: no per-op overhead at all)
 *   sync-ceiling threads N FILE OPS  N threads, each pwrite + fdatasync per write
 *                                    (fsync-per-write with N real writers; the kernel may merge
 *                                    their syncs into one journal commit)
 *   sync-ceiling engine N FILE OPS   as batch, but at the offsets the engine bench writes: page
 *                                    (i * 7919) % 256 of the ping-pong layout (two slots per page,
 *                                    each write to the slot the page's last write did not use)
 *
 * Prints `ops_per_sec fdatasyncs` on one line. FILE is preallocated to 256 pages (engine: 512
 * slots).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PAGE = 4096, PAGES = 256 };

static int fd;
static long ops_per_thread;
static long syncs;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void must(int ok, const char *what) {
  if (!ok) {
    perror(what);
    exit(1);
  }
}

static void *writer(void *arg) {
  long id = (long)arg;
  char page[PAGE];
  memset(page, 'a' + (int)(id % 26), PAGE);
  for (long i = 0; i < ops_per_thread; i++) {
    off_t at = (off_t)((id * 7919 + i * 31) % PAGES) * PAGE;
    must(pwrite(fd, page, PAGE, at) == PAGE, "pwrite");
    must(fdatasync(fd) == 0, "fdatasync");
    pthread_mutex_lock(&count_lock);
    syncs++;
    pthread_mutex_unlock(&count_lock);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: sync-ceiling batch|threads N FILE OPS\n");
    return 2;
  }
  long n = atol(argv[2]);
  long ops = atol(argv[4]);
  must(n >= 1 && ops >= n, "arguments");
  fd = open(argv[3], O_RDWR | O_CREAT, 0644);
  must(fd >= 0, "open");
  int engine = strcmp(argv[1], "engine") == 0;
  must(posix_fallocate(fd, 0, (off_t)PAGES * PAGE * (engine ? 2 : 1)) == 0, "posix_fallocate");
  must(fsync(fd) == 0, "fsync");
  double start = now();
  long done = 0;
  if (strcmp(argv[1], "batch") == 0) {
    char page[PAGE];
    memset(page, 'b', PAGE);
    for (long b = 0; done + n <= ops; b++) {
      for (long i = 0; i < n; i++, done++)
        must(pwrite(fd, page, PAGE, (off_t)((done * 31) % PAGES) * PAGE) == PAGE, "pwrite");
      must(fdatasync(fd) == 0, "fdatasync");
      syncs++;
    }
  } else if (engine) {
    char page[PAGE];
    memset(page, 'e', PAGE);
    char slot[PAGES] = {0};
    for (long b = 0; done + n <= ops; b++) {
      for (long i = 0; i < n; i++, done++) {
        long p = (done * 7919) % PAGES;
        slot[p] ^= 1;
        must(pwrite(fd, page, PAGE, (off_t)(2 * p + slot[p]) * PAGE) == PAGE, "pwrite");
      }
      must(fdatasync(fd) == 0, "fdatasync");
      syncs++;
    }
  } else if (strcmp(argv[1], "threads") == 0) {
    ops_per_thread = ops / n;
    pthread_t threads[n];
    for (long i = 0; i < n; i++) must(pthread_create(&threads[i], NULL, writer, (void *)i) == 0, "thread");
    for (long i = 0; i < n; i++) pthread_join(threads[i], NULL);
    done = ops_per_thread * n;
  } else {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  printf("%.0f %ld\n", done / (now() - start), syncs);
  close(fd);
  return 0;
}
