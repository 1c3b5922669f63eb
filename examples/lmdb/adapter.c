/*
 * LMDB behind powercut's engine protocol v1: key = the logical page (u32), value = the string;
 * one write transaction per protocol write, acknowledged when mdb_txn_commit returned 0, which
 * is what an application takes as "committed". LMDB knows nothing of powercut.
 *
 *   lmdb-engine run|recover|dump --store DIR [--pages N]     (store: directory)
 *
 * LMDB creates data.mdb and lock.mdb in DIR. Configuration from the environment:
 *   LMDB_FLAGS  comma-separated mdb_env_open flags: NOSYNC, NOMETASYNC, WRITEMAP, MAPASYNC
 *               (default: none, LMDB's durable default)
 * recover opens the environment the way an application does (read-write: a data.mdb whose
 * creation never became durable is created again, empty) and reads its newest meta page; dump
 * prints every page.
 *
 * Build (static, so it runs in the minimal guest): see the Makefile; Debian's liblmdb-dev.
 */
#define _GNU_SOURCE
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *field(const char *line, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *p = strstr(line, pattern);
  return p ? p + strlen(pattern) : NULL;
}

static unsigned int flags_from_env(void) {
  const char *v = getenv("LMDB_FLAGS");
  unsigned int flags = 0;
  if (!v) return 0;
  if (strstr(v, "NOMETASYNC")) flags |= MDB_NOMETASYNC;
  else if (strstr(v, "NOSYNC")) flags |= MDB_NOSYNC;
  if (strstr(v, "WRITEMAP")) flags |= MDB_WRITEMAP;
  if (strstr(v, "MAPASYNC")) flags |= MDB_MAPASYNC;
  return flags;
}

static MDB_env *open_env(const char *dir, unsigned int flags) {
  MDB_env *env;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_mapsize(env, 64UL << 20);
  if (rc == 0) rc = mdb_env_open(env, dir, flags, 0644);
  if (rc != 0) {
    fprintf(stderr, "mdb_env_open %s: %s\n", dir, mdb_strerror(rc));
    exit(1);
  }
  return env;
}

/* The protocol's error name: errno names for system errors, LMDB's own otherwise. */
static const char *err_name(int rc) {
  if (rc > 0) {
    const char *name = strerrorname_np(rc);
    return name ? name : "EIO";
  }
  return rc == MDB_CORRUPTED ? "MDB_CORRUPTED" : rc == MDB_PANIC ? "MDB_PANIC" : "MDB_ERROR";
}

static void event(long id, const char *type, const char *err) {
  if (err) printf("{\"id\":%ld,\"type\":\"%s\",\"t\":%lld,\"err\":\"%s\"}\n", id, type, now_ns(), err);
  else printf("{\"id\":%ld,\"type\":\"%s\",\"t\":%lld}\n", id, type, now_ns());
  fflush(stdout);
}

static int run(const char *dir) {
  MDB_env *env = open_env(dir, flags_from_env());
  MDB_dbi dbi;
  MDB_txn *txn;
  if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) || mdb_txn_commit(txn))
    return 1;
  char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    const char *op = field(line, "op"), *idp = field(line, "id"), *v = field(line, "value");
    if (!op || !idp || strncmp(op, "\"write\"", 7) != 0 || !v || *v != '"') continue;
    long id = strtol(idp, NULL, 10);
    uint32_t page = (uint32_t)strtol(field(line, "page"), NULL, 10);
    size_t len = strcspn(++v, "\"");
    event(id, "invoke", NULL);
    MDB_val key = {sizeof page, &page}, value = {len, (void *)v};
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0) {
      rc = mdb_put(txn, dbi, &key, &value, 0);
      if (rc == 0) rc = mdb_txn_commit(txn);
      else mdb_txn_abort(txn);
    }
    event(id, rc == 0 ? "ok" : "fail", rc == 0 ? NULL : err_name(rc));
  }
  mdb_env_close(env);
  return 0;
}

static int dump(const char *dir, long pages, int print) {
  MDB_env *env = open_env(dir, 0);
  MDB_txn *txn;
  MDB_dbi dbi;
  int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, NULL, 0, &dbi);
  if (rc != 0) {
    fprintf(stderr, "open a read transaction: %s\n", mdb_strerror(rc));
    return 1;
  }
  for (long p = 0; print && p < pages; p++) {
    uint32_t page = (uint32_t)p;
    MDB_val key = {sizeof page, &page}, value;
    int get = mdb_get(txn, dbi, &key, &value);
    if (get == 0) printf("{\"page\":%ld,\"value\":\"%.*s\"}\n", p, (int)value.mv_size, (const char *)value.mv_data);
    else if (get == MDB_NOTFOUND) printf("{\"page\":%ld,\"value\":null}\n", p);
    else printf("{\"page\":%ld,\"error\":\"%s\"}\n", p, err_name(get));
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return 0;
}

int main(int argc, char **argv) {
  const char *store = NULL;
  long pages = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--store") && i + 1 < argc) store = argv[++i];
    else if (!strcmp(argv[i], "--pages") && i + 1 < argc) pages = strtol(argv[++i], NULL, 10);
  }
  if (argc < 2 || !store) {
    fprintf(stderr, "usage: lmdb-engine run|recover|dump --store DIR [--pages N]\n");
    return 2;
  }
  if (!strcmp(argv[1], "run")) return run(store);
  if (!strcmp(argv[1], "recover")) return dump(store, pages, 0);
  if (!strcmp(argv[1], "dump")) return dump(store, pages, 1);
  fprintf(stderr, "unknown verb %s\n", argv[1]);
  return 2;
}
