/*
 * powercut-dm: creates, swaps and removes powercut's own device-mapper tables, in one small
 * static process and through the kernel's ioctls on /dev/mapper/control, what dmsetup does.
 *
 *   powercut-dm create NAME    the table on stdin (below). Creates NAME, loads the table and
 *                              resumes it (dmsetup create), then makes /dev/mapper/NAME where
 *                              nobody else did (no udev: what libdevmapper does then). A table
 *                              the kernel refuses removes NAME again: nothing half-made stays.
 *   powercut-dm reload NAME    the new table on stdin. Suspends NAME without freezing its
 *                              filesystem (dmsetup suspend --nolockfs: a freeze would flush
 *                              what the power cut must lose), loads the table, resumes. A table
 *                              the kernel refuses still resumes the device on its old table: a
 *                              device left suspended would hang every later I/O.
 *   powercut-dm remove NAME    removes NAME, retried for ~5 s while it is busy (dmsetup remove
 *                              --retry: udev's blkid may still hold a new device open), then
 *                              its /dev/mapper node if it is the one made for it.
 *
 * A table is one target per line: START LENGTH TYPE PARAMS (dmsetup's table format).
 *
 * Exit 0 on success; 1 (with the failing step and errno on stderr) otherwise; 2 for a usage
 * error, a malformed table or a NAME that is not powercut's (`powercut-...`), before anything is
 * touched. It acts on NAME only, which the caller has proved is its own.
 *
 * Why not dmsetup: in a guest under TCG every dmsetup start costs ~100 ms (libdevmapper,
 * libselinux and libudev to load and relocate), and a trial creates its table, swaps it three
 * times (each a suspend, a load and a resume) and removes it. This starts in a few ms.
 *
 * Build: cc -O2 -static -o powercut-dm powercut-dm.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

enum { MAX_TABLE = 1 << 16, MAX_TARGETS = 256 };

/* The ioctl buffer: the header, then the payload (8-byte aligned, as the kernel reads it). */
static union {
  struct dm_ioctl io;
  uint64_t align;
  char buf[sizeof(struct dm_ioctl) + MAX_TABLE + 16384];
} u;

static int control = -1;
static const char *name;

/* One ioctl on NAME with `payload` (size bytes) after the header; errno set when it fails. */
static int try_call(unsigned long request, uint32_t flags, const char *payload, size_t size, uint32_t targets) {
  memset(&u, 0, sizeof u);
  u.io.version[0] = DM_VERSION_MAJOR;
  u.io.data_size = (uint32_t)sizeof u.buf;
  u.io.data_start = sizeof(struct dm_ioctl);
  u.io.target_count = targets;
  u.io.flags = flags;
  snprintf(u.io.name, sizeof u.io.name, "%s", name);
  if (size > 0) memcpy(u.buf + sizeof(struct dm_ioctl), payload, size);
  return ioctl(control, request, &u);
}

/* try_call, saying on stderr which step (`what`) failed and why. */
static int call(unsigned long request, const char *what, uint32_t flags, const char *payload, size_t size,
                uint32_t targets) {
  if (try_call(request, flags, payload, size, targets) == 0) return 0;
  fprintf(stderr, "powercut-dm: %s %s: %s\n", what, name, strerror(errno));
  return -1;
}

/* The parsed table, as DM_TABLE_LOAD's payload (8-byte aligned). */
static union {
  uint64_t align;
  char bytes[MAX_TABLE];
} table;

/*
 * Parses dmsetup's table format from `text` into `table`: a dm_target_spec per line, its
 * parameters after it, NUL-terminated, padded to 8 bytes; each spec's `next` is the offset of
 * the following one from itself. Sets *size; returns the target count.
 */
static int parse_table(char *text, size_t *size_out) {
  char *payload = table.bytes;
  size_t at = 0;
  int count = 0;
  struct dm_target_spec *last = NULL;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned long long start, length;
    char type[DM_MAX_TYPE_NAME];
    int used = 0;
    while (*line == ' ' || *line == '\t') line++;
    if (*line == '\0') continue;
    if (sscanf(line, "%llu %llu %15s %n", &start, &length, type, &used) != 3 || used == 0) {
      fprintf(stderr, "powercut-dm: table line %d is not START LENGTH TYPE PARAMS: %s\n", count + 1, line);
      exit(2);
    }
    const char *params = line + used;
    size_t size = (sizeof(struct dm_target_spec) + strlen(params) + 1 + 7) & ~(size_t)7;
    if (count == MAX_TARGETS || at + size > MAX_TABLE) {
      fprintf(stderr, "powercut-dm: table too large\n");
      exit(2);
    }
    struct dm_target_spec *spec = (struct dm_target_spec *)(payload + at);
    memset(spec, 0, size);
    spec->sector_start = start;
    spec->length = length;
    snprintf(spec->target_type, sizeof spec->target_type, "%s", type);
    strcpy((char *)(spec + 1), params);
    if (last) last->next = (uint32_t)((char *)spec - (char *)last);
    last = spec;
    at += size;
    count++;
  }
  if (count == 0) {
    fprintf(stderr, "powercut-dm: no table on stdin\n");
    exit(2);
  }
  *size_out = at;
  return count;
}

static void usage(void) {
  fprintf(stderr, "usage: powercut-dm create|reload NAME < TABLE, powercut-dm remove NAME\n");
  exit(2);
}

/* Reads the table from stdin and parses it (exits 2 when malformed). Returns the target count. */
static int read_table(size_t *size) {
  static char text[MAX_TABLE];
  size_t len = 0;
  for (ssize_t n; (n = read(0, text + len, sizeof text - 1 - len)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "powercut-dm: read table: %s\n", strerror(errno));
      exit(1);
    }
    len += (size_t)n;
    if (len == sizeof text - 1) {
      fprintf(stderr, "powercut-dm: table too large\n");
      exit(2);
    }
  }
  text[len] = '\0';
  return parse_table(text, size);
}

static char node_path[sizeof "/dev/mapper/" + DM_NAME_LEN];

/*
 * Whether /dev/mapper/NAME (lstat into *st) is device `dev`'s: a block node of that device
 * (made here, or by dmsetup), or udev's link to ../dm-MINOR.
 */
static int node_is(const struct stat *st, dev_t dev) {
  if (S_ISBLK(st->st_mode)) return st->st_rdev == dev;
  if (!S_ISLNK(st->st_mode)) return 0;
  char target[64], expected[64];
  ssize_t n = readlink(node_path, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  snprintf(expected, sizeof expected, "../dm-%u", minor(dev));
  return strcmp(target, expected) == 0;
}

/*
 * /dev/mapper/NAME for the device `dev` just created, unless udev made it already: the block
 * node libdevmapper makes where no udev runs (root, group disk, 0600). Something else already
 * there under our name is an error, never used.
 */
static int make_node(dev_t dev) {
  struct stat st;
  if (lstat(node_path, &st) != 0) {
    if (mknod(node_path, S_IFBLK | 0600, dev) == 0) {
      if (chown(node_path, 0, 6) != 0) { /* group disk, as libdevmapper; harmless if it fails */
      }
      return 0;
    }
    /* Only udev, just now, may have beaten us to it. */
    if (errno != EEXIST || lstat(node_path, &st) != 0) {
      fprintf(stderr, "powercut-dm: mknod %s: %s\n", node_path, strerror(errno));
      return -1;
    }
  }
  if (node_is(&st, dev)) return 0;
  fprintf(stderr, "powercut-dm: %s exists and is not the new device %u:%u\n", node_path, major(dev),
          minor(dev));
  return -1;
}

/*
 * Unlinks /dev/mapper/NAME once its device `dev` is gone, only if it was that device's (udev
 * may have removed its link already). Anything else there is left alone.
 */
static void remove_node(dev_t dev) {
  struct stat st;
  if (lstat(node_path, &st) == 0 && node_is(&st, dev) && unlink(node_path) != 0 && errno != ENOENT)
    fprintf(stderr, "powercut-dm: unlink %s: %s\n", node_path, strerror(errno));
}

/* The table of create and reload, read and parsed before /dev/mapper/control is opened. */
static size_t table_size;
static int table_targets;

static int create(void) {
  if (call(DM_DEV_CREATE, "create", 0, NULL, 0, 0) != 0) return 1;
  dev_t dev = (dev_t)u.io.dev;
  if (call(DM_TABLE_LOAD, "load", 0, table.bytes, table_size, (uint32_t)table_targets) != 0 ||
      call(DM_DEV_SUSPEND, "resume", 0, NULL, 0, 0) != 0) {
    /* Nothing half-made stays: the device without a live table goes again. */
    call(DM_DEV_REMOVE, "remove", 0, NULL, 0, 0);
    return 1;
  }
  if (make_node(dev) == 0) return 0;
  call(DM_DEV_REMOVE, "remove", 0, NULL, 0, 0);
  return 1;
}

static int reload(void) {
  if (call(DM_DEV_SUSPEND, "suspend", DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG, NULL, 0, 0) != 0) return 1;
  int loaded = call(DM_TABLE_LOAD, "load", 0, table.bytes, table_size, (uint32_t)table_targets) == 0;
  /* Resume either way: with the new table if it loaded, else on the old one. */
  if (call(DM_DEV_SUSPEND, "resume", 0, NULL, 0, 0) != 0) return 1;
  return loaded ? 0 : 1;
}

static int remove_device(void) {
  if (call(DM_DEV_STATUS, "status", 0, NULL, 0, 0) != 0) return 1;
  dev_t dev = (dev_t)u.io.dev;
  for (int attempt = 1;; attempt++) {
    if (try_call(DM_DEV_REMOVE, 0, NULL, 0, 0) == 0) break;
    if (errno != EBUSY || attempt == 50) {
      fprintf(stderr, "powercut-dm: remove %s: %s\n", name, strerror(errno));
      return 1;
    }
    nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
  }
  remove_node(dev);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) usage();
  const char *verb = argv[1];
  name = argv[2];
  if (strlen(name) >= DM_NAME_LEN || strncmp(name, "powercut-", 9) != 0 || name[9] == '\0' ||
      strchr(name, '/') != NULL) {
    fprintf(stderr, "powercut-dm: refusing %s: not a powercut table name (powercut-...)\n", name);
    return 2;
  }
  snprintf(node_path, sizeof node_path, "/dev/mapper/%s", name);
  int (*command)(void) = strcmp(verb, "create") == 0   ? create
                         : strcmp(verb, "reload") == 0 ? reload
                         : strcmp(verb, "remove") == 0 ? remove_device
                                                       : NULL;
  if (!command) usage();
  /* Parsed before anything is touched: a malformed table changes nothing. */
  if (command != remove_device) table_targets = read_table(&table_size);
  control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    fprintf(stderr, "powercut-dm: open /dev/mapper/control: %s\n", strerror(errno));
    return 1;
  }
  return command();
}
