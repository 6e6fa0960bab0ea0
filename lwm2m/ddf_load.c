/*
 * lwm2m/ddf_load.c - DDF files and directories: reading them (bounded in
 * size) and handing their bytes to the parser in ddf.c.
 */
#include "registry_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void file_diag(gw_diag_fn diag, void *ctx, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void file_diag(gw_diag_fn diag, void *ctx, const char *file, const char *fmt, ...)
{
    if (!diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag(ctx, file, 0, msg);
}

int gw_registry_load_file(gw_registry_t *r, const char *file, gw_diag_fn diag, void *diag_ctx)
{
    int rc = -EINVAL;
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    /* O_NONBLOCK: a FIFO named *.xml would otherwise block the open until
     * something writes to it (at --check, or stopping the daemon in a reload). */
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        file_diag(diag, diag_ctx, file, "cannot open: %s, expected a readable DDF XML file",
                  strerror(errno));
        return -EINVAL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        file_diag(diag, diag_ctx, file, "not a regular file, expected a DDF XML file");
        goto out;
    }
    if (st.st_size > (off_t)GW_DDF_MAX_FILE_SIZE) {
        file_diag(diag, diag_ctx, file, "file is %lld bytes, expected at most %u bytes",
                  (long long)st.st_size, GW_DDF_MAX_FILE_SIZE);
        goto out;
    }
    /* Read up to one byte past the limit: the file may grow after fstat. */
    size_t cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap > GW_DDF_MAX_FILE_SIZE)
                break;
            size_t ncap = cap * 2 > GW_DDF_MAX_FILE_SIZE + 1 ? GW_DDF_MAX_FILE_SIZE + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            file_diag(diag, diag_ctx, file, "read failed: %s, expected a readable file", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    rc = gw_registry_load_buffer(r, file, buf, len, diag, diag_ctx);
out:
    free(buf);
    close(fd);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_ddf_name(const char *n)
{
    size_t l = strlen(n);
    /* Dot files are editor backups and lock files, not definitions. */
    return n[0] != '.' && l > 4 && strcasecmp(n + l - 4, ".xml") == 0;
}

int gw_registry_load_dir(gw_registry_t *r, const char *dir, gw_diag_fn diag, void *diag_ctx)
{
    int rc = 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        file_diag(diag, diag_ctx, dir, "cannot open directory: %s, expected a readable directory",
                  strerror(e));
        return -e;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_ddf_name(de->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
            rc = -ENOMEM;
            goto out;
        }
        n++;
    }
    /* Sorted so that, when two files define one object id, which one wins
     * does not depend on directory order. */
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
            continue;
        int e = gw_registry_load_file(r, names[i], diag, diag_ctx);
        if (e == -ENOMEM) {
            rc = e;
            goto out;
        }
        if (e < 0)
            rc = -EINVAL;
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}
