/* See sqlite.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon/sqlite.h"

int db_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_TOOBIG:
                return -E2BIG;
        default:
                return -EIO;
        }
}

int db_dir_prepare(const char *path, char *err, size_t errlen) {
        char dir[4096];
        const char *slash = strrchr(path, '/');
        struct stat st;
        int fd;

        if (!slash || slash == path) {
                snprintf(err, errlen, "'%s' is not in a directory of its own", path);
                return -EINVAL;
        }
        if ((size_t) (slash - path) >= sizeof(dir)) {
                snprintf(err, errlen, "the path '%s' is too long", path);
                return -ENAMETOOLONG;
        }
        memcpy(dir, path, (size_t) (slash - path));
        dir[slash - path] = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                int r = -errno;
                snprintf(err, errlen, "cannot create '%s': %s (systemd-tmpfiles --create makes it)", dir,
                         strerror(-r));
                return r;
        }
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                snprintf(err, errlen, "cannot open '%s': %s", dir, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                snprintf(err, errlen, "cannot stat '%s': %s", dir, strerror(-r));
                return r;
        }
        close(fd);
        if (st.st_uid != geteuid() || (st.st_mode & 077)) {
                snprintf(err, errlen,
                         "'%s' must be owned by uid %u with mode 0700, so that only this daemon reads the "
                         "database (it is uid %u, mode %04o)",
                         dir, (unsigned) geteuid(), (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

int db_open(const char *path, int flags, sqlite3 **ret) {
        int rc = sqlite3_open_v2(path, ret, flags, NULL);
        if (rc != SQLITE_OK)
                return db_errno(rc);
        (void) sqlite3_extended_result_codes(*ret, 1);
        (void) sqlite3_busy_timeout(*ret, 5000);
        return 0;
}

int db_exec(sqlite3 *db, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK) {
                log_debug("SQL failed: %s", err ?: sqlite3_errstr(rc));
                sqlite3_free(err);
                return db_errno(rc);
        }
        return 0;
}

int db_user_version(sqlite3 *db, int *ret) {
        sqlite3_stmt *s;
        int rc;

        rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
        if (rc != SQLITE_OK)
                return db_errno(rc);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int(s, 0);
        (void) sqlite3_finalize(s);
        return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int db_migrate(sqlite3 *db, const char *const *migrations, int latest, int target) {
        int version, r;

        r = db_exec(db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = db_user_version(db, &version);
        if (r < 0)
                goto fail;
        if (version > latest) {
                r = -EPROTONOSUPPORT;
                goto fail;
        }
        for (int v = version; v < target; v++) {
                char sql[64];
                r = db_exec(db, migrations[v]);
                if (r < 0)
                        goto fail;
                (void) snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
                r = db_exec(db, sql);
                if (r < 0)
                        goto fail;
        }
        return db_exec(db, "COMMIT");
fail:
        (void) db_exec(db, "ROLLBACK");
        return r;
}

int db_prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **stmts, int n) {
        for (int i = 0; i < n; i++) {
                int rc;

                if (!sql[i])
                        continue;
                rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL);
                if (rc != SQLITE_OK) {
                        log_debug("Failed to prepare '%s': %s", sql[i], sqlite3_errmsg(db));
                        return db_errno(rc);
                }
        }
        return 0;
}

int db_integrity_check(sqlite3 *db) {
        sqlite3_stmt *s;
        bool ok = false;
        int rc;

        rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
        if (rc != SQLITE_OK)
                return db_errno(rc);
        if (sqlite3_step(s) == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(s, 0);
                ok = t && strcmp((const char *) t, "ok") == 0;
        }
        (void) sqlite3_finalize(s);
        return ok ? 0 : -EUCLEAN;
}
