/*
 * powercut-stop: runs a storage engine under ptrace and stops it at exact points, with no help
 * from the engine: its write of an `ok`/`fail` event line to stdout, the entry or exit of a sync
 * call (fsync, fdatasync, sync_file_range, msync, syncfs, sync), a write to the store, rename,
 * unlink, file creation, fsync of a directory. While it is stopped (every thread of every
 * process of the engine), the harness arms or disarms a fault; then the engine resumes.
 *
 * A seccomp filter returns SECCOMP_RET_TRACE only for the syscalls some stop needs (stdout's
 * writes for line stops and --mark-acks, syncs for sync stops, and so on), so everything else
 * runs at full speed (strace's --seccomp-bpf). The engine runs under `/bin/sh -c COMMAND`, any
 * language.
 *
 *   powercut-stop [--pidfile FILE] [--store PREFIX] [--mark-acks TABLE] [--stop SPEC]...
 *                 [--stats] -- COMMAND
 *
 * stdin:  workload lines, forwarded to the engine's stdin; lines starting with "#powercut " are
 *         for the tracer: "#powercut resume LABEL" (end a stop), "#powercut stop LABEL" (stop
 *         now, wherever the engine is).
 * stdout: the engine's stdout, relayed in whole lines, and between them the tracer's events:
 *         {"type":"stop","label":"arm","event":"ack","n":50,"id":50,"exact":true,"t":NS}
 * SPEC:   LABEL:answers:IDS[:invoked:IDS]  once every id in IDS was answered (ok or fail) and
 *                                           every id of the invoked list was invoked
 *         LABEL:acks:N                       at the Nth ok
 *         LABEL:CLASS:N:before|after         at the Nth syscall of CLASS, before or after it
 *         IDS = ranges "1-20,22,30-31"; CLASS = fsync fdatasync sync failed-sync store-write
 *         rename unlink create dir-fsync (failed-sync: a sync call that returned an error, after)
 * --mark-acks TABLE: after each ok line, with the engine stopped, puts `mark ack:<id>` into the
 *         dm-log-writes table TABLE (a DM_TARGET_MSG ioctl: no process, no round trip).
 * --stats: at exit, the number of syscall stops taken, on stderr (what the filter cost).
 * --pidfile: where to write "PID STARTTIME" of this process (killing it kills the engine:
 *         PTRACE_O_EXITKILL). --store: a write counts as a store write only under PREFIX.
 *
 * A line-event stop is exact when it happens at the exit of the write that completed the line.
 * Should the engine write its stdout by a syscall the filter does not trap, the stop happens as
 * soon as the line is seen and says "exact":false.
 *
 * Build: cc -O2 -static -o powercut-stop powercut-stop.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/dm-ioctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- syscall classes (the filter's SECCOMP_RET_DATA) ---- */
enum { C_WRITE = 1, C_FSYNC, C_FDATASYNC, C_OTHER_SYNC, C_RENAME, C_UNLINK, C_CREATE };
/* Counted event classes, for --stop LABEL:CLASS:N. */
enum { K_FSYNC, K_FDATASYNC, K_SYNC, K_FAILED_SYNC, K_STORE_WRITE, K_RENAME, K_UNLINK, K_CREATE,
       K_DIR_FSYNC, K_COUNT };
static const char *class_names[K_COUNT] = {"fsync", "fdatasync", "sync", "failed-sync",
                                           "store-write", "rename", "unlink", "create",
                                           "dir-fsync"};

static void die(const char *what) {
  fprintf(stderr, "powercut-stop: %s: %s\n", what, strerror(errno));
  exit(125);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- id sets (bitmaps by op id) ---- */
typedef struct { unsigned char *bits; size_t cap; size_t count; } IdSet;

static void set_add(IdSet *s, long id) {
  if (id < 0) return;
  size_t byte = (size_t)id / 8;
  if (byte >= s->cap) {
    size_t cap = s->cap ? s->cap : 64;
    while (cap <= byte) cap *= 2;
    s->bits = realloc(s->bits, cap);
    if (!s->bits) die("realloc");
    memset(s->bits + s->cap, 0, cap - s->cap);
    s->cap = cap;
  }
  if (!(s->bits[byte] & (1u << (id % 8)))) {
    s->bits[byte] |= 1u << (id % 8);
    s->count++;
  }
}
static int set_has(const IdSet *s, long id) {
  return id >= 0 && (size_t)id / 8 < s->cap && (s->bits[id / 8] & (1u << (id % 8)));
}
static int parse_ids(IdSet *s, const char *text) {
  while (*text) {
    char *end;
    long a = strtol(text, &end, 10), b = a;
    if (end == text) return -1;
    if (*end == '-') b = strtol(end + 1, &end, 10);
    if (b < a || a < 0) return -1;
    for (long i = a; i <= b; i++) set_add(s, i);
    if (*end == ',') end++;
    else if (*end) return -1;
    text = end;
  }
  return 0;
}

/* ---- triggers ---- */
typedef enum { T_ANSWERS, T_ACKS, T_SYSCALL } TriggerKind;
typedef struct {
  char label[64];
  TriggerKind kind;
  IdSet answers, invoked; /* T_ANSWERS: required sets */
  size_t answers_seen, invoked_seen;
  long n;                 /* T_ACKS: the Nth ok; T_SYSCALL: the Nth event of cls */
  int cls, after;
  int fired, ready;       /* ready: a line condition holds, waiting for an exact point */
  long id;                /* the op id of the line that made it ready */
} Trigger;
static Trigger *triggers;
static int ntriggers;

static int parse_trigger(char *spec) {
  Trigger t = {0};
  char *parts[6];
  int n = 0;
  for (char *p = strtok(spec, ":"); p && n < 6; p = strtok(NULL, ":")) parts[n++] = p;
  if (n < 2 || strlen(parts[0]) >= sizeof t.label) return -1;
  snprintf(t.label, sizeof t.label, "%s", parts[0]);
  if (strcmp(parts[1], "answers") == 0) {
    t.kind = T_ANSWERS;
    if (n < 3 || parse_ids(&t.answers, parts[2]) < 0) return -1;
    if (n == 5 && strcmp(parts[3], "invoked") == 0) {
      if (parse_ids(&t.invoked, parts[4]) < 0) return -1;
    } else if (n != 3) return -1;
  } else if (strcmp(parts[1], "acks") == 0) {
    t.kind = T_ACKS;
    if (n != 3 || (t.n = atol(parts[2])) < 1) return -1;
  } else {
    t.kind = T_SYSCALL;
    t.cls = -1;
    for (int k = 0; k < K_COUNT; k++)
      if (strcmp(parts[1], class_names[k]) == 0) t.cls = k;
    if (t.cls < 0 || n != 4 || (t.n = atol(parts[2])) < 1) return -1;
    if (strcmp(parts[3], "after") == 0) t.after = 1;
    else if (strcmp(parts[3], "before") != 0) return -1;
    if (t.cls == K_FAILED_SYNC) t.after = 1; /* known only once the call returned */
  }
  triggers = realloc(triggers, (ntriggers + 1) * sizeof *triggers);
  if (!triggers) die("realloc");
  triggers[ntriggers++] = t;
  return 0;
}

/* ---- tracees ---- */
typedef struct {
  pid_t tid;
  int stopped;      /* held by us (world stop, or waiting to be processed) */
  int has_pending;  /* a wait status to process once the world resumes */
  int pending_status;
  int want_exit;    /* resume with PTRACE_SYSCALL to see this syscall's exit */
  int cls;          /* class of the syscall in flight (C_*), 0 if none */
  int stdout_write; /* the syscall in flight writes the engine's stdout */
  int dir_fsync;
  long counts[K_COUNT]; /* the occurrence numbers this syscall got, per class (0: none) */
  long nr;          /* the syscall in flight */
  long restart_nr;  /* a syscall to be restarted: its re-entry is not counted again */
  int deliver_sig;
  pid_t vfork_child; /* set from its vfork event until its vfork-done stop */
  char path[256];
} Thread;
/* Pointers, so that a Thread stays where it is while the table grows. */
static Thread **threads;
static int nthreads;

static Thread *find_thread(pid_t tid) {
  for (int i = 0; i < nthreads; i++)
    if (threads[i]->tid == tid) return threads[i];
  return NULL;
}
static Thread *add_thread(pid_t tid) {
  Thread *t = find_thread(tid);
  if (t) return t;
  threads = realloc(threads, (nthreads + 1) * sizeof *threads);
  t = calloc(1, sizeof *t);
  if (!threads || !t) die("alloc");
  threads[nthreads++] = t;
  t->tid = tid;
  t->restart_nr = -1;
  return t;
}
static void remove_thread(pid_t tid) {
  for (int i = 0; i < nthreads; i++)
    if (threads[i]->tid == tid) {
      free(threads[i]);
      threads[i] = threads[--nthreads];
      return;
    }
}

/* ---- state ---- */
static pid_t child;
static int child_status = -1;
static long class_count[K_COUNT];
static long acks_seen;
static IdSet answered, invoked_ids;
static int world_stopped;
static char stopped_label[64];
static char stdout_pipe_link[64];
static const char *store_prefix;
/* Work done at a stop only when a trigger needs it (each costs a syscall of the tracer's). */
static int needs_dir_fsync, needs_failed_sync;
static const char *mark_table;
static int engine_in = -1, engine_out = -1;
static char *to_engine;
static size_t to_engine_len, to_engine_cap;
static int stdin_eof;
static char out_line[1 << 16];
static size_t out_len;
static long pending_acks[4096];
static int npending_acks;

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      /* The harness is gone (EPIPE): nobody can act on the engine any more. */
      if (child > 0) kill(child, SIGKILL);
      exit(errno == EPIPE ? 141 : 125);
    }
    buf += n;
    len -= (size_t)n;
  }
}

static void emit(const char *json) {
  write_all(1, json, strlen(json));
}

/* ---- reading the engine's event lines ---- */
static const char *json_field(const char *line, const char *key) {
  char pattern[32];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char *p = strstr(line, pattern);
  if (!p) return NULL;
  p += strlen(pattern);
  while (*p == ' ' || *p == '\t') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

static void update_line_triggers(long id) {
  for (int i = 0; i < ntriggers; i++) {
    Trigger *t = &triggers[i];
    if (t->fired || t->ready) continue;
    if (t->kind == T_ANSWERS && t->answers_seen == t->answers.count &&
        t->invoked_seen == t->invoked.count)
      t->ready = 1;
    if (t->kind == T_ACKS && acks_seen >= t->n) t->ready = 1;
    if (t->ready) t->id = id;
  }
}

static void on_line(const char *line) {
  const char *type = json_field(line, "type");
  const char *idp = json_field(line, "id");
  if (!type || !idp || *type != '"') return;
  long id = strtol(idp, NULL, 10);
  if (strncmp(type, "\"ok\"", 4) == 0 || strncmp(type, "\"fail\"", 6) == 0) {
    int ok = type[1] == 'o';
    if (!set_has(&answered, id)) {
      set_add(&answered, id);
      for (int i = 0; i < ntriggers; i++)
        if (triggers[i].kind == T_ANSWERS && set_has(&triggers[i].answers, id))
          triggers[i].answers_seen++;
    }
    if (ok) {
      acks_seen++;
      if (mark_table && npending_acks < (int)(sizeof pending_acks / sizeof *pending_acks))
        pending_acks[npending_acks++] = id;
    }
  } else if (strncmp(type, "\"invoke\"", 8) == 0 && !set_has(&invoked_ids, id)) {
    set_add(&invoked_ids, id);
    for (int i = 0; i < ntriggers; i++)
      if (triggers[i].kind == T_ANSWERS && set_has(&triggers[i].invoked, id))
        triggers[i].invoked_seen++;
  }
  update_line_triggers(id);
}

/* Reads what the engine wrote to stdout; relays whole lines and parses them. */
static int drain_engine_stdout(void) {
  int got = 0;
  for (;;) {
    if (out_len == sizeof out_line) { /* an over-long line: relay it as is */
      write_all(1, out_line, out_len);
      out_len = 0;
    }
    ssize_t n = read(engine_out, out_line + out_len, sizeof out_line - out_len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 && out_len > 0) { /* EOF: the last, unterminated line */
        write_all(1, out_line, out_len);
        write_all(1, "\n", 1);
        out_len = 0;
      }
      return n == 0 ? -1 : got;
    }
    got = 1;
    out_len += (size_t)n;
    char *start = out_line, *nl;
    while ((nl = memchr(start, '\n', out_len - (size_t)(start - out_line)))) {
      *nl = '\0';
      on_line(start);
      *nl = '\n';
      write_all(1, start, (size_t)(nl - start) + 1);
      start = nl + 1;
    }
    out_len -= (size_t)(start - out_line);
    memmove(out_line, start, out_len);
  }
}

/* ---- dm-log-writes marks ---- */
static void dm_mark(const char *table, long id) {
  static int control = -1;
  if (control < 0 && (control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC)) < 0)
    die("open /dev/mapper/control");
  union { struct dm_ioctl io; uint64_t align; char buf[1024]; } u;
  memset(&u, 0, sizeof u);
  u.io.version[0] = DM_VERSION_MAJOR;
  u.io.data_size = sizeof u.buf;
  u.io.data_start = sizeof(struct dm_ioctl);
  snprintf(u.io.name, sizeof u.io.name, "%s", table);
  struct dm_target_msg *msg = (struct dm_target_msg *)(u.buf + u.io.data_start);
  msg->sector = 0;
  snprintf(msg->message, sizeof u.buf - u.io.data_start - sizeof *msg, "mark ack:%ld", id);
  if (ioctl(control, DM_TARGET_MSG, &u) < 0) die("dm message mark");
}

/* ---- ptrace plumbing ---- */
static void resume(Thread *t) {
  int req = t->want_exit ? PTRACE_SYSCALL : PTRACE_CONT;
  int sig = t->deliver_sig;
  t->deliver_sig = 0;
  t->stopped = 0;
  if (ptrace(req, t->tid, 0, sig) < 0 && errno != ESRCH) die("ptrace resume");
}

static void handle_status(pid_t tid, int status);

/*
 * A vfork parent sleeps in the kernel until its child execs or exits: it cannot reach a
 * ptrace stop while that child is held, yet it runs nothing either, so it counts as frozen.
 */
static int frozen(const Thread *t) {
  if (t->stopped) return 1;
  const Thread *child = t->vfork_child ? find_thread(t->vfork_child) : NULL;
  return child && child->stopped;
}

/* Every thread of every traced process stopped (PTRACE_INTERRUPT), events held for later. */
static void stop_world(void) {
  world_stopped = 1;
  for (int i = 0; i < nthreads; i++)
    if (!threads[i]->stopped && ptrace(PTRACE_INTERRUPT, threads[i]->tid, 0, 0) < 0 &&
        errno != ESRCH)
      die("ptrace interrupt");
  for (;;) {
    int running = 0;
    for (int i = 0; i < nthreads; i++) running += !frozen(threads[i]);
    if (!running) return;
    int status;
    pid_t tid = waitpid(-1, &status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return;
      die("waitpid");
    }
    handle_status(tid, status);
  }
}

static void resume_world(void) {
  world_stopped = 0;
  stopped_label[0] = '\0';
  /* Pending events are processed now; one of them may stop the world again. */
  for (int i = 0; i < nthreads && !world_stopped; i++) {
    Thread *t = threads[i];
    if (!t->stopped) continue;
    if (t->has_pending) {
      t->has_pending = 0;
      t->stopped = 0;
      pid_t tid = t->tid;
      handle_status(tid, t->pending_status);
      i = -1; /* the table may have changed: start over (stopped threads only are visited) */
    } else {
      resume(t);
    }
  }
}

static void report_stop(Trigger *tr, const char *event, long n, long id, const Thread *t,
                        long ret, int exact) {
  char line[1024];
  int len = snprintf(line, sizeof line, "{\"type\":\"stop\",\"label\":\"%s\",\"event\":\"%s\"",
                     tr ? tr->label : stopped_label, event);
  if (n > 0) len += snprintf(line + len, sizeof line - len, ",\"n\":%ld", n);
  if (id >= 0) len += snprintf(line + len, sizeof line - len, ",\"id\":%ld", id);
  if (t && t->path[0]) {
    char esc[512];
    size_t e = 0;
    for (const char *c = t->path; *c && e + 7 < sizeof esc; c++) {
      if (*c == '"' || *c == '\\') esc[e++] = '\\';
      if ((unsigned char)*c < 0x20) e += (size_t)snprintf(esc + e, 7, "\\u%04x", *c);
      else esc[e++] = *c;
    }
    esc[e] = '\0';
    len += snprintf(line + len, sizeof line - len, ",\"path\":\"%s\"", esc);
  }
  if (t && tr && tr->kind == T_SYSCALL && tr->after)
    len += snprintf(line + len, sizeof line - len, ",\"ret\":%ld", ret);
  snprintf(line + len, sizeof line - len, ",\"exact\":%s,\"t\":%lld}\n", exact ? "true" : "false",
           now_ns());
  emit(line);
}

/* Stops the world for a trigger and tells the harness; the engine stays stopped until resume. */
static void fire(Trigger *tr, const char *event, long n, long id, Thread *t, long ret, int exact) {
  tr->fired = 1;
  if (t) t->stopped = 1;
  stop_world();
  drain_engine_stdout(); /* every line before this point is relayed before the stop event */
  snprintf(stopped_label, sizeof stopped_label, "%s", tr->label);
  report_stop(tr, event, n, id, t, ret, exact);
}

static Trigger *ready_trigger(void) {
  for (int i = 0; i < ntriggers; i++)
    if (triggers[i].ready && !triggers[i].fired) return &triggers[i];
  return NULL;
}

/*
 * At the exit of a stdout write (exact), or when a line was seen outside any traced write (t is
 * NULL, inexact): puts the marks of new acks into the log and fires a line trigger that became
 * ready, all with the world stopped.
 */
static void at_line_point(Thread *t, int exact) {
  if (npending_acks == 0 && !ready_trigger()) {
    if (t) resume(t);
    return;
  }
  if (t) t->stopped = 1;
  stop_world();
  drain_engine_stdout();
  for (int i = 0; i < npending_acks; i++) {
    dm_mark(mark_table, pending_acks[i]);
    if (!exact) {
      char note[128];
      snprintf(note, sizeof note, "{\"type\":\"note\",\"note\":\"inexact-mark\",\"id\":%ld}\n",
               pending_acks[i]);
      emit(note);
    }
  }
  npending_acks = 0;
  Trigger *tr = ready_trigger();
  if (!tr) {
    resume_world();
    return;
  }
  tr->fired = 1;
  snprintf(stopped_label, sizeof stopped_label, "%s", tr->label);
  report_stop(tr, tr->kind == T_ACKS ? "ack" : "answers", tr->kind == T_ACKS ? tr->n : 0, tr->id,
              t, 0, exact);
}

static int stdout_writes_in_flight(void) {
  int n = 0;
  for (int i = 0; i < nthreads; i++) n += threads[i]->stdout_write;
  return n;
}

static void fd_path(pid_t tid, long fd, char *out, size_t len) {
  char link[64];
  snprintf(link, sizeof link, "/proc/%d/fd/%ld", tid, fd);
  ssize_t n = readlink(link, out, len - 1);
  out[n > 0 ? n : 0] = '\0';
}

static int fd_stat(pid_t tid, long fd, struct stat *st) {
  char link[64];
  snprintf(link, sizeof link, "/proc/%d/fd/%ld", tid, fd);
  return stat(link, st);
}

static void read_path_arg(pid_t tid, uint64_t addr, char *out, size_t len) {
  struct iovec local = {out, len - 1}, remote = {(void *)addr, len - 1};
  ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
  out[n > 0 ? n : 0] = '\0';
  out[strnlen(out, len - 1)] = '\0';
}

static Trigger *syscall_trigger(int cls, long n, int after) {
  for (int i = 0; i < ntriggers; i++) {
    Trigger *tr = &triggers[i];
    if (tr->kind == T_SYSCALL && !tr->fired && tr->cls == cls && tr->n == n && tr->after == after)
      return tr;
  }
  return NULL;
}
static int wants_after(int cls) {
  for (int i = 0; i < ntriggers; i++)
    if (triggers[i].kind == T_SYSCALL && triggers[i].cls == cls && triggers[i].after) return 1;
  return 0;
}

static void count(Thread *t, int k) {
  t->counts[k] = ++class_count[k];
}

/* Whether a line still matters: a line trigger not yet fired, or acks to mark. */
static int lines_pending(void) {
  if (mark_table) return 1;
  for (int i = 0; i < ntriggers; i++)
    if (triggers[i].kind != T_SYSCALL && !triggers[i].fired) return 1;
  return 0;
}

/* A traced syscall is about to run (seccomp stop). */
static void on_entry(Thread *t, const struct __ptrace_syscall_info *info) {
  long nr = (long)info->seccomp.nr;
  const uint64_t *a = info->seccomp.args;
  int cls = (int)info->seccomp.ret_data;
  int restarted = nr == t->restart_nr;
  t->restart_nr = -1;
  t->nr = nr;
  memset(t->counts, 0, sizeof t->counts);
  t->cls = cls;
  t->path[0] = '\0';
  t->stdout_write = t->dir_fsync = 0;
  t->want_exit = 0;
  int classes[4], nclasses = 0;
  switch (cls) {
  case C_WRITE: {
    char link[256];
    fd_path(t->tid, (long)a[0], link, sizeof link);
    if (strcmp(link, stdout_pipe_link) == 0) {
      /* Its exit is where a line stop is exact; with no line stop left to make (and no acks to
         mark), the write goes on without a second stop and its line is relayed from the pipe. */
      t->stdout_write = t->want_exit = lines_pending();
      break;
    }
    /* A path (not pipe:[..], socket:[..], anon_inode:..) under the store: a store write. */
    if (link[0] == '/' && (!store_prefix || strncmp(link, store_prefix, strlen(store_prefix)) == 0)) {
      snprintf(t->path, sizeof t->path, "%s", link);
      classes[nclasses++] = K_STORE_WRITE;
    }
    break;
  }
  case C_FSYNC:
  case C_FDATASYNC:
  case C_OTHER_SYNC: {
    if (nr != SYS_sync) fd_path(t->tid, (long)a[0], t->path, sizeof t->path);
    if (cls == C_FSYNC) classes[nclasses++] = K_FSYNC;
    if (cls == C_FDATASYNC) classes[nclasses++] = K_FDATASYNC;
    classes[nclasses++] = K_SYNC;
    struct stat st;
    if (needs_dir_fsync && cls != C_OTHER_SYNC && fd_stat(t->tid, (long)a[0], &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      t->dir_fsync = 1;
      classes[nclasses++] = K_DIR_FSYNC;
    }
    t->want_exit = needs_failed_sync; /* its result is needed only to see failed syncs */
    break;
  }
  case C_RENAME:
    read_path_arg(t->tid, nr == SYS_rename ? a[1] : a[3], t->path, sizeof t->path);
    classes[nclasses++] = K_RENAME;
    break;
  case C_UNLINK:
    read_path_arg(t->tid, nr == SYS_unlink ? a[0] : a[1], t->path, sizeof t->path);
    classes[nclasses++] = K_UNLINK;
    break;
  case C_CREATE: {
    if (nr == SYS_openat2) { /* flags live in struct open_how */
      uint64_t flags = 0;
      struct iovec local = {&flags, 8}, remote = {(void *)a[2], 8};
      if (process_vm_readv(t->tid, &local, 1, &remote, 1, 0) != 8 || !(flags & O_CREAT)) break;
    }
    read_path_arg(t->tid, nr == SYS_open || nr == SYS_creat ? a[0] : a[1], t->path, sizeof t->path);
    classes[nclasses++] = K_CREATE;
    break;
  }
  }
  for (int i = 0; i < nclasses; i++) {
    if (!restarted) count(t, classes[i]);
    if (wants_after(classes[i])) t->want_exit = 1;
  }
  for (int i = 0; i < nclasses && !restarted; i++) {
    Trigger *tr = syscall_trigger(classes[i], t->counts[classes[i]], 0);
    if (tr) {
      fire(tr, class_names[classes[i]], t->counts[classes[i]], -1, t, 0, 1);
      return;
    }
  }
  resume(t);
}

/* A traced syscall returned (syscall-exit stop). */
static void on_exit_stop(Thread *t, const struct __ptrace_syscall_info *info) {
  long ret = (long)info->exit.rval;
  t->want_exit = 0;
  if (ret <= -512 && ret >= -516) { /* ERESTART*: it runs again, counted once */
    t->restart_nr = t->nr;
    t->stdout_write = 0;
    resume(t);
    return;
  }
  if (t->stdout_write) {
    t->stdout_write = 0;
    drain_engine_stdout();
    at_line_point(t, 1);
    return;
  }
  int k_sync = (t->cls == C_FSYNC || t->cls == C_FDATASYNC || t->cls == C_OTHER_SYNC);
  if (k_sync && ret < 0) {
    count(t, K_FAILED_SYNC);
    Trigger *tr = syscall_trigger(K_FAILED_SYNC, t->counts[K_FAILED_SYNC], 1);
    if (tr) {
      fire(tr, class_names[K_FAILED_SYNC], t->counts[K_FAILED_SYNC], -1, t, ret, 1);
      return;
    }
  }
  for (int k = 0; k < K_COUNT; k++) {
    if (k == K_FAILED_SYNC || !t->counts[k]) continue;
    Trigger *tr = syscall_trigger(k, t->counts[k], 1);
    if (tr) {
      fire(tr, class_names[k], t->counts[k], -1, t, ret, 1);
      return;
    }
  }
  resume(t);
}

/* Syscall stops taken (entries and exits), for --stats. */
static long syscall_stops;

static void handle_status(pid_t tid, int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    if (tid == child) child_status = status;
    remove_thread(tid);
    return;
  }
  if (!WIFSTOPPED(status)) return;
  Thread *t = add_thread(tid);
  if (world_stopped) { /* held: processed once the world resumes */
    if (!t->stopped) {
      t->stopped = 1;
      t->has_pending = 1;
      t->pending_status = status;
    }
    return;
  }
  int sig = WSTOPSIG(status), event = status >> 16;
  if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
    syscall_stops++;
    struct __ptrace_syscall_info info;
    if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) < 0) die("get syscall info");
    on_entry(t, &info);
  } else if (sig == (SIGTRAP | 0x80)) {
    syscall_stops++;
    struct __ptrace_syscall_info info;
    if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) < 0) die("get syscall info");
    if (info.op == PTRACE_SYSCALL_INFO_EXIT) on_exit_stop(t, &info);
    else resume(t); /* an entry stop (after a signal handler): the exit comes later */
  } else if (sig == SIGTRAP && event != 0) {
    if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
      unsigned long msg;
      if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0) add_thread((pid_t)msg);
      t = find_thread(tid);
      if (event == PTRACE_EVENT_VFORK) t->vfork_child = (pid_t)msg;
    }
    if (event == PTRACE_EVENT_VFORK_DONE) t->vfork_child = 0;
    resume(t);
  } else if (event == PTRACE_EVENT_STOP) {
    resume(t); /* an interrupt, a new thread's first stop, or a group stop: go on */
  } else {
    t->deliver_sig = sig; /* a signal for the engine */
    resume(t);
  }
}

/* ---- the seccomp filter (installed in the child, before exec) ---- */
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define TRACE(c) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | (c))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define ON(nr, c) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), TRACE(c)
#define ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args) + 8 * (i))

/*
 * Which syscalls the filter traps, and what is looked at in them: only what some stop needs.
 * Each trap is a ptrace stop (two context switches, more under TCG), and an engine makes a
 * write and a sync per op.
 */
static int trap_lines, trap_store_writes, trap_syncs, trap_renames, trap_unlinks, trap_creates;

static void choose_traps(void) {
  trap_lines = mark_table != NULL;
  for (int k = 0; k < ntriggers; k++) {
    const Trigger *tr = &triggers[k];
    if (tr->kind != T_SYSCALL) {
      trap_lines = 1;
      continue;
    }
    trap_store_writes |= tr->cls == K_STORE_WRITE;
    trap_syncs |= tr->cls == K_FSYNC || tr->cls == K_FDATASYNC || tr->cls == K_SYNC ||
                  tr->cls == K_FAILED_SYNC || tr->cls == K_DIR_FSYNC;
    trap_renames |= tr->cls == K_RENAME;
    trap_unlinks |= tr->cls == K_UNLINK;
    trap_creates |= tr->cls == K_CREATE;
    needs_dir_fsync |= tr->cls == K_DIR_FSYNC;
    needs_failed_sync |= tr->cls == K_FAILED_SYNC;
  }
}

static void install_filter(void) {
  struct sock_filter f[64];
  size_t n = 0;
#define EMIT(...)                                                                                  \
  do {                                                                                             \
    const struct sock_filter part[] = {__VA_ARGS__};                                               \
    memcpy(f + n, part, sizeof part);                                                              \
    n += sizeof part / sizeof *part;                                                               \
  } while (0)
  EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
       BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0), ALLOW, LD_NR);
  /* stdout's lines come by write/writev (a pipe refuses pwrite); a store write by any of them */
  if (trap_lines || trap_store_writes) EMIT(ON(SYS_write, C_WRITE), ON(SYS_writev, C_WRITE));
  if (trap_store_writes)
    EMIT(ON(SYS_pwrite64, C_WRITE), ON(SYS_pwritev, C_WRITE), ON(SYS_pwritev2, C_WRITE));
  if (trap_syncs)
    EMIT(ON(SYS_fsync, C_FSYNC), ON(SYS_fdatasync, C_FDATASYNC),
         ON(SYS_sync_file_range, C_OTHER_SYNC), ON(SYS_msync, C_OTHER_SYNC),
         ON(SYS_syncfs, C_OTHER_SYNC), ON(SYS_sync, C_OTHER_SYNC));
  if (trap_renames) EMIT(ON(SYS_rename, C_RENAME), ON(SYS_renameat, C_RENAME), ON(SYS_renameat2, C_RENAME));
  if (trap_unlinks) EMIT(ON(SYS_unlink, C_UNLINK), ON(SYS_unlinkat, C_UNLINK));
  if (trap_creates)
    EMIT(ON(SYS_creat, C_CREATE), ON(SYS_openat2, C_CREATE),
         /* open(path, flags): only with O_CREAT */
         BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 0, 4), ARG_LO(1),
         BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_CREAT, 0, 1), TRACE(C_CREATE), ALLOW,
         /* openat(dirfd, path, flags): only with O_CREAT */
         BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4), ARG_LO(2),
         BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_CREAT, 0, 1), TRACE(C_CREATE), ALLOW);
  EMIT(ALLOW);
#undef EMIT
  struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
    if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
      die("seccomp filter");
  }
}

/* ---- control lines and input forwarding ---- */
static void on_control(const char *line) {
  char verb[16], label[64];
  if (sscanf(line, "#powercut %15s %63s", verb, label) != 2) {
    fprintf(stderr, "powercut-stop: bad control line: %s\n", line);
    return;
  }
  if (strcmp(verb, "resume") == 0) {
    if (world_stopped && strcmp(label, stopped_label) == 0) resume_world();
    else fprintf(stderr, "powercut-stop: resume %s: not stopped there\n", label);
  } else if (strcmp(verb, "stop") == 0) {
    if (world_stopped) return;
    stop_world();
    drain_engine_stdout();
    snprintf(stopped_label, sizeof stopped_label, "%s", label);
    report_stop(NULL, "now", 0, -1, NULL, 0, 1);
  }
}

static char in_line[1 << 16];
static size_t in_len;

static void queue_for_engine(const char *data, size_t len) {
  if (to_engine_len + len > to_engine_cap) {
    to_engine_cap = (to_engine_len + len) * 2;
    to_engine = realloc(to_engine, to_engine_cap);
    if (!to_engine) die("realloc");
  }
  memcpy(to_engine + to_engine_len, data, len);
  to_engine_len += len;
}

static void read_harness(void) {
  ssize_t n = read(0, in_line + in_len, sizeof in_line - in_len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    stdin_eof = 1;
    /* Nobody is left to resume a stop: let the engine go on to its end. */
    if (world_stopped) resume_world();
    if (in_len > 0) queue_for_engine(in_line, in_len);
    in_len = 0;
    return;
  }
  in_len += (size_t)n;
  char *start = in_line, *nl;
  while ((nl = memchr(start, '\n', in_len - (size_t)(start - in_line)))) {
    size_t len = (size_t)(nl - start) + 1;
    if (len > 10 && strncmp(start, "#powercut ", 10) == 0) {
      *nl = '\0';
      on_control(start);
    } else {
      queue_for_engine(start, len);
    }
    start = nl + 1;
  }
  in_len -= (size_t)(start - in_line);
  memmove(in_line, start, in_len);
  if (in_len == sizeof in_line) { /* over-long line: forward as is */
    queue_for_engine(in_line, in_len);
    in_len = 0;
  }
}

static void flush_to_engine(void) {
  while (to_engine_len > 0 && engine_in >= 0) {
    ssize_t n = write(engine_in, to_engine, to_engine_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      /* The engine closed its stdin: drop what it will never read. */
      to_engine_len = 0;
      close(engine_in);
      engine_in = -1;
      return;
    }
    memmove(to_engine, to_engine + n, to_engine_len - (size_t)n);
    to_engine_len -= (size_t)n;
  }
  if (stdin_eof && to_engine_len == 0 && engine_in >= 0) {
    close(engine_in);
    engine_in = -1;
  }
}

static void write_pidfile(const char *path) {
  char stat[512];
  int fd = open("/proc/self/stat", O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, stat, sizeof stat - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) die("read /proc/self/stat");
  stat[n] = '\0';
  char *p = strrchr(stat, ')');
  unsigned long long start = 0;
  /* After "pid (comm) ": state is field 3, starttime field 22 → the 20th after ')'. */
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  if (!p || sscanf(p + 1, "%llu", &start) != 1) die("parse /proc/self/stat");
  FILE *f = fopen(path, "w");
  if (!f) die(path);
  fprintf(f, "%d %llu\n", getpid(), start);
  if (fclose(f) != 0) die(path);
}

static void usage(void) {
  fprintf(stderr, "usage: powercut-stop [--pidfile FILE] [--store PREFIX] [--mark-acks TABLE] "
                  "[--stop SPEC]... [--stats] -- COMMAND\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *pidfile = NULL;
  int stats = 0;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (strcmp(argv[i], "--stats") == 0) { stats = 1; continue; }
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--pidfile") == 0) pidfile = argv[++i];
    else if (strcmp(argv[i], "--store") == 0) store_prefix = argv[++i];
    else if (strcmp(argv[i], "--mark-acks") == 0) mark_table = argv[++i];
    else if (strcmp(argv[i], "--stop") == 0) {
      char *spec = strdup(argv[++i]);
      if (!spec || parse_trigger(spec) < 0) {
        fprintf(stderr, "powercut-stop: bad --stop %s\n", argv[i]);
        exit(2);
      }
    } else usage();
  }
  if (i != argc - 1) usage();
  choose_traps();
  const char *command = argv[i];
  signal(SIGPIPE, SIG_IGN);
  if (pidfile) write_pidfile(pidfile);

  int in[2], out[2], sync_pipe[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(sync_pipe, O_CLOEXEC) < 0)
    die("pipe");
  struct stat st;
  if (fstat(out[1], &st) < 0) die("fstat");
  snprintf(stdout_pipe_link, sizeof stdout_pipe_link, "pipe:[%lu]", (unsigned long)st.st_ino);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) die("sigprocmask");

  child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    char go;
    close(sync_pipe[1]);
    if (read(sync_pipe[0], &go, 1) != 1) _exit(125); /* the tracer is attached */
    dup2(in[0], 0);
    dup2(out[1], 1);
    install_filter();
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    fprintf(stderr, "powercut-stop: exec /bin/sh: %s\n", strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(sync_pipe[0]);
  long options = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE |
                 PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE |
                 PTRACE_O_TRACEEXEC |
                 PTRACE_O_EXITKILL;
  if (ptrace(PTRACE_SEIZE, child, 0, options) < 0) die("ptrace seize");
  add_thread(child);
  if (write(sync_pipe[1], "g", 1) != 1) die("sync");
  close(sync_pipe[1]);

  engine_in = in[1];
  engine_out = out[0];
  fcntl(engine_in, F_SETFL, O_NONBLOCK);
  fcntl(engine_out, F_SETFL, O_NONBLOCK);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  int out_open = 1;
  while (out_open || nthreads > 0) {
    struct pollfd p[4];
    int np = 0, ip = -1, op = -1, ep = -1;
    p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    if (!stdin_eof) { ip = np; p[np++] = (struct pollfd){.fd = 0, .events = POLLIN}; }
    if (out_open) { op = np; p[np++] = (struct pollfd){.fd = engine_out, .events = POLLIN}; }
    if (to_engine_len > 0 && engine_in >= 0) {
      ep = np;
      p[np++] = (struct pollfd){.fd = engine_in, .events = POLLOUT};
    }
    if (poll(p, (nfds_t)np, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {}
      int status;
      pid_t tid;
      while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) handle_status(tid, status);
    }
    if (op >= 0 && p[op].revents) {
      if (drain_engine_stdout() < 0) out_open = 0;
      /* A line seen outside any traced write (an untrapped syscall): stop now, inexactly. */
      if (!world_stopped && stdout_writes_in_flight() == 0) at_line_point(NULL, 0);
    }
    if (ip >= 0 && p[ip].revents) read_harness();
    if (ep >= 0 && p[ep].revents) flush_to_engine();
    flush_to_engine();
  }
  if (stats) fprintf(stderr, "powercut-stop: %ld syscall stops\n", syscall_stops);
  if (child_status < 0) return 125;
  if (WIFSIGNALED(child_status)) return 128 + WTERMSIG(child_status);
  return WEXITSTATUS(child_status);
}
