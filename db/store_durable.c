/*
 * store_durable.c — durability apart from commit, so the loop thread does not wait for the disk.
 *
 * With sync FULL on a WAL database SQLite would fsync the WAL inside every COMMIT, on the loop
 * thread, and every connection would wait with it. Instead the main connection runs with
 * synchronous=NORMAL (a commit appends to the WAL; that survives ocppd crashing, not the machine
 * losing power) and the server calls store_wal_fsync on a worker thread before it acknowledges
 * what the commit wrote. fdatasync of the WAL makes every frame appended before the call durable,
 * so one call covers all commits made until then: group commit across loop iterations.
 *
 * A checkpoint fsyncs too (the WAL before copying it into the database, the database after; with
 * NORMAL that is what makes it safe to reuse the WAL), so SQLite's automatic checkpoint inside
 * COMMIT is replaced by store_checkpoint_bg, run on a second connection by the same worker.
 */
#include "store_int.h"

#include "log.h"
#include "od.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Background checkpoints are wanted from this WAL size on (SQLite's own default threshold). */
#define STORE_WAL_FRAMES_BG 1000
/* A background checkpoint cannot end the WAL while commits keep coming: SQLite starts the WAL
 * over only when a write begins with every frame copied back, and under steady load a commit
 * always lands during the checkpoint's own fsyncs. Past this size (about 32 MiB of 4 KiB pages)
 * the loop thread checkpoints once itself, after the background ones have done nearly all the
 * copying, so the WAL stays bounded at the cost of one short stall. */
#define STORE_WAL_FRAMES_INLINE 8192

/* Replaces SQLite's auto-checkpoint hook: runs on the loop thread after each commit. */
static int store_wal_hook_cb(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *st = arg;
    st->wal_frames = frames;
    if (frames >= STORE_WAL_FRAMES_INLINE) {
        int log_frames = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                           &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            LOG_WARN("store: checkpoint failed path=%s err=\"%s\"", st->path,
                     sqlite3_errmsg(db));
    }
    return SQLITE_OK;
}

/* fsync of the directory, so a WAL file created by this process is found after a power loss. */
static void store_sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0) LOG_WARN("store: directory fsync failed path=%s err=%s", path,
                                     strerror(errno));
        close(fd);
    }
    free(copy);
}

/* Commits fsync inline again: the fallback when the WAL cannot be synced from outside. The
 * caller sets synchronous = FULL and fails the open if it cannot. */
static void store_sync_inline(struct store *st, const char *why)
{
    LOG_WARN("store: %s; every commit will fsync on the loop thread path=%s", why, st->path);
    st->defer_sync = false;
    for (int i = 0; i < STORE_FSYNC__COUNT; i++) {
        if (st->wal_fd[i] >= 0) close(st->wal_fd[i]);
        st->wal_fd[i] = -1;
    }
}

static int store_open_wal_fds(struct store *st);

int store__durable_open(struct store *st, bool wal, enum store_sync sync, char *errbuf,
                        size_t errlen)
{
    for (int i = 0; i < STORE_FSYNC__COUNT; i++) st->wal_fd[i] = -1;
    st->wal = wal;
    st->defer_sync = wal && sync == STORE_SYNC_FULL;
    if (!wal) return 0;
    sqlite3_wal_hook(st->db, store_wal_hook_cb, st);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(st->path, &st->ckpt_db, flags, NULL) != SQLITE_OK ||
        sqlite3_exec(st->ckpt_db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) !=
            SQLITE_OK) {
        snprintf(errbuf, errlen, "database '%s': cannot open the checkpoint connection: %s",
                 st->path, st->ckpt_db ? sqlite3_errmsg(st->ckpt_db) : "out of memory");
        return OD_EDB;
    }

    if (!st->defer_sync) return 0;
    /* The pager created the -wal file when it entered WAL mode, so it is there to open. */
    int rc = store_open_wal_fds(st);
    if (rc == 0 && !st->defer_sync &&
        sqlite3_exec(st->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(errbuf, errlen, "database '%s': cannot set synchronous = FULL: %s", st->path,
                 sqlite3_errmsg(st->db));
        return OD_EDB;
    }
    return rc;
}

/* Opens the WAL descriptors; on failure falls back to fsync inside COMMIT. */
static int store_open_wal_fds(struct store *st)
{
    size_t n = strlen(st->path) + sizeof "-wal";
    char *wal_path = malloc(n);
    if (!wal_path) {
        store_sync_inline(st, "out of memory");
        return 0;
    }
    snprintf(wal_path, n, "%s-wal", st->path);
    int fd = -1;
    for (int i = 0; i < STORE_FSYNC__COUNT; i++)
        if ((st->wal_fd[i] = fd = open(wal_path, O_RDONLY | O_CLOEXEC)) < 0) break;
    if (fd < 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot open the WAL for fsync (%s)", strerror(errno));
        store_sync_inline(st, why);
    } else {
        store_sync_dir(st->path);
    }
    free(wal_path);
    return 0;
}

void store__durable_close(struct store *st)
{
    for (int i = 0; i < STORE_FSYNC__COUNT; i++) {
        if (st->wal_fd[i] >= 0) close(st->wal_fd[i]);
        st->wal_fd[i] = -1;
    }
    /* Closed before the main connection, so the main one is the last and removes the WAL. */
    if (st->ckpt_db) sqlite3_close(st->ckpt_db);
    st->ckpt_db = NULL;
}

bool store_sync_deferred(const struct store *st)
{
    return st->defer_sync;
}

bool store_checkpoint_due(struct store *st, bool idle)
{
    if (!st->ckpt_db) return false;
    /* Frames appended since the last checkpoint began; a smaller WAL means SQLite started it
     * over since, so all of it is new. */
    int fresh = st->wal_frames >= st->wal_frames_mark ? st->wal_frames - st->wal_frames_mark
                                                       : st->wal_frames;
    if (fresh < (idle ? 1 : STORE_WAL_FRAMES_BG)) return false;
    st->wal_frames_mark = st->wal_frames;
    return true;
}

int store_wal_fsync(struct store *st, enum store_fsync_caller who)
{
    if (!st->defer_sync) return 0;
    if (atomic_load(&st->sync_failed)) return OD_EIO;
    while (fdatasync(st->wal_fd[who]) != 0) {
        if (errno != EINTR) {
            atomic_store(&st->sync_failed, true);
            return OD_EIO;
        }
    }
    /* Another caller may have seen an error meanwhile: then this one proves nothing either. */
    return atomic_load(&st->sync_failed) ? OD_EIO : 0;
}

int store_checkpoint_bg(struct store *st, int *frames, int *copied)
{
    *frames = *copied = 0;
    if (!st->ckpt_db) return 0;
    int rc = sqlite3_wal_checkpoint_v2(st->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, frames,
                                       copied);
    /* BUSY: another checkpointer (an operator's sqlite3 shell, say) is at it; try next time. */
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : OD_EDB;
}
