/*
 * SQLite behind powercut's engine protocol v1: one table, one row per logical page, one
 * transaction per protocol write, acknowledged when sqlite3_step(COMMIT) returned SQLITE_DONE,
 * which is exactly what an application takes as "committed". SQLite knows nothing of powercut.
 *
 *   sqlite-engine run|recover|dump --store DIR [--pages N]     (store: directory)
 *
 * The database is DIR/db.sqlite; SQLite creates, deletes and renames its own journal files
 * beside it, which is why the store is a directory. Configuration from the environment:
 *   SQLITE_JOURNAL_MODE  DELETE (default) | TRUNCATE | PERSIST | WAL
 *   SQLITE_SYNCHRONOUS   OFF | NORMAL | FULL (default) | EXTRA
 * recover opens the database and runs PRAGMA quick_check (opening rolls a hot journal back, or
 * replays the WAL); dump prints every page (a read that reports corruption prints "error").
 *
 * Build (static, so it runs in the minimal guest): see the Makefile; Debian's libsqlite3-dev.
 */
#define _GNU_SOURCE
#include <sqlite3.h>
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

static const char *env(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

/* The protocol's error name for an SQLite result (e.g. SQLITE_IOERR_FSYNC → "SQLITE_IOERR"). */
static const char *err_name(int rc) {
  switch (rc & 0xff) {
  case SQLITE_IOERR: return "SQLITE_IOERR";
  case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
  case SQLITE_FULL: return "SQLITE_FULL";
  case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
  case SQLITE_BUSY: return "SQLITE_BUSY";
  case SQLITE_READONLY: return "SQLITE_READONLY";
  default: return "SQLITE_ERROR";
  }
}

static sqlite3 *open_db(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/db.sqlite", dir);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
    exit(1);
  }
  return db;
}

static int exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, msg ? msg : sqlite3_errstr(rc));
  sqlite3_free(msg);
  return rc;
}

static void event(long id, const char *type, const char *err) {
  if (err) printf("{\"id\":%ld,\"type\":\"%s\",\"t\":%lld,\"err\":\"%s\"}\n", id, type, now_ns(), err);
  else printf("{\"id\":%ld,\"type\":\"%s\",\"t\":%lld}\n", id, type, now_ns());
  fflush(stdout);
}

static int run(const char *dir) {
  sqlite3 *db = open_db(dir);
  char pragma[128];
  snprintf(pragma, sizeof pragma, "PRAGMA journal_mode=%s", env("SQLITE_JOURNAL_MODE", "DELETE"));
  if (exec(db, pragma) != SQLITE_OK) return 1;
  snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s", env("SQLITE_SYNCHRONOUS", "FULL"));
  if (exec(db, pragma) != SQLITE_OK) return 1;
  if (exec(db, "CREATE TABLE IF NOT EXISTS pages(page INTEGER PRIMARY KEY, value TEXT NOT NULL)") != SQLITE_OK)
    return 1;
  sqlite3_stmt *put;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO pages(page, value) VALUES (?, ?)", -1, &put, NULL) != SQLITE_OK)
    return 1;
  char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    const char *op = field(line, "op"), *idp = field(line, "id"), *v = field(line, "value");
    if (!op || !idp || strncmp(op, "\"write\"", 7) != 0 || !v || *v != '"') continue;
    long id = strtol(idp, NULL, 10), page = strtol(field(line, "page"), NULL, 10);
    int len = (int)strcspn(++v, "\"");
    event(id, "invoke", NULL);
    int rc = exec(db, "BEGIN");
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(put, 1, page);
      sqlite3_bind_text(put, 2, v, len, SQLITE_TRANSIENT);
      rc = sqlite3_step(put) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
      sqlite3_reset(put);
    }
    if (rc == SQLITE_OK) rc = exec(db, "COMMIT");
    if (rc != SQLITE_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    event(id, rc == SQLITE_OK ? "ok" : "fail", rc == SQLITE_OK ? NULL : err_name(rc));
  }
  sqlite3_finalize(put);
  return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}

static int recover(const char *dir) {
  sqlite3 *db = open_db(dir);
  sqlite3_stmt *check;
  int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &check, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(check);
  const char *result = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(check, 0) : NULL;
  if (!result || strcmp(result, "ok") != 0) {
    fprintf(stderr, "quick_check: %s\n", result ? result : sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_finalize(check);
  sqlite3_close(db);
  return 0;
}

static int dump(const char *dir, long pages) {
  sqlite3 *db = open_db(dir);
  sqlite3_stmt *get = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT value FROM pages WHERE page = ?", -1, &get, NULL);
  for (long page = 0; page < pages; page++) {
    if (rc != SQLITE_OK) { /* no table: nothing was ever committed (or it is unreadable) */
      if (strstr(sqlite3_errmsg(db), "no such table")) printf("{\"page\":%ld,\"value\":null}\n", page);
      else printf("{\"page\":%ld,\"error\":\"%s\"}\n", page, err_name(rc));
      continue;
    }
    sqlite3_bind_int64(get, 1, page);
    int step = sqlite3_step(get);
    if (step == SQLITE_ROW) printf("{\"page\":%ld,\"value\":\"%s\"}\n", page, sqlite3_column_text(get, 0));
    else if (step == SQLITE_DONE) printf("{\"page\":%ld,\"value\":null}\n", page);
    else printf("{\"page\":%ld,\"error\":\"%s\"}\n", page, err_name(step));
    sqlite3_reset(get);
  }
  sqlite3_finalize(get);
  sqlite3_close(db);
  return 0;
}

int main(int argc, char **argv) {
  const char *store = NULL;
  long pages = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--store") && i + 1 < argc) store = argv[++i];
    else if (!strcmp(argv[i], "--pages") && i + 1 < argc) pages = strtol(argv[++i], NULL, 10);
    /* --page-size, --direct, --writers: SQLite has its own page size and I/O. */
  }
  if (argc < 2 || !store) {
    fprintf(stderr, "usage: sqlite-engine run|recover|dump --store DIR [--pages N]\n");
    return 2;
  }
  if (!strcmp(argv[1], "run")) return run(store);
  if (!strcmp(argv[1], "recover")) return recover(store);
  if (!strcmp(argv[1], "dump")) return dump(store, pages);
  fprintf(stderr, "unknown verb %s\n", argv[1]);
  return 2;
}
