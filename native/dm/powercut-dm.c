/*
 * powercut-dm: swaps a device-mapper table the way the trial needs it, in one small static
 * process and through the kernel's ioctls on /dev/mapper/control, what dmsetup does.
 *
 *   powercut-dm reload NAME    the new table on stdin, one target per line: START LENGTH TYPE
 *                              PARAMS (dmsetup's table format). Suspends NAME without freezing
 *                              its filesystem (dmsetup suspend --nolockfs: a freeze would flush
 *                              what the power cut must lose), loads the table, resumes. A table
 *                              the kernel refuses still resumes the device on its old table: a
 *                              device left suspended would hang every later I/O.
 *
 * Exit 0 when the new table is live; 1 (with the failing step and errno on stderr) otherwise;
 * 2 for a usage error. It acts on NAME only, which the caller has proved is its own.
 *
 * Why not dmsetup: in a guest under TCG every dmsetup start costs ~100 ms (libdevmapper,
 * libselinux and libudev to load and relocate), and a trial swaps its table three times, each
 * a suspend, a load and a resume: ~0.9 s of a ~5 s trial. This starts in a few ms.
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

/* One ioctl on NAME with `payload` (size bytes) after the header. */
static int call(unsigned long request, const char *what, uint32_t flags, const char *payload, size_t size,
                uint32_t targets) {
  memset(&u, 0, sizeof u);
  u.io.version[0] = DM_VERSION_MAJOR;
  u.io.data_size = (uint32_t)sizeof u.buf;
  u.io.data_start = sizeof(struct dm_ioctl);
  u.io.target_count = targets;
  u.io.flags = flags;
  snprintf(u.io.name, sizeof u.io.name, "%s", name);
  if (size > 0) memcpy(u.buf + sizeof(struct dm_ioctl), payload, size);
  if (ioctl(control, request, &u) == 0) return 0;
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
  fprintf(stderr, "usage: powercut-dm reload NAME < TABLE\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], "reload") != 0) usage();
  name = argv[2];
  if (strlen(name) == 0 || strlen(name) >= DM_NAME_LEN) usage();

  static char text[MAX_TABLE];
  size_t len = 0;
  for (ssize_t n; (n = read(0, text + len, sizeof text - 1 - len)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "powercut-dm: read table: %s\n", strerror(errno));
      return 1;
    }
    len += (size_t)n;
    if (len == sizeof text - 1) {
      fprintf(stderr, "powercut-dm: table too large\n");
      return 2;
    }
  }
  text[len] = '\0';
  /* Parsed before anything is suspended: a malformed table changes nothing. */
  size_t size = 0;
  int targets = parse_table(text, &size);

  control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    fprintf(stderr, "powercut-dm: open /dev/mapper/control: %s\n", strerror(errno));
    return 1;
  }
  if (call(DM_DEV_SUSPEND, "suspend", DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG, NULL, 0, 0) != 0) return 1;
  int loaded = call(DM_TABLE_LOAD, "load", 0, table.bytes, size, (uint32_t)targets) == 0;
  /* Resume either way: with the new table if it loaded, else on the old one. */
  if (call(DM_DEV_SUSPEND, "resume", 0, NULL, 0, 0) != 0) return 1;
  return loaded ? 0 : 1;
}
